//! The plan as a pull-request comment (docs/contract.md#text-and-markdown): a stable
//! marker so CI can find and replace its previous comment, the summary line as a heading, a
//! table per target, one collapsed `<details>` per target and kind with a `diff` fence whose
//! marks sit at column 0 (so the forge colours them), and tripped safety gates as a warning.
//!
//! Forges cap a comment's size (GitHub at 65,536 characters), so the comment is split into parts
//! below 65,000 characters. Splits fall between changes; a change too large for one part is split
//! between its lines. Every part closes the fences and details it opened and the next one opens
//! them again, so each part renders on its own.

use super::block::{
    by_object, merged, object_lines, short_path_legend, shows_short_paths, Fate, Line, Mark,
};
use super::text::{
    by_origin, checksum_line, gate_line, not_touching_line, origin_line, requests_line,
    summary_line, total, LEFT_ALONE_SHOWN,
};
use crate::escape::escape_control;
use crate::plan::document::{Action, Change, ObjectKind, PlanDocument, TargetPlan};
use std::fmt::Write as _;

/// The first line of every part: CI looks for it to update or hide earlier comments.
pub const MARKER: &str = "<!-- roster-plan -->";

/// Every part is strictly shorter than this many characters.
pub const PART_LIMIT: usize = 65_000;

/// Room kept free in each part for the continuation header and footer, whose part numbers are
/// only known once all parts exist.
const RESERVE: usize = 400;

/// A longer line (a huge attribute value) is cut, so that one line always fits a part.
const MAX_LINE: usize = 8_000;

/// Render the plan as one or more comment parts, each below [`PART_LIMIT`] characters.
pub fn render_markdown(doc: &PlanDocument) -> Vec<String> {
    render_markdown_with_limit(doc, PART_LIMIT)
}

/// The kinds a target's changes are grouped by, one `<details>` each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Users,
    Groups,
    Memberships,
}

impl Section {
    const ALL: [Section; 3] = [Section::Users, Section::Groups, Section::Memberships];

    fn of(c: &Change) -> Section {
        let membership_only = c
            .actions
            .iter()
            .all(|a| matches!(a, Action::AddMembers | Action::RemoveMembers));
        if Fate::of(c) == Fate::Members && membership_only {
            Section::Memberships
        } else if c.kind == ObjectKind::User {
            Section::Users
        } else {
            Section::Groups
        }
    }

    fn word(self) -> &'static str {
        match self {
            Section::Users => "users",
            Section::Groups => "groups",
            Section::Memberships => "memberships",
        }
    }
}

fn diff_line(l: &Line) -> String {
    let indent = "    ".repeat(l.depth);
    // Lines carry live and configured values (the header line quotes names raw).
    let text = escape_control(&l.text);
    let mut s = match l.mark {
        Mark::Note => format!("# {text}"),
        Mark::Comment => format!("# {indent}{text}"),
        Mark::Create => format!("+ {indent}{text}"),
        Mark::Update => format!("! {indent}{text}"),
        Mark::Destroy | Mark::Deactivate => format!("- {indent}{text}"),
        Mark::Context => format!("  {indent}{text}"),
    };
    if s.len() > MAX_LINE {
        let mut cut = MAX_LINE;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str(" … (truncated)");
    }
    s.push('\n');
    s
}

/// The longest run of backticks in any line, so the fence can be longer and never closed by
/// content.
fn longest_backtick_run(lines: &[String]) -> usize {
    let mut best = 0;
    for l in lines {
        let mut run = 0;
        for ch in l.chars() {
            if ch == '`' {
                run += 1;
                best = best.max(run);
            } else {
                run = 0;
            }
        }
    }
    best
}

fn table(doc: &PlanDocument) -> String {
    let mut out = String::from(
        "| target | add | change | destroy | unmanaged | ignored | gates |\n|---|---:|---:|---:|---:|---:|---|\n",
    );
    for t in &doc.targets {
        let s = &t.summary;
        let tripped: Vec<&str> = t
            .safety
            .iter()
            .filter(|g| g.tripped)
            .map(|g| g.gate.as_str())
            .collect();
        let gates = if t.safety.is_empty() {
            "—".to_string()
        } else if tripped.is_empty() {
            "ok".to_string()
        } else {
            format!("⛔ {}", tripped.join(", "))
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {gates} |",
            escape_cell(&t.name),
            s.add,
            s.change,
            s.destroy,
            s.unmanaged,
            s.ignored
        );
    }
    if doc.targets.len() > 1 {
        let s = total(doc);
        let _ = writeln!(
            out,
            "| **total** | {} | {} | {} | {} | {} | |",
            s.add, s.change, s.destroy, s.unmanaged, s.ignored
        );
    }
    out
}

fn escape_cell(s: &str) -> String {
    escape_control(s).replace('|', "\\|")
}

fn header(doc: &PlanDocument, page: &Page<'_>) -> String {
    let mut out = format!("{}\n### {}\n\n", page.marker, summary_line(doc));
    if let Some(line) = super::text::conflicts_line(doc) {
        out.push_str(&format!("**{line}**\n\n"));
    }
    if let Some(l) = origin_line(doc) {
        let _ = writeln!(out, "{l}\n");
    }
    if super::text::has_changes(doc) {
        let _ = writeln!(out, "{}\n", escape_control(&checksum_line(doc)));
    }
    out.push_str(page.preamble);
    out.push_str(&table(doc));
    out.push('\n');
    for t in &doc.targets {
        for g in t.safety.iter().filter(|g| g.tripped) {
            let _ = writeln!(
                out,
                "> [!WARNING]\n> **{}**: {}\n",
                escape_cell(&t.name),
                gate_line(g)
            );
        }
    }
    for t in &doc.targets {
        let mut facts = Vec::new();
        if t.requests.reads + t.requests.writes > 0 {
            facts.push(requests_line(t));
        }
        facts.extend(not_touching_line(t));
        if !facts.is_empty() {
            let _ = writeln!(out, "- **{}**: {}", escape_cell(&t.name), facts.join(" "));
        }
    }
    out.push('\n');
    for t in &doc.targets {
        left_alone_details(&mut out, t);
    }
    if shows_short_paths(doc.targets.iter().flat_map(|t| &t.changes)) {
        let _ = writeln!(out, "`{}`\n", short_path_legend());
    }
    out
}

/// The objects a target leaves alone, named in a collapsed list (capped; JSON has them all).
/// Bounded, so it always fits the first part with the header.
fn left_alone_details(out: &mut String, t: &TargetPlan) {
    let n = t.not_touching.objects.len();
    if n == 0 {
        return;
    }
    let s = if n == 1 { "" } else { "s" };
    let _ = writeln!(
        out,
        "<details><summary>{}: not touching ({n} object{s})</summary>\n",
        html_escape(&escape_control(&t.name))
    );
    for o in t.not_touching.objects.iter().take(LEFT_ALONE_SHOWN) {
        let name = html_escape(&escape_control(&o.name)).replace('`', "\\`");
        let _ = writeln!(out, "- {} `{}` {name}", o.why.as_str(), o.address);
    }
    if n > LEFT_ALONE_SHOWN {
        let _ = writeln!(
            out,
            "- and {} more (`--format json` lists them all)",
            n - LEFT_ALONE_SHOWN
        );
    }
    out.push_str("\n</details>\n\n");
}

/// A `<details>` section's content: its title and its changes, each a block of diff lines.
struct Details {
    title: String,
    blocks: Vec<Vec<String>>,
}

fn sections(t: &TargetPlan) -> Vec<Details> {
    by_origin(&t.changes)
        .into_iter()
        .flat_map(|(title, changes)| kind_sections(t, title, &changes))
        .collect()
}

fn kind_sections(t: &TargetPlan, origin: Option<&str>, changes: &[&Change]) -> Vec<Details> {
    Section::ALL
        .iter()
        .filter_map(|&s| {
            let blocks: Vec<Vec<String>> = by_object(changes)
                .into_iter()
                .filter(|o| {
                    o.split_first()
                        .is_some_and(|(first, rest)| Section::of(&merged(first, rest)) == s)
                })
                .map(|o| object_lines(&o).iter().map(diff_line).collect())
                .collect();
            (!blocks.is_empty()).then(|| {
                let n = blocks.len();
                let plural = if n == 1 { "" } else { "s" };
                let title = format!("{}: {} ({n} change{plural})", t.name, s.word());
                Details {
                    title: match origin {
                        Some(o) => format!("{o} — {}", escape_control(&title)),
                        None => escape_control(&title).into_owned(),
                    },
                    blocks,
                }
            })
        })
        .collect()
}

/// Accumulates parts, closing and re-opening the current section at each split.
struct Parts<'a> {
    marker: &'a str,
    budget: usize,
    fence: String,
    parts: Vec<String>,
    cur: String,
    open: Option<Open>,
}

/// The `<details>` section being written.
struct Open {
    title: String,
    /// Where its opening tag starts in the current part, to take it back if the part ends
    /// before any of its lines.
    start: usize,
    /// Its lines in the current part and in all parts.
    lines_here: usize,
    lines_total: usize,
}

impl Parts<'_> {
    fn open_text(&self, title: &str) -> String {
        format!(
            "<details><summary>{}</summary>\n\n{}diff\n",
            html_escape(title),
            self.fence
        )
    }

    fn close_text(&self) -> String {
        format!("{}\n\n</details>\n\n", self.fence)
    }

    fn room_for(&self, extra: usize) -> bool {
        self.cur.len() + extra + self.close_text().len() <= self.budget
    }

    /// Open the current section (again) at the end of the current part.
    fn open_here(&mut self) {
        if let Some(o) = &self.open {
            let title = if o.lines_total > 0 {
                format!("{} (continued)", o.title)
            } else {
                o.title.clone()
            };
            let text = self.open_text(&title);
            let start = self.cur.len();
            self.cur.push_str(&text);
            if let Some(o) = &mut self.open {
                o.start = start;
                o.lines_here = 0;
            }
        }
    }

    /// End this part (closing the open section, or taking back its opening tag when it has no
    /// line here yet) and start a continuation that re-opens it.
    fn split(&mut self) {
        match &self.open {
            Some(o) if o.lines_here == 0 => self.cur.truncate(o.start),
            Some(_) => {
                let close = self.close_text();
                self.cur.push_str(&close);
            }
            None => {}
        }
        self.parts.push(std::mem::take(&mut self.cur));
        self.cur = CONTINUATION.to_string();
        self.open_here();
    }

    fn begin(&mut self, title: &str) {
        self.open = Some(Open {
            title: title.to_string(),
            start: self.cur.len(),
            lines_here: 0,
            lines_total: 0,
        });
        self.open_here();
    }

    fn block(&mut self, lines: &[String]) {
        let size: usize = lines.iter().map(String::len).sum::<usize>() + 1;
        let title = self
            .open
            .as_ref()
            .map(|o| o.title.clone())
            .unwrap_or_default();
        let fresh = CONTINUATION.len() + self.open_text(&format!("{title} (continued)")).len();
        if !self.room_for(size)
            && self.cur.len() > fresh
            && fresh + size + self.close_text().len() <= self.budget
        {
            // The change fits a part of its own: move it whole rather than cut it.
            self.split();
        }
        if self.open.as_ref().is_some_and(|o| o.lines_here > 0) {
            // A blank line between changes; not counted as a line, so no part starts with one.
            self.cur.push('\n');
        }
        for l in lines {
            if !self.room_for(l.len()) {
                self.split();
            }
            self.cur.push_str(l);
            if let Some(o) = &mut self.open {
                o.lines_here += 1;
                o.lines_total += 1;
            }
        }
    }

    fn end(&mut self) {
        let close = self.close_text();
        self.cur.push_str(&close);
        self.open = None;
    }

    fn finish(mut self) -> Vec<String> {
        self.parts.push(std::mem::take(&mut self.cur));
        let m = self.parts.len();
        self.parts
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let mut p = if i == 0 {
                    p
                } else {
                    p.replacen(
                        CONTINUATION,
                        &format!("{}\n_(continued, part {} of {m})_\n\n", self.marker, i + 1),
                        1,
                    )
                };
                if i + 1 < m {
                    let _ = writeln!(p, "_Continued in part {} of {m}._", i + 2);
                }
                p
            })
            .collect()
    }
}

/// Stands for the continuation header until the number of parts is known.
const CONTINUATION: &str = "\u{0}continuation\u{0}\n";

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// [`render_markdown`] with another part limit (tests use a small one).
pub(crate) fn render_markdown_with_limit(doc: &PlanDocument, limit: usize) -> Vec<String> {
    render_page(
        doc,
        limit,
        &Page {
            marker: MARKER,
            preamble: "",
        },
    )
}

/// What a page of markdown opens with: its marker (a plan comment's, a drift issue's) and text
/// between the summary line and the plan's table.
pub struct Page<'a> {
    pub marker: &'a str,
    pub preamble: &'a str,
}

/// The plan as comment or issue parts with `page`'s marker and preamble.
pub fn render_page(doc: &PlanDocument, limit: usize, page: &Page<'_>) -> Vec<String> {
    let all: Vec<(String, Vec<Details>)> = doc
        .targets
        .iter()
        .map(|t| (t.name.clone(), sections(t)))
        .collect();
    let every_line: Vec<String> = all
        .iter()
        .flat_map(|(_, ds)| ds.iter().flat_map(|d| d.blocks.iter().flatten().cloned()))
        .collect();
    let fence = "`".repeat(longest_backtick_run(&every_line).max(2) + 1);
    let mut parts = Parts {
        marker: page.marker,
        budget: limit.saturating_sub(RESERVE + 1).max(1_000),
        fence,
        parts: Vec::new(),
        cur: header(doc, page),
        open: None,
    };
    for (_, details) in &all {
        for d in details {
            parts.begin(&d.title);
            for b in &d.blocks {
                parts.block(b);
            }
            parts.end();
        }
    }
    parts.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::document::{Address, SafetyGate};
    use crate::plan::fixtures::*;

    fn sample() -> PlanDocument {
        let mut d = doc(vec![
            target(
                "aws",
                vec![
                    create_user("e1003", "bob@example.com"),
                    update_user(),
                    deactivate_user(),
                    membership(),
                ],
            ),
            target("okta", vec![update_user()]),
        ]);
        d.targets[0].safety = vec![SafetyGate {
            gate: "max_destroy".into(),
            limit: 0.0,
            observed: 1.0,
            tripped: true,
        }];
        d.targets[0].not_touching.unmanaged_users = 14;
        d.targets[0].summary.unmanaged = 14;
        d
    }

    #[test]
    fn one_part_with_marker_table_details_and_diff_fences() {
        let parts = render_markdown(&sample());
        assert_eq!(parts.len(), 1);
        insta::assert_snapshot!(parts[0], @r#"
            <!-- roster-plan -->
            ### Plan: 1 to add, 3 to change, 1 to destroy (1 deactivate, 0 delete); 14 unmanaged and 0 ignored not touched.

            Checksum: sha256:b09bab24b66dabf174394aae7bdb7864e997bf5de4120e9d989f8b1aae074457

            | target | add | change | destroy | unmanaged | ignored | gates |
            |---|---:|---:|---:|---:|---:|---|
            | aws | 1 | 2 | 1 | 14 | 0 | ⛔ max_destroy |
            | okta | 0 | 1 | 0 | 0 | 0 | ok |
            | **total** | 1 | 3 | 1 | 14 | 0 | |

            > [!WARNING]
            > **aws**: Safety gate max_destroy tripped: 1 destructive change, limit 0. Apply is blocked; pass --allow-destroy to override.

            - **aws**: Apply will send 4 requests (0 reads, 4 writes, 3 membership operations); about 0.16 s at the target's rate. Not touching: 14 unmanaged users.
            - **okta**: Apply will send 1 request (0 reads, 1 write, 0 membership operations); about 0.04 s at the target's rate.

            <details><summary>aws: users (3 changes)</summary>

            ```diff
            # aws:user.e1003 (bob@example.com) will be created
            # (because it is in the directory but missing from this target)
            + user "bob@example.com" {
            +     userName    = "bob@example.com"
            +     displayName = "Bob Example"
            +     emails      = [{"value":"bob@example.com","type":"work","primary":true}]
            +     active      = true
              }

            # aws:user.e1001 (alice@example.com) will be updated in-place
            # (because attributes differ from the directory)
            ! user "alice@example.com" {
            !     title = "Engineer" -> "Staff Engineer"
            #     (5 unchanged attributes hidden)
              }

            # aws:user.e1002 (carol@example.com) will be deactivated
            # (because it is no longer in the directory)
            - user "carol@example.com" {
            !     active = true -> false
            #     (7 unchanged attributes hidden)
              }
            ```

            </details>

            <details><summary>aws: memberships (1 change)</summary>

            ```diff
            # aws:group.eng (Engineering) members will change
            # (because its live members differ from the directory)
            ! group "Engineering" {
            +     member "alice@example.com" (u-1)
            +     member "bob@example.com" (created by this plan)
            -     member "dave@example.com" (u-4)
              }
            ```

            </details>

            <details><summary>okta: users (1 change)</summary>

            ```diff
            # aws:user.e1001 (alice@example.com) will be updated in-place
            # (because attributes differ from the directory)
            ! user "alice@example.com" {
            !     title = "Engineer" -> "Staff Engineer"
            #     (5 unchanged attributes hidden)
              }
            ```

            </details>
            "#);
    }

    #[test]
    fn no_changes_is_the_marker_and_the_no_change_heading() {
        let parts = render_markdown(&one(vec![]));
        assert_eq!(parts.len(), 1);
        assert!(parts[0].starts_with(
            "<!-- roster-plan -->\n### No changes. Live state matches the configuration.\n"
        ));
        assert!(!parts[0].contains("<details>"));
    }

    /// The lines inside `diff` fences, in order, across parts.
    fn diff_content(parts: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for p in parts {
            let mut inside = false;
            for l in p.lines() {
                if l.starts_with("```") {
                    inside = l.ends_with("diff");
                    continue;
                }
                if inside && !l.is_empty() {
                    out.push(l.to_string());
                }
            }
        }
        out
    }

    /// Every part opens as many fences and details as it closes, and starts with the marker.
    fn assert_well_formed(parts: &[String], limit: usize) {
        let m = parts.len();
        for (i, p) in parts.iter().enumerate() {
            assert!(
                p.chars().count() < limit,
                "part {} has {} chars",
                i + 1,
                p.chars().count()
            );
            assert!(p.starts_with(MARKER), "part {} lacks the marker", i + 1);
            if i > 0 {
                assert!(p.contains(&format!("(continued, part {} of {m})", i + 1)));
            }
            let fences = p.lines().filter(|l| l.starts_with("```")).count();
            assert_eq!(fences % 2, 0, "part {} leaves a fence open", i + 1);
            assert_eq!(
                p.matches("<details>").count(),
                p.matches("</details>").count()
            );
            assert!(!p.contains('\u{0}'));
        }
    }

    #[test]
    fn a_huge_plan_is_split_into_parts_below_the_limit_and_loses_nothing() {
        let changes: Vec<_> = (0..5_000)
            .map(|i| {
                if i % 2 == 0 {
                    create_user(&format!("e{i:05}"), &format!("user{i:05}@example.com"))
                } else {
                    let mut c = update_user();
                    c.address = Address::directory("aws", ObjectKind::User, &format!("e{i:05}"));
                    c
                }
            })
            .collect();
        let d = one(changes);
        let parts = render_markdown(&d);
        assert!(parts.len() > 10, "{} parts", parts.len());
        assert_well_formed(&parts, PART_LIMIT);
        let whole = render_markdown_with_limit(&d, usize::MAX);
        assert_eq!(whole.len(), 1);
        let all = diff_content(&whole);
        assert_eq!(diff_content(&parts), all);
        assert_eq!(
            all.iter().filter(|l| l.starts_with("# aws:user.")).count(),
            5_000
        );
        // Splits fall between changes: every part's diff starts with a change header.
        for p in &parts[1..] {
            let first = diff_content(std::slice::from_ref(p));
            assert!(first[0].starts_with("# aws:user."), "{}", first[0]);
        }
    }

    #[test]
    fn a_change_larger_than_a_part_is_split_between_its_lines() {
        let mut c = membership();
        c.members_added = (0..3_000)
            .map(|i| crate::plan::document::MemberRef {
                name: format!("member{i:04}@example.com"),
                id: Some(format!("u-{i}")),
                created_by: None,
            })
            .collect();
        let d = one(vec![update_user(), c]);
        let parts = render_markdown_with_limit(&d, 20_000);
        assert!(parts.len() >= 4, "{} parts", parts.len());
        assert_well_formed(&parts, 20_000);
        assert_eq!(
            diff_content(&parts),
            diff_content(&render_markdown_with_limit(&d, usize::MAX))
        );
        assert!(parts[1].contains("<summary>aws: memberships (1 change) (continued)</summary>"));
    }

    #[test]
    fn backticks_in_values_cannot_close_the_fence() {
        let mut c = update_user();
        c.after
            .insert("title".into(), serde_json::json!("```\n</details>"));
        let parts = render_markdown(&one(vec![c]));
        assert!(parts[0].contains("\n````diff\n"), "{}", parts[0]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        /// Whatever the plan's shape and the limit, parts stay below it, each part renders on
        /// its own, and the diff content is the unsplit one.
        #[test]
        fn splitting_keeps_every_line_and_every_part_well_formed(
            users in 0usize..120,
            members in proptest::collection::vec(0usize..400, 0..4),
            limit in 4_000usize..30_000,
        ) {
            let mut changes: Vec<_> = (0..users)
                .map(|i| create_user(&format!("e{i}"), &format!("u{i}@example.com")))
                .collect();
            for (g, n) in members.iter().enumerate() {
                let mut c = membership();
                c.address = Address::directory("aws", ObjectKind::Group, &format!("g{g}"));
                c.members_added = (0..*n)
                    .map(|i| crate::plan::document::MemberRef {
                        name: format!("m{i}@example.com"),
                        id: Some(format!("u-{i}")),
                        created_by: None,
                    })
                    .collect();
                changes.push(c);
            }
            let d = one(changes);
            let parts = render_markdown_with_limit(&d, limit);
            assert_well_formed(&parts, limit);
            proptest::prop_assert_eq!(
                diff_content(&parts),
                diff_content(&render_markdown_with_limit(&d, usize::MAX))
            );
            for p in &parts {
                // No section is opened without content.
                proptest::prop_assert!(!p.contains("diff\n```"), "empty fence in {}", p);
            }
        }
    }
}
