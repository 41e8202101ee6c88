//! What the planner decided on its way to a plan, kept for `roster explain`
//! (`plan::explain`) and for checking `--resource` addresses against what the plan knows.
//!
//! The plan itself only holds changes; the answers to "why" (which key matched which live
//! object, what `ignore`, `release` and `protect` left out, each rendered value) live in the
//! planner's working state and are dropped when the plan is done. This hands them out instead,
//! so that explain asks the planner that made the plan rather than a second copy of its rules.

use super::super::document::TargetPlan;
use super::super::matching::{KeySpec, Matching};
use super::super::observed::Observed;
use super::super::policy::Lists;
use super::super::{PlanError, PlanOptions};
use super::side::Side;
use super::Planner;
use crate::config::{Desired, Target};
use crate::mapping::{CompiledTarget, Rendered};

/// The planner's state for one kind of object (users or groups).
pub(crate) struct KindWorkings {
    /// Per directory object: its values rendered through the mapping, one per rule.
    pub rendered: Vec<Rendered>,
    /// Per directory object: left out by `ignore` / `release`.
    pub ignored: Vec<bool>,
    pub released: Vec<bool>,
    /// Per live object: left out by `ignore` / `release` / `protect`.
    pub live_ignored: Vec<bool>,
    pub live_released: Vec<bool>,
    pub live_protected: Vec<bool>,
    pub matching: Matching,
    /// The target's match keys, in precedence order (the `key` of a match indexes these).
    pub specs: Vec<KeySpec>,
}

impl KindWorkings {
    fn from_side(side: Side, live_protected: Vec<bool>) -> KindWorkings {
        KindWorkings {
            rendered: side.rendered,
            ignored: side.ignored,
            released: side.released,
            live_ignored: side.live_ignored,
            live_released: side.live_released,
            live_protected,
            matching: side.matching,
            specs: side.specs,
        }
    }
}

/// A target plan and the state it was decided from.
pub(crate) struct Workings {
    pub plan: TargetPlan,
    pub compiled: CompiledTarget,
    pub lists: Lists,
    pub users: KindWorkings,
    pub groups: KindWorkings,
}

/// [`super::plan_target`], keeping the planner's state.
pub(crate) fn plan_with_workings(
    desired: &Desired,
    target: &Target,
    observed: &Observed,
    opts: &PlanOptions,
) -> Result<Workings, PlanError> {
    let mut p = Planner::start(desired, target, observed)?;
    p.run()?;
    let plan = p.take_plan(opts);
    let users_protected = (0..observed.users.len())
        .map(|l| p.is_protected_user(p.users.matching.live_owner[l], l))
        .collect();
    let groups_protected = (0..observed.groups.len())
        .map(|l| p.is_protected_group(p.groups.matching.live_owner[l], l))
        .collect();
    let Planner {
        compiled,
        lists,
        users,
        groups,
        ..
    } = p;
    Ok(Workings {
        plan,
        compiled,
        lists,
        users: KindWorkings::from_side(users, users_protected),
        groups: KindWorkings::from_side(groups, groups_protected),
    })
}
