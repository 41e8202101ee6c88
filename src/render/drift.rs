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
