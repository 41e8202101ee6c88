//! The command line: flags are parsed by clap into raw `Args`, resolved into plain settings, and
//! handed to one `run` function per command (one file each). This is the only layer that sees
//! clap, writes to the terminal (through [`Ui`]) or decides exit codes (through
//! [`error`], the one place errors become exit codes and hints).

mod apply;
mod completions;
mod drift;
mod emulator;
pub mod error;
mod explain;
mod import;
mod plan;
mod progress;
mod schema;
mod show;
mod ui;
mod validate;

pub use error::{CommandError, Exit};
pub use ui::{ColorChoice, Ui};

use crate::shell::{self, settings::ConnectSettings, Settings};

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

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
#[command(
    name = "roster",
    version,
    about,
    long_about = None,
    propagate_version = true,
    arg_required_else_help = true,
    after_help = EXIT_CODES_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// The configuration's entry file [default: roster.yaml; for `apply PLAN_FILE`, the one the
    /// plan records].
    #[arg(short = 'c', long = "config", global = true, value_name = "CONFIG")]
    pub config: Option<PathBuf>,
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
    /// Read-only plan for schedules: exit 0 in sync, 2 drift, 1 error (never 3).
    Drift(drift::DriftArgs),
    /// Render a saved plan (text, markdown, json).
    Show(show::ShowArgs),
    /// Apply a saved plan exactly, or plan, confirm and apply.
    Apply(apply::ApplyArgs),
    /// Why objects are, or are not, in the plan (reads live state, GET only).
    Explain(explain::ExplainArgs),
    /// Adopt a populated target: write YAML for its users and groups so the next plan is empty.
    Import(import::ImportArgs),
    /// Serve a local SCIM 2.0 service provider on loopback
    Emulator(emulator::EmulatorArgs),
}

/// The README's exit code table, in `roster --help`, so a CI author need not leave the terminal.
const EXIT_CODES_HELP: &str = "\
Exit codes (the same for every command; when several apply, the first of 1, 4, 3, 5, 2, 0 wins):
  0  success, no changes
  1  error: bad configuration, usage, network, authentication, server error
  2  changes present (plan --detailed-exitcode, drift)
  3  blocked by a safety gate (the plan is still printed)
  4  the saved plan is stale
  5  apply finished with some changes failed, or conflicts remain";

/// Parse the arguments. clap's own exit code for a usage error is 2, which roster reserves for
/// "changes present": a CI job with a typo in its flags would report drift instead of failing.
/// So help and version exit 0 and every usage error exits 1.
fn parse() -> Result<Cli, ExitCode> {
    use clap::error::ErrorKind;
    Cli::try_parse().map_err(|e| {
        // Printing to a closed pipe is no reason to change the exit code.
        let _ = e.print();
        match e.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => ExitCode::SUCCESS,
            _ => ExitCode::from(Exit::Error as u8),
        }
    })
}

/// Parse arguments, run the command, print any error, and return the exit code.
pub fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
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
        Command::Drift(a) => drift::run(ui, &cli.global, a),
        Command::Show(a) => show::run(ui, &cli.global, a),
        Command::Apply(a) => apply::run(ui, &cli.global, a),
        Command::Import(a) => import::run(ui, &cli.global, a),
        Command::Explain(a) => explain::run(ui, &cli.global, a),
        Command::Emulator(a) => emulator::run(ui, a),
    }
}

impl GlobalArgs {
    /// The shell's settings: the second stage of argument parsing, before any I/O.
    pub fn settings(&self) -> Settings {
        Settings {
            config: self
                .config
                .clone()
                .unwrap_or_else(|| PathBuf::from("roster.yaml")),
            targets: self.targets.clone(),
            redact: self.redact,
            allow_include_outside: self.allow_include_outside,
            connect: ConnectSettings {
                parallelism: self.parallelism,
                ca_cert: self.ca_cert.clone(),
                insecure_http: self.insecure_http,
            },
        }
    }
}

/// Read and check the configuration; on any error print every diagnostic and fail with exit 1.
/// Warnings are printed and the configuration is returned.
pub fn read_config(ui: &Ui, settings: &Settings) -> Result<crate::config::Desired, CommandError> {
    let resolved = shell::config::read(settings);
    ui.diagnostics(&resolved.diagnostics, &resolved.desired.sources);
    Ok(shell::config::accept(resolved)?)
}
