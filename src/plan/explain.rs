//! `roster explain`: why one object is, or is not, in a target's plan
//! (docs/contract.md#explain).
//!
//! The answer comes from the planner that made the plan ([`planner::plan_with_workings`]): the
//! same assignment, the same matching by key precedence, the same `ignore` / `release` /
//! `protect` / `owns` / `unmanaged` decisions and the same rendered values, so that explain
//! can never disagree with the plan it explains. Nothing here decides anything new; it reads
//! the planner's state for one object and says it in words and in a serializable value.
//!
//! The same state tells which addresses a target's plan knows ([`Known`]), for the "did you
//! mean" of an address that names nothing (explain, and `plan --resource`).

use super::address::closest;
use super::document::{Action, Address, Change, ObjectKind, Reason, TargetPlan};
use super::matching::{Conflict, Outcome};
use super::observed::Observed;
use super::planner::{self, KindWorkings, Workings};
use super::{same_value, PlanError, PlanOptions};
use crate::config::assign::assigned;
use crate::config::model::Unmanaged;
use crate::config::{Desired, MappingSource, Target};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// Why one object is (or is not) in the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The object's address in the plan (a `live:` address of a matched object is explained
    /// as the directory object it matched).
    pub address: Address,
    /// The address as asked, when it was a `live:` address of a matched object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asked: Option<Address>,
    pub kind: ObjectKind,
    /// The user name or group name.
    pub name: String,
    pub assignment: Assignment,
    #[serde(rename = "match")]
    pub matched: Match,
    pub ownership: Ownership,
    /// Each mapped attribute (directory objects only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    /// The plan's changes at this address (none: see `outcome`).
    pub changes: Vec<Planned>,
    /// The resulting action and reason in one sentence.
    pub outcome: String,
}

/// Which assignment brings the object into the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assignment {
    pub assigned: bool,
    /// How, or why not, in words (`assign.all`, `via group engineering`, ...).
    pub how: Vec<String>,
}

/// Which match key matched which live object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Match {
    /// `matched`, `unmatched`, `conflict`, or `not_matched` (the object takes no part).
    pub outcome: &'static str,
    /// The target's match keys in precedence order.
    pub keys: Vec<&'static str>,
    /// The key that matched (or that conflicted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<&'static str>,
    /// The live object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveObject>,
    /// Matched by a later key on a live object with no externalId: the plan sets it.
    pub adopt: bool,
    /// For conflicts: what was found, and the other live objects involved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<LiveObject>,
}

/// A live object, as explain names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveObject {
    pub id: String,
    pub name: String,
    #[serde(rename = "externalId", skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Users only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

/// Whether roster manages the live object, and by which rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ownership {
    /// `owned_by_match`, `owned_by_owns`, `claimed_by_unmanaged`, `not_managed`, `ignored`,
    /// `released`, `conflict`, `not_in_target`.
    pub state: &'static str,
    pub detail: String,
    /// `protect` keeps it from being deactivated, deleted or removed from a group.
    pub protected: bool,
}

/// One mapped attribute: its rule, the value the directory renders and the live value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attribute {
    pub path: String,
    /// The template (or constant) as configured.
    pub template: String,
    pub desired: Option<Value>,
    pub live: Option<Value>,
    /// `changes` (the plan writes it), `same`, `not_compared` (the plan does not diff this
    /// object's attributes) or `create` (written by the create).
    pub status: &'static str,
}

/// One planned change at the address.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Planned {
    pub actions: Vec<Action>,
    pub reason: Reason,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub members_added: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub members_removed: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Why an object cannot be explained.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The address names no object the target's plan knows.
    #[error("{address} names no object in target {target:?}")]
    NotFound {
        address: String,
        target: String,
        suggestions: Vec<String>,
    },
}

/// The addresses a target's plan knows: every directory user and group, and every live object
/// no directory object matched (by its `live:` address). A `live:` address of a matched object
/// leads to the directory object's.
#[derive(Debug, Clone, Default)]
pub struct Known {
    addresses: Vec<Address>,
    matched_live: HashMap<Address, Address>,
}

impl Known {
    fn of(desired: &Desired, target: &Target, observed: &Observed, w: &Workings) -> Known {
        let t = target.name.as_str();
        let mut addresses = Vec::new();
        let mut matched_live = HashMap::new();
        addresses.extend(
            desired
                .users
                .iter()
                .map(|u| Address::directory(t, ObjectKind::User, &u.id)),
        );
        addresses.extend(
            desired
                .groups
                .iter()
                .map(|g| Address::directory(t, ObjectKind::Group, &g.id)),
        );
        let kinds = [
            (ObjectKind::User, &w.users, live_ids_users(observed)),
            (ObjectKind::Group, &w.groups, live_ids_groups(observed)),
        ];
        for (kind, side, ids) in kinds {
            for (l, id) in ids.into_iter().enumerate() {
                let live = Address::live(t, kind, id);
                match side.matching.live_owner[l] {
                    Some(d) => {
                        let did = match kind {
                            ObjectKind::User => &desired.users[d].id,
                            ObjectKind::Group => &desired.groups[d].id,
                        };
                        matched_live.insert(live, Address::directory(t, kind, did));
                    }
                    None => addresses.push(live),
                }
            }
        }
        Known {
            addresses,
            matched_live,
        }
    }

    /// Whether `a` names an object of the plan.
    pub fn contains(&self, a: &Address) -> bool {
        self.addresses.contains(a)
    }

    /// The directory address a `live:` address of a matched object stands for.
    pub fn matched(&self, a: &Address) -> Option<&Address> {
        self.matched_live.get(a)
    }

    /// The closest known addresses to `text` (a matched object's directory address first).
    pub fn suggest(&self, a: Option<&Address>, text: &str) -> Vec<String> {
        if let Some(d) = a.and_then(|a| self.matched(a)) {
            return vec![d.to_string()];
        }
        closest(text, self.addresses.iter().map(Address::as_str), 3)
    }
}

fn live_ids_users(o: &Observed) -> Vec<&str> {
    o.users.iter().map(|u| u.id.as_str()).collect()
}

fn live_ids_groups(o: &Observed) -> Vec<&str> {
    o.groups.iter().map(|g| g.id.as_str()).collect()
}

/// Plan one target as [`super::plan_target`] does, and also say which addresses it knows.
pub fn plan_knowing(
    desired: &Desired,
    target: &Target,
    observed: &Observed,
    opts: &PlanOptions,
) -> Result<(TargetPlan, Known), PlanError> {
    let w = planner::plan_with_workings(desired, target, observed, opts)?;
    let known = Known::of(desired, target, observed, &w);
    Ok((w.plan, known))
}

/// Explain each of `addresses` (all in `target`) against one read of its live state.
pub fn explain(
    desired: &Desired,
    target: &Target,
    observed: &Observed,
    addresses: &[Address],
) -> Result<Vec<Explanation>, ExplainError> {
    let w = planner::plan_with_workings(desired, target, observed, &PlanOptions::default())?;
    let known = Known::of(desired, target, observed, &w);
    let ctx = Ctx {
        desired,
        target,
        observed,
        w: &w,
    };
    addresses
        .iter()
        .map(|asked| {
            let a = known.matched(asked).unwrap_or(asked);
            let mut e = ctx.one(a).ok_or_else(|| ExplainError::NotFound {
                address: a.to_string(),
                target: target.name.clone(),
                suggestions: known.suggest(Some(a), a.as_str()),
            })?;
            if a != asked {
                e.asked = Some(asked.clone());
            }
            Ok(e)
        })
        .collect()
}

struct Ctx<'a> {
    desired: &'a Desired,
    target: &'a Target,
    observed: &'a Observed,
    w: &'a Workings,
}

/// What one kind looks like to explain: the same questions asked of users and groups.
struct View<'a> {
    kind: ObjectKind,
    side: &'a KindWorkings,
    what: &'static str,
}

impl<'a> Ctx<'a> {
    fn view(&self, kind: ObjectKind) -> View<'a> {
        match kind {
            ObjectKind::User => View {
                kind,
                side: &self.w.users,
                what: "user",
            },
            ObjectKind::Group => View {
                kind,
                side: &self.w.groups,
                what: "group",
            },
        }
    }

    fn one(&self, a: &Address) -> Option<Explanation> {
        let v = self.view(a.kind());
        match (a.directory_id(), a.live_id()) {
            (Some(id), _) => {
                let d = match v.kind {
                    ObjectKind::User => self.desired.users.iter().position(|u| u.id == id),
                    ObjectKind::Group => self.desired.groups.iter().position(|g| g.id == id),
                }?;
                Some(self.directory(&v, a, d))
            }
            (None, Some(id)) => {
                let l = match v.kind {
                    ObjectKind::User => self.observed.users.iter().position(|u| u.id == id),
                    ObjectKind::Group => self.observed.groups.iter().position(|g| g.id == id),
                }?;
                Some(self.live_only(&v, a, l))
            }
            (None, None) => None,
        }
    }

    fn live_object(&self, kind: ObjectKind, l: usize) -> LiveObject {
        match kind {
            ObjectKind::User => {
                let u = &self.observed.users[l];
                LiveObject {
                    id: u.id.clone(),
                    name: u.user_name().to_string(),
                    external_id: u.external_id().map(str::to_string),
                    active: Some(u.active()),
                }
            }
            ObjectKind::Group => {
                let g = &self.observed.groups[l];
                LiveObject {
                    id: g.id.clone(),
                    name: g.display_name().to_string(),
                    external_id: g.external_id().map(str::to_string),
                    active: None,
                }
            }
        }
    }

    fn changes_at(&self, a: &Address) -> Vec<&'a Change> {
        self.w
            .plan
            .changes
            .iter()
            .filter(|c| c.address == *a)
            .collect()
    }

    /// A directory user or group.
    fn directory(&self, v: &View<'_>, a: &Address, d: usize) -> Explanation {
        let policy = &self.target.policy;
        let (name, active) = match v.kind {
            ObjectKind::User => {
                let u = &self.desired.users[d];
                (u.user_name.clone(), u.active)
            }
            ObjectKind::Group => (self.desired.groups[d].name.clone(), true),
        };
        let assignment = self.assignment(v.kind, d);
        let changes = self.changes_at(a);
        let keys: Vec<&'static str> = v.side.specs.iter().map(|s| s.name).collect();
        let mut matched = Match {
            outcome: "unmatched",
            keys,
            key: None,
            live: None,
            adopt: false,
            conflict: None,
            others: Vec::new(),
        };
        let mut live_index = None;
        let skipped = v.side.ignored[d] || v.side.released[d];
        let ownership = if v.side.ignored[d] {
            matched.outcome = "not_matched";
            let lists = match v.kind {
                ObjectKind::User => &self.w.lists.ignore_users,
                ObjectKind::Group => &self.w.lists.ignore_groups,
            };
            let pattern = lists.matching(&name).unwrap_or("a pattern").to_string();
            ownership("ignored", format!("its name matches `ignore` pattern {pattern:?}: never created, compared or written"), false)
        } else if v.side.released[d] {
            matched.outcome = "not_matched";
            ownership(
                "released",
                format!(
                    "named in `release`: roster stops managing this {} without touching it",
                    v.what
                ),
                false,
            )
        } else {
            match &v.side.matching.desired[d] {
                Outcome::Unmatched => ownership(
                    "not_in_target",
                    format!("no live {} has any of its match keys", v.what),
                    false,
                ),
                Outcome::Matched { live, key, adopt } => {
                    matched.outcome = "matched";
                    matched.key = Some(v.side.specs[*key].name);
                    matched.live = Some(self.live_object(v.kind, *live));
                    matched.adopt = *adopt;
                    live_index = Some(*live);
                    if v.side.live_released[*live] {
                        ownership(
                            "released",
                            "its live object is named in `release`: not touched".into(),
                            v.side.live_protected[*live],
                        )
                    } else {
                        ownership(
                            "owned_by_match",
                            format!(
                                "owned: matched by {}{}",
                                v.side.specs[*key].name,
                                if *adopt {
                                    " on a live object with no externalId (adopted: the plan sets its externalId)"
                                } else {
                                    ""
                                }
                            ),
                            v.side.live_protected[*live],
                        )
                    }
                }
                Outcome::Conflict(c) => {
                    matched.outcome = "conflict";
                    let (key, live) = match c {
                        Conflict::Ambiguous { key, live } => (*key, live.clone()),
                        Conflict::ExternalIdDiffers { key, live } => (*key, vec![*live]),
                        Conflict::Shared { key, live, .. } => (*key, vec![*live]),
                    };
                    matched.key = Some(v.side.specs[key].name);
                    matched.others = live.iter().map(|l| self.live_object(v.kind, *l)).collect();
                    matched.conflict = changes.iter().find_map(|c| c.detail.clone());
                    ownership(
                        "conflict",
                        "in conflict: neither this object nor the live ones are changed".into(),
                        false,
                    )
                }
            }
        };
        // The planner diffs the attributes of an assigned, active object matched to a live one
        // it may touch; an object on its way out only has its `active` changed.
        let compared = !skipped
            && live_index.is_some_and(|l| !v.side.live_released[l])
            && assignment.assigned
            && (v.kind == ObjectKind::Group || active);
        // A conflict with one live object shows that object's values beside the desired ones.
        let shown = live_index.or(match &v.side.matching.desired[d] {
            Outcome::Conflict(Conflict::ExternalIdDiffers { live, .. })
            | Outcome::Conflict(Conflict::Shared { live, .. }) => Some(*live),
            _ => None,
        });
        let attributes = self.attributes(v, d, shown, &changes, compared);
        let outcome = if changes.is_empty() {
            self.no_change(
                v,
                &assignment,
                &matched,
                &ownership,
                active,
                policy_allows(v.kind, policy),
            )
        } else {
            describe_changes(&changes)
        };
        Explanation {
            address: a.clone(),
            asked: None,
            kind: v.kind,
            name,
            assignment,
            matched,
            ownership,
            attributes,
            changes: changes.iter().map(|c| planned(c)).collect(),
            outcome,
        }
    }

    /// A live object no directory object matched.
    fn live_only(&self, v: &View<'_>, a: &Address, l: usize) -> Explanation {
        let live = self.live_object(v.kind, l);
        let changes = self.changes_at(a);
        let protected = v.side.live_protected[l];
        let policy = &self.target.policy;
        let mut matched = Match {
            outcome: "unmatched",
            keys: v.side.specs.iter().map(|s| s.name).collect(),
            key: None,
            live: Some(live.clone()),
            adopt: false,
            conflict: None,
            others: Vec::new(),
        };
        let ownership = if v.side.live_ignored[l] {
            matched.outcome = "not_matched";
            let lists = match v.kind {
                ObjectKind::User => &self.w.lists.ignore_users,
                ObjectKind::Group => &self.w.lists.ignore_groups,
            };
            let pattern = lists
                .matching(&live.name)
                .unwrap_or("a pattern")
                .to_string();
            ownership(
                "ignored",
                format!("its name matches `ignore` pattern {pattern:?}: hidden from drift and from every write"),
                protected,
            )
        } else if v.side.live_released[l] {
            ownership(
                "released",
                "named in `release`: not touched".into(),
                protected,
            )
        } else if v.side.matching.live_conflicted[l] {
            matched.outcome = "conflict";
            let mut by = Vec::new();
            for (d, o) in v.side.matching.desired.iter().enumerate() {
                let involved = match o {
                    Outcome::Conflict(Conflict::Ambiguous { live, .. }) => live.contains(&l),
                    Outcome::Conflict(Conflict::ExternalIdDiffers { live, .. })
                    | Outcome::Conflict(Conflict::Shared { live, .. }) => *live == l,
                    _ => false,
                };
                if involved {
                    by.push(match v.kind {
                        ObjectKind::User => self.desired.users[d].id.clone(),
                        ObjectKind::Group => self.desired.groups[d].id.clone(),
                    });
                }
            }
            matched.conflict = Some(format!(
                "in conflict with directory {} {}",
                v.what,
                by.join(", ")
            ));
            ownership(
                "conflict",
                "in a conflict: never touched until it is resolved".into(),
                protected,
            )
        } else if self.w.lists.owns(live.external_id.as_deref()) {
            ownership(
                "owned_by_owns",
                format!(
                    "owned: its externalId {:?} matches policy.owns, and no directory {} has it any more",
                    live.external_id.as_deref().unwrap_or(""),
                    v.what
                ),
                protected,
            )
        } else {
            match (policy.unmanaged, v.kind) {
                (Unmanaged::Delete, _) | (Unmanaged::Deactivate, ObjectKind::User) => ownership(
                    "claimed_by_unmanaged",
                    format!(
                        "claimed by `unmanaged: {}`",
                        unmanaged_text(policy.unmanaged)
                    ),
                    protected,
                ),
                _ => ownership(
                    "not_managed",
                    format!(
                        "not managed: no directory {} matches it, its externalId is not claimed by policy.owns, and `unmanaged: {}` leaves it alone",
                        v.what,
                        unmanaged_text(policy.unmanaged)
                    ),
                    protected,
                ),
            }
        };
        let assignment = Assignment {
            assigned: false,
            how: vec![format!("no directory {} matches this live object", v.what)],
        };
        let outcome = if changes.is_empty() {
            match ownership.state {
                "owned_by_owns" | "claimed_by_unmanaged" if protected => {
                    "no change: protected by policy.protect".to_string()
                }
                "owned_by_owns" | "claimed_by_unmanaged" => {
                    "no change: already as the policy wants it (e.g. inactive)".to_string()
                }
                "ignored" => "no change: ignored".to_string(),
                _ => format!("no change: {}", ownership.detail),
            }
        } else {
            describe_changes(&changes)
        };
        Explanation {
            address: a.clone(),
            asked: None,
            kind: v.kind,
            name: live.name.clone(),
            assignment,
            matched,
            ownership,
            attributes: Vec::new(),
            changes: changes.iter().map(|c| planned(c)).collect(),
            outcome,
        }
    }

    /// How the assignment brings directory object `d` in, or why it does not.
    fn assignment(&self, kind: ObjectKind, d: usize) -> Assignment {
        let a = assigned(self.desired, self.target);
        let assign = &self.target.assign;
        let mut how = Vec::new();
        match kind {
            ObjectKind::User => {
                let assigned = a.users.binary_search(&d).is_ok();
                if assign.all {
                    how.push("assign.all".into());
                }
                let u = &self.desired.users[d];
                if assign
                    .users
                    .iter()
                    .any(|(r, _)| *r == u.id || r.eq_ignore_ascii_case(&u.user_name))
                {
                    how.push("named in assign.users".into());
                }
                if !assign.all {
                    for (pos, g) in a.groups.iter().enumerate() {
                        if a.members[pos].binary_search(&d).is_ok() {
                            how.push(format!("via group {}", self.desired.groups[*g].name));
                        }
                    }
                }
                if !assigned {
                    how.push(
                        "not assigned: not named in assign.users and a member of no assigned group"
                            .into(),
                    );
                }
                Assignment { assigned, how }
            }
            ObjectKind::Group => {
                let assigned = a.groups.binary_search(&d).is_ok();
                let g = &self.desired.groups[d];
                let names = |r: &str| r == g.name || r == g.id;
                if assign.all {
                    how.push("assign.all".into());
                } else {
                    if assign.groups.iter().any(|(r, _)| names(r)) {
                        how.push("named in assign.groups".into());
                    }
                    for other in &a.groups {
                        let o = &self.desired.groups[*other];
                        if *other != d && o.include.iter().any(|(r, _)| names(r)) {
                            how.push(format!("included by group {}", o.name));
                        }
                    }
                }
                if !assigned {
                    how.push(
                        "not assigned: not named in assign.groups and included by no assigned group"
                            .into(),
                    );
                }
                Assignment { assigned, how }
            }
        }
    }

    fn attributes(
        &self,
        v: &View<'_>,
        d: usize,
        live: Option<usize>,
        changes: &[&Change],
        compared: bool,
    ) -> Vec<Attribute> {
        let (rules, config) = match v.kind {
            ObjectKind::User => (&self.w.compiled.user, &self.target.user_mapping),
            ObjectKind::Group => (&self.w.compiled.group, &self.target.group_mapping),
        };
        let resource = live.map(|l| match v.kind {
            ObjectKind::User => self.observed.users[l].resource(),
            ObjectKind::Group => self.observed.groups[l].resource(),
        });
        let creates = changes.iter().any(|c| c.actions.contains(&Action::Create));
        let written = |path: &str| changes.iter().any(|c| c.after.contains_key(path));
        rules
            .iter()
            .enumerate()
            .map(|(i, rule)| {
                let desired = v.side.rendered[d].values[i].clone();
                let live_value = resource.as_ref().and_then(|r| rule.path.get(r)).cloned();
                let status = if creates {
                    "create"
                } else if written(&rule.path_text) {
                    "changes"
                } else if compared {
                    "same"
                } else {
                    "not_compared"
                };
                let template = match config.get(i).map(|r| &r.source) {
                    Some(MappingSource::Template(t)) => t.clone(),
                    Some(MappingSource::UserRef(t)) => format!("user_ref {t}"),
                    Some(MappingSource::Value(c)) => format!("value {c}"),
                    None => String::new(),
                };
                Attribute {
                    path: rule.path_text.clone(),
                    template,
                    desired,
                    live: live_value,
                    status,
                }
            })
            .filter(|a| {
                // Attributes that are blank on both sides say nothing.
                a.status != "same" || !same_value(a.live.as_ref(), None) || a.desired.is_some()
            })
            .collect()
    }

    /// Why a directory object has no change, from what the planner found.
    fn no_change(
        &self,
        v: &View<'_>,
        assignment: &Assignment,
        m: &Match,
        o: &Ownership,
        active: bool,
        creates: bool,
    ) -> String {
        let policy = &self.target.policy;
        match (o.state, m.outcome) {
            ("ignored", _) => "no change: ignored".into(),
            ("released", _) => format!("no change: {}", o.detail),
            (_, "matched") if o.state == "released" => format!("no change: {}", o.detail),
            (_, "matched") => {
                let live_active = m.live.as_ref().and_then(|l| l.active);
                if !assignment.assigned || !active {
                    let why = if active {
                        "not assigned to this target"
                    } else {
                        "inactive in the directory"
                    };
                    if live_active == Some(false) {
                        format!("no change: {why}, and already inactive in the target")
                    } else if o.protected {
                        format!("no change: {why}, but protected by policy.protect")
                    } else if v.kind == ObjectKind::Group && !policy.group_delete {
                        format!("no change: {why}, and policy.group_delete is false")
                    } else if v.kind == ObjectKind::User && !policy.deactivate {
                        format!("no change: {why}, and policy.deactivate is false")
                    } else {
                        format!("no change: {why}")
                    }
                } else if live_active == Some(false) && !policy.reactivate {
                    "no change: inactive in the target and policy.reactivate is false".into()
                } else {
                    "no change: in sync (every mapped attribute matches)".into()
                }
            }
            (_, "unmatched") => {
                if !assignment.assigned {
                    "no change: not assigned to this target, and not in it".to_string()
                } else if !active {
                    "no change: inactive in the directory; an inactive user is never created".into()
                } else if !creates {
                    format!(
                        "no change: missing from the target, but policy.{} is false",
                        match v.kind {
                            ObjectKind::User => "create",
                            ObjectKind::Group => "group_create",
                        }
                    )
                } else {
                    "no change".into()
                }
            }
            _ => format!("no change: {}", o.detail),
        }
    }
}

fn policy_allows(kind: ObjectKind, policy: &crate::config::Policy) -> bool {
    match kind {
        ObjectKind::User => policy.create,
        ObjectKind::Group => policy.group_create,
    }
}

fn ownership(state: &'static str, detail: String, protected: bool) -> Ownership {
    Ownership {
        state,
        detail,
        protected,
    }
}

fn unmanaged_text(u: Unmanaged) -> &'static str {
    match u {
        Unmanaged::Ignore => "ignore",
        Unmanaged::Deactivate => "deactivate",
        Unmanaged::Delete => "delete",
    }
}

fn planned(c: &Change) -> Planned {
    Planned {
        actions: c.actions.clone(),
        reason: c.reason,
        detail: c.detail.clone(),
        members_added: c.members_added.len(),
        members_removed: c.members_removed.len(),
    }
}

/// `update (reason attribute_mismatch); add_members (reason membership_drift)`.
fn describe_changes(changes: &[&Change]) -> String {
    changes
        .iter()
        .map(|c| {
            if c.reason == Reason::Conflict {
                return "conflict: nothing is sent for it; to resolve, fix the live externalId, `release` the live object, or change `match`".to_string();
            }
            let actions: Vec<&str> = c.actions.iter().map(|a| a.as_str()).collect();
            format!("{} (reason {})", actions.join(", "), c.reason.as_str())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::desired;
    use serde_json::json;

    const CONFIG: &str = r#"
version: 1
users:
  - { id: e1, user_name: a@example.com, given_name: A, family_name: B }
  - { id: e2, user_name: r@example.com, given_name: R, family_name: S }
targets:
  t:
    type: embedded
    assign: { users: [e1, e2] }
    policy:
      owns: { external_id: "^e[0-9]+$" }
      protect: { users: [gone@example.com] }
      release: { users: [e2] }
"#;

    fn user(id: &str, ext: &str, name: &str) -> Value {
        json!({"id": id, "userName": name, "externalId": ext, "displayName": "A B",
               "name": {"givenName": "A", "familyName": "B"}, "active": true})
    }

    fn explained(addr: &str) -> Result<Explanation, ExplainError> {
        let d = desired(CONFIG);
        let live = Observed::from_value(json!({"users": [
            user("s1", "e1", "a@example.com"),
            user("s7", "e7", "gone@example.com"),
            user("s2", "e2", "r@example.com"),
        ]}))
        .expect("live");
        let a: Address = addr.parse().expect("address");
        explain(&d, &d.targets[0], &live, &[a]).map(|mut e| e.remove(0))
    }

    #[test]
    fn a_protected_leaver_is_owned_and_left_alone() {
        let e = explained("t:user.live:s7").expect("explained");
        assert_eq!(e.ownership.state, "owned_by_owns");
        assert!(e.ownership.protected);
        assert!(e.changes.is_empty());
        assert_eq!(e.outcome, "no change: protected by policy.protect");
    }

    #[test]
    fn a_released_user_and_a_matched_live_address() {
        let e = explained("t:user.e2").expect("explained");
        assert_eq!(e.ownership.state, "released");
        let e = explained("t:user.live:s1").expect("explained");
        assert_eq!(e.address.as_str(), "t:user.e1");
        assert_eq!(
            e.asked.as_ref().map(Address::as_str),
            Some("t:user.live:s1")
        );
        assert_eq!(e.assignment.how, vec!["named in assign.users".to_string()]);
        assert_eq!(
            e.outcome,
            "no change: in sync (every mapped attribute matches)"
        );
    }

    #[test]
    fn an_unknown_address_is_refused_with_the_closest_known_ones() {
        match explained("t:user.e3") {
            Err(ExplainError::NotFound { suggestions, .. }) => {
                assert_eq!(suggestions, vec!["t:user.e1", "t:user.e2"]);
            }
            other => panic!("{other:?}"),
        }
    }
}
