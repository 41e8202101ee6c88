//! The `validate` checks that concern mappings: template syntax, fields no user defines, invalid
//! or unsupported attribute paths, and the checks on each target's RENDERED values (required
//! attributes, AWS's userName length, reserved names, duplicates, objects with no match key).
//!
//! The rendered checks are why this lives beside the renderer: two users can differ in the YAML
//! and still collide in a target once mapped (`{{ user_name | lower }}`), and only rendering shows
//! it. Every assigned object is rendered once per target and every check reads that one result,
//! so `validate` of 100,000 users stays fast.

use super::path::AttrPath;
use super::template::{referenced_fields, GROUP_FIELDS};
use super::{CompiledRule, CompiledTarget, Rendered};
use crate::config::assign::assigned;
use crate::config::model::{Dialect, GroupMatchKey, UserMatchKey};
use crate::config::{defined_fields, Desired, MappingRule, MappingSource, Target, User};
use crate::diag::{Diagnostic, Loc};
use crate::fasthash::{map_with_capacity, FastMap};
use crate::scim::resource::ENTERPRISE_USER_SCHEMA;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// AWS's longest userName.
const AWS_MAX_USER_NAME: usize = 128;

/// Every mapping problem of every target.
///
/// Targets are independent, so each is checked on its own thread (rendering 100,000 users is
/// most of `validate`'s check time); each thread's rendered values are freed when it ends, and
/// the diagnostics are joined in target order so the output does not depend on scheduling.
pub fn check(desired: &Desired) -> Vec<Diagnostic> {
    let fields = defined_fields(&desired.users);
    let one = |t: &Target| {
        let mut out = Vec::new();
        check_static(t, &fields, &mut out);
        match CompiledTarget::compile(t) {
            Ok(c) => check_rendered(desired, t, &c, &mut out),
            Err(d) => out.extend(d),
        }
        out
    };
    if desired.targets.len() <= 1 {
        return desired.targets.iter().flat_map(one).collect();
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = desired
            .targets
            .iter()
            .map(|t| scope.spawn(move || one(t)))
            .collect();
        handles
            .into_iter()
            // a panic in one target's checks is re-raised here, as without threads
            .flat_map(|h| match h.join() {
                Ok(d) => d,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

// ---------------------------------------------------------------------------------------------
// Checks on the rules themselves.

fn check_static(t: &Target, fields: &HashSet<String>, out: &mut Vec<Diagnostic>) {
    let mut known: Vec<&str> = fields.iter().map(String::as_str).collect();
    known.sort_unstable();
    for (rules, is_user) in [(&t.user_mapping, true), (&t.group_mapping, false)] {
        // AWS's single-valued "multi-valued" attributes: the distinct elements mapped into each
        // (rules with the same filter write one element).
        let mut singles: Vec<(&str, Vec<(String, &MappingRule)>)> =
            AWS_SINGLE_VALUED.iter().map(|a| (*a, Vec::new())).collect();
        for rule in rules.iter() {
            if let (true, Ok(p)) = (is_user, AttrPath::parse(&rule.path)) {
                let slot = singles
                    .iter_mut()
                    .find(|(a, _)| p.schema.is_none() && p.attr.eq_ignore_ascii_case(a));
                if let Some((_, elems)) = slot {
                    let key = AttrPath { sub: None, ..p }.key();
                    if !renders_nothing(&rule.source) && !elems.iter().any(|(k, _)| *k == key) {
                        elems.push((key, rule));
                    }
                }
            }
            // Preset rules are roster's own and always fit their dialect.
            let Some(loc) = rule.loc else { continue };
            let path = AttrPath::parse(&rule.path).ok();
            if let Some(p) = &path {
                if let Some((message, hint)) = unsupported(p, t.dialect, is_user) {
                    out.push(Diagnostic::error(loc, message).hint(hint));
                }
            }
            if !is_user && matches!(rule.source, MappingSource::UserRef(_)) {
                out.push(
                    Diagnostic::error(loc, format!("`user_ref` in the group mapping of `{}`", rule.path))
                        .hint("`user_ref` resolves a directory user id and applies to user mappings only; use a template"),
                );
            }
            let (MappingSource::Template(src) | MappingSource::UserRef(src)) = &rule.source else {
                continue;
            };
            // Syntax errors are reported by the compiler; nothing to add here.
            let Ok(used) = referenced_fields(src) else {
                continue;
            };
            for f in used {
                let defined = if is_user {
                    fields.contains(&f)
                } else {
                    GROUP_FIELDS.contains(&f.as_str())
                };
                if defined || guarded_by_default(src, &f) {
                    continue;
                }
                let candidates: Vec<&str> = if is_user {
                    known.clone()
                } else {
                    GROUP_FIELDS.to_vec()
                };
                let hint = match (closest(&f, &candidates), is_user) {
                    (Some(c), true) => format!("did you mean `{c}`? Otherwise define `{f}` on the users that have it, or write `{{{{ {f} | default('') }}}}` to make it optional"),
                    (None, true) => format!("define `{f}` on the users that have it, or write `{{{{ {f} | default('') }}}}` to make it optional"),
                    (Some(c), false) => format!("did you mean `{c}`? Group templates can use `id`, `name` and `description`"),
                    (None, false) => "group templates can use `id`, `name` and `description`".to_string(),
                };
                let message = if is_user {
                    format!(
                        "the template of `{}` uses `{f}`, which no user defines",
                        rule.path
                    )
                } else {
                    format!(
                        "the group template of `{}` uses `{f}`, which is not a group field",
                        rule.path
                    )
                };
                out.push(Diagnostic::error(loc, message).hint(hint));
            }
        }
        if t.dialect == Dialect::AwsIdentityCenter {
            for (attr, elems) in &singles {
                let Some(((_, first), rest)) = elems.split_first() else {
                    continue;
                };
                for (_, extra) in rest {
                    let Some(loc) = extra.loc.or(first.loc) else {
                        continue;
                    };
                    let hint = match first.loc {
                        None => format!(
                            "keep one; to replace the preset's, also write `\"{}\": \"\"`",
                            first.path
                        ),
                        Some(_) => format!("keep one of the `{attr}` mappings"),
                    };
                    let mut d = Diagnostic::error(
                        loc,
                        format!(
                            "target {:?} maps more than one of `{attr}` (`{}` and `{}`); AWS IAM \
                             Identity Center accepts a single value",
                            t.name, first.path, extra.path
                        ),
                    )
                    .hint(hint);
                    if let (Some(l), true) = (first.loc, first.loc != extra.loc) {
                        d = d.note(l, format!("the other `{attr}` mapping"));
                    }
                    out.push(d);
                }
            }
        }
    }
}

/// A rule that is written to render nothing (how a preset rule is switched off).
fn renders_nothing(s: &MappingSource) -> bool {
    match s {
        MappingSource::Template(t) | MappingSource::UserRef(t) => t.trim().is_empty(),
        MappingSource::Value(v) => v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()),
    }
}

/// `{{ title | default('') }}` makes `title` optional on purpose: not a misspelling to report.
fn guarded_by_default(src: &str, field: &str) -> bool {
    let mut rest = src;
    while let Some(i) = rest.find(field) {
        let before_ok = rest[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let after = rest[i + field.len()..].trim_start();
        if before_ok {
            if let Some(f) = after.strip_prefix('|') {
                let f = f.trim_start();
                if f.starts_with("default") || f.starts_with("d(") {
                    return true;
                }
            }
        }
        rest = &rest[i + field.len()..];
    }
    false
}

/// The candidate nearest to `name` by edit distance, if near enough to be a likely typo.
fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(name, c);
        if d <= (name.len() / 3).max(1) && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Optimal string alignment distance: a swapped pair of letters, the commonest typo, counts 1.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// Sub-attributes of the multi-valued attributes of RFC 7643 §4.1.2 / §2.4.
const MULTI_SUBS: &[&str] = &["value", "display", "type", "primary", "$ref"];
const NAME_SUBS: &[&str] = &[
    "formatted",
    "familyName",
    "givenName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
];
const ADDRESS_SUBS: &[&str] = &[
    "formatted",
    "streetAddress",
    "locality",
    "region",
    "postalCode",
    "country",
    "type",
    "primary",
];
const ENTERPRISE_ATTRS: &[&str] = &[
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "manager",
];
const USER_SINGLE: &[&str] = &[
    "userName",
    "externalId",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "password",
];
const USER_MULTI: &[&str] = &[
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "entitlements",
    "roles",
    "x509Certificates",
];
/// Multi-valued attributes AWS IAM Identity Center takes one value of.
const AWS_SINGLE_VALUED: &[&str] = &["emails", "phoneNumbers", "addresses", "roles"];
/// What AWS IAM Identity Center refuses (SPEC 6; scim_anchors §1.6).
const AWS_REFUSED: &[&str] = &[
    "password",
    "ims",
    "photos",
    "x509Certificates",
    "entitlements",
];
const AWS_SUPPORTED: &str = "userName, externalId, displayName, nickName, profileUrl, title, \
     userType, preferredLanguage, locale, timezone, name.*, one each of emails, phoneNumbers, \
     addresses and roles (value, type, primary), and the enterprise extension";

fn contains_ci(list: &[&str], s: &str) -> bool {
    list.iter().any(|x| x.eq_ignore_ascii_case(s))
}

/// Why a path cannot be written to this dialect: (message, hint).
fn unsupported(p: &AttrPath, dialect: Dialect, is_user: bool) -> Option<(String, String)> {
    let aws = dialect == Dialect::AwsIdentityCenter;
    let server = if aws {
        "AWS IAM Identity Center"
    } else {
        "a generic SCIM target"
    };
    let refuse = |what: String, hint: &str| Some((what, hint.to_string()));
    let attr = p.attr.as_str();
    let sub = p.sub.as_deref();

    // Attributes roster itself owns, on every dialect.
    if p.schema.is_none() && p.filter.is_empty() {
        if contains_ci(&["id", "meta", "schemas"], attr) {
            return refuse(
                format!("`{p}` is set by the service provider and cannot be mapped"),
                "remove this mapping; the target assigns `id` and `meta`, and roster fills `schemas`",
            );
        }
        if is_user && attr.eq_ignore_ascii_case("active") {
            return refuse(
                format!("`{p}` cannot be mapped: roster sets it"),
                "remove this mapping; set `active: false` on the user to deactivate them everywhere",
            );
        }
        if is_user && attr.eq_ignore_ascii_case("groups") {
            return refuse(
                format!("`{p}` is read-only: group membership is written on groups"),
                "remove this mapping; list the user in a group's `members` instead",
            );
        }
        if !is_user && attr.eq_ignore_ascii_case("members") {
            return refuse(
                format!("`{p}` cannot be mapped: roster writes membership from `members`"),
                "remove this mapping; list users in the group's `members` and `include`",
            );
        }
    }

    if !is_user {
        let ok = p.schema.is_none()
            && p.filter.is_empty()
            && sub.is_none()
            && contains_ci(&["displayName", "externalId"], attr);
        if ok || (!aws && p.schema.is_some()) {
            return None;
        }
        return refuse(
            format!("`{p}` is not a group attribute {server} supports"),
            "groups map `displayName` and `externalId`",
        );
    }

    match &p.schema {
        Some(s) if s.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA) => {
            if !contains_ci(ENTERPRISE_ATTRS, attr) || !p.filter.is_empty() {
                return refuse(
                    format!("`{p}` is not an attribute of the enterprise User extension"),
                    "the extension has employeeNumber, costCenter, organization, division, \
                     department and manager.value",
                );
            }
            if attr.eq_ignore_ascii_case("manager") {
                match sub {
                    Some(s) if s.eq_ignore_ascii_case("value") => {}
                    Some(s) if s.eq_ignore_ascii_case("displayName") && aws => {
                        return refuse(
                            format!("`{p}` is not supported by {server}"),
                            "map only `...:User:manager.value` (with `user_ref`); AWS does not \
                             accept manager.displayName",
                        )
                    }
                    Some(s) if contains_ci(&["displayName", "$ref"], s) => {}
                    _ => {
                        return refuse(
                            format!("`{p}` is not a sub-attribute of the manager reference"),
                            "map `...:User:manager.value` with `{ user_ref: \"{{ manager }}\" }`",
                        )
                    }
                }
            } else if sub.is_some() {
                return refuse(
                    format!("`{p}`: `{attr}` has no sub-attributes"),
                    "map the attribute itself, e.g. `...:User:department`",
                );
            }
            None
        }
        Some(s) => {
            if aws {
                refuse(
                    format!(
                        "`{p}` is in the extension schema `{s}`, which {server} does not support"
                    ),
                    "AWS supports the core User schema and the enterprise extension \
                     (urn:ietf:params:scim:schemas:extension:enterprise:2.0:User) only",
                )
            } else {
                None
            }
        }
        None => core_user(p, aws, server),
    }
}

fn core_user(p: &AttrPath, aws: bool, server: &str) -> Option<(String, String)> {
    let attr = p.attr.as_str();
    let sub = p.sub.as_deref();
    let not_attr = || {
        Some((
            format!("`{p}` is not an attribute of the SCIM core User schema"),
            "check the spelling against RFC 7643 section 4.1; custom attributes go under an \
             extension schema, e.g. `urn:example:params:scim:schemas:extension:acme:2.0:User:badge`"
                .to_string(),
        ))
    };
    let aws_refuses = |what: &str| {
        Some((
            format!("`{what}` is not supported by {server}"),
            format!("remove this mapping; AWS supports {AWS_SUPPORTED}"),
        ))
    };
    if aws && contains_ci(AWS_REFUSED, attr) {
        return aws_refuses(attr);
    }
    if contains_ci(USER_SINGLE, attr) {
        if p.filter.is_empty() && sub.is_none() {
            return None;
        }
        return Some((
            format!("`{p}`: `{attr}` is a single value with no sub-attributes"),
            format!("map `{attr}` itself"),
        ));
    }
    if attr.eq_ignore_ascii_case("name") {
        return match sub {
            Some(s) if p.filter.is_empty() && contains_ci(NAME_SUBS, s) => None,
            _ => Some((
                format!("`{p}` is not a sub-attribute of `name`"),
                format!("`name` has {}", NAME_SUBS.join(", ")),
            )),
        };
    }
    let is_address = attr.eq_ignore_ascii_case("addresses");
    if !is_address && !contains_ci(USER_MULTI, attr) {
        return not_attr();
    }
    let subs = if is_address { ADDRESS_SUBS } else { MULTI_SUBS };
    match sub {
        Some(s) if aws && s.eq_ignore_ascii_case("display") => aws_refuses(&p.to_string()),
        Some(s) if contains_ci(subs, s) => None,
        // `emails[type eq "work"]` written as a whole: its value goes into `value`.
        None if !p.filter.is_empty() => None,
        _ => Some((
            format!("`{p}` is not a sub-attribute of `{attr}`"),
            format!("`{attr}` values have {}", subs.join(", ")),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Checks on rendered values.

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
fn copied_field(target_rules: &[MappingRule], r: &CompiledRule) -> Option<String> {
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
fn directory_duplicate(
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
fn user_value_loc(u: &User, fields: &[String]) -> Loc {
    fields
        .iter()
        .find_map(|f| u.fields.get(f).map(|x| x.loc))
        .unwrap_or(u.loc)
}

/// What the checks keep of one rendered object, one cell per rule. A full rendering of 100,000
/// users (a JSON value per rule) was a third of `validate`'s peak memory, and most rules are
/// only checked for being empty: their content is dropped right after rendering.
struct Row {
    values: Box<[Cell]>,
}

/// One rule's rendered value, as much of it as a check reads.
enum Cell {
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
    fn is_none(&self) -> bool {
        matches!(self, Cell::Empty)
    }

    /// The value as JSON text, as messages quote it.
    fn json(&self) -> String {
        match self {
            Cell::Empty | Cell::Present => String::new(),
            Cell::Text(s) => Value::String(s.to_string()).to_string(),
            Cell::Other(v) => v.to_string(),
        }
    }
}

fn text(v: &Cell) -> Option<&str> {
    match v {
        Cell::Text(s) => Some(s),
        Cell::Other(v) => v.as_str(),
        Cell::Empty | Cell::Present => None,
    }
}

/// Every later row whose rule `ri` renders the same value as an earlier one (ignoring case
/// unless `exact`), as (object index of the first, position in `rows` of the later), in row
/// order: the search the user and group duplicate checks share.
fn rendered_collisions(rows: &[(usize, Row)], ri: usize, exact: bool) -> Vec<(usize, usize)> {
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
fn first_and_more(kind: &str, first: &str, count: usize) -> String {
    if count > 1 {
        format!("{kind} {first:?} and {} more", count - 1)
    } else {
        format!("{kind} {first:?}")
    }
}

fn check_rendered(desired: &Desired, t: &Target, c: &CompiledTarget, out: &mut Vec<Diagnostic>) {
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

/// The directory field the preset maps to a required attribute.
fn preset_field(attr: &str) -> &'static str {
    match attr {
        "userName" => "user_name",
        "displayName" => "display_name, or given_name and family_name",
        "name.givenName" => "given_name",
        "name.familyName" => "family_name",
        _ => "see `roster schema`",
    }
}

fn check_user_values(
    desired: &Desired,
    t: &Target,
    c: &CompiledTarget,
    users: &[(usize, Row)],
    ufields: &[Vec<String>],
    out: &mut Vec<Diagnostic>,
) {
    let user_name = c.user_rule("userName");
    let display = c.user_rule("displayName");
    let external = c.user_rule("externalId");
    let email = c.email_rule();
    let aws = t.dialect == Dialect::AwsIdentityCenter;

    // AWS's userName length, one diagnostic per target.
    if let (true, Some(ri)) = (aws, user_name) {
        let mut long = users.iter().filter(|(_, r)| {
            text(&r.values[ri]).is_some_and(|s| s.chars().count() > AWS_MAX_USER_NAME)
        });
        if let Some((first, r)) = long.next() {
            let count = 1 + long.count();
            let u = &desired.users[*first];
            let len = text(&r.values[ri]).map(|s| s.chars().count()).unwrap_or(0);
            out.push(
                Diagnostic::error(
                    user_value_loc(u, &ufields[ri]),
                    format!(
                        "userName of {} is longer than {AWS_MAX_USER_NAME} characters ({len}) in target {:?}",
                        first_and_more("user", &u.id, count),
                        t.name
                    ),
                )
                .hint("AWS IAM Identity Center accepts userName up to 128 characters; shorten it or map userName from a shorter field"),
            );
        }
    }

    // Reserved names.
    if !t.reserved_names.is_empty() {
        for ri in [user_name, display].into_iter().flatten() {
            for (ui, r) in users {
                let Some(v) = text(&r.values[ri]) else {
                    continue;
                };
                if let Some(res) = t.reserved_names.iter().find(|n| n.eq_ignore_ascii_case(v)) {
                    let u = &desired.users[*ui];
                    out.push(
                        Diagnostic::error(
                            user_value_loc(u, &ufields[ri]),
                            format!(
                                "{} of user {:?} renders {v:?}, a name target {:?} reserves",
                                c.user[ri].path_text, u.id, t.name
                            ),
                        )
                        .hint(format!(
                            "`{res}` is reserved by AWS IAM Identity Center; choose another name"
                        )),
                    );
                }
            }
        }
    }

    // Duplicates on rendered values.
    for (ri, exact, what) in [
        (user_name, false, "userName"),
        (email, false, "primary email"),
        (external, true, "externalId"),
    ] {
        let Some(ri) = ri else { continue };
        let copied = copied_field(&t.user_mapping, &c.user[ri]);
        for (first, later) in rendered_collisions(users, ri, exact) {
            let (ui, r) = (&users[later].0, &users[later].1);
            let (a, b) = (&desired.users[first], &desired.users[*ui]);
            // Equal source fields are the directory's duplicate, reported by the directory
            // checks; only report collisions the mapping creates.
            if let Some(f) = &copied {
                let text_of = |u: &User| u.fields.get(f).and_then(|x| x.value.as_text());
                if directory_duplicate(f, &["id"], &["user_name", "email"], text_of(a), text_of(b))
                {
                    continue;
                }
            }
            out.push(
                Diagnostic::error(
                    user_value_loc(b, &ufields[ri]),
                    format!(
                        "users {:?} and {:?} both render {what} {} in target {:?}",
                        a.id,
                        b.id,
                        r.values[ri].json(),
                        t.name
                    ),
                )
                .note(user_value_loc(a, &ufields[ri]), format!("user {:?}", a.id))
                .hint(format!(
                    "{what} must be unique in a target{}; change one of the users or the mapping of `{}`",
                    if exact { "" } else { " (ignoring case)" },
                    c.user[ri].path_text
                )),
            );
        }
    }
}

fn check_group_values(
    desired: &Desired,
    t: &Target,
    c: &CompiledTarget,
    groups: &[(usize, Row)],
    gfields: &[Vec<String>],
    out: &mut Vec<Diagnostic>,
) {
    let display = c.group_rule("displayName");
    let external = c.group_rule("externalId");
    let group_loc = |gi: usize, ri: usize| {
        let g = &desired.groups[gi];
        match gfields[ri].first().map(String::as_str) {
            Some("name") => g.name_loc,
            Some("id") => g.id_loc,
            _ => g.loc,
        }
    };
    if let Some(ri) = display {
        for (gi, r) in groups {
            let Some(v) = text(&r.values[ri]) else {
                continue;
            };
            if let Some(res) = t.reserved_names.iter().find(|n| n.eq_ignore_ascii_case(v)) {
                out.push(
                    Diagnostic::error(
                        group_loc(*gi, ri),
                        format!(
                            "displayName of group {:?} renders {v:?}, a name target {:?} reserves",
                            desired.groups[*gi].id, t.name
                        ),
                    )
                    .hint(format!(
                        "`{res}` is reserved by AWS IAM Identity Center; choose another name"
                    )),
                );
            }
        }
    }
    for (ri, exact, what) in [
        (display, false, "displayName"),
        (external, true, "externalId"),
    ] {
        let Some(ri) = ri else { continue };
        let copied = copied_field(&t.group_mapping, &c.group[ri]);
        for (first, later) in rendered_collisions(groups, ri, exact) {
            let (gi, r) = (&groups[later].0, &groups[later].1);
            let (a, b) = (&desired.groups[first], &desired.groups[*gi]);
            if let Some(f) = &copied {
                let pick = |g: &crate::config::Group| match f.as_str() {
                    "id" => Some(g.id.clone()),
                    "name" => Some(g.name.clone()),
                    "description" => g.description.clone(),
                    _ => None,
                };
                if directory_duplicate(f, &["id"], &["name"], pick(a), pick(b)) {
                    continue;
                }
            }
            out.push(
                Diagnostic::error(
                    group_loc(*gi, ri),
                    format!(
                        "groups {:?} and {:?} both render {what} {} in target {:?}",
                        a.id,
                        b.id,
                        r.values[ri].json(),
                        t.name
                    ),
                )
                .note(group_loc(first, ri), format!("group {:?}", a.id))
                .hint(format!(
                    "{what} must be unique in a target{}; rename one of the groups or change the mapping of `{}`",
                    if exact { "" } else { " (ignoring case)" },
                    c.group[ri].path_text
                )),
            );
        }
    }
}

fn check_match_keys(
    desired: &Desired,
    t: &Target,
    c: &CompiledTarget,
    users: &[(usize, Row)],
    groups: &[(usize, Row)],
    out: &mut Vec<Diagnostic>,
) {
    let ukeys: Vec<Option<usize>> = t
        .match_users
        .iter()
        .map(|k| match k {
            UserMatchKey::ExternalId => c.user_rule("externalId"),
            UserMatchKey::UserName => c.user_rule("userName"),
            UserMatchKey::Email => c.email_rule(),
        })
        .collect();
    let names: Vec<&str> = t
        .match_users
        .iter()
        .map(|k| match k {
            UserMatchKey::ExternalId => "externalId",
            UserMatchKey::UserName => "userName",
            UserMatchKey::Email => "email",
        })
        .collect();
    let none = |r: &Row, keys: &[Option<usize>]| {
        keys.iter().all(|k| k.is_none_or(|i| r.values[i].is_none()))
    };
    let mut bad = users.iter().filter(|(_, r)| none(r, &ukeys));
    if let Some((first, _)) = bad.next() {
        let count = 1 + bad.count();
        let u = &desired.users[*first];
        out.push(
            Diagnostic::error(
                u.loc,
                format!(
                    "{} assigned to target {:?} {} no match key: {}",
                    first_and_more("user", &u.id, count),
                    t.name,
                    if count > 1 { "have" } else { "has" },
                    all_empty(&names)
                ),
            )
            .hint("roster could never find the user in the target again; map at least one of the `match.users` keys to a value every user has"),
        );
    }
    let gkeys: Vec<Option<usize>> = t
        .match_groups
        .iter()
        .map(|k| match k {
            GroupMatchKey::ExternalId => c.group_rule("externalId"),
            GroupMatchKey::DisplayName => c.group_rule("displayName"),
        })
        .collect();
    let gnames: Vec<&str> = t
        .match_groups
        .iter()
        .map(|k| match k {
            GroupMatchKey::ExternalId => "externalId",
            GroupMatchKey::DisplayName => "displayName",
        })
        .collect();
    let mut bad = groups.iter().filter(|(_, r)| none(r, &gkeys));
    if let Some((first, _)) = bad.next() {
        let count = 1 + bad.count();
        let g = &desired.groups[*first];
        out.push(
            Diagnostic::error(
                g.loc,
                format!(
                    "{} assigned to target {:?} {} no match key: {}",
                    first_and_more("group", &g.id, count),
                    t.name,
                    if count > 1 { "have" } else { "has" },
                    all_empty(&gnames)
                ),
            )
            .hint("map at least one of the `match.groups` keys to a value every group has"),
        );
    }
}

/// "email renders empty" / "externalId and userName render empty"
fn all_empty(names: &[&str]) -> String {
    match names {
        [] => "the target has no match keys".to_string(),
        [one] => format!("{one} renders empty"),
        [rest @ .., last] => format!("{} and {last} render empty", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::test_support::desired;

    fn messages(yaml: &str) -> Vec<String> {
        check(&desired(yaml))
            .into_iter()
            .map(|d| d.message)
            .collect()
    }

    const USERS: &str = r#"
users:
  - { id: e1, user_name: alice@example.com, given_name: Alice, family_name: Liddell, email: alice@example.com, manager: e2 }
  - { id: e2, user_name: bob@example.com, given_name: Bob, family_name: Builder, email: bob@example.com }
groups:
  - { id: g-eng, name: engineering, members: [e1, e2] }
"#;

    fn aws(mapping: &str) -> String {
        format!(
            "{USERS}targets:\n  aws:\n    type: aws-identity-center\n    url: https://x.example/scim/v2\n    auth: {{ bearer_token_env: T }}\n    assign: {{ all: true }}\n{mapping}"
        )
    }

    fn generic(mapping: &str) -> String {
        format!(
            "{USERS}targets:\n  crm:\n    type: generic\n    url: https://x.example/scim/v2\n    auth: {{ bearer_token_env: T }}\n    assign: {{ all: true }}\n{mapping}"
        )
    }

    #[test]
    fn presets_and_optional_fields_are_clean() {
        assert_eq!(messages(&aws("")), Vec::<String>::new());
        assert_eq!(messages(&generic("")), Vec::<String>::new());
        let m = "    mapping:\n      user:\n        title: { template: \"{{ title | default('') }}\", on: create }\n        \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter\": { value: CC-100 }\n";
        assert_eq!(messages(&aws(m)), Vec::<String>::new());
    }

    #[test]
    fn unknown_fields_suggest_the_nearest() {
        let d = check(&desired(&aws(
            "    mapping:\n      user:\n        title: \"{{ famly_name }}\"\n",
        )));
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].message.contains("`famly_name`, which no user defines"));
        assert!(d[0]
            .hint
            .as_deref()
            .unwrap()
            .contains("did you mean `family_name`"));
    }

    #[test]
    fn unsupported_attributes_per_dialect() {
        let user = |path: &str| {
            format!("    mapping:\n      user:\n        '{path}': \"{{{{ email }}}}\"\n")
        };
        for path in [
            "password",
            "entitlements[type eq \"x\"].value",
            "x509Certificates.value",
            "emails[type eq \"work\"].display",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
            "urn:acme:ext:User:badge",
            "active",
            "groups.value",
            "name.nickname",
            "userName.value",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:team",
        ] {
            let m = messages(&aws(&user(path)));
            assert!(!m.is_empty(), "AWS accepted {path}");
        }
        for path in [
            "password",
            "emails[type eq \"work\"].display",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
            "urn:acme:ext:User:badge",
            "phoneNumbers[type eq \"work\"].value",
            "addresses[type eq \"work\"].locality",
            "nickName",
        ] {
            assert_eq!(
                messages(&generic(&user(path))),
                Vec::<String>::new(),
                "{path}"
            );
        }
        for path in ["nickname2", "active", "id", "name.nickname"] {
            assert!(
                !messages(&generic(&user(path))).is_empty(),
                "generic accepted {path}"
            );
        }
        let group = |path: &str| {
            format!("    mapping:\n      group:\n        '{path}': \"{{{{ name }}}}\"\n")
        };
        assert!(!messages(&aws(&group("members"))).is_empty());
        assert!(!messages(&aws(&group("description"))).is_empty());
        assert!(!messages(&aws(&group("urn:acme:ext:Group:x"))).is_empty());
        assert!(messages(&generic(&group("urn:acme:ext:Group:x"))).is_empty());
    }

    #[test]
    fn aws_takes_one_email() {
        let m = messages(&aws(
            "    mapping:\n      user:\n        'emails[type eq \"home\"].value': \"{{ email }}\"\n",
        ));
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].contains("more than one of `emails`"), "{m:?}");
        // switching the preset's email off makes room for another
        let m = messages(&aws(
            "    mapping:\n      user:\n        'emails[primary eq true].value': \"\"\n        'emails[type eq \"home\"].value': \"{{ email }}\"\n",
        ));
        assert_eq!(m, Vec::<String>::new());
        // several sub-attributes of one address are one value
        let m = messages(&aws(
            "    mapping:\n      user:\n        'addresses[type eq \"work\"].locality': \"{{ email }}\"\n        'addresses[type eq \"work\"].country': { value: NL }\n        'addresses[type eq \"home\"].country': { value: BE }\n",
        ));
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].contains("more than one of `addresses`"), "{m:?}");
    }

    #[test]
    fn user_ref_in_group_mapping_is_refused() {
        let m = messages(&generic(
            "    mapping:\n      group:\n        externalId: { user_ref: \"{{ id }}\" }\n",
        ));
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].contains("`user_ref` in the group mapping"));
    }

    #[test]
    fn a_required_attribute_nobody_maps() {
        let yaml = "users:\n  - { id: e1, user_name: a, family_name: A }\ntargets:\n  aws:\n    type: embedded\n    dialect: aws-identity-center\n    assign: { all: true }\n";
        let m = messages(yaml);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].contains("no mapping for `name.givenName`"), "{m:?}");
    }

    #[test]
    fn required_empty_counts_users() {
        let yaml = "users:\n  - { id: e1, user_name: a, given_name: A, family_name: A }\n  - { id: e2, user_name: b, family_name: B }\n  - { id: e3, user_name: c, family_name: C }\ntargets:\n  aws:\n    type: embedded\n    dialect: aws-identity-center\n    assign: { all: true }\n";
        let m = messages(yaml);
        assert_eq!(
            m,
            vec![
                r#"`name.givenName` renders empty for user "e2" and 1 more assigned to target "aws"; AWS IAM Identity Center requires it"#
            ]
        );
    }

    #[test]
    fn unassigned_users_are_not_checked() {
        let yaml = "users:\n  - { id: e1, user_name: a, given_name: A, family_name: A }\n  - { id: e2, user_name: Administrator }\ntargets:\n  aws:\n    type: embedded\n    dialect: aws-identity-center\n    assign: { users: [e1] }\n";
        assert_eq!(messages(yaml), Vec::<String>::new());
    }

    #[test]
    fn rendered_duplicates_only_when_the_mapping_makes_them() {
        // the same user_name twice is the directory's duplicate: not repeated per target
        let yaml = "users:\n  - { id: e1, user_name: a }\n  - { id: e2, user_name: A }\ntargets:\n  t:\n    type: embedded\n    assign: { all: true }\n";
        assert_eq!(messages(yaml), Vec::<String>::new());
        let yaml = "users:\n  - { id: e1, user_name: a.x }\n  - { id: e2, user_name: a.y }\ntargets:\n  t:\n    type: embedded\n    assign: { all: true }\n    mapping:\n      user:\n        userName: \"{{ user_name | replace('.x', '') | replace('.y', '') }}\"\n        externalId: { value: same }\n";
        let d = check(&desired(yaml));
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d.iter().all(|d| d.notes.len() == 1));
        assert!(d[0].message.contains("both render userName \"a\""), "{d:?}");
        assert!(
            d[1].message.contains("both render externalId \"same\""),
            "{d:?}"
        );
    }

    #[test]
    fn render_errors_are_reported_once_per_rule() {
        let yaml = "users:\n  - { id: e1, user_name: a }\n  - { id: e2, user_name: b }\ntargets:\n  t:\n    type: embedded\n    assign: { all: true }\n    mapping:\n      user:\n        title: \"{% for i in range(1000) %}{% for j in range(1000) %}x{% endfor %}{% endfor %}\"\n";
        let m = messages(yaml);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].contains("fails for user \"e1\" and 1 more"), "{m:?}");
    }

    #[test]
    fn groups_without_match_key_and_reserved_group_names() {
        let yaml = "users: []\ngroups:\n  - { name: AWSAdministrators }\ntargets:\n  aws:\n    type: embedded\n    dialect: aws-identity-center\n    assign: { all: true }\n    mapping:\n      group:\n        externalId: \"\"\n        displayName: \"{{ description }}\"\n";
        let m = messages(yaml);
        assert!(
            m.iter()
                .any(|m| m.contains("no match key: externalId and displayName render empty")),
            "{m:?}"
        );
        let yaml = "users: []\ngroups:\n  - { name: awsadministrators }\ntargets:\n  aws:\n    type: embedded\n    dialect: aws-identity-center\n    assign: { all: true }\n";
        let m = messages(yaml);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].contains("a name target \"aws\" reserves"), "{m:?}");
    }

    #[test]
    fn edit_distance_and_default_guard() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(closest("emial", &["email", "id"]), Some("email"));
        assert_eq!(closest("zzz", &["email"]), None);
        assert!(guarded_by_default("{{ title | default('') }}", "title"));
        assert!(guarded_by_default("{{ title|d('x') }}", "title"));
        assert!(!guarded_by_default(
            "{{ subtitle | default('') }} {{ title }}",
            "title"
        ));
    }
}
