//! `plan --base GIT_REF`: the configuration as it was at a commit, read from git objects (never a
//! checkout, so the work tree is not touched), and the origin of every change of the work tree's
//! plan: `change` when the work tree's edits cause it, `drift` when the base plan, against the
//! same read of live state, has the same change. The loader reads through [`GitSource`], so the
//! base's includes resolve as they did at that commit (globs against `git ls-tree`).

use super::target::CompiledTarget;
use crate::config::load::files::{config_text, Matches, ReadError};
use crate::config::load::Source;
use crate::plan::document::{Change, Origin, TargetPlan};
use crate::plan::PlanError;
use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// Why the base cannot be read or planned. Every message names the ref.
#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    #[error("--base {git_ref}: cannot run git: {source}")]
    NoGit {
        git_ref: String,
        #[source]
        source: std::io::Error,
    },
    #[error("--base {git_ref}: {} is not in a git repository", dir.display())]
    NotARepository { git_ref: String, dir: PathBuf },
    #[error("--base {git_ref}: no such commit in this repository")]
    UnknownRef { git_ref: String },
    #[error("--base {git_ref}: the entry file {} is not inside the repository at {}", entry.display(), top.display())]
    OutsideRepository {
        git_ref: String,
        entry: PathBuf,
        top: PathBuf,
    },
    #[error("--base {git_ref}: git {command} failed: {message}")]
    Git {
        git_ref: String,
        command: String,
        message: String,
    },
    #[error("--base {git_ref}: the configuration at {git_ref} has {}", super::error::count_line(*errors, *warnings).trim_start_matches("configuration has "))]
    Invalid {
        git_ref: String,
        errors: usize,
        warnings: usize,
    },
    #[error("--base {git_ref}: target {target:?} at {git_ref}: {message}")]
    Plan {
        git_ref: String,
        target: String,
        message: String,
    },
}

impl BaseError {
    /// What to do about it.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            BaseError::NoGit { .. } => Some("install git, or plan without --base"),
            BaseError::NotARepository { .. } | BaseError::OutsideRepository { .. } => {
                Some("run roster inside the git checkout that holds the configuration, or plan without --base")
            }
            BaseError::UnknownRef { .. } => Some(
                "fetch the ref first (e.g. `git fetch origin main`, then --base origin/main); CI checkouts are shallow unless `fetch-depth: 0`",
            ),
            BaseError::Invalid { .. } => {
                Some("the problems above name the base's files as REF:PATH; the base must be a valid configuration")
            }
            BaseError::Git { .. } | BaseError::Plan { .. } => None,
        }
    }

    pub(crate) fn plan(git_ref: &str, target: &str, source: &PlanError) -> BaseError {
        BaseError::Plan {
            git_ref: git_ref.to_string(),
            target: target.to_string(),
            message: source.to_string(),
        }
    }
}

/// The files of one commit, as a [`Source`] for the configuration loader. Paths are the work
/// tree's (the repository's top joined with the path in the commit), so relative paths, the
/// configuration digest and embedded targets' state files mean the same in both configurations.
pub struct GitSource {
    git_ref: String,
    top: PathBuf,
    /// Every blob of the commit: its absolute (work tree) path and object id, sorted by path.
    blobs: BTreeMap<PathBuf, String>,
}

fn git(top: &Path, git_ref: &str, args: &[&str]) -> Result<std::process::Output, BaseError> {
    Command::new("git")
        .arg("-C")
        .arg(top)
        .args(args)
        .output()
        .map_err(|source| BaseError::NoGit {
            git_ref: git_ref.to_string(),
            source,
        })
}

impl GitSource {
    /// The commit `git_ref` names in the repository that holds `entry` (an existing file of
    /// the work tree).
    pub fn open(entry: &Path, git_ref: &str) -> Result<GitSource, BaseError> {
        let r = git_ref.to_string();
        let entry = fs_err::canonicalize(entry).unwrap_or_else(|_| entry.to_path_buf());
        let dir = entry.parent().unwrap_or(Path::new(".")).to_path_buf();
        let out = git(&dir, &r, &["rev-parse", "--show-toplevel"])?;
        if !out.status.success() {
            return Err(BaseError::NotARepository { git_ref: r, dir });
        }
        let top = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let top = fs_err::canonicalize(&top).unwrap_or(top);
        if !entry.starts_with(&top) {
            return Err(BaseError::OutsideRepository {
                git_ref: r,
                entry,
                top,
            });
        }
        // A ref that starts with `-` would be read as an option.
        if git_ref.starts_with('-') || git_ref.is_empty() {
            return Err(BaseError::UnknownRef { git_ref: r });
        }
        let spec = format!("{git_ref}^{{commit}}");
        let out = git(&top, &r, &["rev-parse", "--verify", "--quiet", &spec])?;
        if !out.status.success() {
            return Err(BaseError::UnknownRef { git_ref: r });
        }
        let commit = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let out = git(&top, &r, &["ls-tree", "-r", "-z", "--full-tree", &commit])?;
        if !out.status.success() {
            return Err(BaseError::Git {
                git_ref: r,
                command: "ls-tree".into(),
                message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        let mut blobs = BTreeMap::new();
        for record in out.stdout.split(|b| *b == 0).filter(|x| !x.is_empty()) {
            let record = String::from_utf8_lossy(record);
            let Some((meta, path)) = record.split_once('\t') else {
                continue;
            };
            let mut meta = meta.split(' ');
            let (_mode, kind, id) = (meta.next(), meta.next(), meta.next());
            if let (Some("blob"), Some(id)) = (kind, id) {
                blobs.insert(top.join(path), id.to_string());
            }
        }
        Ok(GitSource {
            git_ref: r,
            top,
            blobs,
        })
    }

    /// The path in the commit, for messages.
    fn in_commit(&self, path: &Path) -> String {
        path.strip_prefix(&self.top)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

/// `path` without `.` and `..` components, without touching the file system (a commit's files
/// are not there to resolve).
fn normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl Source for GitSource {
    fn read(&self, path: &Path) -> Result<String, ReadError> {
        let Some(id) = self.blobs.get(path) else {
            return Err(ReadError::NotFound);
        };
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.top)
            .args(["cat-file", "blob", id])
            .output()
            .map_err(|e| ReadError::io(&e))?;
        if !out.status.success() {
            return Err(ReadError::Io(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ));
        }
        config_text(out.stdout)
    }

    fn absolute(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            normal(path)
        } else {
            let cwd = std::env::current_dir().unwrap_or_default();
            normal(&cwd.join(path))
        }
    }

    fn glob(&self, dir: &Path, pattern: &str) -> Result<Matches, String> {
        let full = normal(&dir.join(pattern));
        let pattern = glob::Pattern::new(&full.to_string_lossy()).map_err(|e| e.msg.to_string())?;
        // glob::glob walks directories, so `*` never crosses a `/`: match the same way.
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        };
        let files = self
            .blobs
            .keys()
            .filter(|p| pattern.matches_path_with(p, options))
            .cloned()
            .collect();
        Ok(Matches {
            files,
            ..Matches::default()
        })
    }

    fn display(&self, path: &Path) -> String {
        format!("{}:{}", self.git_ref, self.in_commit(path))
    }

    fn display_entry(&self, _entry: &Path, absolute: &Path) -> String {
        self.display(absolute)
    }
}

/// Read and check the configuration at `git_ref`: the entry file at the same place in the
/// commit as `settings.config` in the work tree. Diagnostics come back for `cli` to print.
pub fn read(
    settings: &super::Settings,
    git_ref: &str,
) -> Result<crate::config::Resolved, BaseError> {
    let source = GitSource::open(&settings.config, git_ref)?;
    let entry = fs_err::canonicalize(&settings.config).unwrap_or_else(|_| settings.config.clone());
    Ok(crate::validate::read_from(
        &entry,
        settings.check_options(),
        &source,
    ))
}

/// The base's configuration, unless it has errors.
pub fn accept(
    resolved: crate::config::Resolved,
    git_ref: &str,
) -> Result<crate::config::Desired, BaseError> {
    let errors = resolved.diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        return Err(BaseError::Invalid {
            git_ref: git_ref.to_string(),
            errors,
            warnings: resolved.diagnostics.len() - errors,
        });
    }
    Ok(super::config::release(resolved.desired))
}

/// The base's targets of the names `names` (those the base has), compiled.
pub fn compile<'a>(
    desired: &'a crate::config::Desired,
    names: &[&str],
    git_ref: &str,
) -> Result<Vec<CompiledTarget<'a>>, BaseError> {
    desired
        .targets
        .iter()
        .filter(|t| names.contains(&t.name.as_str()))
        .map(|t| {
            CompiledTarget::compile(desired, t).map_err(|e| BaseError::Plan {
                git_ref: git_ref.to_string(),
                target: t.name.clone(),
                message: e.to_string(),
            })
        })
        .collect()
}

/// Whether two plans of one target hold the same change: the same object, actions, reason and
/// requests (with their members).
fn same(a: &Change, b: &Change) -> bool {
    a.actions == b.actions
        && a.reason == b.reason
        && a.operations == b.operations
        && a.members_added == b.members_added
        && a.members_removed == b.members_removed
}

/// Give each change of the work tree's plan its origin against the base's plan of the same
/// target (`None` when the base has no such target: everything is then this change's).
pub fn mark_origins(work: &mut TargetPlan, base: Option<&TargetPlan>) {
    let by_address: HashMap<&str, Vec<&Change>> = base
        .map(|b| {
            let mut m: HashMap<&str, Vec<&Change>> = HashMap::new();
            for c in &b.changes {
                m.entry(c.address.as_str()).or_default().push(c);
            }
            m
        })
        .unwrap_or_default();
    for c in &mut work.changes {
        let drift = by_address
            .get(c.address.as_str())
            .is_some_and(|bs| bs.iter().any(|b| same(b, c)));
        c.origin = Some(if drift { Origin::Drift } else { Origin::Change });
    }
}

/// The base's compiled target of the same name, if the base configures it.
pub fn counterpart<'a, 'b>(
    base: &'b [CompiledTarget<'a>],
    name: &str,
) -> Option<&'b CompiledTarget<'a>> {
    base.iter().find(|c| c.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fixtures;

    // Built with the renderer's fixtures, so the test follows the document's shape.
    fn change(address: &str, title: &str) -> Change {
        use crate::plan::document::{Action, ObjectKind, Operation, Reason};
        let mut c = fixtures::change(
            address,
            "n",
            ObjectKind::User,
            &[Action::Update],
            Reason::AttributeMismatch,
        );
        c.operations = vec![Operation::Patch {
            ops: vec![crate::scim::resource::PatchOp::replace(
                "title",
                serde_json::json!(title),
            )],
        }];
        c
    }

    fn plan(changes: Vec<Change>) -> TargetPlan {
        fixtures::target("aws", changes)
    }

    #[test]
    fn a_change_is_drift_only_when_the_base_plans_exactly_it() {
        let base = plan(vec![
            change("aws:user.e1", "Eng"),
            change("aws:user.e2", "Eng"),
        ]);
        let mut work = plan(vec![
            change("aws:user.e1", "Eng"),
            change("aws:user.e2", "Staff"),
            change("aws:user.e3", "Eng"),
        ]);
        mark_origins(&mut work, Some(&base));
        let origins: Vec<Option<Origin>> = work.changes.iter().map(|c| c.origin).collect();
        assert_eq!(
            origins,
            [
                Some(Origin::Drift),
                Some(Origin::Change),
                Some(Origin::Change)
            ]
        );
        mark_origins(&mut work, None);
        assert!(work
            .changes
            .iter()
            .all(|c| c.origin == Some(Origin::Change)));
    }

    fn git(dir: &Path, args: &[&str]) {
        let out = Command::new("git")
            .current_dir(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(["-c", "commit.gpgsign=false"])
            .args(args)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn a_commit_is_read_and_globbed_as_the_work_tree_would_be() {
        let dir = tempfile::tempdir().expect("tempdir");
        let top = fs_err::canonicalize(dir.path()).expect("canonical");
        let write = |p: &str, text: &str| {
            let p = top.join(p);
            fs_err::create_dir_all(p.parent().expect("dir")).expect("mkdir");
            fs_err::write(p, text).expect("write");
        };
        write("roster.yaml", "version: 1\n");
        write("people/a.yaml", "a at base\n");
        write("people/.hidden.yaml", "hidden\n");
        write("people/sub/deep.yaml", "deep\n");
        git(&top, &["init", "-q"]);
        git(&top, &["add", "."]);
        git(&top, &["commit", "-q", "-m", "base"]);
        write("people/a.yaml", "a in the work tree\n");
        write("people/b.yaml", "not committed\n");

        let source = GitSource::open(&top.join("roster.yaml"), "HEAD").expect("opens");
        let people = top.join("people");
        let names = |pattern: &str| -> Vec<String> {
            source
                .glob(&top, pattern)
                .expect("a pattern")
                .files
                .iter()
                .map(|p| {
                    p.strip_prefix(&people)
                        .expect("under people")
                        .display()
                        .to_string()
                })
                .collect()
        };
        // `*` stays in its directory, `**` descends, files only the work tree has are not there
        assert_eq!(names("people/*.yaml"), [".hidden.yaml", "a.yaml"]);
        assert_eq!(
            names("people/**/*.yaml"),
            [".hidden.yaml", "a.yaml", "sub/deep.yaml"]
        );
        assert_eq!(names("./people/sub/../*.yaml"), [".hidden.yaml", "a.yaml"]);
        assert_eq!(
            source.read(&people.join("a.yaml")).expect("read"),
            "a at base\n"
        );
        let missing = source
            .read(&people.join("b.yaml"))
            .expect_err("not at HEAD");
        assert!(matches!(missing, ReadError::NotFound));
        assert_eq!(source.display(&people.join("a.yaml")), "HEAD:people/a.yaml");
        assert!(matches!(
            GitSource::open(&top.join("roster.yaml"), "no-such-ref"),
            Err(BaseError::UnknownRef { .. })
        ));
        assert!(matches!(
            GitSource::open(&top.join("roster.yaml"), "--all"),
            Err(BaseError::UnknownRef { .. })
        ));
    }

    #[test]
    fn paths_are_normalised_without_the_file_system() {
        assert_eq!(
            normal(Path::new("/r/a/./b/../c.yaml")),
            PathBuf::from("/r/a/c.yaml")
        );
    }
}
