//! `roster show PLAN_FILE`: a saved plan rendered as text, markdown and json, refused when
//! tampered with or of an unknown format version, and redacted on request.

use crate::common::roster;
use roster::plan::document::*;
use roster::scim::resource::PatchOp;
use serde_json::{json, Map, Value};
use std::path::Path;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn user_update(n: usize) -> Change {
    Change {
        address: Address::directory("aws", ObjectKind::User, &format!("e{n:05}")),
        name: format!("user{n:05}@example.com"),
        kind: ObjectKind::User,
        id: Some(format!("id-{n}")),
        actions: vec![Action::Update],
        phase: Phase::Update,
        reason: Reason::AttributeMismatch,
        unchanged_attributes: 4,
        before: obj(json!({"title": "Engineer"})),
        after: obj(json!({"title": "Staff Engineer"})),
        members_added: vec![],
        members_removed: vec![],
        operations: vec![Operation::Patch {
            ops: vec![PatchOp::replace("title", json!("Staff Engineer"))],
        }],
        precondition: Some(Precondition {
            version: None,
            digest: "sha256:abc".into(),
        }),
        depends_on: vec![],
        detail: None,
        origin: None,
        notes: Notes::default(),
    }
}

fn plan_doc(changes: Vec<Change>) -> PlanDocument {
    let mut alice = user_update(1001);
    alice.name = "alice@example.com".into();
    alice.after.insert(
        "emails".into(),
        json!([{"value": "alice@example.com", "type": "work"}]),
    );
    let mut all = vec![alice];
    all.extend(changes);
    let targets = vec![TargetPlan {
        name: "aws".into(),
        url: "https://scim.us-east-1.amazonaws.com/abc/scim/v2".into(),
        dialect: "aws-identity-center".into(),
        complete: true,
        summary: Summary {
            change: all.len() as u64,
            unmanaged: 14,
            ignored: 2,
            ..Summary::default()
        },
        requests: Requests {
            reads: 0,
            writes: all.len() as u64,
            member_operations: 0,
            seconds_at_rate: all.len() as f64 / 25.0,
            live_state_reads: 0,
        },
        changes: all,
        safety: vec![],
        not_touching: NotTouching {
            unmanaged_users: 14,
            ignored_groups: 2,
            ..NotTouching::default()
        },
    }];
    PlanDocument {
        format_version: FORMAT_VERSION.into(),
        roster_version: "0.1.0".into(),
        created_at: "2026-11-22T12:00:00Z".into(),
        config_digest: "sha256:00".into(),
        checksum: checksum(&targets),
        targets,
        config_file: None,
        redact_salt: None,
    }
}

fn write(dir: &Path, doc: &PlanDocument) -> std::path::PathBuf {
    let path = dir.join("plan.json");
    fs_err::write(&path, roster::render::render_json(doc)).expect("write plan");
    path
}

fn stdout_of(args: &[&str]) -> String {
    let out = roster().args(args).output().expect("runs");
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn show_renders_text_markdown_and_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let doc = plan_doc(vec![]);
    let path = write(dir.path(), &doc);
    let p = path.to_str().expect("utf-8 path");

    let text = stdout_of(&["show", p]);
    assert!(text.contains("# aws:user.e01001 (alice@example.com) will be updated in-place"));
    assert!(text.contains(
        "\nPlan: 0 to add, 1 to change, 0 to destroy (0 deactivate, 0 delete); 14 unmanaged and 2 ignored not touched.\n"
    ));
    assert!(text.contains(&format!(
        "To perform exactly these actions, run: roster apply {p}"
    )));
    assert!(!text.contains('\x1b'), "no colour when not a terminal");

    let md = stdout_of(&["show", p, "--format", "markdown"]);
    assert!(md.starts_with("<!-- roster-plan -->\n### Plan: 0 to add, 1 to change"));
    assert!(md.contains("```diff\n"));
    assert!(!md.contains("part break"));

    let js = stdout_of(&["--format", "json", "show", p]);
    let back: PlanDocument = serde_json::from_str(&js).expect("json output parses");
    assert_eq!(back, doc);
}

#[test]
fn show_colours_when_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), &plan_doc(vec![]));
    let out = roster()
        .env_remove("NO_COLOR")
        .args(["show", path.to_str().expect("utf-8"), "--color", "always"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("\x1b[33m~\x1b[0m"));
}

#[test]
fn show_markdown_of_a_large_plan_prints_parts_with_breaks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), &plan_doc((0..2_000).map(user_update).collect()));
    let md = stdout_of(&[
        "show",
        path.to_str().expect("utf-8"),
        "--format",
        "markdown",
    ]);
    let parts: Vec<&str> = md.split("\n<!-- roster-plan part break -->\n").collect();
    assert!(parts.len() >= 2, "{} parts", parts.len());
    for p in &parts {
        assert!(p.starts_with("<!-- roster-plan -->"));
        assert!(p.chars().count() < 65_000);
    }
}

#[test]
fn a_tampered_plan_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), &plan_doc(vec![]));
    let text = fs_err::read_to_string(&path).expect("read");
    fs_err::write(&path, text.replace("Staff Engineer", "Chief Executive")).expect("write");
    let out = roster()
        .args(["show", path.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the plan file was modified after it was written"),
        "{err}"
    );
}

#[test]
fn an_unknown_format_version_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut doc = plan_doc(vec![]);
    doc.format_version = "2".into();
    let path = write(dir.path(), &doc);
    let out = roster()
        .args(["show", path.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("plan format version 2"), "{err}");
    assert!(err.contains("reads version 1"), "{err}");

    // A minor version of the same major is additive and read.
    doc.format_version = "1.3".into();
    let path = write(dir.path(), &doc);
    stdout_of(&["show", path.to_str().expect("utf-8")]);
}

#[test]
fn a_file_that_is_not_a_plan_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("plan.json");
    fs_err::write(&path, "users: []\n").expect("write");
    let out = roster()
        .args(["show", path.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a roster plan file"));
}

#[test]
fn redact_hides_the_email_in_every_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), &plan_doc(vec![]));
    let p = path.to_str().expect("utf-8");
    for format in ["text", "markdown", "json"] {
        let plain = stdout_of(&["show", p, "--format", format]);
        assert!(
            plain.contains("alice@example.com"),
            "{format} without --redact"
        );
        let red = stdout_of(&["show", p, "--format", format, "--redact"]);
        assert!(!red.contains("alice@example.com"), "{format}: {red}");
        assert!(!red.contains("Staff Engineer"), "{format}");
        assert!(red.contains("redacted:"), "{format}");
        assert!(red.contains("aws:user.e01001"), "{format} keeps addresses");
    }
}
