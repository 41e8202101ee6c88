//! The name-based parts of a target's policy, compiled once per plan: `ignore` globs, `protect`
//! and `release` lists, and the `owns` regular expression (docs/contract.md#matching-and-ownership).
//!
//! They are compiled up front so that classifying 100,000 live objects is a hash lookup or a
//! pattern match each, and so that a bad pattern fails the plan before anything is compared.

use super::PlanError;
use crate::config::{Desired, Names, Policy};
use std::collections::HashSet;

/// Glob patterns over a name, matched ignoring case (userName and displayName are
/// case-insensitive in SCIM).
#[derive(Debug, Default)]
pub struct Globs {
    patterns: Vec<(String, glob::Pattern)>,
}

const GLOB_OPTIONS: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: false,
    require_literal_separator: false,
    require_literal_leading_dot: false,
};

impl Globs {
    pub fn new(names: &Names, what: &str) -> Result<Globs, PlanError> {
        let patterns = names
            .iter()
            .map(|(p, _)| {
                glob::Pattern::new(p)
                    .map(|g| (p.clone(), g))
                    .map_err(|e| PlanError::Policy(format!("invalid {what} pattern {p:?}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Globs { patterns })
    }

    /// The first pattern that matches `name`.
    pub fn matching(&self, name: &str) -> Option<&str> {
        self.patterns
            .iter()
            .find(|(_, g)| g.matches_with(name, GLOB_OPTIONS))
            .map(|(p, _)| p.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

/// A `protect` or `release` list: each entry names an object by its directory id (compared
/// exactly, as externalIds are) or by its name (ignoring case).
#[derive(Debug, Default)]
pub struct NameList {
    ids: HashSet<String>,
    names: HashSet<String>,
}

impl NameList {
    pub fn new(names: &Names) -> NameList {
        NameList {
            ids: names.iter().map(|(n, _)| n.clone()).collect(),
            names: names.iter().map(|(n, _)| n.to_lowercase()).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Add the other identifier of every listed directory object: an entry naming a user by
    /// id also covers a live object carrying that user's name, and the reverse, so that a
    /// protected or released user stays so however the live object is found.
    pub fn expand<'a>(&mut self, objects: impl Iterator<Item = (&'a str, &'a str)>) {
        if self.ids.is_empty() {
            return;
        }
        for (id, name) in objects {
            let lower = name.to_lowercase();
            if self.ids.contains(id) || self.names.contains(&lower) {
                self.ids.insert(id.to_string());
                self.ids.insert(name.to_string());
                self.names.insert(lower);
                self.names.insert(id.to_lowercase());
            }
        }
    }

    /// Whether an object with this directory id (or live externalId) and name is listed.
    pub fn contains(&self, id: Option<&str>, name: &str) -> bool {
        if self.ids.is_empty() {
            return false;
        }
        id.is_some_and(|i| self.ids.contains(i)) || self.names.contains(&name.to_lowercase())
    }
}

/// A target's policy lists, ready to query.
#[derive(Debug)]
pub struct Lists {
    pub ignore_users: Globs,
    pub ignore_groups: Globs,
    pub protect_users: NameList,
    pub protect_groups: NameList,
    pub release_users: NameList,
    pub release_groups: NameList,
    pub owns: Option<regex::Regex>,
}

impl Lists {
    pub fn new(p: &Policy, desired: &Desired) -> Result<Lists, PlanError> {
        let owns = match &p.owns_external_id {
            Some((re, _)) => Some(regex::Regex::new(re).map_err(|e| {
                PlanError::Policy(format!("invalid `owns.external_id` expression {re:?}: {e}"))
            })?),
            None => None,
        };
        let users: Vec<(&str, &str)> = desired
            .users
            .iter()
            .map(|u| (u.id.as_str(), u.user_name.as_str()))
            .collect();
        let groups: Vec<(&str, &str)> = desired
            .groups
            .iter()
            .map(|g| (g.id.as_str(), g.name.as_str()))
            .collect();
        let list = |names: &Names, objects: &[(&str, &str)]| {
            let mut l = NameList::new(names);
            l.expand(objects.iter().copied());
            l
        };
        Ok(Lists {
            ignore_users: Globs::new(&p.ignore_users, "ignore.users")?,
            ignore_groups: Globs::new(&p.ignore_groups, "ignore.groups")?,
            protect_users: list(&p.protect_users, &users),
            protect_groups: list(&p.protect_groups, &groups),
            release_users: list(&p.release_users, &users),
            release_groups: list(&p.release_groups, &groups),
            owns,
        })
    }

    /// Whether `owns` claims a live object with this externalId.
    pub fn owns(&self, external_id: Option<&str>) -> bool {
        match (&self.owns, external_id) {
            (Some(re), Some(e)) => re.is_match(e),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Loc;

    fn names(v: &[&str]) -> Names {
        v.iter()
            .map(|s| (s.to_string(), Loc::new(0, 1, 1)))
            .collect()
    }

    #[test]
    fn globs_ignore_case_and_name_the_pattern() {
        let g = Globs::new(&names(&["AWSControlTower*", "admin-?"]), "ignore").expect("valid");
        assert_eq!(
            g.matching("awscontroltowerAdmins"),
            Some("AWSControlTower*")
        );
        assert_eq!(g.matching("ADMIN-1"), Some("admin-?"));
        assert_eq!(g.matching("admin-12"), None);
        assert!(Globs::new(&names(&["[x"]), "ignore").is_err());
    }

    #[test]
    fn name_lists_compare_ids_exactly_and_names_ignoring_case() {
        let l = NameList::new(&names(&["e1", "Break@Example.com"]));
        assert!(l.contains(Some("e1"), "x"));
        assert!(!l.contains(Some("E1"), "x"));
        assert!(l.contains(None, "break@example.COM"));
        assert!(!NameList::new(&names(&[])).contains(Some("e1"), "e1"));
        let mut l = NameList::new(&names(&["e1", "bob@x"]));
        l.expand([("e1", "Alice@x"), ("e2", "bob@x"), ("e3", "carol@x")].into_iter());
        assert!(l.contains(None, "alice@x"));
        assert!(l.contains(Some("e2"), "someone"));
        assert!(!l.contains(Some("e3"), "carol@x"));
    }
}
