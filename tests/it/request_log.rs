//! The request log at `-vv`: one line per request sent, with method, path, status and latency,
//! so that a slow or failing run can be read request by request; never a token or a body.

use crate::common::{roster, EmulatorProcess as Emulator, EMU_TOKEN_ENV};
use serde_json::json;

#[test]
fn vv_logs_each_request_without_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = dir.path().join("seed.json");
    fs_err::write(
        &seed,
        json!({"users": [{"id": "u-alice", "userName": "alice@example.com", "externalId": "e1",
                          "name": {"givenName": "Alice", "familyName": "Secretfamily"},
                          "active": true}],
               "groups": []})
        .to_string(),
    )
    .expect("seed");
    let emu = Emulator::start(&[
        "--seed",
        seed.to_str().expect("utf8"),
        "--token-env",
        EMU_TOKEN_ENV,
    ]);
    fs_err::write(
        dir.path().join("roster.yaml"),
        format!(
            "version: 1\nusers:\n  - {{ id: e1, user_name: alice@example.com, given_name: Alice, family_name: Liddell, email: alice@example.com }}\ntargets:\n  crm:\n    type: generic\n    url: {}\n    auth: {{ bearer_token_env: EMU_TOKEN }}\n    assign: {{ all: true }}\n",
            emu.url
        ),
    )
    .expect("config");
    let run = |verbosity: &[&str]| {
        let out = roster()
            .current_dir(dir.path())
            .env(EMU_TOKEN_ENV, &emu.token)
            .args(["plan", "-c", "roster.yaml"])
            .args(verbosity)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let log = run(&["-vv"]);
    let line = log
        .lines()
        .find(|l| l.contains("GET /Users") && l.contains("-> 200 in "))
        .unwrap_or_else(|| panic!("no request line for GET /Users in:\n{log}"));
    assert!(line.contains(" ms"), "{line}");
    assert!(!log.contains(&emu.token), "the token leaked:\n{log}");
    assert!(
        !log.contains("Secretfamily"),
        "a response body leaked:\n{log}"
    );
    // Below -vv there is no request log.
    let quiet = run(&["-v"]);
    assert!(!quiet.contains("-> 200 in "), "{quiet}");
}
