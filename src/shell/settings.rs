//! Settings resolved once, before any I/O, from flags and the environment into plain values
//! (ripgrep's second stage, uv's settings structs). `cli` builds them from its clap `Args`; every
//! function of the shell takes these and never a clap type, so the shell can be driven by a test
//! or by a future command without going through argument parsing.

pub use super::observe::ConnectSettings;
use crate::config::check::CheckOptions;
use std::path::PathBuf;

/// What every command that reads the configuration or talks to targets needs.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The configuration's entry file.
    pub config: PathBuf,
    /// Limit to these targets; empty means all.
    pub targets: Vec<String>,
    /// Replace personal values with digests in everything the shell hands back for display.
    pub redact: bool,
    /// `--allow-include-outside`: includes may resolve outside the entry file's directory.
    pub allow_include_outside: bool,
    /// How to connect to targets.
    pub connect: ConnectSettings,
}

impl Settings {
    /// The configuration checks these settings adjust.
    pub fn check_options(&self) -> CheckOptions {
        CheckOptions {
            insecure_http: self.connect.insecure_http,
            allow_include_outside: self.allow_include_outside,
        }
    }
}
