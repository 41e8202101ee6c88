//! The executor of plans (docs/contract.md#apply): preconditions, phases, concurrency inside the
//! target's budgets, failure isolation, and the record of what happened to every change.
//!
//! Apply never decides *what* to change: that is the plan, made by the pure planner and
//! reviewed by a human. It decides *how* to carry the plan out safely:
//!
//! - [`verify`] re-reads every object a saved plan touches before anything is written, so a plan
//!   made from state that has since moved is refused as a whole (exit 4), and a change that is
//!   already in effect (a crash after the server acted) counts as done, which makes re-applying
//!   the same plan converge.
//! - [`execute`] runs the changes phase by phase (renames that free a unique value, user creates,
//!   group creates, updates, member adds, member removes, deactivations, deletes); inside a phase
//!   independent changes run concurrently, each waiting only for the creates it names. The
//!   client spaces requests within the target's read, write and membership budgets.
//! - A create whose outcome is unknown (5xx, timeout) or that met a 409 is resolved by a lookup
//!   by its match keys, never by blindly sending it again, so no retry duplicates an object.

pub mod execute;
pub mod replace;
pub mod report;
pub mod verify;

pub use execute::{execute, execute_with, Progress};
pub use report::{ChangeResult, Status};
pub use verify::{per_object_reads, verify, Prepared, Snapshot, Source, Stale};

use crate::mapping::AttrPath;
use crate::plan::{same_value, Change, ObjectKind};
use crate::scim::filter::Filter;
use crate::scim::{ReadOnlyClient, ScimClientError};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The phases of docs/contract.md#phases, in the order they run: the planner's, carried on each change.
pub use crate::plan::Phase;

/// The phase of every change of a plan, in plan order, as the plan says; `None` for changes
/// with nothing to send (conflicts, which are reported and never acted on).
pub fn phases(changes: &[Change]) -> Vec<Option<Phase>> {
    changes
        .iter()
        .map(|c| (c.phase != Phase::Conflict && !c.operations.is_empty()).then_some(c.phase))
        .collect()
}

/// Replace every `{"$user_ref": ADDR}` inside `v` by the id the create at ADDR produced.
/// The error names the address whose id is unknown.
pub fn resolve_refs(v: &Value, ids: &HashMap<String, String>) -> Result<Value, String> {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(addr)) = o.get("$user_ref") {
                return ids
                    .get(addr)
                    .map(|id| Value::String(id.clone()))
                    .ok_or_else(|| addr.clone());
            }
            let mut out = Map::with_capacity(o.len());
            for (k, x) in o {
                out.insert(k.clone(), resolve_refs(x, ids)?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(a) => a
            .iter()
            .map(|x| resolve_refs(x, ids))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

/// The attribute that names an object of `kind` (its second match key after externalId).
pub fn name_attr(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::User => "userName",
        ObjectKind::Group => "displayName",
    }
}

/// A live resource as the planner saw it: the typed resource turned back into JSON (so digests
/// compare like with like), without a group's members (membership is not part of any
/// precondition, and AWS never returns it).
fn live_value<T: serde::Serialize>(
    kind: ObjectKind,
    resource: &T,
) -> Result<Value, ScimClientError> {
    let mut v = serde_json::to_value(resource)
        .map_err(|e| ScimClientError::Setup(format!("cannot read a live resource: {e}")))?;
    if kind == ObjectKind::Group {
        if let Some(o) = v.as_object_mut() {
            o.remove("members");
        }
    }
    Ok(v)
}

/// Read one object; `None` when the server says it does not exist.
pub async fn fetch(
    client: &ReadOnlyClient,
    kind: ObjectKind,
    id: &str,
) -> Result<Option<Value>, ScimClientError> {
    let got = match kind {
        ObjectKind::User => client.get_user(id).await.and_then(|u| live_value(kind, &u)),
        ObjectKind::Group => client
            .get_group(id)
            .await
            .and_then(|g| live_value(kind, &g)),
    };
    match got {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The live objects that a create body would collide with: looked up by its externalId, and
/// when it has none (or nothing has it) by its userName or displayName. One request in the
/// common case. A target that refuses the filter (400 or 501: filtering unsupported) is listed
/// whole and matched here instead (docs/contract.md#servers-that-keep-less).
pub async fn find_by_keys(
    client: &ReadOnlyClient,
    kind: ObjectKind,
    body: &Map<String, Value>,
) -> Result<Vec<Value>, ScimClientError> {
    match find_by_filter(client, kind, body).await {
        Err(e) if matches!(e.status(), Some(400 | 501)) => {
            tracing::info!("the target refused a filter ({e}); matching locally");
            find_locally(client, kind, body).await
        }
        other => other,
    }
}

/// [`find_by_keys`] asked of the server with filters.
async fn find_by_filter(
    client: &ReadOnlyClient,
    kind: ObjectKind,
    body: &Map<String, Value>,
) -> Result<Vec<Value>, ScimClientError> {
    for attr in ["externalId", name_attr(kind)] {
        let Some(value) = key_text(body, attr) else {
            continue;
        };
        let filter = Filter::eq(attr, value);
        let found = list_values(client, kind, Some(&filter)).await?;
        if !found.is_empty() {
            return Ok(found);
        }
    }
    Ok(Vec::new())
}

fn key_text<'a>(body: &'a Map<String, Value>, attr: &str) -> Option<&'a str> {
    body.get(attr)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
}

/// Every live object of `kind` (matching `filter`), as the planner saw them.
async fn list_values(
    client: &ReadOnlyClient,
    kind: ObjectKind,
    filter: Option<&Filter>,
) -> Result<Vec<Value>, ScimClientError> {
    match kind {
        ObjectKind::User => client
            .list_users(filter)
            .await?
            .iter()
            .map(|u| live_value(kind, u))
            .collect(),
        ObjectKind::Group => client
            .list_groups(filter)
            .await?
            .iter()
            .map(|g| live_value(kind, g))
            .collect(),
    }
}

/// [`find_by_keys`] without filters, for a target that does not filter: the whole collection
/// listed and matched by the same keys (externalId exactly, the name ignoring case, as SCIM's
/// `eq` compares userName and displayName).
pub async fn find_locally(
    client: &ReadOnlyClient,
    kind: ObjectKind,
    body: &Map<String, Value>,
) -> Result<Vec<Value>, ScimClientError> {
    let all = list_values(client, kind, None).await?;
    Ok(match_locally(all, kind, body))
}

/// The objects of `all` that hold `body`'s keys: by externalId, else by name.
pub fn match_locally(all: Vec<Value>, kind: ObjectKind, body: &Map<String, Value>) -> Vec<Value> {
    let ext = key_text(body, "externalId");
    if let Some(ext) = ext {
        let hits: Vec<Value> = all
            .iter()
            .filter(|v| v.get("externalId").and_then(Value::as_str) == Some(ext))
            .cloned()
            .collect();
        if !hits.is_empty() {
            return hits;
        }
    }
    let Some(name) = key_text(body, name_attr(kind)) else {
        return Vec::new();
    };
    all.into_iter()
        .filter(|v| {
            v.get(name_attr(kind))
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .collect()
}

/// What a lookup by keys found, against what a create would make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Nothing,
    /// One object, equal to the desired one on every precondition attribute: its id.
    Same(String),
    /// Something else holds the keys: why, for humans.
    Different(String),
}

/// Compare the objects a lookup found with the object a create would make (`want`).
pub fn classify(found: &[Value], want: &Value, paths: &[AttrPath]) -> Found {
    match found {
        [] => Found::Nothing,
        [live] => match (first_difference(live, want, paths), id_of(live)) {
            (None, Some(id)) => Found::Same(id),
            (None, None) => Found::Different("the existing object has no id".into()),
            (Some(attr), id) => Found::Different(format!(
                "the existing object (id {}) differs in {attr}",
                id.unwrap_or_default()
            )),
        },
        many => Found::Different(format!(
            "{} live objects have its keys ({})",
            many.len(),
            many.iter().filter_map(id_of).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// The first attribute (of `paths`) where a live object differs from what `want` asks for;
/// `None` when it matches. Values `want` cannot resolve (a manager not created yet) are skipped.
pub fn first_difference(live: &Value, want: &Value, paths: &[AttrPath]) -> Option<String> {
    for p in paths {
        let w = p.get(want);
        if w.is_some_and(|w| w.get("$user_ref").is_some()) {
            continue;
        }
        if !same_value(p.get(live), w) {
            return Some(p.to_string());
        }
    }
    None
}

/// Whether every attribute a change sets already has its new value on `live` (the change was
/// carried out before, e.g. by an apply that crashed before it could record it).
pub fn in_effect(change: &Change, live: &Value, ids: &HashMap<String, String>) -> bool {
    if change.after.is_empty() {
        return false;
    }
    change.after.iter().all(|(path, want)| {
        let Ok(p) = AttrPath::parse(path) else {
            return false;
        };
        match resolve_refs(want, ids) {
            Ok(want) => same_value(p.get(live), Some(&want)),
            Err(_) => false,
        }
    })
}

/// The live id of an object, from a resource.
pub fn id_of(v: &Value) -> Option<String> {
    v.get("id").and_then(Value::as_str).map(str::to_string)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::plan::{Action, Operation, Reason};
    use serde_json::json;

    /// A change for scheduler and phase tests: its operation is a placeholder.
    pub(crate) fn test_change(
        address: &str,
        kind: ObjectKind,
        actions: Vec<Action>,
        deps: &[&str],
    ) -> Change {
        Change {
            address: address.parse().expect("a test address"),
            name: address.into(),
            kind,
            id: None,
            phase: phase_for(kind, &actions),
            actions,
            reason: Reason::Missing,
            unchanged_attributes: 0,
            before: Map::new(),
            after: Map::new(),
            members_added: vec![],
            members_removed: vec![],
            operations: vec![Operation::Delete],
            precondition: None,
            depends_on: deps
                .iter()
                .map(|d| d.parse().expect("a test address"))
                .collect(),
            detail: None,
            origin: None,
            notes: Default::default(),
        }
    }

    /// The phase the planner gives a change with these actions (plain updates, not renames).
    fn phase_for(kind: ObjectKind, actions: &[Action]) -> Phase {
        let has = |a: Action| actions.contains(&a);
        if has(Action::Create) {
            match kind {
                ObjectKind::User => Phase::CreateUsers,
                ObjectKind::Group => Phase::CreateGroups,
            }
        } else if has(Action::Delete) {
            Phase::Delete
        } else if has(Action::Deactivate) {
            Phase::Deactivate
        } else if has(Action::RemoveMembers) {
            Phase::RemoveMembers
        } else if has(Action::AddMembers) {
            Phase::AddMembers
        } else if actions.is_empty() {
            Phase::Conflict
        } else {
            Phase::Update
        }
    }

    fn change(kind: ObjectKind, actions: Vec<Action>) -> Change {
        test_change("t:user.x", kind, actions, &[])
    }

    #[test]
    fn phases_are_read_from_the_plan_and_conflicts_are_never_run() {
        // A rename and a plain update have the same actions: only the plan tells them apart,
        // wherever the rename sorts.
        let mut rename = change(ObjectKind::User, vec![Action::Update]);
        rename.phase = Phase::Rename;
        let plan = vec![
            change(ObjectKind::User, vec![Action::Create]),
            rename,
            change(ObjectKind::User, vec![Action::Update, Action::Reactivate]),
            change(ObjectKind::Group, vec![Action::Delete]),
        ];
        assert_eq!(
            phases(&plan),
            vec![
                Some(Phase::CreateUsers),
                Some(Phase::Rename),
                Some(Phase::Update),
                Some(Phase::Delete),
            ]
        );
        let mut conflict = change(ObjectKind::User, vec![]);
        conflict.operations.clear();
        assert_eq!(phases(&[conflict]), vec![None]);
        let mut stale = change(ObjectKind::User, vec![Action::Update]);
        stale.phase = Phase::Conflict;
        assert_eq!(phases(&[stale]), vec![None]);
    }

    #[test]
    fn refs_resolve_deeply_and_name_what_is_missing() {
        let ids = HashMap::from([("t:user.a".to_string(), "id-a".to_string())]);
        let v = json!({"members": [{"value": {"$user_ref": "t:user.a"}}], "x": 1});
        assert_eq!(
            resolve_refs(&v, &ids).expect("resolves"),
            json!({"members": [{"value": "id-a"}], "x": 1})
        );
        let missing = json!([{"$user_ref": "t:user.b"}]);
        assert_eq!(resolve_refs(&missing, &ids), Err("t:user.b".to_string()));
    }

    #[test]
    fn in_effect_compares_every_new_value() {
        let mut c = change(ObjectKind::User, vec![Action::Update]);
        c.after.insert("title".into(), json!("Staff"));
        c.after.insert("active".into(), json!(false));
        let ids = HashMap::new();
        assert!(in_effect(
            &c,
            &json!({"title": "Staff", "active": false}),
            &ids
        ));
        assert!(!in_effect(
            &c,
            &json!({"title": "Staff", "active": true}),
            &ids
        ));
        assert!(!in_effect(
            &change(ObjectKind::User, vec![]),
            &json!({}),
            &ids
        ));
    }
}
