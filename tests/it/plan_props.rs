//! Planner properties over random small directories and live states:
//!
//! - applying a plan's operations to the observed state (with an in-memory SCIM model) and
//!   planning again yields no changes but the same conflicts;
//! - no change touches an ignored object, nor a live object that is neither matched to a
//!   directory object, claimed by `owns`, nor claimed by `unmanaged`; protected users are never
//!   deactivated, deleted or removed from a group;
//! - planning is deterministic.

use proptest::prelude::*;
use roster::config::{self, Desired};
use roster::mapping::AttrPath;
use roster::plan::{
    plan_target, Action, Address, Change, LiveGroup, LiveUser, Observed, Operation, PlanOptions,
    Reason, TargetPlan,
};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

const NAMES: &[&str] = &["alice", "bob", "carol", "dave"];

#[derive(Debug, Clone)]
struct DirUser {
    name: usize,
    email: bool,
    active: bool,
    manager: Option<usize>,
}

#[derive(Debug, Clone)]
struct DirGroup {
    members: Vec<usize>,
    include_next: bool,
}

#[derive(Debug, Clone)]
struct LiveUserGen {
    /// Derived from this directory user, else an extra.
    of: Option<usize>,
    drop_ext: bool,
    name: usize,
    family_changed: bool,
    email: bool,
    active: bool,
    /// Extras: named `admin-*` (ignored) or with an `e9*` externalId (owned by `owns`).
    flavour: u8,
}

#[derive(Debug, Clone)]
struct LiveGroupGen {
    of: Option<usize>,
    drop_ext: bool,
    renamed: bool,
    members: Vec<usize>,
    flavour: u8,
}

#[derive(Debug, Clone)]
struct Pol {
    aws: bool,
    assign_all: bool,
    deactivate: bool,
    delete: bool,
    group_delete: bool,
    owns: bool,
    protect_first: bool,
    unmanaged: usize,
    members: usize,
}

#[derive(Debug, Clone)]
struct Scenario {
    users: Vec<DirUser>,
    groups: Vec<DirGroup>,
    live_users: Vec<LiveUserGen>,
    live_groups: Vec<LiveGroupGen>,
    pol: Pol,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let dir_user = (
        0..NAMES.len(),
        any::<bool>(),
        prop::bool::weighted(0.8),
        prop::option::of(0..6usize),
    )
        .prop_map(|(name, email, active, manager)| DirUser {
            name,
            email,
            active,
            manager,
        });
    let dir_group = (prop::collection::vec(0..6usize, 0..5), any::<bool>()).prop_map(
        |(members, include_next)| DirGroup {
            members,
            include_next,
        },
    );
    let live_user = (
        prop::option::of(0..6usize),
        prop::bool::weighted(0.2),
        0..NAMES.len(),
        prop::bool::weighted(0.3),
        any::<bool>(),
        prop::bool::weighted(0.8),
        0..3u8,
    )
        .prop_map(
            |(of, drop_ext, name, family_changed, email, active, flavour)| LiveUserGen {
                of,
                drop_ext,
                name,
                family_changed,
                email,
                active,
                flavour,
            },
        );
    let live_group = (
        prop::option::of(0..3usize),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.2),
        prop::collection::vec(0..8usize, 0..5),
        0..3u8,
    )
        .prop_map(|(of, drop_ext, renamed, members, flavour)| LiveGroupGen {
            of,
            drop_ext,
            renamed,
            members,
            flavour,
        });
    let pol = (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.3),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0..3usize,
        0..3usize,
    )
        .prop_map(
            |(
                aws,
                assign_all,
                deactivate,
                delete,
                group_delete,
                owns,
                protect_first,
                unmanaged,
                members,
            )| Pol {
                aws,
                assign_all,
                deactivate,
                delete,
                group_delete,
                owns,
                protect_first,
                unmanaged,
                members,
            },
        );
    (
        prop::collection::vec(dir_user, 0..6),
        prop::collection::vec(dir_group, 0..3),
        prop::collection::vec(live_user, 0..8),
        prop::collection::vec(live_group, 0..4),
        pol,
    )
        .prop_map(|(users, groups, live_users, live_groups, pol)| Scenario {
            users,
            groups,
            live_users,
            live_groups,
            pol,
        })
}

fn user_name(name: usize, i: usize) -> String {
    format!("{}{i}@example.com", NAMES[name])
}

fn yaml(s: &Scenario) -> String {
    let mut y = String::from("version: 1\nusers:\n");
    if s.users.is_empty() {
        y = String::from("version: 1\nusers: []\n");
    }
    for (i, u) in s.users.iter().enumerate() {
        let un = user_name(u.name, i);
        y.push_str(&format!(
            "  - {{ id: e{i}, user_name: \"{un}\", given_name: G{i}, family_name: F{i}"
        ));
        if u.email {
            y.push_str(&format!(", email: \"{un}\""));
        }
        if !u.active {
            y.push_str(", active: false");
        }
        // Managers point backwards: a cycle of creates cannot be ordered.
        if let Some(m) = u.manager.filter(|m| *m < i) {
            y.push_str(&format!(", manager: e{m}"));
        }
        y.push_str(" }\n");
    }
    if !s.groups.is_empty() {
        y.push_str("groups:\n");
    }
    for (j, g) in s.groups.iter().enumerate() {
        let members: Vec<String> = g
            .members
            .iter()
            .filter(|m| **m < s.users.len())
            .map(|m| format!("e{m}"))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        y.push_str(&format!(
            "  - {{ id: g{j}, name: group{j}, members: [{}]",
            members.join(", ")
        ));
        if g.include_next && j + 1 < s.groups.len() {
            y.push_str(&format!(", include: [group{}]", j + 1));
        }
        y.push_str(" }\n");
    }
    let p = &s.pol;
    y.push_str("targets:\n  t:\n    type: embedded\n");
    if p.aws {
        y.push_str("    dialect: aws-identity-center\n");
    }
    if p.assign_all || s.groups.is_empty() {
        y.push_str("    assign: { all: true }\n");
    } else {
        y.push_str("    assign: { groups: [group0] }\n");
    }
    y.push_str(&format!(
        "    policy:\n      deactivate: {}\n      delete: {}\n      unmanaged: {}\n      \
         groups: {{ delete: {}, members: {} }}\n      \
         ignore: {{ users: [\"admin-*\"], groups: [\"legacy-*\"] }}\n      \
         limits: {{ max_destroy: 1000, max_destroy_percent: 100 }}\n",
        p.deactivate,
        p.delete,
        ["ignore", "deactivate", "delete"][p.unmanaged],
        p.group_delete,
        ["authoritative", "additive", "off"][p.members],
    ));
    if p.owns {
        y.push_str("      owns: { external_id: \"^e[0-9]+$\" }\n");
    }
    if p.protect_first {
        y.push_str("      protect: { users: [e0] }\n");
    }
    y
}

fn observed(s: &Scenario) -> Observed {
    let mut users = Vec::new();
    for (k, l) in s.live_users.iter().enumerate() {
        let id = format!("lu{k}");
        let (ext, un, given, family) = match l.of.filter(|i| *i < s.users.len()) {
            Some(i) => (
                format!("e{i}"),
                user_name(l.name, i),
                format!("G{i}"),
                if l.family_changed {
                    "Other".to_string()
                } else {
                    format!("F{i}")
                },
            ),
            None => match l.flavour {
                0 => (
                    format!("x{k}"),
                    format!("x{k}@example.com"),
                    "X".into(),
                    "Y".into(),
                ),
                1 => (
                    format!("e9{k}"),
                    format!("gone{k}@example.com"),
                    "Gone".into(),
                    "Z".into(),
                ),
                _ => (
                    format!("a{k}"),
                    format!("admin-{k}@example.com"),
                    "Ad".into(),
                    "Min".into(),
                ),
            },
        };
        let mut r = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": id,
            "userName": un,
            "displayName": format!("{given} {family}"),
            "name": {"givenName": given, "familyName": family},
            "active": l.active,
        });
        if !l.drop_ext {
            r["externalId"] = json!(ext);
        }
        if l.email {
            r["emails"] = json!([{"value": un, "primary": true}]);
        }
        users.push(LiveUser::from_resource(r).expect("user"));
    }
    let mut groups = Vec::new();
    for (k, g) in s.live_groups.iter().enumerate() {
        let (ext, name) = match g.of.filter(|j| *j < s.groups.len()) {
            Some(j) => (
                format!("g{j}"),
                if g.renamed {
                    format!("team{j}")
                } else {
                    format!("group{j}")
                },
            ),
            None => match g.flavour {
                0 => (format!("x{k}"), format!("other{k}")),
                1 => (format!("e9{k}"), format!("old{k}")),
                _ => (format!("l{k}"), format!("legacy-{k}")),
            },
        };
        let mut r = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": format!("lg{k}"),
            "displayName": name,
        });
        if !g.drop_ext {
            r["externalId"] = json!(ext);
        }
        let mut members: Vec<String> = g
            .members
            .iter()
            .filter(|m| **m < users.len())
            .map(|m| format!("lu{m}"))
            .collect();
        members.sort();
        members.dedup();
        let mut group = LiveGroup::from_resource(r).expect("group");
        group.members = Some(members);
        groups.push(group);
    }
    Observed { users, groups }
}

fn desired(text: &str) -> Desired {
    let doc = config::load::parse_document(text, 0).expect("generated YAML parses");
    let mut diags = Vec::new();
    let d = config::resolve(
        vec![(0, doc)],
        roster::diag::SourceMap::default(),
        ".".into(),
        &mut diags,
    );
    let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:?}\n{text}");
    d
}

/// An in-memory SCIM service provider, just enough to apply plans.
struct Model {
    obs: Observed,
    next: usize,
    created: HashMap<String, String>,
}

impl Model {
    fn resolve(&self, v: &Value) -> Value {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(addr)) = o.get("$user_ref") {
                    return json!(self.created.get(addr).expect("dependency applied first"));
                }
                Value::Object(
                    o.iter()
                        .map(|(k, v)| (k.clone(), self.resolve(v)))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(|v| self.resolve(v)).collect()),
            other => other.clone(),
        }
    }

    fn apply(&mut self, c: &Change) {
        for op in &c.operations {
            match op {
                Operation::Create { body } => {
                    self.next += 1;
                    let id = format!("new{}", self.next);
                    let mut body = self.resolve(&Value::Object(body.clone()));
                    body["id"] = json!(id);
                    self.created.insert(c.address.to_string(), id);
                    if c.kind == roster::plan::ObjectKind::User {
                        self.obs
                            .users
                            .push(LiveUser::from_resource(body).expect("user"));
                    } else {
                        self.obs
                            .groups
                            .push(LiveGroup::from_resource(body).expect("group"));
                    }
                }
                Operation::Delete => {
                    let id = c.id.clone().expect("delete has an id");
                    self.obs.users.retain(|u| u.id != id);
                    self.obs.groups.retain(|g| g.id != id);
                    for g in &mut self.obs.groups {
                        if let Some(m) = &mut g.members {
                            m.retain(|x| *x != id);
                        }
                    }
                }
                Operation::Patch { ops } => {
                    let id =
                        c.id.clone()
                            .or_else(|| self.created.get(c.address.as_str()).cloned())
                            .expect("patch target exists");
                    for op in ops {
                        let value = op.value.as_ref().map(|v| self.resolve(v));
                        let path = op.path.as_deref().expect("ops carry paths");
                        if let Some(g) = self.obs.groups.iter_mut().find(|g| g.id == id) {
                            if path.starts_with("members") {
                                let members = g.members.get_or_insert_with(Vec::new);
                                if op.op == "add" {
                                    for m in value
                                        .and_then(|v| v.as_array().cloned())
                                        .unwrap_or_default()
                                    {
                                        let m = m["value"].as_str().expect("member id").to_string();
                                        if !members.contains(&m) {
                                            members.push(m);
                                        }
                                    }
                                } else {
                                    let p = AttrPath::parse(path).expect("member path");
                                    let gone = p.filter[0].1.as_str().expect("id").to_string();
                                    members.retain(|m| *m != gone);
                                }
                                continue;
                            }
                            let mut r = g.resource();
                            write(&mut r, &op.op, path, value);
                            let members = g.members.take();
                            *g = LiveGroup::from_resource(r).expect("group");
                            g.members = members;
                            continue;
                        }
                        let u = self
                            .obs
                            .users
                            .iter_mut()
                            .find(|u| u.id == id)
                            .expect("patched user exists");
                        let mut r = u.resource();
                        write(&mut r, &op.op, path, value);
                        *u = LiveUser::from_resource(r).expect("user");
                    }
                }
            }
        }
    }
}

/// One attribute PATCH operation on a resource.
fn write(resource: &mut Value, op: &str, path: &str, value: Option<Value>) {
    let p = AttrPath::parse(path).expect("patch path");
    let obj = resource.as_object_mut().expect("object");
    let container: &mut Map<String, Value> = match &p.schema {
        Some(s) => obj
            .entry(s.clone())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("extension object"),
        None => obj,
    };
    match (op, value) {
        ("remove", _) => {
            if !p.filter.is_empty() {
                if let Some(Value::Array(items)) = container.get_mut(&p.attr) {
                    items.retain(|e| {
                        !p.filter
                            .iter()
                            .all(|(k, v)| e.get(k).is_some_and(|x| x == v))
                    });
                }
            } else if let Some(sub) = &p.sub {
                if let Some(Value::Object(o)) = container.get_mut(&p.attr) {
                    o.remove(sub);
                }
            } else {
                container.remove(&p.attr);
            }
        }
        ("add", Some(Value::Array(new))) if p.filter.is_empty() && p.sub.is_none() => {
            match container.get_mut(&p.attr) {
                Some(Value::Array(items)) => items.extend(new),
                _ => {
                    container.insert(p.attr.clone(), Value::Array(new));
                }
            }
        }
        (_, Some(v)) => {
            // The container is already the extension object: set the path inside it.
            let inner = AttrPath {
                schema: None,
                ..p.clone()
            };
            inner.set(container, v);
        }
        (_, None) => panic!("{op} {path} without a value"),
    }
}

/// Apply every change in dependency order (as apply does), skipping conflicts.
fn apply_plan(obs: &Observed, plan: &TargetPlan) -> Observed {
    let mut model = Model {
        obs: obs.clone(),
        next: 0,
        created: HashMap::new(),
    };
    let mut pending: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| c.reason != Reason::Conflict)
        .collect();
    let mut done: std::collections::HashSet<String> = std::collections::HashSet::new();
    while !pending.is_empty() {
        let before = pending.len();
        let mut rest = Vec::new();
        for c in pending {
            if c.depends_on.iter().all(|d| done.contains(d.as_str())) {
                model.apply(c);
                if c.actions.contains(&Action::Create) {
                    done.insert(c.address.to_string());
                }
            } else {
                rest.push(c);
            }
        }
        assert!(rest.len() < before, "dependency cycle in {:?}", rest);
        pending = rest;
    }
    model.obs
}

fn ignored_user(u: &LiveUser) -> bool {
    u.user_name().to_lowercase().starts_with("admin-")
}

/// Every change is on an object roster owns or claims, never on an ignored one, and never
/// destroys or removes a protected user.
fn check_ownership(s: &Scenario, d: &Desired, obs: &Observed, plan: &TargetPlan) {
    let owns = |ext: Option<&str>| {
        s.pol.owns
            && ext.is_some_and(|e| {
                e.starts_with('e') && e.len() > 1 && e[1..].chars().all(|c| c.is_ascii_digit())
            })
    };
    let protected = |u: &LiveUser| {
        s.pol.protect_first
            && (u.external_id() == Some("e0")
                || d.users
                    .first()
                    .is_some_and(|d0| d0.user_name.eq_ignore_ascii_case(u.user_name())))
    };
    for c in &plan.changes {
        let Some(id) = &c.id else { continue };
        if c.reason == Reason::Conflict {
            assert!(c.operations.is_empty());
            continue;
        }
        let claimed = c.reason == Reason::UnmanagedPolicy && s.pol.unmanaged != 0;
        let dir_id = c
            .address
            .as_str()
            .split_once(':')
            .map(|(_, a)| a)
            .unwrap_or("");
        if c.kind == roster::plan::ObjectKind::User {
            let u = obs.users.iter().find(|u| &u.id == id).expect("live user");
            assert!(!ignored_user(u), "change on ignored user: {c:?}");
            let matched = dir_id.strip_prefix("user.").is_some_and(|e| {
                d.users.iter().any(|du| {
                    du.id == e
                        && (u.external_id() == Some(e)
                            || du.user_name.eq_ignore_ascii_case(u.user_name()))
                })
            });
            assert!(
                claimed || matched || owns(u.external_id()),
                "change on an object roster neither owns nor claims: {c:?}"
            );
            if c.actions.contains(&Action::Deactivate) || c.actions.contains(&Action::Delete) {
                assert!(!protected(u), "protected user destroyed: {c:?}");
            }
        } else {
            let g = obs.groups.iter().find(|g| &g.id == id).expect("live group");
            assert!(
                !g.display_name().to_lowercase().starts_with("legacy-"),
                "change on ignored group: {c:?}"
            );
            let matched = dir_id.strip_prefix("group.").is_some_and(|e| {
                d.groups.iter().any(|dg| {
                    dg.id == e
                        && (g.external_id() == Some(e)
                            || dg.name.eq_ignore_ascii_case(g.display_name()))
                })
            });
            assert!(
                claimed || matched || owns(g.external_id()),
                "change on a group roster neither owns nor claims: {c:?}"
            );
            for m in &c.members_removed {
                if let Some(u) = obs.users.iter().find(|u| Some(&u.id) == m.id.as_ref()) {
                    assert!(!ignored_user(u), "ignored member removed: {c:?}");
                    assert!(!protected(u), "protected member removed: {c:?}");
                }
            }
        }
    }
}

/// Every address a plan holds (each change's, what it depends on, the creates its members wait
/// for) renders and parses back to itself, in the plan's target and of the change's kind.
fn check_addresses(plan: &TargetPlan) {
    let round_trip = |a: &Address| {
        let back: Address = a.to_string().parse().expect("an address parses");
        assert_eq!(&back, a, "{a} does not parse back to itself");
        assert_eq!(a.target(), plan.name, "{a}");
        assert_eq!(a.directory_id().is_none(), a.is_live(), "{a}");
    };
    for c in &plan.changes {
        round_trip(&c.address);
        assert_eq!(c.address.kind(), c.kind, "{}", c.address);
        let json = serde_json::to_value(&c.address).expect("serializes");
        assert_eq!(json.as_str(), Some(c.address.as_str()));
        c.depends_on.iter().for_each(round_trip);
        c.members_added
            .iter()
            .filter_map(|m| m.created_by.as_ref())
            .for_each(round_trip);
    }
}

fn conflicts(plan: &TargetPlan) -> Vec<&Change> {
    plan.changes
        .iter()
        .filter(|c| c.reason == Reason::Conflict)
        .collect()
}

proptest! {
    // 64 cases keep CI fast; PROPTEST_CASES=N runs more locally.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    #[test]
    fn applying_a_plan_converges_and_touches_only_what_roster_owns(s in scenario()) {
        let text = yaml(&s);
        let d = desired(&text);
        let target = &d.targets[0];
        let obs = observed(&s);
        let opts = PlanOptions::default();
        let first = plan_target(&d, target, &obs, &opts).expect("plans");
        let again = plan_target(&d, target, &obs, &opts).expect("plans");
        prop_assert_eq!(
            serde_json::to_string(&first).expect("json"),
            serde_json::to_string(&again).expect("json")
        );
        check_ownership(&s, &d, &obs, &first);
        check_addresses(&first);

        let after = apply_plan(&obs, &first);
        let second = plan_target(&d, target, &after, &opts).expect("plans again");
        let left: Vec<&Change> = second
            .changes
            .iter()
            .filter(|c| c.reason != Reason::Conflict)
            .collect();
        prop_assert!(left.is_empty(), "not converged:\n{}\nfirst: {:#?}\nleft: {:#?}", text, first.changes, left);
        prop_assert_eq!(conflicts(&first).len(), conflicts(&second).len());
    }
}
