//! Inline secrets are refused by `check`, but the refusal quotes the line it points at, as every
//! diagnostic does: so the sources kept for diagnostics have each inline secret blanked out
//! before anything is shown. A URL may carry a token too (userinfo, query): it is printed only
//! through [`display_url`].

use super::Desired;
use crate::diag::Loc;

/// `raw` as it may be printed: userinfo and query removed, since either may carry a token and
/// a URL lands in plans, errors and logs. Unparsable text is cut the same way by its shape.
pub fn display_url(raw: &str) -> String {
    // `u:tok@host/x` parses, as scheme `u` with an opaque path: only http(s) URLs are cut by
    // their parts, anything else by its shape.
    match url::Url::parse(raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
    {
        Some(mut u) => {
            let had_query = u.query().is_some();
            // Both fail only for URLs that cannot have userinfo (`mailto:`), which have none.
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            let mut s = u.to_string();
            if had_query {
                s.push_str("?[redacted]");
            }
            s
        }
        None => {
            let mut s = raw.split(['?', '#']).next().unwrap_or("").to_string();
            if let Some(at) = s.rfind('@') {
                let start = s.find("://").map_or(0, |i| i + 3);
                if at >= start {
                    s.replace_range(start..=at, "");
                }
            }
            s
        }
    }
}

/// Replace every inline secret's text in the kept sources with `*`, so that no diagnostic that
/// quotes its line (the inline-secret error itself included) prints it.
pub(super) fn mask_inline_secrets(desired: &mut Desired) {
    let locs: Vec<Loc> = desired
        .targets
        .iter()
        .flat_map(|t| t.inline_secrets.iter().map(|(_, loc)| *loc))
        .collect();
    let texts: Vec<String> = desired
        .targets
        .iter()
        .flat_map(|t| t.secret_texts.iter().filter(|s| !s.is_empty()).cloned())
        .collect();
    for file in &mut desired.sources.files {
        for secret in &texts {
            if file.text.contains(secret.as_str()) {
                file.text = file
                    .text
                    .replace(secret.as_str(), &"*".repeat(secret.chars().count()));
            }
        }
    }
    for loc in locs {
        let Some(file) = desired.sources.files.get_mut(loc.file as usize) else {
            continue;
        };
        file.text = mask_token(&file.text, loc);
    }
}

/// `text` with the scalar starting at `loc` (a quoted string, or a plain scalar up to a flow
/// indicator, a comment or the end of the line) replaced by as many `*`.
fn mask_token(text: &str, loc: Loc) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i + 1 != loc.line as usize {
            out.push_str(line);
            continue;
        }
        let start = (loc.col.max(1) - 1) as usize;
        let chars: Vec<char> = line.chars().collect();
        let mut end = start;
        match chars.get(start) {
            Some(&q) if q == '"' || q == '\'' => {
                end += 1;
                while end < chars.len() && chars[end] != q {
                    end += if chars[end] == '\\' && q == '"' { 2 } else { 1 };
                }
                end = (end + 1).min(chars.len());
            }
            _ => {
                while end < chars.len()
                    && !matches!(chars[end], ',' | '}' | ']' | '\n' | '\r')
                    && !(chars[end] == '#' && end > 0 && chars[end - 1] == ' ')
                {
                    end += 1;
                }
                while end > start && chars[end - 1] == ' ' {
                    end -= 1;
                }
            }
        }
        for (k, ch) in chars.iter().enumerate() {
            out.push(if k >= start && k < end { '*' } else { *ch });
        }
    }
    out
}

/// The lines of a YAML text that lie under an `auth:` key: `(line, first column)`, 1-based,
/// where the column is the first character after `auth:` on its own line and 1 below it.
fn auth_lines(text: &str) -> Vec<(u32, usize)> {
    let mut out = Vec::new();
    let mut block: Option<usize> = None; // indentation of the `auth:` key being walked
    for (i, line) in text.lines().enumerate() {
        let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let indent = line.len() - line.trim_start().len();
        let body = line.trim_start().trim_start_matches("- ");
        if let Some(key_indent) = block {
            if body.trim().is_empty() || body.starts_with('#') || indent > key_indent {
                out.push((n, 1));
                continue;
            }
            block = None;
        }
        if let Some(rest) = body.strip_prefix("auth:") {
            let after = line.len() - rest.len();
            out.push((n, line[..after].chars().count() + 1));
            block = Some(indent);
        }
    }
    out
}

/// `line` with every scalar from character `from` (1-based) on replaced by `*`, keys and YAML
/// punctuation kept: what an `auth` mapping looks like, without what it holds.
fn mask_values(line: &str, from: usize) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut k = 0;
    while k < chars.len() {
        if k + 1 < from || matches!(chars[k], ' ' | '{' | '}' | '[' | ']' | ',' | '-') {
            out.push(chars[k]);
            k += 1;
            continue;
        }
        if chars[k] == '#' {
            out.extend(&chars[k..]);
            break;
        }
        // one scalar: quoted, or plain up to flow punctuation
        let start = k;
        if chars[k] == '"' || chars[k] == '\'' {
            let q = chars[k];
            k += 1;
            while k < chars.len() && chars[k] != q {
                k += if chars[k] == '\\' && q == '"' { 2 } else { 1 };
            }
            k = (k + 1).min(chars.len());
        } else {
            while k < chars.len() && !matches!(chars[k], ',' | '}' | ']') {
                if chars[k] == ':' && chars.get(k + 1).is_none_or(|c| *c == ' ') {
                    break;
                }
                k += 1;
            }
        }
        let is_key = chars.get(k) == Some(&':') && chars.get(k + 1).is_none_or(|c| *c == ' ');
        // a key is kept only when it is a plain word (a key spelt like a token is masked too)
        let word: String = chars[start..k].iter().collect();
        let plain_key =
            is_key && word.len() <= 32 && word.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        for ch in &chars[start..k] {
            out.push(if plain_key || *ch == ' ' { *ch } else { '*' });
        }
        if is_key {
            out.push(':');
            k += 1;
        }
    }
    out
}

/// `text` with the userinfo and query of every `http(s)://` URL replaced by `*`.
fn mask_url_secrets(line: &str) -> String {
    let mut out: Vec<char> = line.chars().collect();
    let mut from = 0;
    while let Some(pos) = line[from..].find("://") {
        let start = from + pos + 3;
        let end = line[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, ',' | '}' | ']' | '"' | '\''))
            .map_or(line.len(), |e| start + e);
        let url = &line[start..end];
        let offset = line[..start].chars().count();
        let mut mask = |a: usize, b: usize| {
            let a = offset + url[..a].chars().count();
            let b = offset + url[..b].chars().count();
            for c in &mut out[a..b] {
                *c = '*';
            }
        };
        let host_end = url.find(['/', '?', '#']).unwrap_or(url.len());
        if let Some(at) = url[..host_end].rfind('@') {
            mask(0, at);
        }
        if let Some(q) = url.find('?') {
            mask(q + 1, url.len());
        }
        from = end.max(start);
    }
    out.into_iter().collect()
}

/// A configuration text as a parse error may quote it: every value under an `auth:` key and
/// the userinfo and query of every URL masked. Columns are unchanged, so carets still point
/// where the parser said. The returned lines are those under `auth`.
pub(super) fn mask_for_parse_error(text: &str) -> (String, Vec<(u32, usize)>) {
    let auth = auth_lines(text);
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let (body, eol) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let mut masked = mask_url_secrets(body);
        if let Some(&(_, from)) = auth.iter().find(|(l, _)| *l == n) {
            masked = mask_values(&masked, from);
        }
        out.push_str(&masked);
        out.push_str(eol);
    }
    (out, auth)
}

/// Whether a parse error at `loc` is inside an `auth` mapping (per [`mask_for_parse_error`]):
/// its message may quote a key or a value there, and either may be a secret.
pub(super) fn in_auth(auth: &[(u32, usize)], loc: Loc) -> bool {
    auth.iter()
        .any(|&(line, from)| line == loc.line && loc.col as usize >= from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_userinfo_and_query() {
        assert_eq!(
            display_url("https://u:tok@h.example/scim/v2?k=tok"),
            "https://h.example/scim/v2?[redacted]"
        );
        assert_eq!(
            display_url("https://h.example/scim/v2"),
            "https://h.example/scim/v2"
        );
        assert_eq!(
            display_url("http://127.0.0.1:8080/"),
            "http://127.0.0.1:8080/"
        );
        assert_eq!(display_url("u:tok@h/x?k=tok"), "h/x");
        assert_eq!(
            display_url("scim.example.com/scim/v2"),
            "scim.example.com/scim/v2"
        );
    }

    #[test]
    fn masks_plain_and_quoted_secrets_only() {
        let text = "a: 1\n    auth: { bearer_token: abc123 }\nb: \"x\"\n";
        let masked = mask_token(text, Loc::new(0, 2, 27));
        assert_eq!(
            masked,
            "a: 1\n    auth: { bearer_token: ****** }\nb: \"x\"\n"
        );
        let quoted = mask_token("  password: \"s3 #cr\\\"et\" # note\n", Loc::new(0, 1, 13));
        assert_eq!(quoted, "  password: ************ # note\n");
        let block = mask_token("  token: abc # c\n", Loc::new(0, 1, 10));
        assert_eq!(block, "  token: *** # c\n");
    }

    #[test]
    fn parse_errors_quote_auth_keys_but_no_values_and_no_url_secrets() {
        let text = [
            "    auth: { tokn: \"AQoD123secret\", basic: { username: u } }",
            "    url: https://u:tok@h.example/scim?k=tok",
            "    auth:",
            "      header: { name: X, value: s3cr3t }",
            "    assign: x",
            "",
        ]
        .join("\n");
        let (masked, auth) = mask_for_parse_error(&text);
        let expected = [
            "    auth: { tokn: ***************, basic: { username: * } }",
            "    url: https://*****@h.example/scim?*****",
            "    auth:",
            "      header: { name: *, value: ****** }",
            "    assign: x",
            "",
        ]
        .join("\n");
        assert_eq!(masked, expected);
        assert!(in_auth(&auth, Loc::new(0, 1, 13)));
        assert!(!in_auth(&auth, Loc::new(0, 1, 5)));
        assert!(in_auth(&auth, Loc::new(0, 4, 7)));
        assert!(!in_auth(&auth, Loc::new(0, 5, 5)));
        let key_token = mask_values("  auth: { AQoDYXdzEJr12345: x }", 8);
        assert_eq!(key_token, "  auth: { ****************: * }");
    }
}
