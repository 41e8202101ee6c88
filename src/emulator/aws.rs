//! The rules of the `aws-identity-center` dialect: what AWS IAM Identity Center's SCIM endpoint
//! refuses (docs/contract.md#aws-iam-identity-center). Each check returns the `detail` of
//! a 400 ValidationException; the server wraps it in AWS's error shape.

use super::filter::{AttrPath, CompOp, Filter};
use super::patch::{op_name, Op};
use super::schema::Kind;
use crate::scim::resource::{PatchOp, ENTERPRISE_USER_SCHEMA};
use serde_json::{Map, Value};

/// AWS's catch-all validation message.
pub const UNPARSABLE: &str = "Request is unparsable, syntactically incorrect, or violates schema.";
pub const NO_MEMBER_REPLACE: &str = "Replacing group memberships is not supported.";
/// Most member operations in one CreateGroup or PatchGroup.
pub const MAX_MEMBER_OPS: usize = 100;

/// Check a filter and rewrite AWS's short `manager` into the enterprise attribute.
pub fn check_filter(kind: Kind, f: &Filter) -> Result<Filter, String> {
    match f {
        Filter::And(a, b) => Ok(Filter::And(
            Box::new(check_filter(kind, a)?),
            Box::new(check_filter(kind, b)?),
        )),
        Filter::Compare {
            path,
            op: CompOp::Eq,
            value: value @ Value::String(_),
        } => {
            let key = path.key();
            let ok = match kind {
                Kind::User => [
                    "username",
                    "externalid",
                    "groups.value",
                    "id",
                    "manager",
                    "manager.value",
                ]
                .contains(&key.as_str()),
                Kind::Group => {
                    ["displayname", "externalid", "members.value", "id"].contains(&key.as_str())
                }
            };
            if !ok {
                return Err(UNPARSABLE.into());
            }
            let path = if key.starts_with("manager") {
                AttrPath {
                    urn: Some(ENTERPRISE_USER_SCHEMA.into()),
                    attr: "manager".into(),
                    sub: Some("value".into()),
                }
            } else {
                path.clone()
            };
            Ok(Filter::Compare {
                path,
                op: CompOp::Eq,
                value: value.clone(),
            })
        }
        _ => Err(UNPARSABLE.into()),
    }
}

fn count_of(res: &Map<String, Value>, key: &str) -> usize {
    match res.get(key) {
        Some(Value::Array(a)) => a.len(),
        Some(Value::Null) | None => 0,
        Some(_) => 1,
    }
}

fn nonempty(v: Option<&Value>) -> bool {
    v.and_then(Value::as_str)
        .is_some_and(|s| !s.trim().is_empty())
}

/// A user body as CreateUser / PutUser accept it (and a user after PATCH).
pub fn check_user(res: &Map<String, Value>, creating: bool) -> Result<(), String> {
    if res.contains_key("password") {
        return Err("The attribute password is not supported.".into());
    }
    for unsupported in ["ims", "photos", "x509Certificates", "entitlements"] {
        if res.contains_key(unsupported) {
            return Err(format!("The attribute {unsupported} is not supported."));
        }
    }
    if creating && res.contains_key("groups") {
        return Err("The attribute groups cannot be set on a user.".into());
    }
    let user_name = res
        .get("userName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if user_name.trim().is_empty() {
        return Err("userName is required.".into());
    }
    if user_name.chars().count() > 128 {
        return Err("userName must be at most 128 characters.".into());
    }
    if ["administrator", "awsadministrators"].contains(&user_name.to_lowercase().as_str()) {
        return Err(format!("userName {user_name} is reserved."));
    }
    if user_name.chars().any(|c| "<>;:%\t\n\r".contains(c)) {
        return Err("userName contains a character that is not allowed.".into());
    }
    let name = res.get("name").and_then(Value::as_object);
    if !nonempty(name.and_then(|n| n.get("givenName"))) {
        return Err("name.givenName is required.".into());
    }
    if !nonempty(name.and_then(|n| n.get("familyName"))) {
        return Err("name.familyName is required.".into());
    }
    if !nonempty(res.get("displayName")) {
        return Err("displayName is required.".into());
    }
    for key in ["emails", "phoneNumbers", "addresses", "roles"] {
        if count_of(res, key) > 1 {
            return Err(format!("Only one value is supported for {key}."));
        }
    }
    if let Some(Value::Array(emails)) = res.get("emails") {
        if emails
            .iter()
            .any(|e| e.get("primary") != Some(&Value::Bool(true)))
        {
            return Err("The email must be marked primary.".into());
        }
    }
    Ok(())
}

/// A group body as CreateGroup accepts it.
pub fn check_group_create(res: &Map<String, Value>) -> Result<(), String> {
    if !nonempty(res.get("displayName")) {
        return Err("displayName is required.".into());
    }
    if count_of(res, "members") > MAX_MEMBER_OPS {
        return Err(UNPARSABLE.into());
    }
    Ok(())
}

/// AWS accepts only `eq` (joined by `and`) inside a PATCH path's value filter.
fn check_path_filter(op: &PatchOp) -> Result<(), String> {
    let Some(path) = op.path.as_deref().filter(|p| p.contains('[')) else {
        return Ok(());
    };
    let parsed = super::filter::parse_patch_path(path).map_err(|_| UNPARSABLE.to_string())?;
    fn eq_only(f: &Filter) -> bool {
        match f {
            Filter::Compare { op: CompOp::Eq, .. } => true,
            Filter::And(a, b) => eq_only(a) && eq_only(b),
            _ => false,
        }
    }
    match parsed.filter {
        Some(f) if !eq_only(&f) => Err(UNPARSABLE.into()),
        _ => Ok(()),
    }
}

fn path_attr(op: &PatchOp) -> String {
    op.path
        .as_deref()
        .unwrap_or_default()
        .split(['[', '.'])
        .next()
        .unwrap_or_default()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// PatchUser's rules: no two operations on `active` or `userName`, neither removed; add and
/// replace need a value, remove needs a path.
pub fn check_user_patch(ops: &[PatchOp]) -> Result<(), String> {
    let mut active = 0;
    let mut user_name = 0;
    for op in ops {
        let name = op_name(op).map_err(|e| e.detail)?;
        check_path_filter(op)?;
        let attrs: Vec<String> = match (&op.path, &op.value) {
            (Some(_), _) => vec![path_attr(op)],
            (None, Some(Value::Object(m))) => m.keys().map(|k| k.to_ascii_lowercase()).collect(),
            (None, _) => return Err(UNPARSABLE.into()),
        };
        if name != Op::Remove && op.value.is_none() {
            return Err(UNPARSABLE.into());
        }
        for a in attrs {
            if a == "active" {
                active += 1;
            }
            if a == "username" {
                user_name += 1;
            }
            if name == Op::Remove && (a == "active" || a == "username") {
                return Err(format!("The attribute {a} cannot be removed."));
            }
            if a == "password" || a == "groups" {
                return Err(format!("The attribute {a} is not supported."));
            }
        }
    }
    if active > 1 || user_name > 1 {
        return Err(
            "Multiple operations on the same attribute (active or userName) are not supported."
                .into(),
        );
    }
    Ok(())
}

/// PatchGroup's rules: only displayName, externalId and members; at most 100 member operations;
/// no replace of members and no remove of all members.
pub fn check_group_patch(ops: &[PatchOp]) -> Result<(), String> {
    let mut member_ops = 0usize;
    for op in ops {
        let name = op_name(op).map_err(|e| e.detail)?;
        check_path_filter(op)?;
        let (attrs, values): (Vec<String>, Option<&Value>) = match (&op.path, &op.value) {
            (Some(_), v) => (vec![path_attr(op)], v.as_ref()),
            (None, Some(Value::Object(m))) => (
                m.keys().map(|k| k.to_ascii_lowercase()).collect(),
                m.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("members"))
                    .map(|(_, v)| v),
            ),
            (None, _) => return Err(UNPARSABLE.into()),
        };
        for a in &attrs {
            if !["displayname", "externalid", "members"].contains(&a.as_str()) {
                return Err(format!("The attribute {a} cannot be modified on a group."));
            }
        }
        if attrs.iter().any(|a| a == "members") {
            let filtered = op.path.as_deref().is_some_and(|p| p.contains('['));
            if name == Op::Replace {
                return Err(NO_MEMBER_REPLACE.into());
            }
            if name == Op::Remove
                && !filtered
                && values.is_none_or(|v| v.is_null() || v.as_array().is_some_and(Vec::is_empty))
            {
                return Err(NO_MEMBER_REPLACE.into());
            }
            member_ops += match values {
                Some(Value::Array(a)) => a.len(),
                _ => 1,
            };
        }
        if name != Op::Remove && op.value.is_none() {
            return Err(UNPARSABLE.into());
        }
    }
    if member_ops > MAX_MEMBER_OPS {
        return Err(UNPARSABLE.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::filter::parse_filter;
    use serde_json::json;

    fn ops(v: Value) -> Vec<PatchOp> {
        serde_json::from_value(v).expect("ops")
    }

    #[test]
    fn filters_only_eq_and() {
        let ok = |k, f| check_filter(k, &parse_filter(f).expect("parse")).is_ok();
        assert!(ok(Kind::User, r#"userName eq "a""#));
        assert!(ok(Kind::User, r#"id eq "a" and manager eq "b""#));
        assert!(ok(Kind::User, r#"groups.value eq "g""#));
        assert!(ok(Kind::Group, r#"members.value eq "u""#));
        assert!(!ok(Kind::User, r#"userName sw "a""#));
        assert!(!ok(Kind::User, r#"userName eq "a" or userName eq "b""#));
        assert!(!ok(Kind::User, r#"title eq "a""#));
        assert!(!ok(Kind::Group, r#"not (displayName eq "a")"#));
    }

    #[test]
    fn user_rules() {
        let base = json!({"userName": "a", "displayName": "A", "name": {"givenName": "A", "familyName": "B"},
            "emails": [{"value": "a@x", "type": "work", "primary": true}]});
        let check = |patch: Value| {
            let mut u = base.as_object().cloned().expect("obj");
            for (k, v) in patch.as_object().cloned().expect("obj") {
                u.insert(k, v);
            }
            check_user(&u, true)
        };
        assert!(check(json!({})).is_ok());
        assert!(check(json!({"password": "x"})).is_err());
        assert!(check(json!({"emails": [{"value": "a@x", "primary": true}, {"value": "b@x", "primary": false}]})).is_err());
        assert!(check(json!({"emails": [{"value": "a@x"}]})).is_err());
        assert!(check(json!({"userName": "x".repeat(129)})).is_err());
        assert!(check(json!({"userName": "AWSAdministrators"})).is_err());
        assert!(check(json!({"displayName": null})).is_err());
        assert!(check(json!({"name": {"givenName": "A"}})).is_err());
    }

    #[test]
    fn patch_rules() {
        assert!(check_user_patch(&ops(
            json!([{"op": "replace", "path": "active", "value": false}])
        ))
        .is_ok());
        assert!(check_user_patch(&ops(json!([
            {"op": "replace", "path": "active", "value": false},
            {"op": "replace", "value": {"active": true}}
        ])))
        .is_err());
        assert!(check_user_patch(&ops(json!([{"op": "remove", "path": "userName"}]))).is_err());
        assert!(check_group_patch(&ops(
            json!([{"op": "add", "path": "members", "value": [{"value": "u"}]}])
        ))
        .is_ok());
        assert!(check_group_patch(&ops(
            json!([{"op": "remove", "path": "members[value eq \"u\"]"}])
        ))
        .is_ok());
        assert!(check_group_patch(&ops(
            json!([{"op": "replace", "path": "members", "value": []}])
        ))
        .is_err());
        assert!(check_group_patch(&ops(json!([{"op": "remove", "path": "members"}]))).is_err());
        assert!(check_group_patch(&ops(
            json!([{"op": "remove", "path": "members[value ne \"u\"]"}])
        ))
        .is_err());
        assert!(check_user_patch(&ops(
            json!([{"op": "replace", "path": "emails[type co \"w\"].value", "value": "x"}])
        ))
        .is_err());
        assert!(check_user_patch(&ops(
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "x"}])
        ))
        .is_ok());
        let many: Vec<Value> = (0..101)
            .map(|i| json!({"value": format!("u{i}")}))
            .collect();
        assert!(check_group_patch(&ops(
            json!([{"op": "add", "path": "members", "value": many}])
        ))
        .is_err());
        assert!(check_group_patch(&ops(
            json!([{"op": "replace", "path": "description", "value": "x"}])
        ))
        .is_err());
    }
}
