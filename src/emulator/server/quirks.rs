//! Servers that accept writes and quietly keep less, reproduced on purpose: the emulator can drop
//! a group's members on create, drop attributes it does not support, answer 501 to PATCH, refuse
//! filters, hide new objects from reads for a while, and lose the answers to writes it applied.
//!
//! These are not random faults (see `faults`) but the standing habits of real servers, switched
//! on one by one so that roster's defences against each (docs/contract.md#servers-that-keep-less)
//! have a deterministic server to be tested against, and so users can try a configuration
//! against a bad server before meeting one.

use crate::emulator::schema::Kind;
use crate::scim::resource::PatchOp;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The habits of a server that keeps less than it is sent. Every one is off by default.
#[derive(Debug, Clone, Default)]
pub struct Quirks {
    /// A group created with members is stored (and answered) without any.
    pub drop_group_members_on_create: bool,
    /// Attribute paths the server silently drops from every write and leaves out of its
    /// `/Schemas` and `/ResourceTypes`: a core attribute (`title`, `name.middleName`), an
    /// extension attribute (`urn:...:enterprise:2.0:User:department`) or a whole extension
    /// (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`).
    pub drop_attributes: Vec<String>,
    /// PATCH is advertised but answered 501 unless every operation sets only `active`; PUT works.
    pub patch_501_except_active: bool,
    /// `filter.supported: false` in the ServiceProviderConfig, and any filter answered 400.
    pub no_filter: bool,
    /// A new object stays invisible to GET and to lists for this long after its create.
    pub lagging_reads: Option<Duration>,
    /// The first N writes are applied but answered 500, as if the answer was lost on the way.
    pub lose_answers: u64,
}

/// The quirks and the little state some of them keep.
#[derive(Debug, Default)]
pub(super) struct QuirkState {
    pub(super) quirks: Quirks,
    /// When each object made while `lagging_reads` is on was created.
    born: Mutex<HashMap<String, Instant>>,
    /// Writes whose answer was lost so far.
    lost: AtomicU64,
}

/// Whether `path` (a PATCH path or attribute name) falls under the dropped attribute `drop`:
/// the same attribute, or one of its sub-attributes, extension attributes or value filters.
fn under(path: &str, drop: &str) -> bool {
    let (p, d) = (path.to_ascii_lowercase(), drop.to_ascii_lowercase());
    p == d
        || p.strip_prefix(&d)
            .is_some_and(|rest| rest.starts_with([':', '.', '[']))
}

/// Removes the key `name` from `o`, compared ignoring case.
fn remove_ci(o: &mut Map<String, Value>, name: &str) {
    let keys: Vec<String> = o
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .collect();
    for k in keys {
        o.shift_remove(&k);
    }
}

/// Splits a dropped path into (extension URN or none, attribute, sub-attribute): the URN of an
/// extension attribute is everything before its last `:`.
fn split(drop: &str, extensions: &[&str]) -> (Option<String>, Option<String>, Option<String>) {
    if let Some(ext) = extensions.iter().find(|e| e.eq_ignore_ascii_case(drop)) {
        return (Some((*ext).to_string()), None, None);
    }
    let (urn, rest) = match drop.rfind(':') {
        Some(i) if drop.to_ascii_lowercase().starts_with("urn:") => {
            (Some(drop[..i].to_string()), &drop[i + 1..])
        }
        _ => (None, drop),
    };
    match rest.split_once('.') {
        Some((a, s)) => (urn, Some(a.to_string()), Some(s.to_string())),
        None => (urn, Some(rest.to_string()), None),
    }
}

impl QuirkState {
    pub(super) fn new(quirks: Quirks) -> QuirkState {
        QuirkState {
            quirks,
            ..QuirkState::default()
        }
    }

    /// Strip what this server does not keep from a create or replace body.
    pub(super) fn strip_body(&self, kind: Kind, body: &mut Map<String, Value>, create: bool) {
        if create && kind == Kind::Group && self.quirks.drop_group_members_on_create {
            remove_ci(body, "members");
        }
        for drop in &self.quirks.drop_attributes {
            match split(drop, kind.extensions()) {
                (Some(urn), None, _) => {
                    remove_ci(body, &urn);
                    if let Some(Value::Array(s)) = body.get_mut("schemas") {
                        s.retain(|x| !x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(&urn)));
                    }
                }
                (urn, Some(attr), sub) => {
                    let container = match &urn {
                        Some(u) => body
                            .iter_mut()
                            .find(|(k, _)| k.eq_ignore_ascii_case(u))
                            .and_then(|(_, v)| v.as_object_mut()),
                        None => Some(&mut *body),
                    };
                    let Some(container) = container else { continue };
                    match sub {
                        None => remove_ci(container, &attr),
                        Some(sub) => {
                            if let Some((_, Value::Object(o))) = container
                                .iter_mut()
                                .find(|(k, _)| k.eq_ignore_ascii_case(&attr))
                            {
                                remove_ci(o, &sub);
                            }
                        }
                    }
                }
                (None, None, _) => {}
            }
        }
    }

    /// A PATCH's operations without those on dropped attributes (their values stripped of
    /// dropped attributes, for operations without a path).
    pub(super) fn strip_ops(&self, kind: Kind, ops: Vec<PatchOp>) -> Vec<PatchOp> {
        if self.quirks.drop_attributes.is_empty() {
            return ops;
        }
        ops.into_iter()
            .filter_map(|mut op| match &op.path {
                Some(p) => (!self.quirks.drop_attributes.iter().any(|d| under(p, d))).then_some(op),
                None => {
                    if let Some(Value::Object(o)) = op.value.as_mut() {
                        self.strip_body(kind, o, false);
                    }
                    Some(op)
                }
            })
            .collect()
    }

    /// The 501 answer's detail, when this PATCH is one the server does not implement.
    pub(super) fn patch_refused(&self, ops: &[PatchOp]) -> Option<&'static str> {
        if !self.quirks.patch_501_except_active {
            return None;
        }
        let only_active = |op: &PatchOp| match &op.path {
            Some(p) => p.eq_ignore_ascii_case("active"),
            None => op
                .value
                .as_ref()
                .and_then(Value::as_object)
                .is_some_and(|o| o.keys().all(|k| k.eq_ignore_ascii_case("active"))),
        };
        (!ops.iter().all(only_active)).then_some(
            "PATCH is implemented for the active attribute only; replace the resource with PUT.",
        )
    }

    /// Whether filters are refused.
    pub(super) fn refuses_filter(&self, filter: Option<&str>) -> bool {
        self.quirks.no_filter && filter.is_some_and(|f| !f.trim().is_empty())
    }

    /// Record a new object, which lagging reads hide for a while.
    pub(super) fn born(&self, id: &str) {
        if self.quirks.lagging_reads.is_some() {
            let mut born = self.born.lock().unwrap_or_else(|p| p.into_inner());
            born.insert(id.to_string(), Instant::now());
        }
    }

    /// Whether the object `id` is still invisible to reads.
    pub(super) fn hidden(&self, id: &str) -> bool {
        let Some(lag) = self.quirks.lagging_reads else {
            return false;
        };
        let mut born = self.born.lock().unwrap_or_else(|p| p.into_inner());
        match born.get(id) {
            Some(t) if t.elapsed() < lag => true,
            Some(_) => {
                born.remove(id);
                false
            }
            None => false,
        }
    }

    /// Whether the answer to this applied write is to be lost (answered 500 instead).
    pub(super) fn lose_answer(&self) -> bool {
        let n = self.quirks.lose_answers;
        n > 0
            && self
                .lost
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |x| {
                    (x < n).then_some(x + 1)
                })
                .is_ok()
    }

    /// The ServiceProviderConfig as this server tells it.
    pub(super) fn service_provider_config(&self, mut spc: Value) -> Value {
        if self.quirks.no_filter {
            if let Some(f) = spc.get_mut("filter").and_then(Value::as_object_mut) {
                f.insert("supported".into(), Value::Bool(false));
            }
        }
        spc
    }

    /// `/Schemas` without what the server drops.
    pub(super) fn schemas(&self, mut schemas: Vec<Value>) -> Vec<Value> {
        for drop in &self.quirks.drop_attributes {
            let extensions = Kind::User
                .extensions()
                .iter()
                .chain(Kind::Group.extensions());
            let all: Vec<&str> = extensions.copied().collect();
            match split(drop, &all) {
                (Some(urn), None, _) => schemas.retain(|s| {
                    !s.get("id")
                        .and_then(Value::as_str)
                        .is_some_and(|id| id.eq_ignore_ascii_case(&urn))
                }),
                (urn, Some(attr), sub) => {
                    for s in &mut schemas {
                        let id = s.get("id").and_then(Value::as_str).unwrap_or_default();
                        let ours = match &urn {
                            Some(u) => id.eq_ignore_ascii_case(u),
                            // A core attribute: the core schemas (not extensions).
                            None => id.to_ascii_lowercase().contains(":core:"),
                        };
                        if !ours {
                            continue;
                        }
                        let Some(Value::Array(attrs)) = s.get_mut("attributes") else {
                            continue;
                        };
                        let named = |a: &Value, n: &str| {
                            a.get("name")
                                .and_then(Value::as_str)
                                .is_some_and(|x| x.eq_ignore_ascii_case(n))
                        };
                        match &sub {
                            None => attrs.retain(|a| !named(a, &attr)),
                            Some(sub) => {
                                for a in attrs.iter_mut().filter(|a| named(a, &attr)) {
                                    if let Some(Value::Array(subs)) = a.get_mut("subAttributes") {
                                        subs.retain(|x| !named(x, sub));
                                    }
                                }
                            }
                        }
                    }
                }
                (None, None, _) => {}
            }
        }
        schemas
    }

    /// `/ResourceTypes` without the extensions the server drops.
    pub(super) fn resource_types(&self, mut types: Vec<Value>) -> Vec<Value> {
        for t in &mut types {
            if let Some(Value::Array(exts)) = t.get_mut("schemaExtensions") {
                exts.retain(|e| {
                    let urn = e.get("schema").and_then(Value::as_str).unwrap_or_default();
                    !self
                        .quirks
                        .drop_attributes
                        .iter()
                        .any(|d| d.eq_ignore_ascii_case(urn))
                });
            }
        }
        types
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn state(drop: &[&str]) -> QuirkState {
        QuirkState::new(Quirks {
            drop_attributes: drop.iter().map(|d| d.to_string()).collect(),
            ..Quirks::default()
        })
    }

    #[test]
    fn dropped_attributes_leave_bodies_ops_and_schemas() {
        let q = state(&[ENT, "title", "name.middleName"]);
        let mut body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
            "userName": "a", "Title": "x", "name": {"givenName": "A", "middleName": "M"},
            ENT: {"department": "D"}});
        let o = body.as_object_mut().expect("object");
        q.strip_body(Kind::User, o, true);
        assert_eq!(
            body,
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a",
                "name": {"givenName": "A"}})
        );
        let ops = vec![
            PatchOp::replace("title", json!("y")),
            PatchOp::replace(format!("{ENT}:department"), json!("E")),
            PatchOp::replace("displayName", json!("Z")),
        ];
        let kept = q.strip_ops(Kind::User, ops);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].path.as_deref(), Some("displayName"));
        let schemas = q.schemas(crate::emulator::schema::schemas(""));
        assert_eq!(schemas.len(), 2);
        let types = q.resource_types(crate::emulator::schema::resource_types(""));
        assert_eq!(types[0]["schemaExtensions"], json!([]));
        assert!(!under("titles", "title"));
    }

    #[test]
    fn patch_501_spares_active_and_answers_are_lost_n_times() {
        let q = QuirkState::new(Quirks {
            patch_501_except_active: true,
            lose_answers: 2,
            ..Quirks::default()
        });
        assert!(q
            .patch_refused(&[PatchOp::replace("active", json!(false))])
            .is_none());
        assert!(q
            .patch_refused(&[PatchOp::replace("title", json!("x"))])
            .is_some());
        assert!(q.lose_answer() && q.lose_answer() && !q.lose_answer());
    }
}
