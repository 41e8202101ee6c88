//! Directory fields against what the mappings read. Users carry free-form fields, so a misspelt
//! one (`familly_name:`) is not a YAML error: it validates clean, no mapping reads it, and the
//! user is created without a family name. Two guards, one by default and one by choice:
//!
//! - without `fields:`, a field that no mapping reads and that is an edit or two away from one
//!   that a mapping (or a preset, were the field spelt right) reads is a warning, "did you mean";
//! - with a top-level `fields:` list, the directory's fields are declared: a user field not in
//!   it is an error, and (in `rules`) so is a template that reads an undeclared field.

use super::rules::{closest, edit_distance};
use crate::config::{preset, Desired, MappingSource};
use crate::diag::{Diagnostic, Loc};
use crate::mapping::template::referenced_fields;
use std::collections::{HashMap, HashSet};

/// Fields the model itself reads, whatever the mappings say: always declared.
pub(super) const MODEL_FIELDS: &[&str] = &["id", "user_name", "active", "manager"];

/// The declared field names (with the model's), when the configuration declares them.
pub(super) fn declared(desired: &Desired) -> Option<HashSet<String>> {
    let list = desired.declared_fields.as_ref()?;
    let mut names: HashSet<String> = list.iter().map(|(n, _)| n.clone()).collect();
    names.extend(MODEL_FIELDS.iter().map(|s| s.to_string()));
    Some(names)
}

/// Every field problem of the directory.
pub(super) fn check(desired: &Desired) -> Vec<Diagnostic> {
    // What the users are missing is unknown while a file is unreadable; its error is enough.
    if !desired.sources.unreadable.is_empty() {
        return Vec::new();
    }
    match declared(desired) {
        Some(names) => check_declared(desired, &names),
        None => check_near_misses(desired),
    }
}

/// The first place each field name of interest is written, and how many users write it.
fn first_uses<'a>(desired: &'a Desired, wanted: &HashSet<&str>) -> Vec<(&'a str, Loc, usize)> {
    let mut seen: HashMap<&str, (Loc, usize)> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    for u in &desired.users {
        for (name, field) in &u.fields {
            if !wanted.contains(&**name) {
                continue;
            }
            let e = seen.entry(&**name).or_insert_with(|| {
                order.push(&**name);
                (field.loc, 0)
            });
            e.1 += 1;
        }
    }
    order
        .into_iter()
        .map(|n| {
            let (loc, count) = seen[n];
            (n, loc, count)
        })
        .collect()
}

fn others(count: usize) -> String {
    match count {
        0 | 1 => String::new(),
        2 => " (and 1 other user)".into(),
        n => format!(" (and {} other users)", n - 1),
    }
}

/// `fields:` is given: every user field must be in it. One error per field name, at its first
/// use, so that one slip on 1,000 users is one error.
fn check_declared(desired: &Desired, names: &HashSet<String>) -> Vec<Diagnostic> {
    let defined = crate::config::defined_fields(&desired.users);
    let undeclared: HashSet<&str> = defined
        .iter()
        .map(String::as_str)
        .filter(|f| !names.contains(*f))
        .collect();
    if undeclared.is_empty() {
        return Vec::new();
    }
    let mut candidates: Vec<&str> = names.iter().map(String::as_str).collect();
    candidates.sort_unstable();
    let at = desired
        .declared_fields
        .as_ref()
        .and_then(|l| l.first())
        .map(|(_, loc)| *loc);
    first_uses(desired, &undeclared)
        .into_iter()
        .map(|(name, loc, count)| {
            let hint = match closest(name, &candidates) {
                Some(c) => format!("did you mean `{c}`? Otherwise add `{name}` to `fields:`"),
                None => format!("add `{name}` to `fields:`, or remove it from the user"),
            };
            let d = Diagnostic::error(
                loc,
                format!(
                    "user field `{name}` is not declared in `fields:`{}",
                    others(count)
                ),
            )
            .hint(hint);
            match at {
                Some(at) => d.note(at, "the directory's fields are declared here"),
                None => d,
            }
        })
        .collect()
}

/// How far a field may be from a read one to be taken for a misspelling of it: one edit in a
/// short name, two in a long one. Further than that it is likely a field of its own.
fn near(name: &str, read: &str) -> bool {
    let d = edit_distance(name, read);
    d > 0 && d <= 2 && d <= (name.chars().count() / 4).max(1)
}

/// No `fields:`: warn about a field that no mapping reads and that is close to one that is read.
fn check_near_misses(desired: &Desired) -> Vec<Diagnostic> {
    let mut read: HashSet<String> = MODEL_FIELDS.iter().map(|s| s.to_string()).collect();
    for t in &desired.targets {
        for rule in &t.user_mapping {
            if let MappingSource::Template(src) | MappingSource::UserRef(src) = &rule.source {
                if let Ok(used) = referenced_fields(src) {
                    read.extend(used);
                }
            }
        }
    }
    // What the presets would read had the field been spelt right: the preset maps
    // `family_name` only when some user has it, so `familly_name` alone leaves it unread.
    let mut candidates: HashSet<String> = read.clone();
    for m in preset::USER_MAPPING {
        if let Ok(used) = referenced_fields(m.template) {
            candidates.extend(used);
        }
    }
    let mut candidates: Vec<&str> = candidates.iter().map(String::as_str).collect();
    candidates.sort_unstable();
    let defined = crate::config::defined_fields(&desired.users);
    let mut suggestion: HashMap<&str, &str> = HashMap::new();
    for f in &defined {
        if read.contains(f) {
            continue;
        }
        let best = candidates
            .iter()
            .filter(|c| near(f, c))
            .min_by_key(|c| (edit_distance(f, c), **c));
        if let Some(c) = best {
            suggestion.insert(f.as_str(), c);
        }
    }
    if suggestion.is_empty() {
        return Vec::new();
    }
    let wanted: HashSet<&str> = suggestion.keys().copied().collect();
    first_uses(desired, &wanted)
        .into_iter()
        .map(|(name, loc, count)| {
            let c = suggestion[name];
            Diagnostic::warning(
                loc,
                format!(
                    "user field `{name}` is read by no mapping{}: did you mean `{c}`?",
                    others(count)
                ),
            )
            .hint(format!(
                "rename it to `{c}`; if `{name}` is a field of its own, map it or declare the \
                 directory's fields with a top-level `fields:` list"
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::config::test_support::desired;

    fn found(yaml: &str) -> Vec<(bool, String)> {
        super::check(&desired(yaml))
            .into_iter()
            .map(|d| (d.is_error(), d.message))
            .collect()
    }

    const TARGET: &str = "targets:\n  s:\n    type: embedded\n    assign: { all: true }\n    \
                          policy: { owns: { external_id: x } }\n";

    #[test]
    fn a_misspelt_field_is_a_warning_naming_the_right_one() {
        let yaml = format!(
            "version: 1\nusers:\n  - {{ id: e1, user_name: a, given_name: A, familly_name: L }}\n  \
             - {{ id: e2, user_name: b, given_name: B, familly_name: M }}\n{TARGET}"
        );
        assert_eq!(
            found(&yaml),
            vec![(
                false,
                "user field `familly_name` is read by no mapping (and 1 other user): did you \
                 mean `family_name`?"
                    .to_string()
            )]
        );
    }

    #[test]
    fn fields_far_from_any_read_one_are_fine() {
        let yaml = format!(
            "version: 1\nusers:\n  - {{ id: e1, user_name: a, cost_centre: x, badge: 7 }}\n{TARGET}"
        );
        assert!(found(&yaml).is_empty(), "{:?}", found(&yaml));
    }

    #[test]
    fn declared_fields_turn_unknown_ones_into_errors() {
        let yaml = format!(
            "version: 1\nfields: [given_name, family_name]\nusers:\n  - {{ id: e1, user_name: a, \
             given_name: A, familly_name: L }}\n{TARGET}"
        );
        assert_eq!(
            found(&yaml),
            vec![(
                true,
                "user field `familly_name` is not declared in `fields:`".to_string()
            )]
        );
        let d = super::check(&desired(&yaml));
        assert_eq!(
            d[0].hint.as_deref(),
            Some("did you mean `family_name`? Otherwise add `familly_name` to `fields:`")
        );
        assert_eq!(d[0].loc.map(|l| l.line), Some(4));
    }

    #[test]
    fn a_mapping_reading_an_undeclared_field_is_an_error() {
        let yaml = "version: 1\nfields: [given_name]\nusers:\n  - { id: e1, user_name: a, given_name: A }\n\
                    targets:\n  s:\n    type: embedded\n    assign: { all: true }\n    policy: { owns: { external_id: x } }\n    \
                    mapping:\n      user:\n        title: \"{{ titel | default('') }}\"\n";
        let all: Vec<String> = crate::validate::check(&desired(yaml))
            .into_iter()
            .map(|d| d.message)
            .collect();
        assert!(
            all.contains(
                &"the template of `title` uses `titel`, which `fields:` does not declare"
                    .to_string()
            ),
            "{all:?}"
        );
    }
}
