//! `roster emulator`: serve roster's own SCIM 2.0 service provider on loopback, for trying roster
//! without a server and for tests (fault injection, observation endpoints, persistent state).

use super::{CommandError, Exit, Ui};
use crate::emulator::{Dialect, EndlessCursor, LimitHeaders, LimitShape};
use crate::shell::emulator::{EmulatorSettings, HostileReads, QuirkSettings};
use crate::shell::{self};
use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Which server behaviour to emulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DialectArg {
    /// RFC 7643/7644 as written.
    Generic,
    /// AWS IAM Identity Center's SCIM subset and error shapes.
    #[value(alias = "aws")]
    AwsIdentityCenter,
}

/// How `--rate-limit-read`/`--rate-limit-write` count requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShapeArg {
    /// A token bucket refilled continuously, holding `--rate-limit-burst` (default one
    /// second's worth).
    Bucket,
    /// At most N requests in each whole second.
    Fixed,
    /// At most N requests in any one second.
    Sliding,
}

/// Which rate-limit headers the limited endpoints send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HeadersArg {
    None,
    /// RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset (seconds).
    Ietf,
    /// X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset (Unix time).
    X,
}

/// What an endless cursor chain sends (`--endless-cursor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EndlessArg {
    /// Fresh users (or groups) on every page, each with a new cursor.
    Fresh,
    /// Empty pages, each with a new cursor.
    Empty,
    /// The real pages, every one pointing back at page 2 (a loop).
    Repeat,
}

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Protocol dialect to emulate.
    #[arg(long, value_enum, default_value_t = DialectArg::Generic)]
    pub dialect: DialectArg,
    /// Loopback address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Keep the directory in this file (survives restarts and kill -9).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Require this environment variable's value as bearer token.
    #[arg(long = "token-env", value_name = "NAME")]
    pub token_env: Option<String>,
    /// Milliseconds added to every response.
    #[arg(long = "latency-ms", value_name = "N", default_value_t = 0)]
    pub latency_ms: u64,
    /// Probability (0..1) of answering a request with 429.
    #[arg(long = "fail-429", value_name = "RATE", default_value_t = 0.0)]
    pub fail_429: f64,
    /// Probability (0..1) of answering a request with 500.
    #[arg(long = "fail-5xx", value_name = "RATE", default_value_t = 0.0)]
    pub fail_5xx: f64,
    /// Reads per second before answering 429.
    #[arg(long = "rate-limit-read", value_name = "N")]
    pub rate_limit_read: Option<u32>,
    /// Writes per second before answering 429.
    #[arg(long = "rate-limit-write", value_name = "N")]
    pub rate_limit_write: Option<u32>,
    /// How the rate limits count requests.
    #[arg(long = "rate-limit-shape", value_enum, default_value_t = ShapeArg::Bucket)]
    pub rate_limit_shape: ShapeArg,
    /// Capacity of the token bucket (`--rate-limit-shape bucket`); default the rate.
    #[arg(long = "rate-limit-burst", value_name = "N")]
    pub rate_limit_burst: Option<u32>,
    /// Publish the limits' state in these response headers.
    #[arg(long = "rate-limit-headers", value_enum, default_value_t = HeadersArg::None)]
    pub rate_limit_headers: HeadersArg,
    /// Load users and groups from this JSON file at start.
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// Seed of the fault-injection random numbers.
    #[arg(long = "fault-seed", value_name = "N", default_value_t = 0)]
    pub fault_seed: u64,
    /// After N successful writes, hold further writes until POST /_emulator/release.
    #[arg(long = "hold-writes-after", value_name = "N")]
    pub hold_writes_after: Option<u64>,
    /// Fault: index-paged lists claim `totalResults` equal to the page's length.
    #[arg(long = "lying-totals")]
    pub lying_totals: bool,
    /// Fault (AWS): cursor chains end after N pages with an empty page and no `nextCursor`.
    #[arg(long = "short-cursor-after", value_name = "N")]
    pub short_cursor_after: Option<u32>,
    // Hostile reads: servers that never stop or answer too much.
    /// Fault (AWS): cursor chains never end.
    #[arg(long = "endless-cursor", value_name = "KIND", value_enum)]
    pub endless_cursor: Option<EndlessArg>,
    /// Fault (generic): lists claim 1,000,000,000 objects and serve fresh ones at any startIndex.
    #[arg(long = "endless-index")]
    pub endless_index: bool,
    /// Fault: the first page of every list is padded to N MiB of valid JSON, sent chunked.
    #[arg(long = "giant-page-mb", value_name = "N")]
    pub giant_page_mb: Option<u32>,
    /// Fault: list answers declare a Content-Length of N MiB, then end after the real body.
    #[arg(long = "claim-length-mb", value_name = "N")]
    pub claim_length_mb: Option<u32>,
    #[command(flatten)]
    pub quirks: QuirkArgs,
}

/// Habits of servers that accept writes and quietly keep less (docs/contract.md#servers-that-keep-less).
#[derive(Debug, Args)]
#[command(next_help_heading = "Servers that keep less")]
pub struct QuirkArgs {
    /// Store (and answer) a group created with members without any.
    #[arg(long = "drop-group-members-on-create")]
    pub drop_group_members_on_create: bool,
    /// Silently drop this attribute from every write and leave it out of /Schemas and
    /// /ResourceTypes (e.g. the enterprise extension's URN, `title`); repeatable.
    #[arg(long = "drop-attribute", value_name = "PATH")]
    pub drop_attribute: Vec<String>,
    /// Answer 501 to every PATCH that sets anything but `active` (PUT still works).
    #[arg(long = "patch-501-except-active")]
    pub patch_501_except_active: bool,
    /// Advertise `filter.supported: false` and answer 400 to any filter.
    #[arg(long = "no-filter")]
    pub no_filter: bool,
    /// Keep a new object invisible to GET and lists for SECS seconds after its create.
    #[arg(long = "lagging-reads", value_name = "SECS")]
    pub lagging_reads: Option<f64>,
    /// Apply the first N writes but answer them 500, as if the answers were lost.
    #[arg(long = "lose-answers", value_name = "N", default_value_t = 0)]
    pub lose_answers: u64,
}

pub fn run(ui: &Ui, args: &EmulatorArgs) -> Result<Exit, CommandError> {
    let settings = EmulatorSettings {
        dialect: match args.dialect {
            DialectArg::Generic => Dialect::Generic,
            DialectArg::AwsIdentityCenter => Dialect::AwsIdentityCenter,
        },
        listen: args.listen,
        state: args.state.clone(),
        token_env: args.token_env.clone(),
        latency_ms: args.latency_ms,
        fail_429: args.fail_429,
        fail_5xx: args.fail_5xx,
        rate_limit_read: args.rate_limit_read,
        rate_limit_write: args.rate_limit_write,
        seed: args.seed.clone(),
        fault_seed: args.fault_seed,
        hold_writes_after: args.hold_writes_after,
        lying_totals: args.lying_totals,
        short_cursor_after: args.short_cursor_after,
        hostile: HostileReads {
            endless_cursor: args.endless_cursor.map(|e| match e {
                EndlessArg::Fresh => EndlessCursor::Fresh,
                EndlessArg::Empty => EndlessCursor::Empty,
                EndlessArg::Repeat => EndlessCursor::Repeat,
            }),
            endless_index: args.endless_index,
            giant_page_mib: args.giant_page_mb,
            claim_length_mib: args.claim_length_mb,
        },
        quirks: QuirkSettings {
            drop_group_members_on_create: args.quirks.drop_group_members_on_create,
            drop_attributes: args.quirks.drop_attribute.clone(),
            patch_501_except_active: args.quirks.patch_501_except_active,
            no_filter: args.quirks.no_filter,
            lagging_reads_secs: args.quirks.lagging_reads,
            lose_answers: args.quirks.lose_answers,
        },
        limit_shape: match args.rate_limit_shape {
            ShapeArg::Bucket => LimitShape::Bucket,
            ShapeArg::Fixed => LimitShape::Fixed,
            ShapeArg::Sliding => LimitShape::Sliding,
        },
        limit_burst: args.rate_limit_burst,
        limit_headers: match args.rate_limit_headers {
            HeadersArg::None => LimitHeaders::None,
            HeadersArg::Ietf => LimitHeaders::Ietf,
            HeadersArg::X => LimitHeaders::X,
        },
    };
    let options = settings.resolve()?;
    let rt = shell::runtime()?;
    rt.block_on(async {
        // The handler is installed before the port opens: a client that has been answered may
        // send SIGTERM at once, and a signal that came before the handler would kill the
        // process without flushing the state file.
        let signals = Signals::install();
        let server = shell::emulator::start(settings.listen, options).await?;
        ui.out(&format!(
            "roster emulator listening on http://{} (dialect {})",
            server.addr(),
            settings.dialect.as_str()
        ));
        signals.wait().await;
        shell::emulator::stop(server).await?;
        Ok(Exit::Ok)
    })
}

/// Ctrl-C or SIGTERM, listened for from the moment `install` is called.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> Signals {
        Signals {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok(),
        }
    }

    async fn wait(self) {
        #[cfg(unix)]
        if let Some(mut term) = self.term {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
