//! The invalid-configuration corpus: every directory under `tests/fixtures/invalid/` holds a
//! configuration with one kind of mistake (`roster.yaml`, plus the files it includes) and the
//! exact stderr `roster validate` must print for it (`expected.txt`). The corpus pins down that
//! every mistake is reported with its file, line and column, in words that say how to fix it,
//! and that none of them makes roster panic.
//!
//! `UPDATE_EXPECT=1 cargo test --test it invalid_corpus` rewrites the expected files; review the
//! diff by eye before committing it.

use crate::common::{root, roster};
use std::path::{Path, PathBuf};

/// Fewer cases than this means the corpus lost some.
const MIN_CASES: usize = 30;

fn cases() -> Vec<PathBuf> {
    let dir = root().join("tests/fixtures/invalid");
    let mut cases: Vec<PathBuf> = fs_err::read_dir(&dir)
        .expect("tests/fixtures/invalid exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}

/// Does `stderr` name a file of the case with a `:line:col` position?
fn names_a_position(stderr: &str, case: &str) -> bool {
    stderr.lines().any(|l| {
        let Some(rest) = l.trim_start().strip_prefix("--> ") else {
            return false;
        };
        let mut parts = rest.rsplitn(3, ':');
        let (Some(col), Some(line), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        file.contains(&format!("invalid/{case}/"))
            && (file.ends_with(".yaml") || file.ends_with(".yml"))
            && line.parse::<u32>().is_ok()
            && col.parse::<u32>().is_ok()
    })
}

/// A readable line diff of two texts.
fn diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(2)
        .header("expected.txt", "stderr")
        .to_string()
}

fn relative(p: &Path) -> String {
    p.strip_prefix(root())
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

#[test]
fn every_invalid_configuration_is_reported_as_expected() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1");
    let cases = cases();
    let mut failures = Vec::new();
    for dir in &cases {
        let case = dir
            .file_name()
            .expect("case name")
            .to_string_lossy()
            .to_string();
        let entry = format!("{}/roster.yaml", relative(dir));
        let out = roster()
            .args(["validate", "-c", &entry])
            .output()
            .expect("roster runs");
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let mut problems = Vec::new();
        if out.status.code() != Some(1) {
            problems.push(format!("exit code {:?}, expected 1", out.status.code()));
        }
        if stderr.contains("panicked") {
            problems.push("roster panicked".to_string());
        }
        if !names_a_position(&stderr, &case) {
            problems.push("stderr names no `file.yaml:line:col` of the case".to_string());
        }
        let expected_path = dir.join("expected.txt");
        if update {
            fs_err::write(&expected_path, &stderr).expect("write expected.txt");
        } else {
            match fs_err::read_to_string(&expected_path) {
                Ok(expected) if expected == stderr => {}
                Ok(expected) => problems.push(format!(
                    "stderr differs from expected.txt:\n{}",
                    diff(&expected, &stderr)
                )),
                Err(_) => problems.push(format!(
                    "no expected.txt (run with UPDATE_EXPECT=1); stderr was:\n{stderr}"
                )),
            }
        }
        if !problems.is_empty() {
            failures.push(format!("--- {case}\n{}", problems.join("\n")));
        }
    }
    assert!(
        cases.len() >= MIN_CASES,
        "the corpus has {} cases, expected at least {MIN_CASES}",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} invalid-configuration cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
