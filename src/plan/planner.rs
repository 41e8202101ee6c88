//! The planner proper: one target's desired state against its observed state, to a
//! [`TargetPlan`] (SPEC sections 3 and 4).
//!
//! The steps, each a linear pass: render every directory user and group through the target's
//! mapping; classify live objects (`ignore`, `release`); match by key precedence; decide each
//! directory object's change (create, update, adopt, reactivate, deactivate, conflict); decide
//! each live object roster owns or claims but no directory object matched (deprovision,
//! `unmanaged`); diff the membership of owned groups; then order, filter, count and gate.
//!
//! Ownership is the safety property: a change is only ever built for a live object that is
//! matched to a directory object, whose externalId `owns` claims, or that `unmanaged` claims.
//! Ignored, released and conflicting objects are never written, and protected users are never
//! deactivated, deleted or removed from a group.

use super::document::{
    Action, Change, MemberRef, NotTouching, ObjectKind, Operation, Precondition, Reason, Requests,
    SafetyGate, Summary, Tally, TargetPlan,
};
use super::matching::{self, Conflict, KeySpec, Keys, Matching, Outcome};
use super::observed::Observed;
use super::policy::Lists;
use super::{digest_paths, precondition_digest, same_value, shape, PlanError, PlanOptions};
use crate::config::assign::assigned;
use crate::config::model::{GroupMatchKey, MembersMode, Unmanaged, UserMatchKey, When};
use crate::config::{Desired, Endpoint, Target};
use crate::fasthash::{map_with_capacity, FastMap};
use crate::mapping::{AttrPath, CompiledRule, CompiledTarget, Rendered, RuleKind};
use crate::scim::resource::PatchOp;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};

/// Where a directory user is (or will be) in the target.
#[derive(Debug, Clone)]
enum TargetRef {
    /// This live user.
    Live(usize),
    /// Created by this plan, by the change at this address.
    Created(String),
}

/// Apply order (SPEC section 5); changes sort by phase, then address.
mod phase {
    pub const RENAME: u8 = 0;
    pub const CREATE_USER: u8 = 1;
    pub const CREATE_GROUP: u8 = 2;
    pub const UPDATE: u8 = 3;
    pub const ADD_MEMBERS: u8 = 4;
    pub const REMOVE_MEMBERS: u8 = 5;
    pub const DEACTIVATE: u8 = 6;
    pub const DELETE: u8 = 7;
    pub const CONFLICT: u8 = 8;
}

const USER_KEY_SPECS: [KeySpec; 3] = [
    KeySpec {
        name: "externalId",
        case_insensitive: false,
        is_external_id: true,
    },
    KeySpec {
        name: "userName",
        case_insensitive: true,
        is_external_id: false,
    },
    KeySpec {
        name: "email",
        case_insensitive: true,
        is_external_id: false,
    },
];

const GROUP_KEY_SPECS: [KeySpec; 2] = [
    KeySpec {
        name: "externalId",
        case_insensitive: false,
        is_external_id: true,
    },
    KeySpec {
        name: "displayName",
        case_insensitive: true,
        is_external_id: false,
    },
];

fn user_spec(k: UserMatchKey) -> KeySpec {
    match k {
        UserMatchKey::ExternalId => USER_KEY_SPECS[0],
        UserMatchKey::UserName => USER_KEY_SPECS[1],
        UserMatchKey::Email => USER_KEY_SPECS[2],
    }
}

fn group_spec(k: GroupMatchKey) -> KeySpec {
    match k {
        GroupMatchKey::ExternalId => GROUP_KEY_SPECS[0],
        GroupMatchKey::DisplayName => GROUP_KEY_SPECS[1],
    }
}

/// The text of a rendered value (templates render text; constants may be numbers or booleans).
fn text(v: Option<&Value>) -> Option<Cow<'_, str>> {
    match v? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Null => None,
        other => Some(Cow::Owned(other.to_string())),
    }
}

/// The first rule writing a simple attribute.
fn rule_for(rules: &[CompiledRule], attr: &str) -> Option<usize> {
    rules.iter().position(|r| r.path.is_simple(attr))
}

/// Attribute-level differences of one object.
#[derive(Default)]
struct AttrDiff {
    before: Map<String, Value>,
    after: Map<String, Value>,
    ops: Vec<PatchOp>,
    unchanged: u64,
    depends_on: Vec<String>,
    /// A unique value (userName, displayName, email) changes: apply it before creates.
    renames: bool,
}

/// Counts of objects left alone.
#[derive(Default)]
struct Untouched {
    unmanaged_users: u64,
    unmanaged_groups: u64,
    ignored_users: u64,
    ignored_groups: u64,
    released: u64,
    /// Protected objects a change was dropped for (kind, live index).
    protected: HashSet<(ObjectKind, usize)>,
}

struct Planner<'a> {
    desired: &'a Desired,
    target: &'a Target,
    observed: &'a Observed,
    compiled: CompiledTarget,
    lists: Lists,
    user_rendered: Vec<Rendered>,
    group_rendered: Vec<Rendered>,
    users: Matching,
    groups: Matching,
    /// Per directory user: left out by `ignore` / `release`.
    user_ignored: Vec<bool>,
    user_released: Vec<bool>,
    group_ignored: Vec<bool>,
    group_released: Vec<bool>,
    live_user_ignored: Vec<bool>,
    live_user_released: Vec<bool>,
    live_group_ignored: Vec<bool>,
    live_group_released: Vec<bool>,
    user_assigned: Vec<bool>,
    /// Position in the assignment's group list, for assigned groups.
    group_assigned: Vec<Option<usize>>,
    members: Vec<Vec<usize>>,
    target_ref: Vec<Option<TargetRef>>,
    user_by_id: FastMap<&'a str, usize>,
    live_user_by_id: FastMap<&'a str, usize>,
    /// Scratch stamps for membership diffs, one per live user (see `group_members`).
    in_live_mark: Vec<u32>,
    wanted_mark: Vec<u32>,
    user_digest_paths: Vec<AttrPath>,
    group_digest_paths: Vec<AttrPath>,
    user_create_precondition: Precondition,
    group_create_precondition: Precondition,
    user_unique_rules: Vec<usize>,
    group_unique_rules: Vec<usize>,
    changes: Vec<(u8, Change)>,
    untouched: Untouched,
    owned_users: u64,
    owned_groups: u64,
}

/// Plan one target. Pure: no I/O, same inputs give the same plan.
pub fn plan_target(
    desired: &Desired,
    target: &Target,
    observed: &Observed,
    opts: &PlanOptions,
) -> Result<TargetPlan, PlanError> {
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
    let mut p = Planner::new(desired, target, observed, compiled, lists)?;
    p.match_all();
    p.plan_users();
    p.plan_live_users();
    p.plan_groups()?;
    p.plan_live_groups();
    Ok(p.finish(opts))
}

impl<'a> Planner<'a> {
    fn new(
        desired: &'a Desired,
        target: &'a Target,
        observed: &'a Observed,
        compiled: CompiledTarget,
        lists: Lists,
    ) -> Result<Planner<'a>, PlanError> {
        let user_rendered = desired
            .users
            .iter()
            .map(|u| compiled.render_user(u))
            .collect::<Result<Vec<_>, _>>()?;
        let group_rendered = desired
            .groups
            .iter()
            .map(|g| compiled.render_group(g))
            .collect::<Result<Vec<_>, _>>()?;
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

        // What `ignore` and `release` leave out, on both sides. A directory object whose rendered
        // name is ignored is never created; a live one is never read as drift or written.
        let user_name_rule = rule_for(&compiled.user, "userName");
        let user_ignored: Vec<bool> = desired
            .users
            .iter()
            .zip(&user_rendered)
            .map(|(u, r)| {
                if lists.ignore_users.is_empty() {
                    return false;
                }
                let name = user_name_rule
                    .and_then(|i| text(r.values[i].as_ref()))
                    .unwrap_or(Cow::Borrowed(u.user_name.as_str()));
                lists.ignore_users.matching(&name).is_some()
            })
            .collect();
        let user_released = desired
            .users
            .iter()
            .map(|u| lists.release_users.contains(Some(&u.id), &u.user_name))
            .collect();
        let group_name_rule = rule_for(&compiled.group, "displayName");
        let group_ignored = desired
            .groups
            .iter()
            .zip(&group_rendered)
            .map(|(g, r)| {
                if lists.ignore_groups.is_empty() {
                    return false;
                }
                let name = group_name_rule
                    .and_then(|i| text(r.values[i].as_ref()))
                    .unwrap_or(Cow::Borrowed(g.name.as_str()));
                lists.ignore_groups.matching(&name).is_some()
            })
            .collect();
        let group_released = desired
            .groups
            .iter()
            .map(|g| lists.release_groups.contains(Some(&g.id), &g.name))
            .collect();
        let live_user_ignored = observed
            .users
            .iter()
            .map(|u| {
                !lists.ignore_users.is_empty()
                    && lists.ignore_users.matching(u.user_name()).is_some()
            })
            .collect();
        let live_user_released = observed
            .users
            .iter()
            .map(|u| {
                !lists.release_users.is_empty()
                    && lists.release_users.contains(u.external_id(), u.user_name())
            })
            .collect();
        let live_group_ignored = observed
            .groups
            .iter()
            .map(|g| {
                !lists.ignore_groups.is_empty()
                    && lists.ignore_groups.matching(g.display_name()).is_some()
            })
            .collect();
        let live_group_released = observed
            .groups
            .iter()
            .map(|g| {
                !lists.release_groups.is_empty()
                    && lists
                        .release_groups
                        .contains(g.external_id(), g.display_name())
            })
            .collect();

        let user_digest_paths = digest_paths(&compiled, ObjectKind::User);
        let group_digest_paths = digest_paths(&compiled, ObjectKind::Group);
        let absent = |paths: &[AttrPath]| Precondition {
            version: None,
            digest: precondition_digest(&Value::Null, &paths.iter().collect::<Vec<_>>()),
        };
        let user_create_precondition = absent(&user_digest_paths);
        let group_create_precondition = absent(&group_digest_paths);
        let user_unique_rules = [rule_for(&compiled.user, "userName"), compiled.email_rule()]
            .into_iter()
            .flatten()
            .collect();
        let group_unique_rules = group_name_rule.into_iter().collect();

        Ok(Planner {
            desired,
            target,
            observed,
            lists,
            user_rendered,
            group_rendered,
            users: Matching {
                desired: Vec::new(),
                live_owner: Vec::new(),
                live_conflicted: Vec::new(),
            },
            groups: Matching {
                desired: Vec::new(),
                live_owner: Vec::new(),
                live_conflicted: Vec::new(),
            },
            user_ignored,
            user_released,
            group_ignored,
            group_released,
            live_user_ignored,
            live_user_released,
            live_group_ignored,
            live_group_released,
            user_assigned,
            group_assigned,
            members: assignment.members,
            target_ref: vec![None; desired.users.len()],
            user_by_id,
            live_user_by_id,
            in_live_mark: vec![0; observed.users.len()],
            wanted_mark: vec![0; observed.users.len()],
            user_create_precondition,
            group_create_precondition,
            user_digest_paths,
            group_digest_paths,
            user_unique_rules,
            group_unique_rules,
            compiled,
            changes: Vec::new(),
            untouched: Untouched::default(),
            owned_users: 0,
            owned_groups: 0,
        })
    }

    fn name(&self) -> &str {
        &self.target.name
    }

    fn user_address(&self, d: usize) -> String {
        format!("{}:user.{}", self.name(), self.desired.users[d].id)
    }

    fn live_user_address(&self, l: usize) -> String {
        match self.users.live_owner[l] {
            Some(d) => self.user_address(d),
            None => format!("{}:user.live:{}", self.name(), self.observed.users[l].id),
        }
    }

    fn group_address(&self, g: usize) -> String {
        format!("{}:group.{}", self.name(), self.desired.groups[g].id)
    }

    fn live_group_address(&self, l: usize) -> String {
        match self.groups.live_owner[l] {
            Some(g) => self.group_address(g),
            None => format!("{}:group.live:{}", self.name(), self.observed.groups[l].id),
        }
    }

    /// Match users and groups, and decide where each directory user is in the target.
    fn match_all(&mut self) {
        let rules = &self.compiled.user;
        let specs: Vec<KeySpec> = self
            .target
            .match_users
            .iter()
            .map(|k| user_spec(*k))
            .collect();
        let rule_of = |k: UserMatchKey| match k {
            UserMatchKey::ExternalId => rule_for(rules, "externalId"),
            UserMatchKey::UserName => rule_for(rules, "userName"),
            UserMatchKey::Email => self.compiled.email_rule(),
        };
        let key_rules: Vec<Option<usize>> = self
            .target
            .match_users
            .iter()
            .map(|k| rule_of(*k))
            .collect();
        let desired_keys: Vec<Keys> = self
            .user_rendered
            .iter()
            .map(|r| {
                key_rules
                    .iter()
                    .zip(&specs)
                    .map(|(rule, spec)| {
                        rule.and_then(|i| text(r.values[i].as_ref()))
                            .and_then(|v| match v {
                                Cow::Borrowed(b) => matching::normalize(spec, b),
                                Cow::Owned(o) => matching::normalize(spec, &o)
                                    .map(|n| Cow::Owned(n.into_owned())),
                            })
                    })
                    .collect()
            })
            .collect();
        let live_keys: Vec<Keys> = self
            .observed
            .users
            .iter()
            .map(|u| {
                self.target
                    .match_users
                    .iter()
                    .zip(&specs)
                    .map(|(k, spec)| {
                        let v = match k {
                            UserMatchKey::ExternalId => u.external_id(),
                            UserMatchKey::UserName => Some(u.user_name()),
                            UserMatchKey::Email => u.primary_email(),
                        };
                        v.and_then(|v| matching::normalize(spec, v))
                    })
                    .collect()
            })
            .collect();
        self.users = matching::match_objects(
            &specs,
            &desired_keys,
            &self.user_ignored,
            &live_keys,
            &self.live_user_ignored,
        );

        let grules = &self.compiled.group;
        let gspecs: Vec<KeySpec> = self
            .target
            .match_groups
            .iter()
            .map(|k| group_spec(*k))
            .collect();
        let gkey_rules: Vec<Option<usize>> = self
            .target
            .match_groups
            .iter()
            .map(|k| match k {
                GroupMatchKey::ExternalId => rule_for(grules, "externalId"),
                GroupMatchKey::DisplayName => rule_for(grules, "displayName"),
            })
            .collect();
        let gdesired: Vec<Keys> = self
            .group_rendered
            .iter()
            .map(|r| {
                gkey_rules
                    .iter()
                    .zip(&gspecs)
                    .map(|(rule, spec)| {
                        rule.and_then(|i| text(r.values[i].as_ref()))
                            .and_then(|v| match v {
                                Cow::Borrowed(b) => matching::normalize(spec, b),
                                Cow::Owned(o) => matching::normalize(spec, &o)
                                    .map(|n| Cow::Owned(n.into_owned())),
                            })
                    })
                    .collect()
            })
            .collect();
        let glive: Vec<Keys> = self
            .observed
            .groups
            .iter()
            .map(|g| {
                self.target
                    .match_groups
                    .iter()
                    .zip(&gspecs)
                    .map(|(k, spec)| {
                        let v = match k {
                            GroupMatchKey::ExternalId => g.external_id(),
                            GroupMatchKey::DisplayName => Some(g.display_name()),
                        };
                        v.and_then(|v| matching::normalize(spec, v))
                    })
                    .collect()
            })
            .collect();
        self.groups = matching::match_objects(
            &gspecs,
            &gdesired,
            &self.group_ignored,
            &glive,
            &self.live_group_ignored,
        );

        // Released directory objects release their live match too.
        for (d, o) in self.users.desired.iter().enumerate() {
            if let (true, Outcome::Matched { live, .. }) = (self.user_released[d], o) {
                self.live_user_released[*live] = true;
            }
        }
        for (d, o) in self.groups.desired.iter().enumerate() {
            if let (true, Outcome::Matched { live, .. }) = (self.group_released[d], o) {
                self.live_group_released[*live] = true;
            }
        }

        // Where each directory user is in the target: its live match, or the create below.
        let create = self.target.policy.create;
        for d in 0..self.desired.users.len() {
            if self.user_ignored[d] || self.user_released[d] {
                continue;
            }
            self.target_ref[d] = match &self.users.desired[d] {
                Outcome::Matched { live, .. } if !self.live_user_released[*live] => {
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
    fn ref_target(&self, id: &str) -> Option<Result<&str, &str>> {
        let d = *self.user_by_id.get(id)?;
        Some(match self.target_ref[d].as_ref()? {
            TargetRef::Live(l) => Ok(self.observed.users[*l].id.as_str()),
            TargetRef::Created(addr) => Err(addr.as_str()),
        })
    }

    /// A `user_ref`'s directory id as written in the target, and the create it waits for.
    fn resolve_ref(&self, id: &str) -> Option<(Value, Option<String>)> {
        Some(match self.ref_target(id)? {
            Ok(live) => (Value::String(live.to_string()), None),
            Err(addr) => (json!({ "$user_ref": addr }), Some(addr.to_string())),
        })
    }

    /// The differences between the mapped attributes of a directory object and a live one.
    /// `only_external_id`: adoption without `update`: set the externalId and nothing else.
    fn diff_attributes(
        &self,
        kind: ObjectKind,
        rendered: &Rendered,
        live: &Value,
        only_external_id: bool,
    ) -> AttrDiff {
        let (rules, unique) = match kind {
            ObjectKind::User => (&self.compiled.user, &self.user_unique_rules),
            ObjectKind::Group => (&self.compiled.group, &self.group_unique_rules),
        };
        let mut out = AttrDiff::default();
        for (i, rule) in rules.iter().enumerate() {
            // `active` is roster's own (deactivate / reactivate), never a mapping's.
            if rule.path.is_simple("active") || rule.on == When::Create {
                continue;
            }
            if only_external_id && !rule.path.is_simple("externalId") {
                continue;
            }
            let have = rule.path.get(live);
            // Compare before building anything: almost every attribute is unchanged.
            let (want, dep): (Option<Cow<'_, Value>>, Option<&str>) =
                match (&rendered.values[i], rule.kind) {
                    (None, _) => (None, None),
                    (Some(v), RuleKind::UserRef) => {
                        match v.as_str().and_then(|id| self.ref_target(id)) {
                            Some(Ok(id)) if have.and_then(Value::as_str) == Some(id) => {
                                out.unchanged += 1;
                                continue;
                            }
                            Some(Ok(id)) => (Some(Cow::Owned(Value::String(id.to_string()))), None),
                            Some(Err(addr)) => {
                                (Some(Cow::Owned(json!({ "$user_ref": addr }))), Some(addr))
                            }
                            None => (None, None),
                        }
                    }
                    (Some(v), _) => (Some(Cow::Borrowed(v)), None),
                };
            if same_value(have, want.as_deref()) {
                out.unchanged += 1;
                continue;
            }
            let want: Option<Value> = want.map(Cow::into_owned);
            // userName is required: an empty rendering is a configuration error (validate),
            // never a removal.
            if want.is_none() && rule.path.is_simple("userName") {
                continue;
            }
            out.before
                .insert(rule.path_text.clone(), have.cloned().unwrap_or(Value::Null));
            out.after
                .insert(rule.path_text.clone(), want.clone().unwrap_or(Value::Null));
            out.ops.push(shape::attribute_op(
                self.compiled.dialect,
                &rule.path,
                live,
                want,
            ));
            out.depends_on.extend(dep.map(str::to_string));
            if unique.contains(&i) {
                out.renames = true;
            }
        }
        out
    }

    fn precondition(
        &self,
        kind: ObjectKind,
        live: Option<(&Value, Option<&String>)>,
    ) -> Precondition {
        let paths = match kind {
            ObjectKind::User => &self.user_digest_paths,
            ObjectKind::Group => &self.group_digest_paths,
        };
        let create = match kind {
            ObjectKind::User => &self.user_create_precondition,
            ObjectKind::Group => &self.group_create_precondition,
        };
        let Some((resource, version)) = live else {
            // Every create reads the same nothing: computed once.
            return create.clone();
        };
        let refs: Vec<&AttrPath> = paths.iter().collect();
        Precondition {
            version: version.cloned(),
            digest: precondition_digest(resource, &refs),
        }
    }

    fn user_precondition(&self, l: usize) -> Precondition {
        let u = &self.observed.users[l];
        self.precondition(ObjectKind::User, Some((&u.resource, u.version.as_ref())))
    }

    fn group_precondition(&self, l: usize) -> Precondition {
        let g = &self.observed.groups[l];
        self.precondition(ObjectKind::Group, Some((&g.resource, g.version.as_ref())))
    }

    fn push(&mut self, phase: u8, change: Change) {
        self.changes.push((phase, change));
    }

    fn is_protected_user(&self, d: Option<usize>, l: usize) -> bool {
        let lists = &self.lists.protect_users;
        if lists.is_empty() {
            return false;
        }
        let u = &self.observed.users[l];
        d.is_some_and(|d| {
            let du = &self.desired.users[d];
            lists.contains(Some(&du.id), &du.user_name)
        }) || lists.contains(u.external_id(), u.user_name())
    }

    fn is_protected_group(&self, d: Option<usize>, l: usize) -> bool {
        let lists = &self.lists.protect_groups;
        if lists.is_empty() {
            return false;
        }
        let g = &self.observed.groups[l];
        d.is_some_and(|d| {
            let dg = &self.desired.groups[d];
            lists.contains(Some(&dg.id), &dg.name)
        }) || lists.contains(g.external_id(), g.display_name())
    }

    fn conflict_change(&self, kind: ObjectKind, d: usize, c: &Conflict) -> Change {
        let (address, name, specs, what): (String, String, Vec<KeySpec>, &str) = match kind {
            ObjectKind::User => (
                self.user_address(d),
                self.desired.users[d].user_name.clone(),
                self.target
                    .match_users
                    .iter()
                    .map(|k| user_spec(*k))
                    .collect(),
                "user",
            ),
            ObjectKind::Group => (
                self.group_address(d),
                self.desired.groups[d].name.clone(),
                self.target
                    .match_groups
                    .iter()
                    .map(|k| group_spec(*k))
                    .collect(),
                "group",
            ),
        };
        let live_id = |l: usize| match kind {
            ObjectKind::User => self.observed.users[l].id.clone(),
            ObjectKind::Group => self.observed.groups[l].id.clone(),
        };
        let (id, detail) = match c {
            Conflict::Ambiguous { key, live } => (
                None,
                format!(
                    "{} matches {} live {what}s: {}",
                    specs[*key].name,
                    live.len(),
                    live.iter()
                        .map(|l| live_id(*l))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            Conflict::ExternalIdDiffers { key, live } => {
                let have = match kind {
                    ObjectKind::User => self.observed.users[*live].external_id(),
                    ObjectKind::Group => self.observed.groups[*live].external_id(),
                };
                (
                    Some(live_id(*live)),
                    format!(
                        "{} matches live {what} {} whose externalId {:?} differs",
                        specs[*key].name,
                        live_id(*live),
                        have.unwrap_or("")
                    ),
                )
            }
            Conflict::Shared { key, live, others } => {
                let other_ids: Vec<&str> = others
                    .iter()
                    .map(|o| match kind {
                        ObjectKind::User => self.desired.users[*o].id.as_str(),
                        ObjectKind::Group => self.desired.groups[*o].id.as_str(),
                    })
                    .collect();
                (
                    Some(live_id(*live)),
                    format!(
                        "{} of live {what} {} also matches directory {what} {}",
                        specs[*key].name,
                        live_id(*live),
                        other_ids.join(", ")
                    ),
                )
            }
        };
        Change {
            address,
            name,
            kind,
            id,
            actions: Vec::new(),
            reason: Reason::Conflict,
            unchanged_attributes: 0,
            before: Map::new(),
            after: Map::new(),
            members_added: Vec::new(),
            members_removed: Vec::new(),
            operations: Vec::new(),
            precondition: None,
            depends_on: Vec::new(),
            detail: Some(detail),
            origin: None,
        }
    }

    fn blank_change(
        &self,
        address: String,
        name: String,
        kind: ObjectKind,
        id: Option<String>,
        actions: Vec<Action>,
        reason: Reason,
    ) -> Change {
        Change {
            address,
            name,
            kind,
            id,
            actions,
            reason,
            unchanged_attributes: 0,
            before: Map::new(),
            after: Map::new(),
            members_added: Vec::new(),
            members_removed: Vec::new(),
            operations: Vec::new(),
            precondition: None,
            depends_on: Vec::new(),
            detail: None,
            origin: None,
        }
    }

    /// Changes driven by directory users.
    fn plan_users(&mut self) {
        let policy = &self.target.policy;
        for d in 0..self.desired.users.len() {
            if self.user_ignored[d] || self.user_released[d] {
                continue;
            }
            let user = &self.desired.users[d];
            match self.users.desired[d].clone() {
                Outcome::Conflict(c) => {
                    let change = self.conflict_change(ObjectKind::User, d, &c);
                    self.push(phase::CONFLICT, change);
                }
                Outcome::Unmatched => {
                    if matches!(self.target_ref[d], Some(TargetRef::Created(_))) {
                        let change = self.user_create(d);
                        self.push(phase::CREATE_USER, change);
                    }
                }
                Outcome::Matched { live: l, adopt, .. } => {
                    if self.live_user_released[l] {
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
                        ObjectKind::User,
                        &self.user_rendered[d],
                        &lu.resource,
                        only_ext,
                    );
                    let reactivate = user.active && !live_active;
                    if diff.ops.is_empty() && !reactivate {
                        continue;
                    }
                    let mut change = self.blank_change(
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
                        phase::RENAME
                    } else {
                        phase::UPDATE
                    };
                    self.push(ph, change);
                }
            }
        }
    }

    fn user_create(&self, d: usize) -> Change {
        let user = &self.desired.users[d];
        let rendered = &self.user_rendered[d];
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
        let mut change = self.blank_change(
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
        change.precondition = Some(self.precondition(ObjectKind::User, None));
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
        let mut change = self.blank_change(
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
        self.push(phase::DEACTIVATE, change);
    }

    fn delete_user(&mut self, l: usize, reason: Reason) {
        if self.is_protected_user(None, l) {
            self.untouched.protected.insert((ObjectKind::User, l));
            return;
        }
        let u = &self.observed.users[l];
        let mut change = self.blank_change(
            self.live_user_address(l),
            u.user_name().to_string(),
            ObjectKind::User,
            Some(u.id.clone()),
            vec![Action::Delete],
            reason,
        );
        change.operations = vec![Operation::Delete];
        change.precondition = Some(self.user_precondition(l));
        self.push(phase::DELETE, change);
    }

    /// Live users no directory user matched: ownership by `owns`, or `unmanaged`.
    fn plan_live_users(&mut self) {
        let policy = &self.target.policy;
        for l in 0..self.observed.users.len() {
            if self.live_user_ignored[l] {
                self.untouched.ignored_users += 1;
                continue;
            }
            if self.live_user_released[l] {
                self.untouched.released += 1;
                continue;
            }
            if self.users.live_conflicted[l] {
                continue;
            }
            if self.users.live_owner[l].is_some() {
                self.owned_users += 1;
                continue;
            }
            let u = &self.observed.users[l];
            if self.lists.owns(u.external_id()) {
                self.owned_users += 1;
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
                Unmanaged::Ignore => self.untouched.unmanaged_users += 1,
                Unmanaged::Deactivate => {
                    self.owned_users += 1;
                    if u.active() {
                        self.deactivate_user(None, l, Reason::UnmanagedPolicy);
                    }
                }
                Unmanaged::Delete => {
                    self.owned_users += 1;
                    self.delete_user(l, Reason::UnmanagedPolicy);
                }
            }
        }
    }

    /// Changes driven by directory groups, memberships included.
    fn plan_groups(&mut self) -> Result<(), PlanError> {
        let policy = &self.target.policy;
        for g in 0..self.desired.groups.len() {
            if self.group_ignored[g] || self.group_released[g] {
                continue;
            }
            let group = &self.desired.groups[g];
            match self.groups.desired[g].clone() {
                Outcome::Conflict(c) => {
                    let change = self.conflict_change(ObjectKind::Group, g, &c);
                    self.push(phase::CONFLICT, change);
                }
                Outcome::Unmatched => {
                    if let (Some(pos), true) = (self.group_assigned[g], policy.group_create) {
                        self.group_create(g, pos);
                    }
                }
                Outcome::Matched { live: l, adopt, .. } => {
                    if self.live_group_released[l] {
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
                            ObjectKind::Group,
                            &self.group_rendered[g],
                            &lg.resource,
                            !policy.group_update,
                        );
                        if !diff.ops.is_empty() {
                            let mut change = self.blank_change(
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
                                phase::RENAME
                            } else {
                                phase::UPDATE
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

    /// The desired members of an assigned group that can be written: active, not ignored or
    /// released, and present in the target or created by this plan. Sorted by user name.
    fn desired_members(&self, pos: usize) -> Vec<(usize, TargetRef)> {
        let mut out: Vec<(usize, TargetRef)> = self.members[pos]
            .iter()
            .filter(|u| self.desired.users[**u].active)
            .filter_map(|u| self.target_ref[*u].clone().map(|r| (*u, r)))
            .collect();
        out.sort_by(|a, b| {
            self.desired.users[a.0]
                .user_name
                .cmp(&self.desired.users[b.0].user_name)
                .then(a.0.cmp(&b.0))
        });
        out
    }

    fn member_ref(&self, u: usize, r: &TargetRef) -> MemberRef {
        match r {
            TargetRef::Live(l) => MemberRef {
                name: self.desired.users[u].user_name.clone(),
                id: Some(self.observed.users[*l].id.clone()),
                created_by: None,
            },
            TargetRef::Created(addr) => MemberRef {
                name: self.desired.users[u].user_name.clone(),
                id: None,
                created_by: Some(addr.clone()),
            },
        }
    }

    fn group_create(&mut self, g: usize, pos: usize) {
        let group = &self.desired.groups[g];
        let address = self.group_address(g);
        let mut body = self.compiled.group_resource(&self.group_rendered[g]);
        let mut after = Map::new();
        for (rule, v) in self
            .compiled
            .group
            .iter()
            .zip(&self.group_rendered[g].values)
        {
            if let Some(v) = v {
                after.insert(rule.path_text.clone(), v.clone());
            }
        }
        let mode = self.target.policy.members;
        let members = if mode == MembersMode::Off {
            Vec::new()
        } else {
            self.desired_members(pos)
        };
        let limit = shape::create_member_limit(self.compiled.dialect).unwrap_or(usize::MAX);
        let (in_body, rest) = members.split_at(members.len().min(limit));
        let mut depends_on = BTreeSet::new();
        if !in_body.is_empty() {
            let values: Vec<Value> = in_body
                .iter()
                .map(|(u, r)| {
                    let m = self.member_ref(*u, r);
                    if let Some(addr) = &m.created_by {
                        depends_on.insert(addr.clone());
                    }
                    shape::member_value(m.id.as_deref(), m.created_by.as_deref())
                })
                .collect();
            body.insert("members".into(), Value::Array(values));
        }
        let mut change = self.blank_change(
            address.clone(),
            group.name.clone(),
            ObjectKind::Group,
            None,
            vec![Action::Create],
            Reason::Missing,
        );
        change.after = after;
        change.members_added = in_body
            .iter()
            .map(|(u, r)| self.member_ref(*u, r))
            .collect();
        change.operations = vec![Operation::Create { body }];
        change.depends_on = depends_on.into_iter().collect();
        change.precondition = Some(self.precondition(ObjectKind::Group, None));
        self.push(phase::CREATE_GROUP, change);
        if !rest.is_empty() {
            let refs: Vec<MemberRef> = rest.iter().map(|(u, r)| self.member_ref(*u, r)).collect();
            let change = self.add_members_change(
                address.clone(),
                group.name.clone(),
                None,
                refs,
                Some(address),
            );
            self.push(phase::ADD_MEMBERS, change);
        }
    }

    fn add_members_change(
        &self,
        address: String,
        name: String,
        id: Option<String>,
        refs: Vec<MemberRef>,
        group_create: Option<String>,
    ) -> Change {
        let mut depends_on: BTreeSet<String> = group_create.into_iter().collect();
        let values = refs
            .iter()
            .map(|m| {
                if let Some(a) = &m.created_by {
                    depends_on.insert(a.clone());
                }
                shape::member_value(m.id.as_deref(), m.created_by.as_deref())
            })
            .collect();
        let mut change = self.blank_change(
            address,
            name,
            ObjectKind::Group,
            id,
            vec![Action::AddMembers],
            Reason::MembershipDrift,
        );
        change.operations = shape::add_member_patches(self.compiled.dialect, values);
        change.members_added = refs;
        change.depends_on = depends_on.into_iter().collect();
        change
    }

    /// Membership of an owned, assigned, live group, per `groups.members`.
    fn group_members(&mut self, g: usize, pos: usize, l: usize) -> Result<(), PlanError> {
        let mode = self.target.policy.members;
        if mode == MembersMode::Off {
            return Ok(());
        }
        let lg = &self.observed.groups[l];
        let Some(live_members) = lg.members.as_ref() else {
            return Err(PlanError::MembersNotRead {
                group: lg.display_name().to_string(),
                id: lg.id.clone(),
            });
        };
        // Set membership by stamping live users with this group's number: no set per group.
        let stamp = u32::try_from(pos + 1).unwrap_or(u32::MAX);
        let mut in_live = std::mem::take(&mut self.in_live_mark);
        let mut wanted = std::mem::take(&mut self.wanted_mark);
        let mut live_idx: Vec<usize> = Vec::with_capacity(live_members.len());
        let mut unknown: Vec<&str> = Vec::new();
        for m in live_members {
            match self.live_user_by_id.get(m.as_str()) {
                Some(&i) if in_live[i] != stamp => {
                    in_live[i] = stamp;
                    live_idx.push(i);
                }
                Some(_) => {}
                None => unknown.push(m),
            }
        }
        let mut adds = Vec::new();
        for &u in &self.members[pos] {
            if !self.desired.users[u].active {
                continue;
            }
            match &self.target_ref[u] {
                Some(TargetRef::Live(lu)) => {
                    wanted[*lu] = stamp;
                    if in_live[*lu] != stamp {
                        adds.push(self.member_ref(u, &TargetRef::Live(*lu)));
                    }
                }
                Some(r @ TargetRef::Created(_)) => adds.push(self.member_ref(u, r)),
                None => {}
            }
        }
        adds.sort();
        let mut removes: Vec<(String, String)> = Vec::new();
        if mode == MembersMode::Authoritative {
            for lu in live_idx {
                if wanted[lu] == stamp {
                    continue;
                }
                // Ignored, released and conflicting users are never written; an inactive
                // directory user's memberships stay as they are.
                if self.live_user_ignored[lu]
                    || self.live_user_released[lu]
                    || self.users.live_conflicted[lu]
                {
                    continue;
                }
                let owner = self.users.live_owner[lu];
                if owner.is_some_and(|d| !self.desired.users[d].active) {
                    continue;
                }
                if self.is_protected_user(owner, lu) {
                    self.untouched.protected.insert((ObjectKind::User, lu));
                    continue;
                }
                let name = match owner {
                    Some(d) => self.desired.users[d].user_name.clone(),
                    None => self.observed.users[lu].user_name().to_string(),
                };
                removes.push((name, self.observed.users[lu].id.clone()));
            }
            // A member the user list does not show: nothing to classify it by, and the group
            // is authoritative.
            for m in unknown.iter().collect::<BTreeSet<_>>() {
                removes.push((m.to_string(), m.to_string()));
            }
            removes.sort();
        }
        self.in_live_mark = in_live;
        self.wanted_mark = wanted;
        let address = self.group_address(g);
        let name = self.desired.groups[g].name.clone();
        let id = lg.id.clone();
        if !adds.is_empty() {
            let change = self.add_members_change(
                address.clone(),
                name.clone(),
                Some(id.clone()),
                adds,
                None,
            );
            self.push(phase::ADD_MEMBERS, change);
        }
        if !removes.is_empty() {
            let ids: Vec<&str> = removes.iter().map(|(_, id)| id.as_str()).collect();
            let operations = shape::remove_member_patches(self.compiled.dialect, &ids);
            let mut change = self.blank_change(
                address,
                name,
                ObjectKind::Group,
                Some(id),
                vec![Action::RemoveMembers],
                Reason::MembershipDrift,
            );
            change.operations = operations;
            change.members_removed = removes
                .into_iter()
                .map(|(name, id)| MemberRef {
                    name,
                    id: Some(id),
                    created_by: None,
                })
                .collect();
            self.push(phase::REMOVE_MEMBERS, change);
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
        let mut change = self.blank_change(
            self.live_group_address(l),
            name,
            ObjectKind::Group,
            Some(lg.id.clone()),
            vec![Action::Delete],
            reason,
        );
        change.operations = vec![Operation::Delete];
        change.precondition = Some(self.group_precondition(l));
        self.push(phase::DELETE, change);
    }

    /// Live groups no directory group matched.
    fn plan_live_groups(&mut self) {
        let policy = &self.target.policy;
        for l in 0..self.observed.groups.len() {
            if self.live_group_ignored[l] {
                self.untouched.ignored_groups += 1;
                continue;
            }
            if self.live_group_released[l] {
                self.untouched.released += 1;
                continue;
            }
            if self.groups.live_conflicted[l] {
                continue;
            }
            if self.groups.live_owner[l].is_some() {
                self.owned_groups += 1;
                continue;
            }
            if self.lists.owns(self.observed.groups[l].external_id()) {
                self.owned_groups += 1;
                if policy.group_delete {
                    self.delete_group(None, l, Reason::RemovedFromDirectory);
                }
                continue;
            }
            match policy.unmanaged {
                // Groups cannot be deactivated: `deactivate` leaves them as they are.
                Unmanaged::Ignore | Unmanaged::Deactivate => self.untouched.unmanaged_groups += 1,
                Unmanaged::Delete => {
                    self.owned_groups += 1;
                    self.delete_group(None, l, Reason::UnmanagedPolicy);
                }
            }
        }
    }

    /// Order, filter, count and gate.
    fn finish(self, opts: &PlanOptions) -> TargetPlan {
        let mut changes = self.changes;
        let texts = |rules: &[usize], all: &[CompiledRule]| -> Vec<String> {
            rules.iter().map(|r| all[*r].path_text.clone()).collect()
        };
        order_renames(
            &mut changes,
            &texts(&self.user_unique_rules, &self.compiled.user),
            &texts(&self.group_unique_rules, &self.compiled.group),
        );
        changes.sort_by(|(pa, a), (pb, b)| {
            pa.cmp(pb)
                .then_with(|| a.address.cmp(&b.address))
                .then_with(|| a.actions.cmp(&b.actions))
        });
        let changes: Vec<Change> = select(
            changes.into_iter().map(|(_, c)| c).collect(),
            opts,
            &self.target.name,
        );

        let mut summary = Summary {
            unmanaged: self.untouched.unmanaged_users + self.untouched.unmanaged_groups,
            ignored: self.untouched.ignored_users + self.untouched.ignored_groups,
            ..Summary::default()
        };
        let mut tally = Tally::new(
            changes
                .iter()
                .filter(|c| c.kind == ObjectKind::Group && c.actions.contains(&Action::Create))
                .map(|c| c.address.as_str()),
        );
        let mut reads: HashSet<&str> = HashSet::new();
        let mut writes = 0u64;
        let mut member_ops = 0u64;
        for c in &changes {
            if c.reason == Reason::Conflict {
                continue;
            }
            reads.insert(c.address.as_str());
            writes += c.operations.len() as u64;
            member_ops += (c.members_added.len() + c.members_removed.len()) as u64;
            tally.count(c.kind, &c.address, &c.actions);
        }
        summary.add = tally.add;
        summary.change = tally.change;
        summary.deactivate = tally.deactivate;
        summary.delete = tally.delete;
        summary.destroy = summary.deactivate + summary.delete;

        let rate = self.target.rate;
        let per = |n: u64, r: Option<f64>| match r {
            Some(r) if r > 0.0 => n as f64 / r,
            _ => 0.0,
        };
        let seconds = per(reads.len() as u64, rate.reads_per_second)
            .max(per(writes, rate.writes_per_second))
            .max(per(member_ops, rate.member_operations_per_second));
        let requests = Requests {
            reads: reads.len() as u64,
            writes,
            member_operations: member_ops,
            seconds_at_rate: (seconds * 1000.0).round() / 1000.0,
            live_state_reads: 0,
        };

        let policy = &self.target.policy;
        let destroy = summary.destroy;
        let owned = self.owned_users + self.owned_groups;
        let percent = if destroy == 0 {
            0.0
        } else if owned == 0 {
            100.0
        } else {
            ((destroy as f64 / owned as f64) * 100.0 * 100.0).round() / 100.0
        };
        let safety = vec![
            SafetyGate {
                gate: "max_destroy".into(),
                limit: policy.max_destroy as f64,
                observed: destroy as f64,
                tripped: destroy > policy.max_destroy,
            },
            SafetyGate {
                gate: "max_destroy_percent".into(),
                limit: policy.max_destroy_percent,
                observed: percent,
                tripped: percent > policy.max_destroy_percent,
            },
        ];
        let not_touching = NotTouching {
            unmanaged_users: self.untouched.unmanaged_users,
            unmanaged_groups: self.untouched.unmanaged_groups,
            ignored_users: self.untouched.ignored_users,
            ignored_groups: self.untouched.ignored_groups,
            released: self.untouched.released,
            protected: self.untouched.protected.len() as u64,
        };
        TargetPlan {
            name: self.target.name.clone(),
            url: target_url(self.desired, self.target),
            dialect: self.target.dialect.as_str().to_string(),
            complete: true,
            summary,
            requests,
            changes,
            safety,
            not_touching,
        }
    }
}

/// Renames that take a unique value (userName, primary email, group displayName) another rename
/// releases depend on that rename, so apply runs them in order (SPEC section 5). Renames that
/// form a cycle (two users swapping userNames), and renames waiting on such a cycle, cannot be
/// ordered: they become conflicts, reported and never sent.
fn order_renames(changes: &mut [(u8, Change)], user_unique: &[String], group_unique: &[String]) {
    let unique = |kind: ObjectKind| match kind {
        ObjectKind::User => user_unique,
        ObjectKind::Group => group_unique,
    };
    let value = |m: &Map<String, Value>, p: &str| {
        m.get(p)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_lowercase)
    };
    let renames: Vec<usize> = (0..changes.len())
        .filter(|i| changes[*i].0 == phase::RENAME)
        .collect();
    if renames.len() < 2 {
        return;
    }
    let mut holders: HashMap<(ObjectKind, &str, String), usize> = HashMap::new();
    for &i in &renames {
        let c = &changes[i].1;
        for p in unique(c.kind) {
            if let Some(v) = value(&c.before, p) {
                holders.insert((c.kind, p.as_str(), v), i);
            }
        }
    }
    // waits[i]: the renames change i waits for.
    let mut waits: HashMap<usize, Vec<usize>> = HashMap::new();
    for &i in &renames {
        let c = &changes[i].1;
        for p in unique(c.kind) {
            if let Some(j) = value(&c.after, p).and_then(|v| holders.get(&(c.kind, p.as_str(), v)))
            {
                if *j != i && !waits.get(&i).is_some_and(|w| w.contains(j)) {
                    waits.entry(i).or_default().push(*j);
                }
            }
        }
    }
    if waits.is_empty() {
        return;
    }
    // Peel off renames whose waits are all ordered; what is left is a cycle or behind one.
    let mut ordered: HashSet<usize> = renames
        .iter()
        .copied()
        .filter(|i| !waits.contains_key(i))
        .collect();
    loop {
        let next: Vec<usize> = waits
            .iter()
            .filter(|(i, w)| !ordered.contains(i) && w.iter().all(|j| ordered.contains(j)))
            .map(|(i, _)| *i)
            .collect();
        if next.is_empty() {
            break;
        }
        ordered.extend(next);
    }
    let mut stuck: Vec<usize> = waits
        .keys()
        .copied()
        .filter(|i| !ordered.contains(i))
        .collect();
    stuck.sort_unstable();
    for (i, w) in &waits {
        if ordered.contains(i) {
            let deps: Vec<String> = w.iter().map(|j| changes[*j].1.address.clone()).collect();
            let c = &mut changes[*i].1;
            for d in deps {
                if !c.depends_on.contains(&d) {
                    c.depends_on.push(d);
                }
            }
            c.depends_on.sort();
        }
    }
    let names: Vec<String> = stuck.iter().map(|i| changes[*i].1.name.clone()).collect();
    for &i in &stuck {
        let (ph, c) = &mut changes[i];
        *ph = phase::CONFLICT;
        c.detail = Some(format!(
            "its rename takes a value another rename releases, in a cycle ({}): rename one of them to a temporary value first",
            names.join(", ")
        ));
        c.reason = Reason::Conflict;
        c.actions.clear();
        c.operations.clear();
        c.precondition = None;
        c.depends_on.clear();
        c.before.clear();
        c.after.clear();
        c.unchanged_attributes = 0;
    }
}

/// The target's URL as the plan shows it; embedded state paths relative to the configuration.
fn target_url(desired: &Desired, target: &Target) -> String {
    match &target.endpoint {
        Endpoint::Url(u) => u.clone(),
        Endpoint::Embedded { path } => {
            let shown = path.strip_prefix(&desired.base_dir).unwrap_or(path);
            format!("embedded:{}", shown.display())
        }
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

/// `--only` and `--resource`: keep the selected changes and, as Terraform's `-target` does, the
/// creates they depend on (a membership cannot name a user that is never created).
fn select(changes: Vec<Change>, opts: &PlanOptions, target: &str) -> Vec<Change> {
    if opts.only.is_none() && opts.resources.is_empty() {
        return changes;
    }
    let listed = |addr: &str| {
        opts.resources.is_empty()
            || opts.resources.iter().any(|r| {
                r == addr
                    || addr
                        .strip_prefix(target)
                        .and_then(|a| a.strip_prefix(':'))
                        .is_some_and(|a| a == r)
            })
    };
    let mut keep: Vec<bool> = changes
        .iter()
        .map(|c| opts.only.is_none_or(|k| k == c.kind) && listed(&c.address))
        .collect();
    let mut creates: HashMap<&str, usize> = HashMap::new();
    for (i, c) in changes.iter().enumerate() {
        if c.actions.contains(&Action::Create) {
            creates.insert(c.address.as_str(), i);
        }
    }
    let mut stack: Vec<usize> = (0..changes.len()).filter(|i| keep[*i]).collect();
    while let Some(i) = stack.pop() {
        for dep in &changes[i].depends_on {
            if let Some(&j) = creates.get(dep.as_str()) {
                if !keep[j] {
                    keep[j] = true;
                    stack.push(j);
                }
            }
        }
    }
    changes
        .into_iter()
        .zip(keep)
        .filter_map(|(c, k)| k.then_some(c))
        .collect()
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
