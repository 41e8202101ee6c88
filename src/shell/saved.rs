//! Saved plans: reading a plan file back (a known major format version, an intact checksum),
//! and the checks that tie it to what is being applied (the configuration it was made from, the
//! checksum that was reviewed, the targets asked for). All of them run before any connection.

use super::error::{PlanFileError, ShellError};
use crate::config::{Desired, Target};
use crate::plan::config_digest;
use crate::plan::document::{checksum, PlanDocument, FORMAT_VERSION};
use std::path::Path;

/// Read a saved plan: the JSON document, a known major version, an intact checksum.
pub fn read_plan_file(path: &Path) -> Result<PlanDocument, PlanFileError> {
    let text = fs_err::read_to_string(path).map_err(PlanFileError::Read)?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| PlanFileError::NotJson {
            path: path.to_path_buf(),
            source,
        })?;
    let version = value
        .get("format_version")
        .and_then(|v| v.as_str())
        .ok_or_else(|| PlanFileError::NoVersion {
            path: path.to_path_buf(),
        })?;
    let major = version.split('.').next().unwrap_or_default();
    if major != FORMAT_VERSION {
        return Err(PlanFileError::Version {
            path: path.to_path_buf(),
            version: version.to_string(),
            reads: FORMAT_VERSION,
        });
    }
    let doc = PlanDocument::from_value(value).map_err(|source| PlanFileError::Invalid {
        path: path.to_path_buf(),
        source,
    })?;
    if checksum(&doc.targets) != doc.checksum {
        return Err(PlanFileError::Modified {
            path: path.to_path_buf(),
        });
    }
    Ok(doc)
}

/// Read the saved plan at `path` for the configuration `desired`, limited to the targets
/// `names` (none means all).
pub fn load(path: &Path, desired: &Desired, names: &[String]) -> Result<PlanDocument, ShellError> {
    accept(read_plan_file(path)?, path, desired, names)
}

/// A saved plan already read from `path`, checked against the configuration `desired` and
/// limited to the targets `names` (none means all).
pub fn accept(
    doc: PlanDocument,
    path: &Path,
    desired: &Desired,
    names: &[String],
) -> Result<PlanDocument, ShellError> {
    check_configuration(&doc, desired, path)?;
    select_targets(doc, names)
}

/// The entry file `config` as a plan saved at `plan` records it: relative to the plan file's
/// directory, so that the plan and the configuration can move together (a checkout moved or
/// copied with its plan), and so that `roster apply PLAN_FILE` works from any directory. A plan
/// file moved on its own no longer finds it, and says so ([`recorded_config`]).
pub fn entry_file_for(plan: &Path, config: &Path) -> String {
    let absolute = |p: &Path| {
        fs_err::canonicalize(p).unwrap_or_else(|_| {
            std::env::current_dir()
                .map(|c| c.join(p))
                .unwrap_or_else(|_| p.to_path_buf())
        })
    };
    let dir = plan
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let from = absolute(dir);
    let to = absolute(config);
    relative(&from, &to)
        .unwrap_or(to)
        .to_string_lossy()
        .into_owned()
}

/// `to` relative to the directory `from` (both absolute), or `None` when they share no root.
fn relative(from: &Path, to: &Path) -> Option<std::path::PathBuf> {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    if from.first() != to.first() {
        return None;
    }
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = std::path::PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to[common..] {
        out.push(c.as_os_str());
    }
    Some(out)
}

/// The entry file a saved plan records, resolved against the plan file's directory; `None` for
/// a plan that records none (written by `plan --format json`, or by an older roster). A recorded
/// file that is not there is an error rather than a silent fall-back to `./roster.yaml`.
pub fn recorded_config(
    doc: &PlanDocument,
    plan: &Path,
) -> Result<Option<std::path::PathBuf>, PlanFileError> {
    let Some(recorded) = &doc.config_file else {
        return Ok(None);
    };
    let dir = plan.parent().unwrap_or(Path::new(""));
    let config = dir.join(recorded);
    if !config.is_file() {
        return Err(PlanFileError::ConfigMissing {
            path: plan.to_path_buf(),
            config,
        });
    }
    Ok(Some(config))
}

/// The configured targets the plan names. Those the configuration no longer has are left out
/// here; apply refuses them when they have changes.
pub fn targets<'a>(doc: &PlanDocument, desired: &'a Desired) -> Vec<&'a Target> {
    doc.targets
        .iter()
        .filter_map(|t| desired.targets.iter().find(|x| x.name == t.name))
        .collect()
}

/// A saved plan applies only to the configuration it was made from.
pub fn check_configuration(
    doc: &PlanDocument,
    desired: &Desired,
    path: &Path,
) -> Result<(), ShellError> {
    let current = config_digest(desired);
    if doc.config_digest == current {
        return Ok(());
    }
    Err(ShellError::OtherConfiguration {
        path: path.to_path_buf(),
        plan: doc.config_digest.clone(),
        current,
    })
}

/// The saved plan's targets, limited to `names` (none means all).
pub fn select_targets(mut doc: PlanDocument, names: &[String]) -> Result<PlanDocument, ShellError> {
    if names.is_empty() {
        return Ok(doc);
    }
    if let Some(n) = names
        .iter()
        .find(|n| !doc.targets.iter().any(|t| &t.name == *n))
    {
        return Err(ShellError::NotInPlan(n.clone()));
    }
    doc.targets.retain(|t| names.contains(&t.name));
    Ok(doc)
}

/// The plan must be the reviewed one: `want` with or without its `sha256:` prefix, any case.
pub fn check_checksum(doc: &PlanDocument, want: &str) -> Result<(), ShellError> {
    let want = want.trim();
    let want = want.strip_prefix("sha256:").unwrap_or(want);
    let have = doc
        .checksum
        .strip_prefix("sha256:")
        .unwrap_or(&doc.checksum);
    if want.eq_ignore_ascii_case(have) {
        return Ok(());
    }
    Err(ShellError::ChecksumMismatch {
        have: have.to_string(),
        want: want.to_string(),
    })
}

/// Whether any change of the plan has something to send.
pub fn has_work(doc: &PlanDocument) -> bool {
    doc.targets
        .iter()
        .any(|t| t.changes.iter().any(|c| !c.operations.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::plan_document;

    fn empty_plan() -> PlanDocument {
        plan_document(&Desired::default(), Vec::new(), "2026-01-01T00:00:00Z", "0")
    }

    #[test]
    fn the_reviewed_checksum_matches_with_or_without_prefix_in_any_case() {
        let doc = empty_plan();
        let bare = doc.checksum.trim_start_matches("sha256:").to_string();
        assert!(check_checksum(&doc, &doc.checksum).is_ok());
        assert!(check_checksum(&doc, &format!("  {}\n", bare.to_uppercase())).is_ok());
        let e = check_checksum(&doc, "sha256:00").expect_err("another checksum");
        assert_eq!(
            e.to_string(),
            format!("the plan's checksum sha256:{bare} is not the reviewed one (--checksum sha256:00); nothing was written")
        );
    }

    #[test]
    fn the_entry_file_is_recorded_relative_to_the_plan_file() {
        let r = |a: &str, b: &str| {
            relative(Path::new(a), Path::new(b)).map(|p| p.display().to_string())
        };
        assert_eq!(
            r("/w", "/w/dir/roster.yaml").as_deref(),
            Some("dir/roster.yaml")
        );
        assert_eq!(
            r("/w/out", "/w/dir/roster.yaml").as_deref(),
            Some("../dir/roster.yaml")
        );
        assert_eq!(
            r("/tmp/x", "/w/roster.yaml").as_deref(),
            Some("../../w/roster.yaml")
        );
    }

    #[test]
    fn a_target_the_plan_does_not_have_is_refused_by_name() {
        let e = select_targets(empty_plan(), &["aws".to_string()]).expect_err("not in plan");
        assert_eq!(e.to_string(), "the plan has no target named \"aws\"");
        assert!(select_targets(empty_plan(), &[]).is_ok());
    }
}
