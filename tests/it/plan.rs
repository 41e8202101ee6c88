//! Planner fixtures: `tests/fixtures/plan/<case>/` holds `roster.yaml` (the configuration),
//! `live.json` (the observed state of every target, in the emulator's seed format; absent =
//! empty), optionally `options.json` (`{"only": "users", "resources": [...]}`), `plan.json`,
//! the expected plan document, and `plan.txt`, its text rendering without colour, and optionally `plan.md`, its markdown rendering. `UPDATE_EXPECT=1 cargo test` rewrites the expectations; every
//! rewritten file is reviewed by eye before it is committed.

use roster::plan::{plan_document, plan_target, ObjectKind, Observed, PlanOptions};
use std::path::{Path, PathBuf};

const CREATED_AT: &str = "2026-01-01T00:00:00Z";
const VERSION: &str = "0.0.0-test";

fn cases() -> Vec<PathBuf> {
    let dir = Path::new("tests/fixtures/plan");
    let mut out: Vec<PathBuf> = fs_err::read_dir(dir)
        .expect("fixture directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("roster.yaml").exists())
        .collect();
    out.sort();
    out
}

fn options(case: &Path) -> PlanOptions {
    let Ok(text) = fs_err::read_to_string(case.join("options.json")) else {
        return PlanOptions::default();
    };
    let v: serde_json::Value = serde_json::from_str(&text).expect("options.json");
    PlanOptions {
        only: v.get("only").and_then(|o| o.as_str()).map(|o| match o {
            "users" => ObjectKind::User,
            "groups" => ObjectKind::Group,
            other => panic!("unknown `only` {other:?}"),
        }),
        resources: v
            .get("resources")
            .and_then(|r| r.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The plan document of one fixture, as pretty JSON and as text.
pub fn plan_case(case: &Path) -> Result<(String, String, String), String> {
    let resolved = roster::validate::read(&case.join("roster.yaml"));
    let errors: Vec<String> = resolved
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.render(&resolved.desired.sources, false))
        .collect();
    if !errors.is_empty() {
        return Err(format!("configuration errors:\n{}", errors.join("\n")));
    }
    let observed = match fs_err::read_to_string(case.join("live.json")) {
        Ok(text) => Observed::from_json(&text).map_err(|e| e.to_string())?,
        Err(_) => Observed::default(),
    };
    let opts = options(case);
    let desired = &resolved.desired;
    let targets = desired
        .targets
        .iter()
        .map(|t| plan_target(desired, t, &observed, &opts).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let doc = plan_document(desired, targets, CREATED_AT, VERSION);
    let mut s = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
    s.push('\n');
    let text = roster::render::text::render_plan(
        &doc,
        &roster::render::text::TextOptions {
            color: false,
            targeting: !opts.resources.is_empty(),
            saved_to: None,
            ..Default::default()
        },
    );
    let markdown = roster::render::markdown::render_markdown(&doc).join("\n<!-- part -->\n");
    Ok((s, text, markdown))
}

#[test]
fn plan_fixtures() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let cases = cases();
    assert!(
        cases.len() >= 40,
        "expected at least 40 fixtures, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        let (json, text, markdown) = match plan_case(case) {
            Ok(g) => g,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        for (file, got) in [
            ("plan.json", &json),
            ("plan.txt", &text),
            ("plan.md", &markdown),
        ] {
            let expect_path = case.join(file);
            // The markdown rendering is checked where a case asks for it (a `plan.md`).
            if file == "plan.md" && !expect_path.exists() {
                continue;
            }
            if update {
                fs_err::write(&expect_path, got).expect("write expectation");
                continue;
            }
            let want = fs_err::read_to_string(&expect_path).unwrap_or_default();
            if want != *got {
                failures.push(format!(
                    "{name}: plan differs from {file} (UPDATE_EXPECT=1 rewrites it)\n{}",
                    first_difference(&want, got)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn first_difference(want: &str, got: &str) -> String {
    for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
        if w != g {
            return format!("line {}:\n- {w}\n+ {g}", i + 1);
        }
    }
    format!(
        "lengths differ: expected {} lines, got {}",
        want.lines().count(),
        got.lines().count()
    )
}

#[test]
fn plans_are_byte_identical_across_runs() {
    for case in cases().iter().take(10) {
        assert_eq!(plan_case(case), plan_case(case), "{}", case.display());
    }
}

/// A configuration resolved from text, for the regression tests below.
fn desired(yaml: &str) -> roster::config::Desired {
    let doc = roster::config::load::parse_document(yaml, 0).expect("parses");
    let mut diags = Vec::new();
    let d = roster::config::resolve(
        vec![(0, doc)],
        roster::diag::SourceMap::default(),
        ".".into(),
        &mut diags,
    );
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    d
}

const ONE_GROUP: &str = r#"
version: 1
users:
  - { id: e1, user_name: a@example.com, given_name: A, family_name: B }
groups:
  - { id: g1, name: team, members: [e1] }
targets:
  t:
    type: embedded
    assign: { all: true }
"#;

#[test]
fn membership_that_was_not_read_is_never_diffed() {
    let d = desired(ONE_GROUP);
    let mut obs = Observed::from_json(
        r#"{"users":[{"id":"u1","externalId":"e1","userName":"a@example.com",
            "displayName":"A B","name":{"givenName":"A","familyName":"B"},"active":true}],
           "groups":[{"id":"s1","externalId":"g1","displayName":"team"}]}"#,
    )
    .expect("live");
    obs.groups[0].members = None;
    let err = plan_target(&d, &d.targets[0], &obs, &PlanOptions::default())
        .expect_err("refuses partial membership");
    assert!(err.to_string().contains("were not read"), "{err}");
}

#[test]
fn an_invalid_owns_expression_fails_the_plan() {
    let d = desired(&ONE_GROUP.replace(
        "assign: { all: true }",
        "assign: { all: true }\n    policy: { owns: { external_id: \"(\" } }",
    ));
    let err = plan_target(
        &d,
        &d.targets[0],
        &Observed::default(),
        &PlanOptions::default(),
    )
    .expect_err("bad regex");
    assert!(err.to_string().contains("owns.external_id"), "{err}");
}

#[test]
fn config_digest_covers_the_resolved_model_and_checksum_ignores_time() {
    let case = Path::new("tests/fixtures/plan/create-users-and-group");
    let a = roster::validate::read(&case.join("roster.yaml")).desired;
    let mut b = roster::validate::read(&case.join("roster.yaml")).desired;
    assert_eq!(
        roster::plan::config_digest(&a),
        roster::plan::config_digest(&b)
    );
    // The digest is over the resolved model: a changed value changes it.
    b.users[0].user_name.push('x');
    assert_ne!(
        roster::plan::config_digest(&a),
        roster::plan::config_digest(&b)
    );
    let t = plan_target(
        &a,
        &a.targets[0],
        &Observed::default(),
        &PlanOptions::default(),
    )
    .expect("plans");
    let one = plan_document(&a, vec![t.clone()], "2026-01-01T00:00:00Z", "1");
    let two = plan_document(&a, vec![t], "2027-01-01T00:00:00Z", "2");
    assert_eq!(one.checksum, two.checksum);
}

/// SPEC §5: the digest is over the resolved configuration, so a comment, a reordering of keys or
/// a checkout in another directory does not make a saved plan stale; a changed value does.
#[test]
fn config_digest_ignores_comments_key_order_and_location() {
    let one = "version: 1\nusers:\n  - { id: e1, user_name: alice@example.com, given_name: Alice, family_name: Liddell }\ngroups:\n  - { id: g, name: eng, members: [e1] }\ntargets:\n  t:\n    type: embedded\n    assign: { all: true }\n";
    let two = "# reviewed by the identity team\nversion: 1\ntargets:\n  t:\n    assign: { all: true }   # everyone\n    type: embedded\ngroups:\n  - { members: [e1], name: eng, id: g }\nusers:\n  - { family_name: Liddell, id: e1, given_name: Alice, user_name: alice@example.com }\n";
    let three = one.replace("Liddell", "Pleasance");
    let digest = |text: &str| {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("roster.yaml");
        fs_err::write(&path, text).expect("write");
        let read = roster::validate::read(&path);
        assert!(
            !read.diagnostics.iter().any(|d| d.is_error()),
            "{:?}",
            read.diagnostics
        );
        roster::plan::config_digest(&read.desired)
    };
    assert_eq!(digest(one), digest(two));
    assert_ne!(digest(one), digest(&three));
}
