//! `roster explain` end to end against a seeded `roster emulator`, and the plan/apply promises
//! that came with it (issue 10): an adopted user, a conflict (plan exit 2, apply exit 5, explain),
//! a leaver known only by its `live:` address, an unassigned user asked for by its live id, an
//! ignored group; an address that names nothing (explain and `plan --resource`: exit 1 with
//! suggestions); the request estimate against the emulator's counters; and re-applying a
//! finished plan sends nothing.
//!
//! Expected outputs are `tests/fixtures/explain/*.txt|json`; `UPDATE_EXPECT=1` rewrites them.

use crate::common::{roster, EmulatorProcess, EMU_TOKEN_ENV};
use serde_json::Value;
use std::path::{Path, PathBuf};

const FIXTURES: &str = "tests/fixtures/explain";

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(emu: &EmulatorProcess, args: &[&str]) -> Run {
    let out = roster()
        .env(EMU_TOKEN_ENV, &emu.token)
        .args(args)
        .output()
        .expect("roster runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The emulator seeded with `seed.json` and the configuration pointing at it.
fn setup(dir: &Path) -> (EmulatorProcess, PathBuf) {
    let seed = crate::common::root().join(FIXTURES).join("seed.json");
    let emu = EmulatorProcess::start(&[
        "--token-env",
        EMU_TOKEN_ENV,
        "--seed",
        seed.to_str().expect("utf8"),
    ]);
    let config = config_at(dir, &emu.url, "roster.yaml.in");
    (emu, config)
}

fn config_at(dir: &Path, url: &str, template: &str) -> PathBuf {
    let text = fs_err::read_to_string(crate::common::root().join(FIXTURES).join(template))
        .expect("config template");
    let path = dir.join("roster.yaml");
    fs_err::write(&path, text.replace("{URL}", url)).expect("config");
    path
}

fn expect(name: &str, actual: &str) {
    let path = crate::common::root().join(FIXTURES).join(name);
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        fs_err::write(&path, actual).expect("write expectation");
        return;
    }
    let want = fs_err::read_to_string(&path).unwrap_or_default();
    assert_eq!(actual, want, "{name} differs (UPDATE_EXPECT=1 rewrites it)");
}

fn explain(emu: &EmulatorProcess, config: &Path, args: &[&str]) -> Run {
    let mut all = vec!["explain", "-c", config.to_str().expect("utf8")];
    all.extend_from_slice(args);
    run(emu, &all)
}

#[test]
fn explain_an_adopted_user_a_leaver_an_unassigned_user_and_an_ignored_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (emu, config) = setup(dir.path());
    let before = emu.stats();
    let plan = run(&emu, &["plan", "-c", config.to_str().expect("utf8")]);
    assert_eq!(plan.code, Some(0), "{}{}", plan.stdout, plan.stderr);
    let after_plan = emu.stats();

    let cases = [
        ("adopted-user.txt", "crm:user.e1"),
        ("leaver.txt", "crm:user.live:u-leaver"),
        ("unassigned.txt", "crm:user.live:u-carol"),
        ("ignored-group.txt", "crm:group.live:g-bg"),
    ];
    for (file, address) in cases {
        let r = explain(&emu, &config, &[address]);
        assert_eq!(r.code, Some(0), "{address}: {}{}", r.stdout, r.stderr);
        expect(file, &r.stdout);
    }
    let json = explain(&emu, &config, &["--format", "json", "crm:user.e1"]);
    assert_eq!(json.code, Some(0), "{}", json.stderr);
    let v: Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(v["explanations"][0]["match"]["adopt"], true, "{v}");
    expect("adopted-user.json", &json.stdout);

    // explain reads exactly what plan reads, and writes nothing
    let before_one = emu.stats();
    let one = explain(&emu, &config, &["crm:user.e1"]);
    assert_eq!(one.code, Some(0));
    let after = emu.stats();
    assert_eq!(
        delta(&before_one, &after).0,
        delta(&before, &after_plan).0,
        "{after}"
    );
    assert_eq!(after["writes"], 0, "{after}");
}

#[test]
fn a_conflict_end_to_end_plan_exits_2_apply_exits_5_and_explain_names_the_other_externalid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (emu, config) = setup(dir.path());
    let c = config.to_str().expect("utf8");
    let plan = run(&emu, &["plan", "--detailed-exitcode", "-c", c]);
    assert_eq!(plan.code, Some(2), "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("1 conflict"), "{}", plan.stdout);
    let apply = run(&emu, &["apply", "--auto-approve", "-c", c]);
    assert_eq!(apply.code, Some(5), "{}{}", apply.stdout, apply.stderr);
    let r = explain(&emu, &config, &["crm:user.e2"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("00uOKTA123"), "{}", r.stdout);
    expect("conflict.txt", &r.stdout);
}

#[test]
fn an_address_that_names_nothing_exits_1_with_the_closest_suggested() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (emu, config) = setup(dir.path());
    let c = config.to_str().expect("utf8");
    let r = explain(&emu, &config, &["crm:user.e4"]);
    assert_eq!(r.code, Some(1), "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr
            .contains("crm:user.e4 names no object in target crm")
            && r.stderr
                .contains("did you mean crm:user.e1, crm:user.e2, crm:user.e3?"),
        "{}",
        r.stderr
    );
    // an address without its target is read in the only one
    let r = explain(&emu, &config, &["user.live:u-leavr"]);
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.contains("did you mean crm:user.live:u-leaver"),
        "{}",
        r.stderr
    );

    let r = run(&emu, &["plan", "--resource", "crm:user.nobody", "-c", c]);
    assert_eq!(r.code, Some(1), "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("crm:user.nobody names no object in target crm"),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains("No changes"), "{}", r.stdout);
    let r = run(
        &emu,
        &["plan", "--resource", "crm:user.live:u-alice", "-c", c],
    );
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.contains("did you mean crm:user.e1?"),
        "{}",
        r.stderr
    );
    // an address that names a known object still plans
    let r = run(&emu, &["plan", "--resource", "user.e1", "-c", c]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Targeting is in effect"), "{}", r.stdout);
}

/// Reads and writes the emulator counted between two stats.
fn delta(a: &Value, b: &Value) -> (u64, u64) {
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or(0);
    (
        n(b, "reads") - n(a, "reads"),
        n(b, "writes") - n(a, "writes"),
    )
}

fn plan_requests(path: &Path) -> (u64, u64) {
    let doc: Value =
        serde_json::from_str(&fs_err::read_to_string(path).expect("plan")).expect("plan json");
    let r = &doc["targets"][0]["requests"];
    (
        r["reads"].as_u64().expect("reads"),
        r["writes"].as_u64().expect("writes"),
    )
}

#[test]
fn the_estimate_is_what_apply_sends_and_a_finished_plan_sends_nothing_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emu = EmulatorProcess::start(&["--token-env", EMU_TOKEN_ENV]);
    let config = config_at(dir.path(), &emu.url, "estimate.yaml.in");
    let c = config.to_str().expect("utf8");
    let plan_file = dir.path().join("plan.json");
    let p = plan_file.to_str().expect("utf8");

    // three plans: creates on an empty target, then an update and a member add, then a removal
    let edits: [&dyn Fn(&str) -> String; 3] = [
        &|t| t.to_string(),
        &|t| {
            t.replace("title: Engineer", "title: Staff")
                .replace("members: [e1, e2]", "members: [e1, e2, e3]")
        },
        &|t| {
            t.replace("title: Engineer", "title: Staff")
                .replace("members: [e1, e2]", "members: [e2, e3]")
        },
    ];
    let template = fs_err::read_to_string(&config).expect("config");
    for (i, edit) in edits.iter().enumerate() {
        fs_err::write(&config, edit(&template)).expect("config");
        let r = run(&emu, &["plan", "--out", p, "-c", c]);
        assert_eq!(r.code, Some(0), "plan {i}: {}{}", r.stdout, r.stderr);
        let estimate = plan_requests(&plan_file);
        let before = emu.stats();
        let r = run(&emu, &["apply", p]);
        assert_eq!(r.code, Some(0), "apply {i}: {}{}", r.stdout, r.stderr);
        let sent = delta(&before, &emu.stats());
        assert_eq!(
            sent, estimate,
            "plan {i}: estimated (reads, writes) vs sent"
        );

        // the same plan again: everything is in effect, nothing is written or counted
        let before = emu.stats();
        let r = run(&emu, &["apply", p]);
        assert_eq!(r.code, Some(0), "re-apply {i}: {}{}", r.stdout, r.stderr);
        let (_, writes) = delta(&before, &emu.stats());
        assert_eq!(writes, 0, "re-apply {i} wrote: {}", r.stdout);
        assert!(
            r.stdout
                .contains("Apply complete! Resources: 0 added, 0 changed, 0 destroyed."),
            "re-apply {i}: {}",
            r.stdout
        );
    }
}
