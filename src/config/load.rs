//! Reading the configuration from disk: the entry file and, recursively, the files its `include`
//! globs match. This is the one place that reads configuration files and the one place that
//! calls the YAML parser, so the parser can be swapped here alone.
//!
//! Loading never stops at the first problem: a file that fails to parse is reported and the
//! others are still read, so `validate` can show everything in one run.

use super::model::Document;
use crate::diag::{Diagnostic, FileId, Loc, SourceFile, SourceMap};
use std::path::{Path, PathBuf};

/// The parsed documents of one configuration, in the order they were read (entry first).
#[derive(Debug, Default)]
pub struct Loaded {
    pub sources: SourceMap,
    pub documents: Vec<(FileId, Document)>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parse options shared by every file: duplicate keys are errors, `yes`/`no` are strings.
fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
    }
}

/// Parse one YAML text as a configuration document.
pub fn parse_document(text: &str, file: FileId) -> Result<Document, Diagnostic> {
    serde_saphyr::from_str_with_options::<Document>(text, yaml_options())
        .map_err(|e| yaml_error(&e, file))
}

/// Turn a parser error into a diagnostic at its position, with a hint for the common kinds.
fn yaml_error(e: &serde_saphyr::Error, file: FileId) -> Diagnostic {
    let inner = e.without_snippet();
    let loc = inner.location().map(|l| Loc::from_location(file, l));
    let mut message = clean_message(&inner.to_string());
    let hint = hint_for(&message);
    if message.is_empty() {
        message = "invalid YAML".into();
    }
    let d = Diagnostic::error(loc, message);
    match hint {
        Some(h) => d.hint(h),
        None => d,
    }
}

/// The parser appends " at line L column C" to its messages; the diagnostic shows the position
/// itself, so drop it.
fn clean_message(raw: &str) -> String {
    let first = raw.lines().next().unwrap_or("").trim();
    let cut = first
        .find(" at line ")
        .map(|i| &first[..i])
        .unwrap_or(first);
    cut.trim_end_matches('.').to_string()
}

fn hint_for(message: &str) -> Option<String> {
    let m = message.to_ascii_lowercase();
    if m.contains("unknown field") {
        Some("remove the key or fix its spelling; `roster schema` lists every key".into())
    } else if m.contains("duplicate") {
        Some("each key may appear once in a mapping; remove or merge the repeated one".into())
    } else if m.contains("missing field") {
        Some("add the required key".into())
    } else if m.contains("invalid type") || m.contains("expected") {
        Some("check the value's type against `roster schema`".into())
    } else if m.contains("unknown variant") {
        Some("use one of the listed values".into())
    } else {
        None
    }
}

/// Display a path relative to the working directory when it is under it.
fn display_path(p: &Path) -> String {
    if let Ok(cwd) = std::env::current_dir() {
        if let Ok(rel) = p.strip_prefix(&cwd) {
            return rel.display().to_string();
        }
    }
    p.display().to_string()
}

/// Load the entry file and everything it includes.
pub fn load(entry: &Path) -> Loaded {
    let mut out = Loaded::default();
    let abs = absolute(entry);
    let mut stack = Vec::new();
    let mut seen = std::collections::HashSet::new();
    load_file(
        &abs,
        entry.display().to_string(),
        None,
        &mut stack,
        &mut seen,
        &mut out,
    );
    out
}

fn absolute(p: &Path) -> PathBuf {
    fs_err::canonicalize(p).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|c| c.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    })
}

fn load_file(
    path: &Path,
    display: String,
    included_at: Option<Loc>,
    stack: &mut Vec<PathBuf>,
    seen: &mut std::collections::HashSet<PathBuf>,
    out: &mut Loaded,
) {
    let text = match fs_err::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            let msg = format!(
                "cannot read configuration file {display}: {}",
                io_reason(&e)
            );
            let d = Diagnostic::error(included_at, msg);
            out.diagnostics.push(if included_at.is_none() {
                d.hint("pass the entry file with -c/--config (default ./roster.yaml)")
            } else {
                d
            });
            return;
        }
    };
    seen.insert(path.to_path_buf());
    let file = out.sources.add(SourceFile {
        display,
        path: path.to_path_buf(),
        text,
    });
    let text = &out.sources.files[file as usize].text;
    let doc = match parse_document(text, file) {
        Ok(d) => d,
        Err(d) => {
            out.diagnostics.push(d);
            return;
        }
    };
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let includes: Vec<_> = doc
        .include
        .iter()
        .map(|p| (p.value.clone(), Loc::of(file, p)))
        .collect();
    out.documents.push((file, doc));
    stack.push(path.to_path_buf());
    for (pattern, loc) in includes {
        let matches = match glob_files(&dir, &pattern) {
            Ok(m) => m,
            Err(msg) => {
                out.diagnostics.push(
                    Diagnostic::error(loc, format!("invalid include pattern {pattern:?}: {msg}"))
                        .hint("use a glob such as people/*.yaml, relative to this file"),
                );
                continue;
            }
        };
        if matches.is_empty() {
            out.diagnostics.push(
                Diagnostic::error(loc, format!("include pattern {pattern:?} matches no file"))
                    .hint(
                        "an include that matches nothing is refused, so that a missing directory \
                         never reads as \"everyone left\"; fix the pattern or remove it",
                    ),
            );
            continue;
        }
        for m in matches {
            let canon = absolute(&m);
            if stack.contains(&canon) {
                let chain: Vec<String> = stack
                    .iter()
                    .skip_while(|p| **p != canon)
                    .map(|p| display_path(p))
                    .chain(std::iter::once(display_path(&canon)))
                    .collect();
                out.diagnostics.push(
                    Diagnostic::error(loc, format!("include cycle: {}", chain.join(" -> ")))
                        .hint("a file must not include itself, directly or through other files"),
                );
                continue;
            }
            if seen.contains(&canon) {
                continue; // already read through another pattern: read once
            }
            load_file(&canon, display_path(&canon), Some(loc), stack, seen, out);
        }
    }
    stack.pop();
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            // fs-err puts the path in its message; the caller already shows it
            let s = e.to_string();
            s.rsplit(": ").next().unwrap_or(&s).to_string()
        }
    }
}

/// Files matching `pattern` relative to `dir`, sorted, YAML-like files only.
fn glob_files(dir: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let full = if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        dir.join(pattern)
    };
    let text = full.to_string_lossy().to_string();
    let paths = glob::glob(&text).map_err(|e| e.msg.to_string())?;
    let mut files: Vec<PathBuf> = paths
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_booleans_keep_yes_a_string() {
        let doc = parse_document("users:\n  - id: e1\n    user_name: a\n    flag: yes\n", 0)
            .expect("parses");
        let u = &doc.users[0].value;
        assert_eq!(
            u.fields["flag"].value,
            super::super::model::FieldValue::Text("yes".into())
        );
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let err = parse_document("version: 1\nuserz: []\n", 0).expect_err("unknown key");
        assert_eq!(err.loc, Some(Loc::new(0, 2, 1)));
        assert!(err.message.contains("userz"), "{}", err.message);
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse_document("version: 1\nversion: 1\n", 0).expect_err("duplicate");
        assert!(
            err.message.to_lowercase().contains("duplicate"),
            "{}",
            err.message
        );
    }
}
