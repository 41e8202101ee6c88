//! Diagnostics: one problem in the configuration, with the file, line and column it comes from,
//! the offending line, and a hint on how to fix it. `validate` collects every one of them in a
//! single run; the renderer here is the only place that turns them into text, so every command
//! reports configuration problems the same way.

use crate::style::Paint;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Index of a file in a [`SourceMap`].
pub type FileId = u32;

/// A position in one configuration file (1-based line and column, in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Loc {
    pub file: FileId,
    pub line: u32,
    pub col: u32,
}

impl Loc {
    pub fn new(file: FileId, line: u32, col: u32) -> Self {
        Loc { file, line, col }
    }

    /// Position of a spanned YAML value in `file`.
    pub fn of<T>(file: FileId, s: &serde_saphyr::Spanned<T>) -> Self {
        Loc::from_location(file, s.referenced)
    }

    pub fn from_location(file: FileId, l: serde_saphyr::Location) -> Self {
        Loc {
            file,
            line: u32::try_from(l.line()).unwrap_or(u32::MAX),
            col: u32::try_from(l.column()).unwrap_or(u32::MAX),
        }
    }
}

/// One file of the configuration, kept for the lifetime of a command so that diagnostics can
/// quote it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as shown to the user: relative to the working directory when possible.
    pub display: String,
    /// The path used to read it.
    pub path: PathBuf,
    pub text: String,
}

/// Every file a configuration was read from.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    pub files: Vec<SourceFile>,
    /// Files of the configuration that could not be read or did not parse, as shown to the
    /// user. What they define is unknown, so checks of references to users and groups skip
    /// their "unknown" errors rather than report every object such a file may have defined.
    pub unreadable: Vec<String>,
}

impl SourceMap {
    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId::try_from(self.files.len() - 1).unwrap_or(FileId::MAX)
    }

    pub fn file(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id as usize)
    }

    pub fn display(&self, id: FileId) -> &str {
        self.file(id)
            .map(|f| f.display.as_str())
            .unwrap_or("<unknown>")
    }

    /// The text of a 1-based line, without its line break.
    pub fn line_text(&self, loc: Loc) -> Option<&str> {
        let f = self.file(loc.file)?;
        f.text.lines().nth((loc.line as usize).checked_sub(1)?)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// Where it is; `None` only for problems that belong to no file (e.g. an unreadable entry
    /// file, whose path is then in the message).
    pub loc: Option<Loc>,
    /// How to fix it.
    pub hint: Option<String>,
    /// Further positions that explain the problem (e.g. the first of two duplicates).
    pub notes: Vec<(Loc, String)>,
}

impl Diagnostic {
    pub fn error(loc: impl Into<Option<Loc>>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            loc: loc.into(),
            hint: None,
            notes: Vec::new(),
        }
    }

    pub fn warning(loc: impl Into<Option<Loc>>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(loc, message)
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn note(mut self, loc: Loc, text: impl Into<String>) -> Self {
        self.notes.push((loc, text.into()));
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Render in the style of rustc: header, `--> file:line:col`, the line, a caret, the hint.
    pub fn render(&self, sources: &SourceMap, color: bool) -> String {
        let p = Paint::new(color).palette();
        let (red, yellow, blue, bold, reset) = (p.red, p.yellow, p.blue, p.bold, p.reset);
        let (word, c) = match self.severity {
            Severity::Error => ("error", red),
            Severity::Warning => ("warning", yellow),
        };
        let mut out = String::new();
        // Messages and quoted lines may hold control characters from the files: shown escaped.
        let message = crate::escape::escape_control_lines(&self.message);
        let _ = writeln!(out, "{bold}{c}{word}{reset}{bold}: {message}{reset}");
        if let Some(loc) = self.loc {
            write_snippet(&mut out, sources, loc, None, c, blue, reset);
        }
        for (loc, text) in &self.notes {
            let _ = writeln!(out, "{blue}note{reset}: {text}");
            write_snippet(&mut out, sources, *loc, None, blue, blue, reset);
        }
        if let Some(h) = &self.hint {
            let width = self.loc.map(|l| l.line.to_string().len()).unwrap_or(1);
            let pad = " ".repeat(width);
            let _ = writeln!(out, "{pad} {blue}={reset} {bold}hint{reset}: {h}");
        }
        out
    }

    /// `file:line:col` of the primary position.
    pub fn position(&self, sources: &SourceMap) -> Option<String> {
        self.loc
            .map(|l| format!("{}:{}:{}", sources.display(l.file), l.line, l.col))
    }
}

fn write_snippet(
    out: &mut String,
    sources: &SourceMap,
    loc: Loc,
    label: Option<&str>,
    caret: &str,
    blue: &str,
    reset: &str,
) {
    let width = loc.line.to_string().len();
    let pad = " ".repeat(width);
    let _ = writeln!(
        out,
        "{pad}{blue}-->{reset} {}:{}:{}",
        sources.display(loc.file),
        loc.line,
        loc.col
    );
    if let Some(text) = sources.line_text(loc) {
        let text = crate::escape::escape_control(text);
        let text = text.as_ref();
        let _ = writeln!(out, "{pad} {blue}|{reset}");
        let _ = writeln!(out, "{blue}{}{reset} {blue}|{reset} {}", loc.line, text);
        let col = (loc.col.max(1) - 1) as usize;
        let rest: String = text.chars().skip(col).collect();
        let len = token_len(&rest).max(1);
        let indent: String = text
            .chars()
            .take(col)
            .map(|ch| if ch == '\t' { '\t' } else { ' ' })
            .collect();
        let _ = writeln!(
            out,
            "{pad} {blue}|{reset} {indent}{caret}{}{reset}{}",
            "^".repeat(len),
            label.map(|l| format!(" {l}")).unwrap_or_default()
        );
    }
}

/// Length in characters of the YAML token starting the text: a quoted string, or a plain
/// scalar up to a flow indicator, a comment or the end of the line.
fn token_len(rest: &str) -> usize {
    let mut chars = rest.chars();
    match chars.next() {
        Some(q @ ('"' | '\'')) => {
            let mut n = 1;
            let mut escaped = false;
            for ch in chars {
                n += 1;
                if q == '"' && ch == '\\' && !escaped {
                    escaped = true;
                    continue;
                }
                if ch == q && !escaped {
                    return n;
                }
                escaped = false;
            }
            n
        }
        Some(_) => {
            let mut n = 0;
            let mut prev = ' ';
            for ch in rest.chars() {
                if matches!(ch, ',' | ']' | '}') || (ch == '#' && prev == ' ') {
                    break;
                }
                if ch == ':' && n > 0 {
                    // `key: value` — stop at the key's colon
                    let after = rest.chars().nth(n + 1);
                    if after.is_none() || after == Some(' ') {
                        break;
                    }
                }
                n += 1;
                prev = ch;
            }
            rest.chars()
                .take(n)
                .collect::<String>()
                .trim_end()
                .chars()
                .count()
        }
        None => 0,
    }
}

/// Render a list of diagnostics and the closing count line.
pub fn render_all(diags: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&d.render(sources, color));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_covers_the_token() {
        assert_eq!(token_len("alice@example.com # c"), 17);
        assert_eq!(token_len("\"a b\" x"), 5);
        assert_eq!(token_len("e1, e2]"), 2);
        assert_eq!(token_len("user_name: x"), 9);
    }

    #[test]
    fn renders_file_line_and_hint() {
        let mut sm = SourceMap::default();
        let id = sm.add(SourceFile {
            display: "roster.yaml".into(),
            path: "roster.yaml".into(),
            text: "users:\n  - id: e1\n".into(),
        });
        let d = Diagnostic::error(Loc::new(id, 2, 9), "bad id").hint("fix it");
        let text = d.render(&sm, false);
        assert_eq!(
            text,
            "error: bad id\n --> roster.yaml:2:9\n  |\n2 |   - id: e1\n  |         ^^\n  = hint: fix it\n"
        );
    }
}
