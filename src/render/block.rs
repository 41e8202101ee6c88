//! One change as a list of marked lines, shared by the text and markdown renderers so that a
//! terminal and a pull-request comment show the same content and differ only in layout and
//! colour (Terraform's per-resource block; docs/contract.md#text-and-markdown).

use crate::plan::document::{Action, Change, MemberRef, ObjectKind, Reason, Via};
use serde_json::Value;
use std::borrow::Cow;

/// The enterprise extension's attribute prefix, which text and markdown shorten to
/// [`ENTERPRISE_SHORT`] (the JSON keeps the full path): its 60 characters pushed attribute
/// lines past 140 columns.
pub(crate) const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:";
pub(crate) const ENTERPRISE_SHORT: &str = "enterprise:";

/// The legend printed under a plan that shows a shortened path.
pub(crate) fn short_path_legend() -> String {
    format!("{ENTERPRISE_SHORT} stands for {ENTERPRISE}")
}

/// An attribute path as text and markdown show it.
pub(crate) fn short_path(path: &str) -> Cow<'_, str> {
    match path.get(..ENTERPRISE.len()) {
        Some(head) if head.eq_ignore_ascii_case(ENTERPRISE) => {
            Cow::Owned(format!("{ENTERPRISE_SHORT}{}", &path[ENTERPRISE.len()..]))
        }
        _ => Cow::Borrowed(path),
    }
}

/// Whether any change shows a path that [`short_path`] shortens (so the legend is needed).
pub(crate) fn shows_short_paths<'a>(changes: impl IntoIterator<Item = &'a Change>) -> bool {
    changes.into_iter().any(|c| {
        c.before
            .keys()
            .chain(c.after.keys())
            .any(|k| matches!(short_path(k), Cow::Owned(_)))
    })
}

/// The changes of one target grouped by object, in the order each object first appears: a
/// group's attribute update and its member adds and removes are one block to read, although
/// apply runs them in different phases.
pub(crate) fn by_object<'a>(changes: &[&'a Change]) -> Vec<Vec<&'a Change>> {
    let mut at: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut out: Vec<Vec<&Change>> = Vec::new();
    for c in changes {
        // Users have one change each; only groups are split over phases.
        if c.kind == ObjectKind::Group {
            if let Some(&i) = at.get(c.address.as_str()) {
                out[i].push(c);
                continue;
            }
            at.insert(c.address.as_str(), out.len());
        }
        out.push(vec![c]);
    }
    out
}

/// One object's changes as one change to render (the first itself when there is no other).
pub(crate) fn merged<'a>(first: &'a Change, rest: &[&'a Change]) -> Cow<'a, Change> {
    if rest.is_empty() {
        return Cow::Borrowed(first);
    }
    let mut m = Change::clone(first);
    for c in rest {
        for a in &c.actions {
            if !m.actions.contains(a) {
                m.actions.push(*a);
            }
        }
        for (k, v) in &c.before {
            m.before.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (k, v) in &c.after {
            m.after.entry(k.clone()).or_insert_with(|| v.clone());
        }
        m.members_added.extend(c.members_added.iter().cloned());
        m.members_removed.extend(c.members_removed.iter().cloned());
        m.unchanged_attributes = m.unchanged_attributes.max(c.unchanged_attributes);
        if m.id.is_none() {
            m.id.clone_from(&c.id);
        }
        for (k, v) in &c.notes.refs {
            m.notes.refs.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Cow::Owned(m)
}

/// What a line means; each renderer turns it into a symbol, a colour or a diff prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Mark {
    /// `+`: something is created or added.
    Create,
    /// `~`: something changes in place.
    Update,
    /// `-`: something is removed or destroyed.
    Destroy,
    /// `⊘`: a user is deactivated (kept, but switched off).
    Deactivate,
    /// Unchanged context (a closing brace, an equal line of a multi-line value).
    Context,
    /// A `#` comment inside the block, aligned with the attribute names.
    Comment,
    /// A `#` comment above the block, aligned with the marks (the header and its reason).
    Note,
}

/// One line of a change block. `depth` is the nesting level inside the block (0 = the block's
/// own line); `text` carries neither the mark nor the `#` of comments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub mark: Mark,
    pub depth: usize,
    pub text: String,
}

impl Line {
    fn new(mark: Mark, depth: usize, text: impl Into<String>) -> Line {
        Line {
            mark,
            depth,
            text: text.into(),
        }
    }
}

/// What will happen to an object, decided from its actions (and the conflict reason, which
/// overrides them: a conflicting object is left alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Fate {
    Create,
    Update,
    Reactivate,
    Members,
    Deactivate,
    Delete,
    Conflict,
}

impl Fate {
    pub(crate) fn of(c: &Change) -> Fate {
        let has = |a: Action| c.actions.contains(&a);
        if c.reason == Reason::Conflict || c.actions.is_empty() {
            Fate::Conflict
        } else if has(Action::Create) {
            Fate::Create
        } else if has(Action::Delete) {
            Fate::Delete
        } else if has(Action::Deactivate) {
            Fate::Deactivate
        } else if has(Action::Reactivate) {
            Fate::Reactivate
        } else if has(Action::Update) {
            Fate::Update
        } else {
            Fate::Members
        }
    }

    /// The mark of the block's own line (and of the legend).
    pub(crate) fn mark(self) -> Option<Mark> {
        match self {
            Fate::Create => Some(Mark::Create),
            Fate::Update | Fate::Reactivate | Fate::Members => Some(Mark::Update),
            Fate::Deactivate => Some(Mark::Deactivate),
            Fate::Delete => Some(Mark::Destroy),
            Fate::Conflict => None,
        }
    }

    fn phrase(self) -> &'static str {
        match self {
            Fate::Create => "will be created",
            Fate::Update => "will be updated in-place",
            Fate::Reactivate => "will be reactivated",
            Fate::Members => "members will change",
            Fate::Deactivate => "will be deactivated",
            Fate::Delete => "will be destroyed",
            Fate::Conflict => "is in conflict; no changes will be made to it",
        }
    }
}

/// The reason of a change in words, for the `# (because ...)` line.
pub(crate) fn reason_words(c: &Change) -> String {
    match c.reason {
        Reason::Missing => "it is in the directory but missing from this target".to_string(),
        Reason::AttributeMismatch => "attributes differ from the directory".to_string(),
        Reason::Unassigned => "it is no longer assigned to this target".to_string(),
        Reason::InactiveInDirectory => "it is inactive in the directory".to_string(),
        Reason::RemovedFromDirectory => "it is no longer in the directory".to_string(),
        Reason::UnmanagedPolicy => {
            "it is not in the directory and the unmanaged policy claims it".to_string()
        }
        Reason::MembershipDrift => "its live members differ from the directory".to_string(),
        Reason::Adopt => {
            "it matches a directory entry but has no externalId, so roster adopts it".to_string()
        }
        Reason::ActiveInDirectory => "it is active again in the directory".to_string(),
        Reason::Conflict => match &c.detail {
            Some(d) => d.clone(),
            None => "its match keys are ambiguous".to_string(),
        },
    }
}

pub(crate) fn kind_word(k: ObjectKind) -> &'static str {
    match k {
        ObjectKind::User => "user",
        ObjectKind::Group => "group",
    }
}

/// `(assigned via group engineering)` on a create, `(group engineering no longer assigns it)`
/// on an `unassigned` change; `None` without notes.
pub(crate) fn via_words(c: &Change) -> Option<String> {
    if c.notes.via.is_empty() {
        return None;
    }
    let groups: Vec<&str> = c
        .notes
        .via
        .iter()
        .filter_map(|v| match v {
            Via::Group { name } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    let mut parts: Vec<String> = Vec::new();
    if c.notes.via.contains(&Via::All) {
        parts.push("assign.all".into());
    }
    if !groups.is_empty() {
        const SHOWN: usize = 3;
        let mut g = format!(
            "group{} {}",
            if groups.len() == 1 { "" } else { "s" },
            groups[..groups.len().min(SHOWN)].join(", ")
        );
        if groups.len() > SHOWN {
            g.push_str(&format!(" and {} more", groups.len() - SHOWN));
        }
        parts.push(g);
    }
    if c.notes.via.contains(&Via::User) {
        parts.push("assign.users".into());
    }
    let what = parts.join(" and ");
    Some(if c.reason == Reason::Unassigned {
        let verb = if groups.len() > 1 {
            "assign"
        } else {
            "assigns"
        };
        format!("({what} no longer {verb} it)")
    } else {
        format!("(assigned via {what})")
    })
}

/// The header comment: `aws:user.e1001 (alice@example.com) will be updated in-place`.
pub(crate) fn header(c: &Change) -> String {
    format!("{} ({}) {}", c.address, c.name, Fate::of(c).phrase())
}

/// A value as it appears in a plan: strings quoted, everything else as compact JSON. The id of a
/// user this plan creates is not known yet: it reads as Terraform's "(known after apply)".
pub(crate) fn show_value(v: &Value) -> String {
    if let Some(addr) = v
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get("$user_ref"))
        .and_then(Value::as_str)
    {
        return format!("(id of {addr}, known after apply)");
    }
    serde_json::to_string(v).unwrap_or_else(|_| "?".to_string())
}

fn is_multiline(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::String(s)) if s.contains('\n'))
}

fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

/// The whole block of one object (its changes, from [`by_object`]): header notes, then the
/// object with its attribute and member lines.
pub(crate) fn object_lines(cs: &[&Change]) -> Vec<Line> {
    let Some((first, rest)) = cs.split_first() else {
        return Vec::new();
    };
    let c = merged(first, rest);
    // The member chunks that follow a create are part of creating it, not drift.
    let why: Vec<&Change> = if Fate::of(&c) == Fate::Create {
        cs.iter()
            .copied()
            .filter(|c| c.actions.contains(&Action::Create))
            .collect()
    } else {
        cs.to_vec()
    };
    let mut reasons: Vec<String> = Vec::new();
    for r in why.iter().map(|c| reason_words(c)) {
        if !reasons.contains(&r) {
            reasons.push(r);
        }
    }
    change_lines(&c, &reasons.join(", and "))
}

fn change_lines(c: &Change, reasons: &str) -> Vec<Line> {
    let fate = Fate::of(c);
    let mut out = vec![
        Line::new(Mark::Note, 0, header(c)),
        Line::new(Mark::Note, 0, format!("(because {reasons})")),
    ];
    out.extend(via_words(c).map(|w| Line::new(Mark::Note, 0, w)));
    let Some(mark) = fate.mark() else {
        // A conflict changes nothing: the notes say what was found and how to resolve it, so
        // the reviewer of any format (text, markdown, show) knows what to do next.
        out.push(Line::new(
            Mark::Note,
            0,
            format!(
                "(to resolve: fix the live externalId, `release` it, or change `match`; roster explain {})",
                c.address
            ),
        ));
        return out;
    };
    out.push(Line::new(
        mark,
        0,
        format!(
            "{} {} {{",
            kind_word(c.kind),
            show_value(&Value::String(c.name.clone()))
        ),
    ));
    match fate {
        Fate::Create => {
            let width = key_width(c.after.keys());
            for (k, v) in &c.after {
                push_value(&mut out, Mark::Create, k, width, &Shown::after(c, k, v));
            }
        }
        Fate::Delete if !c.before.is_empty() => {
            let width = key_width(c.before.keys());
            for (k, v) in &c.before {
                push_value(&mut out, Mark::Destroy, k, width, &Shown::before(c, k, v));
            }
        }
        Fate::Delete | Fate::Deactivate if c.before.is_empty() && c.after.is_empty() => {
            if let Some(id) = &c.id {
                out.push(Line::new(
                    Mark::Context,
                    1,
                    format!("id = {}", show_value(&Value::String(id.clone()))),
                ));
            }
        }
        _ => diff_attributes(&mut out, c),
    }
    member_lines(&mut out, Mark::Create, &c.members_added);
    member_lines(&mut out, Mark::Destroy, &c.members_removed);
    out.push(Line::new(Mark::Context, 0, "}"));
    out
}

fn key_width<'a>(keys: impl Iterator<Item = &'a String>) -> usize {
    keys.map(|k| short_path(k).chars().count())
        .max()
        .unwrap_or(0)
}

/// A value with, for a reference, the name of the user it points at.
struct Shown<'a> {
    value: &'a Value,
    name: Option<&'a str>,
}

impl<'a> Shown<'a> {
    fn before(c: &'a Change, key: &str, value: &'a Value) -> Shown<'a> {
        let name = c.notes.refs.get(key).and_then(|r| r.before.as_deref());
        Shown { value, name }
    }

    fn after(c: &'a Change, key: &str, value: &'a Value) -> Shown<'a> {
        let name = c.notes.refs.get(key).and_then(|r| r.after.as_deref());
        Shown { value, name }
    }

    /// `"bob@example.com" (s-e1002)` for a named reference, else the value itself.
    fn text(&self) -> String {
        let Some(name) = self.name else {
            return show_value(self.value);
        };
        let quoted = show_value(&Value::String(name.to_string()));
        match self.value {
            Value::String(id) => format!("{quoted} ({id})"),
            _ => format!("{quoted} (id known after apply)"),
        }
    }
}

/// A single attribute of a create or delete: one line, or a heredoc for multi-line strings.
fn push_value(out: &mut Vec<Line>, mark: Mark, key: &str, width: usize, v: &Shown<'_>) {
    let key = short_path(key);
    match v.value {
        Value::String(s) if s.contains('\n') => {
            out.push(Line::new(mark, 1, format!("{key:<width$} = <<-EOT")));
            for l in s.lines() {
                out.push(Line::new(mark, 2, l));
            }
            out.push(Line::new(Mark::Context, 1, "EOT"));
        }
        _ => out.push(Line::new(mark, 1, format!("{key:<width$} = {}", v.text()))),
    }
}

/// The changed attributes of an update: only those that differ, the rest folded into a count.
fn diff_attributes(out: &mut Vec<Line>, c: &Change) {
    let (before, after, unchanged) = (&c.before, &c.after, c.unchanged_attributes);
    let mut keys: Vec<&String> = before.keys().collect();
    keys.extend(after.keys().filter(|k| !before.contains_key(*k)));
    let mut hidden = unchanged;
    let changed: Vec<&String> = keys
        .into_iter()
        .filter(|k| {
            let same = present(before.get(*k)) == present(after.get(*k));
            if same {
                hidden += 1;
            }
            !same
        })
        .collect();
    let width = key_width(changed.iter().copied());
    for k in changed {
        let (b, a) = (present(before.get(k)), present(after.get(k)));
        let shown = short_path(k);
        match (b, a) {
            (None, Some(a)) => push_value(out, Mark::Create, k, width, &Shown::after(c, k, a)),
            (Some(b), None) => {
                let b = Shown::before(c, k, b);
                if is_multiline(Some(b.value)) {
                    push_value(out, Mark::Destroy, k, width, &b);
                } else {
                    out.push(Line::new(
                        Mark::Destroy,
                        1,
                        format!("{shown:<width$} = {} -> null", b.text()),
                    ));
                }
            }
            (Some(Value::String(bs)), Some(Value::String(as_)))
                if bs.contains('\n') || as_.contains('\n') =>
            {
                out.push(Line::new(
                    Mark::Update,
                    1,
                    format!("{shown:<width$} = <<-EOT"),
                ));
                let diff = similar::TextDiff::from_lines(bs.as_str(), as_.as_str());
                for ch in diff.iter_all_changes() {
                    let mark = match ch.tag() {
                        similar::ChangeTag::Equal => Mark::Context,
                        similar::ChangeTag::Delete => Mark::Destroy,
                        similar::ChangeTag::Insert => Mark::Create,
                    };
                    let text = ch.value().trim_end_matches(['\n', '\r']);
                    out.push(Line::new(mark, 2, text));
                }
                out.push(Line::new(Mark::Context, 1, "EOT"));
            }
            (Some(b), Some(a)) => out.push(Line::new(
                Mark::Update,
                1,
                format!(
                    "{shown:<width$} = {} -> {}",
                    Shown::before(c, k, b).text(),
                    Shown::after(c, k, a).text()
                ),
            )),
            // Both absent cannot be "changed"; the filter above removed it.
            (None, None) => {}
        }
    }
    if hidden > 0 {
        let s = if hidden == 1 { "" } else { "s" };
        out.push(Line::new(
            Mark::Comment,
            1,
            format!("({hidden} unchanged attribute{s} hidden)"),
        ));
    }
}

fn member_lines(out: &mut Vec<Line>, mark: Mark, members: &[MemberRef]) {
    for m in members {
        let mut text = format!("member {}", show_value(&Value::String(m.name.clone())));
        // The name with its live id beside it, as the reviewer can find it in the target.
        match (&m.created_by, &m.id) {
            (Some(_), _) => text.push_str(" (created by this plan)"),
            // A live member the user list does not show: its id is all there is.
            (None, Some(id)) if *id == m.name => text.push_str(" (not a user of the target)"),
            (None, Some(id)) => text.push_str(&format!(" ({id})")),
            (None, None) => {}
        }
        out.push(Line::new(mark, 1, text));
    }
}

#[cfg(test)]
mod value_tests {
    use super::show_value;
    use serde_json::json;

    #[test]
    fn ids_of_users_this_plan_creates_read_as_known_after_apply() {
        assert_eq!(
            show_value(&json!({"$user_ref": "aws:user.e1000"})),
            "(id of aws:user.e1000, known after apply)"
        );
        assert_eq!(show_value(&json!("Engineer")), "\"Engineer\"");
        assert_eq!(
            show_value(&json!({"$user_ref": "x", "other": 1})),
            r#"{"$user_ref":"x","other":1}"#
        );
    }
}
