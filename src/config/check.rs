//! Semantic checks of a resolved configuration: everything `roster validate` reports beyond YAML
//! syntax and types (the loader and `resolve` report those). Each check adds diagnostics with
//! positions and a hint; none stops the others, so one run shows every problem.
//!
//! Every check is linear in the size of the configuration (hash maps, one pass per relation):
//! `validate` runs before every command, on directories of 100,000 users.
//!
//! Template and mapping checks (syntax, unknown fields, unsupported or reserved attributes,
//! rendered duplicates, match keys) need `mapping`, which sits above `config`: they live in
//! `validate`, which runs these and those together.

use super::{Desired, Group, User};
use crate::config::model::FieldValue;
use crate::diag::{Diagnostic, Loc};
use std::borrow::Cow;
// Hash maps keyed by configuration strings use the Fx hash: configuration files are not
// adversarial input, and SipHash was a visible share of the time spent checking 100,000 users.
use crate::fasthash::{map_with_capacity, FastMap as HashMap};
use targets::{check_endpoints, check_target};

mod targets;

/// Options that change what the checks accept.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// `--insecure-http`: allow `http://` to hosts other than loopback.
    pub insecure_http: bool,
    /// `--allow-include-outside`: the loader may read includes outside the entry's directory.
    pub allow_include_outside: bool,
}

/// Every problem of the directory and the targets' own settings, with the default options.
pub fn check(desired: &Desired) -> Vec<Diagnostic> {
    check_with(desired, CheckOptions::default())
}

/// Every problem of the directory and the targets' own settings. The checks of the targets'
/// mappings against the directory are `validate`'s, which runs both.
pub fn check_with(desired: &Desired, options: CheckOptions) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut users = UserIndex::build(&desired.users, &mut out);
    let mut groups = GroupIndex::build(&desired.groups, &mut out);
    // One file that does not parse would otherwise make every reference to a user or group it
    // defines an "unknown" error: six errors for one mistake. Its own error is reported by the
    // loader; the references wait until it parses, and that is said once per file.
    let unreadable = &desired.sources.unreadable;
    users.complete = unreadable.is_empty();
    groups.complete = unreadable.is_empty();
    check_managers(&desired.users, &users, &mut out);
    check_members(&desired.groups, &users, &mut out);
    check_includes(&desired.groups, &groups, &mut out);
    for t in &desired.targets {
        check_target(t, &users, &groups, options, &mut out);
    }
    check_endpoints(&desired.targets, &mut out);
    if users.skipped.get() + groups.skipped.get() > 0 {
        for file in unreadable {
            out.push(unchecked_references(file));
        }
    }
    out
}

/// The notice that references were not checked because `file` could not be read.
pub fn unchecked_references(file: &str) -> Diagnostic {
    Diagnostic::warning(
        None,
        format!("references to users/groups in {file} not checked"),
    )
    .hint(format!(
        "{file} has an error (shown with it): the users and groups it defines are unknown, \
         so member, manager, include and assign references are checked once it is fixed"
    ))
}

/// `s.to_lowercase()`, borrowed when that changes nothing (lower-case ASCII, the usual user
/// name and email): the indexes hold one key per user, and a copy of each was megabytes.
fn folded(s: &str) -> Cow<'_, str> {
    if s.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

/// Lookups over the directory users, built once.
struct UserIndex<'a> {
    by_id: HashMap<&'a str, usize>,
    /// Lower-cased user names, for references written as a user name by mistake and for
    /// `protect` (which accepts either).
    by_name: HashMap<Cow<'a, str>, usize>,
    users: &'a [User],
    /// False when some configuration file could not be read: a reference that resolves to no
    /// user may name one defined there, so it is not reported as unknown.
    complete: bool,
    /// References not reported because the index is not complete.
    skipped: std::cell::Cell<usize>,
}

/// A directory id that would make an address ambiguous (docs/contract.md#addresses): `live:`
/// starts the address of a live object no directory entry matches.
fn reserved_id(id: &str, kind: &str, loc: impl Into<Option<Loc>>) -> Option<Diagnostic> {
    id.starts_with("live:").then(|| {
        Diagnostic::error(loc, format!("{kind} id {id:?} starts with `live:`"))
            .hint("`live:` is reserved for the addresses of live objects no directory entry matches; choose another id")
    })
}

impl<'a> UserIndex<'a> {
    /// Index the users, reporting duplicate ids, user names and emails on the way.
    fn build(users: &'a [User], out: &mut Vec<Diagnostic>) -> Self {
        let mut by_id: HashMap<&str, usize> = map_with_capacity(users.len());
        let mut by_name: HashMap<Cow<str>, usize> = map_with_capacity(users.len());
        let mut by_email: HashMap<Cow<str>, usize> = map_with_capacity(users.len());
        for (i, u) in users.iter().enumerate() {
            if u.id.trim().is_empty() {
                out.push(
                    Diagnostic::error(u.field_loc("id"), "user `id` is empty")
                        .hint("give every user its immutable id, e.g. the HR employee number"),
                );
            } else if let Some(d) = reserved_id(&u.id, "user", u.field_loc("id")) {
                out.push(d);
            } else if let Some(&first) = by_id.get(u.id.as_str()) {
                out.push(
                    Diagnostic::error(u.field_loc("id"), format!("duplicate user id {:?}", u.id))
                        .note(users[first].field_loc("id"), "first defined here")
                        .hint("user ids are unique and never reused; give this user its own id"),
                );
            } else {
                by_id.insert(u.id.as_str(), i);
            }

            if u.user_name.trim().is_empty() {
                // absent or not text: `resolve` has reported it already
                let written_as_text = matches!(
                    u.fields.get("user_name").map(|f| &f.value),
                    Some(FieldValue::Text(_))
                );
                if written_as_text {
                    out.push(
                        Diagnostic::error(u.field_loc("user_name"), "user `user_name` is empty")
                            .hint("write the user's login, e.g. alice@example.com"),
                    );
                }
            } else {
                let key = folded(&u.user_name);
                match by_name.get(&key) {
                    Some(&first) => out.push(
                        Diagnostic::error(
                            u.field_loc("user_name"),
                            format!(
                                "duplicate user_name {:?} (user names are compared ignoring case)",
                                u.user_name
                            ),
                        )
                        .note(users[first].field_loc("user_name"), "first defined here")
                        .hint("each user needs its own user_name; SCIM servers compare them ignoring case"),
                    ),
                    None => {
                        by_name.insert(key, i);
                    }
                }
            }

            if let Some(FieldValue::Text(email)) = u.fields.get("email").map(|f| &f.value) {
                if !email.trim().is_empty() {
                    let key = folded(email);
                    match by_email.get(&key) {
                        Some(&first) => out.push(
                            Diagnostic::error(
                                u.field_loc("email"),
                                format!(
                                    "duplicate email {email:?} (emails are compared ignoring case)"
                                ),
                            )
                            .note(users[first].field_loc("email"), "first defined here")
                            .hint("two people cannot share an email; fix one of them or remove it"),
                        ),
                        None => {
                            by_email.insert(key, i);
                        }
                    }
                }
            }
        }
        UserIndex {
            by_id,
            by_name,
            users,
            complete: true,
            skipped: Default::default(),
        }
    }

    fn skip(&self) {
        self.skipped.set(self.skipped.get() + 1);
    }

    /// Whether `id` names no user and that is to be reported (false while incomplete).
    fn unknown(&self, id: &str) -> bool {
        if self.by_id.contains_key(id) {
            return false;
        }
        if !self.complete {
            self.skip();
        }
        self.complete
    }

    /// A hint for a reference that is not a user id: when it is someone's user name, name the
    /// id to write instead.
    fn id_hint(&self, reference: &str, fallback: &str) -> String {
        match self.by_name.get(reference.to_lowercase().as_str()) {
            Some(&i) => format!(
                "references are user ids: {reference:?} is the user_name of user {:?}; write {:?}",
                self.users[i].id, self.users[i].id
            ),
            None => fallback.to_string(),
        }
    }
}

/// Lookups over the directory groups, built once.
struct GroupIndex<'a> {
    by_id: HashMap<&'a str, usize>,
    by_name: HashMap<&'a str, usize>,
    /// Lower-cased names, for duplicates and for references that differ only in case.
    by_lower_name: HashMap<String, usize>,
    groups: &'a [Group],
    /// As [`UserIndex::complete`], for groups.
    complete: bool,
    skipped: std::cell::Cell<usize>,
}

impl<'a> GroupIndex<'a> {
    /// Index the groups, reporting duplicate names and ids on the way.
    fn build(groups: &'a [Group], out: &mut Vec<Diagnostic>) -> Self {
        let mut by_id: HashMap<&str, usize> = map_with_capacity(groups.len());
        let mut by_name: HashMap<&str, usize> = map_with_capacity(groups.len());
        let mut by_lower_name: HashMap<String, usize> = map_with_capacity(groups.len());
        for (i, g) in groups.iter().enumerate() {
            let explicit_id = g.id_loc != g.name_loc;
            if g.name.trim().is_empty() {
                out.push(
                    Diagnostic::error(g.name_loc, "group `name` is empty")
                        .hint("give the group a name, e.g. engineering"),
                );
            }
            let lower = g.name.to_lowercase();
            let duplicate_name = match by_lower_name.get(&lower) {
                Some(&first) => {
                    out.push(
                        Diagnostic::error(
                            g.name_loc,
                            format!(
                                "duplicate group name {:?} (group names are compared ignoring case)",
                                g.name
                            ),
                        )
                        .note(groups[first].name_loc, "first defined here")
                        .hint("each group needs its own name; rename or merge one of them"),
                    );
                    true
                }
                None => {
                    by_lower_name.insert(lower, i);
                    by_name.insert(g.name.as_str(), i);
                    false
                }
            };
            if explicit_id && g.id.trim().is_empty() {
                out.push(
                    Diagnostic::error(g.id_loc, "group `id` is empty")
                        .hint("remove `id` (it defaults to the name) or give the group its id"),
                );
                continue;
            }
            if let Some(d) = reserved_id(&g.id, "group", g.id_loc) {
                out.push(d);
                continue;
            }
            match by_id.get(g.id.as_str()) {
                Some(&first) => {
                    // Two groups without an explicit id and the same name are one duplicate,
                    // already reported by name.
                    let first_explicit = groups[first].id_loc != groups[first].name_loc;
                    if !(duplicate_name && !explicit_id && !first_explicit) {
                        let why = if explicit_id {
                            ""
                        } else {
                            " (a group's id defaults to its name)"
                        };
                        out.push(
                            Diagnostic::error(
                                g.id_loc,
                                format!("duplicate group id {:?}{why}", g.id),
                            )
                            .note(groups[first].id_loc, "first defined here")
                            .hint("group ids are the groups' externalId: unique and never reused"),
                        );
                    }
                }
                None => {
                    by_id.insert(g.id.as_str(), i);
                }
            }
        }
        GroupIndex {
            by_id,
            by_name,
            by_lower_name,
            groups,
            complete: true,
            skipped: Default::default(),
        }
    }

    fn skip(&self) {
        self.skipped.set(self.skipped.get() + 1);
    }

    /// Whether `reference` names no group and that is to be reported (false while incomplete).
    fn unknown(&self, reference: &str) -> bool {
        if self.find(reference).is_some() {
            return false;
        }
        if !self.complete {
            self.skip();
        }
        self.complete
    }

    /// The group a reference (an id or a name) names.
    fn find(&self, reference: &str) -> Option<usize> {
        self.by_id
            .get(reference)
            .or_else(|| self.by_name.get(reference))
            .copied()
    }

    /// A hint for an unknown group reference.
    fn unknown_hint(&self, reference: &str) -> String {
        match self.by_lower_name.get(&reference.to_lowercase()) {
            Some(&i) => format!(
                "group names are matched exactly here: did you mean {:?}?",
                self.groups[i].name
            ),
            None => "name a group defined under `groups:` (by name or id), or define it".into(),
        }
    }
}

/// Managers must be directory users, not the user themself, and not form a cycle.
fn check_managers(users: &[User], index: &UserIndex, out: &mut Vec<Diagnostic>) {
    // manager of each user as an index, when it resolves
    let mut next: Vec<Option<usize>> = vec![None; users.len()];
    for (i, u) in users.iter().enumerate() {
        let Some(m) = &u.manager else { continue };
        if m.is_empty() {
            continue;
        }
        let loc = u.field_loc("manager");
        if *m == u.id {
            out.push(
                Diagnostic::error(loc, format!("user {:?} is their own manager", u.id))
                    .hint("set `manager` to someone else's id, or remove it"),
            );
            continue;
        }
        match index.by_id.get(m.as_str()) {
            Some(&j) => next[i] = Some(j),
            None if !index.complete => index.skip(),
            None => out.push(
                Diagnostic::error(loc, format!("unknown manager {m:?}"))
                    .hint(index.id_hint(m, "`manager` is the id of another user in the directory")),
            ),
        }
    }
    // Each user has at most one manager, so the graph is functional: one walk per user,
    // stopping at anything already walked, finds every cycle in linear time.
    const NEW: u32 = u32::MAX;
    let mut walk_of: Vec<u32> = vec![NEW; users.len()];
    for start in 0..users.len() {
        if walk_of[start] != NEW {
            continue;
        }
        let walk = u32::try_from(start).unwrap_or(u32::MAX - 1);
        let mut path = Vec::new();
        let mut cur = Some(start);
        while let Some(i) = cur {
            if walk_of[i] != NEW {
                if walk_of[i] == walk {
                    // closed a cycle: it starts where `i` first appears on this walk
                    let from = path.iter().position(|&p| p == i).unwrap_or(0);
                    let cycle = &path[from..];
                    let last = *cycle.last().unwrap_or(&i);
                    let chain: Vec<&str> = cycle
                        .iter()
                        .chain(std::iter::once(&i))
                        .map(|&k| users[k].id.as_str())
                        .collect();
                    out.push(
                        Diagnostic::error(
                            users[last].field_loc("manager"),
                            format!("manager cycle: {}", chain.join(" -> ")),
                        )
                        .hint("managers form a tree: one of these users must report to someone outside the cycle, or to no one"),
                    );
                }
                break;
            }
            walk_of[i] = walk;
            path.push(i);
            cur = next[i];
        }
    }
}

/// Group members must be directory users; listing one twice is a slip worth a warning.
fn check_members(groups: &[Group], users: &UserIndex, out: &mut Vec<Diagnostic>) {
    // For each user, the last group that listed it and where: a duplicate is found by index,
    // with no per-group set to build.
    let mut last_group: Vec<usize> = vec![usize::MAX; users.users.len()];
    let mut listed_at: Vec<Loc> = vec![Loc::default(); users.users.len()];
    for (gi, g) in groups.iter().enumerate() {
        for (m, loc) in &g.members {
            let Some(&ui) = users.by_id.get(m.as_str()) else {
                if !users.complete {
                    users.skip();
                    continue;
                }
                out.push(
                    Diagnostic::error(
                        *loc,
                        format!("group {:?} lists unknown member {m:?}", g.name),
                    )
                    .hint(users.id_hint(
                        m,
                        "members are ids of users defined under `users:`; add the user or remove the member",
                    )),
                );
                continue;
            };
            if last_group[ui] == gi {
                out.push(
                    Diagnostic::warning(
                        *loc,
                        format!("{m:?} is listed twice in the members of group {:?}", g.name),
                    )
                    .note(listed_at[ui], "first listed here")
                    .hint("remove the repeated member"),
                );
            } else {
                last_group[ui] = gi;
                listed_at[ui] = *loc;
            }
        }
    }
}

/// Nested groups must exist and must not include themselves, directly or through others.
fn check_includes(groups: &[Group], index: &GroupIndex, out: &mut Vec<Diagnostic>) {
    // resolved edges: for each group, (included group, position of the reference)
    let mut edges: Vec<Vec<(usize, Loc)>> = vec![Vec::new(); groups.len()];
    for (i, g) in groups.iter().enumerate() {
        for (r, loc) in &g.include {
            match index.find(r) {
                Some(j) if j == i => out.push(
                    Diagnostic::error(*loc, format!("group {:?} includes itself", g.name))
                        .hint("remove it from its own `include`"),
                ),
                Some(j) => edges[i].push((j, *loc)),
                None if !index.complete => index.skip(),
                None => out.push(
                    Diagnostic::error(
                        *loc,
                        format!("group {:?} includes unknown group {r:?}", g.name),
                    )
                    .hint(index.unknown_hint(r)),
                ),
            }
        }
    }
    // Depth-first search with colours: an edge to a group on the current path closes a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        White,
        Grey,
        Black,
    }
    let mut colour = vec![Colour::White; groups.len()];
    for root in 0..groups.len() {
        if colour[root] != Colour::White {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        colour[root] = Colour::Grey;
        while let Some(&mut (node, ref mut next_edge)) = stack.last_mut() {
            if let Some(&(child, loc)) = edges[node].get(*next_edge) {
                *next_edge += 1;
                match colour[child] {
                    Colour::White => {
                        colour[child] = Colour::Grey;
                        stack.push((child, 0));
                    }
                    Colour::Grey => {
                        let from = stack.iter().position(|&(n, _)| n == child).unwrap_or(0);
                        let chain: Vec<&str> = stack[from..]
                            .iter()
                            .map(|&(n, _)| groups[n].name.as_str())
                            .chain(std::iter::once(groups[child].name.as_str()))
                            .collect();
                        out.push(
                            Diagnostic::error(
                                loc,
                                format!("nested group cycle: {}", chain.join(" -> ")),
                            )
                            .note(groups[child].name_loc, format!("{:?} is defined here", groups[child].name))
                            .hint("nested groups are flattened, so they cannot include each other in a circle; remove one of these includes"),
                        );
                    }
                    Colour::Black => {}
                }
            } else {
                colour[node] = Colour::Black;
                stack.pop();
            }
        }
    }
}
