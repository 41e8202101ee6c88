//! The one printer. Commands write results to stdout and diagnostics, progress and logs to
//! stderr, only through [`Ui`], so quiet/verbose and colour rules hold everywhere.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use crate::diag::{Diagnostic, SourceMap};
use crate::style::{self, Paint};
use clap::ValueEnum;
use is_terminal::IsTerminal;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// Output settings resolved from flags and the environment.
#[derive(Debug, Clone)]
pub struct Ui {
    pub color_out: bool,
    pub color_err: bool,
    pub quiet: bool,
    pub verbose: u8,
    pub stdin_tty: bool,
    pub stderr_tty: bool,
}

impl Ui {
    pub fn new(choice: ColorChoice, quiet: bool, verbose: u8) -> Ui {
        let no_color = std::env::var_os("NO_COLOR");
        let forced = match choice {
            ColorChoice::Always => Some(true),
            ColorChoice::Never => Some(false),
            ColorChoice::Auto => None,
        };
        let decide = |tty: bool| style::enabled(forced, tty, no_color.as_deref());
        let out_tty = std::io::stdout().is_terminal();
        let err_tty = std::io::stderr().is_terminal();
        Ui {
            color_out: decide(out_tty),
            color_err: decide(err_tty),
            quiet,
            verbose,
            stdin_tty: std::io::stdin().is_terminal(),
            stderr_tty: err_tty,
        }
    }

    /// Logs go to stderr; `-v` shows info, `-vv` debug; `RUST_LOG` overrides.
    pub fn init_tracing(&self) {
        let level = match (self.quiet, self.verbose) {
            (true, _) => "error",
            (_, 0) => "warn",
            (_, 1) => "info",
            _ => "debug",
        };
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("roster={level}")));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(|| BarAwareStderr)
            .with_ansi(self.color_err)
            .with_target(false)
            .without_time()
            .try_init();
    }

    /// A question on stderr, without a newline (the answer is read from stdin).
    pub fn prompt(&self, text: &str) {
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(text.as_bytes());
        let _ = e.flush();
    }

    /// A result line (or block) on stdout.
    pub fn out(&self, text: &str) {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = o.write_all(b"\n");
        }
        let _ = o.flush();
    }

    /// A status line on stderr, hidden by `-q`.
    pub fn status(&self, text: &str) {
        if !self.quiet {
            write_stderr(&format!("{text}\n"));
        }
    }

    /// An error on stderr, with its hint.
    pub fn error(&self, message: &str, hint: Option<&str>) {
        let p = Paint::new(self.color_err).palette();
        let (red, bold, blue, reset) = (p.red, p.bold, p.blue, p.reset);
        // Messages may quote live values (a server's error text): escape control characters.
        let message = crate::escape::escape_control_lines(message);
        let mut text = format!("{bold}{red}error{reset}{bold}: {message}{reset}\n");
        if let Some(h) = hint {
            let h = crate::escape::escape_control_lines(h);
            text.push_str(&format!("  {blue}={reset} {bold}hint{reset}: {h}\n"));
        }
        write_stderr(&text);
    }

    /// Detail shown with `-v`.
    pub fn debug(&self, text: &str) {
        if self.verbose > 0 && !self.quiet {
            write_stderr(&format!("{text}\n"));
        }
    }

    /// A warning on stderr.
    pub fn warn(&self, message: &str) {
        let p = Paint::new(self.color_err).palette();
        let (y, bold, reset) = (p.yellow, p.bold, p.reset);
        let message = crate::escape::escape_control_lines(message);
        write_stderr(&format!(
            "{bold}{y}warning{reset}{bold}: {message}{reset}\n"
        ));
    }

    /// Configuration diagnostics on stderr.
    pub fn diagnostics(&self, diags: &[Diagnostic], sources: &SourceMap) {
        if diags.is_empty() {
            return;
        }
        let text = crate::diag::render_all(diags, sources, self.color_err);
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(text.as_bytes());
    }
}

/// The progress bar on screen, if any: stderr writes (logs, warnings) go around it so that they
/// never tear it.
static PROGRESS_BAR: std::sync::Mutex<Option<indicatif::ProgressBar>> = std::sync::Mutex::new(None);

/// Show (or, with `None`, forget) the progress bar stderr writes must go around.
pub fn set_progress_bar(bar: Option<indicatif::ProgressBar>) {
    *PROGRESS_BAR.lock().unwrap_or_else(|p| p.into_inner()) = bar;
}

/// Write to stderr, suspending the progress bar while doing so.
fn write_stderr(text: &str) {
    let bar = PROGRESS_BAR
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let write = || {
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(text.as_bytes());
        let _ = e.flush();
    };
    match bar {
        Some(bar) => bar.suspend(write),
        None => write(),
    }
}

/// The log writer: stderr, around the progress bar.
struct BarAwareStderr;

impl Write for BarAwareStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        write_stderr(&String::from_utf8_lossy(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
