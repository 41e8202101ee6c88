//! Hostile input, end to end: a configuration written by a stranger (CI plans pull requests)
//! and live values chosen by whoever can write to the SCIM server. Each test names the attack it
//! covers and asserts the exit code and the message; none may hang, abort or leak what it read.

use crate::common::{roster, EmulatorProcess as Emulator};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

/// Long enough for a debug build on a loaded machine, short enough that a hang fails the test.
const QUICK: Duration = Duration::from_secs(30);

fn write(path: &Path, text: &str) {
    fs_err::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs_err::write(path, text).expect("write");
}

/// `roster validate -c ENTRY ARGS` run in `dir`: exit code, stdout, stderr.
fn validate(dir: &Path, entry: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = roster()
        .current_dir(dir)
        .args(["validate", "-c", entry])
        .args(args)
        .timeout(QUICK)
        .output()
        .expect("roster runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

const ONE_USER: &str = "users:\n  - { id: e1, user_name: alice@example.com }\n";

#[test]
fn an_absolute_include_is_refused_before_it_is_read_and_nothing_of_it_is_quoted() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        &dir.path().join("roster.yaml"),
        "version: 1\ninclude: ['/proc/self/environ']\n",
    );
    let canary = "canary-token-7f3a9c";
    let run = |args: &[&str]| {
        let out = roster()
            .current_dir(dir.path())
            .env("ROSTER_TEST_CANARY", canary)
            .args(["validate", "-c", "roster.yaml"])
            .args(args)
            .timeout(QUICK)
            .output()
            .expect("roster runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, output) = run(&[]);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("include pattern \"/proc/self/environ\" leaves the configuration's directory: it is an absolute path"),
        "{output}"
    );
    assert!(output.contains("--allow-include-outside"), "{output}");
    assert!(!output.contains(canary), "{output}");
    // Widened by the operator, the file is read but refused as binary, still unquoted.
    let (code, output) = run(&["--allow-include-outside"]);
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("it contains NUL bytes"), "{output}");
    assert!(!output.contains(canary), "{output}");
}

#[test]
fn an_include_climbing_out_of_the_tree_is_refused_unless_the_operator_allows_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(&dir.path().join("shared/people.yaml"), ONE_USER);
    write(
        &dir.path().join("repo/roster.yaml"),
        "version: 1\ninclude: ['../shared/*.yaml']\n",
    );
    let repo = dir.path().join("repo");
    let (code, _, stderr) = validate(&repo, "roster.yaml", &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("its `..` climbs above the entry file's directory"),
        "{stderr}"
    );
    assert!(stderr.contains("--> roster.yaml:2:11"), "{stderr}");
    let (code, stdout, stderr) = validate(&repo, "roster.yaml", &["--allow-include-outside"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("1 user"), "{stdout}");
    // `..` that stays inside the tree is fine
    write(&repo.join("people/a.yaml"), ONE_USER);
    write(
        &repo.join("teams/all.yaml"),
        "include: ['../people/*.yaml']\n",
    );
    write(
        &repo.join("roster.yaml"),
        "version: 1\ninclude: ['teams/*.yaml']\n",
    );
    let (code, stdout, stderr) = validate(&repo, "roster.yaml", &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("1 user"), "{stdout}");
}

#[test]
fn a_symlink_leading_out_of_the_tree_is_refused_and_not_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        &dir.path().join("outside/secret.yaml"),
        "secret: hunter2-canary\n",
    );
    let repo = dir.path().join("repo");
    write(&repo.join("people/a.yaml"), ONE_USER);
    std::os::unix::fs::symlink(
        dir.path().join("outside/secret.yaml"),
        repo.join("people/b.yaml"),
    )
    .expect("symlink");
    write(
        &repo.join("roster.yaml"),
        "version: 1\ninclude: ['people/*.yaml']\n",
    );
    let (code, _, stderr) = validate(&repo, "roster.yaml", &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "matches people/b.yaml, a link to a file outside the configuration's directory"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn a_device_or_a_fifo_as_the_entry_file_fails_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let (code, _, stderr) = validate(dir.path(), "/dev/zero", &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "cannot read configuration file /dev/zero: it is a character device, not a regular file"
        ),
        "{stderr}"
    );
    let fifo = dir.path().join("roster.yaml");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    let (code, _, stderr) = validate(dir.path(), "roster.yaml", &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("it is a FIFO (named pipe), not a regular file"),
        "{stderr}"
    );
    // and a FIFO matched by an include glob
    fs_err::remove_file(&fifo).expect("rm");
    write(&fifo, "version: 1\ninclude: ['people/*.yaml']\n");
    fs_err::create_dir_all(dir.path().join("people")).expect("mkdir");
    let status = std::process::Command::new("mkfifo")
        .arg(dir.path().join("people/pipe.yaml"))
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    let (code, _, stderr) = validate(dir.path(), "roster.yaml", &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("matches people/pipe.yaml, which is a FIFO (named pipe)"),
        "{stderr}"
    );
    assert!(started.elapsed() < QUICK, "took {:?}", started.elapsed());
}

#[test]
fn a_file_over_the_size_cap_is_refused_unread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let big = dir.path().join("roster.yaml");
    // sparse: no disk space, and roster must refuse it on its size before reading a byte
    fs_err::File::create(&big)
        .expect("create")
        .set_len((64 << 20) + 1)
        .expect("set_len");
    let (code, _, stderr) = validate(dir.path(), "roster.yaml", &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "it is 67108865 bytes, larger than the limit of 64 MiB per configuration file"
        ),
        "{stderr}"
    );
}

#[test]
fn an_include_glob_across_two_symlink_loops_finishes_reading_each_file_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let people = dir.path().join("people");
    write(&people.join("a.yaml"), ONE_USER);
    write(
        &people.join("deep/b.yaml"),
        "users:\n  - { id: e2, user_name: bob@example.com }\n",
    );
    std::os::unix::fs::symlink(".", people.join("x")).expect("symlink");
    std::os::unix::fs::symlink(".", people.join("y")).expect("symlink");
    std::os::unix::fs::symlink("..", people.join("deep/up")).expect("symlink");
    write(
        &dir.path().join("roster.yaml"),
        "version: 1\ninclude: ['people/**/*.yaml']\n",
    );
    let started = Instant::now();
    let (code, stdout, stderr) = validate(dir.path(), "roster.yaml", &[]);
    assert_eq!(code, Some(0), "{stderr}");
    // read once each: a second read would be a duplicate-id error
    assert!(stdout.contains("2 users"), "{stdout}");
    assert!(started.elapsed() < QUICK, "took {:?}", started.elapsed());
}

#[test]
fn a_file_that_is_not_yaml_configuration_is_never_quoted() {
    let dir = tempfile::tempdir().expect("tempdir");
    // the shape of /etc/shadow: one line, a secret in it, not a YAML mapping
    write(
        &dir.path().join("shadow"),
        "root:$6$canary-hash$xyz:19000:0:99999:7:::\n",
    );
    let (code, _, stderr) = validate(dir.path(), "shadow", &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("shadow is not a YAML configuration file (it does not parse)"),
        "{stderr}"
    );
    assert!(!stderr.contains("canary-hash"), "{stderr}");
    // binary content inside the tree, under a .yaml name: refused unread
    fs_err::write(
        dir.path().join("people.yaml"),
        b"users: []\n\0canary-binary\n",
    )
    .expect("write");
    write(
        &dir.path().join("roster.yaml"),
        "version: 1\ninclude: ['people.yaml']\n",
    );
    let (code, _, stderr) = validate(dir.path(), "roster.yaml", &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot read configuration file people.yaml: it contains NUL bytes"),
        "{stderr}"
    );
    assert!(!stderr.contains("canary-binary"), "{stderr}");
    // the configuration's own YAML is still quoted, as before
    write(&dir.path().join("people.yaml"), "users: [\n");
    let (code, _, stderr) = validate(dir.path(), "roster.yaml", &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("1 | users: ["), "{stderr}");
}

fn doubling_config(dir: &Path) {
    write(
        &dir.join("roster.yaml"),
        "version: 1\nusers:\n  - { id: e1, user_name: alice@example.com, given_name: Alice, family_name: Liddell }\n\
         targets:\n  crm:\n    type: generic\n    url: http://127.0.0.1:9/scim/v2\n    auth: { bearer_token_env: EMU_TOKEN }\n    \
         assign: { all: true }\n    policy: { owns: { external_id: \"^e[0-9]+$\" } }\n    mapping:\n      user:\n        \
         displayName: \"{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}\"\n",
    );
}

#[test]
fn a_template_that_doubles_a_string_in_a_loop_is_stopped_with_its_file_line_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    doubling_config(dir.path());
    for command in ["validate", "plan"] {
        let out = roster()
            .current_dir(dir.path())
            .env("EMU_TOKEN", "t")
            .args([command, "-c", "roster.yaml"])
            .timeout(QUICK)
            .output()
            .expect("roster runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command}: {stderr}");
        assert!(
            stderr
                .contains("the template of `displayName` fails for user \"e1\" in target \"crm\""),
            "{command}: {stderr}"
        );
        assert!(
            stderr.contains("the template builds a value larger than 256 KiB"),
            "{command}: {stderr}"
        );
        assert!(
            stderr.contains("--> roster.yaml:13:22"),
            "{command}: {stderr}"
        );
    }
}

#[test]
fn control_characters_in_a_live_display_name_are_escaped_in_text_and_markdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hostile = "Mallory\u{1b}[2J\u{1b}]0;pwned\u{7}\u{7}";
    let seed = json!({
        "users": [
            {"id": "u-alice", "userName": "alice@example.com", "externalId": "e1", "displayName": hostile,
             "name": {"givenName": "Alice", "familyName": "Liddell"},
             "emails": [{"value": "alice@example.com", "primary": true}], "active": true},
            {"id": "u-old", "userName": format!("old{hostile}@example.com"), "externalId": "e9",
             "displayName": hostile, "active": true}
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
    write(
        &dir.path().join("roster.yaml"),
        &format!(
            "version: 1\nusers:\n  - {{ id: e1, user_name: alice@example.com, given_name: Alice, family_name: Liddell, email: alice@example.com }}\n\
             targets:\n  crm:\n    type: generic\n    url: {}\n    auth: {{ bearer_token_env: EMU_TOKEN }}\n    assign: {{ all: true }}\n    \
             policy: {{ owns: {{ external_id: \"^e.*$\" }}, unmanaged: delete }}\n",
            emu.url
        ),
    );
    for format in ["text", "markdown"] {
        let out = roster()
            .current_dir(dir.path())
            .env("EMU_TOKEN", &emu.token)
            .args([
                "plan",
                "--detailed-exitcode",
                "--format",
                format,
                "-c",
                "roster.yaml",
            ])
            .timeout(QUICK)
            .output()
            .expect("roster runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // 2: changes; 3: the deactivation trips the destroy gate (1 of 2 owned users)
        assert_eq!(out.status.code(), Some(3), "{format}: {stdout}\n{stderr}");
        for bad in [0x1b_u8, 0x07] {
            assert!(
                !out.stdout.contains(&bad) && !out.stderr.contains(&bad),
                "{format}: raw byte {bad:#x} in the output:\n{stdout:?}"
            );
        }
        // the per-object header line quotes the live userName: escaped
        assert!(
            stdout.contains(
                "(oldMallory\\x1b[2J\\x1b]0;pwned\\x07\\x07@example.com) will be deactivated"
            ),
            "{format}: {stdout}"
        );
        // attribute values were already JSON-escaped, and stay so
        assert!(
            stdout.contains(r#""Mallory\u001b[2J\u001b]0;pwned\u0007\u0007" -> "Alice Liddell""#),
            "{format}: {stdout}"
        );
    }
    // apply's per-change lines name the objects too
    let out = roster()
        .current_dir(dir.path())
        .env("EMU_TOKEN", &emu.token)
        .args([
            "apply",
            "--auto-approve",
            "--allow-destroy",
            "-c",
            "roster.yaml",
        ])
        .timeout(QUICK)
        .output()
        .expect("roster runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for bad in [0x1b_u8, 0x07] {
        assert!(
            !out.stdout.contains(&bad) && !out.stderr.contains(&bad),
            "apply: raw byte {bad:#x} in the output:\n{stdout:?}\n{stderr:?}"
        );
    }
    assert!(
        stdout.contains("oldMallory\\x1b[2J\\x1b]0;pwned\\x07\\x07@example.com"),
        "{stdout}"
    );
}

// ---- Hostile reads (issue 11): servers that never stop or answer too much. Each must fail the
// read (exit 1) with a message naming the limit and its setting, write nothing and leave the
// live state as it was, for `plan` and for `apply` alike.

/// 150 users seeded into the emulator and the same 150 in the configuration.
const SEEDED: u64 = 150;

fn seed_file(dir: &Path) -> String {
    let users: Vec<serde_json::Value> = (0..SEEDED)
        .map(|i| {
            json!({"id": format!("u{i}"), "userName": format!("user{i}@example.com"),
                   "externalId": format!("e{i:04}"), "displayName": format!("U {i}"),
                   "name": {"givenName": "U", "familyName": i.to_string()},
                   "emails": [{"value": format!("user{i}@example.com"), "primary": true}],
                   "active": true})
        })
        .collect();
    let path = dir.join("seed.json");
    fs_err::write(&path, json!({"users": users, "groups": []}).to_string()).expect("seed");
    path.to_str().expect("utf8").to_string()
}

/// Runs `plan` and `apply --auto-approve` against an emulator with `fault`, the target carrying
/// `read` (YAML, may be empty); returns what each printed on stderr after asserting that both
/// failed closed and nothing changed.
fn read_fails_closed(dialect: &str, fault: &[&str], read: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = seed_file(dir.path());
    let mut args = vec![
        "--dialect",
        dialect,
        "--token-env",
        "EMU_TOKEN",
        "--seed",
        &seed,
    ];
    args.extend_from_slice(fault);
    let emu = Emulator::start(&args);
    let ty = if dialect == "aws" {
        "aws-identity-center"
    } else {
        "generic"
    };
    let mut yaml = String::from("version: 1\nusers:\n");
    for i in 0..SEEDED {
        yaml.push_str(&format!(
            "  - {{ id: e{i:04}, user_name: user{i}@example.com, given_name: U, family_name: \"{i}\", email: user{i}@example.com }}\n"
        ));
    }
    yaml.push_str(&format!(
        "targets:\n  t:\n    type: {ty}\n    url: {}\n    auth: {{ bearer_token_env: EMU_TOKEN }}\n    \
         assign: {{ all: true }}\n    policy: {{ owns: {{ external_id: \"^e[0-9]+$\" }} }}\n{read}",
        emu.url
    ));
    write(&dir.path().join("roster.yaml"), &yaml);
    let mut messages = String::new();
    for command in [&["plan"][..], &["apply", "--auto-approve"][..]] {
        let started = Instant::now();
        let out = roster()
            .current_dir(dir.path())
            .env("EMU_TOKEN", &emu.token)
            .args(command)
            .args(["-c", "roster.yaml"])
            .timeout(Duration::from_secs(120))
            .output()
            .expect("roster runs");
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{command:?}: {stdout}\n{stderr}"
        );
        assert!(
            stderr.contains("target \"t\""),
            "{command:?} names the target: {stderr}"
        );
        assert!(
            !stderr.contains(&emu.token),
            "{command:?}: the token is echoed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{command:?} took {:?}",
            started.elapsed()
        );
        messages.push_str(&stderr);
    }
    let s = emu.stats();
    assert_eq!(s["writes"].as_u64(), Some(0), "nothing was written: {s}");
    assert_eq!(
        s["users"].as_u64(),
        Some(SEEDED),
        "no user lost or added: {s}"
    );
    messages
}

#[test]
fn an_endless_cursor_of_fresh_users_stops_at_the_page_cap() {
    let err = read_fails_closed(
        "aws",
        &["--endless-cursor", "fresh"],
        "    read: { max_pages: 30 }\n",
    );
    assert!(
        err.contains(
            "listing users took more than 30 pages, the target's limit (`read.max_pages`)"
        ),
        "{err}"
    );
}

#[test]
fn an_endless_cursor_of_empty_pages_stops_after_a_hundred() {
    let err = read_fails_closed("aws", &["--endless-cursor", "empty"], "");
    assert!(
        err.contains(
            "the server sent 100 empty pages of users in a row, each with a new nextCursor"
        ),
        "{err}"
    );
}

#[test]
fn a_cursor_that_repeats_fails_at_once() {
    let err = read_fails_closed("aws", &["--endless-cursor", "repeat"], "");
    assert!(
        err.contains("twice while listing users; refusing to loop"),
        "{err}"
    );
}

#[test]
fn a_giant_streamed_page_is_refused_at_the_cap_and_the_cap_can_be_raised() {
    let err = read_fails_closed("generic", &["--giant-page-mb", "40"], "");
    assert!(
        err.contains("sent more than 32 MiB in one answer; reading stopped there"),
        "{err}"
    );
    assert!(err.contains("raise `read.max_response_mib`"), "{err}");
    // The same page under a raised cap is read: it is valid JSON, only large.
    let dir = tempfile::tempdir().expect("tempdir");
    let emu = Emulator::start(&["--token-env", "EMU_TOKEN", "--giant-page-mb", "40"]);
    write(
        &dir.path().join("roster.yaml"),
        &format!(
            "version: 1\n{ONE_USER}targets:\n  t:\n    type: generic\n    url: {}\n    \
             auth: {{ bearer_token_env: EMU_TOKEN }}\n    assign: {{ all: true }}\n    \
             read: {{ max_response_mib: 64 }}\n",
            emu.url
        ),
    );
    let out = roster()
        .current_dir(dir.path())
        .env("EMU_TOKEN", &emu.token)
        .args(["plan", "-c", "roster.yaml"])
        .timeout(Duration::from_secs(120))
        .output()
        .expect("roster runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 to add"), "{stdout}");
}

#[test]
fn a_content_length_over_the_cap_is_refused_before_reading() {
    let err = read_fails_closed("generic", &["--claim-length-mb", "100"], "");
    assert!(
        err.contains(
            "declares an answer of 100 MiB (Content-Length 104857600); refused before reading it"
        ),
        "{err}"
    );
}

#[test]
fn an_index_paged_list_claiming_a_billion_objects_fails_on_the_first_page() {
    let err = read_fails_closed("generic", &["--endless-index"], "");
    assert!(
        err.contains("the server claims 1000000000 users (totalResults), more than the target's limit of 2000000 per list (`read.max_objects`)"),
        "{err}"
    );
}

#[test]
fn a_read_limit_of_zero_is_refused_by_validate() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        &dir.path().join("roster.yaml"),
        &format!(
            "version: 1\n{ONE_USER}targets:\n  t:\n    type: generic\n    url: http://127.0.0.1:9\n    \
             auth: {{ bearer_token_env: EMU_TOKEN }}\n    assign: {{ all: true }}\n    \
             read: {{ max_pages: 0, max_response_mib: 5000 }}\n"
        ),
    );
    let (code, _, stderr) = validate(dir.path(), "roster.yaml", &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("`read.max_pages` must be between 1 and 4294967295, found 0"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`read.max_response_mib` must be between 1 and 4096, found 5000"),
        "{stderr}"
    );
}
