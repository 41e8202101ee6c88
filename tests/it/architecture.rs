//! The arrows between roster's top-level modules, pinned. DESIGN.md draws the house with arrows
//! that point one way (`cli` on top, `scim` at the bottom); a `use` in the wrong direction
//! compiles fine and is only noticed when the next feature cannot be placed. This test reads
//! every `src/**/*.rs`, extracts the top-level modules each file references (`use crate::x`,
//! `crate::x::` paths, grouped `use crate::{a, b}`; comments and string literals ignored, test
//! code included), and fails naming the file and line of every reference that breaks a rule:
//!
//! - no cycle among top-level modules, direct or through others;
//! - `scim` references no other roster module; `emulator` references only `scim`;
//! - `config` references none of `mapping`, `validate`, `plan`, `apply`, `render`, `cli`,
//!   `shell`;
//! - nothing but `cli` references `cli`; `shell` references neither `cli` nor `render`.
//!
//! `super::` paths are not followed: they stay inside a top-level module unless they climb to
//! the crate root, which no file does.

use crate::common::root;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One reference from a file of module `from` to top-level module `to`.
#[derive(Debug, Clone)]
struct Arrow {
    from: String,
    to: String,
    file: String,
    line: usize,
}

impl Arrow {
    fn at(&self) -> String {
        format!("{}:{}: {} -> {}", self.file, self.line, self.from, self.to)
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs_err::read_dir(dir)
        .expect("src is readable")
        .map(|e| e.expect("readable entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The source with comments and the contents of string and char literals blanked out (lines
/// kept), so that a path written in a doc comment or a message is not taken for a reference.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    // blank a byte, keeping line breaks so that line numbers survive
    let blank = |c: u8| if c == b'\n' { b'\n' } else { b' ' };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == b'/' && next == Some(b'/') {
            while i < b.len() && b[i] != b'\n' {
                out.push(b' ');
                i += 1;
            }
        } else if c == b'/' && next == Some(b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    out.extend([b' ', b' ']);
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    out.extend([b' ', b' ']);
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if c == b'r'
            && matches!(next, Some(b'"') | Some(b'#'))
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
        {
            // raw string: r"..." or r#"..."#
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            out.extend(std::iter::repeat_n(b' ', j + 1 - i));
            i = j + 1;
            while i < b.len() && !b[i..].starts_with(&close) {
                out.push(blank(b[i]));
                i += 1;
            }
            out.extend(std::iter::repeat_n(b' ', close.len().min(b.len() - i)));
            i += close.len();
        } else if c == b'"' {
            out.push(b' ');
            i += 1;
            while i < b.len() && b[i] != b'"' {
                let step = if b[i] == b'\\' { 2 } else { 1 };
                for k in 0..step {
                    if let Some(&x) = b.get(i + k) {
                        out.push(blank(x));
                    }
                }
                i += step;
            }
            out.push(b' ');
            i += 1;
        } else if c == b'\'' {
            // a char literal ('x', '\n', '\u{1b}'), or a lifetime ('a), which is kept
            let end = if next == Some(b'\\') {
                b[i + 2..]
                    .iter()
                    .position(|&x| x == b'\'')
                    .map(|p| i + 2 + p)
            } else {
                let ch_len = src[i + 1..].chars().next().map_or(1, char::len_utf8);
                (b.get(i + 1 + ch_len) == Some(&b'\'')).then_some(i + 1 + ch_len)
            };
            match end {
                Some(e) => {
                    out.extend(std::iter::repeat_n(b' ', e + 1 - i));
                    i = e + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Top-level modules named after each `crate::` in `code`, with their line numbers. A group
/// (`crate::{a, b::c, d}`) names each of its members' first segment.
fn crate_refs(code: &str) -> Vec<(String, usize)> {
    let b = code.as_bytes();
    let line_of = |pos: usize| code[..pos].bytes().filter(|&c| c == b'\n').count() + 1;
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(p) = code[from..].find("crate") {
        let start = from + p;
        from = start + 5;
        if start > 0 && (is_ident(b[start - 1]) || b[start - 1] == b'$') {
            continue; // `$crate`, `mycrate`
        }
        let mut i = start + 5;
        let skip_ws = |i: &mut usize| {
            while *i < b.len() && b[*i].is_ascii_whitespace() {
                *i += 1;
            }
        };
        skip_ws(&mut i);
        if !code[i..].starts_with("::") {
            continue;
        }
        i += 2;
        skip_ws(&mut i);
        if b.get(i) == Some(&b'{') {
            // a group: first segments at brace depth 1
            let mut depth = 0;
            let mut expect_name = true;
            while i < b.len() {
                match b[i] {
                    b'{' => {
                        depth += 1;
                        expect_name = depth == 1;
                        i += 1;
                    }
                    b'}' => {
                        depth -= 1;
                        i += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b',' if depth == 1 => {
                        expect_name = true;
                        i += 1;
                    }
                    c if is_ident(c) && depth == 1 && expect_name => {
                        let s = i;
                        while i < b.len() && is_ident(b[i]) {
                            i += 1;
                        }
                        out.push((code[s..i].to_string(), line_of(s)));
                        expect_name = false;
                    }
                    _ => i += 1,
                }
            }
        } else {
            let s = i;
            while i < b.len() && is_ident(b[i]) {
                i += 1;
            }
            if i > s {
                out.push((code[s..i].to_string(), line_of(s)));
            }
        }
    }
    out
}

/// Every arrow between distinct top-level modules, read from `src`.
fn arrows(src: &Path) -> (BTreeSet<String>, Vec<Arrow>) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let top = |p: &Path| -> Option<String> {
        let rel = p.strip_prefix(src).expect("under src");
        let first = rel.components().next()?.as_os_str().to_str()?.to_string();
        match first.strip_suffix(".rs") {
            // the crate root and the binary are above every module
            Some("lib") | Some("main") => None,
            Some(stem) => Some(stem.to_string()),
            None => Some(first),
        }
    };
    let modules: BTreeSet<String> = files.iter().filter_map(|p| top(p)).collect();
    let mut out = Vec::new();
    for f in &files {
        let Some(from) = top(f) else { continue };
        let text = fs_err::read_to_string(f).expect("source is UTF-8");
        // Test code is held to the same arrows as shipped code: a unit test that borrows a
        // module above its own is the same loop, only compiled less often.
        let rel = f
            .strip_prefix(src.parent().expect("src has a parent"))
            .expect("under the root")
            .display()
            .to_string();
        for (to, line) in crate_refs(&code_only(&text)) {
            if to != from && modules.contains(&to) {
                out.push(Arrow {
                    from: from.clone(),
                    to,
                    file: rel.clone(),
                    line,
                });
            }
        }
    }
    (modules, out)
}

/// The rules of the house; each broken one is a line naming the file and line.
fn violations(arrows: &[Arrow]) -> Vec<String> {
    let mut bad = Vec::new();
    for a in arrows {
        let why = match (a.from.as_str(), a.to.as_str()) {
            ("scim", _) => Some("scim is the protocol: it references no other roster module"),
            ("emulator", to) if to != "scim" => Some("the emulator takes scim types only"),
            ("config", "mapping" | "validate" | "plan" | "apply" | "render" | "cli" | "shell") => {
                Some("config is the desired state: it knows nothing above it")
            }
            (from, "cli") if from != "cli" => Some("nothing below cli references cli"),
            ("shell", "render") => Some("the shell returns typed results; cli renders them"),
            _ => None,
        };
        if let Some(why) = why {
            bad.push(format!("{} ({why})", a.at()));
        }
    }
    bad.extend(cycles(arrows));
    bad
}

/// Every cycle among top-level modules, each named once by its members and the arrows that
/// close it (one file:line per arrow).
fn cycles(arrows: &[Arrow]) -> Vec<String> {
    let mut first: BTreeMap<(&str, &str), &Arrow> = BTreeMap::new();
    for a in arrows {
        first.entry((&a.from, &a.to)).or_insert(a);
    }
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (from, to) in first.keys() {
        graph.entry(from).or_default().insert(to);
    }
    let reaches = |from: &str, to: &str| -> Option<Vec<String>> {
        // breadth-first, for the shortest path back
        let mut prev: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([from]);
        let mut seen = BTreeSet::from([from]);
        while let Some(m) = queue.pop_front() {
            for &n in graph.get(m).into_iter().flatten() {
                if n == to {
                    let mut path = vec![to.to_string(), m.to_string()];
                    let mut cur = m;
                    while let Some(&p) = prev.get(cur) {
                        path.push(p.to_string());
                        cur = p;
                    }
                    path.reverse();
                    return Some(path);
                }
                if seen.insert(n) {
                    prev.insert(n, m);
                    queue.push_back(n);
                }
            }
        }
        None
    };
    let mut reported: BTreeSet<BTreeSet<String>> = BTreeSet::new();
    let mut out = Vec::new();
    for &(from, to) in first.keys() {
        // an arrow from -> to is in a cycle when `to` reaches `from` again
        let Some(back) = reaches(to, from) else {
            continue;
        };
        let mut cycle = vec![from.to_string()];
        cycle.extend(back);
        let members: BTreeSet<String> = cycle.iter().cloned().collect();
        if !reported.insert(members) {
            continue;
        }
        let edges: Vec<String> = cycle
            .windows(2)
            .map(|w| first[&(w[0].as_str(), w[1].as_str())].at())
            .collect();
        out.push(format!(
            "cycle {} (through {})",
            cycle.join(" -> "),
            edges.join("; ")
        ));
    }
    out
}

/// The module graph, one `from -> {to, ...}` line per module, for the failure message.
fn graph_text(modules: &BTreeSet<String>, arrows: &[Arrow]) -> String {
    let mut g: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for m in modules {
        g.entry(m).or_default();
    }
    for a in arrows {
        g.entry(&a.from).or_default().insert(&a.to);
    }
    g.iter()
        .map(|(m, to)| {
            let to: Vec<&str> = to.iter().copied().collect();
            format!("  {m} -> {{{}}}", to.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn arrows_between_top_level_modules_point_one_way() {
    let (modules, arrows) = arrows(&root().join("src"));
    assert!(
        ["cli", "config", "scim", "emulator", "plan"]
            .iter()
            .all(|m| modules.contains(*m)),
        "the test must see the modules it guards: {modules:?}"
    );
    assert!(
        arrows.iter().any(|a| a.from == "cli"),
        "the test must see cli's references"
    );
    // shown with `--nocapture`: the graph as it stands, for reviews of the house
    #[allow(clippy::print_stderr)]
    {
        eprintln!("{}", graph_text(&modules, &arrows));
    }
    let bad = violations(&arrows);
    assert!(
        bad.is_empty(),
        "forbidden references between top-level modules:\n{}\n\nthe module graph:\n{}",
        bad.join("\n"),
        graph_text(&modules, &arrows)
    );
}

#[test]
fn references_are_read_from_code_only() {
    let code = code_only(
        "use crate::{a, b::{c, d}, e as f};\n// crate::x\nlet s = \"crate::y\";\n\
         /* crate::z */ let c = '\"'; fn g<'a>() {}\ncrate::h::i();\n$crate::j;\n\
         let r = r#\"crate::k\"#;\n",
    );
    let refs: Vec<(String, usize)> = crate_refs(&code);
    let names: Vec<&str> = refs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a", "b", "e", "h"]);
    assert_eq!(refs[3].1, 5, "line numbers survive blanking");
}

#[test]
fn a_cycle_through_a_third_module_is_found() {
    let arrow = |from: &str, to: &str| Arrow {
        from: from.into(),
        to: to.into(),
        file: format!("src/{from}.rs"),
        line: 1,
    };
    let found = cycles(&[
        arrow("a", "b"),
        arrow("b", "c"),
        arrow("c", "a"),
        arrow("c", "d"),
    ]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("cycle a -> b -> c -> a"), "{found:?}");
    assert!(cycles(&[arrow("a", "b"), arrow("b", "c")]).is_empty());
}

/// The rooms stay small enough to read (issue 8): no source file over 1,000 lines, and the
/// command files of `cli/` (parsing flags and rendering results, nothing more) under 300.
#[test]
fn no_source_file_outgrows_its_room() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    assert!(files.len() > 50, "the test must see the sources: {files:?}");
    let mut too_big = Vec::new();
    for f in &files {
        let lines = fs_err::read_to_string(f).expect("source").lines().count();
        let rel = f.strip_prefix(root()).unwrap_or(f).display().to_string();
        let limit = if rel.starts_with("src/cli/") {
            300
        } else {
            1000
        };
        if lines > limit {
            too_big.push(format!("{rel}: {lines} lines (limit {limit})"));
        }
    }
    assert!(
        too_big.is_empty(),
        "split these along their seams:\n{}",
        too_big.join("\n")
    );
}
