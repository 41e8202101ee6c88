//! `roster validate`: parse and check the configuration offline, reporting every problem.

use super::{CommandError, Exit, GlobalArgs, Ui};
use clap::Args;

#[derive(Debug, Args)]
pub struct ValidateArgs {}

pub fn run(ui: &Ui, global: &GlobalArgs, _args: &ValidateArgs) -> Result<Exit, CommandError> {
    let resolved = super::read_resolved(global);
    // The process ends right after this command: freeing a large directory object by object
    // (about a tenth of a second for 100,000 users) would only delay the exit.
    let resolved = std::mem::ManuallyDrop::new(resolved);
    let errors = resolved.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = resolved.diagnostics.len() - errors;
    ui.diagnostics(&resolved.diagnostics, &resolved.desired.sources);
    if errors > 0 {
        return Err(CommandError::error(count_line(errors, warnings)));
    }
    let d = &resolved.desired;
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    ui.out(&format!(
        "Configuration is valid: {}, {}, {}{}.",
        plural(d.users.len(), "user"),
        plural(d.groups.len(), "group"),
        plural(d.targets.len(), "target"),
        match warnings {
            0 => String::new(),
            1 => " (1 warning)".to_string(),
            n => format!(" ({n} warnings)"),
        }
    ));
    Ok(Exit::Ok)
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
