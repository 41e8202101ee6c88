//! Terminal safety. Values in a plan come from live servers and from configuration files, and
//! either may hold control characters: an ESC starts a terminal escape sequence (which can
//! recolour, hide or rewrite what an approver reads, or on some terminals do worse), a BEL
//! rings, a carriage return overwrites the line. Text and markdown outputs pass every value
//! through [`escape_control`] before it reaches the screen or a pull-request comment, so such a
//! character is shown, never obeyed. JSON output needs nothing: its encoder escapes them.

use std::borrow::Cow;

/// Whether `c` must be shown escaped: the C0 controls, DEL and the C1 controls (tab aside,
/// which moves the cursor only forward and is common in values), and the bidirectional
/// overrides and isolates, which reorder what is displayed without being seen.
fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every control character written as an escape: `\n`, `\r`, `\x1b` (C0 and DEL),
/// `\u{9b}` (C1, bidirectional controls). Borrows when there is nothing to escape, which is the
/// common case (so normal values are byte-identical and cost no copy). Meant for text that is
/// one line of output: a line break inside a value is shown as `\n` too.
pub fn escape_control(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`escape_control`] for a block of lines (an error message, a report): the line breaks stay,
/// every other control character is escaped.
pub fn escape_control_lines(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c != '\n' && needs_escape(c)) {
        return Cow::Borrowed(s);
    }
    let lines: Vec<Cow<'_, str>> = s.split('\n').map(escape_control).collect();
    Cow::Owned(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::{escape_control, escape_control_lines};
    use std::borrow::Cow;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(escape_control("a\u{1b}[2Jb\u{7}"), "a\\x1b[2Jb\\x07");
        assert_eq!(escape_control("x\ny\rz\u{7f}"), "x\\ny\\rz\\x7f");
        assert_eq!(escape_control("c1\u{9b}31m"), "c1\\u{9b}31m");
        assert_eq!(escape_control("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(escape_control_lines("a\u{7}\nb\r\n"), "a\\x07\nb\\r\n");
        assert!(matches!(escape_control_lines("a\nb\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn normal_values_are_borrowed_unchanged() {
        for s in ["Alice Liddell", "Émile Zola", "tab\there", "名前", "a\\x1b"] {
            assert!(
                matches!(escape_control(s), Cow::Borrowed(b) if b == s),
                "{s}"
            );
        }
    }
}
