//! Reading the desired state for a command: the configuration named by the settings, resolved
//! and checked with the checks the settings adjust. Diagnostics come back as values for `cli`
//! to print; an invalid configuration is an error only once they have been shown.

use super::error::ShellError;
use super::settings::Settings;
use crate::config::{Desired, Resolved};

/// Read, resolve and check the configuration.
pub fn read(settings: &Settings) -> Resolved {
    crate::validate::read_with(&settings.config, settings.check_options())
}

/// The number of warnings, or an error when any diagnostic is one.
pub fn check(resolved: &Resolved) -> Result<usize, ShellError> {
    let errors = resolved.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = resolved.diagnostics.len() - errors;
    if errors > 0 {
        return Err(ShellError::InvalidConfig { errors, warnings });
    }
    Ok(warnings)
}

/// The configuration, unless it has errors. Its diagnostics must have been shown: the source
/// text they quote is released here (see [`release`]).
pub fn accept(resolved: Resolved) -> Result<Desired, ShellError> {
    check(&resolved)?;
    Ok(release(resolved.desired))
}

/// The configuration without its source text: nothing after checking quotes the text, and
/// keeping it resident cost as much as the text itself.
pub fn release(mut desired: Desired) -> Desired {
    desired.release_source_text();
    desired
}
