//! Planner benchmark: 100,000 users, 10,000 groups and 500,000 memberships.
//!
//! Three runs over the same directory: against an empty target (the first sync: everything is
//! created), against a live state identical to the directory (nothing to change: the common
//! scheduled-drift case), and with 10% of the users changed out of band. Rendering is timed on
//! its own so the diff's share is visible; peak memory is the process's VmHWM, reset before each
//! timed plan so that it shows the plan's peak over the resident directory and live state.
//!
//! `cargo bench --bench planner` (release). Prints figures; asserts the plans are what they
//! should be, so a regression in correctness cannot hide behind a fast time.

#![allow(clippy::print_stdout)]

use roster::config::model::FieldValue;
use roster::config::{Desired, Field, Group, User};
use roster::diag::Loc;
use roster::mapping::CompiledTarget;
use roster::plan::{
    plan_target, Action, LiveGroup, LiveUser, ObjectKind, Observed, Operation, PlanOptions,
    TargetPlan,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const USERS: usize = 100_000;
const GROUPS: usize = 10_000;
const MEMBERS_PER_GROUP: usize = 50;

const CONFIG: &str = r#"
version: 1
users:
  - { id: seed, user_name: seed@example.com, given_name: S, family_name: S, email: seed@example.com, department: D, manager: seed }
targets:
  bench:
    type: embedded
    assign: { all: true }
    policy:
      limits: { max_destroy: 1000000, max_destroy_percent: 100 }
"#;

fn field(v: String) -> Field {
    Field {
        value: FieldValue::Text(v),
        loc: Loc::new(0, 1, 1),
    }
}

fn directory() -> Desired {
    let doc = roster::config::load::parse_document(CONFIG, 0).expect("config parses");
    let mut diags = Vec::new();
    let mut d = roster::config::resolve(
        vec![(0, doc)],
        roster::diag::SourceMap::default(),
        ".".into(),
        &mut diags,
    );
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    let loc = Loc::new(0, 1, 1);
    d.users = (0..USERS)
        .map(|i| {
            let id = format!("e{i:06}");
            let user_name = format!("user{i:06}@example.com");
            let manager = (i > 0).then(|| format!("e{:06}", i / 10));
            let mut fields = indexmap::IndexMap::new();
            fields.insert("id".to_string(), field(id.clone()));
            fields.insert("user_name".to_string(), field(user_name.clone()));
            fields.insert("given_name".to_string(), field(format!("Given{i}")));
            fields.insert("family_name".to_string(), field(format!("Family{i}")));
            fields.insert("email".to_string(), field(user_name.clone()));
            fields.insert("department".to_string(), field(format!("Dept{}", i % 50)));
            if let Some(m) = &manager {
                fields.insert("manager".to_string(), field(m.clone()));
            }
            User {
                id,
                user_name,
                active: true,
                manager,
                fields,
                loc,
            }
        })
        .collect();
    d.groups = (0..GROUPS)
        .map(|j| Group {
            id: format!("g{j:05}"),
            name: format!("group-{j:05}"),
            description: None,
            members: (0..MEMBERS_PER_GROUP)
                .map(|k| (format!("e{:06}", (j * MEMBERS_PER_GROUP + k) % USERS), loc))
                .collect(),
            include: Vec::new(),
            loc,
            id_loc: loc,
            name_loc: loc,
        })
        .collect();
    d
}

/// The live state a first apply of `plan` would leave: every create's body with an id.
fn live_from_creates(plan: &TargetPlan) -> Observed {
    let mut ids = std::collections::HashMap::new();
    let mut obs = Observed::default();
    for c in &plan.changes {
        if c.kind == ObjectKind::User && c.actions.contains(&Action::Create) {
            ids.insert(c.address.clone(), format!("scim-{}", ids.len()));
        }
    }
    let resolve = |v: &Value| -> Value { resolve_refs(v, &ids) };
    for c in &plan.changes {
        let Some(Operation::Create { body }) = c.operations.first() else {
            continue;
        };
        let mut r = resolve(&Value::Object(body.clone()));
        match c.kind {
            ObjectKind::User => {
                r["id"] = json!(ids[&c.address]);
                obs.users.push(LiveUser::from_resource(r).expect("user"));
            }
            ObjectKind::Group => {
                r["id"] = json!(format!("grp-{}", obs.groups.len()));
                obs.groups.push(LiveGroup::from_resource(r).expect("group"));
            }
        }
    }
    obs
}

fn resolve_refs(v: &Value, ids: &std::collections::HashMap<String, String>) -> Value {
    match v {
        Value::Object(o) => match o.get("$user_ref").and_then(Value::as_str) {
            Some(addr) => json!(ids[addr]),
            None => Value::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), resolve_refs(v, ids)))
                    .collect(),
            ),
        },
        Value::Array(a) => Value::Array(a.iter().map(|v| resolve_refs(v, ids)).collect()),
        other => other.clone(),
    }
}

fn peak_mib() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb / 1024)
    };
    format!(
        "VmHWM {} MiB, VmRSS {} MiB",
        field("VmHWM:").unwrap_or(0),
        field("VmRSS:").unwrap_or(0)
    )
}

/// Reset VmHWM to the current RSS (Linux: `5` to clear_refs), so the next reading is the peak
/// of what follows rather than of building the fixture.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    // `cargo test --benches` runs this binary too: keep that quick.
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    let t = Instant::now();
    let desired = directory();
    let target = &desired.targets[0];
    println!(
        "directory: {USERS} users, {GROUPS} groups, {} memberships (built in {})",
        GROUPS * MEMBERS_PER_GROUP,
        ms(t.elapsed())
    );
    let opts = PlanOptions::default();

    let t = Instant::now();
    let first = plan_target(&desired, target, &Observed::default(), &opts).expect("plans");
    println!(
        "first sync (empty target): {} in {}, {} writes",
        first.changes.len(),
        ms(t.elapsed()),
        first.requests.writes
    );
    assert_eq!(first.summary.add as usize, USERS + GROUPS);

    let live = live_from_creates(&first);
    drop(first);
    println!(
        "live state: {} users, {} groups; {}",
        live.users.len(),
        live.groups.len(),
        peak_mib()
    );

    // Rendering alone: what the diff builds on.
    let t = Instant::now();
    let compiled = CompiledTarget::compile(target).expect("compiles");
    let mut rendered = 0usize;
    for u in &desired.users {
        rendered += compiled.render_user(u).expect("renders").values.len();
    }
    for g in &desired.groups {
        rendered += compiled.render_group(g).expect("renders").values.len();
    }
    let render = t.elapsed();
    println!("render: {rendered} values in {}", ms(render));

    println!("before planning: {}", peak_mib());
    reset_peak();
    let t = Instant::now();
    let same = plan_target(&desired, target, &live, &opts).expect("plans");
    let total = t.elapsed();
    assert!(same.changes.is_empty(), "{:?}", same.changes.first());
    println!(
        "in sync: 0 changes; total {} = render {} + match/diff {}; {}",
        ms(total),
        ms(render),
        ms(total.saturating_sub(render)),
        peak_mib()
    );

    // 10% of users changed out of band.
    let mut drifted = live;
    for u in drifted.users.iter_mut().step_by(10) {
        u.resource["name"]["familyName"] = json!("Changed");
    }
    reset_peak();
    let t = Instant::now();
    let changed = plan_target(&desired, target, &drifted, &opts).expect("plans");
    let total = t.elapsed();
    println!(
        "10% drift: {} changes in {}; {}",
        changed.changes.len(),
        ms(total),
        peak_mib()
    );
    assert_eq!(changed.changes.len(), USERS.div_ceil(10));
}
