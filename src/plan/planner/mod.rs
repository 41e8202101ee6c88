//! The planner proper: one target's desired state against its observed state, to a
//! [`TargetPlan`] (docs/contract.md#matching-and-ownership, #the-plan).
//!
//! The steps, each a linear pass: render every directory user and group through the target's
//! mapping; classify live objects (`ignore`, `release`); match by key precedence (one generic
//! [`side::Side`] per kind); decide each directory object's change (create, update, adopt,
//! reactivate, deactivate, conflict); decide each live object roster owns or claims but no
//! directory object matched (deprovision, `unmanaged`); diff the membership of owned groups
//! ([`membership`]); then order and filter ([`ordering`]), count and gate ([`summary`]).
//!
//! Ownership is the safety property: a change is only ever built for a live object that is
//! matched to a directory object, whose externalId `owns` claims, or that `unmanaged` claims.
//! Ignored, released and conflicting objects are never written, and protected users are never
//! deactivated, deleted or removed from a group.

mod change;
mod membership;
mod notes;
mod ordering;
mod side;
mod summary;
mod workings;

pub use summary::{reread_requests, with_live_state_reads};
pub(crate) use workings::{plan_with_workings, KindWorkings, Workings};

use super::document::{
    Action, Address, Change, ObjectKind, Operation, Phase, Reason, TargetPlan, WhyLeftAlone,
};
use super::matching::Outcome;
use super::observed::Observed;
use super::policy::Lists;
use super::{PlanError, PlanOptions};
use crate::config::assign::assigned;
use crate::config::model::Unmanaged;
use crate::config::{Desired, Target};
use crate::fasthash::{map_with_capacity, FastMap};
use crate::mapping::{CompiledRule, CompiledTarget, RuleKind};
use crate::scim::resource::PatchOp;
use change::{blank_change, conflict_change, is_protected};
use serde_json::{json, Map, Value};
use side::{Groups, KindLists, Side, Users};
use std::collections::BTreeSet;
use summary::Untouched;

/// Where a directory user is (or will be) in the target.
#[derive(Debug, Clone)]
enum TargetRef {
    /// This live user.
    Live(usize),
    /// Created by this plan, by the change at this address.
    Created(Address),
}

struct Planner<'a> {
    desired: &'a Desired,
    target: &'a Target,
    observed: &'a Observed,
    compiled: CompiledTarget,
    lists: Lists,
    users: Side,
    groups: Side,
    /// Per directory user: assigned to this target.
    user_assigned: Vec<bool>,
    /// Per directory group: its position in the assignment's group list, when assigned.
    group_assigned: Vec<Option<usize>>,
    /// Per assigned group (by position): its directory members.
    members: Vec<Vec<usize>>,
    /// Per directory user: where it is in the target.
    target_ref: Vec<Option<TargetRef>>,
    user_by_id: FastMap<&'a str, usize>,
    live_user_by_id: FastMap<&'a str, usize>,
    /// Scratch stamps for membership diffs, one per live user (see `group_members`).
    in_live_mark: Vec<u32>,
    wanted_mark: Vec<u32>,
    changes: Vec<Change>,
    untouched: Untouched,
}

/// Plan one target. Pure: no I/O, same inputs give the same plan.
pub fn plan_target(
    desired: &Desired,
    target: &Target,
    observed: &Observed,
    opts: &PlanOptions,
) -> Result<TargetPlan, PlanError> {
    let mut p = Planner::start(desired, target, observed)?;
    p.run()?;
    Ok(p.finish(opts))
}

impl<'a> Planner<'a> {
    /// Compile the target's mapping and policy lists, render and match both kinds.
    fn start(
        desired: &'a Desired,
        target: &'a Target,
        observed: &'a Observed,
    ) -> Result<Planner<'a>, PlanError> {
        let compiled = CompiledTarget::compile(target).map_err(|diags| {
            PlanError::Mapping(
                diags
                    .iter()
                    .map(|d| d.message.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let lists = Lists::new(&target.policy, desired)?;
        Planner::new(desired, target, observed, compiled, lists)
    }

    fn new(
        desired: &'a Desired,
        target: &'a Target,
        observed: &'a Observed,
        compiled: CompiledTarget,
        lists: Lists,
    ) -> Result<Planner<'a>, PlanError> {
        let users = Side::build::<Users>(
            &compiled,
            target,
            KindLists {
                ignore: &lists.ignore_users,
                release: &lists.release_users,
            },
            &desired.users,
            &observed.users,
        )?;
        let groups = Side::build::<Groups>(
            &compiled,
            target,
            KindLists {
                ignore: &lists.ignore_groups,
                release: &lists.release_groups,
            },
            &desired.groups,
            &observed.groups,
        )?;
        let assignment = assigned(desired, target);
        let mut user_assigned = vec![false; desired.users.len()];
        for u in &assignment.users {
            user_assigned[*u] = true;
        }
        let mut group_assigned = vec![None; desired.groups.len()];
        for (pos, g) in assignment.groups.iter().enumerate() {
            group_assigned[*g] = Some(pos);
        }
        let mut user_by_id = map_with_capacity(desired.users.len());
        for (i, u) in desired.users.iter().enumerate() {
            user_by_id.entry(u.id.as_str()).or_insert(i);
        }
        let mut live_user_by_id = map_with_capacity(observed.users.len());
        for (i, u) in observed.users.iter().enumerate() {
            live_user_by_id.entry(u.id.as_str()).or_insert(i);
        }
        Ok(Planner {
            desired,
            target,
            observed,
            compiled,
            lists,
            users,
            groups,
            user_assigned,
            group_assigned,
            members: assignment.members,
            target_ref: vec![None; desired.users.len()],
            user_by_id,
            live_user_by_id,
            in_live_mark: vec![0; observed.users.len()],
            wanted_mark: vec![0; observed.users.len()],
            changes: Vec::new(),
            untouched: Untouched::default(),
        })
    }

    /// Every planning step, in order; [`Planner::finish`] then orders, counts and gates.
    fn run(&mut self) -> Result<(), PlanError> {
        self.place_users();
        self.plan_users();
        self.plan_live_users();
        self.plan_groups()?;
        self.plan_live_groups();
        Ok(())
    }

    fn name(&self) -> &str {
        &self.target.name
    }

    fn user_address(&self, d: usize) -> Address {
        Address::directory(self.name(), ObjectKind::User, &self.desired.users[d].id)
    }

    fn live_user_address(&self, l: usize) -> Address {
        match self.users.matching.live_owner[l] {
            Some(d) => self.user_address(d),
            None => Address::live(self.name(), ObjectKind::User, &self.observed.users[l].id),
        }
    }

    fn group_address(&self, g: usize) -> Address {
        Address::directory(self.name(), ObjectKind::Group, &self.desired.groups[g].id)
    }

    fn live_group_address(&self, l: usize) -> Address {
        match self.groups.matching.live_owner[l] {
            Some(g) => self.group_address(g),
            None => Address::live(self.name(), ObjectKind::Group, &self.observed.groups[l].id),
        }
    }

    /// Decide where each directory user is in the target: its live match, or the create below.
    fn place_users(&mut self) {
        let create = self.target.policy.create;
        for d in 0..self.desired.users.len() {
            if self.users.skipped(d) {
                continue;
            }
            self.target_ref[d] = match &self.users.matching.desired[d] {
                Outcome::Matched { live, .. } if !self.users.live_released[*live] => {
                    Some(TargetRef::Live(*live))
                }
                Outcome::Unmatched
                    if create && self.user_assigned[d] && self.desired.users[d].active =>
                {
                    Some(TargetRef::Created(self.user_address(d)))
                }
                _ => None,
            };
        }
    }

    /// Where a `user_ref`'s directory id is in the target: a live id, or a create's address.
    fn ref_target(&self, id: &str) -> Option<Result<&str, &Address>> {
        let d = *self.user_by_id.get(id)?;
        Some(match self.target_ref[d].as_ref()? {
            TargetRef::Live(l) => Ok(self.observed.users[*l].id.as_str()),
            TargetRef::Created(addr) => Err(addr),
        })
    }

    /// A `user_ref`'s directory id as written in the target, and the create it waits for.
    fn resolve_ref(&self, id: &str) -> Option<(Value, Option<Address>)> {
        Some(match self.ref_target(id)? {
            Ok(live) => (Value::String(live.to_string()), None),
            Err(addr) => (json!({ "$user_ref": addr.as_str() }), Some(addr.clone())),
        })
    }

    fn user_precondition(&self, l: usize) -> super::Precondition {
        let u = &self.observed.users[l];
        self.users.precondition(&u.resource(), u.version.as_ref())
    }

    fn group_precondition(&self, l: usize) -> super::Precondition {
        let g = &self.observed.groups[l];
        self.groups.precondition(&g.resource(), g.version.as_ref())
    }

    /// Record a change; the phase is decided with it and travels in the plan.
    fn push(&mut self, phase: Phase, mut change: Change) {
        change.phase = phase;
        self.changes.push(change);
    }

    fn is_protected_user(&self, d: Option<usize>, l: usize) -> bool {
        is_protected::<Users>(
            &self.lists.protect_users,
            d.map(|d| &self.desired.users[d]),
            &self.observed.users[l],
        )
    }

    fn is_protected_group(&self, d: Option<usize>, l: usize) -> bool {
        is_protected::<Groups>(
            &self.lists.protect_groups,
            d.map(|d| &self.desired.groups[d]),
            &self.observed.groups[l],
        )
    }

    /// Changes driven by directory users.
    fn plan_users(&mut self) {
        let policy = &self.target.policy;
        for d in 0..self.desired.users.len() {
            if self.users.skipped(d) {
                continue;
            }
            let user = &self.desired.users[d];
            match self.users.matching.desired[d].clone() {
                Outcome::Conflict(c) => {
                    let change = conflict_change::<Users>(
                        &self.users,
                        &self.desired.users,
                        &self.observed.users,
                        self.user_address(d),
                        d,
                        &c,
                    );
                    self.push(Phase::Conflict, change);
                }
                Outcome::Unmatched => {
                    if matches!(self.target_ref[d], Some(TargetRef::Created(_))) {
                        let change = self.user_create(d);
                        self.push(Phase::CreateUsers, change);
                    }
                }
                Outcome::Matched { live: l, adopt, .. } => {
                    if self.users.live_released[l] {
                        continue;
                    }
                    let lu = &self.observed.users[l];
                    let live_active = lu.active();
                    if !self.user_assigned[d] || !user.active {
                        if live_active && policy.deactivate {
                            let reason = if user.active {
                                Reason::Unassigned
                            } else {
                                Reason::InactiveInDirectory
                            };
                            self.deactivate_user(Some(d), l, reason);
                        }
                        // A user on the way out (unassigned, or inactive in the directory) is
                        // not desired here: only its `active` is roster's business, and its
                        // other attributes stay as they are.
                        continue;
                    }
                    let only_ext = !policy.update;
                    if only_ext && !adopt && (live_active || !user.active) {
                        continue;
                    }
                    let diff = self.diff_attributes(
                        &self.users,
                        &self.users.rendered[d],
                        &lu.resource(),
                        only_ext,
                    );
                    let wants_active = user.active && !live_active;
                    let reactivate = wants_active && policy.reactivate;
                    if wants_active && !policy.reactivate {
                        self.untouched
                            .note(ObjectKind::User, l, WhyLeftAlone::NotReactivated);
                        tracing::info!(user = %user.user_name, "inactive in the target and active in the directory; left inactive (policy.reactivate is false)");
                    }
                    if diff.ops.is_empty() && !reactivate {
                        continue;
                    }
                    let mut change = blank_change(
                        self.user_address(d),
                        user.user_name.clone(),
                        ObjectKind::User,
                        Some(lu.id.clone()),
                        Vec::new(),
                        if adopt {
                            Reason::Adopt
                        } else if reactivate {
                            Reason::ActiveInDirectory
                        } else {
                            Reason::AttributeMismatch
                        },
                    );
                    let mut ops = diff.ops;
                    change.before = diff.before;
                    change.after = diff.after;
                    if !ops.is_empty() {
                        change.actions.push(Action::Update);
                    }
                    if reactivate {
                        change.actions.push(Action::Reactivate);
                        change.before.insert("active".into(), Value::Bool(false));
                        change.after.insert("active".into(), Value::Bool(true));
                        ops.push(PatchOp::replace("active", Value::Bool(true)));
                    }
                    change.unchanged_attributes = diff.unchanged;
                    change.operations = vec![Operation::Patch { ops }];
                    change.depends_on = diff.depends_on;
                    change.precondition = Some(self.user_precondition(l));
                    let ph = if diff.renames {
                        Phase::Rename
                    } else {
                        Phase::Update
                    };
                    self.push(ph, change);
                }
            }
        }
    }

    fn user_create(&self, d: usize) -> Change {
        let user = &self.desired.users[d];
        let rendered = &self.users.rendered[d];
        let address = self.user_address(d);
        let mut body =
            self.compiled
                .user_resource(rendered, true, &|id| match self.resolve_ref(id) {
                    Some((Value::String(s), _)) => Some(s),
                    _ => None,
                });
        let mut after = Map::new();
        let mut depends_on = BTreeSet::new();
        for (rule, v) in self.compiled.user.iter().zip(&rendered.values) {
            let Some(v) = v else { continue };
            let written = match rule.kind {
                RuleKind::UserRef => match v.as_str().and_then(|id| self.resolve_ref(id)) {
                    // A user managing itself would wait for its own create: leave it out.
                    Some((_, Some(dep))) if dep == address => continue,
                    Some((val, Some(dep))) => {
                        rule.path.set(&mut body, val.clone());
                        add_schema(&mut body, rule.path.schema.as_deref());
                        depends_on.insert(dep);
                        val
                    }
                    Some((val, None)) => val,
                    None => continue,
                },
                _ => v.clone(),
            };
            after.insert(rule.path_text.clone(), written);
        }
        after.insert("active".into(), Value::Bool(true));
        let mut change = blank_change(
            address,
            user.user_name.clone(),
            ObjectKind::User,
            None,
            vec![Action::Create],
            Reason::Missing,
        );
        change.after = after;
        change.operations = vec![Operation::Create { body }];
        change.depends_on = depends_on.into_iter().collect();
        change.precondition = Some(self.users.create_precondition.clone());
        change
    }

    fn deactivate_user(&mut self, d: Option<usize>, l: usize, reason: Reason) {
        if self.is_protected_user(d, l) {
            self.untouched.protected.insert((ObjectKind::User, l));
            return;
        }
        let u = &self.observed.users[l];
        let name = match d {
            Some(d) => self.desired.users[d].user_name.clone(),
            None => u.user_name().to_string(),
        };
        let mut change = blank_change(
            self.live_user_address(l),
            name,
            ObjectKind::User,
            Some(u.id.clone()),
            vec![Action::Deactivate],
            reason,
        );
        change.before.insert("active".into(), Value::Bool(true));
        change.after.insert("active".into(), Value::Bool(false));
        change.operations = vec![Operation::Patch {
            ops: vec![PatchOp::replace("active", Value::Bool(false))],
        }];
        change.precondition = Some(self.user_precondition(l));
        self.push(Phase::Deactivate, change);
    }

    fn delete_user(&mut self, l: usize, reason: Reason) {
        if self.is_protected_user(None, l) {
            self.untouched.protected.insert((ObjectKind::User, l));
            return;
        }
        let u = &self.observed.users[l];
        let mut change = blank_change(
            self.live_user_address(l),
            u.user_name().to_string(),
            ObjectKind::User,
            Some(u.id.clone()),
            vec![Action::Delete],
            reason,
        );
        change.operations = vec![Operation::Delete];
        change.precondition = Some(self.user_precondition(l));
        self.push(Phase::Delete, change);
    }

    /// Live users no directory user matched: ownership by `owns`, or `unmanaged`.
    fn plan_live_users(&mut self) {
        let policy = &self.target.policy;
        for l in 0..self.observed.users.len() {
            if self.users.live_ignored[l] {
                self.untouched
                    .note(ObjectKind::User, l, WhyLeftAlone::Ignored);
                continue;
            }
            if self.users.live_released[l] {
                self.untouched
                    .note(ObjectKind::User, l, WhyLeftAlone::Released);
                continue;
            }
            if self.users.matching.live_conflicted[l] {
                continue;
            }
            if self.users.matching.live_owner[l].is_some() {
                self.users.owned += 1;
                continue;
            }
            let u = &self.observed.users[l];
            if self.lists.owns(u.external_id()) {
                self.users.owned += 1;
                if policy.delete {
                    self.delete_user(l, Reason::RemovedFromDirectory);
                } else if policy.deactivate && u.active() {
                    self.deactivate_user(None, l, Reason::RemovedFromDirectory);
                }
                continue;
            }
            // Objects `unmanaged` claims are roster's by policy: they count in the population
            // the percentage gate measures against, so destroying them all reads as 100%.
            match policy.unmanaged {
                Unmanaged::Ignore => {
                    self.untouched
                        .note(ObjectKind::User, l, WhyLeftAlone::Unmanaged)
                }
                Unmanaged::Deactivate => {
                    self.users.owned += 1;
                    if u.active() {
                        self.deactivate_user(None, l, Reason::UnmanagedPolicy);
                    }
                }
                Unmanaged::Delete => {
                    self.users.owned += 1;
                    self.delete_user(l, Reason::UnmanagedPolicy);
                }
            }
        }
    }

    /// Changes driven by directory groups, memberships included.
    fn plan_groups(&mut self) -> Result<(), PlanError> {
        let policy = &self.target.policy;
        for g in 0..self.desired.groups.len() {
            if self.groups.skipped(g) {
                continue;
            }
            let group = &self.desired.groups[g];
            match self.groups.matching.desired[g].clone() {
                Outcome::Conflict(c) => {
                    let change = conflict_change::<Groups>(
                        &self.groups,
                        &self.desired.groups,
                        &self.observed.groups,
                        self.group_address(g),
                        g,
                        &c,
                    );
                    self.push(Phase::Conflict, change);
                }
                Outcome::Unmatched => {
                    if let (Some(pos), true) = (self.group_assigned[g], policy.group_create) {
                        self.group_create(g, pos);
                    }
                }
                Outcome::Matched { live: l, adopt, .. } => {
                    if self.groups.live_released[l] {
                        continue;
                    }
                    let Some(pos) = self.group_assigned[g] else {
                        if policy.group_delete {
                            self.delete_group(Some(g), l, Reason::Unassigned);
                        }
                        continue;
                    };
                    let lg = &self.observed.groups[l];
                    if policy.group_update || adopt {
                        let diff = self.diff_attributes(
                            &self.groups,
                            &self.groups.rendered[g],
                            &lg.resource(),
                            !policy.group_update,
                        );
                        if !diff.ops.is_empty() {
                            let mut change = blank_change(
                                self.group_address(g),
                                group.name.clone(),
                                ObjectKind::Group,
                                Some(lg.id.clone()),
                                vec![Action::Update],
                                if adopt {
                                    Reason::Adopt
                                } else {
                                    Reason::AttributeMismatch
                                },
                            );
                            change.before = diff.before;
                            change.after = diff.after;
                            change.unchanged_attributes = diff.unchanged;
                            change.operations = vec![Operation::Patch { ops: diff.ops }];
                            change.depends_on = diff.depends_on;
                            change.precondition = Some(self.group_precondition(l));
                            let ph = if diff.renames {
                                Phase::Rename
                            } else {
                                Phase::Update
                            };
                            self.push(ph, change);
                        }
                    }
                    self.group_members(g, pos, l)?;
                }
            }
        }
        Ok(())
    }

    fn delete_group(&mut self, d: Option<usize>, l: usize, reason: Reason) {
        if self.is_protected_group(d, l) {
            self.untouched.protected.insert((ObjectKind::Group, l));
            return;
        }
        let lg = &self.observed.groups[l];
        let name = match d {
            Some(d) => self.desired.groups[d].name.clone(),
            None => lg.display_name().to_string(),
        };
        let mut change = blank_change(
            self.live_group_address(l),
            name,
            ObjectKind::Group,
            Some(lg.id.clone()),
            vec![Action::Delete],
            reason,
        );
        change.operations = vec![Operation::Delete];
        change.precondition = Some(self.group_precondition(l));
        self.push(Phase::Delete, change);
    }

    /// Live groups no directory group matched.
    fn plan_live_groups(&mut self) {
        let policy = &self.target.policy;
        for l in 0..self.observed.groups.len() {
            if self.groups.live_ignored[l] {
                self.untouched
                    .note(ObjectKind::Group, l, WhyLeftAlone::Ignored);
                continue;
            }
            if self.groups.live_released[l] {
                self.untouched
                    .note(ObjectKind::Group, l, WhyLeftAlone::Released);
                continue;
            }
            if self.groups.matching.live_conflicted[l] {
                continue;
            }
            if self.groups.matching.live_owner[l].is_some() {
                self.groups.owned += 1;
                continue;
            }
            if self.lists.owns(self.observed.groups[l].external_id()) {
                self.groups.owned += 1;
                if policy.group_delete {
                    self.delete_group(None, l, Reason::RemovedFromDirectory);
                }
                continue;
            }
            match policy.unmanaged {
                // Groups cannot be deactivated: `deactivate` leaves them as they are.
                Unmanaged::Ignore | Unmanaged::Deactivate => {
                    self.untouched
                        .note(ObjectKind::Group, l, WhyLeftAlone::Unmanaged)
                }
                Unmanaged::Delete => {
                    self.groups.owned += 1;
                    self.delete_group(None, l, Reason::UnmanagedPolicy);
                }
            }
        }
    }

    /// Order, filter, count and gate.
    fn finish(mut self, opts: &PlanOptions) -> TargetPlan {
        self.take_plan(opts)
    }

    /// [`Planner::finish`] that leaves the planner's other state in place, for `explain`
    /// ([`workings`]) to read after the plan is made.
    fn take_plan(&mut self, opts: &PlanOptions) -> TargetPlan {
        let texts = |rules: &[usize], all: &[CompiledRule]| -> Vec<String> {
            rules.iter().map(|r| all[*r].path_text.clone()).collect()
        };
        let mut changes = ordering::order_and_select(
            std::mem::take(&mut self.changes),
            &texts(&self.users.unique_rules, &self.compiled.user),
            &texts(&self.groups.unique_rules, &self.compiled.group),
            opts,
            &self.target.name,
        );
        self.annotate(&mut changes);
        let mut plan = summary::target_plan(
            self.desired,
            self.target,
            changes,
            &self.untouched,
            self.users.owned + self.groups.owned,
        );
        plan.not_touching.objects = self.left_alone();
        plan
    }
}

fn add_schema(body: &mut Map<String, Value>, schema: Option<&str>) {
    let Some(s) = schema else { return };
    if let Some(Value::Array(schemas)) = body.get_mut("schemas") {
        if !schemas
            .iter()
            .any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(s)))
        {
            schemas.push(Value::String(s.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::config::test_support::desired;

    fn plan(yaml: &str, live: serde_json::Value) -> TargetPlan {
        let d = desired(yaml);
        let obs = Observed::from_value(live).expect("live");
        plan_target(&d, &d.targets[0], &obs, &PlanOptions::default()).expect("plans")
    }

    const BASE: &str = r#"
version: 1
users:
  - { id: e1, user_name: a@example.com, given_name: A, family_name: B }
targets:
  t:
    type: embedded
    assign: { all: true }
    policy:
      owns: { external_id: "^e[0-9]+$" }
      unmanaged: delete
      limits: { max_destroy: 100, max_destroy_percent: 100 }
"#;

    fn user(id: &str, ext: Option<&str>, name: &str) -> serde_json::Value {
        let mut u = json!({"id": id, "userName": name, "displayName": "A B",
            "name": {"givenName": "A", "familyName": "B"}, "active": true});
        if let Some(e) = ext {
            u["externalId"] = json!(e);
        }
        u
    }

    #[test]
    fn an_owned_object_in_a_conflict_is_not_deprovisioned() {
        // e1's userName matches s2, whose externalId e7 (owned by `owns`) differs: a conflict,
        // and s2 is neither deactivated as removed nor deleted as unmanaged.
        let p = plan(
            BASE,
            json!({"users": [user("s2", Some("e7"), "a@example.com")]}),
        );
        assert_eq!(p.changes.len(), 1, "{:?}", p.changes);
        assert_eq!(p.changes[0].reason, Reason::Conflict);
        assert!(p.changes[0].operations.is_empty());
    }

    #[test]
    fn reactivate_false_leaves_an_inactive_user_alone_and_counts_it() {
        let mut inactive = user("s1", Some("e1"), "a@example.com");
        inactive["active"] = json!(false);
        let live = json!({ "users": [inactive] });
        let p = plan(BASE, live.clone());
        assert_eq!(p.changes.len(), 1, "{:?}", p.changes);
        assert!(p.changes[0].actions.contains(&Action::Reactivate));
        assert_eq!(p.not_touching.not_reactivated, 0);

        let yaml = BASE.replace(
            "unmanaged: delete",
            "unmanaged: delete\n      reactivate: false",
        );
        let p = plan(&yaml, live);
        assert!(p.changes.is_empty(), "{:?}", p.changes);
        assert_eq!(p.not_touching.not_reactivated, 1);
    }

    #[test]
    fn a_released_object_is_never_touched_even_when_owned() {
        let yaml = BASE.replace(
            "unmanaged: delete",
            "unmanaged: delete\n      release: { users: [e7, x@example.com] }",
        );
        let p = plan(
            &yaml,
            json!({"users": [user("s1", Some("e1"), "a@example.com"),
                             user("s7", Some("e7"), "gone@example.com"),
                             user("s8", None, "X@example.com")]}),
        );
        assert!(p.changes.is_empty(), "{:?}", p.changes);
        assert_eq!(p.not_touching.released, 2);
    }

    #[test]
    fn unmanaged_delete_never_reaches_ignored_objects() {
        let yaml = BASE.replace(
            "unmanaged: delete",
            "unmanaged: delete\n      ignore: { users: [\"svc-*\"] }",
        );
        let p = plan(
            &yaml,
            json!({"users": [user("s1", Some("e1"), "a@example.com"),
                             user("s9", None, "SVC-backup"),
                             user("s10", None, "temp@example.com")]}),
        );
        let touched: Vec<_> = p.changes.iter().filter_map(|c| c.id.as_deref()).collect();
        assert_eq!(touched, vec!["s10"]);
        assert_eq!(p.summary.ignored, 1);
    }

    #[test]
    fn a_protected_leaver_is_counted_not_deactivated() {
        let yaml = BASE.replace(
            "unmanaged: delete",
            "protect: { users: [gone@example.com] }",
        );
        let p = plan(
            &yaml,
            json!({"users": [user("s1", Some("e1"), "a@example.com"),
                             user("s7", Some("e7"), "Gone@example.com")]}),
        );
        assert!(p.changes.is_empty(), "{:?}", p.changes);
        assert_eq!(p.not_touching.protected, 1);
    }
}
