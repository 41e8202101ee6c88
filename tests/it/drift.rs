//! `roster drift`, `plan --base` and the saved plan's entry file, end to end against a real
//! `roster emulator` process: exit codes (0, 2, never 3), accepted drift with an expired entry,
//! origins against a base commit read from git objects with live state read once, and
//! `roster apply PLAN_FILE` finding the configuration the plan records.

use crate::common::{roster, EmulatorProcess as Emulator};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

fn live_user(id: &str, name: &str, ext: &str, given: &str, family: &str) -> Value {
    json!({"id": id, "userName": name, "externalId": ext,
           "displayName": format!("{given} {family}"),
           "name": {"givenName": given, "familyName": family},
           "emails": [{"value": name, "primary": true}], "active": true})
}

/// Live: alice as configured, bob with an outdated family name (drift), carol not yet there.
fn seeded(dir: &Path, extra: Vec<Value>) -> Emulator {
    seeded_with(dir, extra, vec![])
}

fn seeded_with(dir: &Path, extra: Vec<Value>, groups: Vec<Value>) -> Emulator {
    let mut users = vec![
        live_user("u-alice", "alice@example.com", "e1", "Alice", "Liddell"),
        live_user("u-bob", "bob@example.com", "e2", "Bob", "Old"),
    ];
    users.extend(extra);
    let seed = dir.join("seed.json");
    fs_err::write(
        &seed,
        json!({ "users": users, "groups": groups }).to_string(),
    )
    .expect("seed");
    Emulator::start(&["--seed", seed.to_str().expect("utf8")])
}

const ALICE: &str = "  - { id: e1, user_name: alice@example.com, given_name: Alice, family_name: Liddell, email: alice@example.com }\n";
const BOB: &str = "  - { id: e2, user_name: bob@example.com, given_name: Bob, family_name: Builder, email: bob@example.com }\n";
const BOB_OLD: &str = "  - { id: e2, user_name: bob@example.com, given_name: Bob, family_name: Old, display_name: Bob Old, email: bob@example.com }\n";
const CAROL: &str = "  - { id: e3, user_name: carol@example.com, given_name: Carol, family_name: Danvers, email: carol@example.com }\n";

fn target(url: &str, limits: &str) -> String {
    format!("targets:\n  crm:\n    type: generic\n    url: {url}\n    auth: {{ bearer_token_env: EMU_TOKEN }}\n    assign: {{ all: true }}\n    policy:\n      owns: {{ external_id: \"^e[0-9]+$\" }}\n{limits}")
}

fn run(cwd: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = roster()
        .current_dir(cwd)
        .env("EMU_TOKEN", "unused")
        .env_remove("GITHUB_STEP_SUMMARY")
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn reads(emu: &Emulator) -> u64 {
    emu.stats()["reads"].as_u64().expect("reads")
}

#[test]
fn drift_exits_0_in_sync_2_on_drift_and_never_3_with_a_tripped_gate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gone: Vec<Value> = (7..10)
        .map(|i| {
            live_user(
                &format!("u{i}"),
                &format!("gone{i}@example.com"),
                &format!("e{i}"),
                "Gone",
                "X",
            )
        })
        .collect();
    let emu = seeded(dir.path(), gone);
    let cfg = dir.path().join("roster.yaml");
    let write = |users: &str, limits: &str| {
        fs_err::write(
            &cfg,
            format!("version: 1\nusers:\n{users}{}", target(&emu.url, limits)),
        )
        .expect("config");
    };
    // three owned users gone from the directory: max_destroy 2 trips, plan exits 3, drift 2
    write(
        &format!("{ALICE}{BOB_OLD}"),
        "      limits: { max_destroy: 2 }\n",
    );
    let (code, _, _) = run(dir.path(), &["plan", "-c", "roster.yaml"]);
    assert_eq!(code, Some(3));
    let (code, stdout, stderr) = run(dir.path(), &["drift", "-c", "roster.yaml"]);
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Safety gate max_destroy tripped"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Drift: 3 changes not accepted (0 known)."),
        "{stdout}"
    );

    // in sync: the gone users are directory users again
    let back: String = (7..10)
        .map(|i| format!("  - {{ id: e{i}, user_name: gone{i}@example.com, given_name: Gone, family_name: X, display_name: Gone X, email: gone{i}@example.com }}\n"))
        .collect();
    write(&format!("{ALICE}{BOB_OLD}{back}"), "");
    let (code, stdout, stderr) = run(dir.path(), &["drift", "-c", "roster.yaml"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("No changes. Live state matches the configuration."),
        "{stdout}"
    );
    assert!(stdout.contains("No drift."), "{stdout}");
    assert_eq!(emu.stats()["writes"], 0, "drift is read-only");
}

#[test]
fn drift_accepts_known_drift_until_it_expires_and_refuses_an_unknown_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emu = seeded(dir.path(), vec![]);
    let cfg = dir.path().join("roster.yaml");
    // bob drifted (family name), carol is missing: two changes
    fs_err::write(
        &cfg,
        format!(
            "version: 1\nusers:\n{ALICE}{BOB}{CAROL}{}",
            target(&emu.url, "")
        ),
    )
    .expect("config");
    let known = dir.path().join("known.yaml");
    fs_err::write(
        &known,
        "- address: crm:user.e2\n  reason: HR system renames next week\n  expires: 2999-12-31\n- address: crm:user.e3\n  reason: waiting for a licence\n  expires: 2020-01-01\n",
    )
    .expect("known");
    let (code, stdout, stderr) = run(
        dir.path(),
        &["drift", "-c", "roster.yaml", "--ignore-known", "known.yaml"],
    );
    assert_eq!(
        code,
        Some(2),
        "the expired entry no longer accepts carol: {stdout}\n{stderr}"
    );
    assert!(stdout.contains("Known drift (accepted in known.yaml):\n  crm:user.e2: HR system renames next week (expires 2999-12-31) (bob@example.com)"), "{stdout}");
    assert!(stdout.contains("Expired entries in known.yaml"), "{stdout}");
    assert!(
        stdout.contains("line 4: crm:user.e3: waiting for a licence (expires 2020-01-01)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Drift: 1 change not accepted (1 known)."),
        "{stdout}"
    );

    // renewed: nothing new, exit 0; json carries the verdict next to the plan document
    fs_err::write(
        &known,
        "- address: crm:user.e2\n- address: crm:user.e3\n  expires: 2999-01-01\n",
    )
    .expect("known");
    let (code, stdout, _) = run(
        dir.path(),
        &[
            "drift",
            "-c",
            "roster.yaml",
            "--ignore-known",
            "known.yaml",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, Some(0), "{stdout}");
    let v: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(v["format_version"], "1");
    assert_eq!(v["targets"][0]["changes"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["drift"]["drifted"], false);
    assert_eq!(v["drift"]["known"].as_array().map(Vec::len), Some(2));

    // markdown: an issue body with its own marker, also appended to the step summary
    let summary = dir.path().join("summary.md");
    fs_err::write(&summary, "earlier step\n").expect("summary");
    let out = roster()
        .current_dir(dir.path())
        .env("EMU_TOKEN", "unused")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["drift", "-c", "roster.yaml", "--format", "markdown"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("<!-- roster-drift -->\n"), "{stdout}");
    assert!(!stdout.contains("<!-- roster-plan -->"), "{stdout}");
    let written = fs_err::read_to_string(&summary).expect("summary");
    assert!(
        written.starts_with("earlier step\n<!-- roster-drift -->"),
        "{written}"
    );

    // an address naming no configured target: exit 1, file and line named, nothing read
    fs_err::write(&known, "- address: crm:user.e2\n- address: aws:user.e3\n").expect("known");
    let before = reads(&emu);
    let (code, stdout, stderr) = run(
        dir.path(),
        &["drift", "-c", "roster.yaml", "--ignore-known", "known.yaml"],
    );
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("known.yaml:2:"), "{stderr}");
    assert!(stderr.contains("no configured target \"aws\""), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(
        reads(&emu),
        before,
        "nothing is read when the file is wrong"
    );
    fs_err::write(&known, "- address: crm:people.e2\n").expect("known");
    let (code, _, stderr) = run(
        dir.path(),
        &["drift", "-c", "roster.yaml", "--ignore-known", "known.yaml"],
    );
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("known.yaml:1:") && stderr.contains("is not an address"),
        "{stderr}"
    );
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=roster tests",
            "-c",
            "user.email=tests@example.com",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn plan_base_tells_this_change_from_pre_existing_drift_on_one_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    fs_err::create_dir_all(repo.join("people")).expect("mkdir");
    // live: engineering also holds bob, whom neither configuration lists (drift)
    let engineering = json!({"id": "g-eng", "displayName": "engineering", "externalId": "engineering",
                             "members": [{"value": "u-alice"}, {"value": "u-bob"}]});
    let emu = seeded_with(dir.path(), vec![], vec![engineering]);
    // the base commit: alice and bob in people/a.yaml, included by a glob
    fs_err::write(
        repo.join("roster.yaml"),
        format!(
            "version: 1\ninclude: [\"people/*.yaml\"]\n{}",
            target(&emu.url, "")
        ),
    )
    .expect("entry");
    let group =
        |members: &str| format!("groups:\n  - {{ name: engineering, members: [{members}] }}\n");
    fs_err::write(
        repo.join("people/a.yaml"),
        format!("users:\n{ALICE}{BOB}{}", group("e1")),
    )
    .expect("a");
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "base"]);
    // the change: carol in a new file the base's glob never saw
    fs_err::write(repo.join("people/b.yaml"), format!("users:\n{CAROL}")).expect("b");
    fs_err::write(
        repo.join("people/a.yaml"),
        format!("users:\n{ALICE}{BOB}{}", group("e1, e3")),
    )
    .expect("a");

    let before = reads(&emu);
    let (code, plain, stderr) = run(&repo, &["plan", "--format", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let plain_reads = reads(&emu) - before;
    let before = reads(&emu);
    let (code, based, stderr) = run(&repo, &["plan", "--base", "HEAD", "--format", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let base_reads = reads(&emu) - before;
    assert_eq!(
        base_reads, plain_reads,
        "plan --base reads live state once, as plan does"
    );

    let plain: Value = serde_json::from_str(&plain).expect("json");
    let based: Value = serde_json::from_str(&based).expect("json");
    assert_eq!(
        based["checksum"], plain["checksum"],
        "origin is not part of the checksum"
    );
    // carol's create and her joining engineering are this change; bob's family name and his
    // leaving engineering were already planned at the base
    let mut origins: Vec<String> = based["targets"][0]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| format!("{} {} {}", c["address"], c["actions"][0], c["origin"]).replace('"', ""))
        .collect();
    origins.sort();
    assert_eq!(
        origins,
        [
            "crm:group.engineering add_members change",
            "crm:group.engineering remove_members drift",
            "crm:user.e2 update drift",
            "crm:user.e3 create change",
        ]
    );
    assert!(plain["targets"][0]["changes"][0].get("origin").is_none());

    let (code, text, _) = run(&repo, &["plan", "--base", "HEAD"]);
    assert_eq!(code, Some(0));
    let change_at = text.find("Changes from this change:").expect(&text);
    let drift_at = text.find("Pre-existing drift:").expect(&text);
    assert!(change_at < text.find("carol@example.com").expect("carol"));
    assert!(drift_at < text.rfind("bob@example.com").expect("bob"));
    assert!(text.find("carol@example.com") < Some(drift_at), "{text}");
    let summary = dir.path().join("summary.md");
    let out = roster()
        .current_dir(&repo)
        .env("EMU_TOKEN", "unused")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["plan", "--base", "HEAD", "--format", "markdown"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let md = String::from_utf8_lossy(&out.stdout).into_owned();
    let written = fs_err::read_to_string(&summary).expect("the step summary");
    assert_eq!(
        written.trim_end(),
        md.trim_end(),
        "the markdown also goes to the step summary"
    );
    assert!(md.starts_with("<!-- roster-plan -->"), "{md}");
    assert!(
        md.contains("2 changes from this change, 2 pre-existing drift."),
        "{md}"
    );
    assert!(
        md.contains("Changes from this change — crm: users (1 change)"),
        "{md}"
    );
    assert!(
        md.contains("Pre-existing drift — crm: users (1 change)"),
        "{md}"
    );
    assert!(
        md.contains("Pre-existing drift — crm: memberships (1 change)"),
        "{md}"
    );
    // a saved --base plan keeps the origins, and show renders them apart as plan did
    let (code, _, stderr) = run(&repo, &["plan", "--base", "HEAD", "--out", "p.json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, shown, _) = run(&repo, &["show", "p.json"]);
    assert_eq!(code, Some(0));
    assert!(
        shown.contains("Changes from this change:") && shown.contains("Pre-existing drift:"),
        "{shown}"
    );
    assert_eq!(emu.stats()["writes"], 0);
}

#[test]
fn plan_base_refuses_a_missing_ref_an_invalid_base_and_no_repository() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    fs_err::create_dir_all(&repo).expect("mkdir");
    let cfg = format!(
        "version: 1\nusers:\n{ALICE}{}",
        target("http://127.0.0.1:9", "")
    );
    fs_err::write(repo.join("roster.yaml"), &cfg).expect("entry");
    // outside a repository
    let (code, _, stderr) = run(&repo, &["plan", "--base", "main"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("--base main") && stderr.contains("not in a git repository"),
        "{stderr}"
    );

    git(&repo, &["init", "-q"]);
    fs_err::write(repo.join("roster.yaml"), "version: 1\nusers: {\n").expect("broken");
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "broken base"]);
    fs_err::write(repo.join("roster.yaml"), &cfg).expect("entry");
    let (code, _, stderr) = run(&repo, &["plan", "--base", "no-such-branch"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("--base no-such-branch: no such commit"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&repo, &["plan", "--base", "HEAD"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("HEAD:roster.yaml"),
        "the diagnostic names the ref: {stderr}"
    );
    assert!(
        stderr.contains("the configuration at HEAD has 1 error"),
        "{stderr}"
    );
}

#[test]
fn apply_plan_file_uses_the_configuration_the_plan_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emu = seeded(dir.path(), vec![]);
    let conf = dir.path().join("conf");
    fs_err::create_dir_all(&conf).expect("mkdir");
    fs_err::write(
        conf.join("roster.yaml"),
        format!("version: 1\nusers:\n{ALICE}{BOB}{}", target(&emu.url, "")),
    )
    .expect("config");
    let (code, stdout, stderr) = run(
        dir.path(),
        &["plan", "-c", "conf/roster.yaml", "--out", "p.json"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("run: roster apply p.json"), "{stdout}");
    let saved: Value =
        serde_json::from_str(&fs_err::read_to_string(dir.path().join("p.json")).expect("plan"))
            .expect("json");
    assert_eq!(saved["config_file"], "conf/roster.yaml");

    // moved away from its configuration: a clear error naming the file, and -c as the way out
    let moved = dir.path().join("moved");
    fs_err::create_dir_all(&moved).expect("mkdir");
    fs_err::copy(dir.path().join("p.json"), moved.join("p.json")).expect("copy");
    let (code, _, stderr) = run(dir.path(), &["apply", "moved/p.json"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("moved/conf/roster.yaml, which does not exist"),
        "{stderr}"
    );
    assert!(stderr.contains("-c/--config"), "{stderr}");
    assert_eq!(emu.stats()["writes"], 0);

    // from the same directory, as the plan's footer says
    let (code, stdout, stderr) = run(dir.path(), &["apply", "p.json"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert_eq!(emu.stats()["writes"], 1, "bob's family name");
    // -c still overrides the recorded file: the moved copy applies (its one change is already
    // done, so nothing more is written)
    let (code, _, stderr) = run(
        dir.path(),
        &["apply", "moved/p.json", "-c", "conf/roster.yaml"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(emu.stats()["writes"], 1);
}
