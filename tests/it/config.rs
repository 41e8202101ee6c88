//! Configuration: the schema file, the examples (each validates, and each YAML document matches
//! the published JSON Schema), and validate's exit codes.

use crate::common::{root, roster};
use std::path::{Path, PathBuf};

#[test]
fn schema_file_is_current() {
    let out = roster().arg("schema").output().expect("runs");
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).expect("utf8");
    let file = fs_err::read_to_string(root().join("schema/roster.schema.json"))
        .expect("schema/roster.schema.json exists");
    assert!(
        printed == file,
        "schema/roster.schema.json is out of date: run `cargo run -- schema > schema/roster.schema.json`"
    );
}

/// The entry file of every example.
fn example_entries() -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = fs_err::read_dir(root().join("examples"))
        .expect("examples/ exists")
        .map(|e| e.expect("entry").path().join("roster.yaml"))
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    entries
}

/// Every YAML file under `dir`, recursively, sorted; examples/github/ holds GitHub workflows, not
/// configurations (.ci/lint-workflows.sh checks those), and is left out.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    if dir == root().join("examples").join("github") {
        return;
    }
    let mut entries: Vec<PathBuf> = fs_err::read_dir(dir)
        .expect("readable dir")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(p);
        }
    }
}

fn relative(p: &Path) -> String {
    p.strip_prefix(root())
        .unwrap_or(p)
        .to_string_lossy()
        .to_string()
}

#[test]
fn the_three_examples_exist() {
    let names: Vec<String> = example_entries()
        .iter()
        .map(|p| relative(p.parent().expect("dir")))
        .collect();
    for want in [
        "examples/aws-identity-center",
        "examples/generic",
        "examples/quickstart",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
}

#[test]
fn every_example_validates_without_errors_or_warnings() {
    for entry in example_entries() {
        let out = roster()
            .args(["validate", "-c", &relative(&entry)])
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{} does not validate:\n{stderr}",
            relative(&entry)
        );
        assert!(
            stderr.is_empty(),
            "{} validates with diagnostics:\n{stderr}",
            relative(&entry)
        );
        assert!(stdout.starts_with("Configuration is valid"), "{stdout}");
    }
}

#[test]
fn every_example_file_starts_with_the_schema_comment() {
    let mut files = Vec::new();
    yaml_files(&root().join("examples"), &mut files);
    assert!(files.len() >= 3);
    for f in files {
        let text = fs_err::read_to_string(&f).expect("readable");
        let first = text.lines().next().unwrap_or("");
        let schema = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| panic!("{} lacks the schema comment", relative(&f)));
        // the path is relative to the file, so editors find it from any directory depth
        let target = f.parent().expect("dir").join(schema);
        assert!(
            target.is_file(),
            "{}: {schema} does not point at the schema",
            relative(&f)
        );
    }
}

fn schema_validator() -> jsonschema::Validator {
    let text = fs_err::read_to_string(root().join("schema/roster.schema.json")).expect("schema");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

/// The schema's complaints about one YAML document, one line each.
fn schema_errors(validator: &jsonschema::Validator, yaml: &str) -> Vec<String> {
    let doc: serde_json::Value = serde_saphyr::from_str(yaml).expect("YAML parses");
    validator
        .iter_errors(&doc)
        .map(|e| format!("{}: {e}", e.instance_path))
        .collect()
}

#[test]
fn every_example_document_matches_the_json_schema() {
    let validator = schema_validator();
    let mut files = Vec::new();
    yaml_files(&root().join("examples"), &mut files);
    let mut failures = Vec::new();
    for f in &files {
        let text = fs_err::read_to_string(f).expect("readable");
        let errors = schema_errors(&validator, &text);
        if !errors.is_empty() {
            failures.push(format!("{}:\n  {}", relative(f), errors.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_json_schema_rejects_what_roster_rejects() {
    // a control: the schema test above could not fail if the schema accepted anything
    let validator = schema_validator();
    for bad in [
        "version: 1\nuserz: []\n",
        "version: 1\ntargets:\n  x:\n    type: okta\n    assign: { all: true }\n",
        "version: 1\ngroups:\n  - members: [e1]\n",
        "version: 1\ntargets:\n  x:\n    type: embedded\n    policy: { deactivte: true }\n",
    ] {
        assert!(
            !schema_errors(&validator, bad).is_empty(),
            "the schema accepts:\n{bad}"
        );
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs_err::write(&p, text).expect("write");
    p
}

#[test]
fn validate_exits_0_when_valid_and_1_on_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = write(
        dir.path(),
        "good.yaml",
        "version: 1\nusers:\n  - id: e1\n    user_name: a@example.com\n",
    );
    let out = roster()
        .args(["validate", "-c"])
        .arg(&good)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Configuration is valid"));

    let bad = write(
        dir.path(),
        "bad.yaml",
        "version: 1\nusers:\n  - id: e1\n    user_name: a\n  - id: e1\n    user_name: b\n",
    );
    let out = roster()
        .args(["validate", "-c"])
        .arg(&bad)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("duplicate user id \"e1\""), "{stderr}");
    assert!(stderr.contains("bad.yaml:5:9"), "{stderr}");
    assert!(stdout_is_empty(&out));

    let out = roster()
        .args(["validate", "-c"])
        .arg(dir.path().join("missing.yaml"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read configuration file"));
}

#[test]
fn validate_json_lists_every_diagnostic_by_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = write(
        dir.path(),
        "bad.yaml",
        "version: 1\nusers:\n  - id: e1\n    user_name: a\n  - id: e1\n    user_name: b\n",
    );
    let out = roster()
        .args(["validate", "--format", "json", "-c"])
        .arg(&bad)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json on stdout");
    assert_eq!(v["valid"], false, "{v}");
    let d = &v["diagnostics"][0];
    assert_eq!(d["severity"], "error", "{v}");
    assert!(
        d["message"]
            .as_str()
            .is_some_and(|m| m.contains("duplicate user id")),
        "{v}"
    );
    assert_eq!(d["location"]["line"], 5, "{v}");
    assert_eq!(d["location"]["column"], 9, "{v}");
    assert!(
        d["location"]["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("bad.yaml")),
        "{v}"
    );

    let good = write(
        dir.path(),
        "good.yaml",
        "version: 1\nusers:\n  - id: e1\n    user_name: a@example.com\n",
    );
    let out = roster()
        .args(["validate", "--format", "json", "-c"])
        .arg(&good)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json on stdout");
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["users"], 1, "{v}");
    assert_eq!(v["diagnostics"].as_array().map(Vec::len), Some(0), "{v}");
}

fn stdout_is_empty(out: &std::process::Output) -> bool {
    out.stdout.is_empty()
}

#[test]
fn warnings_alone_do_not_fail_validate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write(
        dir.path(),
        "roster.yaml",
        "version: 1\nusers:\n  - id: e1\n    user_name: a@example.com\ntargets:\n  \
         sandbox:\n    type: embedded\n    assign: { all: true }\n    policy:\n      \
         owns: { external_id: \"^e[0-9]+$\" }\n      protect: { users: [breakglass@example.com] }\n",
    );
    let out = roster()
        .args(["validate", "-c"])
        .arg(&cfg)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: `protect` names user \"breakglass@example.com\""),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("(1 warning)"));
}

#[test]
fn leavers_without_ownership_are_warned_about() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write(
        dir.path(),
        "roster.yaml",
        "version: 1\ntargets:\n  sandbox:\n    type: embedded\n    assign: { all: true }\n",
    );
    let out = roster()
        .args(["validate", "-c"])
        .arg(&cfg)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("nothing lets roster see a user removed from the YAML"),
        "{stderr}"
    );
    // with ownership, or an unmanaged policy that claims leftovers, there is nothing to say
    for policy in [
        "    policy: { owns: { external_id: \"^e\" } }\n",
        "    policy: { unmanaged: deactivate }\n",
        "    policy: { deactivate: false }\n",
    ] {
        let cfg = write(
            dir.path(),
            "roster.yaml",
            &format!(
                "version: 1\ntargets:\n  sandbox:\n    type: embedded\n    assign: {{ all: true }}\n{policy}"
            ),
        );
        let out = roster()
            .args(["validate", "-c"])
            .arg(&cfg)
            .output()
            .expect("runs");
        assert!(
            out.stderr.is_empty(),
            "{policy}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
