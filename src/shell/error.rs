//! What can stop the shell, as typed values. The shell never decides how an error looks to a
//! user beyond its message: `cli::error` turns each of these into an exit code and a hint, in
//! one place, so that the same failure reads and exits the same from every command.

use super::observe::ObserveError;
use crate::emulator::EmulatorError;
use crate::plan::PlanError;
use crate::scim::ScimClientError;
use std::path::PathBuf;

/// Why a command's work in the shell stopped.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    /// The configuration has errors (they were returned as diagnostics for `cli` to print).
    #[error("{}", count_line(*errors, *warnings))]
    InvalidConfig { errors: usize, warnings: usize },
    /// `--target NAME` names no configured target.
    #[error("no target named {name:?}")]
    UnknownTarget { name: String, known: Vec<String> },
    /// A target's mapping or policy lists do not compile.
    #[error(transparent)]
    Compile(#[from] CompileError),
    /// Live state could not be read, or a connection not opened or closed.
    #[error(transparent)]
    Observe(#[from] ObserveError),
    /// The planner refused a target.
    #[error("target {target:?}: {source}")]
    Plan {
        target: String,
        #[source]
        source: PlanError,
    },
    /// A saved plan file cannot be used.
    #[error(transparent)]
    PlanFile(#[from] PlanFileError),
    /// The saved plan was made from another configuration.
    #[error("the plan in {} was made from another configuration (its digest {plan} is not the current {current}); nothing was written", path.display())]
    OtherConfiguration {
        path: PathBuf,
        plan: String,
        current: String,
    },
    /// `--target NAME` names no target of the saved plan.
    #[error("the plan has no target named {0:?}")]
    NotInPlan(String),
    /// `--checksum` is not the plan's checksum.
    #[error("the plan's checksum sha256:{have} is not the reviewed one (--checksum sha256:{want}); nothing was written")]
    ChecksumMismatch { have: String, want: String },
    /// A safety gate tripped and `--allow-destroy` was not given; one line per gate.
    #[error("blocked by the safety gate; nothing was written:\n  {}", .0.join("\n  "))]
    Gated(Vec<String>),
    /// The plan would destroy protected objects; one line per object.
    #[error("the plan would destroy protected objects; nothing was written:\n  {}", .0.join("\n  "))]
    Protected(Vec<String>),
    /// A target of the plan is not (or no longer) configured.
    #[error("the plan's target {0:?} is not in the configuration")]
    TargetNotConfigured(String),
    /// The re-read of a saved plan's objects failed.
    #[error("target {target:?}: cannot re-read the objects the plan touches: {source}")]
    Reread {
        target: String,
        #[source]
        source: Box<ScimClientError>,
    },
    /// Objects the saved plan touches moved since it was made; one line per object.
    #[error("the saved plan is stale: {} object(s) changed since it was made; nothing was written:\n  {}", .0.len(), .0.join("\n  "))]
    Stale(Vec<String>),
    /// The apply report could not be encoded.
    #[error("cannot encode the report: {0}")]
    EncodeReport(#[source] serde_json::Error),
    /// A plan or report could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The async runtime did not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The accepted-drift file of `drift --ignore-known` cannot be used.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Known {
        path: PathBuf,
        line: Option<u32>,
        message: String,
    },
    /// The configuration at `plan --base GIT_REF` cannot be read or planned.
    #[error(transparent)]
    Base(#[from] super::base::BaseError),
    /// `roster emulator` settings that cannot be served.
    #[error(transparent)]
    Emulator(#[from] EmulatorSetupError),
    /// An address (`explain ADDR`, `plan --resource ADDR`) names no object the plan knows.
    #[error("{address} names no object {}", if targets.is_empty() { "in the selected targets".to_string() } else { format!("in target {}", targets.join(", ")) })]
    NoSuchAddress {
        address: String,
        targets: Vec<String>,
        suggestions: Vec<String>,
    },
    /// Text given as an address is not one.
    #[error(transparent)]
    BadAddress(#[from] crate::plan::AddressError),
    /// `roster import` cannot read or write what it was asked to.
    #[error(transparent)]
    Import(#[from] super::import::ImportError),
}

/// A target's mapping or policy lists do not compile. `roster validate` reports these with
/// their places; here they only stop the command.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("target {target:?}: the mapping does not compile: {}", messages.join("; "))]
    Mapping {
        target: String,
        messages: Vec<String>,
    },
    #[error("target {target:?}: {source}")]
    Policy {
        target: String,
        #[source]
        source: PlanError,
    },
}

/// Why a saved plan file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot read the plan file: {0}")]
    Read(#[source] std::io::Error),
    #[error("{} is not a roster plan file: {source}", path.display())]
    NotJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{} is not a roster plan file: no format_version", path.display())]
    NoVersion { path: PathBuf },
    #[error("{} has plan format version {version}, and this roster reads version {reads}", path.display())]
    Version {
        path: PathBuf,
        version: String,
        reads: &'static str,
    },
    #[error("{} is not a valid roster plan file: {source}", path.display())]
    Invalid {
        path: PathBuf,
        #[source]
        source: crate::plan::document::PlanFileError,
    },
    #[error("{}: the plan file was modified after it was written (its checksum does not match its changes)", path.display())]
    Modified { path: PathBuf },
    /// The entry file a saved plan records (relative to the plan file) is not there: the plan
    /// file moved without its configuration, or the configuration moved.
    #[error("{}: the plan was made from the configuration {}, which does not exist (the plan records it relative to the plan file)", path.display(), config.display())]
    ConfigMissing { path: PathBuf, config: PathBuf },
}

/// Why `roster emulator` cannot serve what it was asked to.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorSetupError {
    #[error("{flag} must be between 0 and 1")]
    Probability { flag: &'static str },
    #[error("{flag} must be a number of seconds, 0 or more")]
    Seconds { flag: &'static str },
    #[error("the emulator only listens on loopback addresses, not {0}")]
    NotLoopback(std::net::SocketAddr),
    #[error("environment variable {0} (--token-env) is not set")]
    TokenUnset(String),
    #[error(transparent)]
    Server(#[from] EmulatorError),
}

/// "configuration has 2 errors and 1 warning"
pub fn count_line(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, w: &str| {
        if n == 1 {
            format!("1 {w}")
        } else {
            format!("{n} {w}s")
        }
    };
    if warnings > 0 {
        format!(
            "configuration has {} and {}",
            plural(errors, "error"),
            plural(warnings, "warning")
        )
    } else {
        format!("configuration has {}", plural(errors, "error"))
    }
}
