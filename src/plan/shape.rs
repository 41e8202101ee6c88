//! Shaping planned writes into the requests a dialect accepts.
//!
//! Membership: AWS takes at most 100 member operations per PATCH and per create, and refuses a
//! replace-all or remove-all of members, so adds travel as `add` of a value list per chunk and
//! each removal as its own `remove` with a `members[value eq "ID"]` filter (the form every server
//! accepts). The chunking itself is `scim::dialect::member_value_patches`, which the client uses
//! too, so planner and client agree; member values here may be `{"$user_ref": ADDRESS}`
//! placeholders for users this plan creates.
//!
//! Attributes: one operation per mapped path. A filtered multi-valued path such as
//! `emails[primary eq true].value` can only be replaced when an element matches the filter
//! (RFC 7644 §3.5.2.3 answers `noTarget` otherwise), so a missing element is added whole; AWS
//! keeps one email, written as `{value, type: "work", primary: true}`.

use super::document::Operation;
use crate::mapping::AttrPath;
use crate::scim::dialect::{capabilities, member_value_patches, Dialect};
use crate::scim::resource::PatchOp;
use serde_json::{json, Map, Value};

/// Members allowed in a group's create body; `None` = no limit.
pub fn create_member_limit(dialect: Dialect) -> Option<usize> {
    capabilities(dialect).max_member_ops_per_request
}

/// A member value: `{"value": ID}`, or `{"value": {"$user_ref": ADDRESS}}` for a user this plan
/// creates (apply substitutes the id).
pub fn member_value(id: Option<&str>, created_by: Option<&str>) -> Value {
    match (id, created_by) {
        (Some(id), _) => json!({ "value": id }),
        (None, Some(addr)) => json!({ "value": { "$user_ref": addr } }),
        (None, None) => json!({ "value": null }),
    }
}

/// PATCH requests adding `values` (member values as built by [`member_value`]).
pub fn add_member_patches(dialect: Dialect, values: Vec<Value>) -> Vec<Operation> {
    member_value_patches(dialect, values, &[])
        .into_iter()
        .map(|r| Operation::Patch { ops: r.operations })
        .collect()
}

/// PATCH requests removing the members with these ids, one operation each.
pub fn remove_member_patches(dialect: Dialect, ids: &[&str]) -> Vec<Operation> {
    member_value_patches(dialect, Vec::new(), ids)
        .into_iter()
        .map(|r| Operation::Patch { ops: r.operations })
        .collect()
}

/// The operation that brings the attribute at `path` from its live value to `desired`
/// (`None`: remove it).
pub fn attribute_op(
    dialect: Dialect,
    path: &AttrPath,
    live: &Value,
    desired: Option<Value>,
) -> PatchOp {
    let whole_element = || AttrPath {
        sub: None,
        ..path.clone()
    };
    let Some(v) = desired else {
        if !path.filter.is_empty() {
            // Removing `emails[primary eq true].value` would leave an element with no value:
            // remove the element.
            return PatchOp::remove(whole_element().patch_path());
        }
        return PatchOp::remove(path.patch_path());
    };
    if path.filter.is_empty() || whole_element().get(live).is_some() {
        return PatchOp::replace(path.patch_path(), v);
    }
    // No element matches the filter: write one whole.
    let mut m = Map::new();
    path.set(&mut m, v);
    let attr_only = AttrPath {
        filter: Vec::new(),
        sub: None,
        ..path.clone()
    };
    let mut elem = m
        .into_iter()
        .find_map(|(_, v)| match v {
            // The extension object, when the path is URN-qualified.
            Value::Object(o) if path.schema.is_some() => {
                o.into_iter().find_map(|(_, v)| v.as_array().cloned())
            }
            Value::Array(a) => Some(a),
            _ => None,
        })
        .unwrap_or_default();
    if dialect == Dialect::AwsIdentityCenter && path.attr.eq_ignore_ascii_case("emails") {
        for e in &mut elem {
            if let Value::Object(o) = e {
                o.entry("type").or_insert_with(|| json!("work"));
                o.insert("primary".into(), Value::Bool(true));
            }
        }
        // AWS holds one email: replace the list rather than add a second.
        return PatchOp::replace(attr_only.patch_path(), Value::Array(elem));
    }
    PatchOp::add(attr_only.patch_path(), Value::Array(elem))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> AttrPath {
        AttrPath::parse(s).expect("path")
    }

    #[test]
    fn aws_adds_in_chunks_of_100() {
        let values: Vec<Value> = (0..250)
            .map(|i| member_value(Some(&format!("u{i}")), None))
            .collect();
        let ops = add_member_patches(Dialect::AwsIdentityCenter, values);
        let sizes: Vec<usize> = ops
            .iter()
            .map(|o| match o {
                Operation::Patch { ops } => ops[0]
                    .value
                    .as_ref()
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len),
                _ => 0,
            })
            .collect();
        assert_eq!(sizes, vec![100, 100, 50]);
        let removes = remove_member_patches(Dialect::AwsIdentityCenter, &["a"; 101]);
        assert_eq!(removes.len(), 2);
        match &removes[0] {
            Operation::Patch { ops } => {
                assert_eq!(ops.len(), 100);
                assert_eq!(ops[0].path.as_deref(), Some("members[value eq \"a\"]"));
                assert_eq!(ops[0].op, "remove");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn filtered_paths_replace_when_an_element_matches_and_add_otherwise() {
        let path = p("emails[primary eq true].value");
        let live = json!({"emails":[{"value":"a@x","primary":true}]});
        let op = attribute_op(Dialect::Generic, &path, &live, Some(json!("b@x")));
        assert_eq!(
            op,
            PatchOp::replace("emails[primary eq true].value", json!("b@x"))
        );
        let op = attribute_op(Dialect::Generic, &path, &json!({}), Some(json!("b@x")));
        assert_eq!(
            op,
            PatchOp::add("emails", json!([{"value":"b@x","primary":true}]))
        );
        let op = attribute_op(
            Dialect::AwsIdentityCenter,
            &path,
            &json!({}),
            Some(json!("b@x")),
        );
        assert_eq!(
            op,
            PatchOp::replace(
                "emails",
                json!([{"value":"b@x","primary":true,"type":"work"}])
            )
        );
        let op = attribute_op(Dialect::Generic, &path, &live, None);
        assert_eq!(op, PatchOp::remove("emails[primary eq true]"));
        let op = attribute_op(Dialect::Generic, &p("name.givenName"), &live, None);
        assert_eq!(op, PatchOp::remove("name.givenName"));
    }
}
