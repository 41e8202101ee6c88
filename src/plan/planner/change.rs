//! The building blocks of changes, shared by users and groups: the attribute diff of a matched
//! object, the change recorded for a conflict, a change with nothing yet, and the protection
//! check that drops a destructive change.

use super::side::{Kind, Side};
use super::Planner;
use crate::config::model::When;
use crate::mapping::{Rendered, RuleKind};
use crate::plan::document::{Action, Address, Change, ObjectKind, Phase, Reason};
use crate::plan::matching::Conflict;
use crate::plan::policy::NameList;
use crate::plan::{same_value, shape};
use crate::scim::resource::PatchOp;
use serde_json::{json, Map, Value};
use std::borrow::Cow;

/// Attribute-level differences of one object.
#[derive(Default)]
pub(super) struct AttrDiff {
    pub before: Map<String, Value>,
    pub after: Map<String, Value>,
    pub ops: Vec<PatchOp>,
    pub unchanged: u64,
    pub depends_on: Vec<Address>,
    /// A unique value (userName, displayName, email) changes: apply it before creates.
    pub renames: bool,
}

/// A change to `address` with no attributes, operations or precondition yet.
pub(super) fn blank_change(
    address: Address,
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
        // Decided where the change is recorded (`Planner::push`); a conflict until then, so a
        // change that is never placed can never be sent.
        phase: Phase::Conflict,
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
        notes: Default::default(),
    }
}

/// Whether `protect` lists a live object, by itself or by the directory object matched to it.
pub(super) fn is_protected<K: Kind>(
    list: &NameList,
    desired: Option<&K::Desired>,
    live: &K::Live,
) -> bool {
    if list.is_empty() {
        return false;
    }
    desired.is_some_and(|d| list.contains(Some(K::desired_id(d)), K::desired_name(d)))
        || list.contains(K::live_external_id(live), K::live_name(live))
}

/// The change that reports directory object `d`'s conflict; it sends nothing.
pub(super) fn conflict_change<K: Kind>(
    side: &Side,
    desired: &[K::Desired],
    live: &[K::Live],
    address: Address,
    d: usize,
    c: &Conflict,
) -> Change {
    let what = match K::KIND {
        ObjectKind::User => "user",
        ObjectKind::Group => "group",
    };
    let live_id = |l: usize| K::live_id(&live[l]).to_string();
    let (id, detail) = match c {
        Conflict::Ambiguous { key, live: all } => (
            None,
            format!(
                "{} matches {} live {what}s: {}",
                side.specs[*key].name,
                all.len(),
                all.iter()
                    .map(|l| live_id(*l))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        Conflict::ExternalIdDiffers { key, live: l } => (
            Some(live_id(*l)),
            format!(
                "{} matches live {what} {} whose externalId {:?} differs",
                side.specs[*key].name,
                live_id(*l),
                K::live_external_id(&live[*l]).unwrap_or("")
            ),
        ),
        Conflict::Shared {
            key,
            live: l,
            others,
        } => {
            let other_ids: Vec<&str> = others.iter().map(|o| K::desired_id(&desired[*o])).collect();
            (
                Some(live_id(*l)),
                format!(
                    "{} of live {what} {} also matches directory {what} {}",
                    side.specs[*key].name,
                    live_id(*l),
                    other_ids.join(", ")
                ),
            )
        }
    };
    let mut change = blank_change(
        address,
        K::desired_name(&desired[d]).to_string(),
        K::KIND,
        id,
        Vec::new(),
        Reason::Conflict,
    );
    change.detail = Some(detail);
    change
}

impl Planner<'_> {
    /// The differences between the mapped attributes of a directory object and a live one.
    /// `only_external_id`: adoption without `update`: set the externalId and nothing else.
    pub(super) fn diff_attributes(
        &self,
        side: &Side,
        rendered: &Rendered,
        live: &Value,
        only_external_id: bool,
    ) -> AttrDiff {
        let rules = match side.kind {
            ObjectKind::User => &self.compiled.user,
            ObjectKind::Group => &self.compiled.group,
        };
        let unique = &side.unique_rules;
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
            let (want, dep): (Option<Cow<'_, Value>>, Option<&Address>) =
                match (&rendered.values[i], rule.kind) {
                    (None, _) => (None, None),
                    (Some(v), RuleKind::UserRef) => {
                        match v.as_str().and_then(|id| self.ref_target(id)) {
                            Some(Ok(id)) if have.and_then(Value::as_str) == Some(id) => {
                                out.unchanged += 1;
                                continue;
                            }
                            Some(Ok(id)) => (Some(Cow::Owned(Value::String(id.to_string()))), None),
                            Some(Err(addr)) => (
                                Some(Cow::Owned(json!({ "$user_ref": addr.as_str() }))),
                                Some(addr),
                            ),
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
            out.depends_on.extend(dep.cloned());
            if unique.contains(&i) {
                out.renames = true;
            }
        }
        out
    }
}
