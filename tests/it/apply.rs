//! `roster apply` end to end, through the real binary against real servers: a `roster emulator`
//! process in both dialects and, when installed, scim2-server. What a user relies on: the
//! lifecycle converges (every apply is followed by an empty plan), the final summary line counts
//! what the plan said, a saved plan is refused when stale, safety gates and `protect` hold,
//! faults and a kill -9 mid-apply converge without duplicates, and failures are reported with the
//! server's detail while independent changes still land.

use crate::common::{http, roster, urlenc, EmulatorProcess, EMU_TOKEN_ENV};
use crate::scim_client::{scim2_python, Scim2Server};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod reads;

// ---------------------------------------------------------------------------------------------
// The directory, written as YAML by code

#[derive(Clone, Debug)]
struct U {
    id: String,
    user_name: String,
    email: String,
    title: String,
    display_name: Option<String>,
    /// A directory user id.
    manager: Option<String>,
    active: bool,
}

impl U {
    fn new(i: usize) -> U {
        U {
            id: format!("e{i:04}"),
            user_name: format!("user{i:04}@example.com"),
            email: format!("user{i:04}@example.com"),
            title: "Engineer".into(),
            display_name: None,
            manager: None,
            active: true,
        }
    }
}

#[derive(Clone, Debug)]
struct G {
    id: String,
    name: String,
    /// Directory user ids.
    members: Vec<String>,
}

impl G {
    fn new(j: usize, members: impl IntoIterator<Item = usize>) -> G {
        G {
            id: format!("g{j:02}"),
            name: format!("group-{j:02}"),
            members: members.into_iter().map(|i| format!("e{i:04}")).collect(),
        }
    }
}

#[derive(Clone, Debug, Default)]
struct Directory {
    users: Vec<U>,
    groups: Vec<G>,
}

impl Directory {
    fn with_users(n: usize) -> Directory {
        Directory {
            users: (0..n).map(U::new).collect(),
            groups: Vec::new(),
        }
    }

    fn user(&mut self, i: usize) -> &mut U {
        let id = format!("e{i:04}");
        self.users
            .iter_mut()
            .find(|u| u.id == id)
            .unwrap_or_else(|| panic!("no user {id}"))
    }

    fn group(&mut self, j: usize) -> &mut G {
        let id = format!("g{j:02}");
        self.groups
            .iter_mut()
            .find(|g| g.id == id)
            .unwrap_or_else(|| panic!("no group {id}"))
    }

    /// Remove users from the directory and from every group naming them.
    fn remove_users(&mut self, ids: impl IntoIterator<Item = usize>) {
        for i in ids {
            let id = format!("e{i:04}");
            self.users.retain(|u| u.id != id);
            for g in &mut self.groups {
                g.members.retain(|m| *m != id);
            }
        }
    }
}

/// Where the target points and how roster may act on it.
struct TargetSpec {
    /// The target's name in the configuration.
    name: &'static str,
    /// The environment variable holding its bearer token.
    token_env: &'static str,
    /// `generic` or `aws-identity-center`.
    ty: &'static str,
    url: String,
    /// Extra lines inside `policy:` (each indented by six spaces).
    policy: Vec<String>,
    /// The `rate:` mapping, when not the fast default below.
    rate: Option<&'static str>,
}

impl TargetSpec {
    fn new(ty: &'static str, url: &str) -> TargetSpec {
        TargetSpec {
            name: "crm",
            token_env: EMU_TOKEN_ENV,
            ty,
            url: url.to_string(),
            policy: Vec::new(),
            rate: None,
        }
    }

    fn named(mut self, name: &'static str, token_env: &'static str) -> TargetSpec {
        self.name = name;
        self.token_env = token_env;
        self
    }

    fn policy(mut self, line: &str) -> TargetSpec {
        self.policy.push(line.to_string());
        self
    }
}

fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).expect("string")
}

fn config_text(d: &Directory, targets: &[&TargetSpec]) -> String {
    let mut y = String::from("version: 1\nusers:\n");
    for u in &d.users {
        y.push_str(&format!(
            "  - {{ id: {}, user_name: {}, given_name: User, family_name: {}, email: {}, title: {}, active: {}",
            yaml_str(&u.id),
            yaml_str(&u.user_name),
            yaml_str(&format!("N{}", &u.id[1..])),
            yaml_str(&u.email),
            yaml_str(&u.title),
            u.active
        ));
        if let Some(dn) = &u.display_name {
            y.push_str(&format!(", display_name: {}", yaml_str(dn)));
        }
        if let Some(m) = &u.manager {
            y.push_str(&format!(", manager: {}", yaml_str(m)));
        }
        y.push_str(" }\n");
    }
    if d.groups.is_empty() {
        y.push_str("groups: []\n");
    } else {
        y.push_str("groups:\n");
        for g in &d.groups {
            let members: Vec<String> = g.members.iter().map(|m| yaml_str(m)).collect();
            y.push_str(&format!(
                "  - {{ id: {}, name: {}, members: [{}] }}\n",
                yaml_str(&g.id),
                yaml_str(&g.name),
                members.join(", ")
            ));
        }
    }
    y.push_str("targets:\n");
    for t in targets {
        y.push_str(&format!(
            "  {}:\n    type: {}\n    url: {}\n    auth: {{ bearer_token_env: {} }}\n    assign: {{ all: true }}\n",
            t.name, t.ty, t.url, t.token_env
        ));
        // CI speed: the AWS preset's 25 writes/s would make 500 creates take 20 s; a configured
        // budget also keeps the adaptive slowdown's floor high under injected 429s.
        y.push_str(&format!(
            "    rate: {}\n",
            t.rate.unwrap_or("{ reads_per_second: 1000, writes_per_second: 1000, member_operations_per_second: 10000 }")
        ));
        y.push_str("    policy:\n      owns: { external_id: \"^[eg][0-9]+$\" }\n");
        for line in &t.policy {
            y.push_str(&format!("      {line}\n"));
        }
    }
    y
}

/// One test's working directory and the token roster authenticates with.
struct Workspace {
    dir: tempfile::TempDir,
    config: PathBuf,
    token: String,
    /// Further (variable, token) pairs, for configurations with a second target.
    more_tokens: Vec<(&'static str, String)>,
}

/// What a finished `roster` run printed.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout (tail)\n{}\n--- stderr\n{}",
            self.code,
            tail(&self.stdout, 40),
            tail(&self.stderr, 40)
        )
    }
}

/// A line for the test log (`--nocapture` shows it): timings and counts measured in the run.
fn note(line: &str) {
    #[allow(clippy::print_stderr)]
    {
        eprintln!("{line}");
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl Workspace {
    fn new(token: &str) -> Workspace {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("roster.yaml");
        Workspace {
            dir,
            config,
            token: token.to_string(),
            more_tokens: Vec::new(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, d: &Directory, t: &TargetSpec) {
        self.write_many(d, &[t]);
    }

    fn write_many(&self, d: &Directory, targets: &[&TargetSpec]) {
        fs_err::write(&self.config, config_text(d, targets)).expect("config written");
    }

    /// `roster ARGS -c CONFIG`, stdin not a TTY.
    fn roster(&self, args: &[&str]) -> Run {
        let mut cmd = roster();
        for (var, token) in &self.more_tokens {
            cmd.env(var, token);
        }
        let out = cmd
            .env(EMU_TOKEN_ENV, &self.token)
            .args(args)
            .arg("-c")
            .arg(&self.config)
            .output()
            .expect("roster runs");
        let run = Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        for token in std::iter::once(&self.token).chain(self.more_tokens.iter().map(|(_, t)| t)) {
            assert!(
                !run.stdout.contains(token.as_str()) && !run.stderr.contains(token.as_str()),
                "the token never appears in output"
            );
        }
        run
    }

    /// `apply --auto-approve` that must succeed; returns (added, changed, destroyed).
    fn apply_ok(&self, extra: &[&str]) -> (u64, u64, u64) {
        self.apply_ok_planned(extra).1
    }

    /// `apply --auto-approve` that must succeed; returns the (add, change, destroy) of the plan
    /// it printed first and the (added, changed, destroyed) of its final line.
    fn apply_ok_planned(&self, extra: &[&str]) -> ((u64, u64, u64), (u64, u64, u64)) {
        let mut args = vec!["apply", "--auto-approve"];
        args.extend_from_slice(extra);
        let run = self.roster(&args);
        assert_eq!(run.code, Some(0), "apply failed: {run}");
        (plan_line(&run.stdout), complete_line(&run.stdout))
    }

    /// `plan --detailed-exitcode` exits 0: live state is what the configuration says.
    fn assert_converged(&self, step: &str) {
        let run = self.roster(&["plan", "--detailed-exitcode"]);
        assert_eq!(run.code, Some(0), "{step}: not converged: {run}");
        assert!(
            run.stdout
                .contains("No changes. Live state matches the configuration."),
            "{step}: {run}"
        );
    }

    /// `plan --out FILE` (exit 0 or 2); returns the file.
    fn save_plan(&self, name: &str) -> PathBuf {
        let file = self.path(name);
        let run = self.roster(&["plan", "--out", file.to_str().expect("utf8")]);
        assert_eq!(run.code, Some(0), "plan --out: {run}");
        file
    }
}

/// The numbers of the printed plan's `Plan: N to add, N to change, N to destroy (...)` line.
fn plan_line(stdout: &str) -> (u64, u64, u64) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Plan: "))
        .unwrap_or_else(|| panic!("no plan summary line in\n{stdout}"));
    let nums: Vec<u64> = line["Plan: ".len()..]
        .split(" (")
        .next()
        .expect("counts")
        .split(", ")
        .map(|part| part.split(' ').next().expect("N").parse().expect("number"))
        .collect();
    assert_eq!(nums.len(), 3, "{line}");
    (nums[0], nums[1], nums[2])
}

/// The numbers of the final `Apply complete! Resources: N added, N changed, N destroyed.` line,
/// which must be the last line of stdout.
fn complete_line(stdout: &str) -> (u64, u64, u64) {
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let rest = last
        .strip_prefix("Apply complete! Resources: ")
        .unwrap_or_else(|| panic!("last line is not the apply summary: {last:?}\n{stdout}"));
    let nums: Vec<u64> = rest
        .trim_end_matches('.')
        .split(", ")
        .zip(["added", "changed", "destroyed"])
        .map(|(part, word)| {
            let (n, w) = part.split_once(' ').expect("N word");
            assert_eq!(w, word, "{last}");
            n.parse().expect("number")
        })
        .collect();
    assert_eq!(nums.len(), 3, "{last}");
    (nums[0], nums[1], nums[2])
}

// ---------------------------------------------------------------------------------------------
// Looking at the live server directly

#[derive(Clone, Copy, Debug, PartialEq)]
enum Flavour {
    Generic,
    Aws,
    Scim2,
}

/// The live server as a test sees it, over plain HTTP.
struct Live {
    url: String,
    token: String,
    flavour: Flavour,
}

impl Live {
    fn of(emu: &EmulatorProcess, flavour: Flavour) -> Live {
        Live {
            url: emu.url.clone(),
            token: emu.token.clone(),
            flavour,
        }
    }

    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        http(
            method,
            &format!("{}{path}", self.url),
            Some(&self.token),
            body,
        )
    }

    /// A GET that must succeed; retried when the server injects 429 or 5xx (the faults test's
    /// emulator answers the test's own reads with them too).
    fn get(&self, path: &str) -> Value {
        let mut attempts = 0;
        loop {
            let (status, body) = self.send("GET", path, None);
            attempts += 1;
            if (status == 429 || status >= 500) && attempts < 100 {
                continue;
            }
            assert_eq!(status, 200, "GET {path}: {body}");
            return body;
        }
    }

    /// totalResults of a filtered list (or of all, with `filter` empty).
    fn total(&self, resource: &str, filter: &str) -> u64 {
        let q = if filter.is_empty() {
            String::new()
        } else {
            format!("filter={}&", urlenc(filter))
        };
        let body = self.get(&format!("/{resource}?{q}count=1"));
        body["totalResults"]
            .as_u64()
            .unwrap_or_else(|| panic!("no totalResults: {body}"))
    }

    /// The one user with this userName, or None.
    fn user_named(&self, user_name: &str) -> Option<Value> {
        let body = self.get(&format!(
            "/Users?filter={}",
            urlenc(&format!("userName eq \"{user_name}\""))
        ));
        let found = body["Resources"].as_array().cloned().unwrap_or_default();
        assert!(found.len() <= 1, "userName {user_name} twice: {body}");
        found.into_iter().next()
    }

    fn group_named(&self, name: &str) -> Value {
        let body = self.get(&format!(
            "/Groups?filter={}",
            urlenc(&format!("displayName eq \"{name}\""))
        ));
        let found = body["Resources"].as_array().cloned().unwrap_or_default();
        assert_eq!(found.len(), 1, "group {name}: {body}");
        found.into_iter().next().expect("one")
    }

    /// How many members the group has, asked the way the server can answer (AWS returns no
    /// members on a group; scim2-server never fills User.groups).
    fn member_count(&self, name: &str) -> u64 {
        let g = self.group_named(name);
        let id = g["id"].as_str().expect("group id").to_string();
        match self.flavour {
            Flavour::Aws => self.total("Users", &format!("groups.value eq \"{id}\"")),
            Flavour::Generic | Flavour::Scim2 => {
                let g = self.get(&format!("/Groups/{id}"));
                g["members"].as_array().map_or(0, |m| m.len() as u64)
            }
        }
    }

    fn counts(&self) -> (u64, u64) {
        (self.total("Users", ""), self.total("Groups", ""))
    }
}

/// Requests that write (any method but GET/HEAD) the emulator has seen, served or not.
fn write_attempts(stats: &Value) -> u64 {
    stats["by_method"]
        .as_object()
        .expect("by_method")
        .iter()
        .filter(|(m, _)| *m != "GET" && *m != "HEAD")
        .map(|(_, n)| n.as_u64().unwrap_or(0))
        .sum()
}

// ---------------------------------------------------------------------------------------------
// 1. Lifecycle

/// One full lifecycle against one server: create, update, rename, deactivate, reactivate,
/// delete, membership changes across groups larger than 100; every apply's summary equals its
/// plan's, and every apply is followed by an empty plan.
fn lifecycle(live: &Live, ty: &'static str, emu: Option<&EmulatorProcess>) {
    let ws = Workspace::new(&live.token);
    let target = TargetSpec::new(ty, &live.url)
        .policy("delete: true")
        .policy("groups: { delete: true, members: authoritative }")
        .policy("limits: { max_destroy: 1000, max_destroy_percent: 100 }");
    let mut d = Directory::with_users(500);
    // three groups above AWS's 100 member operations per request, seventeen small ones
    d.groups.push(G::new(0, 0..150));
    d.groups.push(G::new(1, 50..200));
    d.groups.push(G::new(2, 100..250));
    for j in 3..20 {
        let from = 300 + (j - 3) * 10;
        d.groups.push(G::new(j, from..from + 10));
    }
    let step = |ws: &Workspace, d: &Directory, name: &str| -> (u64, u64, u64) {
        ws.write(d, &target);
        let started = Instant::now();
        let (planned, applied) = ws.apply_ok_planned(&[]);
        note(&format!(
            "lifecycle {:?} {name}: {applied:?} in {:.1} s",
            live.flavour,
            started.elapsed().as_secs_f64()
        ));
        assert_eq!(applied, planned, "{name}: apply summary equals the plan's");
        ws.assert_converged(name);
        applied
    };

    // (a) create 500 users and 20 groups
    assert_eq!(step(&ws, &d, "create"), (520, 0, 0));
    assert_eq!(live.counts(), (500, 20));
    if let Some(emu) = emu {
        let s = emu.stats();
        assert_eq!(
            (s["users"].as_u64(), s["groups"].as_u64()),
            (Some(500), Some(20)),
            "{s}"
        );
    }
    assert_eq!(live.member_count("group-00"), 150);
    assert_eq!(live.member_count("group-05"), 10);

    // (b) attributes
    for i in 0..10 {
        d.user(i).title = "Staff Engineer".into();
    }
    for i in 10..15 {
        d.user(i).display_name = Some(format!("Person {i}"));
    }
    assert_eq!(step(&ws, &d, "update"), (0, 15, 0));
    let u3 = live.user_named("user0003@example.com").expect("user 3");
    assert_eq!(u3["title"], "Staff Engineer", "{u3}");
    let u12 = live.user_named("user0012@example.com").expect("user 12");
    assert_eq!(u12["displayName"], "Person 12", "{u12}");

    // (c) rename: same SCIM id before and after
    let before = live.user_named("user0020@example.com").expect("user 20");
    let id = before["id"].as_str().expect("id").to_string();
    let group_id = live.group_named("group-17")["id"].clone();
    d.user(20).user_name = "renamed0020@example.com".into();
    d.group(17).name = "renamed-17".into();
    assert_eq!(step(&ws, &d, "rename"), (0, 2, 0));
    assert_eq!(
        live.group_named("renamed-17")["id"],
        group_id,
        "group renamed in place"
    );
    assert_eq!(live.member_count("renamed-17"), 10);
    let after = live.get(&format!("/Users/{id}"));
    assert_eq!(after["userName"], "renamed0020@example.com", "{after}");
    assert_eq!(after["externalId"], "e0020");
    assert!(live.user_named("user0020@example.com").is_none());
    assert_eq!(live.counts().0, 500, "renamed in place, not recreated");

    // (d) deactivate, (e) reactivate
    for i in 30..35 {
        d.user(i).active = false;
    }
    assert_eq!(step(&ws, &d, "deactivate"), (0, 0, 5));
    let u31 = live.user_named("user0031@example.com").expect("user 31");
    assert_eq!(u31["active"], false, "{u31}");
    assert_eq!(live.member_count("group-00"), 150, "memberships kept");
    for i in 30..35 {
        d.user(i).active = true;
    }
    assert_eq!(step(&ws, &d, "reactivate"), (0, 5, 0));
    let u31 = live.user_named("user0031@example.com").expect("user 31");
    assert_eq!(u31["active"], true, "{u31}");

    // (f) delete: ten users in no group, five members of group-19, and group-18
    d.remove_users((465..470).chain(490..500));
    d.groups.retain(|g| g.id != "g18");
    let (added, _, destroyed) = step(&ws, &d, "delete");
    assert_eq!((added, destroyed), (0, 16), "15 users and a group deleted");
    assert_eq!(live.counts(), (485, 19));
    assert!(live.user_named("user0495@example.com").is_none());
    assert_eq!(live.member_count("group-19"), 5);

    // (g) membership across groups above 100: 100 adds, 110 removes, both at once
    d.group(0)
        .members
        .extend((150..250).map(|i| format!("e{i:04}")));
    d.group(1)
        .members
        .retain(|m| m[1..].parse::<usize>().expect("n") >= 160);
    d.group(2)
        .members
        .retain(|m| m[1..].parse::<usize>().expect("n") >= 105);
    d.group(2)
        .members
        .extend((250..260).map(|i| format!("e{i:04}")));
    assert_eq!(step(&ws, &d, "membership"), (0, 3, 0));
    assert_eq!(live.member_count("group-00"), 250);
    assert_eq!(live.member_count("group-01"), 40);
    assert_eq!(live.member_count("group-02"), 155);
    assert_eq!(live.counts(), (485, 19));
}

#[test]
fn lifecycle_against_the_generic_emulator() {
    let emu = EmulatorProcess::start(&["--token-env", EMU_TOKEN_ENV]);
    lifecycle(&Live::of(&emu, Flavour::Generic), "generic", Some(&emu));
}

#[test]
fn lifecycle_against_the_aws_emulator() {
    let emu = EmulatorProcess::start(&["--dialect", "aws", "--token-env", EMU_TOKEN_ENV]);
    lifecycle(
        &Live::of(&emu, Flavour::Aws),
        "aws-identity-center",
        Some(&emu),
    );
}

#[test]
fn lifecycle_against_scim2_server() {
    let Some(python) = scim2_python() else { return };
    let token = "apply-lifecycle-token-7d2c";
    let server = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(Scim2Server::start(&python, token));
    let live = Live {
        url: server.url.clone(),
        token: token.to_string(),
        flavour: Flavour::Scim2,
    };
    lifecycle(&live, "generic", None);
    drop(server);
}

// ---------------------------------------------------------------------------------------------
// 2. Faults

/// Under 20% 429s and 5% 500s, apply converges within two runs, with exactly the desired
/// objects (a create retried after a 5xx never duplicates), in both dialects.
#[test]
fn apply_converges_under_429_and_5xx_without_duplicates() {
    converges_under_faults(Flavour::Generic);
}

#[test]
fn apply_converges_under_429_and_5xx_against_aws() {
    converges_under_faults(Flavour::Aws);
}

fn converges_under_faults(flavour: Flavour) {
    let (dialect, ty) = dialect_and_type(flavour);
    let emu = EmulatorProcess::start(&[
        "--dialect",
        dialect,
        "--token-env",
        EMU_TOKEN_ENV,
        "--fail-429",
        "0.2",
        "--fail-5xx",
        "0.05",
        "--fault-seed",
        "11",
    ]);
    let ws = Workspace::new(&emu.token);
    let mut d = Directory::with_users(300);
    d.groups.push(G::new(0, 0..120));
    d.groups.push(G::new(1, 100..200));
    d.groups.push(G::new(2, 250..300));
    ws.write(&d, &TargetSpec::new(ty, &emu.url));
    let first = ws.roster(&["apply", "--auto-approve"]);
    note(&format!("faults {flavour:?}: first apply {:?}", first.code));
    match first.code {
        Some(0) => {}
        Some(5) => {
            let second = ws.roster(&["apply", "--auto-approve"]);
            assert_eq!(second.code, Some(0), "the second apply converges: {second}");
        }
        _ => panic!("apply under faults: {first}"),
    }
    ws.assert_converged("faults");
    let s = emu.stats();
    assert!(
        write_attempts(&s) > s["writes"].as_u64().unwrap_or(0),
        "faults were injected on writes and retried: {s}"
    );
    assert_eq!(
        (s["users"].as_u64(), s["groups"].as_u64()),
        (Some(300), Some(3)),
        "exactly the desired objects: {s}"
    );
    let live = Live::of(&emu, flavour);
    assert_eq!(live.member_count("group-00"), 120);
}

/// The emulator's `--dialect` and the target `type` for a flavour of server.
fn dialect_and_type(flavour: Flavour) -> (&'static str, &'static str) {
    match flavour {
        Flavour::Aws => ("aws", "aws-identity-center"),
        Flavour::Generic | Flavour::Scim2 => ("generic", "generic"),
    }
}

// ---------------------------------------------------------------------------------------------
// 3. kill -9 mid-apply

/// Start `roster apply PLAN` on 2000 creates against an emulator that holds every write after
/// the 1000th, kill -9 roster once 1000 writes were served, then release the held writes.
/// Returns the emulator, the workspace and the saved plan.
fn interrupted_apply(flavour: Flavour) -> (EmulatorProcess, Workspace, PathBuf) {
    let (dialect, ty) = dialect_and_type(flavour);
    let emu = EmulatorProcess::start(&[
        "--dialect",
        dialect,
        "--token-env",
        EMU_TOKEN_ENV,
        "--hold-writes-after",
        "1000",
    ]);
    let ws = Workspace::new(&emu.token);
    let mut d = Directory::with_users(2000);
    // above AWS's 100 member operations per request
    d.groups.push(G::new(0, 0..150));
    ws.write(&d, &TargetSpec::new(ty, &emu.url));
    let plan = ws.save_plan("plan.json");

    // Output to files: a pipe nobody reads would block roster before the kill.
    let out = fs_err::File::create(ws.path("apply.out")).expect("out");
    let err = fs_err::File::create(ws.path("apply.err")).expect("err");
    let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .arg("apply")
        .arg(&plan)
        .arg("-c")
        .arg(&ws.config)
        .env(EMU_TOKEN_ENV, &ws.token)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(out.into_parts().0)
        .stderr(err.into_parts().0)
        .spawn()
        .expect("apply starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let s = emu.stats();
        if s["writes"].as_u64().unwrap_or(0) >= 1000 {
            break;
        }
        if let Some(status) = child.try_wait().expect("wait") {
            panic!(
                "apply ended ({status}) before the hold: {}\n{}",
                fs_err::read_to_string(ws.path("apply.out")).unwrap_or_default(),
                fs_err::read_to_string(ws.path("apply.err")).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "1000 writes not reached: {s}");
        // Polling the emulator's counters; the interval only bounds the poll rate.
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill -9");
    let _ = child.wait();
    emu.release();
    let s = emu.stats();
    // Writes roster had in flight at the kill were held; once released they may still land
    // (the server may not notice the client is gone) - exactly the "done but never
    // acknowledged" case the next apply must absorb. Users are created before groups.
    let users = s["users"].as_u64().expect("users");
    assert!((1000..=1016).contains(&users), "{s}");
    assert_eq!(s["groups"], 0, "{s}");
    (emu, ws, plan)
}

#[test]
fn kill_9_mid_apply_then_a_fresh_apply_converges() {
    let (emu, ws, _plan) = interrupted_apply(Flavour::Generic);
    let (added, changed, destroyed) = ws.apply_ok(&[]);
    assert_eq!((added, changed, destroyed), (1001, 0, 0));
    let s = emu.stats();
    assert_eq!(
        (s["users"].as_u64(), s["groups"].as_u64()),
        (Some(2000), Some(1)),
        "{s}"
    );
    ws.assert_converged("after kill -9 and a fresh apply");
    assert_eq!(
        Live::of(&emu, Flavour::Generic).member_count("group-00"),
        150
    );
}

#[test]
fn kill_9_mid_apply_then_the_same_saved_plan_converges() {
    same_saved_plan_after_kill_9(Flavour::Generic);
}

#[test]
fn kill_9_mid_apply_against_aws_then_the_same_saved_plan_converges() {
    same_saved_plan_after_kill_9(Flavour::Aws);
}

fn same_saved_plan_after_kill_9(flavour: Flavour) {
    let (emu, ws, plan) = interrupted_apply(flavour);
    let run = ws.roster(&["apply", plan.to_str().expect("utf8")]);
    assert_eq!(
        run.code,
        Some(0),
        "re-applying the saved plan after a crash: {run}"
    );
    complete_line(&run.stdout);
    let s = emu.stats();
    assert_eq!(
        (s["users"].as_u64(), s["groups"].as_u64()),
        (Some(2000), Some(1)),
        "{s}"
    );
    ws.assert_converged("after kill -9 and the same plan");
    assert_eq!(Live::of(&emu, flavour).member_count("group-00"), 150);
}

// ---------------------------------------------------------------------------------------------
// 4, 5. Stale saved plans

/// Five users and a group applied; then a change of e0001's title, a new user e0005 and a new
/// member, saved as a plan. Returns the pieces.
fn saved_plan_setup() -> (EmulatorProcess, Workspace, Directory, TargetSpec, PathBuf) {
    let emu = EmulatorProcess::start(&["--token-env", EMU_TOKEN_ENV]);
    let ws = Workspace::new(&emu.token);
    let target = TargetSpec::new("generic", &emu.url);
    let mut d = Directory::with_users(5);
    d.groups.push(G::new(0, 0..2));
    ws.write(&d, &target);
    assert_eq!(ws.apply_ok(&[]), (6, 0, 0));
    d.user(1).title = "Lead".into();
    d.users.push(U::new(5));
    d.group(0).members.push("e0002".into());
    ws.write(&d, &target);
    let plan = ws.save_plan("plan.json");
    (emu, ws, d, target, plan)
}

#[test]
fn a_saved_plan_is_refused_when_an_object_changed_since() {
    let (emu, ws, _d, _t, plan) = saved_plan_setup();
    let live = Live::of(&emu, Flavour::Generic);
    let u1 = live.user_named("user0001@example.com").expect("user 1");
    let id = u1["id"].as_str().expect("id");
    let (status, body) = live.send(
        "PATCH",
        &format!("/Users/{id}"),
        Some(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": "Changed Elsewhere"}]
        })),
    );
    assert_eq!(status, 200, "{body}");
    let before = emu.stats();
    let run = ws.roster(&["apply", plan.to_str().expect("utf8")]);
    assert_eq!(run.code, Some(4), "stale plan: {run}");
    assert!(
        run.stderr.contains("crm:user.e0001") || run.stderr.contains("user0001@example.com"),
        "the stale object is named: {run}"
    );
    assert!(
        !run.stderr.contains("crm:user.e0002") && !run.stderr.contains("crm:group.g00"),
        "only the stale object is named: {run}"
    );
    let after = emu.stats();
    assert_eq!(
        after["writes"], before["writes"],
        "nothing written: {after}"
    );
    assert_eq!(
        write_attempts(&after),
        write_attempts(&before),
        "nothing sent: {after}"
    );
    assert!(live.user_named("user0005@example.com").is_none());
}

#[test]
fn a_saved_plan_is_refused_when_the_configuration_changed() {
    let (emu, ws, mut d, target, plan) = saved_plan_setup();
    d.user(3).title = "Manager".into();
    ws.write(&d, &target);
    let before = emu.stats();
    let run = ws.roster(&["apply", plan.to_str().expect("utf8")]);
    assert_eq!(
        run.code,
        Some(4),
        "configuration changed since the plan: {run}"
    );
    assert!(
        run.stderr.to_lowercase().contains("config"),
        "says the configuration changed: {run}"
    );
    let after = emu.stats();
    assert_eq!(
        write_attempts(&after),
        write_attempts(&before),
        "nothing sent: {after}"
    );
    let live = Live::of(&emu, Flavour::Generic);
    assert!(live.user_named("user0005@example.com").is_none());
    // the unchanged saved plan of an unchanged configuration still applies
    let target_back = {
        d.user(3).title = "Engineer".into();
        d
    };
    ws.write(&target_back, &target);
    let run = ws.roster(&["apply", plan.to_str().expect("utf8")]);
    assert_eq!(
        run.code,
        Some(0),
        "the plan applies once the config is back: {run}"
    );
    assert_eq!(complete_line(&run.stdout), (1, 2, 0));
    ws.assert_converged("saved plan applied");
}

// ---------------------------------------------------------------------------------------------
// 6. Safety gate and protect

#[test]
fn the_destroy_gate_blocks_until_allow_destroy_and_protect_always_holds() {
    let emu = EmulatorProcess::start(&["--token-env", EMU_TOKEN_ENV]);
    let ws = Workspace::new(&emu.token);
    let target = TargetSpec::new("generic", &emu.url)
        .policy("protect: { users: [user0005@example.com] }")
        .policy("limits: { max_destroy: 2, max_destroy_percent: 100 }");
    let mut d = Directory::with_users(6);
    d.groups.push(G::new(0, [0, 4, 5]));
    ws.write(&d, &target);
    assert_eq!(ws.apply_ok(&[]), (7, 0, 0));

    // e0002..e0005 leave the directory: three deactivations (over the limit of 2); e0005 is
    // protected, so it is neither deactivated nor removed from group-00.
    d.remove_users(2..6);
    ws.write(&d, &target);
    let before = emu.stats();
    let run = ws.roster(&["apply", "--auto-approve"]);
    assert_eq!(run.code, Some(3), "gate: {run}");
    assert!(
        run.stdout.contains("user0002@example.com"),
        "the plan is printed: {run}"
    );
    let after = emu.stats();
    assert_eq!(
        write_attempts(&after),
        write_attempts(&before),
        "nothing sent: {after}"
    );

    let (added, changed, destroyed) = ws.apply_ok(&["--allow-destroy"]);
    assert_eq!((added, destroyed), (0, 3), "{changed} changed");
    let live = Live::of(&emu, Flavour::Generic);
    for i in 2..5 {
        let u = live
            .user_named(&format!("user{i:04}@example.com"))
            .expect("kept, deactivated");
        assert_eq!(u["active"], false, "{u}");
    }
    let protected = live.user_named("user0005@example.com").expect("protected");
    assert_eq!(
        protected["active"], true,
        "protected user untouched: {protected}"
    );
    let g = live.group_named("group-00");
    let members: Vec<&str> = g["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["value"].as_str())
        .collect();
    let pid = protected["id"].as_str().expect("id");
    assert!(members.contains(&pid), "protected user still a member: {g}");
    assert_eq!(members.len(), 2, "e0004 removed, e0000 and e0005 kept: {g}");
    ws.assert_converged("after allow-destroy");
}

// ---------------------------------------------------------------------------------------------
// 7. Approval

#[test]
fn without_a_tty_apply_needs_auto_approve_and_no_changes_is_success() {
    let emu = EmulatorProcess::start(&["--token-env", EMU_TOKEN_ENV]);
    let ws = Workspace::new(&emu.token);
    let mut d = Directory::with_users(3);
    d.groups.push(G::new(0, 0..3));
    ws.write(&d, &TargetSpec::new("generic", &emu.url));
    // Refused before anything is sent (this build refuses before planning, so the plan is not
    // shown; the contract only requires that nothing is written).
    let run = ws.roster(&["apply"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stderr.contains("--auto-approve"), "{run}");
    let s = emu.stats();
    assert_eq!(write_attempts(&s), 0, "nothing sent: {s}");
    assert_eq!(s["users"], 0);

    assert_eq!(ws.apply_ok(&[]), (4, 0, 0));
    let before = emu.stats();
    let run = ws.roster(&["apply", "--auto-approve"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stdout
            .contains("No changes. Live state matches the configuration."),
        "{run}"
    );
    assert_eq!(write_attempts(&emu.stats()), write_attempts(&before));
}

// ---------------------------------------------------------------------------------------------
// 8. Report

#[test]
fn the_report_lists_every_change_as_applied() {
    let emu = EmulatorProcess::start(&["--token-env", EMU_TOKEN_ENV]);
    let ws = Workspace::new(&emu.token);
    let mut d = Directory::with_users(5);
    d.groups.push(G::new(0, 0..3));
    ws.write(&d, &TargetSpec::new("generic", &emu.url));
    let plan = ws.save_plan("plan.json");
    let saved: Value =
        serde_json::from_slice(&fs_err::read(&plan).expect("plan")).expect("plan json");
    let report = ws.path("report.json");
    let run = ws.roster(&[
        "apply",
        plan.to_str().expect("utf8"),
        "--report",
        report.to_str().expect("utf8"),
    ]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(complete_line(&run.stdout), (6, 0, 0));
    let r: Value =
        serde_json::from_slice(&fs_err::read(&report).expect("report written")).expect("json");
    use std::os::unix::fs::PermissionsExt;
    let mode = fs_err::metadata(&report)
        .expect("report")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "personal data: report mode {mode:o}");
    assert_eq!(r["format_version"], "1", "{r}");
    assert_eq!(r["plan_checksum"], saved["checksum"], "{r}");
    assert_eq!(r["config_digest"], saved["config_digest"], "{r}");
    assert!(
        r["started_at"].is_string() && r["finished_at"].is_string(),
        "{r}"
    );
    let t = &r["targets"][0];
    assert_eq!(t["name"], "crm");
    assert_eq!(
        t["summary"],
        json!({"added": 6, "changed": 0, "destroyed": 0, "failed": 0, "skipped": 0}),
        "{t}"
    );
    let changes = t["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 6, "{t}");
    let live = Live::of(&emu, Flavour::Generic);
    for c in changes {
        let addr = c["address"].as_str().expect("address");
        assert_eq!(
            run.stdout.lines().filter(|l| l.starts_with(addr)).count(),
            1,
            "one log line per change without a TTY: {addr}\n{run}"
        );
        assert_eq!(c["status"], "applied", "{c}");
        assert!(c["seconds"].is_number() && c["actions"].is_array(), "{c}");
        assert!(c.get("error").is_none_or(Value::is_null), "{c}");
        let addr = c["address"].as_str().expect("address");
        let id = c["id"].as_str().expect("live id of the created object");
        if c["kind"] == "user" {
            assert!(addr.starts_with("crm:user.e"), "{c}");
            let u = live.get(&format!("/Users/{id}"));
            assert_eq!(u["userName"], c["name"], "{c}");
        } else {
            assert_eq!(
                (c["kind"].as_str(), addr),
                (Some("group"), "crm:group.g00"),
                "{c}"
            );
            assert_eq!(
                live.get(&format!("/Groups/{id}"))["displayName"],
                "group-00"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 9. Partial failure

/// AWS refuses a userName with `;` (validate does not know that rule): that create fails with
/// the server's detail, the membership naming the user is skipped, independent changes land.
#[test]
fn a_failed_change_is_reported_its_dependants_skipped_and_the_rest_applied() {
    let emu = EmulatorProcess::start(&["--dialect", "aws", "--token-env", EMU_TOKEN_ENV]);
    let ws = Workspace::new(&emu.token);
    let target = TargetSpec::new("aws-identity-center", &emu.url);
    let mut d = Directory::with_users(3);
    d.groups.push(G::new(0, 0..2));
    d.groups.push(G::new(1, 0..1));
    ws.write(&d, &target);
    assert_eq!(ws.apply_ok(&[]), (5, 0, 0));

    let mut bad = U::new(3);
    bad.user_name = "bad;name@example.com".into();
    d.users.push(bad);
    d.users.push(U::new(4));
    d.group(0).members.push("e0003".into());
    d.group(1).members.push("e0004".into());
    d.user(0).title = "Lead".into();
    ws.write(&d, &target);
    let report = ws.path("report.json");
    let run = ws.roster(&[
        "apply",
        "--auto-approve",
        "--report",
        report.to_str().expect("utf8"),
    ]);
    assert_eq!(run.code, Some(5), "partial failure: {run}");
    let all = format!("{}\n{}", run.stdout, run.stderr);
    assert!(
        all.contains("userName contains a character that is not allowed."),
        "the server's detail is shown: {run}"
    );
    assert!(
        all.contains("bad;name@example.com"),
        "the failed user is named: {run}"
    );
    assert!(
        all.contains("skipped"),
        "the dependant is reported skipped: {run}"
    );

    let live = Live::of(&emu, Flavour::Aws);
    assert!(
        live.user_named("user0004@example.com").is_some(),
        "independent create applied"
    );
    assert_eq!(
        live.member_count("group-01"),
        2,
        "independent membership applied"
    );
    assert_eq!(
        live.member_count("group-00"),
        2,
        "the skipped membership was not sent"
    );
    let u0 = live.user_named("user0000@example.com").expect("user 0");
    assert_eq!(u0["title"], "Lead", "independent update applied");

    let r: Value =
        serde_json::from_slice(&fs_err::read(&report).expect("report written")).expect("json");
    let t = &r["targets"][0];
    assert_eq!(
        (
            t["summary"]["failed"].as_u64(),
            t["summary"]["skipped"].as_u64()
        ),
        (Some(1), Some(1)),
        "{t}"
    );
    let changes = t["changes"].as_array().expect("changes");
    let by_addr = |a: &str| {
        changes
            .iter()
            .find(|c| c["address"] == a)
            .unwrap_or_else(|| panic!("{a} in report: {t}"))
    };
    let failed = by_addr("crm:user.e0003");
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("not allowed")),
        "{failed}"
    );
    assert_eq!(by_addr("crm:group.g00")["status"], "skipped");
    for a in ["crm:user.e0004", "crm:group.g01", "crm:user.e0000"] {
        assert_eq!(by_addr(a)["status"], "applied", "{a}: {t}");
    }
}

// ---------------------------------------------------------------------------------------------
// More of the contract: reviewed checksums, several targets, ordering

/// `--checksum` pins the reviewed plan: a saved plan with another checksum is refused before
/// anything is sent; the right one applies.
#[test]
fn a_saved_plan_applies_only_with_its_reviewed_checksum() {
    let emu = EmulatorProcess::start(&["--token-env", EMU_TOKEN_ENV]);
    let ws = Workspace::new(&emu.token);
    let mut d = Directory::with_users(3);
    d.groups.push(G::new(0, 0..3));
    ws.write(&d, &TargetSpec::new("generic", &emu.url));
    let plan = ws.save_plan("plan.json");
    let saved: Value =
        serde_json::from_slice(&fs_err::read(&plan).expect("plan")).expect("plan json");
    let checksum = saved["checksum"].as_str().expect("checksum").to_string();
    assert!(checksum.starts_with("sha256:"), "{checksum}");
    let wrong = format!("sha256:{}", "0".repeat(64));
    let plan_s = plan.to_str().expect("utf8");
    let run = ws.roster(&["apply", plan_s, "--checksum", &wrong]);
    assert!(
        matches!(run.code, Some(1 | 4)),
        "a plan that is not the reviewed one is refused: {run}"
    );
    assert!(run.stderr.contains("checksum"), "{run}");
    assert_eq!(write_attempts(&emu.stats()), 0, "nothing sent");

    // The CI flow: plan reviewed in a pull request, applied on merge by a fresh plan that must
    // have the same checksum. Another change set is refused ...
    d.user(0).title = "Lead".into();
    ws.write(&d, &TargetSpec::new("generic", &emu.url));
    let run = ws.roster(&["apply", "--auto-approve", "--checksum", &checksum]);
    assert!(matches!(run.code, Some(1 | 4)), "{run}");
    assert_eq!(write_attempts(&emu.stats()), 0, "nothing sent");
    // ... the same change set has the same checksum and applies.
    d.user(0).title = "Engineer".into();
    ws.write(&d, &TargetSpec::new("generic", &emu.url));
    let run = ws.roster(&["apply", "--auto-approve", "--checksum", &checksum]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(complete_line(&run.stdout), (4, 0, 0));
    ws.assert_converged("checksummed plan");
}

/// A gate tripped in one target blocks every target; `--target` applies the other alone.
#[test]
fn a_gate_in_one_target_blocks_all_and_target_selects_one() {
    let a = EmulatorProcess::start(&["--token-env", EMU_TOKEN_ENV]);
    let b = EmulatorProcess::start(&["--token-env", EMU_TOKEN_ENV]);
    let mut ws = Workspace::new(&a.token);
    ws.more_tokens.push(("EMU_TOKEN_B", b.token.clone()));
    let ta = TargetSpec::new("generic", &a.url)
        .policy("limits: { max_destroy: 10, max_destroy_percent: 100 }");
    let tb = TargetSpec::new("generic", &b.url)
        .named("wiki", "EMU_TOKEN_B")
        .policy("limits: { max_destroy: 1, max_destroy_percent: 100 }");
    let mut d = Directory::with_users(6);
    ws.write_many(&d, &[&ta, &tb]);
    let run = ws.roster(&["apply", "--auto-approve"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(
        complete_line(&run.stdout),
        (12, 0, 0),
        "both targets counted"
    );
    assert_eq!(
        (a.stats()["users"].as_u64(), b.stats()["users"].as_u64()),
        (Some(6), Some(6))
    );

    d.remove_users(4..6);
    ws.write_many(&d, &[&ta, &tb]);
    let (before_a, before_b) = (write_attempts(&a.stats()), write_attempts(&b.stats()));
    let run = ws.roster(&["apply", "--auto-approve"]);
    assert_eq!(
        run.code,
        Some(3),
        "wiki's gate blocks the whole apply: {run}"
    );
    assert_eq!(write_attempts(&a.stats()), before_a, "crm untouched too");
    assert_eq!(write_attempts(&b.stats()), before_b);

    let run = ws.roster(&["apply", "--auto-approve", "--target", "crm"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(complete_line(&run.stdout), (0, 0, 2));
    assert_eq!(write_attempts(&b.stats()), before_b, "wiki not selected");
    let la = Live::of(&a, Flavour::Generic);
    let lb = Live::of(&b, Flavour::Generic);
    assert_eq!(
        la.user_named("user0004@example.com").expect("kept")["active"],
        false
    );
    assert_eq!(
        lb.user_named("user0004@example.com").expect("kept")["active"],
        true
    );
}

/// A rename that frees a userName runs before the create that takes it.
#[test]
fn a_rename_frees_its_user_name_before_a_create_takes_it() {
    let emu = EmulatorProcess::start(&["--token-env", EMU_TOKEN_ENV]);
    let ws = Workspace::new(&emu.token);
    let target = TargetSpec::new("generic", &emu.url);
    let mut d = Directory::with_users(3);
    ws.write(&d, &target);
    assert_eq!(ws.apply_ok(&[]), (3, 0, 0));
    let live = Live::of(&emu, Flavour::Generic);
    let old_id = live.user_named("user0001@example.com").expect("user 1")["id"]
        .as_str()
        .expect("id")
        .to_string();
    d.user(1).user_name = "moved0001@example.com".into();
    let mut newcomer = U::new(3);
    newcomer.user_name = "user0001@example.com".into();
    d.users.push(newcomer);
    ws.write(&d, &target);
    assert_eq!(ws.apply_ok(&[]), (1, 1, 0));
    let moved = live.get(&format!("/Users/{old_id}"));
    assert_eq!(moved["userName"], "moved0001@example.com", "{moved}");
    let taken = live.user_named("user0001@example.com").expect("created");
    assert_eq!(taken["externalId"], "e0003", "{taken}");
    ws.assert_converged("rename then create");
}

/// `manager` references are written as the manager's id in the target, and a manager created
/// in the same apply is created first (here every manager comes later in the file).
#[test]
fn managers_created_in_the_same_apply_are_referenced_by_their_new_ids() {
    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let emu = EmulatorProcess::start(&["--token-env", EMU_TOKEN_ENV]);
    let ws = Workspace::new(&emu.token);
    let mut d = Directory::with_users(30);
    for i in 0..29 {
        d.user(i).manager = Some(format!("e{:04}", i + 1));
    }
    ws.write(&d, &TargetSpec::new("generic", &emu.url));
    assert_eq!(ws.apply_ok(&[]), (30, 0, 0));
    ws.assert_converged("managers");
    let live = Live::of(&emu, Flavour::Generic);
    for i in [0, 14, 28] {
        let u = live
            .user_named(&format!("user{i:04}@example.com"))
            .expect("user");
        let m = live
            .user_named(&format!("user{:04}@example.com", i + 1))
            .expect("manager");
        assert_eq!(u[ENT]["manager"]["value"], m["id"], "{u}");
    }
}

/// Writes keep to the target's `rate`: a server that answers 429 above twice that rate never
/// has to, and the apply takes at least as long as the budget implies.
#[test]
fn apply_keeps_to_the_configured_write_rate() {
    let emu = EmulatorProcess::start(&["--token-env", EMU_TOKEN_ENV, "--rate-limit-write", "20"]);
    let ws = Workspace::new(&emu.token);
    let mut target = TargetSpec::new("generic", &emu.url);
    target.rate = Some("{ reads_per_second: 1000, writes_per_second: 10 }");
    ws.write(&Directory::with_users(30), &target);
    let started = Instant::now();
    assert_eq!(ws.apply_ok(&[]), (30, 0, 0));
    let elapsed = started.elapsed();
    note(&format!(
        "30 creates at 10 writes/s: {:.2} s",
        elapsed.as_secs_f64()
    ));
    let s = emu.stats();
    assert_eq!(write_attempts(&s), 30, "no write was refused with 429: {s}");
    // 30 writes at 10/s: at least 2 s after a burst of up to 10
    assert!(elapsed >= Duration::from_millis(1900), "{elapsed:?}");
}

/// A chain of renames, each taking the userName the previous one frees, applies in
/// dependency order (docs/contract.md#phases: what releases a unique value runs before what takes it).
#[test]
fn a_chain_of_renames_applies_in_dependency_order() {
    let emu = EmulatorProcess::start(&["--token-env", EMU_TOKEN_ENV]);
    let ws = Workspace::new(&emu.token);
    let target = TargetSpec::new("generic", &emu.url);
    let mut d = Directory::with_users(12);
    ws.write(&d, &target);
    assert_eq!(ws.apply_ok(&[]), (12, 0, 0));
    // e0001 -> new name; e0002 takes user0001's, e0003 user0002's, ... e0010 user0009's: ten
    // renames that only succeed in this order
    d.user(1).user_name = "new0001@example.com".into();
    for i in 2..11 {
        d.user(i).user_name = format!("user{:04}@example.com", i - 1);
    }
    ws.write(&d, &target);
    let run = ws.roster(&["apply", "--auto-approve"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(complete_line(&run.stdout), (0, 10, 0));
    ws.assert_converged("rename chain");
    let live = Live::of(&emu, Flavour::Generic);
    let u = live.user_named("user0009@example.com").expect("taken");
    assert_eq!(u["externalId"], "e0010", "{u}");
}

/// Two users swapping userNames form a cycle: docs/contract.md#phases makes it a conflict, reported, with
/// nothing sent for it (no request that is bound to fail with 409).
#[test]
fn a_user_name_swap_is_a_conflict_and_nothing_is_sent() {
    let emu = EmulatorProcess::start(&["--token-env", EMU_TOKEN_ENV]);
    let ws = Workspace::new(&emu.token);
    let target = TargetSpec::new("generic", &emu.url);
    let mut d = Directory::with_users(3);
    ws.write(&d, &target);
    assert_eq!(ws.apply_ok(&[]), (3, 0, 0));
    d.user(1).user_name = "user0002@example.com".into();
    d.user(2).user_name = "user0001@example.com".into();
    ws.write(&d, &target);
    let before = write_attempts(&emu.stats());
    let run = ws.roster(&["apply", "--auto-approve"]);
    assert!(
        format!("{}{}", run.stdout, run.stderr).contains("conflict"),
        "the cycle is reported as a conflict: {run}"
    );
    assert_eq!(
        write_attempts(&emu.stats()),
        before,
        "nothing sent for a conflict: {run}"
    );
}

/// `--redact` hides personal values in everything apply prints and in the report.
#[test]
fn redact_hides_personal_values_in_apply_output_and_report() {
    let emu = EmulatorProcess::start(&["--token-env", EMU_TOKEN_ENV]);
    let ws = Workspace::new(&emu.token);
    let mut d = Directory::with_users(3);
    d.groups.push(G::new(0, 0..3));
    ws.write(&d, &TargetSpec::new("generic", &emu.url));
    let report = ws.path("report.json");
    let run = ws.roster(&[
        "apply",
        "--auto-approve",
        "--redact",
        "--report",
        report.to_str().expect("utf8"),
    ]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(complete_line(&run.stdout), (4, 0, 0));
    let written = fs_err::read_to_string(&report).expect("report");
    for text in [&run.stdout, &run.stderr, &written] {
        assert!(!text.contains("@example.com"), "a user name leaked: {text}");
    }
    assert!(
        run.stdout.contains("crm:user.e0001"),
        "addresses stay: {run}"
    );
}

/// The staleness check compares the digest of the configuration's files (docs/contract.md#stale-plans) by their
/// paths relative to the entry file, so a plan made in CI's plan job applies in its apply job
/// even when the job spells the path to the same configuration differently (another working
/// directory, an absolute `-c`).
#[test]
fn a_saved_plan_is_not_stale_for_another_path_spelling() {
    let emu = EmulatorProcess::start(&["--token-env", EMU_TOKEN_ENV]);
    let ws = Workspace::new(&emu.token);
    ws.write(
        &Directory::with_users(3),
        &TargetSpec::new("generic", &emu.url),
    );
    // plan job: relative path from the configuration's directory
    let out = roster()
        .current_dir(ws.dir.path())
        .env(EMU_TOKEN_ENV, &ws.token)
        .args(["plan", "--out", "plan.json", "-c", "roster.yaml"])
        .output()
        .expect("plan runs");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // apply job: absolute path, another working directory
    let plan = ws.path("plan.json");
    let run = ws.roster(&["apply", plan.to_str().expect("utf8")]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(complete_line(&run.stdout), (3, 0, 0));
}

/// A saved plan that is both gated and stale exits 4: "the first of 1, 4, 3, 5, 2, 0 wins"
/// (docs/contract.md#exit-codes), so a script learns it must plan again rather than that `--allow-destroy` would do.
#[test]
fn a_gated_and_stale_saved_plan_exits_4() {
    let emu = EmulatorProcess::start(&["--token-env", EMU_TOKEN_ENV]);
    let ws = Workspace::new(&emu.token);
    let target = TargetSpec::new("generic", &emu.url)
        .policy("limits: { max_destroy: 1, max_destroy_percent: 100 }");
    let mut d = Directory::with_users(6);
    ws.write(&d, &target);
    assert_eq!(ws.apply_ok(&[]), (6, 0, 0));
    d.remove_users(3..6);
    d.user(1).title = "Lead".into();
    ws.write(&d, &target);
    let plan = ws.path("plan.json");
    let run = ws.roster(&["plan", "--out", plan.to_str().expect("utf8")]);
    assert_eq!(run.code, Some(3), "the plan is gated: {run}");
    let live = Live::of(&emu, Flavour::Generic);
    let id = live.user_named("user0001@example.com").expect("user 1")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let (status, body) = live.send(
        "PATCH",
        &format!("/Users/{id}"),
        Some(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": "Changed Elsewhere"}]
        })),
    );
    assert_eq!(status, 200, "{body}");
    let before = write_attempts(&emu.stats());
    let run = ws.roster(&["apply", plan.to_str().expect("utf8")]);
    assert_eq!(run.code, Some(4), "stale wins over gated: {run}");
    assert_eq!(write_attempts(&emu.stats()), before);
}

/// Run `apply --auto-approve` of one user create against a slow emulator, and create `user`
/// through the API after roster's plan reads were served but before roster's create is sent.
fn race_a_create(user: Value) -> (EmulatorProcess, Workspace, Run) {
    // Latency holds each response back, so the test can create the user after roster's reads
    // were served and before roster's create is sent.
    let emu = EmulatorProcess::start(&["--token-env", EMU_TOKEN_ENV, "--latency-ms", "700"]);
    let ws = Workspace::new(&emu.token);
    ws.write(
        &Directory::with_users(1),
        &TargetSpec::new("generic", &emu.url),
    );
    let out = fs_err::File::create(ws.path("apply.out")).expect("out");
    let err = fs_err::File::create(ws.path("apply.err")).expect("err");
    let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["apply", "--auto-approve", "-c"])
        .arg(&ws.config)
        .env(EMU_TOKEN_ENV, &ws.token)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(out.into_parts().0)
        .stderr(err.into_parts().0)
        .spawn()
        .expect("apply starts");
    // The plan lists users and groups: two reads served (their answers still delayed).
    let deadline = Instant::now() + Duration::from_secs(30);
    while emu.stats()["reads"].as_u64().unwrap_or(0) < 2 {
        assert!(
            Instant::now() < deadline,
            "roster never read: {}",
            emu.stats()
        );
        // Polling the emulator's counters; the interval only bounds the poll rate.
        std::thread::sleep(Duration::from_millis(5));
    }
    let (status, body) = emu.send("POST", "/Users", Some(&user));
    assert_eq!(status, 201, "{body}");
    let status = child.wait().expect("apply ends");
    let run = Run {
        code: status.code(),
        stdout: fs_err::read_to_string(ws.path("apply.out")).expect("out"),
        stderr: fs_err::read_to_string(ws.path("apply.err")).expect("err"),
    };
    let s = emu.stats();
    assert!(
        s["by_method"]["POST"].as_u64() >= Some(2),
        "roster's create was sent after the test's (and refused): {s}\n{run}"
    );
    assert_eq!(s["users"], 1, "{s}");
    (emu, ws, run)
}

/// A user that appears between the plan's reads and apply's create (another process created
/// it): the create meets 409 and adopts it, since it is the desired object (docs/contract.md#concurrency-and-retries).
#[test]
fn a_409_on_create_adopts_the_matching_object_created_meanwhile() {
    let (_emu, ws, run) = race_a_create(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "user0000@example.com", "externalId": "e0000", "displayName": "User N0000",
        "name": {"givenName": "User", "familyName": "N0000"}, "title": "Engineer",
        "emails": [{"value": "user0000@example.com", "primary": true}], "active": true
    }));
    assert_eq!(run.code, Some(0), "adopted, not a failure: {run}");
    ws.assert_converged("adopted on 409");
}

/// ... and when the object that took the userName is someone else's (another externalId), the
/// create is a conflict: reported, exit 5, the stranger untouched.
#[test]
fn a_409_on_create_by_someone_elses_object_is_a_reported_conflict() {
    let (emu, _ws, run) = race_a_create(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "user0000@example.com", "externalId": "stranger", "displayName": "Someone Else",
        "name": {"givenName": "Some", "familyName": "One"}, "active": true
    }));
    assert_eq!(run.code, Some(5), "{run}");
    assert!(
        format!("{}{}", run.stdout, run.stderr).contains("conflict"),
        "reported as a conflict: {run}"
    );
    let live = Live::of(&emu, Flavour::Generic);
    let u = live.user_named("user0000@example.com").expect("stranger");
    assert_eq!(
        (u["externalId"].as_str(), u["displayName"].as_str()),
        (Some("stranger"), Some("Someone Else")),
        "the stranger is untouched: {u}"
    );
}
