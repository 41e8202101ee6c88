//! `roster validate`: parse and check the configuration offline, reporting every problem.

use super::{CommandError, Exit, GlobalArgs, Ui};
use crate::shell;
use clap::Args;

#[derive(Debug, Args)]
pub struct ValidateArgs {}

pub fn run(ui: &Ui, global: &GlobalArgs, _args: &ValidateArgs) -> Result<Exit, CommandError> {
    let resolved = shell::config::read(&global.settings());
    // The process ends right after this command: freeing a large directory object by object
    // (about a tenth of a second for 100,000 users) would only delay the exit.
    let resolved = std::mem::ManuallyDrop::new(resolved);
    ui.diagnostics(&resolved.diagnostics, &resolved.desired.sources);
    let warnings = shell::config::check(&resolved)?;
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
