//! Reading the configuration from disk: the entry file and, recursively, the files its `include`
//! globs match. This is the one place that reads configuration files and the one place that
//! calls the YAML parser, so the parser can be swapped here alone.
//!
//! Loading never stops at the first problem: a file that fails to parse is reported and the
//! others are still read, so `validate` can show everything in one run.
//!
//! The configuration may come from a stranger (a pull request that CI plans), so what may be
//! read is bounded (see [`files`]): includes stay inside the entry file's directory tree unless
//! the operator passes `--allow-include-outside`, and no error quotes a line of a file that is
//! not the configuration's own YAML.

pub mod files;

pub use files::MAX_FILE_BYTES;

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
///
/// The parser's default budget stops at 250,000 nodes per file, about 20,000 users: a whole
/// company in one `people.yaml` must still load. The size limits are raised to what a directory
/// of millions needs; the alias limits (which stop "billion laughs" expansion) stay as they are.
pub(super) fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        budget: serde_saphyr::budget! {
            max_nodes: 200_000_000,
            max_events: 400_000_000,
            max_total_scalar_bytes: 1 << 30,
            max_reader_input_bytes: Some(1 << 30),
        },
    }
}

/// Parse one YAML text as a configuration document.
pub fn parse_document(text: &str, file: FileId) -> Result<Document, Diagnostic> {
    serde_saphyr::from_str_with_options::<Document>(text, yaml_options())
        .map_err(|e| yaml_error(&e, file, text))
}

/// Turn a parser error into a diagnostic at its position, in words a configuration author uses
/// (the parser speaks of "sequences" and "scalars"), with a hint on how to fix it.
pub(super) fn yaml_error(e: &serde_saphyr::Error, file: FileId, text: &str) -> Diagnostic {
    let inner = e.without_snippet();
    let mut loc = inner.location().map(|l| Loc::from_location(file, l));
    let raw = clean_message(&inner.to_string());
    let (mut message, hint) = humanize(&raw);
    if message.is_empty() {
        message = "invalid YAML".into();
    }
    // The parser reports a tab at the start of the scalar it was reading, often the line
    // above; point at the tab itself.
    if raw.contains("tab") {
        if let Some(l) = loc {
            loc = Some(first_tab_from(text, l).unwrap_or(l));
        }
    }
    let d = Diagnostic::error(loc, message);
    match hint {
        Some(h) => d.hint(h),
        None => d,
    }
}

/// The first tab character on or after the line of `from`.
fn first_tab_from(text: &str, from: Loc) -> Option<Loc> {
    let skip = (from.line as usize).saturating_sub(1);
    text.lines().enumerate().skip(skip).find_map(|(i, line)| {
        let col = line.chars().position(|c| c == '\t')?;
        Some(Loc::new(
            from.file,
            u32::try_from(i + 1).ok()?,
            u32::try_from(col + 1).ok()?,
        ))
    })
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

const SYNTAX_HINT: &str = "this is a YAML syntax error: indent with spaces only, and check the \
     quotes, brackets and indentation on this line and the lines just above it";

/// A parser message rephrased for configuration authors, and a hint for its kind.
fn humanize(message: &str) -> (String, Option<String>) {
    let m = message.to_ascii_lowercase();
    let same = |hint: &str| (message.to_string(), Some(hint.to_string()));
    if let Some(rest) = message.strip_prefix("duplicate mapping key") {
        let key = rest
            .trim_start_matches(':')
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or("")
            .trim();
        let message = if key.is_empty() || key.starts_with(',') {
            "duplicate key".to_string()
        } else {
            format!("duplicate key `{key}`")
        };
        return (
            message,
            Some("each key may appear once in a mapping; remove or merge the repeated one".into()),
        );
    }
    if m.starts_with("unknown field") {
        return same("remove the key or fix its spelling; `roster schema` lists every key");
    }
    if m.starts_with("budget breached") {
        return (
            format!("the file exceeds the YAML parser's safety limits ({message})"),
            Some(
                "split it into several files with `include:`; anchors and aliases that expand \
                 to huge documents are refused on purpose"
                    .into(),
            ),
        );
    }
    if let Some(rest) = message.strip_prefix("unknown variant") {
        return (
            format!("unknown value{rest}"),
            Some("use one of the listed values".into()),
        );
    }
    if m.contains("found a tab") || m.contains("tabs disallowed") {
        return (
            "tab character in the indentation".into(),
            Some("YAML indents with spaces only: replace the tab with spaces".into()),
        );
    }
    if m.starts_with("missing field") {
        return same("add the required key");
    }
    match m.as_str() {
        "expected sequence start" => {
            return (
                "expected a list here".into(),
                Some("write a list: `[a, b]`, or one `- item` per line below the key".into()),
            )
        }
        "expected mapping start" => {
            return (
                "expected a mapping (`key: value` pairs) here".into(),
                Some(
                    "write `key: value` pairs, indented below the key, or `{ key: value }`; \
                     `roster schema` lists the keys"
                        .into(),
                ),
            )
        }
        "expected string scalar" => {
            return (
                "expected a single text value here".into(),
                Some(
                    "write one value; quote it if it starts with `[`, `{`, `*`, `&` or `!`".into(),
                ),
            )
        }
        "invalid boolean (strict mode expects true/false)" => {
            return (
                "expected true or false".into(),
                Some("write `true` or `false` (yes/no/on/off are not booleans in roster)".into()),
            )
        }
        _ => {}
    }
    if m.contains("expected a user field") {
        return (
            "a user field must be text, a number, true/false or a list of texts".into(),
            Some(
                "nested mappings are not user fields; flatten them (e.g. `address_city: Paris`)"
                    .into(),
            ),
        );
    }
    if let Some(ty) = m.strip_prefix("invalid ") {
        let ty = ty.trim();
        if matches!(ty, "u8" | "u16" | "u32" | "u64") {
            return (
                "expected a whole number, 0 or more".into(),
                Some("write a number such as 25, without quotes or a sign".into()),
            );
        }
        if matches!(ty, "i8" | "i16" | "i32" | "i64") {
            return (
                "expected a whole number".into(),
                Some("write a number such as 25, without quotes".into()),
            );
        }
        if matches!(ty, "f32" | "f64") {
            return (
                "expected a number".into(),
                Some("write a number such as 2.5, without quotes".into()),
            );
        }
    }
    if m.starts_with("invalid type") || m.starts_with("invalid value") {
        return same("check the value's type against `roster schema`");
    }
    // Everything else comes from the scanner or the parser: the text is not well-formed YAML.
    same(SYNTAX_HINT)
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

/// What the loader may read beyond its defaults; set only by the operator's flags, never by the
/// configuration itself (which is the untrusted side).
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// `--allow-include-outside`: include absolute paths, `..` and files whose real path is
    /// outside the entry file's directory.
    pub allow_include_outside: bool,
}

/// Load the entry file and everything it includes, with the default options.
pub fn load(entry: &Path) -> Loaded {
    load_with(entry, LoadOptions::default())
}

/// Load the entry file and everything it includes.
pub fn load_with(entry: &Path, options: LoadOptions) -> Loaded {
    load_from(entry, options, &FileSystem)
}

/// Where configuration files come from: the file system for the work tree, git objects for
/// `plan --base`. Loading only asks a source to read, to spell a path absolutely and to match a
/// glob, so a configuration as it was at a commit resolves its includes exactly as the work
/// tree's would, without a checkout, and under the same rules (inside the tree, text only).
pub trait Source: Sync {
    /// The text of the file at `path` (an absolute path from [`Source::absolute`] or a glob).
    fn read(&self, path: &Path) -> Result<String, files::ReadError>;
    /// `path` made absolute and normal, so one file always has one spelling (cycles, reading
    /// a file once, the inside-the-tree rule).
    fn absolute(&self, path: &Path) -> PathBuf;
    /// The files `pattern` matches relative to `dir`, sorted.
    fn glob(&self, dir: &Path, pattern: &str) -> Result<files::Matches, String>;
    /// How diagnostics name a file.
    fn display(&self, path: &Path) -> String {
        display_path(path)
    }
    /// How diagnostics name the entry file: as the user spelled it, by default.
    fn display_entry(&self, entry: &Path, _absolute: &Path) -> String {
        entry.display().to_string()
    }
}

/// The configuration as the file system holds it: regular files only, under the size cap,
/// globs walked with loop detection.
pub struct FileSystem;

impl Source for FileSystem {
    fn read(&self, path: &Path) -> Result<String, files::ReadError> {
        files::read_config_file(path)
    }

    fn absolute(&self, p: &Path) -> PathBuf {
        absolute(p)
    }

    fn glob(&self, dir: &Path, pattern: &str) -> Result<files::Matches, String> {
        files::glob_files(dir, pattern)
    }
}

/// [`load_with`] through a [`Source`]; diagnostics name files as the source does.
pub fn load_from(entry: &Path, options: LoadOptions, source: &dyn Source) -> Loaded {
    let mut out = Loaded::default();
    let abs = source.absolute(entry);
    // The tree the configuration may read: the real directory of the entry file.
    let root = abs.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut walk = Walk {
        source,
        root,
        options,
        stack: Vec::new(),
        seen: std::collections::HashSet::new(),
    };
    let prepared = prepare(source, &abs);
    let display = source.display_entry(entry, &abs);
    load_file(&abs, display, None, prepared, &mut walk, &mut out);
    out
}

/// The state of one load across the include tree.
struct Walk<'a> {
    source: &'a dyn Source,
    root: PathBuf,
    options: LoadOptions,
    /// Files being loaded, entry first: a file already here is an include cycle.
    stack: Vec<PathBuf>,
    /// Files read, each once.
    seen: std::collections::HashSet<PathBuf>,
}

impl Walk<'_> {
    fn inside(&self, canon: &Path) -> bool {
        canon.starts_with(&self.root)
    }

    /// Whether a file's lines may be quoted when it fails to parse: only the configuration's
    /// own files, that is `.yaml`/`.yml` text inside the tree. Anything else was named by
    /// mistake or by malice (`/etc/shadow`, `/proc/self/environ`), and its first line is as
    /// likely a password hash or a token as YAML.
    fn may_quote(&self, path: &Path, text: &str) -> bool {
        self.inside(path) && files::has_yaml_extension(path) && files::is_plain_text(text)
    }
}

fn absolute(p: &Path) -> PathBuf {
    fs_err::canonicalize(p).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|c| c.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    })
}

/// A file read and parsed ahead of its turn. Parsing is most of the cost of loading a large
/// directory and files are independent, so the files one include pattern matches are parsed in
/// parallel; they are then taken in order, so file ids and diagnostics stay deterministic.
struct Prepared {
    text: Result<String, files::ReadError>,
    /// Parsed with file id 0: the real id is set when the file takes its turn.
    doc: Option<Result<Document, Diagnostic>>,
}

fn prepare(source: &dyn Source, path: &Path) -> Prepared {
    match source.read(path) {
        Ok(text) => {
            let doc = parse_document(&text, 0);
            Prepared {
                text: Ok(text),
                doc: Some(doc),
            }
        }
        Err(e) => Prepared {
            text: Err(e),
            doc: None,
        },
    }
}

/// [`prepare`] every path, on as many threads as there are cores, results in input order.
fn prepare_all(source: &dyn Source, paths: &[PathBuf]) -> Vec<Prepared> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(paths.len());
    if workers <= 1 {
        return paths.iter().map(|p| prepare(source, p)).collect();
    }
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<Prepared>> = (0..paths.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(p) = paths.get(i) else { break };
                        done.push((i, prepare(source, p)));
                    }
                    done
                })
            })
            .collect();
        for h in handles {
            if let Ok(done) = h.join() {
                for (i, p) in done {
                    slots[i] = Some(p);
                }
            }
        }
    });
    // a slot is empty only if its worker panicked: prepare it here instead
    slots
        .into_iter()
        .zip(paths)
        .map(|(slot, p)| slot.unwrap_or_else(|| prepare(source, p)))
        .collect()
}

fn load_file(
    path: &Path,
    display: String,
    included_at: Option<Loc>,
    prepared: Prepared,
    walk: &mut Walk<'_>,
    out: &mut Loaded,
) {
    let text = match prepared.text {
        Ok(t) => t,
        Err(e) => {
            let msg = format!("cannot read configuration file {display}: {}", e.reason());
            out.sources.unreadable.push(display.clone());
            let d = Diagnostic::error(included_at, msg);
            out.diagnostics.push(if included_at.is_none() {
                d.hint("pass the entry file with -c/--config (default ./roster.yaml)")
            } else {
                d
            });
            return;
        }
    };
    walk.seen.insert(path.to_path_buf());
    let file = out.sources.add(SourceFile {
        display: display.clone(),
        path: path.to_path_buf(),
        text,
    });
    let parsed = match prepared.doc {
        Some(parsed) => parsed,
        None => parse_document(&out.sources.files[file as usize].text, file),
    };
    let doc = match parsed {
        Ok(d) => d,
        Err(mut d) => {
            if let Some(l) = d.loc.as_mut() {
                l.file = file;
            }
            let source = &mut out.sources.files[file as usize];
            // The parser's words quote keys and values, and the snippet quotes the line: under
            // `auth` either may be a token, so the message says where and never what, and no
            // value under `auth` (nor a URL's userinfo or query) is quoted.
            let (masked, auth) = super::secrets::mask_for_parse_error(&source.text);
            if let Some(loc) = d.loc.filter(|l| super::secrets::in_auth(&auth, *l)) {
                d = Diagnostic::error(
                    loc,
                    "invalid `auth`: an unknown key, or a value that is not a reference",
                )
                .hint(
                    "auth takes one of bearer_token_env, bearer_token_file, basic { username, \
                         password_env }, header { name, value_env }; what is written there is not \
                         shown, since it may be a secret (if it is, rotate it)",
                );
            }
            source.text = masked;
            if !walk.may_quote(path, &source.text) {
                // Neither the line nor the parser's words (which quote keys and values).
                source.text = String::new();
                d = Diagnostic::error(
                    d.loc,
                    format!("{display} is not a YAML configuration file (it does not parse)"),
                )
                .hint(
                    "roster shows the lines only of `.yaml`/`.yml` text files inside the entry \
                     file's directory; check that -c and `include:` name the right files",
                );
            }
            out.diagnostics.push(d);
            out.sources.unreadable.push(display);
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
    walk.stack.push(path.to_path_buf());
    // The files of every pattern of this file are parsed as one batch, so that both cores stay
    // busy across patterns (one pattern's last, largest file no longer waits alone); they are
    // still taken in pattern order, so file ids and diagnostics are as if read one by one.
    let mut todo: Vec<(PathBuf, Loc)> = Vec::new();
    let mut queued = std::collections::HashSet::new();
    for (pattern, loc) in includes {
        if !walk.options.allow_include_outside {
            if let Some(why) = files::outside_pattern_problem(&walk.root, &dir, &pattern) {
                out.diagnostics.push(
                    Diagnostic::error(
                        loc,
                        format!(
                            "include pattern {pattern:?} leaves the configuration's directory: \
                             {why}"
                        ),
                    )
                    .hint(
                        "includes are relative paths that stay inside the entry file's \
                         directory; the operator may widen this with --allow-include-outside",
                    ),
                );
                continue;
            }
        }
        let matches = match walk.source.glob(&dir, &pattern) {
            Ok(m) => m,
            Err(msg) => {
                out.diagnostics.push(
                    Diagnostic::error(loc, format!("invalid include pattern {pattern:?}: {msg}"))
                        .hint("use a glob such as people/*.yaml, relative to this file"),
                );
                continue;
            }
        };
        for dir in &matches.skipped_dirs {
            tracing::debug!(
                dir = %display_path(dir),
                "include walk: directory already entered (symlink loop or second path), skipped"
            );
        }
        for (p, kind) in &matches.irregular {
            out.diagnostics.push(
                Diagnostic::error(
                    loc,
                    format!(
                        "include pattern {pattern:?} matches {}, which is {kind}",
                        display_path(p)
                    ),
                )
                .hint("roster reads only regular files; remove it or narrow the pattern"),
            );
        }
        let matches = matches.files;
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
            let canon = walk.source.absolute(&m);
            if !walk.options.allow_include_outside && !walk.inside(&canon) {
                out.diagnostics.push(
                    Diagnostic::error(
                        loc,
                        format!(
                            "include pattern {pattern:?} matches {}, a link to a file outside \
                             the configuration's directory",
                            display_path(&m)
                        ),
                    )
                    .hint(
                        "includes must resolve inside the entry file's directory; the operator \
                         may widen this with --allow-include-outside",
                    ),
                );
                continue;
            }
            if walk.stack.contains(&canon) {
                let chain: Vec<String> = walk
                    .stack
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
            if walk.seen.contains(&canon) || !queued.insert(canon.clone()) {
                continue; // already read through another pattern: read once
            }
            todo.push((canon, loc));
        }
    }
    let paths: Vec<PathBuf> = todo.iter().map(|(p, _)| p.clone()).collect();
    let prepared = prepare_all(walk.source, &paths);
    for ((canon, loc), prepared) in todo.into_iter().zip(prepared) {
        // an earlier file of this batch may have included it already
        if walk.seen.contains(&canon) {
            continue;
        }
        let display = walk.source.display(&canon);
        load_file(&canon, display, Some(loc), prepared, walk, out);
    }
    walk.stack.pop();
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
        assert_eq!(err.message, "duplicate key `version`");
    }

    #[test]
    fn user_fields_keep_their_yaml_types() {
        use super::super::model::FieldValue as F;
        let doc = parse_document(
            "users:\n  - id: 1001\n    quoted: \"42\"\n    n: 42\n    x: 2.5\n    b: false\n    \
             none: null\n    empty:\n    l: [a, b]\n    s: text\n",
            0,
        )
        .expect("parses");
        let f = &doc.users[0].value.fields;
        assert_eq!(f["id"].value, F::Int(1001));
        assert_eq!(f["quoted"].value, F::Text("42".into()));
        assert_eq!(f["n"].value, F::Int(42));
        assert_eq!(f["x"].value, F::Float(2.5));
        assert_eq!(f["b"].value, F::Bool(false));
        assert_eq!(f["none"].value, F::Null(()));
        assert_eq!(f["empty"].value, F::Null(()));
        assert_eq!(f["l"].value, F::List(vec!["a".into(), "b".into()]));
        assert_eq!(f["s"].value, F::Text("text".into()));
        let err = parse_document("users:\n  - id: e1\n    address: { city: Paris }\n", 0)
            .expect_err("a mapping is no field");
        assert_eq!(err.loc, Some(Loc::new(0, 3, 14)));
        assert!(err.message.contains("user field"), "{}", err.message);
    }

    #[test]
    fn one_file_may_hold_a_large_company() {
        // 260,001 nodes, beyond the parser's default budget of 250,000 per file
        let members: Vec<String> = (0..260_000).map(|i| format!("e{i}")).collect();
        let text = format!(
            "groups:\n  - name: all\n    members: [{}]\n",
            members.join(", ")
        );
        let doc = parse_document(&text, 0).expect("a large file parses");
        assert_eq!(doc.groups[0].value.members.len(), 260_000);
    }

    #[test]
    fn tab_errors_point_at_the_tab() {
        let err = parse_document("users:\n  - id: e1\n\tuser_name: a\n", 0).expect_err("tab");
        assert_eq!(err.loc, Some(Loc::new(0, 3, 1)));
    }

    #[test]
    fn parser_words_become_configuration_words() {
        let err = parse_document("users: {}\n", 0).expect_err("not a list");
        assert_eq!(err.message, "expected a list here");
        assert!(err.hint.is_some());
    }
}
