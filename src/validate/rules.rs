//! Checks on a target's mapping rules themselves, before anything is rendered: templates that do
//! not compile, fields no user defines (with the closest name as a hint), and attribute paths
//! that are invalid, roster's own, or unsupported by the target's dialect.

use crate::config::model::Dialect;
use crate::config::{MappingRule, MappingSource, Target};
use crate::diag::Diagnostic;
use crate::mapping::template::{referenced_fields, GROUP_FIELDS};
use crate::mapping::AttrPath;
use crate::scim::resource::ENTERPRISE_USER_SCHEMA;
use std::collections::HashSet;

/// The user fields templates may read, and how they are known.
pub(super) struct UserFields<'a> {
    pub names: &'a HashSet<String>,
    /// The names are the `fields:` declaration, not what the users happen to define.
    pub declared: bool,
    /// False when a configuration file could not be read: the users it defines are unknown,
    /// so an undefined field is not reported (it may be theirs).
    pub complete: bool,
}

pub(super) fn check_static(t: &Target, user_fields: &UserFields<'_>, out: &mut Vec<Diagnostic>) {
    let fields = user_fields.names;
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
                    fields.contains(&f) || (!user_fields.declared && !user_fields.complete)
                } else {
                    GROUP_FIELDS.contains(&f.as_str())
                };
                // A declared directory reads only declared fields, optional or not.
                let optional = !(is_user && user_fields.declared) && guarded_by_default(src, &f);
                if defined || optional {
                    continue;
                }
                let candidates: Vec<&str> = if is_user {
                    known.clone()
                } else {
                    GROUP_FIELDS.to_vec()
                };
                if is_user && user_fields.declared {
                    let hint = match closest(&f, &candidates) {
                        Some(c) => format!("did you mean `{c}`? Otherwise add `{f}` to `fields:`"),
                        None => format!("add `{f}` to `fields:`, or fix the template"),
                    };
                    out.push(
                        Diagnostic::error(
                            loc,
                            format!(
                                "the template of `{}` uses `{f}`, which `fields:` does not declare",
                                rule.path
                            ),
                        )
                        .hint(hint),
                    );
                    continue;
                }
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
pub(super) fn guarded_by_default(src: &str, field: &str) -> bool {
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
pub(super) fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
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
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
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
/// What AWS IAM Identity Center refuses (docs/contract.md#aws-iam-identity-center).
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
