//! The command line: flags are parsed by clap into raw `Args`, resolved into plain settings, and
//! handed to one `run` function per command (one file each). This is the only layer that sees
//! clap, writes to the terminal (through [`Ui`]) or decides exit codes (through
//! [`CommandError`]).

mod apply;
mod completions;
mod emulator;
mod plan;
mod schema;
mod show;
mod ui;
mod validate;

pub use ui::{ColorChoice, Ui};

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit codes, the same for every command (SPEC section 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Success, no changes.
    Ok = 0,
    /// Bad configuration, network, auth or server error.
    Error = 1,
    /// Changes present (`plan --detailed-exitcode`, `drift`).
    Changes = 2,
    /// Blocked by a safety gate.
    Gated = 3,
    /// The saved plan is stale.
    Stale = 4,
    /// Apply finished with some changes failed.
    Partial = 5,
}

impl Exit {
    /// When several apply, the first of 1, 4, 3, 5, 2, 0 wins.
    pub fn precedence(self) -> u8 {
        match self {
            Exit::Error => 0,
            Exit::Stale => 1,
            Exit::Gated => 2,
            Exit::Partial => 3,
            Exit::Changes => 4,
            Exit::Ok => 5,
        }
    }

    /// The winning code of two.
    pub fn combine(self, other: Exit) -> Exit {
        if other.precedence() < self.precedence() {
            other
        } else {
            self
        }
    }
}

/// An error that ends a command: a message, an optional hint, and the exit code it maps to.
#[derive(Debug)]
pub struct CommandError {
    pub exit: Exit,
    pub message: String,
    pub hint: Option<String>,
}

impl CommandError {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        CommandError {
            exit,
            message: message.into(),
            hint: None,
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        CommandError::new(Exit::Error, message)
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// An exit code with nothing more to say (the command already printed its output).
    pub fn silent(exit: Exit) -> Self {
        CommandError::new(exit, String::new())
    }
}

/// Output formats of plans and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Markdown,
    Json,
}

/// Identity as code: plan and apply users and groups to SCIM 2.0 service providers.
#[derive(Debug, Parser)]
#[command(name = "roster", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// The configuration's entry file.
    #[arg(
        short = 'c',
        long = "config",
        global = true,
        default_value = "roster.yaml"
    )]
    pub config: PathBuf,
    /// Limit to these targets (repeatable).
    #[arg(long = "target", global = true, value_name = "NAME")]
    pub targets: Vec<String>,
    /// Output format of plans and reports.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// When to use colours (honours NO_COLOR; off when not a terminal).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// More detail (repeatable).
    #[arg(short = 'v', long = "verbose", global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors and the result.
    #[arg(short = 'q', long = "quiet", global = true)]
    pub quiet: bool,
    /// Requests in flight per target.
    #[arg(long, global = true, default_value_t = 8, value_name = "N")]
    pub parallelism: usize,
    /// An extra trusted root certificate (PEM).
    #[arg(long = "ca-cert", global = true, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Allow http:// to addresses other than loopback.
    #[arg(long = "insecure-http", global = true)]
    pub insecure_http: bool,
    /// Let `include:` read absolute paths, `..` above the entry file's directory and symlinks
    /// that lead out of it (refused by default: the configuration may come from a stranger).
    #[arg(long = "allow-include-outside", global = true)]
    pub allow_include_outside: bool,
    /// Replace personal values with digests in every output.
    #[arg(long, global = true)]
    pub redact: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and check the configuration offline; report every problem.
    Validate(validate::ValidateArgs),
    /// Print the JSON Schema of the configuration.
    Schema(schema::SchemaArgs),
    /// Print shell completions.
    Completions(completions::CompletionsArgs),
    /// Read live state (GET only), diff it against the configuration, print the plan.
    Plan(plan::PlanArgs),
    /// Render a saved plan (text, markdown, json).
    Show(show::ShowArgs),
    /// Apply a saved plan exactly, or plan, confirm and apply.
    Apply(apply::ApplyArgs),
    /// Serve a local SCIM 2.0 service provider on loopback
    Emulator(emulator::EmulatorArgs),
}

/// Parse arguments, run the command, print any error, and return the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let ui = Ui::new(cli.global.color, cli.global.quiet, cli.global.verbose);
    ui.init_tracing();
    let result = run(&ui, &cli);
    let exit = match result {
        Ok(exit) => exit,
        Err(e) => {
            if !e.message.is_empty() {
                ui.error(&e.message, e.hint.as_deref());
            }
            e.exit
        }
    };
    ExitCode::from(exit as u8)
}

fn run(ui: &Ui, cli: &Cli) -> Result<Exit, CommandError> {
    match &cli.command {
        Command::Validate(a) => validate::run(ui, &cli.global, a),
        Command::Schema(a) => schema::run(ui, a),
        Command::Completions(a) => completions::run(ui, a),
        Command::Plan(a) => plan::run(ui, &cli.global, a),
        Command::Show(a) => show::run(ui, &cli.global, a),
        Command::Apply(a) => apply::run(ui, &cli.global, a),
        Command::Emulator(a) => emulator::run(ui, a),
    }
}

/// Read, resolve and check the configuration named by `-c`, with the checks the flags adjust.
pub fn read_resolved(global: &GlobalArgs) -> crate::config::Resolved {
    crate::config::read_with(
        &global.config,
        crate::config::check::CheckOptions {
            insecure_http: global.insecure_http,
            allow_include_outside: global.allow_include_outside,
        },
    )
}

/// Read and check the configuration; on any error print every diagnostic and fail with exit 1.
/// Warnings are printed and the configuration is returned.
pub fn read_config(ui: &Ui, global: &GlobalArgs) -> Result<crate::config::Desired, CommandError> {
    let resolved = read_resolved(global);
    let errors = resolved.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = resolved.diagnostics.len() - errors;
    ui.diagnostics(&resolved.diagnostics, &resolved.desired.sources);
    if errors > 0 {
        return Err(CommandError::error(validate::count_line(errors, warnings)));
    }
    Ok(resolved.desired)
}

/// The async runtime commands that talk to servers run on.
pub fn runtime() -> Result<tokio::runtime::Runtime, CommandError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::error(format!("cannot start the async runtime: {e}")))
}

/// Now, as RFC 3339 in UTC (the `created_at` of plans).
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Write a file only its owner can read (plans hold personal data), atomically: a temporary
/// file in the same directory, then a rename, so a reader never sees half a plan.
pub fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<(), CommandError> {
    use fs_err::os::unix::fs::OpenOptionsExt;
    use std::io::Write;
    let fail =
        |e: std::io::Error| CommandError::error(format!("cannot write {}: {e}", path.display()));
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut f = fs_err::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail)?;
    f.write_all(bytes).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    drop(f);
    fs_err::rename(&tmp, path).map_err(fail)
}

/// A failure to read live state, as the user sees it.
pub fn observe_error(e: crate::observe::ObserveError) -> CommandError {
    CommandError::error(e.to_string())
}
