//! Hand-built plan documents for unit tests that need a plan without running the planner (the
//! document's checksum, drift classification, every renderer). They live in `plan`, below
//! `render`, so that plan's own tests never import a module above it; the summary is counted
//! with the plan's own [`Tally`], the rule the planner and apply share.

use super::document::*;
use crate::scim::resource::PatchOp;
use serde_json::{json, Map, Value};

pub fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A change with only what every change has; tests fill in the rest.
pub fn change(
    address: &str,
    name: &str,
    kind: ObjectKind,
    actions: &[Action],
    reason: Reason,
) -> Change {
    Change {
        address: address.parse().expect("a fixture address"),
        name: name.into(),
        kind,
        id: Some(format!("id-{}", address.rsplit('.').next().unwrap_or("x"))),
        actions: actions.to_vec(),
        phase: match (actions.first(), kind) {
            (Some(Action::Create), ObjectKind::User) => Phase::CreateUsers,
            (Some(Action::Create), ObjectKind::Group) => Phase::CreateGroups,
            (Some(Action::Deactivate), _) => Phase::Deactivate,
            (Some(Action::Delete), _) => Phase::Delete,
            (Some(Action::AddMembers), _) => Phase::AddMembers,
            (Some(Action::RemoveMembers), _) => Phase::RemoveMembers,
            (Some(Action::Update | Action::Reactivate), _) => Phase::Update,
            (None, _) => Phase::Conflict,
        },
        reason,
        unchanged_attributes: 0,
        before: Map::new(),
        after: Map::new(),
        members_added: vec![],
        members_removed: vec![],
        operations: vec![],
        precondition: None,
        depends_on: vec![],
        detail: None,
        origin: None,
        notes: Notes::default(),
    }
}

pub fn create_user(id: &str, email: &str) -> Change {
    let mut c = change(
        &format!("aws:user.{id}"),
        email,
        ObjectKind::User,
        &[Action::Create],
        Reason::Missing,
    );
    c.id = None;
    c.after = obj(json!({
        "userName": email,
        "displayName": "Bob Example",
        "emails": [{"value": email, "type": "work", "primary": true}],
        "active": true,
    }));
    c.operations = vec![Operation::Create {
        body: c.after.clone(),
    }];
    c
}

pub fn update_user() -> Change {
    let mut c = change(
        "aws:user.e1001",
        "alice@example.com",
        ObjectKind::User,
        &[Action::Update],
        Reason::AttributeMismatch,
    );
    c.unchanged_attributes = 5;
    c.before = obj(json!({"title": "Engineer"}));
    c.after = obj(json!({"title": "Staff Engineer"}));
    c.operations = vec![Operation::Patch {
        ops: vec![PatchOp::replace("title", json!("Staff Engineer"))],
    }];
    c
}

pub fn deactivate_user() -> Change {
    let mut c = change(
        "aws:user.e1002",
        "carol@example.com",
        ObjectKind::User,
        &[Action::Deactivate],
        Reason::RemovedFromDirectory,
    );
    c.before = obj(json!({"active": true}));
    c.after = obj(json!({"active": false}));
    c.unchanged_attributes = 7;
    c
}

pub fn membership() -> Change {
    let mut c = change(
        "aws:group.eng",
        "Engineering",
        ObjectKind::Group,
        &[Action::AddMembers, Action::RemoveMembers],
        Reason::MembershipDrift,
    );
    c.members_added = vec![
        MemberRef {
            name: "alice@example.com".into(),
            id: Some("u-1".into()),
            created_by: None,
        },
        MemberRef {
            name: "bob@example.com".into(),
            id: None,
            created_by: Some("aws:user.e1003".parse().expect("a fixture address")),
        },
    ];
    c.members_removed = vec![MemberRef {
        name: "dave@example.com".into(),
        id: Some("u-4".into()),
        created_by: None,
    }];
    c
}

/// One target holding these changes, with a summary counted from them.
pub fn target(name: &str, changes: Vec<Change>) -> TargetPlan {
    let mut s = Summary::default();
    let mut writes = 0;
    let mut members = 0;
    let created_groups: Vec<&str> = changes
        .iter()
        .filter(|c| c.kind == ObjectKind::Group && c.actions.contains(&Action::Create))
        .map(|c| c.address.as_str())
        .collect();
    let mut tally = Tally::new(created_groups);
    for c in &changes {
        if c.reason == Reason::Conflict || c.actions.is_empty() {
            s.conflicts += 1;
            continue;
        }
        tally.count(c.kind, c.address.as_str(), &c.actions);
        writes += 1;
        members += (c.members_added.len() + c.members_removed.len()) as u64;
    }
    s.add = tally.add;
    s.change = tally.change;
    s.deactivate = tally.deactivate;
    s.delete = tally.delete;
    s.destroy = s.deactivate + s.delete;
    TargetPlan {
        name: name.into(),
        url: format!("https://scim.example.com/{name}/scim/v2"),
        dialect: "aws-identity-center".into(),
        complete: true,
        summary: s,
        requests: Requests {
            reads: 0,
            writes,
            member_operations: members,
            seconds_at_rate: writes as f64 / 25.0,
            live_state_reads: 0,
        },
        changes,
        safety: vec![SafetyGate {
            gate: "max_destroy".into(),
            limit: 25.0,
            observed: s.destroy as f64,
            tripped: false,
        }],
        not_touching: NotTouching::default(),
    }
}

pub fn doc(targets: Vec<TargetPlan>) -> PlanDocument {
    PlanDocument {
        format_version: FORMAT_VERSION.into(),
        roster_version: "0.1.0".into(),
        created_at: "2026-11-22T12:00:00Z".into(),
        config_digest: "sha256:0000".into(),
        checksum: checksum(&targets),
        targets,
        config_file: None,
        redact_salt: None,
    }
}

/// A plan of one target with these changes.
pub fn one(changes: Vec<Change>) -> PlanDocument {
    doc(vec![target("aws", changes)])
}
