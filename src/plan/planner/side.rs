//! One kind of object, users or groups, as the planner holds it: the directory objects rendered
//! through the mapping, what `ignore` and `release` leave out on both sides, the matching, and
//! what a precondition covers.
//!
//! Users and groups go through the same steps with different keys and names; the [`Kind`] trait
//! says where they differ, so that one [`Side`] (built by one generic function) replaces a
//! mirror pair of fields for each step.

use super::super::document::{ObjectKind, Precondition};
use super::super::matching::{self, KeySpec, Keys, Matching, Outcome};
use super::super::observed::{LiveGroup, LiveUser};
use super::super::policy::{Globs, NameList};
use super::super::{digest_paths, precondition_digest, PlanError};
use crate::config::model::{GroupMatchKey, UserMatchKey};
use crate::config::{Group, Target, User};
use crate::mapping::{AttrPath, CompiledRule, CompiledTarget, Rendered};
use serde_json::Value;
use std::borrow::Cow;

/// Where users and groups differ, for the steps they share.
pub(super) trait Kind {
    /// A directory object.
    type Desired;
    /// A live object.
    type Live;
    /// A match key of the configuration.
    type Key: Copy;
    const KIND: ObjectKind;
    /// The mapped attribute `ignore` globs match, and the directory name used when the mapping
    /// does not write it.
    const NAME_ATTR: &'static str;

    fn rules(compiled: &CompiledTarget) -> &[CompiledRule];
    fn render(compiled: &CompiledTarget, d: &Self::Desired) -> Result<Rendered, PlanError>;
    fn match_keys(target: &Target) -> &[Self::Key];
    fn spec(k: Self::Key) -> KeySpec;
    /// The rule that renders a match key's value.
    fn key_rule(compiled: &CompiledTarget, k: Self::Key) -> Option<usize>;
    /// The rules whose values are unique in the target: changing one is a rename.
    fn unique_rules(compiled: &CompiledTarget) -> Vec<usize>;
    fn desired_id(d: &Self::Desired) -> &str;
    fn desired_name(d: &Self::Desired) -> &str;
    fn live_id(l: &Self::Live) -> &str;
    fn live_name(l: &Self::Live) -> &str;
    fn live_external_id(l: &Self::Live) -> Option<&str>;
    fn live_key(l: &Self::Live, k: Self::Key) -> Option<&str>;
}

/// Users.
pub(super) struct Users;
/// Groups.
pub(super) struct Groups;

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

impl Kind for Users {
    type Desired = User;
    type Live = LiveUser;
    type Key = UserMatchKey;
    const KIND: ObjectKind = ObjectKind::User;
    const NAME_ATTR: &'static str = "userName";

    fn rules(compiled: &CompiledTarget) -> &[CompiledRule] {
        &compiled.user
    }
    fn render(compiled: &CompiledTarget, d: &User) -> Result<Rendered, PlanError> {
        Ok(compiled.render_user(d)?)
    }
    fn match_keys(target: &Target) -> &[UserMatchKey] {
        &target.match_users
    }
    fn spec(k: UserMatchKey) -> KeySpec {
        match k {
            UserMatchKey::ExternalId => USER_KEY_SPECS[0],
            UserMatchKey::UserName => USER_KEY_SPECS[1],
            UserMatchKey::Email => USER_KEY_SPECS[2],
        }
    }
    fn key_rule(compiled: &CompiledTarget, k: UserMatchKey) -> Option<usize> {
        match k {
            UserMatchKey::ExternalId => rule_for(&compiled.user, "externalId"),
            UserMatchKey::UserName => rule_for(&compiled.user, "userName"),
            UserMatchKey::Email => compiled.email_rule(),
        }
    }
    fn unique_rules(compiled: &CompiledTarget) -> Vec<usize> {
        [rule_for(&compiled.user, "userName"), compiled.email_rule()]
            .into_iter()
            .flatten()
            .collect()
    }
    fn desired_id(d: &User) -> &str {
        &d.id
    }
    fn desired_name(d: &User) -> &str {
        &d.user_name
    }
    fn live_id(l: &LiveUser) -> &str {
        &l.id
    }
    fn live_name(l: &LiveUser) -> &str {
        l.user_name()
    }
    fn live_external_id(l: &LiveUser) -> Option<&str> {
        l.external_id()
    }
    fn live_key(l: &LiveUser, k: UserMatchKey) -> Option<&str> {
        match k {
            UserMatchKey::ExternalId => l.external_id(),
            UserMatchKey::UserName => Some(l.user_name()),
            UserMatchKey::Email => l.primary_email(),
        }
    }
}

impl Kind for Groups {
    type Desired = Group;
    type Live = LiveGroup;
    type Key = GroupMatchKey;
    const KIND: ObjectKind = ObjectKind::Group;
    const NAME_ATTR: &'static str = "displayName";

    fn rules(compiled: &CompiledTarget) -> &[CompiledRule] {
        &compiled.group
    }
    fn render(compiled: &CompiledTarget, d: &Group) -> Result<Rendered, PlanError> {
        Ok(compiled.render_group(d)?)
    }
    fn match_keys(target: &Target) -> &[GroupMatchKey] {
        &target.match_groups
    }
    fn spec(k: GroupMatchKey) -> KeySpec {
        match k {
            GroupMatchKey::ExternalId => GROUP_KEY_SPECS[0],
            GroupMatchKey::DisplayName => GROUP_KEY_SPECS[1],
        }
    }
    fn key_rule(compiled: &CompiledTarget, k: GroupMatchKey) -> Option<usize> {
        match k {
            GroupMatchKey::ExternalId => rule_for(&compiled.group, "externalId"),
            GroupMatchKey::DisplayName => rule_for(&compiled.group, "displayName"),
        }
    }
    fn unique_rules(compiled: &CompiledTarget) -> Vec<usize> {
        rule_for(&compiled.group, "displayName")
            .into_iter()
            .collect()
    }
    fn desired_id(d: &Group) -> &str {
        &d.id
    }
    fn desired_name(d: &Group) -> &str {
        &d.name
    }
    fn live_id(l: &LiveGroup) -> &str {
        &l.id
    }
    fn live_name(l: &LiveGroup) -> &str {
        l.display_name()
    }
    fn live_external_id(l: &LiveGroup) -> Option<&str> {
        l.external_id()
    }
    fn live_key(l: &LiveGroup, k: GroupMatchKey) -> Option<&str> {
        match k {
            GroupMatchKey::ExternalId => l.external_id(),
            GroupMatchKey::DisplayName => Some(l.display_name()),
        }
    }
}

/// The text of a rendered value (templates render text; constants may be numbers or booleans).
pub(super) fn text(v: Option<&Value>) -> Option<Cow<'_, str>> {
    match v? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Null => None,
        other => Some(Cow::Owned(other.to_string())),
    }
}

/// The first rule writing a simple attribute.
pub(super) fn rule_for(rules: &[CompiledRule], attr: &str) -> Option<usize> {
    rules.iter().position(|r| r.path.is_simple(attr))
}

/// The policy lists that apply to one kind.
pub(super) struct KindLists<'l> {
    pub ignore: &'l Globs,
    pub release: &'l NameList,
}

/// Everything the planner holds per kind.
pub(super) struct Side {
    pub kind: ObjectKind,
    /// Per directory object, in directory order.
    pub rendered: Vec<Rendered>,
    /// Per directory object: left out by `ignore` / `release`.
    pub ignored: Vec<bool>,
    pub released: Vec<bool>,
    /// Per live object: left out by `ignore` / `release` (a released directory object
    /// releases its live match too).
    pub live_ignored: Vec<bool>,
    pub live_released: Vec<bool>,
    pub matching: Matching,
    /// The key specs of the target's match keys, in precedence order.
    pub specs: Vec<KeySpec>,
    pub digest_paths: Vec<AttrPath>,
    /// Every create reads the same nothing: its precondition is computed once.
    pub create_precondition: Precondition,
    pub unique_rules: Vec<usize>,
    /// Live objects roster owns or claims: the population the percentage gate measures.
    pub owned: u64,
}

impl Side {
    /// Render, classify and match one kind.
    pub fn build<K: Kind>(
        compiled: &CompiledTarget,
        target: &Target,
        lists: KindLists<'_>,
        desired: &[K::Desired],
        live: &[K::Live],
    ) -> Result<Side, PlanError> {
        let rendered = desired
            .iter()
            .map(|d| K::render(compiled, d))
            .collect::<Result<Vec<_>, _>>()?;

        // What `ignore` and `release` leave out, on both sides. A directory object whose rendered
        // name is ignored is never created; a live one is never read as drift or written.
        let name_rule = rule_for(K::rules(compiled), K::NAME_ATTR);
        let ignored: Vec<bool> = desired
            .iter()
            .zip(&rendered)
            .map(|(d, r)| {
                if lists.ignore.is_empty() {
                    return false;
                }
                let name = name_rule
                    .and_then(|i| text(r.values[i].as_ref()))
                    .unwrap_or(Cow::Borrowed(K::desired_name(d)));
                lists.ignore.matching(&name).is_some()
            })
            .collect();
        let released: Vec<bool> = desired
            .iter()
            .map(|d| {
                lists
                    .release
                    .contains(Some(K::desired_id(d)), K::desired_name(d))
            })
            .collect();
        let live_ignored: Vec<bool> = live
            .iter()
            .map(|l| !lists.ignore.is_empty() && lists.ignore.matching(K::live_name(l)).is_some())
            .collect();
        let mut live_released: Vec<bool> = live
            .iter()
            .map(|l| {
                !lists.release.is_empty()
                    && lists
                        .release
                        .contains(K::live_external_id(l), K::live_name(l))
            })
            .collect();

        let keys = K::match_keys(target);
        let specs: Vec<KeySpec> = keys.iter().map(|k| K::spec(*k)).collect();
        let key_rules: Vec<Option<usize>> =
            keys.iter().map(|k| K::key_rule(compiled, *k)).collect();
        let desired_keys: Vec<Keys> = rendered
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
        let live_keys: Vec<Keys> = live
            .iter()
            .map(|l| {
                keys.iter()
                    .zip(&specs)
                    .map(|(k, spec)| K::live_key(l, *k).and_then(|v| matching::normalize(spec, v)))
                    .collect()
            })
            .collect();
        let matching =
            matching::match_objects(&specs, &desired_keys, &ignored, &live_keys, &live_ignored);
        drop(desired_keys);
        drop(live_keys);

        // Released directory objects release their live match too.
        for (d, o) in matching.desired.iter().enumerate() {
            if let (true, Outcome::Matched { live, .. }) = (released[d], o) {
                live_released[*live] = true;
            }
        }

        let digest_paths = digest_paths(compiled, K::KIND);
        let create_precondition = Precondition {
            version: None,
            digest: precondition_digest(&Value::Null, &digest_paths.iter().collect::<Vec<_>>()),
        };
        Ok(Side {
            kind: K::KIND,
            rendered,
            ignored,
            released,
            live_ignored,
            live_released,
            matching,
            specs,
            digest_paths,
            create_precondition,
            unique_rules: K::unique_rules(compiled),
            owned: 0,
        })
    }

    /// Whether a directory object takes part in planning at all.
    pub fn skipped(&self, d: usize) -> bool {
        self.ignored[d] || self.released[d]
    }

    /// The precondition of a change to a live resource.
    pub fn precondition(&self, resource: &Value, version: Option<&String>) -> Precondition {
        let refs: Vec<&AttrPath> = self.digest_paths.iter().collect();
        Precondition {
            version: version.cloned(),
            digest: precondition_digest(resource, &refs),
        }
    }
}
