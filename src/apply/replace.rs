//! PATCH carried out as a read-modify-write PUT, for targets that do not support PATCH (their
//! ServiceProviderConfig says so, or they answer 501): the object is read, the PATCH's operations
//! are applied to it here, and the whole object is sent back with `If-Match` on the version just
//! read when the target has ETags (docs/contract.md#servers-that-keep-less).
//!
//! The operations are the ones roster's planner writes (`add`/`replace`/`remove` at a mapping's
//! attribute path, member adds as a value list and removals as `members[value eq "ID"]`), so this
//! is not a general PATCH engine: it applies exactly that subset, the way RFC 7644 §3.5.2 says.

use crate::mapping::AttrPath;
use crate::scim::resource::PatchOp;
use serde_json::{Map, Value};

/// The key of `o` equal to `key` ignoring case.
fn key_ci(o: &Map<String, Value>, key: &str) -> Option<String> {
    o.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
}

/// Whether a multi-valued element satisfies a path's `[a eq v and ...]` filter (strings compare
/// ignoring case, as `eq` does on the sub-attributes mappings select by).
fn matches(filter: &[(String, Value)], elem: &Value) -> bool {
    let Some(o) = elem.as_object() else {
        return false;
    };
    filter.iter().all(|(k, want)| {
        let have = key_ci(o, k).and_then(|k| o.get(&k));
        match (have, want) {
            (Some(Value::String(a)), Value::String(b)) => a.eq_ignore_ascii_case(b),
            (Some(a), b) => a == b,
            (None, _) => false,
        }
    })
}

/// The object an attribute path is written in: the resource, or its extension object.
fn container<'a>(
    res: &'a mut Map<String, Value>,
    p: &AttrPath,
) -> Option<&'a mut Map<String, Value>> {
    match &p.schema {
        None => Some(res),
        Some(urn) => {
            let key = key_ci(res, urn)?;
            res.get_mut(&key)?.as_object_mut()
        }
    }
}

fn remove(res: &mut Map<String, Value>, p: &AttrPath) {
    let Some(c) = container(res, p) else { return };
    let Some(key) = key_ci(c, &p.attr) else {
        return;
    };
    if p.filter.is_empty() {
        match &p.sub {
            None => {
                c.shift_remove(&key);
            }
            Some(sub) => {
                if let Some(Value::Object(o)) = c.get_mut(&key) {
                    if let Some(k) = key_ci(o, sub) {
                        o.shift_remove(&k);
                    }
                }
            }
        }
        return;
    }
    let Some(Value::Array(items)) = c.get_mut(&key) else {
        return;
    };
    match &p.sub {
        None => items.retain(|e| !matches(&p.filter, e)),
        Some(sub) => {
            for e in items.iter_mut().filter(|e| matches(&p.filter, e)) {
                if let Some(o) = e.as_object_mut() {
                    if let Some(k) = key_ci(o, sub) {
                        o.shift_remove(&k);
                    }
                }
            }
        }
    }
}

/// `add` of values to a multi-valued attribute without a filter: appended, each once.
fn append(res: &mut Map<String, Value>, p: &AttrPath, values: Vec<Value>) {
    let Some(c) = container(res, p) else { return };
    let key = key_ci(c, &p.attr).unwrap_or_else(|| p.attr.clone());
    let slot = c.entry(key).or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    if let Value::Array(items) = slot {
        for v in values {
            if !items.contains(&v) {
                items.push(v);
            }
        }
    }
}

/// Apply a PATCH's operations to a resource read from the target.
pub fn apply_ops(res: &mut Map<String, Value>, ops: &[PatchOp]) -> Result<(), String> {
    for op in ops {
        let name = op.op.to_ascii_lowercase();
        let Some(path) = op.path.as_deref() else {
            // Without a path the value is an object of attributes to set.
            if name == "remove" {
                return Err("a remove operation needs a path".into());
            }
            if let Some(Value::Object(o)) = &op.value {
                for (k, v) in o {
                    let key = key_ci(res, k).unwrap_or_else(|| k.clone());
                    res.insert(key, v.clone());
                }
            }
            continue;
        };
        let p = AttrPath::parse(path)?;
        match (name.as_str(), op.value.clone()) {
            ("remove", _) => remove(res, &p),
            ("add", Some(Value::Array(values))) if p.filter.is_empty() && p.sub.is_none() => {
                append(res, &p, values)
            }
            ("add" | "replace", Some(v)) => p.set(res, v),
            (other, _) => {
                return Err(format!(
                    "cannot replay the PATCH operation {other:?} as PUT"
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn planner_operations_replay_onto_the_resource() {
        let mut res = json!({"id": "u1", "userName": "a", "title": "Old",
            "emails": [{"type": "work", "value": "a@x", "primary": true}],
            "members": [{"value": "x"}, {"value": "y"}]});
        let o = res.as_object_mut().expect("object");
        let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        apply_ops(
            o,
            &[
                PatchOp::replace("title", json!("New")),
                PatchOp::replace("emails[type eq \"work\"].value", json!("b@x")),
                PatchOp::replace(format!("{ent}:department"), json!("D")),
                PatchOp::add("members", json!([{"value": "y"}, {"value": "z"}])),
                PatchOp::remove("members[value eq \"x\"]"),
                PatchOp::remove("nickName"),
            ],
        )
        .expect("applies");
        assert_eq!(res["title"], "New");
        assert_eq!(res["emails"][0]["value"], "b@x");
        assert_eq!(res[ent]["department"], "D");
        assert_eq!(res["members"], json!([{"value": "y"}, {"value": "z"}]));
    }
}
