//! The human plan for a terminal, laid out like Terraform's (docs/contract.md#text-and-markdown): a
//! legend of the marks present, one block per object with what happens and why, per-target
//! "not touching", request and safety-gate lines, and the summary line scripts parse
//! (docs/contract.md#summary-line).

use super::block::{
    by_object, object_lines, short_path_legend, shows_short_paths, Fate, Line, Mark,
};
use crate::escape::escape_control;
use crate::plan::document::{Change, Origin, PlanDocument, SafetyGate, Summary, TargetPlan};
use crate::style::{Paint, Style};
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
    /// `-v`: also name the objects the plan leaves alone, under the "Not touching" line.
    pub verbose: bool,
    /// `-q`: the summary lines only.
    pub quiet: bool,
}

/// How many objects left alone text and markdown name before "and N more" (JSON has all).
pub const LEFT_ALONE_SHOWN: usize = 50;

/// The no-change line (docs/contract.md#summary-line); scripts match it exactly.
pub const NO_CHANGES: &str = "No changes. Live state matches the configuration.";

/// The targeting warning (docs/contract.md#plan-flags: printed whenever `--resource` is used).
pub const TARGETING_WARNING: &str = "Warning: Targeting is in effect — this plan may not include \
every change the configuration asks for. Use --resource only for exceptional cases.";

/// Render a plan as `roster plan` prints it.
pub fn render_plan(doc: &PlanDocument, opts: &TextOptions) -> String {
    let footer = match &opts.saved_to {
        Some(f) => Footer::Saved(f),
        None => Footer::Unsaved,
    };
    if opts.quiet {
        return summary_lines(doc, Paint::new(opts.color));
    }
    render(doc, opts.color, opts.targeting, footer, opts.verbose)
}

/// Render a plan read back from `FILE` (for `roster show`): the footer names the command that
/// applies exactly it instead of the `--out` note.
pub fn render_saved_plan(doc: &PlanDocument, color: bool, file: &str) -> String {
    render(doc, color, false, Footer::Show(file), false)
}

/// Render a plan as `roster apply` shows it before applying: no note about saving it.
pub fn render_plan_to_apply(doc: &PlanDocument, color: bool) -> String {
    render(doc, color, false, Footer::Applying, false)
}

enum Footer<'a> {
    Applying,
    Unsaved,
    Saved(&'a str),
    Show(&'a str),
}

/// The plan's styles on top of the one painter: bold headings and a colour per mark.
trait PlanPaint {
    fn bold(self, s: &str) -> String;
    fn mark(self, m: Mark) -> String;
}

impl PlanPaint for Paint {
    fn bold(self, s: &str) -> String {
        self.wrap(Style::Bold, s)
    }
    fn mark(self, m: Mark) -> String {
        match m {
            Mark::Create => self.wrap(Style::Green, "+"),
            Mark::Update => self.wrap(Style::Yellow, "~"),
            Mark::Destroy => self.wrap(Style::Red, "-"),
            Mark::Deactivate => self.wrap(Style::Red, "⊘"),
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
        s.conflicts += u.conflicts;
    }
    s
}

/// The conflicts of a plan, counted from its changes rather than its summary, so that a plan
/// saved before the summary counted them still shows them.
pub fn conflict_count(doc: &PlanDocument) -> u64 {
    doc.targets
        .iter()
        .flat_map(|t| &t.changes)
        .filter(|c| c.reason == crate::plan::Reason::Conflict)
        .count() as u64
}

/// `2 conflicts: not changed; run roster explain ADDR for each.` (docs/contract.md#summary-line), its own line under
/// the summary so a conflict is never mistaken for an empty plan; `None` without conflicts.
pub fn conflicts_line(doc: &PlanDocument) -> Option<String> {
    match conflict_count(doc) {
        0 => None,
        1 => Some("1 conflict: not changed; run roster explain ADDR for it.".to_string()),
        n => Some(format!(
            "{n} conflicts: not changed; run roster explain ADDR for each."
        )),
    }
}

/// Whether the plan would do anything at all (conflicts included: they need attention).
pub(crate) fn has_changes(doc: &PlanDocument) -> bool {
    doc.targets.iter().any(|t| !t.changes.is_empty())
}

/// The summary line of docs/contract.md#summary-line, exactly.
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
    // A target with no fixed rate (generic, embedded) has no time to estimate: it is as fast as
    // the server answers, slowing down only if it says 429.
    let when = if r.seconds_at_rate > 0.0 {
        format!(
            "about {} s at the target's rate",
            seconds(r.seconds_at_rate)
        )
    } else {
        "the target has no fixed rate".to_string()
    };
    format!(
        "Apply will send {} ({}, {}, {}); {when}.",
        count(r.reads + r.writes, "request"),
        count(r.reads, "read"),
        count(r.writes, "write"),
        count(r.member_operations, "membership operation"),
    )
}

fn count(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Seconds with the precision that matters: hundredths under one second, tenths under ten.
fn seconds(s: f64) -> String {
    if s >= 10.0 {
        format!("{s:.0}")
    } else if s >= 1.0 {
        format!("{s:.1}")
    } else {
        format!("{s:.2}")
    }
}

/// A number from a gate: integers without a fraction, others with at most two decimals.
/// The sentence for a tripped gate.
pub fn gate_line(g: &SafetyGate) -> String {
    g.tripped_sentence()
}

fn legend(doc: &PlanDocument, paint: Paint) -> String {
    let marks: BTreeSet<Mark> = doc
        .targets
        .iter()
        .flat_map(|t| &t.changes)
        .filter_map(|c| Fate::of(c).mark())
        .collect();
    if marks.is_empty() {
        // Only conflicts: nothing will be done, so there is no symbol to explain.
        return String::new();
    }
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
    // Lines carry live and configured values (the header line quotes names raw).
    let text = escape_control(&l.text);
    let body = match l.mark {
        Mark::Note => paint.bold(&format!("# {text}")),
        Mark::Comment => format!("# {text}"),
        _ => text.into_owned(),
    };
    let _ = match l.mark {
        Mark::Note => writeln!(out, "  {body}"),
        _ => writeln!(out, "  {indent}{} {body}", paint.mark(l.mark)),
    };
}

/// The objects a target leaves alone, one per line under the "Not touching" line, capped.
pub(crate) fn left_alone_lines(t: &TargetPlan) -> Vec<String> {
    let all = &t.not_touching.objects;
    let width = all
        .iter()
        .take(LEFT_ALONE_SHOWN)
        .map(|o| o.why.as_str().len())
        .max()
        .unwrap_or(0);
    let mut out: Vec<String> = all
        .iter()
        .take(LEFT_ALONE_SHOWN)
        .map(|o| {
            format!(
                "{:<width$}  {} ({})",
                o.why.as_str(),
                o.address,
                escape_control(&o.name)
            )
        })
        .collect();
    if all.len() > LEFT_ALONE_SHOWN {
        out.push(format!(
            "and {} more (--format json lists them all)",
            all.len() - LEFT_ALONE_SHOWN
        ));
    }
    out
}

fn not_touching(out: &mut String, t: &TargetPlan, prefix: &str, verbose: bool) {
    let Some(l) = not_touching_line(t) else {
        return;
    };
    let _ = writeln!(out, "{prefix}{l}");
    if verbose {
        for o in left_alone_lines(t) {
            let _ = writeln!(out, "  {o}");
        }
    }
}

fn target_section(out: &mut String, t: &TargetPlan, paint: Paint, verbose: bool) {
    let _ = writeln!(
        out,
        "{}",
        paint.bold(&format!(
            "Target {} ({}, {}):",
            escape_control(&t.name),
            escape_control(&t.url),
            t.dialect
        ))
    );
    out.push('\n');
    if t.changes.is_empty() {
        out.push_str("  No changes for this target.\n\n");
    }
    // With `plan --base`, this change's changes and the drift that was already there apart.
    for (title, changes) in by_origin(&t.changes) {
        if let Some(title) = title {
            let _ = writeln!(out, "  {}\n", paint.bold(&format!("{title}:")));
        }
        for object in by_object(&changes) {
            for l in object_lines(&object) {
                write_line(out, &l, paint);
            }
            out.push('\n');
        }
    }
    not_touching(out, t, "", verbose);
    if t.requests.reads + t.requests.writes > 0 {
        let _ = writeln!(out, "{}", requests_line(t));
    }
    for g in t.safety.iter().filter(|g| g.tripped) {
        let _ = writeln!(out, "{}", paint.wrap(Style::BoldRed, &gate_line(g)));
    }
    out.push('\n');
}

/// The section titles of a `plan --base`.
pub const FROM_THIS_CHANGE: &str = "Changes from this change";
pub const PRE_EXISTING_DRIFT: &str = "Pre-existing drift";

/// Changes grouped by origin, titled, when any change has one (`plan --base`); otherwise one
/// untitled group of all of them.
pub(crate) fn by_origin(changes: &[Change]) -> Vec<(Option<&'static str>, Vec<&Change>)> {
    if changes.iter().all(|c| c.origin.is_none()) {
        return vec![(None, changes.iter().collect())];
    }
    [
        (FROM_THIS_CHANGE, Some(Origin::Change)),
        (PRE_EXISTING_DRIFT, Some(Origin::Drift)),
    ]
    .into_iter()
    .map(|(title, origin)| {
        // a change without an origin in a --base plan is the change's (never hide one)
        let of: Vec<&Change> = changes
            .iter()
            .filter(|c| c.origin.or(Some(Origin::Change)) == origin)
            .collect();
        (Some(title), of)
    })
    .filter(|(_, of)| !of.is_empty())
    .collect()
}

/// `1 change from this change, 2 pre-existing drift.` for a `plan --base`, else `None`.
pub fn origin_line(doc: &PlanDocument) -> Option<String> {
    let changes = doc.targets.iter().flat_map(|t| &t.changes);
    if changes.clone().all(|c| c.origin.is_none()) {
        return None;
    }
    let drift = changes
        .clone()
        .filter(|c| c.origin == Some(Origin::Drift))
        .count();
    let own = changes.count() - drift;
    let s = if own == 1 { "" } else { "s" };
    Some(format!(
        "{own} change{s} from this change, {drift} pre-existing drift."
    ))
}

/// `Checksum: sha256:...`: what `apply --checksum` takes to apply only the plan reviewed.
pub fn checksum_line(doc: &PlanDocument) -> String {
    format!("Checksum: {}", doc.checksum)
}

/// `-q`: the summary line and the lines that belong to it, nothing else.
fn summary_lines(doc: &PlanDocument, paint: Paint) -> String {
    let mut out = format!("{}\n", paint.bold(&summary_line(doc)));
    if let Some(line) = conflicts_line(doc) {
        let _ = writeln!(out, "{}", paint.bold(&line));
    }
    if let Some(l) = origin_line(doc) {
        let _ = writeln!(out, "{l}");
    }
    out
}

fn render(
    doc: &PlanDocument,
    color: bool,
    targeting: bool,
    footer: Footer<'_>,
    verbose: bool,
) -> String {
    let paint = Paint::new(color);
    let mut out = String::new();
    if targeting {
        let _ = writeln!(
            out,
            "{}\n",
            paint.wrap(Style::BoldYellow, TARGETING_WARNING)
        );
    }
    if !has_changes(doc) {
        for t in &doc.targets {
            not_touching(
                &mut out,
                t,
                &format!("{}: ", escape_control(&t.name)),
                verbose,
            );
        }
        let _ = writeln!(out, "{}", paint.bold(NO_CHANGES));
        if let Footer::Saved(f) = footer {
            let _ = writeln!(out, "\nSaved the plan to: {f}");
        }
        return out;
    }
    let legend = legend(doc, paint);
    if !legend.is_empty() {
        out.push_str(&legend);
        out.push('\n');
    }
    out.push_str("roster will perform the following actions:\n\n");
    for t in &doc.targets {
        target_section(&mut out, t, paint, verbose);
    }
    if shows_short_paths(doc.targets.iter().flat_map(|t| &t.changes)) {
        let _ = writeln!(out, "{}\n", short_path_legend());
    }
    out.push_str(&summary_lines(doc, paint));
    let _ = writeln!(out, "{}", checksum_line(doc));
    match footer {
        Footer::Applying => {}
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

#[cfg(test)]
mod tests;
