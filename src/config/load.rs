//! Reading the configuration from disk: the entry file and, recursively, the files its `include`
//! globs match. This is the one place that reads configuration files and the one place that
//! calls the YAML parser, so the parser can be swapped here alone.
//!
//! Loading never stops at the first problem: a file that fails to parse is reported and the
//! others are still read, so `validate` can show everything in one run.

use super::model::Document;
use crate::diag::{Diagnostic, FileId, Loc, SourceFile, SourceMap};
use std::collections::HashMap;
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
        // The default budget (250,000 nodes) refuses a directory of ~30,000 people; the
        // alias-expansion limits that stop "billion laughs" documents stay on.
        budget: None,
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
///
/// Files are read level by level (the entry, then what it includes, then what those include),
/// and the files of one level are parsed in parallel: the YAML parser runs at roughly 10 MB/s, so
/// a directory of 100,000 people split over many files loads several times faster this way.
/// Every file is read once, however many patterns match it; include cycles are found afterwards
/// on the graph of includes.
pub fn load(entry: &Path) -> Loaded {
    let mut out = Loaded::default();
    let mut seen: HashMap<PathBuf, FileId> = HashMap::new();
    // (absolute path, display, where it was included from)
    let mut level: Vec<(PathBuf, String, Option<Loc>)> =
        vec![(absolute(entry), entry.display().to_string(), None)];
    // include edges: (from file, to file, position of the pattern)
    let mut edges: Vec<(FileId, FileId, Loc)> = Vec::new();
    let mut pending_edges: Vec<(FileId, PathBuf, Loc)> = Vec::new();
    // every path ever queued, so a file reached twice (even within one level) is read once
    let mut queued: std::collections::HashSet<PathBuf> =
        level.iter().map(|(p, _, _)| p.clone()).collect();
    while !level.is_empty() {
        let parsed = parse_level(&level);
        let mut next = Vec::new();
        for ((path, display, included_at), result) in level.into_iter().zip(parsed) {
            let (text, doc) = match result {
                Ok(pair) => pair,
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
                    continue;
                }
            };
            let file = out.sources.add(SourceFile {
                display,
                path: path.clone(),
                text,
            });
            seen.insert(path.clone(), file);
            let doc = match doc {
                Ok(doc) => doc,
                Err(mut d) => {
                    d.loc = d.loc.map(|l| Loc { file, ..l });
                    out.diagnostics.push(d);
                    continue;
                }
            };
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            for pattern in &doc.include {
                let loc = Loc::of(file, pattern);
                let matches = match glob_files(&dir, &pattern.value) {
                    Ok(m) => m,
                    Err(msg) => {
                        out.diagnostics.push(
                            Diagnostic::error(
                                loc,
                                format!("invalid include pattern {:?}: {msg}", pattern.value),
                            )
                            .hint("use a glob such as people/*.yaml, relative to this file"),
                        );
                        continue;
                    }
                };
                if matches.is_empty() {
                    out.diagnostics.push(
                        Diagnostic::error(
                            loc,
                            format!("include pattern {:?} matches no file", pattern.value),
                        )
                        .hint(
                            "an include that matches nothing is refused, so that a missing \
                             directory never reads as \"everyone left\"; fix the pattern or remove it",
                        ),
                    );
                    continue;
                }
                for m in matches {
                    let canon = absolute(&m);
                    pending_edges.push((file, canon.clone(), loc));
                    if !queued.insert(canon.clone()) {
                        continue;
                    }
                    let display = display_path(&canon);
                    next.push((canon, display, Some(loc)));
                }
            }
            out.documents.push((file, doc));
        }
        // edges to files parsed in this round can now be resolved
        pending_edges.retain(|(from, to, loc)| match seen.get(to) {
            Some(id) => {
                edges.push((*from, *id, *loc));
                false
            }
            None => true,
        });
        level = next;
    }
    report_cycles(&edges, &out.sources, &mut out.diagnostics);
    out
}

fn absolute(p: &Path) -> PathBuf {
    fs_err::canonicalize(p).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|c| c.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    })
}

type ParseResult = std::io::Result<(String, Result<Document, Diagnostic>)>;

/// Read and parse the files of one level, in parallel when there are several.
fn parse_level(level: &[(PathBuf, String, Option<Loc>)]) -> Vec<ParseResult> {
    let parse_one = |path: &Path| -> ParseResult {
        let text = fs_err::read_to_string(path)?;
        // the file id is patched in by the caller once the file is registered
        let doc = parse_document(&text, 0);
        Ok((text, doc))
    };
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(level.len());
    if workers <= 1 {
        return level.iter().map(|(p, _, _)| parse_one(p)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<ParseResult>> = (0..level.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((path, _, _)) = level.get(i) else {
                            break;
                        };
                        mine.push((i, parse_one(path)));
                    }
                    mine
                })
            })
            .collect();
        for h in handles {
            // a panicking parser thread would be a bug in the parser; report it as unreadable
            if let Ok(mine) = h.join() {
                for (i, r) in mine {
                    results[i] = Some(r);
                }
            }
        }
    });
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(std::io::Error::other("parser failed"))))
        .collect()
}

/// Report every include cycle once, at the include that closes it.
fn report_cycles(
    edges: &[(FileId, FileId, Loc)],
    sources: &SourceMap,
    diags: &mut Vec<Diagnostic>,
) {
    let n = sources.files.len();
    let mut adj: Vec<Vec<(FileId, Loc)>> = vec![Vec::new(); n];
    for (from, to, loc) in edges {
        adj[*from as usize].push((*to, *loc));
    }
    // iterative DFS with colours: 0 new, 1 on stack, 2 done
    let mut colour = vec![0u8; n];
    let mut stack_files: Vec<FileId> = Vec::new();
    let mut reported = std::collections::HashSet::new();
    for start in 0..n {
        if colour[start] != 0 {
            continue;
        }
        let mut stack: Vec<(FileId, usize)> = vec![(start as FileId, 0)];
        colour[start] = 1;
        stack_files.push(start as FileId);
        while let Some((node, idx)) = stack.last_mut() {
            let node_id = *node;
            if let Some((to, loc)) = adj[node_id as usize].get(*idx).copied() {
                *idx += 1;
                match colour[to as usize] {
                    0 => {
                        colour[to as usize] = 1;
                        stack_files.push(to);
                        stack.push((to, 0));
                    }
                    1 if reported.insert(loc) => {
                        let from = stack_files.iter().position(|f| *f == to).unwrap_or(0);
                        let chain: Vec<&str> = stack_files[from..]
                            .iter()
                            .chain(std::iter::once(&to))
                            .map(|f| sources.display(*f))
                            .collect();
                        diags.push(
                            Diagnostic::error(
                                loc,
                                format!("include cycle: {}", chain.join(" -> ")),
                            )
                            .hint(
                                "a file must not include itself, directly or through other files",
                            ),
                        );
                    }
                    _ => {}
                }
            } else {
                colour[node_id as usize] = 2;
                stack_files.pop();
                stack.pop();
            }
        }
    }
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
