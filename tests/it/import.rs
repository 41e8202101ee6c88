//! `roster import` end to end, through the real binary: adopting a populated tenant (the AWS
//! emulator and scim2-server) into an empty configuration makes the next plan empty; each filter
//! on a prepared mixed state writes exactly the expected YAML (tests/fixtures/import/); files are
//! never overwritten without `--force`; bad input is a clear error and nothing is written; and
//! import never writes to the target.

use crate::common::{http, root, roster, EmulatorProcess, EMU_TOKEN_ENV};
use crate::scim_client::{scim2_python, Scim2Server};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// What a finished `roster` run printed.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// A working directory with an entry file naming one target.
struct Workspace {
    dir: tempfile::TempDir,
    token: String,
}

impl Workspace {
    fn new(token: &str) -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("tempdir"),
            token: token.to_string(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The entry file: `head` (directory or includes), then the target.
    fn write_config(&self, head: &str, ty: &str, url: &str) {
        let text = format!(
            "version: 1\n{head}targets:\n  crm:\n    type: {ty}\n    url: {url}\n    \
             auth: {{ bearer_token_env: {EMU_TOKEN_ENV} }}\n    assign: {{ all: true }}\n    \
             rate: {{ reads_per_second: 1000, writes_per_second: 1000, member_operations_per_second: 10000 }}\n"
        );
        fs_err::write(self.path("roster.yaml"), text).expect("config written");
    }

    fn roster(&self, args: &[&str]) -> Run {
        let out = roster()
            .env(EMU_TOKEN_ENV, &self.token)
            .args(args)
            .arg("-c")
            .arg(self.path("roster.yaml"))
            .output()
            .expect("roster runs");
        let run = Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(
            !run.stdout.contains(&self.token) && !run.stderr.contains(&self.token),
            "the token never appears in output"
        );
        run
    }

    fn import(&self, args: &[&str]) -> Run {
        let mut all = vec!["import", "--target", "crm"];
        all.extend_from_slice(args);
        self.roster(&all)
    }

    fn read(&self, name: &str) -> String {
        fs_err::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
}

// ---------------------------------------------------------------------------------------------
// Seeded tenants

/// 300 users and 15 groups with a mix: managers, departments, titles, inactive users, display
/// names that are not "given family", users in several groups. `aws` adds the groups AWS
/// creates itself, which must stay ignored. Ids are the live ids (`u<i>`, `g<j>`).
fn tenant(aws: bool) -> Value {
    let n = 300;
    let users: Vec<Value> = (0..n)
        .map(|i| {
            let name = format!("user{i:03}@example.com");
            let mut u = json!({
                "id": format!("u{i}"),
                "externalId": format!("e{i:04}"),
                "userName": name,
                "name": {"givenName": format!("Given{i}"), "familyName": format!("Family{i}")},
                "displayName": if i % 13 == 0 { format!("Nick {i}") } else { format!("Given{i} Family{i}") },
                "emails": [{"value": name, "type": "work", "primary": true}],
                "active": i % 11 != 5,
            });
            if i % 4 == 0 {
                u["title"] = json!("Engineer");
            }
            let mut ent = serde_json::Map::new();
            if i % 3 == 0 {
                ent.insert("department".into(), json!(format!("Dept{}", i % 5)));
            }
            if i >= 10 && i % 2 == 0 {
                ent.insert("manager".into(), json!({"value": format!("u{}", i / 10)}));
            }
            if !ent.is_empty() {
                u[ENT] = Value::Object(ent);
                u["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENT]);
            }
            u
        })
        .collect();
    let mut groups: Vec<Value> = (0..15)
        .map(|j| {
            let members: Vec<Value> = (0..n)
                .filter(|i| i % 15 == j || (i * 7) % 15 == (j + 1) % 15)
                .map(|i| json!({"value": format!("u{i}")}))
                .collect();
            json!({"id": format!("g{j}"), "externalId": format!("grp{j:02}"),
                   "displayName": format!("group-{j:02}"), "members": members})
        })
        .collect();
    if aws {
        groups.push(json!({"id": "g-ct", "displayName": "AWSControlTowerAdmins",
                           "members": [{"value": "u1"}, {"value": "u2"}]}));
        groups.push(json!({"id": "g-sa", "displayName": "AWSSecurityAuditors", "members": []}));
    }
    json!({"users": users, "groups": groups})
}

fn aws_emulator(seed: &Value, dir: &Path) -> EmulatorProcess {
    let file = dir.join("seed.json");
    fs_err::write(&file, seed.to_string()).expect("seed written");
    EmulatorProcess::start(&[
        "--dialect",
        "aws",
        "--token-env",
        EMU_TOKEN_ENV,
        "--seed",
        file.to_str().expect("utf8"),
    ])
}

/// Import into an empty configuration, include the written files, and plan: no changes.
fn round_trip(ws: &Workspace, ty: &str, url: &str) {
    ws.write_config("", ty, url);
    let dir = ws.path("imported");
    let dir = dir.to_str().expect("utf8");
    let run = ws.import(&["--write", dir]);
    assert_eq!(run.code, Some(0), "import: {run:?}");
    assert!(
        run.stderr
            .contains("Import complete: wrote ")
            && run.stderr.contains("300 users and 15 groups from target \"crm\" (filter all); every mapped attribute reversed."),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "with --write nothing on stdout");
    let users = ws.read("imported/users.yaml");
    let groups = ws.read("imported/groups.yaml");
    assert!(!groups.contains("AWS"), "AWS's own groups stay ignored");
    assert!(
        users.contains("    manager: \"e0002\"\n"),
        "managers are directory ids"
    );
    assert!(users.contains("    display_name: \"Nick 13\"\n"));
    assert!(
        !users.contains("display_name: \"Given1 Family1\""),
        "the default renders it"
    );
    assert!(users.contains("    active: false\n"));
    assert!(
        groups.contains("      - \"e0000\"\n"),
        "members are directory ids"
    );

    // Byte-stable: the same read gives the same bytes; stdout is the files, concatenated.
    let printed = ws.import(&[]);
    assert_eq!(printed.code, Some(0), "{printed:?}");
    assert_eq!(printed.stdout, format!("{users}{groups}"));

    ws.write_config("include: [imported/*.yaml]\n", ty, url);
    let plan = ws.roster(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        plan.code,
        Some(0),
        "the first plan after import is empty: {plan:?}"
    );
    assert!(plan
        .stdout
        .contains("No changes. Live state matches the configuration."));
    // A scheduled drift run on the adopted tenant agrees: in sync.
    let drift = ws.roster(&["drift"]);
    assert_eq!(
        drift.code,
        Some(0),
        "drift after import is in sync: {drift:?}"
    );

    // Again, with the imported files included: the same bytes, only with --force.
    let again = ws.import(&["--write", dir]);
    assert_eq!(again.code, Some(1), "{again:?}");
    let again = ws.import(&["--write", dir, "--force"]);
    assert_eq!(again.code, Some(0), "{again:?}");
    assert_eq!(ws.read("imported/users.yaml"), users);
    assert_eq!(ws.read("imported/groups.yaml"), groups);
}

#[test]
fn an_aws_tenant_imports_into_an_empty_configuration_and_the_next_plan_is_empty() {
    let seed = tenant(true);
    let scratch = tempfile::tempdir().expect("tempdir");
    let emu = aws_emulator(&seed, scratch.path());
    let ws = Workspace::new(&emu.token);
    round_trip(&ws, "aws-identity-center", &emu.url);
    let stats = emu.stats();
    assert_eq!(
        stats["writes"].as_u64(),
        Some(0),
        "import and plan never write: {stats}"
    );
}

#[test]
fn a_scim2_server_tenant_imports_and_the_next_plan_is_empty() {
    let Some(python) = scim2_python() else { return };
    let token = "import-token-3b9e";
    let server = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(Scim2Server::start(&python, token));
    // scim2-server mints its own ids: create users in order (managers come first), then groups.
    let seed = tenant(false);
    let mut ids = std::collections::HashMap::new();
    for u in seed["users"].as_array().expect("users") {
        let mut body = u.clone();
        let seed_id = body["id"].as_str().expect("id").to_string();
        body.as_object_mut().expect("object").remove("id");
        if let Some(m) = body[ENT]["manager"]["value"].as_str() {
            body[ENT]["manager"]["value"] = json!(ids[m]);
        }
        if body.get("schemas").is_none() {
            body["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:User"]);
        }
        let (status, created) = http(
            "POST",
            &format!("{}/Users", server.url),
            Some(token),
            Some(&body),
        );
        assert_eq!(status, 201, "{created}");
        ids.insert(seed_id, created["id"].as_str().expect("id").to_string());
    }
    for g in seed["groups"].as_array().expect("groups") {
        let mut body = g.clone();
        body.as_object_mut().expect("object").remove("id");
        body["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:Group"]);
        let members: Vec<Value> = g["members"]
            .as_array()
            .expect("members")
            .iter()
            .map(|m| json!({"value": ids[m["value"].as_str().expect("value")]}))
            .collect();
        body["members"] = Value::Array(members);
        let (status, created) = http(
            "POST",
            &format!("{}/Groups", server.url),
            Some(token),
            Some(&body),
        );
        assert_eq!(status, 201, "{created}");
    }
    let ws = Workspace::new(token);
    round_trip(&ws, "generic", &server.url);
    drop(server);
}

// ---------------------------------------------------------------------------------------------
// Filters

/// The directory of the mixed state (see [`mixed_live`]): e1 matches and agrees, e2 differs
/// live (title; its unmapped `desk` must survive), e3 is inactive here and active live, e4 is
/// active here and inactive live, e5 is missing live. Group `same` agrees, `drift` has other
/// members live.
const MIXED_DIRECTORY: &str = r#"users:
  - { id: e1, user_name: one@x, given_name: One, family_name: A, email: one@x }
  - { id: e2, user_name: two@x, given_name: Two, family_name: B, email: two@x, title: Engineer, desk: "2F" }
  - { id: e3, user_name: three@x, given_name: Three, family_name: C, active: false }
  - { id: e4, user_name: four@x, given_name: Four, family_name: D }
  - { id: e5, user_name: five@x, given_name: Five, family_name: E }
groups:
  - { id: g-same, name: same, members: [e1] }
  - { id: g-drift, name: drift, members: [e1, e2] }
"#;

/// Live: e1..e4 as above; e7 only live (new, with externalId); `Eight.Person@x` only live and
/// without externalId (new, adopted by a derived id), managed by e7; an ignored admin; and a
/// group only live.
fn mixed_live() -> Value {
    let user = |id: &str, ext: Option<&str>, name: &str, given: &str, family: &str| {
        let mut u = json!({"id": id, "userName": name,
            "name": {"givenName": given, "familyName": family},
            "displayName": format!("{given} {family}"), "active": true});
        if let Some(x) = ext {
            u["externalId"] = json!(x);
        }
        u
    };
    let mut one = user("L1", Some("e1"), "one@x", "One", "A");
    one["emails"] = json!([{"value": "one@x", "primary": true}]);
    let mut two = user("L2", Some("e2"), "two@x", "Two", "B");
    two["emails"] = json!([{"value": "two@x", "primary": true}]);
    two["title"] = json!("Staff Engineer");
    let three = user("L3", Some("e3"), "three@x", "Three", "C");
    let mut four = user("L4", Some("e4"), "four@x", "Four", "D");
    four["active"] = json!(false);
    let newcomer = user("L7", Some("e7"), "seven@x", "Seven", "G");
    let mut adopt = user("L8", None, "Eight.Person@x", "Eight", "H");
    adopt[ENT] = json!({"manager": {"value": "L7"}});
    let admin = user("L9", None, "admin-root@x", "Admin", "Root");
    json!({
        "users": [one, two, three, four, newcomer, adopt, admin],
        "groups": [
            {"id": "G1", "externalId": "g-same", "displayName": "same", "members": [{"value": "L1"}]},
            {"id": "G2", "externalId": "g-drift", "displayName": "drift",
             "members": [{"value": "L1"}, {"value": "L7"}, {"value": "L9"}]},
            {"id": "G3", "displayName": "live-only", "members": [{"value": "L8"}, {"value": "L2"}]}
        ]
    })
}

#[test]
fn each_filter_writes_exactly_the_expected_yaml() {
    let seed = mixed_live();
    let scratch = tempfile::tempdir().expect("tempdir");
    let file = scratch.path().join("seed.json");
    fs_err::write(&file, seed.to_string()).expect("seed");
    let emu = EmulatorProcess::start(&[
        "--token-env",
        EMU_TOKEN_ENV,
        "--seed",
        file.to_str().expect("utf8"),
    ]);
    let ws = Workspace::new(&emu.token);
    let text = format!(
        "version: 1\n{MIXED_DIRECTORY}targets:\n  crm:\n    type: generic\n    url: {}\n    \
         auth: {{ bearer_token_env: {EMU_TOKEN_ENV} }}\n    assign: {{ all: true }}\n    \
         policy: {{ owns: {{ external_id: \"^e[0-9]+$\" }}, ignore: {{ users: [\"admin-*\"] }} }}\n",
        emu.url
    );
    fs_err::write(ws.path("roster.yaml"), text).expect("config");
    let fixtures = root().join("tests/fixtures/import");
    let update = std::env::var_os("ROSTER_UPDATE_FIXTURES").is_some();
    for filter in ["all", "new", "update", "activate", "deactivate"] {
        let run = ws.import(&["--filter", filter]);
        assert_eq!(run.code, Some(0), "{filter}: {run:?}");
        let expected = fixtures.join(format!("{filter}.yaml"));
        let got = format!("{}# stderr:\n{}", run.stdout, comment(&run.stderr));
        if update {
            fs_err::write(&expected, &got).expect("fixture written");
            continue;
        }
        let want = fs_err::read_to_string(&expected)
            .unwrap_or_else(|e| panic!("{}: {e}", expected.display()));
        assert_eq!(
            got, want,
            "filter {filter} (ROSTER_UPDATE_FIXTURES=1 rewrites)"
        );
    }
    assert_eq!(
        emu.stats()["writes"].as_u64(),
        Some(0),
        "import never writes"
    );

    // `all` as the whole directory: the next plan only adopts the objects without externalId
    // (their externalId is set), nothing else.
    let run = ws.import(&["--write", ws.path("all").to_str().expect("utf8")]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let text = format!(
        "version: 1\ninclude: [all/*.yaml]\ntargets:\n  crm:\n    type: generic\n    url: {}\n    \
         auth: {{ bearer_token_env: {EMU_TOKEN_ENV} }}\n    assign: {{ all: true }}\n    \
         policy: {{ owns: {{ external_id: \"^e[0-9]+$\" }}, ignore: {{ users: [\"admin-*\"] }} }}\n",
        emu.url
    );
    fs_err::write(ws.path("roster.yaml"), text).expect("config");
    let plan = ws.roster(&["plan", "--format", "json"]);
    assert_eq!(plan.code, Some(0), "{plan:?}");
    let doc: Value = serde_json::from_str(&plan.stdout).expect("json");
    let changes = doc["targets"][0]["changes"].as_array().expect("changes");
    let seen: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap_or(""),
                c["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("crm:group.live-only", "adopt"),
            ("crm:user.eight.person-x", "adopt")
        ],
        "{}",
        plan.stdout
    );
}

/// A constant the live value contradicts is reported per attribute, with the objects it
/// concerns, and counted in the last line; it is not guessed into the YAML.
#[test]
fn a_constant_that_differs_live_is_reported_not_guessed() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let file = scratch.path().join("seed.json");
    let users: Vec<Value> = (1..=7)
        .map(|i| {
            json!({"id": format!("L{i}"), "userName": format!("u{i}@x"), "externalId": format!("e{i}"),
                   "displayName": format!("U{i}"), ENT: {"costCenter": "CC-9"}})
        })
        .collect();
    fs_err::write(&file, json!({"users": users, "groups": []}).to_string()).expect("seed");
    let emu = EmulatorProcess::start(&[
        "--token-env",
        EMU_TOKEN_ENV,
        "--seed",
        file.to_str().expect("utf8"),
    ]);
    let ws = Workspace::new(&emu.token);
    let text = format!(
        "version: 1\ntargets:\n  crm:\n    type: generic\n    url: {}\n    \
         auth: {{ bearer_token_env: {EMU_TOKEN_ENV} }}\n    assign: {{ all: true }}\n    \
         policy: {{ owns: {{ external_id: \"^e[0-9]+$\" }} }}\n    mapping:\n      user:\n        \
         \"{ENT}:costCenter\": {{ value: CC-100 }}\n",
        emu.url
    );
    fs_err::write(ws.path("roster.yaml"), text).expect("config");
    let run = ws.import(&[]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        !run.stdout.contains("CC-"),
        "never guessed into the YAML: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains("    display_name: \"U3\"\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains(&format!(
            "warning: not reversed: user attribute `{ENT}:costCenter` is mapped from a constant and its rendering differs from the live value for 7 users (e1, e2, e3, e4, e5, and 2 more)"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.trim_end().ends_with(
            "7 users and 0 groups from target \"crm\" (filter all); 1 attribute could not be reversed (7 values)."
        ),
        "{}",
        run.stderr
    );
}

/// stderr as YAML comment lines, so a fixture stays a valid YAML file.
fn comment(stderr: &str) -> String {
    stderr.lines().map(|l| format!("# {l}\n")).collect()
}

// ---------------------------------------------------------------------------------------------
// Writing and bad input

#[test]
fn existing_files_are_kept_without_force_and_replaced_with_it() {
    let emu = EmulatorProcess::start(&["--token-env", EMU_TOKEN_ENV]);
    let ws = Workspace::new(&emu.token);
    ws.write_config("", "generic", &emu.url);
    let dir = ws.path("out");
    let dir_s = dir.to_str().expect("utf8");
    fs_err::create_dir(&dir).expect("dir");
    fs_err::write(dir.join("groups.yaml"), "# mine\n").expect("write");
    let run = ws.import(&["--write", dir_s]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr
            .contains("groups.yaml exists; nothing was written")
            && run.stderr.contains("pass --force to overwrite it"),
        "{}",
        run.stderr
    );
    assert!(!dir.join("users.yaml").exists(), "nothing was written");
    assert_eq!(ws.read("out/groups.yaml"), "# mine\n");

    let run = ws.import(&["--write", dir_s, "--force"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(ws.read("out/users.yaml").ends_with("users: []\n"));
    assert!(ws.read("out/groups.yaml").ends_with("groups: []\n"));
    assert!(
        run.stderr.contains("0 users and 0 groups"),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_input_is_a_clear_error_and_nothing_is_written() {
    let emu = EmulatorProcess::start(&["--token-env", EMU_TOKEN_ENV]);
    let ws = Workspace::new(&emu.token);
    ws.write_config("", "generic", &emu.url);
    let out = ws.path("out");
    let out_s = out.to_str().expect("utf8");

    // --write naming a file.
    fs_err::write(ws.path("a-file"), "x").expect("write");
    let run = ws.import(&["--write", ws.path("a-file").to_str().expect("utf8")]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr
            .contains("a-file: not a directory; nothing was written"),
        "{}",
        run.stderr
    );

    // A filter that does not exist: clap names the ones that do (a usage error; exits 2 like
    // every clap usage error until issue 10 maps them to 1).
    let run = ws.import(&["--filter", "everything", "--write", out_s]);
    assert_ne!(run.code, Some(0), "{run:?}");
    assert!(
        run.stderr
            .contains("invalid value 'everything' for '--filter <FILTER>'")
            && run
                .stderr
                .contains("[possible values: all, new, update, activate, deactivate]"),
        "{}",
        run.stderr
    );

    // A target that does not exist, and none at all.
    let run = ws.roster(&["import", "--target", "nope", "--write", out_s]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("no target named \"nope\"")
            && run.stderr.contains("configured targets: crm"),
        "{}",
        run.stderr
    );
    let run = ws.roster(&["import", "--write", out_s]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("pass exactly one --target NAME"),
        "{}",
        run.stderr
    );

    // A wrong token, and a URL where nothing listens: the connection errors plan gives.
    let wrong = Workspace::new("not-the-token");
    wrong.write_config("", "generic", &emu.url);
    let run = wrong.import(&["--write", out_s]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("401"), "{}", run.stderr);
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://127.0.0.1:{}", l.local_addr().expect("addr").port())
    };
    ws.write_config("", "generic", &closed);
    let run = ws.import(&["--write", out_s]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("target \"crm\""), "{}", run.stderr);

    assert!(!out.exists(), "no run wrote anything");
}
