//! The one classification of errors at the edge (jj's `command_error.rs`): every typed error of
//! the shell and of the command line itself becomes a [`CommandError`] here, and only here, with
//! the exit code of the README's table and the hint that tells the user what to do next. Commands
//! return these errors with `?`; none builds a message or picks an exit code by hand.

use crate::shell::error::{EmulatorSetupError, PlanFileError, ShellError};
use crate::shell::import::ImportError;

/// Exit codes, the same for every command (see the README's exit code table).
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

/// Errors of the command line itself: what only a terminal session can get wrong.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Planning and applying at once needs a `yes`, and there is no terminal to ask on.
    #[error("refusing to apply without confirmation: there is no terminal to ask on")]
    NoTerminal,
    /// The answer to the confirmation could not be read.
    #[error("cannot read the answer: {0}")]
    ReadAnswer(#[source] std::io::Error),
}

const ADDRESS_FORMS: &str = "addresses are <target>:user.<id>, <target>:group.<id> or <target>:<kind>.live:<scim-id> (docs/contract.md#addresses)";
const PLAN_AGAIN: &str = "plan again with `roster plan --out FILE`";
const NOT_A_PLAN: &str = "plan files are written by `roster plan --out FILE`";

impl From<ShellError> for CommandError {
    fn from(e: ShellError) -> Self {
        let (exit, hint) = match &e {
            ShellError::UnknownTarget { known, .. } => (
                Exit::Error,
                Some(format!("configured targets: {}", known.join(", "))),
            ),
            ShellError::PlanFile(f) => (Exit::Error, plan_file_hint(f).map(str::to_string)),
            ShellError::OtherConfiguration { .. } => (
                Exit::Stale,
                Some(format!("{PLAN_AGAIN}, review it, and apply that file")),
            ),
            ShellError::ChecksumMismatch { .. } => (
                Exit::Stale,
                Some("plan again, review the new plan, and pass its checksum".into()),
            ),
            ShellError::Gated(_) => (
                Exit::Gated,
                Some("review what would be destroyed; pass --allow-destroy to lift `limits` for this apply (protected users stay protected)".into()),
            ),
            ShellError::Protected(_) => (
                Exit::Gated,
                Some("`protect` cannot be overridden: remove the object from `policy.protect` first if this is intended".into()),
            ),
            ShellError::TargetNotConfigured(_) => (Exit::Stale, None),
            ShellError::Stale(_) => (
                Exit::Stale,
                Some(format!("{PLAN_AGAIN}, review it, and apply the new file")),
            ),
            ShellError::Import(i) => (Exit::Error, Some(import_hint(i))),
            ShellError::Emulator(EmulatorSetupError::NotLoopback(_)) => {
                (Exit::Error, Some("use 127.0.0.1:PORT or [::1]:PORT".into()))
            }
            ShellError::Known { .. } => (
                Exit::Error,
                Some("each entry is `- address: <target>:user.<id>` (or group, or <kind>.live:<scim-id>) with optional `reason:` and `expires: YYYY-MM-DD`".into()),
            ),
            ShellError::Base(b) => (Exit::Error, b.hint().map(str::to_string)),
            ShellError::NoSuchAddress { suggestions, .. } => (
                Exit::Error,
                Some(if suggestions.is_empty() {
                    ADDRESS_FORMS.to_string()
                } else {
                    format!("did you mean {}?", suggestions.join(", "))
                }),
            ),
            ShellError::BadAddress(_) => (Exit::Error, Some(ADDRESS_FORMS.to_string())),
            ShellError::InvalidConfig { .. }
            | ShellError::Compile(_)
            | ShellError::Observe(_)
            | ShellError::Plan { .. }
            | ShellError::NotInPlan(_)
            | ShellError::Reread { .. }
            | ShellError::EncodeReport(_)
            | ShellError::Write { .. }
            | ShellError::Runtime(_)
            | ShellError::Emulator(_) => (Exit::Error, None),
        };
        CommandError {
            exit,
            message: e.to_string(),
            hint,
        }
    }
}

fn import_hint(e: &ImportError) -> String {
    match e {
        ImportError::OneTarget { known, .. } => {
            format!("configured targets: {}", known.join(", "))
        }
        ImportError::NotADirectory(_) => {
            "pass the directory the YAML files go in (it is created when missing)".into()
        }
        ImportError::Exists(_) => {
            "pass --force to overwrite it, or --write another directory".into()
        }
        ImportError::CreateDir { .. } => "check the path and its permissions".into(),
    }
}

fn plan_file_hint(e: &PlanFileError) -> Option<&'static str> {
    match e {
        PlanFileError::NotJson { .. } | PlanFileError::NoVersion { .. } => Some(NOT_A_PLAN),
        PlanFileError::Version { .. } => {
            Some("show or apply the plan with the roster version that wrote it, or plan again")
        }
        PlanFileError::Modified { .. } => Some(PLAN_AGAIN),
        PlanFileError::ConfigMissing { .. } => {
            Some("pass the configuration's entry file with -c/--config")
        }
        PlanFileError::Read(_) | PlanFileError::Invalid { .. } => None,
    }
}

impl From<PlanFileError> for CommandError {
    fn from(e: PlanFileError) -> Self {
        ShellError::from(e).into()
    }
}

impl From<crate::shell::base::BaseError> for CommandError {
    fn from(e: crate::shell::base::BaseError) -> Self {
        ShellError::from(e).into()
    }
}

impl From<EmulatorSetupError> for CommandError {
    fn from(e: EmulatorSetupError) -> Self {
        ShellError::from(e).into()
    }
}

impl From<CliError> for CommandError {
    fn from(e: CliError) -> Self {
        let hint = match &e {
            CliError::NoTerminal => Some("pass --auto-approve to apply without asking (as in CI), or save a plan with `roster plan --out FILE` and run `roster apply FILE`".to_string()),
            CliError::ReadAnswer(_) => None,
        };
        CommandError {
            exit: Exit::Error,
            message: e.to_string(),
            hint,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classified(e: ShellError) -> (Exit, String, Option<String>) {
        let c = CommandError::from(e);
        (c.exit, c.message, c.hint)
    }

    #[test]
    fn refusals_before_the_first_write_keep_their_exit_codes() {
        assert_eq!(
            classified(ShellError::Stale(vec!["a".into()])).0,
            Exit::Stale
        );
        assert_eq!(
            classified(ShellError::TargetNotConfigured("aws".into())).0,
            Exit::Stale
        );
        assert_eq!(
            classified(ShellError::Gated(vec!["g".into()])).0,
            Exit::Gated
        );
        let (exit, message, hint) = classified(ShellError::Protected(vec![
            "aws:user.e1 (a@x)".into(),
            "aws:group.g (g)".into(),
        ]));
        assert_eq!(exit, Exit::Gated);
        assert_eq!(
            message,
            "the plan would destroy protected objects; nothing was written:\n  aws:user.e1 (a@x)\n  aws:group.g (g)"
        );
        assert!(hint.is_some_and(|h| h.starts_with("`protect` cannot be overridden")));
    }

    #[test]
    fn configuration_and_target_errors_exit_1_with_their_hints() {
        let (exit, message, hint) = classified(ShellError::InvalidConfig {
            errors: 2,
            warnings: 1,
        });
        assert_eq!(exit, Exit::Error);
        assert_eq!(message, "configuration has 2 errors and 1 warning");
        assert_eq!(hint, None);
        let (exit, message, hint) = classified(ShellError::UnknownTarget {
            name: "x".into(),
            known: vec!["aws".into(), "generic".into()],
        });
        assert_eq!(exit, Exit::Error);
        assert_eq!(message, "no target named \"x\"");
        assert_eq!(hint.as_deref(), Some("configured targets: aws, generic"));
    }

    #[test]
    fn no_terminal_says_how_to_apply_without_one() {
        let c = CommandError::from(CliError::NoTerminal);
        assert_eq!(c.exit, Exit::Error);
        assert!(c.hint.is_some_and(|h| h.contains("--auto-approve")));
    }

    #[test]
    fn the_first_of_1_4_3_5_2_0_wins() {
        let order = [
            Exit::Error,
            Exit::Stale,
            Exit::Gated,
            Exit::Partial,
            Exit::Changes,
            Exit::Ok,
        ];
        for (i, a) in order.iter().enumerate() {
            for b in &order[i..] {
                assert_eq!(a.combine(*b), *a);
                assert_eq!(b.combine(*a), *a);
            }
        }
    }
}
