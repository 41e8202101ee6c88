//! The imperative shell between the command line and the pure core (the kube-rs reconcile
//! shape: read, plan, approve, apply). `cli` resolves its flags into [`settings`] and calls in;
//! the shell compiles each target once ([`target`]), reads configuration and live state
//! ([`config`], [`observe`]), plans ([`plan`]), checks and applies plans ([`saved`], [`gates`],
//! [`apply`]), adopts live state as YAML ([`import`]), and hands back typed results and
//! [`error::ShellError`]s. It takes no clap types and prints nothing: progress is reported
//! through traits `cli` implements, and `cli` decides how every result and error is shown and
//! which exit code it means.

pub mod apply;
pub mod base;
pub mod capabilities;
pub mod complete;
pub mod config;
pub mod drift;
pub mod emulator;
pub mod error;
pub mod explain;
pub mod files;
pub mod gates;
pub mod import;
pub mod observe;
pub mod plan;
pub mod saved;
pub mod scim_settings;
pub mod settings;
pub mod target;

pub use error::ShellError;
pub use settings::Settings;
pub use target::CompiledTarget;

/// The async runtime commands that talk to servers run on.
pub fn runtime() -> Result<tokio::runtime::Runtime, ShellError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ShellError::Runtime)
}
