//! The PATCH engine (RFC 7644 §3.5.2): `add`, `replace` and `remove` on a resource held as JSON,
//! with plain, sub-attribute, value-filter and URN-qualified paths, and path-less operations
//! whose value is a map of attributes. Dialect rules (what AWS refuses) are checked before this
//! runs; validation of the result (required attributes, uniqueness) after.

use super::filter::{self, AttrPath, Filter, PatchPath};
use super::schema::{self, AttrDef, Kind};
use crate::scim::resource::PatchOp;
use serde_json::{Map, Value};

/// A refused operation: always a 400 with this `scimType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchError {
    pub scim_type: &'static str,
    pub detail: String,
}

impl PatchError {
    fn new(scim_type: &'static str, detail: impl Into<String>) -> Self {
        PatchError {
            scim_type,
            detail: detail.into(),
        }
    }
}

/// The lower-cased op name, or an error for anything else.
pub fn op_name(op: &PatchOp) -> Result<Op, PatchError> {
    match op.op.to_ascii_lowercase().as_str() {
        "add" => Ok(Op::Add),
        "replace" => Ok(Op::Replace),
        "remove" => Ok(Op::Remove),
        other => Err(PatchError::new(
            "invalidSyntax",
            format!("unknown PATCH op {other:?}"),
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Replace,
    Remove,
}

/// Apply every operation in order; on error the resource may be half-changed, so callers patch
/// a copy.
pub fn apply(res: &mut Map<String, Value>, kind: Kind, ops: &[PatchOp]) -> Result<(), PatchError> {
    for op in ops {
        let name = op_name(op)?;
        match &op.path {
            Some(p) if !p.trim().is_empty() => {
                let path =
                    filter::parse_patch_path(p).map_err(|e| PatchError::new("invalidPath", e.0))?;
                apply_path(res, kind, name, &path, op.value.as_ref())?;
            }
            _ => {
                if name == Op::Remove {
                    return Err(PatchError::new("noTarget", "remove requires a path"));
                }
                let Some(Value::Object(map)) = &op.value else {
                    return Err(PatchError::new(
                        "invalidValue",
                        "an operation without a path needs an object value",
                    ));
                };
                for (k, v) in map {
                    if let (Some(urn), Value::Object(sub)) = (schema::known_schema(k), v) {
                        if urn != kind.core_schema() {
                            for (sk, sv) in sub {
                                let path = PatchPath {
                                    attr: AttrPath {
                                        urn: Some(urn.to_string()),
                                        attr: sk.clone(),
                                        sub: None,
                                    },
                                    filter: None,
                                };
                                apply_path(res, kind, name, &path, Some(sv))?;
                            }
                            continue;
                        }
                        // The core schema URN as a key: its members are top-level attributes.
                        for (sk, sv) in sub {
                            let path = PatchPath {
                                attr: filter::parse_attr_path(sk)
                                    .map_err(|e| PatchError::new("invalidPath", e.0))?,
                                filter: None,
                            };
                            apply_path(res, kind, name, &path, Some(sv))?;
                        }
                        continue;
                    }
                    let path = PatchPath {
                        attr: filter::parse_attr_path(k)
                            .map_err(|e| PatchError::new("invalidPath", e.0))?,
                        filter: None,
                    };
                    apply_path(res, kind, name, &path, Some(v))?;
                }
            }
        }
    }
    Ok(())
}

/// Where a path's attribute lives: the schema URN whose definitions apply and, for an
/// extension, the key of its object.
fn resolve_schema(
    kind: Kind,
    path: &AttrPath,
) -> Result<(&'static str, Option<&'static str>), PatchError> {
    match &path.urn {
        None => Ok((kind.core_schema(), None)),
        Some(u) => {
            let urn = schema::known_schema(u)
                .ok_or_else(|| PatchError::new("invalidPath", format!("unknown schema {u}")))?;
            if urn == kind.core_schema() {
                Ok((urn, None))
            } else if kind.extensions().contains(&urn) {
                Ok((urn, Some(urn)))
            } else {
                Err(PatchError::new(
                    "invalidPath",
                    format!("schema {u} does not apply to {}", kind.name()),
                ))
            }
        }
    }
}

fn apply_path(
    res: &mut Map<String, Value>,
    kind: Kind,
    op: Op,
    path: &PatchPath,
    value: Option<&Value>,
) -> Result<(), PatchError> {
    if op != Op::Remove && value.is_none() {
        return Err(PatchError::new(
            "invalidValue",
            "add and replace need a value",
        ));
    }
    // A path naming an extension schema itself (`urn:...:enterprise:2.0:User`) parses as
    // urn `urn:...:2.0` + attr `User`; treat it as the extension object.
    if path.filter.is_none() && path.attr.sub.is_none() {
        let full = path.attr.to_string();
        if let Some(urn) = schema::known_schema(&full) {
            if kind.extensions().contains(&urn) {
                return match (op, value) {
                    (Op::Remove, _) => {
                        res.remove(urn);
                        remove_schema(res, urn);
                        Ok(())
                    }
                    (_, Some(Value::Object(sub))) => {
                        for (sk, sv) in sub {
                            let p = PatchPath {
                                attr: AttrPath {
                                    urn: Some(urn.to_string()),
                                    attr: sk.clone(),
                                    sub: None,
                                },
                                filter: None,
                            };
                            apply_path(res, kind, op, &p, Some(sv))?;
                        }
                        Ok(())
                    }
                    _ => Err(PatchError::new(
                        "invalidValue",
                        "an extension needs an object value",
                    )),
                };
            }
        }
    }
    let (schema_urn, ext) = resolve_schema(kind, &path.attr)?;
    let common = schema::common_attr(&path.attr.attr);
    let def: Option<&AttrDef> = schema::attr_def(schema_urn, &path.attr.attr);
    if let Some(c) = common {
        if matches!(c, "id" | "meta") {
            return Err(PatchError::new("mutability", format!("{c} is read-only")));
        }
        if c == "schemas" {
            // Clients may restate schemas; the emulator keeps its own list consistent.
            return Ok(());
        }
    }
    if def.is_some_and(|d| d.read_only) {
        return Err(PatchError::new(
            "mutability",
            format!("{} is read-only", path.attr.attr),
        ));
    }
    let container: &mut Map<String, Value> = match ext {
        None => res,
        Some(urn) => {
            if op == Op::Remove && !res.contains_key(urn) {
                return Ok(());
            }
            add_schema(res, urn);
            let slot = res
                .entry(urn.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            match slot.as_object_mut() {
                Some(o) => o,
                None => {
                    return Err(PatchError::new(
                        "invalidValue",
                        "extension is not an object",
                    ))
                }
            }
        }
    };
    let attr_name = canonical_key(container, common, def, &path.attr.attr);
    let sub_name = path.attr.sub.as_ref().map(|s| {
        def.and_then(|d| d.sub(s))
            .map(|d| d.name.clone())
            .unwrap_or_else(|| s.clone())
    });
    let multi =
        def.is_some_and(|d| d.multi) || matches!(container.get(&attr_name), Some(Value::Array(_)));
    let result = match &path.filter {
        Some(f) => apply_filtered(container, &attr_name, f, sub_name.as_deref(), op, value),
        None => apply_plain(container, &attr_name, sub_name.as_deref(), multi, op, value),
    };
    if let Some(urn) = ext {
        if res
            .get(urn)
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
        {
            res.remove(urn);
            remove_schema(res, urn);
        }
    }
    result
}

fn canonical_key(
    container: &Map<String, Value>,
    common: Option<&'static str>,
    def: Option<&AttrDef>,
    written: &str,
) -> String {
    if let Some(c) = common {
        return c.to_string();
    }
    if let Some(d) = def {
        return d.name.clone();
    }
    container
        .keys()
        .find(|k| k.eq_ignore_ascii_case(written))
        .cloned()
        .unwrap_or_else(|| written.to_string())
}

fn add_schema(res: &mut Map<String, Value>, urn: &str) {
    if let Some(Value::Array(s)) = res.get_mut("schemas") {
        if !s.iter().any(|v| v.as_str() == Some(urn)) {
            s.push(Value::String(urn.to_string()));
        }
    }
}

fn remove_schema(res: &mut Map<String, Value>, urn: &str) {
    if let Some(Value::Array(s)) = res.get_mut("schemas") {
        s.retain(|v| v.as_str() != Some(urn));
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Two values of a multi-valued attribute are the same value when their `value`s are equal
/// (members, emails) or, without `value`, when they are equal as a whole.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(x), Some(y)) => {
            x == y
                && (a.get("type").is_none()
                    || b.get("type").is_none()
                    || a.get("type") == b.get("type"))
        }
        _ => a == b,
    }
}

/// When a value marked primary is written, the others lose the mark (RFC 7643 §2.4).
fn demote_other_primaries(items: &mut [Value], keep: usize) {
    for (i, item) in items.iter_mut().enumerate() {
        if i != keep {
            if let Some(o) = item.as_object_mut() {
                if o.get("primary") == Some(&Value::Bool(true)) {
                    o.insert("primary".into(), Value::Bool(false));
                }
            }
        }
    }
}

fn fix_primaries(items: &mut [Value]) {
    if let Some(last) = items
        .iter()
        .rposition(|v| v.get("primary") == Some(&Value::Bool(true)))
    {
        demote_other_primaries(items, last);
    }
}

fn apply_plain(
    container: &mut Map<String, Value>,
    attr: &str,
    sub: Option<&str>,
    multi: bool,
    op: Op,
    value: Option<&Value>,
) -> Result<(), PatchError> {
    match (op, sub) {
        (Op::Remove, None) => {
            match (value, container.get_mut(attr)) {
                // Azure style: remove the listed values from a multi-valued attribute.
                (Some(v), Some(Value::Array(items))) if !is_empty(v) => {
                    let gone: Vec<Value> = match v {
                        Value::Array(a) => a.clone(),
                        other => vec![other.clone()],
                    };
                    items.retain(|item| {
                        !gone
                            .iter()
                            .any(|g| same_value(g, item) || same_value(item, g))
                    });
                    if items.is_empty() {
                        container.remove(attr);
                    }
                }
                _ => {
                    container.remove(attr);
                }
            }
            Ok(())
        }
        (Op::Remove, Some(sub)) => {
            match container.get_mut(attr) {
                Some(Value::Object(o)) => {
                    o.remove(sub);
                    if o.is_empty() {
                        container.remove(attr);
                    }
                }
                Some(Value::Array(items)) => {
                    for item in items.iter_mut() {
                        if let Some(o) = item.as_object_mut() {
                            o.remove(sub);
                        }
                    }
                }
                _ => {}
            }
            Ok(())
        }
        (_, Some(sub)) => {
            let value = value.cloned().unwrap_or(Value::Null);
            if multi {
                // `emails.value` without a filter targets every value; allow it only when there
                // is exactly one, which is what clients mean by it.
                match container.get_mut(attr) {
                    Some(Value::Array(items)) if items.len() == 1 => {
                        if let Some(o) = items[0].as_object_mut() {
                            o.insert(sub.to_string(), value);
                        }
                        return Ok(());
                    }
                    _ => {
                        return Err(PatchError::new(
                            "invalidPath",
                            format!("{attr}.{sub} needs a value filter"),
                        ))
                    }
                }
            }
            let slot = container
                .entry(attr.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Some(o) = slot.as_object_mut() {
                if value.is_null() {
                    o.remove(sub);
                } else {
                    o.insert(sub.to_string(), value);
                }
            }
            Ok(())
        }
        (op, None) => {
            let value = value.cloned().unwrap_or(Value::Null);
            if value.is_null() {
                container.remove(attr);
                return Ok(());
            }
            if multi {
                let new: Vec<Value> = match value {
                    Value::Array(a) => a,
                    other => vec![other],
                };
                let mut items = match (op, container.remove(attr)) {
                    (Op::Add, Some(Value::Array(a))) => a,
                    _ => Vec::new(),
                };
                for v in new {
                    if let Some(pos) = items.iter().position(|i| same_value(i, &v)) {
                        merge_into(&mut items[pos], v);
                    } else {
                        items.push(v);
                    }
                }
                fix_primaries(&mut items);
                if !items.is_empty() {
                    container.insert(attr.to_string(), Value::Array(items));
                }
                return Ok(());
            }
            match (container.get_mut(attr), value) {
                (Some(existing @ Value::Object(_)), Value::Object(new)) => {
                    merge_into(existing, Value::Object(new));
                    if is_empty(existing) {
                        container.remove(attr);
                    }
                }
                (_, v) => {
                    container.insert(attr.to_string(), v);
                }
            }
            Ok(())
        }
    }
}

/// Merge an object into another (sub-attributes not named are kept); other values replace.
fn merge_into(target: &mut Value, new: Value) {
    match (target.as_object_mut(), new) {
        (Some(t), Value::Object(n)) => {
            for (k, v) in n {
                if v.is_null() {
                    t.remove(&k);
                } else {
                    t.insert(k, v);
                }
            }
        }
        (_, n) => *target = n,
    }
}

fn apply_filtered(
    container: &mut Map<String, Value>,
    attr: &str,
    f: &Filter,
    sub: Option<&str>,
    op: Op,
    value: Option<&Value>,
) -> Result<(), PatchError> {
    let items = match container.get_mut(attr) {
        Some(Value::Array(items)) => items,
        _ if op == Op::Remove => return Ok(()),
        _ => {
            return Err(PatchError::new(
                "noTarget",
                format!("{attr} has no values matching the filter"),
            ))
        }
    };
    let wrapper_matches = |item: &Value| {
        let mut m = Map::new();
        m.insert(attr.to_string(), Value::Array(vec![item.clone()]));
        filter::matches(
            &Filter::ValuePath {
                path: AttrPath {
                    urn: None,
                    attr: attr.to_string(),
                    sub: None,
                },
                filter: Box::new(f.clone()),
            },
            &m,
        )
    };
    let hits: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| wrapper_matches(item))
        .map(|(i, _)| i)
        .collect();
    match op {
        Op::Remove => {
            match sub {
                None => {
                    let mut i = 0;
                    items.retain(|_| {
                        let keep = !hits.contains(&i);
                        i += 1;
                        keep
                    });
                }
                Some(sub) => {
                    for &i in &hits {
                        if let Some(o) = items[i].as_object_mut() {
                            o.remove(sub);
                        }
                    }
                }
            }
            if items.is_empty() {
                container.remove(attr);
            }
            Ok(())
        }
        Op::Add | Op::Replace => {
            if hits.is_empty() {
                return Err(PatchError::new(
                    "noTarget",
                    format!("{attr} has no values matching the filter"),
                ));
            }
            let value = value.cloned().unwrap_or(Value::Null);
            for &i in &hits {
                match sub {
                    Some(sub) => {
                        if let Some(o) = items[i].as_object_mut() {
                            o.insert(sub.to_string(), value.clone());
                        }
                    }
                    None => merge_into(&mut items[i], value.clone()),
                }
            }
            if value.get("primary") == Some(&Value::Bool(true))
                || (sub == Some("primary") && value == Value::Bool(true))
            {
                if let Some(&last) = hits.last() {
                    demote_other_primaries(items, last);
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn user() -> Map<String, Value> {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "u1",
            "userName": "alice",
            "name": {"givenName": "Alice", "familyName": "Smith"},
            "emails": [
                {"value": "alice@work.example", "type": "work", "primary": true},
                {"value": "alice@home.example", "type": "home"}
            ]
        })
        .as_object()
        .cloned()
        .expect("object")
    }

    fn run(res: &mut Map<String, Value>, kind: Kind, ops: Value) -> Result<(), PatchError> {
        let ops: Vec<PatchOp> = serde_json::from_value(ops).expect("ops");
        apply(res, kind, &ops)
    }

    #[test]
    fn simple_paths_and_case_insensitive_ops() {
        let mut u = user();
        run(
            &mut u,
            Kind::User,
            json!([
                {"op": "Replace", "path": "DISPLAYNAME", "value": "Al"},
                {"op": "ADD", "path": "name.middleName", "value": "J"},
                {"op": "remove", "path": "name.familyName"},
                {"op": "replace", "path": "active", "value": false}
            ]),
        )
        .expect("patch");
        assert_eq!(u["displayName"], "Al");
        assert_eq!(u["name"], json!({"givenName": "Alice", "middleName": "J"}));
        assert_eq!(u["active"], false);
    }

    #[test]
    fn filtered_paths() {
        let mut u = user();
        run(&mut u, Kind::User, json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@work.example"}
        ])).expect("patch");
        assert_eq!(u["emails"][0]["value"], "new@work.example");
        run(
            &mut u,
            Kind::User,
            json!([
                {"op": "remove", "path": "emails[type eq \"home\"]"}
            ]),
        )
        .expect("patch");
        assert_eq!(u["emails"].as_array().map(Vec::len), Some(1));
        let err = run(
            &mut u,
            Kind::User,
            json!([
                {"op": "replace", "path": "emails[type eq \"other\"].value", "value": "x"}
            ]),
        )
        .expect_err("no target");
        assert_eq!(err.scim_type, "noTarget");
    }

    #[test]
    fn urn_paths_and_pathless_maps() {
        let mut u = user();
        run(
            &mut u,
            Kind::User,
            json!([
                {"op": "add", "path": format!("{ENT}:department"), "value": "Ops"},
                {"op": "replace", "path": format!("{ENT}:manager.value"), "value": "m1"}
            ]),
        )
        .expect("patch");
        assert_eq!(
            u[ENT],
            json!({"department": "Ops", "manager": {"value": "m1"}})
        );
        assert!(u["schemas"]
            .as_array()
            .is_some_and(|s| s.contains(&json!(ENT))));
        run(&mut u, Kind::User, json!([
            {"op": "replace", "value": {"title": "Boss", "name": {"givenName": "Al"}, ENT: {"department": "Eng"}}}
        ])).expect("patch");
        assert_eq!(u["title"], "Boss");
        assert_eq!(u["name"]["familyName"], "Smith", "complex replace merges");
        assert_eq!(u[ENT]["department"], "Eng");
        run(
            &mut u,
            Kind::User,
            json!([
                {"op": "remove", "path": format!("{ENT}:department")},
                {"op": "remove", "path": format!("{ENT}:manager")}
            ]),
        )
        .expect("patch");
        assert!(u.get(ENT).is_none(), "empty extension removed");
    }

    #[test]
    fn members_add_remove_both_styles() {
        let mut g = json!({"schemas": [], "id": "g1", "displayName": "G"})
            .as_object()
            .cloned()
            .expect("object");
        run(&mut g, Kind::Group, json!([
            {"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}, {"value": "c"}]},
            {"op": "add", "path": "members", "value": [{"value": "a"}]}
        ])).expect("patch");
        assert_eq!(
            g["members"].as_array().map(Vec::len),
            Some(3),
            "no duplicates"
        );
        run(
            &mut g,
            Kind::Group,
            json!([
                {"op": "remove", "path": "members[value eq \"a\"]"},
                {"op": "remove", "path": "members", "value": [{"value": "b"}]}
            ]),
        )
        .expect("patch");
        assert_eq!(g["members"], json!([{"value": "c"}]));
        run(
            &mut g,
            Kind::Group,
            json!([{"op": "replace", "path": "members", "value": [{"value": "d"}]}]),
        )
        .expect("patch");
        assert_eq!(g["members"], json!([{"value": "d"}]));
        run(
            &mut g,
            Kind::Group,
            json!([{"op": "remove", "path": "members"}]),
        )
        .expect("patch");
        assert!(g.get("members").is_none());
    }

    #[test]
    fn refusals() {
        let mut u = user();
        for (ops, kind) in [
            (
                json!([{"op": "replace", "path": "id", "value": "x"}]),
                "mutability",
            ),
            (
                json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
                "mutability",
            ),
            (json!([{"op": "remove"}]), "noTarget"),
            (
                json!([{"op": "move", "path": "title", "value": "x"}]),
                "invalidSyntax",
            ),
            (json!([{"op": "add", "path": "title"}]), "invalidValue"),
            (
                json!([{"op": "add", "path": "emails[type eq", "value": "x"}]),
                "invalidPath",
            ),
        ] {
            let err = run(&mut u, Kind::User, ops.clone()).expect_err("refused");
            assert_eq!(err.scim_type, kind, "{ops}");
        }
    }

    #[test]
    fn primary_moves() {
        let mut u = user();
        run(&mut u, Kind::User, json!([
            {"op": "add", "path": "emails", "value": [{"value": "x@y.example", "type": "other", "primary": true}]}
        ])).expect("patch");
        let prim: Vec<bool> = u["emails"]
            .as_array()
            .expect("emails")
            .iter()
            .map(|e| e.get("primary") == Some(&json!(true)))
            .collect();
        assert_eq!(prim, vec![false, false, true]);
    }
}
