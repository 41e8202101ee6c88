//! Reading the desired state for a command: the configuration named by the settings, resolved
//! and checked with the checks the settings adjust. Diagnostics come back as values for `cli`
//! to print; an invalid configuration is an error only once they have been shown.

use super::error::ShellError;
use super::settings::Settings;
use crate::config::{Desired, Resolved};

/// Read, resolve and check the configuration.
pub fn read(settings: &Settings) -> Resolved {
    crate::config::read_with(&settings.config, settings.check_options())
}

/// How many of the diagnostics are errors and how many warnings.
pub fn counts(resolved: &Resolved) -> (usize, usize) {
    let errors = resolved.diagnostics.iter().filter(|d| d.is_error()).count();
    (errors, resolved.diagnostics.len() - errors)
}

/// The configuration, unless it has errors.
pub fn accept(resolved: Resolved) -> Result<Desired, ShellError> {
    match counts(&resolved) {
        (0, _) => Ok(resolved.desired),
        (errors, warnings) => Err(ShellError::InvalidConfig { errors, warnings }),
    }
}
