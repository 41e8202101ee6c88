//! What `roster drift` adds to the plan it prints: which drift is accepted (`--ignore-known`),
//! which entries expired or no longer match anything, and the verdict line; and the issue body
//! for scheduled runs, marked so a workflow finds and updates its one issue.

use super::markdown::{render_page, Page, PART_LIMIT};
use crate::config::known::KnownEntry;
use crate::plan::document::PlanDocument;
use crate::plan::drift::{format_date, DriftReport};
use std::fmt::Write as _;

/// The first line of every part of a drift issue body.
pub const DRIFT_MARKER: &str = "<!-- roster-drift -->";

/// The verdict line: `No drift.` or `Drift: 3 changes not accepted (2 known).`
pub fn verdict_line(report: &DriftReport) -> String {
    let known = report.known.len();
    if report.drifted() {
        let s = if report.new == 1 { "" } else { "s" };
        format!(
            "Drift: {} change{s} not accepted ({known} known).",
            report.new
        )
    } else if known > 0 {
        format!("No new drift: every change ({known}) is known.")
    } else {
        "No drift.".to_string()
    }
}

fn entry_text(e: &KnownEntry) -> String {
    let mut s = e.address.clone();
    if let Some(r) = &e.reason {
        let _ = write!(s, ": {r}");
    }
    if let Some(d) = e.expires {
        let _ = write!(s, " (expires {})", format_date(d));
    }
    s
}

/// The known, expired and unused lists as plain lines (`file` names the accepted-drift file).
fn lists(report: &DriftReport, file: &str, bullet: &str) -> String {
    let mut out = String::new();
    if !report.known.is_empty() {
        let _ = writeln!(out, "Known drift (accepted in {file}):");
        for k in &report.known {
            let _ = writeln!(out, "{bullet}{} ({})", entry_text(&k.entry), k.name);
        }
        out.push('\n');
    }
    if !report.expired.is_empty() {
        let _ = writeln!(
            out,
            "Expired entries in {file} (they no longer accept drift; renew or remove them):"
        );
        for e in &report.expired {
            let _ = writeln!(out, "{bullet}line {}: {}", e.line, entry_text(e));
        }
        out.push('\n');
    }
    if !report.unused.is_empty() {
        let _ = writeln!(
            out,
            "Entries in {file} that match no change (the drift is gone; remove them):"
        );
        for e in &report.unused {
            let _ = writeln!(out, "{bullet}line {}: {}", e.line, entry_text(e));
        }
        out.push('\n');
    }
    out
}

/// Printed after the plan's text.
pub fn render_drift_text(report: &DriftReport, file: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(file) = file {
        out.push('\n');
        out.push_str(&lists(report, file, "  "));
    } else {
        out.push('\n');
    }
    out.push_str(&verdict_line(report));
    out.push('\n');
    out
}

/// The issue body: the verdict, the accepted-drift lists, then the plan as a comment renders it,
/// every part opened by [`DRIFT_MARKER`].
pub fn render_drift_markdown(
    doc: &PlanDocument,
    report: &DriftReport,
    file: Option<&str>,
) -> Vec<String> {
    let mut preamble = format!("**{}**\n\n", verdict_line(report));
    if let Some(file) = file {
        preamble.push_str(&lists(report, &format!("`{file}`"), "- "));
    }
    render_page(
        doc,
        PART_LIMIT,
        &Page {
            marker: DRIFT_MARKER,
            preamble: &preamble,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::known::parse_date;
    use crate::plan::document::Origin;
    use crate::plan::drift::classify;
    use crate::plan::fixtures::{create_user, one, update_user};
    use crate::render::text::{render_plan, TextOptions};

    fn based() -> PlanDocument {
        let mut created = create_user("e1003", "bob@example.com");
        created.origin = Some(Origin::Change);
        let mut updated = update_user();
        updated.origin = Some(Origin::Drift);
        one(vec![updated, created])
    }

    #[test]
    fn a_base_plan_shows_this_change_apart_from_pre_existing_drift() {
        let text = render_plan(&based(), &TextOptions::default());
        let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("{s:?} in {text}"));
        assert!(
            at("  Changes from this change:\n\n  # aws:user.e1003")
                < at("  Pre-existing drift:\n\n  # aws:user.e1001")
        );
        assert!(text.contains("Plan: 1 to add, 1 to change, 0 to destroy (0 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.\n1 change from this change, 1 pre-existing drift.\n"), "{text}");
        let plain = render_plan(&one(vec![update_user()]), &TextOptions::default());
        assert!(!plain.contains("Pre-existing drift") && !plain.contains("from this change"));
        let md = crate::render::render_markdown(&based()).join("");
        assert!(
            md.contains("<summary>Changes from this change — aws: users (1 change)</summary>"),
            "{md}"
        );
        assert!(
            md.contains("<summary>Pre-existing drift — aws: users (1 change)</summary>"),
            "{md}"
        );
    }

    #[test]
    fn every_part_of_a_drift_issue_carries_the_drift_marker() {
        let changes: Vec<_> = (0..60)
            .map(|i| create_user(&format!("e{i}"), &format!("user{i}@example.com")))
            .collect();
        let doc = one(changes);
        let report = classify(&doc, &[], parse_date("2026-01-01").expect("date"));
        let parts = render_page(
            &doc,
            4_000,
            &Page {
                marker: DRIFT_MARKER,
                preamble: &format!("**{}**\n\n", verdict_line(&report)),
            },
        );
        assert!(parts.len() > 1, "split into parts");
        for p in &parts {
            assert!(p.starts_with(DRIFT_MARKER), "{p}");
            assert!(!p.contains(crate::render::MARKER), "{p}");
        }
        assert!(parts[0].contains("**Drift: 60 changes not accepted (0 known).**"));
    }

    #[test]
    fn the_verdict_counts_new_and_known_drift() {
        let doc = one(vec![update_user()]);
        let day = parse_date("2026-01-01").expect("date");
        assert_eq!(
            verdict_line(&classify(&doc, &[], day)),
            "Drift: 1 change not accepted (0 known)."
        );
        let known = KnownEntry {
            address: "aws:user.e1001".into(),
            reason: Some("accepted".into()),
            expires: None,
            line: 3,
        };
        let report = classify(&doc, std::slice::from_ref(&known), day);
        assert_eq!(
            verdict_line(&report),
            "No new drift: every change (1) is known."
        );
        assert_eq!(
            render_drift_text(&report, Some("known.yaml")),
            "\nKnown drift (accepted in known.yaml):\n  aws:user.e1001: accepted (alice@example.com)\n\nNo new drift: every change (1) is known.\n"
        );
        assert_eq!(verdict_line(&classify(&one(vec![]), &[], day)), "No drift.");
    }
}
