//! The config digest a saved plan records, so that `apply PLAN_FILE` can refuse a plan made from
//! another configuration. It is taken over the resolved configuration (the loaded model, as
//! canonical JSON), not over the files' text: a comment, a reordering of keys, another spelling
//! of an include path or a checkout elsewhere must not make a reviewed plan stale (docs/contract.md#stale-plans).
//! Source positions are left out for the same reason: they move when a comment is added.

use super::document::write_canonical;
use crate::config::{
    model::FieldValue, AuthSource, Desired, Endpoint, Group, MappingRule, Names, Policy, Target,
    User,
};
use serde_json::{json, Value};
use std::path::Path;

/// `sha256:` over the canonical JSON of the resolved configuration. The JSON is hashed as it is
/// written, one user or group at a time: the whole model as one value was once the largest thing
/// a plan of 100,000 users held (twice the size of the users themselves).
pub fn config_digest(desired: &Desired) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut put = |s: &str| hasher.update(s.as_bytes());
    // The keys of the top-level object in canonical (sorted) order.
    put("{\"groups\":");
    canonical_list(desired.groups.iter().map(group), &mut put);
    put(",\"targets\":");
    canonical_list(
        desired.targets.iter().map(|t| target(t, &desired.base_dir)),
        &mut put,
    );
    put(",\"users\":");
    canonical_list(desired.users.iter().map(user), &mut put);
    put("}");
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// A JSON array of canonical values, each built, written and dropped in turn.
fn canonical_list(items: impl Iterator<Item = Value>, put: &mut dyn FnMut(&str)) {
    put("[");
    for (i, v) in items.enumerate() {
        if i > 0 {
            put(",");
        }
        write_canonical(&v, put);
    }
    put("]");
}

/// The model as JSON: every value that can change what a plan does, no source position. Small
/// enums are written by their Debug name, which is stable for one roster version; a plan is
/// applied by the version that made it or refused for its format. [`config_digest`] writes the
/// same JSON piece by piece; this whole value is kept for the test that says so.
#[cfg(test)]
fn resolved_model(d: &Desired) -> Value {
    json!({
        "users": d.users.iter().map(user).collect::<Vec<_>>(),
        "groups": d.groups.iter().map(group).collect::<Vec<_>>(),
        "targets": d.targets.iter().map(|t| target(t, &d.base_dir)).collect::<Vec<_>>(),
    })
}

fn user(u: &User) -> Value {
    let fields: serde_json::Map<String, Value> = u
        .fields
        .iter()
        .map(|(k, f)| (k.to_string(), field(&f.value)))
        .collect();
    json!({
        "id": u.id, "user_name": u.user_name, "active": u.active,
        "manager": u.manager, "fields": fields,
    })
}

fn field(v: &FieldValue) -> Value {
    match v {
        FieldValue::Bool(b) => json!(b),
        FieldValue::Int(i) => json!(i),
        FieldValue::Float(f) => json!(f),
        FieldValue::Text(s) => json!(s),
        FieldValue::List(l) => json!(l),
        FieldValue::Null(()) => Value::Null,
    }
}

fn names(n: &Names) -> Value {
    json!(n.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>())
}

fn group(g: &Group) -> Value {
    json!({
        "id": g.id, "name": g.name, "description": g.description,
        "members": names(&g.members), "include": names(&g.include),
    })
}

/// A path as written relative to the entry file's directory, so two checkouts agree.
fn relative(p: &Path, base: &Path) -> String {
    p.strip_prefix(base)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

fn rule(r: &MappingRule) -> Value {
    json!({
        "path": r.path, "source": format!("{:?}", r.source), "on": format!("{:?}", r.on),
    })
}

fn policy(p: &Policy) -> Value {
    json!({
        "create": p.create, "update": p.update, "deactivate": p.deactivate, "delete": p.delete,
        "group_create": p.group_create, "group_update": p.group_update,
        "group_delete": p.group_delete, "members": format!("{:?}", p.members),
        "owns_external_id": p.owns_external_id.as_ref().map(|(s, _)| s),
        "unmanaged": format!("{:?}", p.unmanaged),
        "ignore_users": names(&p.ignore_users), "ignore_groups": names(&p.ignore_groups),
        "protect_users": names(&p.protect_users), "protect_groups": names(&p.protect_groups),
        "release_users": names(&p.release_users), "release_groups": names(&p.release_groups),
        "max_destroy": p.max_destroy, "max_destroy_percent": p.max_destroy_percent,
    })
}

fn target(t: &Target, base: &Path) -> Value {
    let endpoint = match &t.endpoint {
        Endpoint::Url(u) => json!({ "url": u }),
        Endpoint::Embedded { path } => json!({ "embedded": relative(path, base) }),
    };
    let auth = t.auth.as_ref().map(|a| match a {
        AuthSource::BearerFile(p) => json!({ "bearer_file": relative(p, base) }),
        other => json!(format!("{other:?}")),
    });
    json!({
        "name": t.name, "type": format!("{:?}", t.kind), "dialect": format!("{:?}", t.dialect),
        "endpoint": endpoint, "auth": auth,
        "assign": {
            "groups": names(&t.assign.groups), "users": names(&t.assign.users),
            "all": t.assign.all,
        },
        "rate": format!("{:?}", t.rate),
        "throttle_budget_seconds": t.throttle_budget_seconds,
        "match_users": format!("{:?}", t.match_users),
        "match_groups": format!("{:?}", t.match_groups),
        "user_mapping": t.user_mapping.iter().map(rule).collect::<Vec<_>>(),
        "group_mapping": t.group_mapping.iter().map(rule).collect::<Vec<_>>(),
        "policy": policy(&t.policy),
        "required_user_attributes": t.required_user_attributes,
        "reserved_names": t.reserved_names,
        "inline_secrets": names(&t.inline_secrets),
        "auth_problem": t.auth_problem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::document::canonical_json;

    #[test]
    fn the_streamed_digest_is_the_digest_of_the_whole_model() {
        let desired = crate::config::test_support::desired(
            r#"
version: 1
users:
  - { id: e1, user_name: a@example.com, given_name: A, family_name: Z, email: a@example.com }
  - { id: e2, user_name: b@example.com, active: false, title: "Dr \"B\"", manager: e1 }
groups:
  - { id: g1, name: eng, members: [e1, e2] }
targets:
  t:
    type: generic
    url: http://127.0.0.1:1
    auth: { bearer_token_env: T }
"#,
        );
        use sha2::{Digest, Sha256};
        let whole = format!(
            "sha256:{}",
            hex::encode(Sha256::digest(
                canonical_json(&resolved_model(&desired)).as_bytes()
            ))
        );
        assert_eq!(config_digest(&desired), whole);
    }
}
