//! The lifecycle (create, update, rename, deactivate, reactivate, memberships over 100, delete)
//! against servers that keep less than they are sent: the emulator in each of its quirk modes,
//! and scim2-server. Every step's apply succeeds, is followed by a plan that says "No changes",
//! and leaves exactly the desired objects (none lost, none duplicated, no membership removed by
//! mistake). One test per defence checks its message and request counts as well.
//!
//! With `ROSTER_LIFECYCLE_MATRIX=FILE` each mode appends its row (server/mode x step: converged,
//! requests) to FILE as markdown.

use crate::common::{http, roster, EmulatorProcess, EMU_TOKEN_ENV};
use crate::scim_client::{scim2_python, Scim2Server};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[derive(Clone)]
struct User {
    id: String,
    user_name: String,
    title: String,
    display_name: Option<String>,
    active: bool,
    manager: Option<String>,
}

#[derive(Clone)]
struct Group {
    id: String,
    name: String,
    members: Vec<String>,
}

#[derive(Clone, Default)]
struct Directory {
    users: Vec<User>,
    groups: Vec<Group>,
}

fn uid(i: usize) -> String {
    format!("e{i:04}")
}

impl Directory {
    fn new(n: usize) -> Directory {
        let users = (0..n)
            .map(|i| User {
                id: uid(i),
                user_name: format!("user{i:04}@example.com"),
                title: "Engineer".into(),
                display_name: None,
                active: true,
                manager: None,
            })
            .collect();
        let group = |j: usize, r: std::ops::Range<usize>| Group {
            id: format!("g{j:02}"),
            name: format!("group-{j:02}"),
            // A small directory keeps the groups' shape, cut to the users it has.
            members: (r.start.min(n)..r.end.min(n)).map(uid).collect(),
        };
        Directory {
            users,
            groups: vec![group(0, 0..120), group(1, 10..30), group(2, 100..130)],
        }
    }

    fn user(&mut self, i: usize) -> &mut User {
        let id = uid(i);
        self.users
            .iter_mut()
            .find(|u| u.id == id)
            .expect("a directory user")
    }

    fn group(&mut self, j: usize) -> &mut Group {
        let id = format!("g{j:02}");
        self.groups
            .iter_mut()
            .find(|g| g.id == id)
            .expect("a directory group")
    }

    fn yaml(&self, ty: &str, url: &str, token_env: &str) -> String {
        let q = |s: &str| serde_json::to_string(s).expect("string");
        let mut y = String::from("version: 1\nusers:\n");
        for u in &self.users {
            y.push_str(&format!(
                "  - {{ id: {}, user_name: {}, given_name: User, family_name: {}, email: {}, title: {}, active: {}",
                q(&u.id), q(&u.user_name), q(&format!("N{}", &u.id[1..])), q(&u.user_name), q(&u.title), u.active
            ));
            if let Some(d) = &u.display_name {
                y.push_str(&format!(", display_name: {}", q(d)));
            }
            if let Some(m) = &u.manager {
                y.push_str(&format!(", manager: {}", q(m)));
            }
            y.push_str(" }\n");
        }
        y.push_str(if self.groups.is_empty() {
            "groups: []\n"
        } else {
            "groups:\n"
        });
        for g in &self.groups {
            let members: Vec<String> = g.members.iter().map(|m| q(m)).collect();
            y.push_str(&format!(
                "  - {{ id: {}, name: {}, members: [{}] }}\n",
                q(&g.id),
                q(&g.name),
                members.join(", ")
            ));
        }
        y.push_str(&format!(
            "targets:\n  crm:\n    type: {ty}\n    url: {url}\n    auth: {{ bearer_token_env: {token_env} }}\n    assign: {{ all: true }}\n    \
             rate: {{ reads_per_second: 1000, writes_per_second: 1000, member_operations_per_second: 10000 }}\n    \
             policy:\n      owns: {{ external_id: \"^[eg][0-9]+$\" }}\n      delete: true\n      \
             groups: {{ delete: true, members: authoritative }}\n      \
             limits: {{ max_destroy: 1000, max_destroy_percent: 100 }}\n"
        ));
        y
    }
}

/// The server as the test sees it: lists read whole (no filter, which some modes refuse).
struct Live {
    url: String,
    token: String,
}

impl Live {
    fn get(&self, path: &str) -> Value {
        let (status, body) = http(
            "GET",
            &format!("{}{path}", self.url),
            Some(&self.token),
            None,
        );
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Every resource of a collection, page by page.
    fn all(&self, collection: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let body = self.get(&format!(
                "/{collection}?startIndex={}&count=100",
                out.len() + 1
            ));
            let page = body["Resources"].as_array().cloned().unwrap_or_default();
            let total = body["totalResults"].as_u64().unwrap_or(0) as usize;
            let empty = page.is_empty();
            out.extend(page);
            if empty || out.len() >= total {
                return out;
            }
        }
    }

    /// userName -> user; panics on a duplicated userName or externalId.
    fn users(&self) -> BTreeMap<String, Value> {
        let mut by_name = BTreeMap::new();
        let mut ext = std::collections::HashSet::new();
        for u in self.all("Users") {
            let name = u["userName"].as_str().expect("userName").to_lowercase();
            if let Some(x) = u["externalId"].as_str() {
                assert!(ext.insert(x.to_string()), "externalId {x} twice");
            }
            assert!(
                by_name.insert(name.clone(), u).is_none(),
                "userName {name} twice"
            );
        }
        by_name
    }

    /// displayName -> sorted member externalIds.
    fn groups(&self) -> BTreeMap<String, Vec<String>> {
        let users: BTreeMap<String, String> = self
            .all("Users")
            .into_iter()
            .filter_map(|u| {
                Some((
                    u["id"].as_str()?.to_string(),
                    u["externalId"].as_str()?.to_string(),
                ))
            })
            .collect();
        let mut out = BTreeMap::new();
        for g in self.all("Groups") {
            let id = g["id"].as_str().expect("id");
            let full = self.get(&format!("/Groups/{id}"));
            let mut members: Vec<String> = full["members"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| users.get(m["value"].as_str()?).cloned())
                .collect();
            members.sort();
            let name = g["displayName"].as_str().expect("displayName").to_string();
            assert!(
                out.insert(name.clone(), members).is_none(),
                "group {name} twice"
            );
        }
        out
    }

    /// Live state equals the directory: every user once with its name, title and active flag,
    /// every group once with exactly its members.
    fn assert_matches(&self, d: &Directory, step: &str, check_title: bool) {
        let users = self.users();
        assert_eq!(users.len(), d.users.len(), "{step}: user count");
        for u in &d.users {
            let live = users
                .get(&u.user_name.to_lowercase())
                .unwrap_or_else(|| panic!("{step}: {} missing", u.user_name));
            assert_eq!(live["externalId"], u.id.as_str(), "{step}");
            assert_eq!(
                live["active"], u.active,
                "{step}: active of {}",
                u.user_name
            );
            if check_title {
                assert_eq!(
                    live["title"],
                    u.title.as_str(),
                    "{step}: title of {}",
                    u.user_name
                );
            }
        }
        let groups = self.groups();
        assert_eq!(groups.len(), d.groups.len(), "{step}: group count");
        for g in &d.groups {
            let mut want = g.members.clone();
            want.sort();
            assert_eq!(
                groups.get(&g.name),
                Some(&want),
                "{step}: members of {}",
                g.name
            );
        }
    }
}

/// One run of roster.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

struct Workspace {
    dir: tempfile::TempDir,
    token: String,
}

impl Workspace {
    fn config(&self) -> PathBuf {
        self.dir.path().join("roster.yaml")
    }

    fn roster(&self, args: &[&str]) -> Run {
        let out = roster()
            .env(EMU_TOKEN_ENV, &self.token)
            .args(args)
            .arg("-c")
            .arg(self.config())
            .output()
            .expect("roster runs");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `apply --auto-approve --report`: the run and the report.
    fn apply(&self) -> (Run, Value) {
        let report = self.dir.path().join("report.json");
        let _ = fs_err::remove_file(&report);
        let run = self.roster(&[
            "apply",
            "--auto-approve",
            "--report",
            report.to_str().expect("utf8"),
        ]);
        let r = fs_err::read_to_string(&report)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        (run, r)
    }
}

/// Requests an apply report counts (every method, retries included).
fn requests(report: &Value) -> u64 {
    let r = &report["targets"][0]["requests"];
    ["get", "post", "put", "patch", "delete"]
        .iter()
        .map(|k| r[*k].as_u64().unwrap_or(0))
        .sum()
}

/// Every change's note in an apply report.
fn notes(report: &Value) -> Vec<String> {
    report["targets"][0]["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["note"].as_str().map(str::to_string))
        .collect()
}

/// What one mode's lifecycle did: per step, whether it converged and the requests apply sent.
struct Row {
    mode: String,
    steps: Vec<(&'static str, bool, u64)>,
    reports: Vec<Value>,
    plan_stderr: String,
}

impl Row {
    fn markdown(&self) -> String {
        let cells: Vec<String> = self
            .steps
            .iter()
            .map(|(_, ok, n)| format!("{} ({n})", if *ok { "yes" } else { "NO" }))
            .collect();
        format!("| {} | {} |\n", self.mode, cells.join(" | "))
    }

    fn record(&self) {
        #[allow(clippy::print_stderr)]
        {
            eprint!("lifecycle {}", self.markdown());
        }
        if let Some(path) = std::env::var_os("ROSTER_LIFECYCLE_MATRIX") {
            use std::io::Write;
            let mut f = fs_err::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("matrix file");
            f.write_all(self.markdown().as_bytes()).expect("matrix row");
        }
    }

    fn notes(&self) -> Vec<String> {
        self.reports.iter().flat_map(notes).collect()
    }
}

/// The lifecycle against `live`; `settle` is how long new objects may stay invisible (lagging
/// reads) before the convergence plan may see them.
fn lifecycle(mode: &str, live: &Live, ty: &str, settle: Duration, check_title: bool) -> Row {
    let ws = Workspace {
        dir: tempfile::tempdir().expect("tempdir"),
        token: live.token.clone(),
    };
    let mut row = Row {
        mode: mode.to_string(),
        steps: Vec::new(),
        reports: Vec::new(),
        plan_stderr: String::new(),
    };
    let step = |d: &Directory, name: &'static str, row: &mut Row| {
        fs_err::write(ws.config(), d.yaml(ty, &live.url, EMU_TOKEN_ENV)).expect("config");
        let started = Instant::now();
        let (run, report) = ws.apply();
        assert_eq!(run.code, Some(0), "{mode} {name}: apply failed: {run}");
        std::thread::sleep(settle);
        let plan = ws.roster(&["plan", "--detailed-exitcode"]);
        let converged = plan.code == Some(0)
            && plan
                .stdout
                .contains("No changes. Live state matches the configuration.");
        row.plan_stderr.push_str(&plan.stderr);
        row.steps.push((name, converged, requests(&report)));
        row.reports.push(report);
        #[allow(clippy::print_stderr)]
        {
            eprintln!("{mode} {name}: {:.1} s", started.elapsed().as_secs_f64());
        }
        assert!(converged, "{mode} {name}: not converged: {plan}");
        live.assert_matches(d, &format!("{mode} {name}"), check_title);
    };
    let mut d = Directory::new(130);
    step(&d, "create", &mut row);
    for i in 0..5 {
        d.user(i).title = "Staff Engineer".into();
    }
    for i in 5..8 {
        d.user(i).display_name = Some(format!("Person {i}"));
    }
    step(&d, "update", &mut row);
    d.user(20).user_name = "renamed0020@example.com".into();
    d.group(2).name = "renamed-02".into();
    step(&d, "rename", &mut row);
    for i in 30..33 {
        d.user(i).active = false;
    }
    step(&d, "deactivate", &mut row);
    for i in 30..33 {
        d.user(i).active = true;
    }
    step(&d, "reactivate", &mut row);
    // over 100 members: 10 adds and 5 removes in one group, 5 removes in another
    d.group(0).members.extend((120..130).map(uid));
    d.group(0).members.retain(|m| m.as_str() >= "e0005");
    d.group(1).members.retain(|m| m.as_str() >= "e0015");
    step(&d, "membership", &mut row);
    d.users.retain(|u| u.id.as_str() < "e0125");
    for g in &mut d.groups {
        g.members.retain(|m| m.as_str() < "e0125");
    }
    d.groups.retain(|g| g.id != "g01");
    step(&d, "delete", &mut row);
    row.record();
    row
}

fn emulator(args: &[&str]) -> (EmulatorProcess, Live) {
    let mut all = vec!["--token-env", EMU_TOKEN_ENV];
    all.extend_from_slice(args);
    let emu = EmulatorProcess::start(&all);
    let live = Live {
        url: emu.url.clone(),
        token: emu.token.clone(),
    };
    (emu, live)
}

fn emulator_lifecycle(
    mode: &str,
    args: &[&str],
    settle: Duration,
    check_title: bool,
) -> (EmulatorProcess, Row) {
    let (emu, live) = emulator(args);
    let row = lifecycle(mode, &live, "generic", settle, check_title);
    (emu, row)
}

#[test]
fn lifecycle_on_a_server_that_keeps_everything() {
    emulator_lifecycle("emulator (no quirk)", &[], Duration::ZERO, true);
}

#[test]
fn lifecycle_when_group_members_are_dropped_on_create() {
    let (emu, row) = emulator_lifecycle(
        "emulator --drop-group-members-on-create",
        &["--drop-group-members-on-create"],
        Duration::ZERO,
        true,
    );
    let added: Vec<String> = row
        .notes()
        .into_iter()
        .filter(|n| n.contains("follow-up PATCH (verified)"))
        .collect();
    assert_eq!(
        added.len(),
        3,
        "each group's members re-added: {:?}",
        row.notes()
    );
    assert!(added[0].contains("kept 0 of the"), "{added:?}");
    drop(emu);
}

#[test]
fn lifecycle_when_an_attribute_is_dropped_warns_and_stops_planning_it() {
    let (emu, row) = emulator_lifecycle(
        "emulator --drop-attribute title",
        &["--drop-attribute", "title"],
        Duration::ZERO,
        false,
    );
    assert!(
        row.plan_stderr
            .contains("target \"crm\" does not declare the attribute title for users"),
        "{}",
        row.plan_stderr
    );
    // The update step changed titles only for five users, and display names for three: the
    // titles are not sent (the server drops them), so only the three go.
    assert_eq!(
        row.reports[1]["summary"]["changed"].as_u64(),
        Some(3),
        "{}",
        row.reports[1]
    );
    drop(emu);
}

#[test]
fn lifecycle_when_the_enterprise_extension_is_dropped() {
    // Managers live in the enterprise extension: a server without it gets none, and says so.
    let (emu, live) = emulator(&["--drop-attribute", ENTERPRISE]);
    let ws = Workspace {
        dir: tempfile::tempdir().expect("tempdir"),
        token: live.token.clone(),
    };
    let mut d = Directory::new(10);
    d.user(1).manager = Some(uid(0));
    fs_err::write(ws.config(), d.yaml("generic", &live.url, EMU_TOKEN_ENV)).expect("config");
    let (run, _) = ws.apply();
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stderr.contains("does not declare the attribute urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"), "{run}");
    let plan = ws.roster(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, Some(0), "no endless update: {plan}");
    live.assert_matches(&d, "enterprise dropped", true);
    drop(emu);
}

#[test]
fn lifecycle_when_patch_is_501_except_for_active() {
    let (emu, row) = emulator_lifecycle(
        "emulator --patch-501-except-active",
        &["--patch-501-except-active"],
        Duration::ZERO,
        true,
    );
    assert!(
        row.notes().iter().any(|n| n.contains("sent as PUT")),
        "{:?}",
        row.notes()
    );
    let s = http("GET", &format!("{}/_emulator/stats", emu.url), None, None).1;
    assert!(s["by_method"]["PUT"].as_u64().unwrap_or(0) > 0, "{s}");
    drop(emu);
}

#[test]
fn lifecycle_when_filters_are_unsupported_and_answers_lost() {
    // Lost create answers make apply look the objects up; without filters it lists and matches.
    let (emu, row) = emulator_lifecycle(
        "emulator --no-filter --lose-answers 3",
        &["--no-filter", "--lose-answers", "3"],
        Duration::ZERO,
        true,
    );
    assert!(
        row.notes()
            .iter()
            .filter(|n| n.contains("confirmed by a lookup"))
            .count()
            >= 1,
        "{:?}",
        row.notes()
    );
    let s = http("GET", &format!("{}/_emulator/stats", emu.url), None, None).1;
    assert_eq!(s["users"].as_u64(), Some(125), "{s}");
    drop(emu);
}

#[test]
fn lifecycle_with_lagging_reads_and_lost_answers() {
    emulator_lifecycle(
        "emulator --lagging-reads 2 --lose-answers 3",
        &["--lagging-reads", "2", "--lose-answers", "3"],
        Duration::from_millis(2200),
        true,
    );
}

#[test]
fn lifecycle_against_scim2_server() {
    let Some(python) = scim2_python() else { return };
    let token = "lifecycle-token-3b9e";
    let server = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(Scim2Server::start(&python, token));
    let live = Live {
        url: server.url.clone(),
        token: token.to_string(),
    };
    lifecycle("scim2-server 0.8.3", &live, "generic", Duration::ZERO, true);
    drop(server);
}

/// A create whose answer is lost while the new object stays invisible for 3 s: apply waits for
/// it instead of sending it again. No duplicate POST, no 409, nothing reported failed.
#[test]
fn a_lost_create_answer_on_a_lagging_server_is_found_not_sent_again() {
    let (emu, live) = emulator(&["--lagging-reads", "3", "--lose-answers", "2"]);
    let ws = Workspace {
        dir: tempfile::tempdir().expect("tempdir"),
        token: live.token.clone(),
    };
    let mut d = Directory::new(20);
    d.groups.clear();
    fs_err::write(ws.config(), d.yaml("generic", &live.url, EMU_TOKEN_ENV)).expect("config");
    let (run, report) = ws.apply();
    assert_eq!(run.code, Some(0), "{run}");
    let s = http("GET", &format!("{}/_emulator/stats", emu.url), None, None).1;
    assert_eq!(
        s["by_method"]["POST"].as_u64(),
        Some(20),
        "one POST per user: {s}"
    );
    assert_eq!(s["users"].as_u64(), Some(20), "{s}");
    let confirmed = notes(&report)
        .iter()
        .filter(|n| n.contains("confirmed by a lookup"))
        .count();
    assert_eq!(confirmed, 2, "{report}");
    std::thread::sleep(Duration::from_millis(3200));
    live.assert_matches(&d, "lagging", true);
    assert_eq!(ws.roster(&["plan", "--detailed-exitcode"]).code, Some(0));
}

/// An update whose answer is lost is retried by the client; the retry's stale If-Match meets
/// 412, and the re-read shows the change in effect: applied, not failed.
#[test]
fn a_lost_patch_answer_is_recognised_as_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.json");
    let state = state.to_str().expect("utf8");
    let mut d = Directory::new(5);
    d.groups.clear();
    {
        let (emu, live) = emulator(&["--state", state]);
        let ws = Workspace {
            dir: tempfile::tempdir().expect("tempdir"),
            token: live.token.clone(),
        };
        fs_err::write(ws.config(), d.yaml("generic", &live.url, EMU_TOKEN_ENV)).expect("config");
        assert_eq!(ws.apply().0.code, Some(0));
        drop(emu);
    }
    let (emu, live) = emulator(&["--state", state, "--lose-answers", "1"]);
    let ws = Workspace {
        dir: tempfile::tempdir().expect("tempdir"),
        token: live.token.clone(),
    };
    d.user(2).title = "Staff Engineer".into();
    fs_err::write(ws.config(), d.yaml("generic", &live.url, EMU_TOKEN_ENV)).expect("config");
    let (run, report) = ws.apply();
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(report["summary"]["failed"].as_u64(), Some(0), "{report}");
    live.assert_matches(&d, "lost patch", true);
    assert_eq!(ws.roster(&["plan", "--detailed-exitcode"]).code, Some(0));
    drop(emu);
}

#[test]
fn lifecycle_against_scimmy() {
    let Some(modules) = crate::scim_client::scimmy_dir() else {
        return;
    };
    let token = "lifecycle-token-7c1d";
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server = rt.block_on(crate::scim_client::ScimmyServer::start(&modules, token));
    let live = Live {
        url: server.url.clone(),
        token: token.to_string(),
    };
    lifecycle("SCIMMY 1.3.5", &live, "generic", Duration::ZERO, true);
    drop(server);
}
