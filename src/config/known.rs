//! The accepted-drift file of `roster drift --ignore-known FILE`: a YAML list of addresses that
//! a team has decided to live with, each with an optional reason and expiry date. It is parsed
//! here, behind `config/` like every other YAML, and checked against the configuration before
//! anything is read from a server: a mistyped address would otherwise silently accept nothing.

use super::{load, Desired};
use crate::diag::Loc;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// One accepted drift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownEntry {
    /// The change's address, e.g. `aws:user.e1001` or `aws:user.live:9067-ab`.
    pub address: String,
    /// Why it is accepted, for the report.
    pub reason: Option<String>,
    /// The last day (UTC) it is accepted; after it the entry is reported as expired and the
    /// drift counts again.
    pub expires: Option<time::Date>,
    /// The line of the entry in the file.
    pub line: u32,
}

/// Why the file cannot be used: a line (when known) and what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownError {
    pub line: Option<u32>,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    address: Spanned<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    expires: Option<Spanned<String>>,
}

/// Parse and check the file's text: every address must name a configured target and a user or
/// group (`<target>:user.<id>`, `<target>:group.<id>`, `<target>:<kind>.live:<scim-id>`), every
/// expiry must be a date `YYYY-MM-DD`. The first problem is the error.
pub fn parse(text: &str, desired: &Desired) -> Result<Vec<KnownEntry>, KnownError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let raw: Vec<Spanned<Raw>> = serde_saphyr::from_str_with_options(text, load::yaml_options())
        .map_err(|e| {
            // The parser's hints speak of the configuration's schema; the caller's hint
            // describes this file instead.
            let d = load::yaml_error(&e, 0, text);
            KnownError {
                line: d.loc.map(|l| l.line),
                message: d.message,
            }
        })?;
    raw.into_iter()
        .map(|entry| {
            let line = Loc::of(0, &entry).line;
            let r = entry.value;
            let at = |s: &Spanned<String>| Some(Loc::of(0, s).line);
            check_address(&r.address.value, desired).map_err(|message| KnownError {
                line: at(&r.address),
                message,
            })?;
            let expires = match &r.expires {
                None => None,
                Some(s) => Some(parse_date(&s.value).ok_or_else(|| KnownError {
                    line: at(s),
                    message: format!("expires: {:?} is not a date YYYY-MM-DD", s.value),
                })?),
            };
            Ok(KnownEntry {
                address: r.address.value,
                reason: r.reason,
                expires,
                line,
            })
        })
        .collect()
}

/// The address grammar of the plan, and a target the configuration has.
fn check_address(address: &str, desired: &Desired) -> Result<(), String> {
    let bad = || {
        format!(
            "{address:?} is not an address: expected <target>:user.<id>, <target>:group.<id> or <target>:<kind>.live:<scim-id>"
        )
    };
    let (target, rest) = address.split_once(':').ok_or_else(bad)?;
    let object = rest
        .strip_prefix("user.")
        .or_else(|| rest.strip_prefix("group."))
        .ok_or_else(bad)?;
    if target.is_empty() || object.is_empty() || object == "live:" {
        return Err(bad());
    }
    if !desired.targets.iter().any(|t| t.name == target) {
        let known: Vec<&str> = desired.targets.iter().map(|t| t.name.as_str()).collect();
        return Err(format!(
            "{address:?} names no configured target {target:?} (configured: {})",
            known.join(", ")
        ));
    }
    Ok(())
}

/// `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<time::Date> {
    let mut parts = s.trim().splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    let month = time::Month::try_from(month).ok()?;
    time::Date::from_calendar_date(year, month, day).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support;

    fn desired() -> Desired {
        test_support::desired("version: 1\ntargets:\n  aws:\n    type: generic\n    url: https://scim.example.com\n    auth: { bearer_token_env: T }\n")
    }

    #[test]
    fn entries_keep_their_lines_reasons_and_dates() {
        let text = "- address: aws:user.e1\n  reason: contractor\n  expires: 2026-03-01\n- address: aws:group.live:ab-1\n";
        let e = parse(text, &desired()).expect("parses");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].line, 1);
        assert_eq!(e[0].reason.as_deref(), Some("contractor"));
        assert_eq!(e[0].expires, parse_date("2026-03-01"));
        assert_eq!(e[1].line, 4);
        assert_eq!(e[1].expires, None);
    }

    #[test]
    fn a_bad_address_date_or_key_names_its_line() {
        let d = desired();
        let e = parse("- address: aws:user.e1\n- address: crm:user.e2\n", &d).expect_err("target");
        assert_eq!(e.line, Some(2));
        assert!(
            e.message.contains("no configured target \"crm\""),
            "{}",
            e.message
        );
        let e = parse("- address: aws:person.e2\n", &d).expect_err("kind");
        assert_eq!(e.line, Some(1));
        assert!(e.message.contains("is not an address"), "{}", e.message);
        let e = parse("- address: aws:user.e2\n  expires: 2026-13-01\n", &d).expect_err("date");
        assert_eq!(e.line, Some(2));
        let e = parse("- address: aws:user.e2\n  until: x\n", &d).expect_err("key");
        assert_eq!(e.line, Some(2), "{}", e.message);
    }
}
