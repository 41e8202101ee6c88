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
}
