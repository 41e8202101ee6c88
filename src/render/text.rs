//! The human plan for a terminal, laid out like Terraform's (reconciler_anchors section 1.5): a
//! legend of the marks present, one block per object with what happens and why, per-target
//! "not touching", request and safety-gate lines, and the summary line scripts parse (SPEC
//! section 4).

use super::block::{change_lines, Fate, Line, Mark};
use crate::plan::document::{PlanDocument, SafetyGate, Summary, TargetPlan};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// How to render a plan for a terminal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextOptions {
    /// ANSI colours; never set when the output is not a terminal or `NO_COLOR` is set.
    pub color: bool,
    /// `--resource` was used: warn that the plan may be incomplete.
    pub targeting: bool,
    /// The plan was saved with `--out` to this file.
    pub saved_to: Option<String>,
}

/// The no-change line (SPEC section 4); scripts match it exactly.
pub const NO_CHANGES: &str = "No changes. Live state matches the configuration.";

/// The targeting warning (SPEC section 1: printed whenever `--resource` is used).
pub const TARGETING_WARNING: &str = "Warning: Targeting is in effect — this plan may not include \
every change the configuration asks for. Use --resource only for exceptional cases.";

/// Render a plan as `roster plan` prints it.
pub fn render_plan(doc: &PlanDocument, opts: &TextOptions) -> String {
    let footer = match &opts.saved_to {
        Some(f) => Footer::Saved(f),
        None => Footer::Unsaved,
    };
    render(doc, opts.color, opts.targeting, footer)
}

/// Render a plan read back from `FILE` (for `roster show`): the footer names the command that
/// applies exactly it instead of the `--out` note.
pub fn render_saved_plan(doc: &PlanDocument, color: bool, file: &str) -> String {
    render(doc, color, false, Footer::Show(file))
}

enum Footer<'a> {
    Unsaved,
    Saved(&'a str),
    Show(&'a str),
}

/// ANSI styling, a no-op when colour is off so callers need no branches.
#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn wrap(self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn bold(self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn mark(self, m: Mark) -> String {
        match m {
            Mark::Create => self.wrap("32", "+"),
            Mark::Update => self.wrap("33", "~"),
            Mark::Destroy => self.wrap("31", "-"),
            Mark::Deactivate => self.wrap("31", "⊘"),
            Mark::Context | Mark::Comment | Mark::Note => " ".to_string(),
        }
    }
}

/// The sums of every target's summary; the summary line is over the whole plan.
pub(crate) fn total(doc: &PlanDocument) -> Summary {
    let mut s = Summary::default();
    for t in &doc.targets {
        let u = &t.summary;
        s.add += u.add;
        s.change += u.change;
        s.destroy += u.destroy;
        s.deactivate += u.deactivate;
        s.delete += u.delete;
        s.unmanaged += u.unmanaged;
        s.ignored += u.ignored;
    }
    s
}

/// Whether the plan would do anything at all (conflicts included: they need attention).
pub(crate) fn has_changes(doc: &PlanDocument) -> bool {
    doc.targets.iter().any(|t| !t.changes.is_empty())
}

/// The summary line of SPEC section 4, exactly.
pub fn summary_line(doc: &PlanDocument) -> String {
    if !has_changes(doc) {
        return NO_CHANGES.to_string();
    }
    let s = total(doc);
    format!(
        "Plan: {} to add, {} to change, {} to destroy ({} deactivate, {} delete); {} unmanaged and {} ignored not touched.",
        s.add, s.change, s.destroy, s.deactivate, s.delete, s.unmanaged, s.ignored
    )
}

/// `Not touching: 14 unmanaged users, 2 ignored groups, 1 protected.`, or `None` when nothing
/// was left alone.
pub fn not_touching_line(t: &TargetPlan) -> Option<String> {
    let n = &t.not_touching;
    let plural = |count: u64, what: &str, one: &str, many: &str| {
        (count > 0).then(|| {
            if count == 1 {
                format!("1 {what}{one}")
            } else {
                format!("{count} {what}{many}")
            }
        })
    };
    let parts: Vec<String> = [
        plural(n.unmanaged_users, "unmanaged ", "user", "users"),
        plural(n.unmanaged_groups, "unmanaged ", "group", "groups"),
        plural(n.ignored_users, "ignored ", "user", "users"),
        plural(n.ignored_groups, "ignored ", "group", "groups"),
        plural(n.released, "released", "", ""),
        plural(n.protected, "protected", "", ""),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| format!("Not touching: {}.", parts.join(", ")))
}

/// `Apply will send 7 requests (0 reads, 7 writes, 3 membership operations), about 0.3 s at the
/// target's rate.`
pub fn requests_line(t: &TargetPlan) -> String {
    let r = &t.requests;
    let n = r.reads + r.writes;
    let s = if n == 1 { "" } else { "s" };
    format!(
        "Apply will send {n} request{s} ({} reads, {} writes, {} membership operations), about {} s at the target's rate.",
        r.reads,
        r.writes,
        r.member_operations,
        seconds(r.seconds_at_rate)
    )
}

fn seconds(s: f64) -> String {
    if s >= 10.0 {
        format!("{s:.0}")
    } else {
        format!("{s:.1}")
    }
}

/// A number from a gate: integers without a fraction, others with at most two decimals.
pub(crate) fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        let s = format!("{x:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The sentence for a tripped gate.
pub fn gate_line(g: &SafetyGate) -> String {
    let (observed, limit) = if g.gate.ends_with("percent") {
        (
            format!("{}% of owned objects destroyed", number(g.observed)),
            format!("{}%", number(g.limit)),
        )
    } else {
        let n = number(g.observed);
        let s = if g.observed == 1.0 { "" } else { "s" };
        (format!("{n} destructive change{s}"), number(g.limit))
    };
    format!(
        "Safety gate {} tripped: {observed}, limit {limit}. Apply is blocked; pass --allow-destroy to override.",
        g.gate
    )
}

fn legend(doc: &PlanDocument, paint: Paint) -> String {
    let marks: BTreeSet<Mark> = doc
        .targets
        .iter()
        .flat_map(|t| &t.changes)
        .filter_map(|c| Fate::of(c).mark())
        .collect();
    let mut out = String::from("Resource actions are indicated with the following symbols:\n");
    for m in marks {
        let what = match m {
            Mark::Create => "create",
            Mark::Update => "update in-place",
            Mark::Destroy => "destroy",
            Mark::Deactivate => "deactivate",
            Mark::Context | Mark::Comment | Mark::Note => continue,
        };
        let _ = writeln!(out, "  {} {what}", paint.mark(m));
    }
    out
}

/// One block line: two spaces, then four per depth, then the mark column, then the text.
fn write_line(out: &mut String, l: &Line, paint: Paint) {
    let indent = "    ".repeat(l.depth);
    let body = match l.mark {
        Mark::Note => paint.bold(&format!("# {}", l.text)),
        Mark::Comment => format!("# {}", l.text),
        _ => l.text.clone(),
    };
    let _ = match l.mark {
        Mark::Note => writeln!(out, "  {body}"),
        _ => writeln!(out, "  {indent}{} {body}", paint.mark(l.mark)),
    };
}

fn target_section(out: &mut String, t: &TargetPlan, paint: Paint) {
    let _ = writeln!(
        out,
        "{}",
        paint.bold(&format!("Target {} ({}, {}):", t.name, t.url, t.dialect))
    );
    out.push('\n');
    if t.changes.is_empty() {
        out.push_str("  No changes for this target.\n\n");
    }
    for c in &t.changes {
        for l in change_lines(c) {
            write_line(out, &l, paint);
        }
        out.push('\n');
    }
    if let Some(l) = not_touching_line(t) {
        let _ = writeln!(out, "{l}");
    }
    if !t.changes.is_empty() {
        let _ = writeln!(out, "{}", requests_line(t));
    }
    for g in t.safety.iter().filter(|g| g.tripped) {
        let _ = writeln!(out, "{}", paint.wrap("1;31", &gate_line(g)));
    }
    out.push('\n');
}

fn render(doc: &PlanDocument, color: bool, targeting: bool, footer: Footer<'_>) -> String {
    let paint = Paint(color);
    let mut out = String::new();
    if targeting {
        let _ = writeln!(out, "{}\n", paint.wrap("1;33", TARGETING_WARNING));
    }
    if !has_changes(doc) {
        for t in &doc.targets {
            if let Some(l) = not_touching_line(t) {
                let _ = writeln!(out, "{}: {l}", t.name);
            }
        }
        let _ = writeln!(out, "{}", paint.bold(NO_CHANGES));
        if let Footer::Saved(f) = footer {
            let _ = writeln!(out, "\nSaved the plan to: {f}");
        }
        return out;
    }
    out.push_str(&legend(doc, paint));
    out.push_str("\nroster will perform the following actions:\n\n");
    for t in &doc.targets {
        target_section(&mut out, t, paint);
    }
    let _ = writeln!(out, "{}", paint.bold(&summary_line(doc)));
    match footer {
        Footer::Unsaved => out.push_str(
            "\nNote: You didn't use the --out option to save this plan, so roster can't guarantee \
             to take exactly these actions if you run \"roster apply\" now.\n",
        ),
        Footer::Saved(f) => {
            let _ = write!(
                out,
                "\nSaved the plan to: {f}\n\nTo perform exactly these actions, run: roster apply {f}\n"
            );
        }
        Footer::Show(f) => {
            let _ = write!(
                out,
                "\nTo perform exactly these actions, run: roster apply {f}\n"
            );
        }
    }
    out
}
