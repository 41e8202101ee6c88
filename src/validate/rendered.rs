//! Rendering every assigned user and group of a target once, and the checks on that one result
//! that need every rule at once: render failures and required attributes. The rows kept here
//! are what `values` compares for duplicates and match keys.

use super::values::{check_group_values, check_match_keys, check_user_values, preset_field};
use crate::config::assign::assigned;
use crate::config::model::Dialect;
use crate::config::{Desired, MappingRule, MappingSource, Target, User};
use crate::diag::{Diagnostic, Loc};
use crate::fasthash::{map_with_capacity, FastMap};
use crate::mapping::template::referenced_fields;
use crate::mapping::{CompiledRule, CompiledTarget, Rendered};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;

/// For each rule, the fields its template reads (to point at a user's own line).
fn rule_fields(rules: &[CompiledRule], target_rules: &[MappingRule]) -> Vec<Vec<String>> {
    rules
        .iter()
        .map(|r| {
            target_rules
                .iter()
                .find(|m| m.path == r.path_text)
                .and_then(|m| match &m.source {
                    MappingSource::Template(s) | MappingSource::UserRef(s) => {
                        referenced_fields(s).ok()
                    }
                    MappingSource::Value(_) => None,
                })
                .unwrap_or_default()
        })
        .collect()
}

/// `{{ field }}` alone: such a rule only copies a directory field, whose own duplicates the
/// directory checks already report.
pub(super) fn copied_field(target_rules: &[MappingRule], r: &CompiledRule) -> Option<String> {
    let m = target_rules.iter().find(|m| m.path == r.path_text)?;
    let MappingSource::Template(s) = &m.source else {
        return None;
    };
    let inner = s.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
    (!inner.is_empty() && inner.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .then(|| inner.to_string())
}

/// Whether two objects' source field `f` is a duplicate the directory checks already report:
/// `exact` fields compare as written, `folded` ones ignoring case, any other field is not checked
/// there.
pub(super) fn directory_duplicate(
    f: &str,
    exact: &[&str],
    folded: &[&str],
    x: Option<String>,
    y: Option<String>,
) -> bool {
    let (Some(x), Some(y)) = (x, y) else {
        return false;
    };
    if exact.contains(&f) {
        x == y
    } else if folded.contains(&f) {
        x.to_lowercase() == y.to_lowercase()
    } else {
        false
    }
}

/// Where to point for a user's rendered value: the first field the rule reads that the user
/// has, else the user's entry.
pub(super) fn user_value_loc(u: &User, fields: &[String]) -> Loc {
    fields
        .iter()
        .find_map(|f| u.fields.get(f.as_str()).map(|x| x.loc))
        .unwrap_or(u.loc)
}

/// What the checks keep of one rendered object, one cell per rule. A full rendering of 100,000
/// users (a JSON value per rule) was a third of `validate`'s peak memory, and most rules are
/// only checked for being empty: their content is dropped right after rendering.
pub(super) struct Row {
    pub(super) values: Box<[Cell]>,
}

/// One rule's rendered value, as much of it as a check reads.
pub(super) enum Cell {
    /// Rendered nothing.
    Empty,
    /// Rendered something no check reads beyond "not empty".
    Present,
    /// Rendered text (kept for the rules whose content is checked).
    Text(Box<str>),
    /// Rendered another JSON value (kept likewise).
    Other(Box<Value>),
}

impl Row {
    /// Keep the content of the rules in `content`, only presence for the others.
    fn keep(r: Rendered, content: &[usize]) -> Row {
        let values = r
            .values
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                None => Cell::Empty,
                Some(_) if !content.contains(&i) => Cell::Present,
                Some(Value::String(s)) => Cell::Text(s.into_boxed_str()),
                Some(other) => Cell::Other(Box::new(other)),
            })
            .collect();
        Row { values }
    }
}

impl Cell {
    pub(super) fn is_none(&self) -> bool {
        matches!(self, Cell::Empty)
    }

    /// The value as JSON text, as messages quote it.
    pub(super) fn json(&self) -> String {
        match self {
            Cell::Empty | Cell::Present => String::new(),
            Cell::Text(s) => Value::String(s.to_string()).to_string(),
            Cell::Other(v) => v.to_string(),
        }
    }
}

pub(super) fn text(v: &Cell) -> Option<&str> {
    match v {
        Cell::Text(s) => Some(s),
        Cell::Other(v) => v.as_str(),
        Cell::Empty | Cell::Present => None,
    }
}

/// Every later row whose rule `ri` renders the same value as an earlier one (ignoring case
/// unless `exact`), as (object index of the first, position in `rows` of the later), in row
/// order: the search the user and group duplicate checks share.
pub(super) fn rendered_collisions(
    rows: &[(usize, Row)],
    ri: usize,
    exact: bool,
) -> Vec<(usize, usize)> {
    let mut seen: FastMap<Cow<str>, usize> = map_with_capacity(rows.len());
    let mut out = Vec::new();
    for (pos, (obj, r)) in rows.iter().enumerate() {
        let Some(key) = comparable(&r.values[ri], exact) else {
            continue;
        };
        match seen.get(&key) {
            Some(&first) => out.push((first, pos)),
            None => {
                seen.insert(key, *obj);
            }
        }
    }
    out
}

/// A value comparable across objects: strings lowercased unless `exact`, other JSON as text.
///
/// Borrowed when it needs no change (exact, or already lower-case ASCII): the duplicate checks
/// compare every assigned user, and a copy of each value was most of their cost.
fn comparable(v: &Cell, exact: bool) -> Option<Cow<'_, str>> {
    match v {
        Cell::Empty | Cell::Present => None,
        Cell::Text(s) if exact => Some(Cow::Borrowed(s)),
        Cell::Text(s) if s.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) => {
            Some(Cow::Borrowed(s))
        }
        Cell::Text(s) => Some(Cow::Owned(s.to_lowercase())),
        Cell::Other(other) => Some(Cow::Owned(other.to_string())),
    }
}

/// "user \"e2\"" or "user \"e2\" and 3 more"
pub(super) fn first_and_more(kind: &str, first: &str, count: usize) -> String {
    if count > 1 {
        format!("{kind} {first:?} and {} more", count - 1)
    } else {
        format!("{kind} {first:?}")
    }
}

pub(super) fn check_rendered(
    desired: &Desired,
    t: &Target,
    c: &CompiledTarget,
    out: &mut Vec<Diagnostic>,
) {
    let a = assigned(desired, t);
    let ufields = rule_fields(&c.user, &t.user_mapping);
    let gfields = rule_fields(&c.group, &t.group_mapping);

    // Render every assigned user and group once.
    // the user rules whose rendered content some check reads; the others only count as empty
    // or not (see `Row`)
    let content: Vec<usize> = [
        c.user_rule("userName"),
        c.user_rule("displayName"),
        c.user_rule("externalId"),
        c.email_rule(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut users: Vec<(usize, Row)> = Vec::with_capacity(a.users.len());
    let mut errors: HashMap<String, (usize, usize, String)> = HashMap::new();
    for &ui in &a.users {
        match c.render_user(&desired.users[ui]) {
            Ok(r) => users.push((ui, Row::keep(r, &content))),
            Err(e) => {
                let entry = errors.entry(e.path.clone()).or_insert((ui, 0, e.message));
                entry.1 += 1;
            }
        }
    }
    report_render_errors(desired, t, c, &errors, out);
    let all_group_rules: Vec<usize> = (0..c.group.len()).collect();
    let mut groups: Vec<(usize, Row)> = Vec::with_capacity(a.groups.len());
    for &gi in &a.groups {
        match c.render_group(&desired.groups[gi]) {
            Ok(r) => groups.push((gi, Row::keep(r, &all_group_rules))),
            Err(e) => {
                let g = &desired.groups[gi];
                let rule = c.group.iter().find(|r| r.path_text == e.path);
                out.push(
                    Diagnostic::error(rule.and_then(|r| r.loc).unwrap_or(g.loc), e.to_string())
                        .hint(
                            "fix the template; templates are bounded and must not loop without end",
                        ),
                );
            }
        }
    }

    check_required(desired, t, c, &users, &ufields, out);
    check_user_values(desired, t, c, &users, &ufields, out);
    check_group_values(desired, t, c, &groups, &gfields, out);
    check_match_keys(desired, t, c, &users, &groups, out);
}

fn report_render_errors(
    desired: &Desired,
    t: &Target,
    c: &CompiledTarget,
    errors: &HashMap<String, (usize, usize, String)>,
    out: &mut Vec<Diagnostic>,
) {
    let mut errors: Vec<_> = errors.iter().collect();
    errors.sort_by_key(|(_, (ui, _, _))| *ui);
    for (path, (ui, count, message)) in errors {
        let u = &desired.users[*ui];
        let rule = c.user.iter().find(|r| &r.path_text == path);
        let loc = rule.and_then(|r| r.loc).unwrap_or(u.loc);
        out.push(
            Diagnostic::error(
                loc,
                format!(
                    "the template of `{path}` fails for {} in target {:?}: {message}",
                    first_and_more("user", &u.id, *count),
                    t.name
                ),
            )
            .note(u.loc, format!("user {:?}", u.id))
            .hint("fix the template; templates are bounded and must not loop without end"),
        );
    }
}

fn check_required(
    desired: &Desired,
    t: &Target,
    c: &CompiledTarget,
    users: &[(usize, Row)],
    ufields: &[Vec<String>],
    out: &mut Vec<Diagnostic>,
) {
    let server = match t.dialect {
        Dialect::AwsIdentityCenter => "AWS IAM Identity Center",
        Dialect::Generic => "SCIM",
    };
    for attr in &t.required_user_attributes {
        let Some(ri) = c.user_rule(attr) else {
            if !users.is_empty() {
                out.push(
                    Diagnostic::error(
                        t.loc,
                        format!("target {:?} has no mapping for `{attr}`, which {server} requires", t.name),
                    )
                    .hint(format!(
                        "map it under `mapping: user:`, e.g. `{attr}: \"{{{{ field }}}}\"`, or give users the field the preset maps ({})",
                        preset_field(attr)
                    )),
                );
            }
            continue;
        };
        let mut offenders = users.iter().filter(|(_, r)| r.values[ri].is_none());
        let Some((first, _)) = offenders.next() else {
            continue;
        };
        let count = 1 + offenders.count();
        let u = &desired.users[*first];
        let rule = &c.user[ri];
        let mut d = Diagnostic::error(
            u.loc,
            format!(
                "`{attr}` renders empty for {} assigned to target {:?}; {server} requires it",
                first_and_more("user", &u.id, count),
                t.name
            ),
        )
        .hint(match ufields[ri].first() {
            Some(f) => format!(
                "give {} `{f}:`, or change the mapping of `{attr}`",
                if count > 1 { "these users" } else { "the user" }
            ),
            None => format!("change the mapping of `{attr}` so it renders a value"),
        });
        if let Some(l) = rule.loc {
            d = d.note(l, format!("the mapping of `{attr}`"));
        }
        out.push(d);
    }
}
