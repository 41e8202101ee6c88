//! The protocol rules of each kind of SCIM server, as data and pure functions, so that the
//! planner (which estimates requests and shapes patches) and the client (which refuses to send
//! what the server would reject) apply the same rules. Generic is RFC 7644 as written; AWS IAM
//! Identity Center is a subset with hard limits (docs/contract.md#aws-iam-identity-center).

use crate::scim::resource::{Group, PatchOp, PatchRequest, Reference};
use serde_json::{json, Value};

/// The protocol rules a server follows. The configuration has its own YAML-facing enum; the
/// shell converts it, so that the protocol knows nothing of how targets are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// RFC 7644 as written.
    Generic,
    /// AWS IAM Identity Center's subset of RFC 7644.
    AwsIdentityCenter,
}

impl Dialect {
    /// The name a plan and the emulator's banner show.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Generic => "generic",
            Dialect::AwsIdentityCenter => "aws-identity-center",
        }
    }
}

/// How a server pages a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PagingKind {
    /// `startIndex` + `count`, with `totalResults` (RFC 7644 §3.4.2.4).
    Index,
    /// `?cursor` then `cursor=<nextCursor>` (AWS).
    Cursor,
}

/// Which resource a request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    User,
    Group,
}

/// What a dialect supports and how far it may be pushed.
#[derive(Debug, Clone, PartialEq)]
pub struct Capabilities {
    pub paging: PagingKind,
    /// Items requested per page (AWS: at most 100).
    pub page_size: u32,
    /// Filter operators the server accepts.
    pub filter_ops: &'static [&'static str],
    /// Whether `meta.version` / `If-Match` can guard writes.
    pub etags: bool,
    /// Member operations allowed in one PATCH or create; `None` = no limit.
    pub max_member_ops_per_request: Option<usize>,
    /// Whether GET /Groups returns the members (AWS returns `[]`).
    pub groups_list_members: bool,
    /// Whether `User.groups` / `filter=groups.value` reflect memberships.
    pub user_groups_filter: bool,
}

/// Chunk size for member patches on servers without a limit: keeps a request body bounded.
const GENERIC_MEMBER_CHUNK: usize = 1000;
/// AWS: "max 100 membership changes per request" (PatchGroup) and 100 members per CreateGroup.
pub const AWS_MAX_MEMBER_OPS: usize = 100;

pub fn capabilities(dialect: Dialect) -> Capabilities {
    match dialect {
        Dialect::Generic => Capabilities {
            paging: PagingKind::Index,
            page_size: 100,
            filter_ops: &["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"],
            etags: true,
            max_member_ops_per_request: None,
            groups_list_members: true,
            user_groups_filter: false,
        },
        Dialect::AwsIdentityCenter => Capabilities {
            paging: PagingKind::Cursor,
            page_size: 100,
            filter_ops: &["eq"],
            etags: false,
            max_member_ops_per_request: Some(AWS_MAX_MEMBER_OPS),
            groups_list_members: false,
            user_groups_filter: true,
        },
    }
}

fn member_chunk(dialect: Dialect) -> usize {
    capabilities(dialect)
        .max_member_ops_per_request
        .unwrap_or(GENERIC_MEMBER_CHUNK)
}

/// The path that removes one member: the filter form every server accepts (scim2-server refuses
/// a value list on remove; AWS counts each as one operation).
pub fn remove_member_path(user_id: &str) -> String {
    format!("members[value eq {}]", crate::scim::filter::quote(user_id))
}

/// PATCH requests that add `add` and remove `remove` from a group, chunked so that no request
/// carries more member operations than the dialect allows. Adds travel as one `add` of a value
/// list per chunk; each removal is its own operation. Never a replace-all or remove-all.
pub fn member_patches(
    dialect: Dialect,
    group_id: &str,
    add: &[String],
    remove: &[String],
) -> Vec<PatchRequest> {
    tracing::trace!(
        group_id,
        adds = add.len(),
        removes = remove.len(),
        "member patches"
    );
    let values = add.iter().map(|id| json!({ "value": id })).collect();
    let remove: Vec<&str> = remove.iter().map(String::as_str).collect();
    member_value_patches(dialect, values, &remove)
}

/// [`member_patches`] over member values as they are written (`{"value": ID}`, or a placeholder
/// the planner puts there for a user its plan creates), so the planner and the client chunk
/// membership the same way.
pub fn member_value_patches(
    dialect: Dialect,
    add: Vec<Value>,
    remove: &[&str],
) -> Vec<PatchRequest> {
    let limit = member_chunk(dialect);
    let mut out = Vec::new();
    let mut ops: Vec<PatchOp> = Vec::new();
    let mut used = 0usize;
    let flush = |ops: &mut Vec<PatchOp>, used: &mut usize, out: &mut Vec<PatchRequest>| {
        if !ops.is_empty() {
            out.push(PatchRequest::new(std::mem::take(ops)));
        }
        *used = 0;
    };
    let mut rest = add.into_iter().peekable();
    while rest.peek().is_some() {
        if used == limit {
            flush(&mut ops, &mut used, &mut out);
        }
        let values: Vec<Value> = rest.by_ref().take(limit - used).collect();
        used += values.len();
        ops.push(PatchOp::add("members", Value::Array(values)));
    }
    for id in remove {
        if used == limit {
            flush(&mut ops, &mut used, &mut out);
        }
        ops.push(PatchOp::remove(remove_member_path(id)));
        used += 1;
    }
    flush(&mut ops, &mut used, &mut out);
    out
}

fn targets_members(op: &PatchOp) -> bool {
    match &op.path {
        Some(p) => {
            let p = p.to_ascii_lowercase();
            p == "members" || p.starts_with("members[") || p.starts_with("members.")
        }
        // A pathless op carries attributes in its value object.
        None => op
            .value
            .as_ref()
            .and_then(Value::as_object)
            .is_some_and(|o| o.keys().any(|k| k.eq_ignore_ascii_case("members"))),
    }
}

/// How many member operations a PATCH carries (each value of a member list counts one, as AWS
/// counts them against its membership budget).
pub fn member_op_count(patch: &PatchRequest) -> usize {
    patch
        .operations
        .iter()
        .filter(|op| targets_members(op))
        .map(|op| match &op.value {
            Some(Value::Array(a)) => a.len(),
            Some(Value::Object(o)) => o
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("members"))
                .map(|(_, v)| v.as_array().map_or(1, Vec::len))
                .unwrap_or(1),
            _ => 1,
        })
        .sum()
}

fn op_attribute(op: &PatchOp) -> Vec<String> {
    match &op.path {
        Some(p) => {
            let head = p.split(['[', '.']).next().unwrap_or(p);
            vec![head.to_ascii_lowercase()]
        }
        None => op
            .value
            .as_ref()
            .and_then(Value::as_object)
            .map(|o| o.keys().map(|k| k.to_ascii_lowercase()).collect())
            .unwrap_or_default(),
    }
}

/// Checks a PATCH against the dialect's rules before it is sent; `Err` says which rule.
pub fn check_patch(
    dialect: Dialect,
    kind: ResourceKind,
    patch: &PatchRequest,
) -> Result<(), String> {
    for op in &patch.operations {
        let name = op.op.to_ascii_lowercase();
        if !matches!(name.as_str(), "add" | "remove" | "replace") {
            return Err(format!("unknown PATCH operation {:?}", op.op));
        }
        if name == "remove" && op.path.is_none() {
            return Err("a remove operation needs a path".into());
        }
    }
    if dialect == Dialect::Generic {
        return Ok(());
    }
    match kind {
        ResourceKind::User => {
            for attr in ["active", "username"] {
                let ops: Vec<&PatchOp> = patch
                    .operations
                    .iter()
                    .filter(|op| op_attribute(op).iter().any(|a| a == attr))
                    .collect();
                if ops.len() > 1 {
                    return Err(format!(
                        "two operations on {} in one PATCH (AWS allows one)",
                        display_attr(attr)
                    ));
                }
                if ops.iter().any(|op| op.op.eq_ignore_ascii_case("remove")) {
                    return Err(format!("{} cannot be removed in AWS", display_attr(attr)));
                }
            }
            if patch.operations.iter().any(targets_members) {
                return Err("users have no members".into());
            }
        }
        ResourceKind::Group => {
            for op in &patch.operations {
                if !targets_members(op) {
                    continue;
                }
                if op.op.eq_ignore_ascii_case("replace") {
                    return Err("replacing group members is not supported by AWS; add and remove them instead".into());
                }
                if op.op.eq_ignore_ascii_case("remove")
                    && !op.path.as_deref().is_some_and(|p| p.contains('['))
                {
                    return Err("removing all members at once is not supported by AWS; remove them one by one".into());
                }
            }
            let n = member_op_count(patch);
            if n > AWS_MAX_MEMBER_OPS {
                return Err(format!(
                    "{n} member operations in one PATCH (AWS allows {AWS_MAX_MEMBER_OPS})"
                ));
            }
        }
    }
    Ok(())
}

fn display_attr(lower: &str) -> &'static str {
    if lower == "active" {
        "active"
    } else {
        "userName"
    }
}

/// Splits a group create into the create itself (with as many members as one request may
/// carry) and the PATCHes that add the rest. The patches need the new group's id: each is
/// returned without it, for `member_patches`-style sending after the create.
pub fn group_create_chunks(dialect: Dialect, group: &Group) -> (Group, Vec<PatchRequest>) {
    let limit = member_chunk(dialect);
    let mut first = group.clone();
    if group.members.len() <= limit {
        return (first, Vec::new());
    }
    let rest: Vec<String> = group.members[limit..]
        .iter()
        .map(|m: &Reference| m.value.clone())
        .collect();
    first.members.truncate(limit);
    let id = group.id.clone().unwrap_or_default();
    (first, member_patches(dialect, &id, &rest, &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("u{i}")).collect()
    }

    #[test]
    fn aws_member_patches_never_exceed_100_ops() {
        let patches = member_patches(Dialect::AwsIdentityCenter, "g", &ids(150), &ids(120));
        assert_eq!(patches.len(), 3);
        for p in &patches {
            assert!(member_op_count(p) <= 100);
            check_patch(Dialect::AwsIdentityCenter, ResourceKind::Group, p).expect("valid");
        }
        let total: usize = patches.iter().map(member_op_count).sum();
        assert_eq!(total, 270);
        let json = serde_json::to_value(&patches[2]).expect("json");
        assert_eq!(
            json["Operations"][0],
            json!({"op": "remove", "path": "members[value eq \"u50\"]"})
        );
    }

    #[test]
    fn generic_chunks_at_1000() {
        let p = member_patches(Dialect::Generic, "g", &ids(1500), &[]);
        assert_eq!(p.len(), 2);
        assert_eq!(member_op_count(&p[0]), 1000);
        assert!(member_patches(Dialect::Generic, "g", &[], &[]).is_empty());
    }

    #[test]
    fn aws_patch_rules() {
        let aws = Dialect::AwsIdentityCenter;
        let two_active = PatchRequest::new(vec![
            PatchOp::replace("active", json!(false)),
            PatchOp::replace("active", json!(true)),
        ]);
        assert!(check_patch(aws, ResourceKind::User, &two_active).is_err());
        assert!(check_patch(Dialect::Generic, ResourceKind::User, &two_active).is_ok());
        let pathless = PatchRequest::new(vec![
            PatchOp::replace("userName", json!("a")),
            PatchOp {
                op: "replace".into(),
                path: None,
                value: Some(json!({"userName": "b"})),
            },
        ]);
        assert!(check_patch(aws, ResourceKind::User, &pathless).is_err());
        let remove_un = PatchRequest::new(vec![PatchOp::remove("userName")]);
        assert!(check_patch(aws, ResourceKind::User, &remove_un).is_err());
        let replace_members =
            PatchRequest::new(vec![PatchOp::replace("members", json!([{"value": "x"}]))]);
        assert!(check_patch(aws, ResourceKind::Group, &replace_members).is_err());
        let remove_all = PatchRequest::new(vec![PatchOp::remove("members")]);
        assert!(check_patch(aws, ResourceKind::Group, &remove_all).is_err());
        let too_many = PatchRequest::new(vec![PatchOp::add(
            "members",
            Value::Array(ids(101).into_iter().map(|i| json!({"value": i})).collect()),
        )]);
        assert!(check_patch(aws, ResourceKind::Group, &too_many).is_err());
    }

    #[test]
    fn create_chunks_split_members() {
        let g = Group {
            display_name: "big".into(),
            members: ids(250)
                .into_iter()
                .map(|value| Reference {
                    value,
                    ..Reference::default()
                })
                .collect(),
            ..Group::default()
        };
        let (first, rest) = group_create_chunks(Dialect::AwsIdentityCenter, &g);
        assert_eq!(first.members.len(), 100);
        assert_eq!(rest.len(), 2);
        assert_eq!(rest.iter().map(member_op_count).sum::<usize>(), 150);
        let (all, none) = group_create_chunks(Dialect::Generic, &g);
        assert_eq!(all.members.len(), 250);
        assert!(none.is_empty());
    }

    /// Applies member patches the way a server would.
    fn apply(members: &mut std::collections::BTreeSet<String>, p: &PatchRequest) {
        for op in &p.operations {
            match (op.op.as_str(), op.path.as_deref()) {
                ("add", Some("members")) => {
                    for v in op
                        .value
                        .as_ref()
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        members.insert(v["value"].as_str().expect("value").to_string());
                    }
                }
                ("remove", Some(path)) => {
                    let lit = path
                        .strip_prefix("members[value eq ")
                        .and_then(|r| r.strip_suffix(']'))
                        .expect("filter path");
                    let id: String = serde_json::from_str(lit).expect("json string");
                    members.remove(&id);
                }
                other => panic!("unexpected op {other:?}"),
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn member_patches_reach_the_target_within_limits(
            start in proptest::collection::btree_set("[a-z0-9\"\\\\]{1,6}", 0..150),
            add in proptest::collection::btree_set("[a-z0-9]{1,6}", 0..250),
        ) {
            let aws = Dialect::AwsIdentityCenter;
            let add: Vec<String> = add.into_iter().filter(|a| !start.contains(a)).collect();
            let remove: Vec<String> = start.iter().filter(|s| s.len() % 2 == 0).cloned().collect();
            let mut live = start.clone();
            for p in member_patches(aws, "g", &add, &remove) {
                proptest::prop_assert!(member_op_count(&p) <= AWS_MAX_MEMBER_OPS);
                proptest::prop_assert!(check_patch(aws, ResourceKind::Group, &p).is_ok());
                apply(&mut live, &p);
            }
            let mut want = start.clone();
            want.extend(add.iter().cloned());
            for r in &remove { want.remove(r); }
            proptest::prop_assert_eq!(live, want);
        }
    }
}
