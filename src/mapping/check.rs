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
use crate::scim::resource::ENTERPRISE_USER_SCHEMA;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// AWS's longest userName.
const AWS_MAX_USER_NAME: usize = 128;

/// Every mapping problem of every target.
pub fn check(desired: &Desired) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let fields = defined_fields(&desired.users);
    for t in &desired.targets {
        check_static(t, &fields, &mut out);
        match CompiledTarget::compile(t) {
            Ok(c) => check_rendered(desired, t, &c, &mut out),
            Err(d) => out.extend(d),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Checks on the rules themselves.

fn check_static(t: &Target, fields: &HashSet<String>, out: &mut Vec<Diagnostic>) {
    let mut known: Vec<&str> = fields.iter().map(String::as_str).collect();
    known.sort_unstable();
    for (rules, is_user) in [(&t.user_mapping, true), (&t.group_mapping, false)] {
        let mut emails: Vec<&MappingRule> = Vec::new();
        for rule in rules.iter() {
            // Preset rules are roster's own and always fit their dialect.
            let Some(loc) = rule.loc else { continue };
            let path = AttrPath::parse(&rule.path).ok();
            if let Some(p) = &path {
                if let Some((message, hint)) = unsupported(p, t.dialect, is_user) {
                    out.push(Diagnostic::error(loc, message).hint(hint));
                }
                if is_user
                    && p.schema.is_none()
                    && p.attr.eq_ignore_ascii_case("emails")
                    && !renders_nothing(&rule.source)
                {
                    emails.push(rule);
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
                let hint = match closest(&f, &candidates) {
                    Some(c) => format!("did you mean `{c}`? Otherwise define `{f}` on the users that have it, or write `{{{{ {f} | default('') }}}}` to make it optional"),
                    None if is_user => format!("define `{f}` on the users that have it, or write `{{{{ {f} | default('') }}}}` to make it optional"),
                    None => "group templates can use `id`, `name` and `description`".to_string(),
                };
                let what = if is_user {
                    "no user defines"
                } else {
                    "groups have no field"
                };
                out.push(
                    Diagnostic::error(
                        loc,
                        format!("the template of `{}` uses `{f}`, which {what}", rule.path),
                    )
                    .hint(hint),
                );
            }
        }
        if t.dialect == Dialect::AwsIdentityCenter && emails.len() > 1 {
            for extra in &emails[1..] {
                let Some(loc) = extra.loc.or(emails[0].loc) else {
                    continue;
                };
                let mut d = Diagnostic::error(
                    loc,
                    format!(
                        "target {:?} maps more than one email (`{}` and `{}`); AWS IAM Identity Center accepts one",
                        t.name, emails[0].path, extra.path
                    ),
                )
                .hint(format!(
                    "keep one email mapping; to replace the preset's, write `\"{}\": \"\"`",
                    emails[0].path
                ));
                if let (Some(first), true) = (emails[0].loc, emails[0].loc != extra.loc) {
                    d = d.note(first, "the other email mapping");
                }
                out.push(d);
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

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
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

/// Index of the first rule writing `path` (compared as lowercase keys).
fn rule_for(rules: &[CompiledRule], path: &str) -> Option<usize> {
    let key = AttrPath::parse(path).ok()?.key();
    rules.iter().position(|r| r.path.key() == key)
}

/// The rule of the primary email: `emails[primary eq true].value`, else the first email rule.
fn email_rule(rules: &[CompiledRule]) -> Option<usize> {
    let is_email = |r: &CompiledRule| {
        r.path.schema.is_none()
            && r.path.attr.eq_ignore_ascii_case("emails")
            && r.path
                .sub
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case("value"))
    };
    rules
        .iter()
        .position(|r| {
            is_email(r)
                && r.path
                    .filter
                    .iter()
                    .any(|(k, v)| k.eq_ignore_ascii_case("primary") && *v == Value::Bool(true))
        })
        .or_else(|| rules.iter().position(is_email))
}

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

fn text(v: &Option<Value>) -> Option<&str> {
    v.as_ref().and_then(Value::as_str)
}

/// A value comparable across objects: strings lowercased unless `exact`, other JSON as text.
fn comparable(v: &Option<Value>, exact: bool) -> Option<String> {
    match v.as_ref()? {
        Value::String(s) if exact => Some(s.clone()),
        Value::String(s) => Some(s.to_lowercase()),
        other => Some(other.to_string()),
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
    let mut users: Vec<(usize, Rendered)> = Vec::with_capacity(a.users.len());
    let mut errors: HashMap<String, (usize, usize, String)> = HashMap::new();
    for &ui in &a.users {
        match c.render_user(&desired.users[ui]) {
            Ok(r) => users.push((ui, r)),
            Err(e) => {
                let entry = errors.entry(e.path.clone()).or_insert((ui, 0, e.message));
                entry.1 += 1;
            }
        }
    }
    report_render_errors(desired, t, c, &errors, out);
    let mut groups: Vec<(usize, Rendered)> = Vec::with_capacity(a.groups.len());
    for &gi in &a.groups {
        match c.render_group(&desired.groups[gi]) {
            Ok(r) => groups.push((gi, r)),
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
    users: &[(usize, Rendered)],
    ufields: &[Vec<String>],
    out: &mut Vec<Diagnostic>,
) {
    let server = match t.dialect {
        Dialect::AwsIdentityCenter => "AWS IAM Identity Center",
        Dialect::Generic => "SCIM",
    };
    for attr in &t.required_user_attributes {
        let Some(ri) = rule_for(&c.user, attr) else {
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
    users: &[(usize, Rendered)],
    ufields: &[Vec<String>],
    out: &mut Vec<Diagnostic>,
) {
    let user_name = rule_for(&c.user, "userName");
    let display = rule_for(&c.user, "displayName");
    let external = rule_for(&c.user, "externalId");
    let email = email_rule(&c.user);
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
        let mut seen: HashMap<String, usize> = HashMap::with_capacity(users.len());
        for (ui, r) in users {
            let Some(key) = comparable(&r.values[ri], exact) else {
                continue;
            };
            let Some(&first) = seen.get(&key) else {
                seen.insert(key, *ui);
                continue;
            };
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
                        r.values[ri].as_ref().map(Value::to_string).unwrap_or_default(),
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
    groups: &[(usize, Rendered)],
    gfields: &[Vec<String>],
    out: &mut Vec<Diagnostic>,
) {
    let display = rule_for(&c.group, "displayName");
    let external = rule_for(&c.group, "externalId");
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
        let mut seen: HashMap<String, usize> = HashMap::with_capacity(groups.len());
        for (gi, r) in groups {
            let Some(key) = comparable(&r.values[ri], exact) else {
                continue;
            };
            let Some(&first) = seen.get(&key) else {
                seen.insert(key, *gi);
                continue;
            };
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
                        r.values[ri].as_ref().map(Value::to_string).unwrap_or_default(),
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
    users: &[(usize, Rendered)],
    groups: &[(usize, Rendered)],
    out: &mut Vec<Diagnostic>,
) {
    let ukeys: Vec<Option<usize>> = t
        .match_users
        .iter()
        .map(|k| match k {
            UserMatchKey::ExternalId => rule_for(&c.user, "externalId"),
            UserMatchKey::UserName => rule_for(&c.user, "userName"),
            UserMatchKey::Email => email_rule(&c.user),
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
    let none = |r: &Rendered, keys: &[Option<usize>]| {
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
            GroupMatchKey::ExternalId => rule_for(&c.group, "externalId"),
            GroupMatchKey::DisplayName => rule_for(&c.group, "displayName"),
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
