//! `roster plan` end to end: the quickstart on a fresh copy, a real `roster emulator` process that
//! proves plan sends nothing but GET, `--detailed-exitcode`, and `--out` with `show`.

use crate::common::{root, roster, EmulatorProcess as Emulator};
use serde_json::{json, Value};
use std::path::Path;

fn copy_dir(from: &Path, to: &Path) {
    fs_err::create_dir_all(to).expect("mkdir");
    for e in fs_err::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let p = e.path();
        let name = e.file_name();
        if name == ".roster" {
            continue; // state of an earlier run: a fresh clone has none
        }
        if p.is_dir() {
            copy_dir(&p, &to.join(name));
        } else {
            fs_err::copy(&p, to.join(name)).expect("copy");
        }
    }
}

#[test]
fn quickstart_plans_against_the_embedded_provider_on_a_fresh_copy() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&root().join("examples/quickstart"), dir.path());
    let out = roster()
        .args(["plan", "--detailed-exitcode", "-c"])
        .arg(dir.path().join("roster.yaml"))
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "changes present: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Plan: 12 to add, 0 to change, 0 to destroy (0 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched."),
        "{stdout}"
    );
    assert!(stdout.contains("will be created"), "{stdout}");
}

/// A configuration with one generic target at `url`, token from EMU_TOKEN.
fn generic_config(dir: &Path, url: &str, users: &str) -> std::path::PathBuf {
    let text = format!(
        "version: 1\nusers:\n{users}\ngroups:\n  - {{ name: engineering, members: [e1, e2] }}\ntargets:\n  crm:\n    type: generic\n    url: {url}\n    auth: {{ bearer_token_env: EMU_TOKEN }}\n    assign: {{ all: true }}\n    policy: {{ owns: {{ external_id: \"^e[0-9]+$\" }} }}\n"
    );
    let path = dir.join("roster.yaml");
    fs_err::write(&path, text).expect("config");
    path
}

const TWO_USERS: &str = "  - { id: e1, user_name: alice@example.com, given_name: Alice, family_name: Liddell, email: alice@example.com }\n  - { id: e2, user_name: bob@example.com, given_name: Bob, family_name: Builder, email: bob@example.com }";

#[test]
fn plan_sends_only_get_and_detailed_exitcode_follows_the_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    // live: alice exactly as configured, bob with an outdated family name, a stranger not ours,
    // and engineering with alice only.
    let seed = json!({
        "users": [
            {"id": "u-alice", "userName": "alice@example.com", "externalId": "e1", "displayName": "Alice Liddell",
             "name": {"givenName": "Alice", "familyName": "Liddell"},
             "emails": [{"value": "alice@example.com", "primary": true}], "active": true},
            {"id": "u-bob", "userName": "bob@example.com", "externalId": "e2", "displayName": "Bob Builder",
             "name": {"givenName": "Bob", "familyName": "Old"},
             "emails": [{"value": "bob@example.com", "primary": true}], "active": true},
            {"id": "u-x", "userName": "stranger@example.com", "displayName": "Stranger",
             "name": {"givenName": "S", "familyName": "X"}, "active": true}
        ],
        "groups": [
            {"id": "g-eng", "displayName": "engineering", "externalId": "engineering",
             "members": [{"value": "u-alice"}]}
        ]
    });
    let seed_path = dir.path().join("seed.json");
    fs_err::write(&seed_path, seed.to_string()).expect("seed");
    let emu = Emulator::start(&[
        "--token-env",
        "EMU_TOKEN",
        "--seed",
        seed_path.to_str().expect("utf8"),
    ]);
    let config = generic_config(dir.path(), &emu.url, TWO_USERS);
    let plan_file = dir.path().join("plan.json");

    let out = roster()
        .env("EMU_TOKEN", &emu.token)
        .args(["plan", "--detailed-exitcode", "--out"])
        .arg(&plan_file)
        .arg("-c")
        .arg(&config)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Plan: 0 to add, 2 to change, 0 to destroy (0 deactivate, 0 delete); 1 unmanaged and 0 ignored not touched."),
        "{stdout}"
    );
    assert!(stdout.contains("bob@example.com"), "{stdout}");
    assert!(!stdout.contains(&emu.token) && !stderr.contains(&emu.token));

    // the server saw reads only
    let stats = emu.stats();
    assert_eq!(stats["writes"], 0, "{stats}");
    let by_method = stats["by_method"].as_object().expect("by_method");
    for (method, n) in by_method {
        assert!(
            method == "GET" || n.as_u64() == Some(0),
            "plan sent {n} {method} requests: {stats}"
        );
    }
    assert!(stats["reads"].as_u64().unwrap_or(0) >= 2, "{stats}");

    // the saved plan: owner-only, and `show` renders the same summary
    use std::os::unix::fs::PermissionsExt;
    let mode = fs_err::metadata(&plan_file)
        .expect("plan file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "plan file mode {mode:o}");
    let shown = roster().arg("show").arg(&plan_file).output().expect("show");
    assert!(shown.status.success());
    assert!(String::from_utf8_lossy(&shown.stdout)
        .contains("Plan: 0 to add, 2 to change, 0 to destroy"));

    // a configuration that matches live state exactly: exit 0 and the no-changes line
    let alice_only = "  - { id: e1, user_name: alice@example.com, given_name: Alice, family_name: Liddell, email: alice@example.com }\n  - { id: e2, user_name: bob@example.com, given_name: Bob, family_name: Old, display_name: Bob Builder, email: bob@example.com, active: true }";
    let config = generic_config(dir.path(), &emu.url, alice_only);
    fs_err::write(
        &config,
        fs_err::read_to_string(&config)
            .expect("config")
            .replace("members: [e1, e2]", "members: [e1]"),
    )
    .expect("config");
    let out = roster()
        .env("EMU_TOKEN", &emu.token)
        .args(["plan", "--detailed-exitcode", "-c"])
        .arg(&config)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("No changes. Live state matches the configuration."),
        "{stdout}"
    );
    assert_eq!(emu.stats()["writes"], 0);
}

#[test]
fn plan_against_an_unreachable_target_fails_with_exit_1_and_names_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    // a port nothing listens on
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let config = generic_config(dir.path(), &format!("http://127.0.0.1:{port}"), TWO_USERS);
    let out = roster()
        .env("EMU_TOKEN", "plan-test-token")
        .args(["plan", "-c"])
        .arg(&config)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("crm"), "{stderr}");
    assert!(!stderr.contains("plan-test-token"));
}

#[test]
fn a_tripped_gate_prints_the_whole_plan_and_exits_3() {
    let dir = tempfile::tempdir().expect("tempdir");
    // three owned users (externalId e7..e9) that the directory no longer has
    let users: Vec<Value> = (7..10)
        .map(|i| {
            json!({"id": format!("u{i}"), "userName": format!("gone{i}@example.com"),
                   "externalId": format!("e{i}"), "displayName": format!("Gone {i}"),
                   "name": {"givenName": "Gone", "familyName": format!("{i}")}, "active": true})
        })
        .collect();
    let seed_path = dir.path().join("seed.json");
    fs_err::write(&seed_path, json!({ "users": users }).to_string()).expect("seed");
    let emu = Emulator::start(&["--seed", seed_path.to_str().expect("utf8")]);
    let config = dir.path().join("roster.yaml");
    fs_err::write(
        &config,
        format!(
            "version: 1\nusers:\n  - {{ id: e1, user_name: alice@example.com, given_name: Alice, family_name: Liddell }}\ntargets:\n  crm:\n    type: generic\n    url: {}\n    auth: {{ bearer_token_env: EMU_TOKEN }}\n    assign: {{ all: true }}\n    policy:\n      owns: {{ external_id: \"^e[0-9]+$\" }}\n      limits: {{ max_destroy: 2 }}\n",
            emu.url
        ),
    )
    .expect("config");
    let out = roster()
        .env("EMU_TOKEN", "unused")
        .args(["plan", "--detailed-exitcode", "-c"])
        .arg(&config)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for i in 7..10 {
        assert!(stdout.contains(&format!("gone{i}@example.com")), "{stdout}");
    }
    assert!(
        stdout.contains("Safety gate max_destroy tripped"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Plan: 1 to add, 0 to change, 3 to destroy (3 deactivate, 0 delete)"),
        "{stdout}"
    );
    assert_eq!(emu.stats()["writes"], 0);
}

/// Usage errors exit 1, never 2 ("changes present"): a CI job with a typo must fail, not report
/// drift. Help, whether asked for or shown for a bare `roster`, exits 0 and lists the exit codes.
#[test]
fn usage_errors_exit_1_and_help_exits_0_with_the_exit_codes() {
    for args in [
        &["plan", "--detailed-exitcode", "--fromat", "markdown"][..],
        &["plan", "--format", "yaml"],
        &["drift", "--format", "yaml"],
        &["frobnicate"],
    ] {
        let out = roster().args(args).output().expect("runs");
        assert_eq!(out.status.code(), Some(1), "roster {args:?}");
        assert!(!out.stderr.is_empty(), "roster {args:?} says why");
    }
    for args in [&[][..], &["--help"], &["--version"], &["plan", "--help"]] {
        let out = roster().args(args).output().expect("runs");
        assert_eq!(out.status.code(), Some(0), "roster {args:?}");
    }
    let out = roster().arg("--help").output().expect("runs");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("Exit codes"), "{help}");
    assert!(help.contains("2  changes present"), "{help}");
    let bare = roster().output().expect("runs");
    let bare =
        String::from_utf8_lossy(&bare.stdout).to_string() + &String::from_utf8_lossy(&bare.stderr);
    assert!(bare.contains("Usage: roster"), "{bare}");
}

/// A conflict is never quiet (SPEC §4): the plan says so under the summary and exits 2 for
/// `--detailed-exitcode`, the JSON summary counts it, and apply, with nothing to send, still
/// exits 5 and says why.
#[test]
fn a_conflict_is_changes_present_for_plan_and_exit_5_for_apply() {
    let dir = tempfile::tempdir().expect("tempdir");
    let case = root().join("tests/fixtures/plan/conflict-external-id-differs");
    fs_err::copy(case.join("roster.yaml"), dir.path().join("roster.yaml")).expect("config");
    fs_err::create_dir(dir.path().join(".roster")).expect("mkdir");
    fs_err::copy(
        case.join("live.json"),
        dir.path().join(".roster/embedded.json"),
    )
    .expect("live");
    let config = dir.path().join("roster.yaml");

    let plan = roster()
        .args(["plan", "--detailed-exitcode", "-c"])
        .arg(&config)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&plan.stdout);
    assert_eq!(plan.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("not touched.\n1 conflict: not changed; run roster explain ADDR for it.\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("# (to resolve: fix the live externalId, `release` it, or change `match`; roster explain t:user.e1)"),
        "{stdout}"
    );

    let json = roster()
        .args(["plan", "--format", "json", "-c"])
        .arg(&config)
        .output()
        .expect("runs");
    let doc: Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(doc["targets"][0]["summary"]["conflicts"], json!(1));

    let md = roster()
        .args(["plan", "--format", "markdown", "-c"])
        .arg(&config)
        .output()
        .expect("runs");
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(
        md.contains("**1 conflict: not changed; run roster explain ADDR for it.**"),
        "{md}"
    );

    let apply = roster()
        .args(["apply", "--auto-approve", "-c"])
        .arg(&config)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&apply.stderr);
    assert_eq!(apply.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains(
            "1 conflict remains, not changed: the desired state was not reached (exit 5)"
        ),
        "{stderr}"
    );
}

/// The fixture case `case` as a configuration with its embedded state, in a temp directory.
fn embedded_case(case: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let from = root().join("tests/fixtures/plan").join(case);
    fs_err::copy(from.join("roster.yaml"), dir.path().join("roster.yaml")).expect("config");
    fs_err::create_dir(dir.path().join(".roster")).expect("mkdir");
    fs_err::copy(
        from.join("live.json"),
        dir.path().join(".roster/embedded.json"),
    )
    .expect("live");
    let config = dir.path().join("roster.yaml");
    (dir, config)
}

/// `-q` prints the summary lines only (exit codes unchanged); `-v` names what the plan leaves
/// alone; the JSON lists it all, says why a user is assigned, and keeps the checksum the text
/// prints (the one `apply --checksum` takes).
#[test]
fn quiet_prints_the_summary_verbose_names_the_untouched_and_json_has_the_notes() {
    let (_dir, config) = embedded_case("conflict-okta-external-id");
    let quiet = roster()
        .args(["plan", "-q", "--detailed-exitcode", "-c"])
        .arg(&config)
        .output()
        .expect("runs");
    assert_eq!(quiet.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&quiet.stdout),
        "Plan: 3 to add, 0 to change, 0 to destroy (0 deactivate, 0 delete); 2 unmanaged and 0 ignored not touched.\n1 conflict: not changed; run roster explain ADDR for it.\n"
    );

    let verbose = roster()
        .args(["plan", "-v", "-c"])
        .arg(&config)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&verbose.stdout);
    assert!(
        text.contains("Not touching: 1 unmanaged user, 1 unmanaged group.\n  unmanaged  t:group.live:s-admins (AWS admins)\n  unmanaged  t:user.live:s-svc (svc-backup@example.com)\n"),
        "{text}"
    );

    let json = roster()
        .args(["plan", "--format", "json", "-c"])
        .arg(&config)
        .output()
        .expect("runs");
    let doc: Value = serde_json::from_slice(&json.stdout).expect("json");
    let objects = &doc["targets"][0]["not_touching"]["objects"];
    assert_eq!(objects[1]["address"], "t:user.live:s-svc");
    assert_eq!(objects[1]["why"], "unmanaged");
    let bob = &doc["targets"][0]["changes"][0];
    assert_eq!(bob["via"], json!([{"by": "group", "name": "engineering"}]));
    let checksum = doc["checksum"].as_str().expect("checksum");
    assert!(text.contains(&format!("Checksum: {checksum}")));
}
