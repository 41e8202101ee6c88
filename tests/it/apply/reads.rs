//! Issue 11, "completeness as a proof": servers whose list answers add up by their own account
//! and are still short. The emulator plays each fault (`--lying-totals`, `--short-cursor-after`)
//! over a directory a healthy emulator converged first (kept in a state file); `plan` and `apply`
//! must fail closed, naming the evidence, and the live state afterwards is untouched: no object
//! lost or duplicated, no membership removed.

use super::*;

/// 250 users; group-00 holds users 120..250 (130 members, more than one page), so its member
/// list names users past the first page of any listing.
fn directory() -> Directory {
    let mut d = Directory::with_users(250);
    d.groups.push(G::new(0, 120..250));
    d.groups.push(G::new(1, 0..10));
    d
}

/// Converge `directory()` on a healthy emulator keeping its state in `state`.
fn converge(dialect: &str, ty: &'static str, state: &str) {
    let emu = EmulatorProcess::start(&[
        "--dialect",
        dialect,
        "--token-env",
        EMU_TOKEN_ENV,
        "--state",
        state,
    ]);
    let ws = Workspace::new(&emu.token);
    ws.write(&directory(), &TargetSpec::new(ty, &emu.url));
    ws.apply_ok(&[]);
    ws.assert_converged("healthy");
}

/// `plan` and `apply` against the faulty emulator both fail closed with the evidence, and
/// write nothing.
fn fails_closed(flavour: Flavour, fault: &[&str]) {
    let (dialect, ty) = dialect_and_type(flavour);
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.json");
    let state = state.to_str().expect("utf8");
    converge(dialect, ty, state);

    let mut args = vec![
        "--dialect",
        dialect,
        "--token-env",
        EMU_TOKEN_ENV,
        "--state",
        state,
    ];
    args.extend_from_slice(fault);
    let emu = EmulatorProcess::start(&args);
    let ws = Workspace::new(&emu.token);
    ws.write(&directory(), &TargetSpec::new(ty, &emu.url));
    for command in [&["plan"][..], &["apply", "--auto-approve"][..]] {
        let run = ws.roster(command);
        note(&format!(
            "{fault:?} {command:?}: {:?} {}",
            run.code,
            tail(&run.stderr, 3)
        ));
        assert_eq!(run.code, Some(1), "{command:?} fails closed: {run}");
        assert!(
            run.stderr.contains("the read is incomplete")
                && run.stderr.contains("group \"group-00\" has"),
            "{command:?} names the evidence: {run}"
        );
    }
    let s = emu.stats();
    assert_eq!(s["writes"].as_u64(), Some(0), "nothing was written: {s}");
    assert_eq!(
        (s["users"].as_u64(), s["groups"].as_u64()),
        (Some(250), Some(2)),
        "no object lost or duplicated: {s}"
    );
    let live = Live::of(&emu, flavour);
    assert_eq!(live.member_count("group-00"), 130, "no membership removed");
    assert_eq!(live.member_count("group-01"), 10, "no membership removed");
}

/// A generic server whose `totalResults` equals the page length: the first page looks like the
/// whole list, and group-00's members past it prove it is not.
#[test]
fn lying_totals_fail_closed() {
    fails_closed(Flavour::Generic, &["--lying-totals"]);
}

/// An AWS cursor chain that ends early (page 2 empty, no `nextCursor`).
#[test]
fn a_short_cursor_chain_fails_closed() {
    fails_closed(Flavour::Aws, &["--short-cursor-after", "1"]);
}

/// A read the member check cannot disprove (no group names the unread users) still plans creates
/// for users that exist: their 409 is the proof, and apply then sends no deactivation. Users
/// e0000..e0049 leave the configuration, so the plan deactivates those it read.
#[test]
fn a_409_on_create_stops_removals_in_that_target() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.json");
    let state = state.to_str().expect("utf8");
    let mut d = Directory::with_users(250);
    {
        let emu = EmulatorProcess::start(&["--token-env", EMU_TOKEN_ENV, "--state", state]);
        let ws = Workspace::new(&emu.token);
        ws.write(&d, &TargetSpec::new("generic", &emu.url));
        ws.apply_ok(&[]);
    }
    let emu = EmulatorProcess::start(&[
        "--token-env",
        EMU_TOKEN_ENV,
        "--state",
        state,
        "--lying-totals",
    ]);
    let ws = Workspace::new(&emu.token);
    d.remove_users(0..50);
    ws.write(&d, &TargetSpec::new("generic", &emu.url));
    // Even with the safety gates lifted, the 409 stops the removals.
    let run = ws.roster(&["apply", "--auto-approve", "--allow-destroy"]);
    note(&format!(
        "409 stop: {:?}\n{}",
        run.code,
        tail(&run.stdout, 6)
    ));
    assert_eq!(
        run.code,
        Some(5),
        "apply reports what it did not send: {run}"
    );
    assert!(run.stdout.contains("0 failed, 50 skipped"), "{run}");
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("met 409"), "the reason is given: {run}");
    let s = emu.stats();
    assert_eq!(
        s["users"].as_u64(),
        Some(250),
        "none lost or duplicated: {s}"
    );
    let live = Live::of(&emu, Flavour::Generic);
    let inactive = (0..250)
        .filter(|i| {
            live.user_named(&format!("user{i:04}@example.com"))
                .is_some_and(|u| u["active"] == json!(false))
        })
        .count();
    assert_eq!(
        inactive, 0,
        "no user deactivated on the word of a short read"
    );
}
