//! Planner benchmark: 100,000 users, 10,000 groups and 500,000 memberships.
//!
//! Three runs over the same directory: against a live state identical to the directory (nothing
//! to change: the common scheduled-drift case), with 10% of the users changed out of band, and
//! against an empty target (the first sync: everything is created). Rendering is timed on
//! its own so the diff's share is visible; peak memory is the process's VmHWM, reset before each
//! timed plan so that it shows the plan's peak over the resident directory and live state.
//!
//! `cargo bench --bench planner` (release). Prints figures; asserts the plans are what they
//! should be, so a regression in correctness cannot hide behind a fast time.

#![allow(clippy::print_stdout)]

// The allocator the `roster` binary uses, so the figures are the ones users get.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use roster::config::model::FieldValue;
use roster::config::{Desired, Field, Group, User};
use roster::diag::Loc;
use roster::mapping::CompiledTarget;
use roster::plan::{plan_target, LiveGroup, LiveUser, Observed, PlanOptions};
use roster::scim::resource::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use serde_json::json;
use std::time::{Duration, Instant};

const USERS: usize = 100_000;
const GROUPS: usize = 10_000;
const MEMBERS_PER_GROUP: usize = 50;
const RUNS: usize = 3;

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
            let mut fields = roster::config::FieldMap::default();
            fields.insert("id".into(), field(id.clone()));
            fields.insert("user_name".into(), field(user_name.clone()));
            fields.insert("given_name".into(), field(format!("Given{i}")));
            fields.insert("family_name".into(), field(format!("Family{i}")));
            fields.insert("email".into(), field(user_name.clone()));
            fields.insert("department".into(), field(format!("Dept{}", i % 50)));
            if let Some(m) = &manager {
                fields.insert("manager".into(), field(m.clone()));
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

/// The live state a server holds after a first sync of `desired`: what the default mapping
/// writes (the in-sync run asserts that nothing differs, which checks this).
fn live_state(desired: &Desired) -> Observed {
    let live_id = |i: usize| format!("scim-{i}");
    let index: std::collections::HashMap<&str, usize> = desired
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.id.as_str(), i))
        .collect();
    let mut obs = Observed::default();
    for (i, u) in desired.users.iter().enumerate() {
        let text = |k: &str| match u.fields.get(k).map(|f| &f.value) {
            Some(FieldValue::Text(t)) => t.clone(),
            _ => String::new(),
        };
        let mut r = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "id": live_id(i),
            "externalId": u.id,
            "userName": u.user_name,
            "displayName": format!("{} {}", text("given_name"), text("family_name")),
            "name": {"givenName": text("given_name"), "familyName": text("family_name")},
            "emails": [{"value": text("email"), "primary": true}],
            "active": true,
            ENTERPRISE_USER_SCHEMA: {"department": text("department")},
        });
        if let Some(m) = u.manager.as_deref().and_then(|m| index.get(m)) {
            r[ENTERPRISE_USER_SCHEMA]["manager"] = json!({"value": live_id(*m)});
        }
        obs.users.push(LiveUser::from_resource(r).expect("user"));
    }
    for (j, g) in desired.groups.iter().enumerate() {
        let mut group = LiveGroup::from_resource(json!({
            "schemas": [GROUP_SCHEMA],
            "id": format!("grp-{j}"),
            "externalId": g.id,
            "displayName": g.name,
        }))
        .expect("group");
        group.members = Some(
            g.members
                .iter()
                .filter_map(|(m, _)| index.get(m.as_str()).map(|i| live_id(*i)))
                .collect(),
        );
        obs.groups.push(group);
    }
    obs
}

fn peak_mib() -> String {
    let status = fs_err::read_to_string("/proc/self/status").unwrap_or_default();
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

/// This thread's CPU time (user + system, from `/proc/thread-self/stat`, in clock ticks of
/// 10 ms): unlike wall time, it does not grow when other processes share the machine.
fn cpu_time() -> Duration {
    let stat = fs_err::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is the first, utime the
    // 12th and stime the 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Reset VmHWM to the current RSS (Linux: `5` to clear_refs), so the next reading is the peak
/// of what follows rather than of building the fixture.
fn reset_peak() {
    let _ = fs_err::write("/proc/self/clear_refs", "5");
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
    let mut live = live_state(&desired);
    println!(
        "live state: {} users, {} groups (built in {}); {}",
        live.users.len(),
        live.groups.len(),
        ms(t.elapsed()),
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

    // The machine is shared: take the best of a few runs, and show them all.
    reset_peak();
    let mut runs = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..RUNS {
        let (t, c) = (Instant::now(), cpu_time());
        let same = plan_target(&desired, target, &live, &opts).expect("plans");
        runs.push(t.elapsed());
        cpu.push(cpu_time().saturating_sub(c));
        assert!(same.changes.is_empty(), "{:?}", same.changes.first());
    }
    let total = runs.iter().min().copied().unwrap_or_default();
    let list = |v: &[Duration]| v.iter().map(|r| ms(*r)).collect::<Vec<_>>().join(", ");
    println!(
        "in sync: 0 changes; best of {RUNS} {} = render {} + match/diff {}; wall {}; cpu {}; {}",
        ms(total),
        ms(render),
        ms(total.saturating_sub(render)),
        list(&runs),
        list(&cpu),
        peak_mib()
    );

    // `PLANNER_BENCH_ONLY=sync` stops here, for profiling the in-sync plan alone.
    if std::env::var("PLANNER_BENCH_ONLY").is_ok_and(|v| v == "sync") {
        return;
    }

    // 10% of users changed out of band.
    for u in live.users.iter_mut().step_by(10) {
        let mut r = u.resource();
        r["name"]["familyName"] = json!("Changed");
        *u = LiveUser::from_resource(r).expect("user");
    }
    reset_peak();
    let (t, c) = (Instant::now(), cpu_time());
    let changed = plan_target(&desired, target, &live, &opts).expect("plans");
    let total = t.elapsed();
    println!(
        "10% drift: {} changes, {} writes in {} (cpu {}); {}",
        changed.changes.len(),
        changed.requests.writes,
        ms(total),
        ms(cpu_time().saturating_sub(c)),
        peak_mib()
    );
    assert_eq!(changed.changes.len(), USERS.div_ceil(10));
    drop(changed);
    drop(live);

    // The first sync: everything created, 500,000 members in create bodies.
    reset_peak();
    let (t, c) = (Instant::now(), cpu_time());
    let first = plan_target(&desired, target, &Observed::default(), &opts).expect("plans");
    println!(
        "first sync (empty target): {} changes, {} writes in {} (cpu {}); {}",
        first.changes.len(),
        first.requests.writes,
        ms(t.elapsed()),
        ms(cpu_time().saturating_sub(c)),
        peak_mib()
    );
    assert_eq!(first.summary.add as usize, USERS + GROUPS);
}
