//! No command ever echoes a token: every command runs at `-vv` with a known token against the
//! emulator (and once with a wrong one, answered 401), and all it prints and writes is searched
//! for the token. Also the refusals of tokens in the configuration, and the embedded state file's
//! mode.

use crate::common::{roster, EmulatorProcess, EMU_TOKEN_ENV};
use std::path::Path;

const USERS: &str = "users:
  - id: e1001
    user_name: alice@example.com
    given_name: Alice
    family_name: Liddell
    email: alice@example.com
  - id: e1002
    user_name: bob@example.com
    given_name: Bob
    family_name: Builder
    email: bob@example.com
groups:
  - name: Engineering
    members: [e1001, e1002]
";

fn config(target: &str) -> String {
    format!("version: 1\n{USERS}targets:\n{target}")
}

fn generic(url: &str) -> String {
    format!(
        "  emu:\n    type: generic\n    url: {url}\n    auth: {{ bearer_token_env: {EMU_TOKEN_ENV} }}\n    \
         assign: {{ all: true }}\n    policy:\n      owns: {{ external_id: \"^e[0-9]+$\" }}\n"
    )
}

/// Everything one run showed: exit code and both streams.
struct Run {
    code: Option<i32>,
    out: String,
}

fn run(dir: &Path, token: &str, args: &[&str]) -> Run {
    let o = roster()
        .current_dir(dir)
        .env(EMU_TOKEN_ENV, token)
        .args(args)
        .output()
        .expect("roster runs");
    Run {
        code: o.status.code(),
        out: format!(
            "$ roster {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    }
}

/// Every file under `dir` (plan, report, imported YAML, state), read as text.
fn files_text(dir: &Path) -> String {
    let mut all = String::new();
    for e in walk(dir) {
        if let Ok(bytes) = fs_err::read(&e) {
            all.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    all
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs_err::read_dir(dir).expect("readable dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn assert_no_token(what: &str, text: &str, token: &str) {
    assert!(
        !text.contains(token),
        "the token appears in {what}:\n{text}"
    );
}

#[test]
fn no_command_echoes_the_token() {
    let emu = EmulatorProcess::start(&["--token-env", EMU_TOKEN_ENV]);
    let token = emu.token.clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    fs_err::write(d.join("roster.yaml"), config(&generic(&emu.url))).expect("config");

    let mut transcript = String::new();
    let mut expect = |args: &[&str], codes: &[i32]| {
        let r = run(d, &token, args);
        assert!(
            r.code.is_some_and(|c| codes.contains(&c)),
            "exit {:?}, expected one of {codes:?}:\n{}",
            r.code,
            r.out
        );
        transcript.push_str(&r.out);
    };
    expect(&["-vv", "validate"], &[0]);
    expect(&["-vv", "plan"], &[0, 2]);
    expect(&["-vv", "plan", "--format", "json"], &[0, 2]);
    expect(
        &["-vv", "plan", "--format", "markdown", "--redact"],
        &[0, 2],
    );
    expect(&["-vv", "plan", "--out", "plan.json"], &[0, 2]);
    for format in ["text", "markdown", "json"] {
        expect(&["-vv", "show", "plan.json", "--format", format], &[0]);
    }
    expect(
        &["-vv", "apply", "plan.json", "--report", "report.json"],
        &[0],
    );
    expect(&["-vv", "drift"], &[0]);
    expect(
        &["-vv", "import", "--target", "emu", "--write", "imported"],
        &[0],
    );
    assert_no_token("the output of every command", &transcript, &token);
    assert_no_token("the files written", &files_text(d), &token);
    assert!(d.join("report.json").exists() && d.join("plan.json").exists());

    // A wrong token, answered 401: the token roster sent is not echoed either.
    let wrong = "wrong-token-Zq81xYp0LmN4";
    let r = run(d, wrong, &["-vv", "plan"]);
    assert_eq!(r.code, Some(1), "{}", r.out);
    assert!(r.out.contains("401"), "{}", r.out);
    assert_no_token("a 401 error", &r.out, wrong);
    assert_no_token("a 401 error", &r.out, &token);
}

#[test]
fn tokens_in_the_configuration_are_refused_without_being_quoted() {
    let emu = EmulatorProcess::start(&[]);
    let token = "AQoDYXdzEJr1234567890secret";
    let host = emu.url.trim_start_matches("http://");
    let cases = [
        generic(&format!("http://roster:{token}@{host}/")),
        generic(&format!("\"{}/?access_token={token}\"", emu.url)),
        generic(&emu.url).replace(
            &format!("bearer_token_env: {EMU_TOKEN_ENV}"),
            &format!("bearer_token_env: {token}"),
        ),
    ];
    for target in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        fs_err::write(dir.path().join("roster.yaml"), config(&target)).expect("config");
        for args in [&["-vv", "validate"][..], &["-vv", "plan"][..]] {
            let r = run(dir.path(), token, args);
            assert_eq!(r.code, Some(1), "{}", r.out);
            assert!(r.out.contains("roster.yaml:"), "says where: {}", r.out);
            assert_no_token("a refusal", &r.out, token);
        }
    }
}

#[cfg(unix)]
#[test]
fn the_embedded_state_file_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    fs_err::write(
        d.join("roster.yaml"),
        config("  sandbox:\n    type: embedded\n    path: state.json\n    assign: { all: true }\n"),
    )
    .expect("config");
    let r = run(d, "unused", &["apply", "--auto-approve"]);
    assert_eq!(r.code, Some(0), "{}", r.out);
    let state = d.join("state.json");
    assert!(files_text(d).contains("alice@example.com"));
    for f in walk(d)
        .into_iter()
        .filter(|p| p.starts_with(&state) || p.to_string_lossy().contains("state.json"))
    {
        let mode = fs_err::metadata(&f).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", f.display());
    }
    assert!(state.exists());
}

/// A token anywhere under `auth` that is not a reference (an unknown key, a value where a
/// reference or a mapping belongs, a token spelt as a key) or in a URL that does not parse as
/// YAML is refused by the parser's error path, which says where and never what.
#[test]
fn parse_errors_under_auth_or_in_urls_never_quote_the_token() {
    let token = "AQoDYXdzEJr1234567890secret";
    let auth_cases = [
        format!("auth: {{ tokn: \"{token}\" }}"),
        format!("auth: {{ bearer_token_env: T, extra: {token} }}"),
        format!("auth: \"{token}\""),
        format!("auth: {{ bearer_token_env: [\"{token}\"] }}"),
        format!("auth: {{ {token}: x }}"),
        format!("auth:\n      basic: {{ username: u, password: {token} }}"),
        format!("auth:\n      header:\n        name: X\n        value: {token}"),
        format!("auth:\n      tokn: {token}"),
    ];
    let mut targets: Vec<String> = auth_cases
        .iter()
        .map(|auth| {
            format!(
                "  t:\n    type: generic\n    url: https://scim.example.com/scim/v2\n    {auth}\n    \
                 assign: {{ all: true }}\n"
            )
        })
        .collect();
    // a URL with a token on a line that does not parse
    targets.push(format!(
        "  t:\n    type: generic\n    url: https://u:{token}@scim.example.com/v2?k={token}: x\n    \
         auth: {{ bearer_token_env: T }}\n    assign: {{ all: true }}\n"
    ));
    for target in targets {
        let dir = tempfile::tempdir().expect("tempdir");
        fs_err::write(dir.path().join("roster.yaml"), config(&target)).expect("config");
        for args in [&["-vv", "validate"][..], &["-vv", "plan"][..]] {
            let r = run(dir.path(), token, args);
            assert_eq!(r.code, Some(1), "{target}\n{}", r.out);
            assert!(r.out.contains("roster.yaml:"), "says where: {}", r.out);
            assert_no_token("a parse error", &r.out, token);
        }
    }
}

/// `plan --redact --out FILE` and `show --redact FILE` print the same digests (the plan's salt
/// keys them), the salt is in the saved plan and in no redacted output, and two plans get
/// different salts, so digests cannot be matched across plans.
#[test]
fn plan_and_show_redact_with_the_plans_salt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    fs_err::write(
        d.join("roster.yaml"),
        config("  sandbox:\n    type: embedded\n    path: state.json\n    assign: { all: true }\n"),
    )
    .expect("config");
    let redacted = |args: &[&str]| -> String {
        let o = roster()
            .current_dir(d)
            .env_remove("ROSTER_REDACT_KEY")
            .args(args)
            .output()
            .expect("roster runs");
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let plan = redacted(&["plan", "--redact", "--format", "json", "--out", "p.json"]);
    let show = redacted(&["show", "--redact", "--format", "json", "p.json"]);
    let digests = |s: &str| -> Vec<String> {
        s.split('"')
            .filter(|w| w.starts_with("redacted:"))
            .map(str::to_string)
            .collect()
    };
    assert!(!digests(&plan).is_empty(), "{plan}");
    assert_eq!(digests(&plan), digests(&show));
    assert!(!plan.contains("alice@example.com") && !show.contains("alice@example.com"));
    let saved: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(d.join("p.json")).expect("plan"))
            .expect("json");
    let salt = saved["redact_salt"]
        .as_str()
        .expect("the saved plan keeps its salt");
    assert!(!plan.contains(salt) && !show.contains(salt));
    let again = redacted(&["plan", "--redact", "--format", "json"]);
    assert_ne!(digests(&again), digests(&plan), "a new plan, a new salt");
}
