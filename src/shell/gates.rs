//! The refusals that come before the first write: a tripped safety gate (`limits`, which
//! `--allow-destroy` lifts for one apply) and a protected object about to be destroyed
//! (`protect`, which nothing lifts, whatever made the plan).

use super::error::ShellError;
use super::target::CompiledTarget;
use crate::plan::{Action, ObjectKind, PlanDocument};

/// Refuse a plan with a tripped gate unless `allow_destroy`.
pub fn check_gates(doc: &PlanDocument, allow_destroy: bool) -> Result<(), ShellError> {
    let tripped: Vec<String> = doc
        .targets
        .iter()
        .flat_map(|t| {
            t.safety
                .iter()
                .filter(|g| g.tripped)
                .map(move |g| format!("target {:?}: {}", t.name, g.tripped_sentence()))
        })
        .collect();
    if tripped.is_empty() || allow_destroy {
        return Ok(());
    }
    Err(ShellError::Gated(tripped))
}

/// Refuse any plan that would deactivate, delete or remove from a group a protected user, or
/// delete a protected group. Targets of the plan that are not among `compiled` are not checked
/// (they are refused as unconfigured before anything is written).
pub fn check_protected(
    compiled: &[CompiledTarget<'_>],
    doc: &PlanDocument,
) -> Result<(), ShellError> {
    let mut found = Vec::new();
    for t in &doc.targets {
        let Some(target) = compiled.iter().find(|x| x.name() == t.name) else {
            continue;
        };
        let lists = &target.lists;
        for c in &t.changes {
            let destroys =
                c.actions.contains(&Action::Deactivate) || c.actions.contains(&Action::Delete);
            match c.kind {
                ObjectKind::User if destroys => {
                    let id = c.address.directory_id();
                    if lists.protect_users.contains(id, &c.name) {
                        found.push(format!("{} ({})", c.address, c.name));
                    }
                }
                ObjectKind::Group if destroys => {
                    let id = c.address.directory_id();
                    if lists.protect_groups.contains(id, &c.name) {
                        found.push(format!("{} ({})", c.address, c.name));
                    }
                }
                _ => {}
            }
            for m in &c.members_removed {
                if lists.protect_users.contains(None, &m.name) {
                    found.push(format!(
                        "{} (removing protected member {})",
                        c.address, m.name
                    ));
                }
            }
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    Err(ShellError::Protected(found))
}
