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
mod tests {
    use super::*;
    use crate::plan::document::{Action, Address, ObjectKind, Reason};
    use crate::plan::fixtures::*;
    use serde_json::json;

    fn plain(doc: &PlanDocument) -> String {
        render_plan(doc, &TextOptions::default())
    }

    #[test]
    fn create() {
        insta::assert_snapshot!(plain(&one(vec![create_user("e1003", "bob@example.com")])), @r#"
            Resource actions are indicated with the following symbols:
              + create

            roster will perform the following actions:

            Target aws (https://scim.example.com/aws/scim/v2, aws-identity-center):

              # aws:user.e1003 (bob@example.com) will be created
              # (because it is in the directory but missing from this target)
              + user "bob@example.com" {
                  + userName    = "bob@example.com"
                  + displayName = "Bob Example"
                  + emails      = [{"value":"bob@example.com","type":"work","primary":true}]
                  + active      = true
                }

            Apply will send 1 request (0 reads, 1 write, 0 membership operations); about 0.04 s at the target's rate.

            Plan: 1 to add, 0 to change, 0 to destroy (0 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.
            Checksum: sha256:96a7d8130d751cd792c7dda1001a3e723a8bead7f4a743f6fd1f9d8304893c9c

            Note: You didn't use the --out option to save this plan, so roster can't guarantee to take exactly these actions if you run "roster apply" now.
            "#);
    }

    #[test]
    fn update_folds_unchanged_attributes() {
        let mut c = update_user();
        // An attribute present on both sides with the same value is folded too.
        c.before.insert("department".into(), json!("R&D"));
        c.after.insert("department".into(), json!("R&D"));
        c.before.insert("nickName".into(), json!("Al"));
        c.after.insert("preferredLanguage".into(), json!("en"));
        insta::assert_snapshot!(plain(&one(vec![c])), @r#"
            Resource actions are indicated with the following symbols:
              ~ update in-place

            roster will perform the following actions:

            Target aws (https://scim.example.com/aws/scim/v2, aws-identity-center):

              # aws:user.e1001 (alice@example.com) will be updated in-place
              # (because attributes differ from the directory)
              ~ user "alice@example.com" {
                  ~ title             = "Engineer" -> "Staff Engineer"
                  - nickName          = "Al" -> null
                  + preferredLanguage = "en"
                    # (6 unchanged attributes hidden)
                }

            Apply will send 1 request (0 reads, 1 write, 0 membership operations); about 0.04 s at the target's rate.

            Plan: 0 to add, 1 to change, 0 to destroy (0 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.
            Checksum: sha256:b451729f3782e722ad9b1a19f25c5a663311b01d3150d0cfb8aa650fcd646ae5

            Note: You didn't use the --out option to save this plan, so roster can't guarantee to take exactly these actions if you run "roster apply" now.
            "#);
    }

    #[test]
    fn multi_line_values_are_diffed_line_by_line() {
        let mut c = update_user();
        c.unchanged_attributes = 0;
        c.before = obj(
            json!({"addresses[type eq \"work\"].streetAddress": "1 Main St\nFloor 2\nSpringfield"}),
        );
        c.after = obj(
            json!({"addresses[type eq \"work\"].streetAddress": "1 Main St\nFloor 3\nSpringfield"}),
        );
        insta::assert_snapshot!(plain(&one(vec![c])), @r#"
            Resource actions are indicated with the following symbols:
              ~ update in-place

            roster will perform the following actions:

            Target aws (https://scim.example.com/aws/scim/v2, aws-identity-center):

              # aws:user.e1001 (alice@example.com) will be updated in-place
              # (because attributes differ from the directory)
              ~ user "alice@example.com" {
                  ~ addresses[type eq "work"].streetAddress = <<-EOT
                        1 Main St
                      - Floor 2
                      + Floor 3
                        Springfield
                    EOT
                }

            Apply will send 1 request (0 reads, 1 write, 0 membership operations); about 0.04 s at the target's rate.

            Plan: 0 to add, 1 to change, 0 to destroy (0 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.
            Checksum: sha256:59e636fbea407f4f4c27d8f6efae4a9eef4bf00f60e4690cea63285752f22eaa

            Note: You didn't use the --out option to save this plan, so roster can't guarantee to take exactly these actions if you run "roster apply" now.
            "#);
    }

    #[test]
    fn deactivate() {
        insta::assert_snapshot!(plain(&one(vec![deactivate_user()])), @r#"
            Resource actions are indicated with the following symbols:
              ⊘ deactivate

            roster will perform the following actions:

            Target aws (https://scim.example.com/aws/scim/v2, aws-identity-center):

              # aws:user.e1002 (carol@example.com) will be deactivated
              # (because it is no longer in the directory)
              ⊘ user "carol@example.com" {
                  ~ active = true -> false
                    # (7 unchanged attributes hidden)
                }

            Apply will send 1 request (0 reads, 1 write, 0 membership operations); about 0.04 s at the target's rate.

            Plan: 0 to add, 0 to change, 1 to destroy (1 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.
            Checksum: sha256:152261e51514c459d89dc47c4b1e2137b05eeee8086adffdf943d89938c7a27f

            Note: You didn't use the --out option to save this plan, so roster can't guarantee to take exactly these actions if you run "roster apply" now.
            "#);
    }

    #[test]
    fn reactivate() {
        let mut c = deactivate_user();
        c.actions = vec![Action::Reactivate];
        c.reason = Reason::ActiveInDirectory;
        std::mem::swap(&mut c.before, &mut c.after);
        insta::assert_snapshot!(plain(&one(vec![c])), @r#"
            Resource actions are indicated with the following symbols:
              ~ update in-place

            roster will perform the following actions:

            Target aws (https://scim.example.com/aws/scim/v2, aws-identity-center):

              # aws:user.e1002 (carol@example.com) will be reactivated
              # (because it is active again in the directory)
              ~ user "carol@example.com" {
                  ~ active = false -> true
                    # (7 unchanged attributes hidden)
                }

            Apply will send 1 request (0 reads, 1 write, 0 membership operations); about 0.04 s at the target's rate.

            Plan: 0 to add, 1 to change, 0 to destroy (0 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.
            Checksum: sha256:3e0d0d3c8b6d34dca7b0e8cff9b5e728e17b249a112059013744ec6ffa4cd50f

            Note: You didn't use the --out option to save this plan, so roster can't guarantee to take exactly these actions if you run "roster apply" now.
            "#);
    }

    #[test]
    fn delete() {
        let mut user = change(
            "aws:user.live:9067-ab",
            "mallory@example.com",
            ObjectKind::User,
            &[Action::Delete],
            Reason::UnmanagedPolicy,
        );
        user.id = Some("9067-ab".into());
        let mut group = change(
            "aws:group.old",
            "Old Team",
            ObjectKind::Group,
            &[Action::Delete],
            Reason::RemovedFromDirectory,
        );
        group.before = obj(json!({"displayName": "Old Team", "externalId": "old"}));
        insta::assert_snapshot!(plain(&one(vec![user, group])), @r#"
            Resource actions are indicated with the following symbols:
              - destroy

            roster will perform the following actions:

            Target aws (https://scim.example.com/aws/scim/v2, aws-identity-center):

              # aws:user.live:9067-ab (mallory@example.com) will be destroyed
              # (because it is not in the directory and the unmanaged policy claims it)
              - user "mallory@example.com" {
                    id = "9067-ab"
                }

              # aws:group.old (Old Team) will be destroyed
              # (because it is no longer in the directory)
              - group "Old Team" {
                  - displayName = "Old Team"
                  - externalId  = "old"
                }

            Apply will send 2 requests (0 reads, 2 writes, 0 membership operations); about 0.08 s at the target's rate.

            Plan: 0 to add, 0 to change, 2 to destroy (0 deactivate, 2 delete); 0 unmanaged and 0 ignored not touched.
            Checksum: sha256:70710c63a389594e11e7cafd8ca30e166f7bbead4acabc6fe0bb8ccee869b3c7

            Note: You didn't use the --out option to save this plan, so roster can't guarantee to take exactly these actions if you run "roster apply" now.
            "#);
    }

    #[test]
    fn membership_add_and_remove() {
        insta::assert_snapshot!(plain(&one(vec![membership()])), @r#"
            Resource actions are indicated with the following symbols:
              ~ update in-place

            roster will perform the following actions:

            Target aws (https://scim.example.com/aws/scim/v2, aws-identity-center):

              # aws:group.eng (Engineering) members will change
              # (because its live members differ from the directory)
              ~ group "Engineering" {
                  + member "alice@example.com" (u-1)
                  + member "bob@example.com" (created by this plan)
                  - member "dave@example.com" (u-4)
                }

            Apply will send 1 request (0 reads, 1 write, 3 membership operations); about 0.04 s at the target's rate.

            Plan: 0 to add, 1 to change, 0 to destroy (0 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.
            Checksum: sha256:189056ebab1678691444aa033e069a28520c12fefe2658d260f439c7aeefde76

            Note: You didn't use the --out option to save this plan, so roster can't guarantee to take exactly these actions if you run "roster apply" now.
            "#);
    }

    #[test]
    fn group_create_lists_its_members() {
        let mut g = membership();
        g.actions = vec![Action::Create];
        g.reason = Reason::Missing;
        g.id = None;
        g.members_removed.clear();
        g.after = obj(
            json!({"displayName": "Engineering", "description": "Builds things.\nOwns the platform."}),
        );
        insta::assert_snapshot!(plain(&one(vec![g])), @r#"
            Resource actions are indicated with the following symbols:
              + create

            roster will perform the following actions:

            Target aws (https://scim.example.com/aws/scim/v2, aws-identity-center):

              # aws:group.eng (Engineering) will be created
              # (because it is in the directory but missing from this target)
              + group "Engineering" {
                  + displayName = "Engineering"
                  + description = <<-EOT
                      + Builds things.
                      + Owns the platform.
                    EOT
                  + member "alice@example.com" (u-1)
                  + member "bob@example.com" (created by this plan)
                }

            Apply will send 1 request (0 reads, 1 write, 2 membership operations); about 0.04 s at the target's rate.

            Plan: 1 to add, 0 to change, 0 to destroy (0 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.
            Checksum: sha256:c89436ad95367a729c5fdb5ba1c8b782b3b8f512a352b9de7a7b7fd30cd7b4c2

            Note: You didn't use the --out option to save this plan, so roster can't guarantee to take exactly these actions if you run "roster apply" now.
            "#);
    }

    #[test]
    fn conflict_says_nothing_will_change() {
        let mut c = change(
            "aws:user.e1005",
            "erin@example.com",
            ObjectKind::User,
            &[],
            Reason::Conflict,
        );
        c.detail = Some(
            "userName erin@example.com matches live user 11-22 whose externalId is e9999".into(),
        );
        insta::assert_snapshot!(plain(&one(vec![c])), @r#"
            roster will perform the following actions:

            Target aws (https://scim.example.com/aws/scim/v2, aws-identity-center):

              # aws:user.e1005 (erin@example.com) is in conflict; no changes will be made to it
              # (because userName erin@example.com matches live user 11-22 whose externalId is e9999)
              # (to resolve: fix the live externalId, `release` it, or change `match`; roster explain aws:user.e1005)


            Plan: 0 to add, 0 to change, 0 to destroy (0 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.
            1 conflict: not changed; run roster explain ADDR for it.
            Checksum: sha256:1cab07d222b51fe349502c6ce355e2cb6604f3333398606e0e3f2c3982fca97e

            Note: You didn't use the --out option to save this plan, so roster can't guarantee to take exactly these actions if you run "roster apply" now.
            "#);
    }

    #[test]
    fn tripped_gate() {
        let changes: Vec<_> = (0..3)
            .map(|i| {
                let mut c = deactivate_user();
                c.address = Address::directory("aws", ObjectKind::User, &format!("e20{i}"));
                c.name = format!("u{i}@example.com");
                c
            })
            .collect();
        let mut d = one(changes);
        d.targets[0].safety = vec![
            SafetyGate {
                gate: "max_destroy".into(),
                limit: 2.0,
                observed: 3.0,
                tripped: true,
            },
            SafetyGate {
                gate: "max_destroy_percent".into(),
                limit: 10.0,
                observed: 37.5,
                tripped: true,
            },
        ];
        d.targets[0].not_touching = crate::plan::document::NotTouching {
            unmanaged_users: 14,
            ignored_groups: 2,
            protected: 1,
            ..Default::default()
        };
        d.targets[0].summary.unmanaged = 14;
        d.targets[0].summary.ignored = 2;
        insta::assert_snapshot!(plain(&d), @r#"
            Resource actions are indicated with the following symbols:
              ⊘ deactivate

            roster will perform the following actions:

            Target aws (https://scim.example.com/aws/scim/v2, aws-identity-center):

              # aws:user.e200 (u0@example.com) will be deactivated
              # (because it is no longer in the directory)
              ⊘ user "u0@example.com" {
                  ~ active = true -> false
                    # (7 unchanged attributes hidden)
                }

              # aws:user.e201 (u1@example.com) will be deactivated
              # (because it is no longer in the directory)
              ⊘ user "u1@example.com" {
                  ~ active = true -> false
                    # (7 unchanged attributes hidden)
                }

              # aws:user.e202 (u2@example.com) will be deactivated
              # (because it is no longer in the directory)
              ⊘ user "u2@example.com" {
                  ~ active = true -> false
                    # (7 unchanged attributes hidden)
                }

            Not touching: 14 unmanaged users, 2 ignored groups, 1 protected.
            Apply will send 3 requests (0 reads, 3 writes, 0 membership operations); about 0.12 s at the target's rate.
            Safety gate max_destroy tripped: 3 destructive changes, limit 2. Apply is blocked; pass --allow-destroy to override.
            Safety gate max_destroy_percent tripped: 37.5% of owned objects destroyed, limit 10%. Apply is blocked; pass --allow-destroy to override.

            Plan: 0 to add, 0 to change, 3 to destroy (3 deactivate, 0 delete); 14 unmanaged and 2 ignored not touched.
            Checksum: sha256:d9f49e5fc8a62296e2a0931994f6cecb495a163a344a145640e8649da7fcfce0

            Note: You didn't use the --out option to save this plan, so roster can't guarantee to take exactly these actions if you run "roster apply" now.
            "#);
    }

    #[test]
    fn a_group_with_attribute_and_member_changes_is_one_block() {
        let mut update = change(
            "aws:group.eng",
            "Engineering",
            ObjectKind::Group,
            &[Action::Update],
            Reason::AttributeMismatch,
        );
        update.before = obj(json!({"displayName": "eng"}));
        update.after = obj(json!({"displayName": "Engineering"}));
        update.unchanged_attributes = 1;
        let mut removes = membership();
        removes.actions = vec![Action::RemoveMembers];
        let mut adds = membership();
        adds.actions = vec![Action::AddMembers];
        adds.members_removed.clear();
        removes.members_added.clear();
        let text = plain(&one(vec![update, adds, removes]));
        assert_eq!(
            text.matches("~ group \"Engineering\" {").count(),
            1,
            "{text}"
        );
        assert!(text.contains(
            "  # (because attributes differ from the directory, and its live members differ from the directory)\n  ~ group \"Engineering\" {\n      ~ displayName = \"eng\" -> \"Engineering\"\n        # (1 unchanged attribute hidden)\n      + member \"alice@example.com\" (u-1)\n      + member \"bob@example.com\" (created by this plan)\n      - member \"dave@example.com\" (u-4)\n    }\n"
        ), "{text}");
        // counted once, as the summary line always did
        assert!(text.contains("Plan: 0 to add, 1 to change,"), "{text}");
    }

    #[test]
    fn references_show_names_and_enterprise_paths_are_shortened_with_a_legend() {
        let mut c = update_user();
        let path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value";
        c.before = obj(json!({ path: "s-1" }));
        c.after = obj(json!({ path: {"$user_ref": "aws:user.e1003"} }));
        c.notes.refs.insert(
            path.into(),
            crate::plan::document::RefNames {
                before: Some("alice@example.com".into()),
                after: Some("bob@example.com".into()),
            },
        );
        let text = plain(&one(vec![c]));
        assert!(
            text.contains("  ~ enterprise:manager.value = \"alice@example.com\" (s-1) -> \"bob@example.com\" (id known after apply)\n"),
            "{text}"
        );
        assert!(text.contains(
            "\nenterprise: stands for urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:\n\nPlan:"
        ));
        let json = crate::render::render_json(&one(vec![]));
        assert!(!json.contains("enterprise:"));
    }

    #[test]
    fn via_lines_say_what_assigns_a_user_and_what_no_longer_does() {
        use crate::plan::document::Via;
        let mut c = create_user("e1003", "bob@example.com");
        c.notes.via = vec![
            Via::Group {
                name: "engineering".into(),
            },
            Via::User,
        ];
        let mut gone = deactivate_user();
        gone.reason = Reason::Unassigned;
        gone.notes.via = vec![Via::Group {
            name: "engineering".into(),
        }];
        let text = plain(&one(vec![c, gone]));
        assert!(
            text.contains("  # (assigned via group engineering and assign.users)\n"),
            "{text}"
        );
        assert!(
            text.contains("  # (group engineering no longer assigns it)\n"),
            "{text}"
        );
    }

    #[test]
    fn verbose_names_what_is_left_alone_capped_and_quiet_prints_the_summary_only() {
        use crate::plan::document::{LeftAlone, WhyLeftAlone};
        let mut d = one(vec![update_user()]);
        d.targets[0].not_touching.unmanaged_users = 52;
        d.targets[0].not_touching.objects = (0..52)
            .map(|i| LeftAlone {
                address: Address::live("aws", ObjectKind::User, &format!("s-{i:02}")),
                name: format!("stranger{i:02}@example.com"),
                why: WhyLeftAlone::Unmanaged,
            })
            .collect();
        let quiet = plain(&d);
        assert!(!quiet.contains("stranger00"), "named with -v only");
        let verbose = render_plan(
            &d,
            &TextOptions {
                verbose: true,
                ..TextOptions::default()
            },
        );
        assert!(verbose.contains(
            "Not touching: 52 unmanaged users.\n  unmanaged  aws:user.live:s-00 (stranger00@example.com)\n"
        ), "{verbose}");
        assert!(verbose.contains("  unmanaged  aws:user.live:s-49 (stranger49@example.com)\n  and 2 more (--format json lists them all)\n"));
        assert!(!verbose.contains("stranger50"));
        let q = render_plan(
            &d,
            &TextOptions {
                quiet: true,
                ..TextOptions::default()
            },
        );
        assert_eq!(
            q,
            "Plan: 0 to add, 1 to change, 0 to destroy (0 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.\n"
        );
    }

    #[test]
    fn no_changes() {
        let mut d = one(vec![]);
        d.targets[0].not_touching.unmanaged_users = 3;
        insta::assert_snapshot!(plain(&d), @r#"
            aws: Not touching: 3 unmanaged users.
            No changes. Live state matches the configuration.
            "#);
        assert!(plain(&d).ends_with("No changes. Live state matches the configuration.\n"));
    }

    #[test]
    fn two_targets_sum_in_the_summary_line() {
        let d = doc(vec![
            target(
                "aws",
                vec![create_user("e1003", "bob@example.com"), deactivate_user()],
            ),
            target("okta", vec![update_user(), membership()]),
        ]);
        let text = render_plan(
            &d,
            &TextOptions {
                color: false,
                targeting: true,
                saved_to: Some("plan.json".into()),
                ..TextOptions::default()
            },
        );
        insta::assert_snapshot!(text, @r#"
            Warning: Targeting is in effect — this plan may not include every change the configuration asks for. Use --resource only for exceptional cases.

            Resource actions are indicated with the following symbols:
              + create
              ~ update in-place
              ⊘ deactivate

            roster will perform the following actions:

            Target aws (https://scim.example.com/aws/scim/v2, aws-identity-center):

              # aws:user.e1003 (bob@example.com) will be created
              # (because it is in the directory but missing from this target)
              + user "bob@example.com" {
                  + userName    = "bob@example.com"
                  + displayName = "Bob Example"
                  + emails      = [{"value":"bob@example.com","type":"work","primary":true}]
                  + active      = true
                }

              # aws:user.e1002 (carol@example.com) will be deactivated
              # (because it is no longer in the directory)
              ⊘ user "carol@example.com" {
                  ~ active = true -> false
                    # (7 unchanged attributes hidden)
                }

            Apply will send 2 requests (0 reads, 2 writes, 0 membership operations); about 0.08 s at the target's rate.

            Target okta (https://scim.example.com/okta/scim/v2, aws-identity-center):

              # aws:user.e1001 (alice@example.com) will be updated in-place
              # (because attributes differ from the directory)
              ~ user "alice@example.com" {
                  ~ title = "Engineer" -> "Staff Engineer"
                    # (5 unchanged attributes hidden)
                }

              # aws:group.eng (Engineering) members will change
              # (because its live members differ from the directory)
              ~ group "Engineering" {
                  + member "alice@example.com" (u-1)
                  + member "bob@example.com" (created by this plan)
                  - member "dave@example.com" (u-4)
                }

            Apply will send 2 requests (0 reads, 2 writes, 3 membership operations); about 0.08 s at the target's rate.

            Plan: 1 to add, 2 to change, 1 to destroy (1 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.
            Checksum: sha256:09d5a00b0a8441c93e071122921cc27a3ec377580e18180e6bba6b8c69a99d66

            Saved the plan to: plan.json

            To perform exactly these actions, run: roster apply plan.json
            "#);
        assert!(text.contains(
            "\nPlan: 1 to add, 2 to change, 1 to destroy (1 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.\n"
        ));
    }

    #[test]
    fn colour_on_uses_ansi_codes_and_off_uses_none() {
        let d = one(vec![
            create_user("e1003", "bob@example.com"),
            update_user(),
            deactivate_user(),
        ]);
        let on = render_plan(
            &d,
            &TextOptions {
                color: true,
                ..TextOptions::default()
            },
        );
        assert!(on.contains("\x1b[32m+\x1b[0m"), "green create mark");
        assert!(on.contains("\x1b[33m~\x1b[0m"), "yellow update mark");
        assert!(on.contains("\x1b[31m⊘\x1b[0m"), "red deactivate mark");
        let off = plain(&d);
        assert!(!off.contains('\x1b'));
        // Without the codes the two renderings are the same text.
        let stripped = regex::Regex::new("\x1b\\[[0-9;]*m")
            .expect("regex")
            .replace_all(&on, "");
        assert_eq!(stripped, off);
    }

    #[test]
    fn summary_line_is_exact() {
        let mut d = one(vec![create_user("e1", "a@x")]);
        d.targets[0].summary = Summary {
            add: 3,
            change: 2,
            destroy: 1,
            deactivate: 1,
            delete: 0,
            unmanaged: 14,
            ignored: 2,
            conflicts: 0,
        };
        assert_eq!(
            summary_line(&d),
            "Plan: 3 to add, 2 to change, 1 to destroy (1 deactivate, 0 delete); 14 unmanaged and 2 ignored not touched."
        );
        assert_eq!(conflicts_line(&d), None);
        for c in &mut d.targets[0].changes {
            c.reason = Reason::Conflict;
        }
        let again = d.targets[0].changes[0].clone();
        d.targets[0].changes.push(again);
        assert_eq!(
            conflicts_line(&d).as_deref(),
            Some("2 conflicts: not changed; run roster explain ADDR for each.")
        );
    }

    #[test]
    fn gate_numbers_read_naturally() {
        let g = SafetyGate {
            gate: "max_destroy".into(),
            limit: 25.0,
            observed: 30.0,
            tripped: true,
        };
        assert_eq!(
            gate_line(&g),
            "Safety gate max_destroy tripped: 30 destructive changes, limit 25. Apply is blocked; pass --allow-destroy to override."
        );
        assert_eq!(crate::plan::document::plain_number(12.5), "12.5");
        assert_eq!(crate::plan::document::plain_number(0.333), "0.33");
    }
}
