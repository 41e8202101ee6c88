//! What happened to every change: the records apply keeps as it goes, the counts of the final
//! `Apply complete!` line, and the JSON document `apply --report FILE` writes for pipelines.

use crate::plan::{Action, Change, ObjectKind, Tally};
use crate::scim::RequestCounts;
use serde::{Deserialize, Serialize};

/// The version of the report document's format.
pub const REPORT_FORMAT_VERSION: &str = "1";

/// How a change ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Carried out, or found already in effect.
    Applied,
    /// The server refused it or could not be reached; `error` says why.
    Failed,
    /// Not attempted because a change it depends on did not apply.
    Skipped,
}

/// The record of one change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeResult {
    pub address: String,
    pub name: String,
    pub kind: ObjectKind,
    pub actions: Vec<Action>,
    pub status: Status,
    /// The live id (for creates: the new one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// How an applied change was done when it was not the plain request (`already in effect`,
    /// `adopted the existing object after a 409`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Found already in effect by the re-read of a saved plan: nothing was sent for it, and it
    /// is not counted as added, changed or destroyed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_effect: bool,
    /// Why it failed or was skipped, with the server's detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Seconds after the apply of its target started.
    pub started_at: f64,
    pub seconds: f64,
}

impl ChangeResult {
    /// A record for `change` with the given outcome (times filled in by the executor).
    pub fn new(change: &Change, status: Status) -> ChangeResult {
        ChangeResult {
            address: change.address.to_string(),
            name: change.name.clone(),
            kind: change.kind,
            actions: change.actions.clone(),
            status,
            id: change.id.clone(),
            note: None,
            in_effect: false,
            error: None,
            started_at: 0.0,
            seconds: 0.0,
        }
    }
}

/// The counts of the final line, over applied changes, counted as the plan's summary counts
/// them (docs/contract.md#summary-line): creates are added; updates, reactivations and groups whose members
/// change are changed (a group once, and not at all when it was created); deactivations and
/// deletes are destroyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Totals {
    pub added: u64,
    pub changed: u64,
    pub destroyed: u64,
    pub failed: u64,
    pub skipped: u64,
    /// Changes found already in effect (re-applying a finished plan): nothing sent. Omitted
    /// when 0, so a plain apply's report keeps its shape.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub in_effect: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Totals {
    pub fn of(results: &[ChangeResult]) -> Totals {
        let mut t = Totals::default();
        let mut tally = Tally::new(
            results
                .iter()
                .filter(|r| r.kind == ObjectKind::Group && r.actions.contains(&Action::Create))
                .map(|r| r.address.as_str()),
        );
        for r in results {
            match r.status {
                Status::Failed => t.failed += 1,
                Status::Skipped => t.skipped += 1,
                Status::Applied if r.in_effect => t.in_effect += 1,
                Status::Applied => tally.count(r.kind, &r.address, &r.actions),
            }
        }
        t.added = tally.add;
        t.changed = tally.change;
        t.destroyed = tally.deactivate + tally.delete;
        t
    }

    pub fn add(&mut self, o: Totals) {
        self.added += o.added;
        self.changed += o.changed;
        self.destroyed += o.destroyed;
        self.failed += o.failed;
        self.skipped += o.skipped;
        self.in_effect += o.in_effect;
    }
}

/// One target's part of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetReport {
    pub name: String,
    pub summary: Totals,
    /// Requests this target's apply sent: the re-read of a saved plan and the writes.
    pub requests: RequestCounts,
    pub seconds: f64,
    pub changes: Vec<ChangeResult>,
}

/// The document `apply --report FILE` writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyReport {
    pub format_version: String,
    pub roster_version: String,
    /// `applied` (everything applied), `partial` (some changes failed or were skipped).
    pub status: String,
    pub plan_checksum: String,
    pub config_digest: String,
    pub started_at: String,
    pub finished_at: String,
    pub summary: Totals,
    pub targets: Vec<TargetReport>,
}

/// The final line: `Apply complete! Resources: 3 added, 2 changed, 1 destroyed.` when nothing
/// failed (docs/contract.md#progress-and-final-line: scripts parse it), otherwise a line that says apply did not complete.
pub fn final_line(t: &Totals) -> String {
    let resources = format!(
        "Resources: {} added, {} changed, {} destroyed",
        t.added, t.changed, t.destroyed
    );
    if t.failed == 0 && t.skipped == 0 {
        format!("Apply complete! {resources}.")
    } else {
        format!(
            "Apply failed: {} failed, {} skipped. {resources}.",
            t.failed, t.skipped
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(kind: ObjectKind, address: &str, actions: Vec<Action>, status: Status) -> ChangeResult {
        ChangeResult {
            address: address.into(),
            name: address.into(),
            kind,
            actions,
            status,
            id: None,
            note: None,
            in_effect: false,
            error: None,
            started_at: 0.0,
            seconds: 0.0,
        }
    }

    #[test]
    fn changes_already_in_effect_are_not_counted_as_changes() {
        let mut done = r(
            ObjectKind::Group,
            "t:group.g",
            vec![Action::AddMembers],
            Status::Applied,
        );
        done.in_effect = true;
        let t = Totals::of(&[done]);
        assert_eq!((t.changed, t.in_effect), (0, 1));
        assert_eq!(
            final_line(&t),
            "Apply complete! Resources: 0 added, 0 changed, 0 destroyed."
        );
    }

    #[test]
    fn totals_count_like_the_plan_summary() {
        use Action::*;
        use ObjectKind::*;
        let results = vec![
            r(User, "t:user.a", vec![Create], Status::Applied),
            r(Group, "t:group.g", vec![Create], Status::Applied),
            r(Group, "t:group.g", vec![AddMembers], Status::Applied),
            r(Group, "t:group.h", vec![Update], Status::Applied),
            r(Group, "t:group.h", vec![AddMembers], Status::Applied),
            r(User, "t:user.b", vec![Update, Reactivate], Status::Applied),
            r(User, "t:user.c", vec![Deactivate], Status::Applied),
            r(Group, "t:group.i", vec![Delete], Status::Failed),
            r(User, "t:user.d", vec![Create], Status::Skipped),
        ];
        let t = Totals::of(&results);
        assert_eq!(
            t,
            Totals {
                added: 2,
                changed: 2,
                destroyed: 1,
                failed: 1,
                skipped: 1,
                in_effect: 0
            }
        );
        assert_eq!(
            final_line(&t),
            "Apply failed: 1 failed, 1 skipped. Resources: 2 added, 2 changed, 1 destroyed."
        );
        assert_eq!(
            final_line(&Totals::of(&results[..2])),
            "Apply complete! Resources: 2 added, 0 changed, 0 destroyed."
        );
    }
}
