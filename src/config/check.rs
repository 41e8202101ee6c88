//! Semantic checks of a resolved configuration: everything `roster validate` reports beyond YAML
//! syntax and types (the loader and `resolve` report those). Each check adds diagnostics with
//! positions and a hint; none stops the others, so one run shows every problem.
//!
//! Every check is linear in the size of the configuration (hash maps, one pass per relation):
//! `validate` runs before every command, on directories of 100,000 users.
//!
//! Template and mapping checks (syntax, unknown fields, unsupported or reserved attributes,
//! rendered duplicates, match keys) live in `mapping`, which knows how templates render.

use super::{Desired, Endpoint, Group, Target, User};
use crate::config::model::{FieldValue, TargetType, Unmanaged};
use crate::diag::{Diagnostic, Loc};
use std::borrow::Cow;
// Hash maps keyed by configuration strings use the Fx hash: configuration files are not
// adversarial input, and SipHash was a visible share of the time spent checking 100,000 users.
use crate::fasthash::{map_with_capacity, FastMap as HashMap};

/// Options that change what the checks accept.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// `--insecure-http`: allow `http://` to hosts other than loopback.
    pub insecure_http: bool,
    /// `--allow-include-outside`: the loader may read includes outside the entry's directory.
    pub allow_include_outside: bool,
}

/// Every problem in the configuration, with the default options.
pub fn check(desired: &Desired) -> Vec<Diagnostic> {
    check_with(desired, CheckOptions::default())
}

/// Every problem in the configuration.
///
/// The mapping checks (which render every assigned user) read the same configuration as the
/// directory checks and share nothing with them, so they run on a second thread meanwhile.
pub fn check_with(desired: &Desired, options: CheckOptions) -> Vec<Diagnostic> {
    std::thread::scope(|scope| {
        let mapping = scope.spawn(|| crate::mapping::check::check(desired));
        let mut out = Vec::new();
        let users = UserIndex::build(&desired.users, &mut out);
        let groups = GroupIndex::build(&desired.groups, &mut out);
        check_managers(&desired.users, &users, &mut out);
        check_members(&desired.groups, &users, &mut out);
        check_includes(&desired.groups, &groups, &mut out);
        for t in &desired.targets {
            check_target(t, &users, &groups, options, &mut out);
        }
        check_endpoints(&desired.targets, &mut out);
        // a panic in the mapping checks is re-raised on this thread, as before
        match mapping.join() {
            Ok(d) => out.extend(d),
            Err(panic) => std::panic::resume_unwind(panic),
        }
        out
    })
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
        }
    }

    fn contains_id(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
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
        }
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

/// Checks of one target: assignment, endpoint, authentication, secrets and policy.
fn check_target(
    t: &Target,
    users: &UserIndex,
    groups: &GroupIndex,
    options: CheckOptions,
    out: &mut Vec<Diagnostic>,
) {
    check_assign(t, users, groups, out);

    if let Endpoint::Url(url) = &t.endpoint {
        if !url.is_empty() {
            check_url(t, url, options, out);
        }
    }

    for (what, loc) in &t.inline_secrets {
        out.push(
            Diagnostic::error(
                *loc,
                format!("{what} written inline in target {:?}", t.name),
            )
            .hint(
                "secrets never go in YAML: name an environment variable or a file instead \
                     (bearer_token_env, bearer_token_file, basic.password_env, header.value_env), \
                     and rotate this secret, it has been exposed",
            ),
        );
    }
    match (t.kind, t.auth_loc) {
        (TargetType::Embedded, Some(loc)) => out.push(
            Diagnostic::error(loc, "an embedded target takes no `auth`")
                .hint("remove `auth`: the embedded provider runs in-process on loopback"),
        ),
        (TargetType::Embedded, None) => {}
        (_, None) => out.push(
            Diagnostic::error(t.kind_loc, format!("target {:?} has no `auth`", t.name)).hint(
                "add e.g. `auth: { bearer_token_env: SCIM_TOKEN }` (or bearer_token_file, \
                 basic {username, password_env}, header {name, value_env})",
            ),
        ),
        (_, Some(loc)) => {
            if let Some(problem) = &t.auth_problem {
                out.push(
                    Diagnostic::error(loc, format!("invalid `auth` in target {:?}", t.name))
                        .hint(problem.clone()),
                );
            }
        }
    }

    check_policy(t, users, groups, out);
}

fn check_assign(t: &Target, users: &UserIndex, groups: &GroupIndex, out: &mut Vec<Diagnostic>) {
    let a = &t.assign;
    let Some(aloc) = a.loc else {
        out.push(
            Diagnostic::error(t.kind_loc, format!("target {:?} has no `assign`", t.name)).hint(
                "say who this target receives: `assign: { groups: [NAME] }`, \
                 `assign: { users: [ID] }` or `assign: { all: true }`; \
                 no target silently receives everyone",
            ),
        );
        return;
    };
    if !a.all && a.groups.is_empty() && a.users.is_empty() {
        out.push(
            Diagnostic::error(aloc, format!("`assign` of target {:?} is empty", t.name)).hint(
                "list `groups:` or `users:`, or write `all: true`; a target that receives \
                 nobody would deprovision everyone it owns",
            ),
        );
    }
    if a.all && !(a.groups.is_empty() && a.users.is_empty()) {
        out.push(
            Diagnostic::warning(
                aloc,
                format!(
                    "target {:?} has `all: true` and also lists groups or users",
                    t.name
                ),
            )
            .hint("`all: true` already sends everything; remove `groups`/`users` or `all`"),
        );
    }
    for (g, loc) in &a.groups {
        if groups.find(g).is_none() {
            out.push(
                Diagnostic::error(
                    *loc,
                    format!("target {:?} assigns unknown group {g:?}", t.name),
                )
                .hint(groups.unknown_hint(g)),
            );
        }
    }
    for (u, loc) in &a.users {
        if !users.contains_id(u) {
            out.push(
                Diagnostic::error(
                    *loc,
                    format!("target {:?} assigns unknown user {u:?}", t.name),
                )
                .hint(users.id_hint(
                    u,
                    "`assign.users` lists ids of users defined under `users:`",
                )),
            );
        }
    }
}

/// `https://` everywhere except loopback (SPEC section 7).
fn check_url(t: &Target, raw: &str, options: CheckOptions, out: &mut Vec<Diagnostic>) {
    let loc = t.url_loc.unwrap_or(t.loc);
    let example =
        "write the SCIM base URL, e.g. https://scim.us-east-1.amazonaws.com/TENANT/scim/v2";
    let url = match url::Url::parse(raw) {
        Ok(u) => u,
        Err(e) => {
            out.push(Diagnostic::error(loc, format!("invalid URL {raw:?}: {e}")).hint(example));
            return;
        }
    };
    match url.scheme() {
        "https" => {}
        "http" => {
            if !options.insecure_http && !is_loopback(&url) {
                out.push(
                    Diagnostic::error(
                        loc,
                        format!(
                            "target {:?} uses http:// to {}, which is not a loopback address",
                            t.name,
                            url.host_str().unwrap_or("")
                        ),
                    )
                    .hint(
                        "tokens and personal data must not cross the network in clear text: use \
                         https:// (or pass --insecure-http if this is a test server you trust)",
                    ),
                );
            }
        }
        other => out.push(
            Diagnostic::error(loc, format!("URL scheme {other:?} is not supported")).hint(example),
        ),
    }
    if url.host_str().is_none_or(str::is_empty) && matches!(url.scheme(), "http" | "https") {
        out.push(Diagnostic::error(loc, format!("URL {raw:?} has no host")).hint(example));
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        None => false,
    }
}

/// The URL two targets would share: scheme and host ignore case, a trailing slash is noise.
fn normalized_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(u) => {
            let mut s = format!(
                "{}://{}",
                u.scheme(),
                u.host_str().unwrap_or("").to_ascii_lowercase()
            );
            if let Some(p) = u.port_or_known_default() {
                s.push_str(&format!(":{p}"));
            }
            s.push_str(u.path().trim_end_matches('/'));
            if let Some(q) = u.query() {
                s.push('?');
                s.push_str(q);
            }
            s
        }
        Err(_) => raw.trim_end_matches('/').to_string(),
    }
}

/// Two targets on one server (or one embedded state file) would fight over the same objects.
fn check_endpoints(targets: &[Target], out: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<String, &Target> = HashMap::default();
    for t in targets {
        let (key, loc, what) = match &t.endpoint {
            Endpoint::Url(u) if u.is_empty() => continue,
            Endpoint::Url(u) => (
                format!("url {}", normalized_url(u)),
                t.url_loc.unwrap_or(t.loc),
                "URL",
            ),
            Endpoint::Embedded { path } => (
                format!("path {}", path.display()),
                t.loc,
                "embedded state file",
            ),
        };
        match seen.get(&key) {
            Some(first) => out.push(
                Diagnostic::error(
                    loc,
                    format!(
                        "targets {:?} and {:?} have the same {what}",
                        first.name, t.name
                    ),
                )
                .note(first.url_loc.unwrap_or(first.loc), "first used here")
                .hint(
                    "two targets on one service provider would undo each other's changes; \
                     merge them into one target (assign can list several groups)",
                ),
            ),
            None => {
                seen.insert(key, t);
            }
        }
    }
}

fn check_policy(t: &Target, users: &UserIndex, groups: &GroupIndex, out: &mut Vec<Diagnostic>) {
    let p = &t.policy;
    if let Some((re, loc)) = &p.owns_external_id {
        if let Err(e) = regex::Regex::new(re) {
            out.push(
                Diagnostic::error(*loc, format!("invalid regular expression {re:?} in `owns.external_id`: {}", regex_reason(&e)))
                    .hint("write a regular expression over externalId, e.g. \"^e[0-9]+$\" (quote it in YAML)"),
            );
        }
    }
    for (pattern, loc) in p.ignore_users.iter().chain(&p.ignore_groups) {
        if let Err(e) = glob::Pattern::new(pattern) {
            out.push(
                Diagnostic::error(
                    *loc,
                    format!("invalid ignore pattern {pattern:?}: {}", e.msg),
                )
                .hint("ignore patterns are globs: `*` any text, `?` one character, `[abc]` one of"),
            );
        }
    }
    for (name, loc) in &p.protect_users {
        if !users.contains_id(name) && !users.by_name.contains_key(name.to_lowercase().as_str()) {
            out.push(
                Diagnostic::warning(
                    *loc,
                    format!("`protect` names user {name:?}, which is not in the directory"),
                )
                .hint("fine for an account that exists only in the target (e.g. break-glass); otherwise check the spelling: protect takes user ids or user names"),
            );
        }
    }
    for (name, loc) in &p.protect_groups {
        if groups.find(name).is_none()
            && !groups
                .by_lower_name
                .contains_key(name.to_lowercase().as_str())
        {
            out.push(
                Diagnostic::warning(
                    *loc,
                    format!("`protect` names group {name:?}, which is not in the directory"),
                )
                .hint("fine for a group that exists only in the target; otherwise check the spelling: protect takes group names or ids"),
            );
        }
    }
    // `release` names objects being let go: usually ones already removed from the directory
    // (like Terraform's `removed` block), so an unknown name there is expected, not a mistake.

    let destructive = p.deactivate || p.delete;
    if destructive && p.owns_external_id.is_none() && p.unmanaged == Unmanaged::Ignore {
        let which = match (p.deactivate, p.delete) {
            (true, true) => "`deactivate` and `delete` are",
            (true, false) => "`deactivate` is",
            _ => "`delete` is",
        };
        out.push(
            Diagnostic::warning(
                t.kind_loc,
                format!(
                    "target {:?}: {which} on, but nothing lets roster see a user removed from the YAML",
                    t.name
                ),
            )
            .hint(
                "without `policy.owns` (or `unmanaged: deactivate|delete`) a removed user is \
                 ignored and keeps access: keep leavers as `active: false`, or add e.g. \
                 `owns: { external_id: \"^e[0-9]+$\" }`",
            ),
        );
    }
}

/// The last line of a regex error: what is wrong, without the pattern repeated.
fn regex_reason(e: &regex::Error) -> String {
    let s = e.to_string();
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().trim_start_matches("error: ").to_string())
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_normalize_scheme_host_and_trailing_slash() {
        assert_eq!(
            normalized_url("HTTPS://Scim.Example.com/scim/v2/"),
            normalized_url("https://scim.example.com/scim/v2")
        );
        assert_ne!(
            normalized_url("https://scim.example.com/a"),
            normalized_url("https://scim.example.com/b")
        );
        assert_eq!(
            normalized_url("https://h:443/x"),
            normalized_url("https://h/x")
        );
    }

    #[test]
    fn loopback_hosts() {
        for u in [
            "http://127.0.0.1:8080/",
            "http://[::1]/",
            "http://localhost/",
            "http://a.localhost/",
        ] {
            assert!(is_loopback(&url::Url::parse(u).expect("url")), "{u}");
        }
        for u in [
            "http://10.0.0.1/",
            "http://scim.example.com/",
            "http://localhost.example.com/",
        ] {
            assert!(!is_loopback(&url::Url::parse(u).expect("url")), "{u}");
        }
    }

    #[test]
    fn regex_reason_is_one_line() {
        // built at run time so that clippy does not reject the deliberately broken pattern
        let pattern = String::from("^e[0-9+$");
        let e = regex::Regex::new(&pattern).expect_err("invalid");
        let r = regex_reason(&e);
        assert!(!r.contains('\n'));
        assert!(r.contains("unclosed"), "{r}");
    }
}

#[cfg(test)]
mod resolved_tests {
    use crate::config::{load, resolve, Desired};
    use crate::diag::{Diagnostic, SourceFile, SourceMap};

    /// Resolve and check one document; every diagnostic message, sorted.
    fn messages(yaml: &str) -> Vec<String> {
        let mut sources = SourceMap::default();
        let file = sources.add(SourceFile {
            display: "roster.yaml".into(),
            path: "roster.yaml".into(),
            text: yaml.into(),
        });
        let doc = load::parse_document(yaml, file).expect("parses");
        let mut diags: Vec<Diagnostic> = Vec::new();
        let desired: Desired = resolve(vec![(file, doc)], sources, ".".into(), &mut diags);
        diags.extend(super::check(&desired));
        let mut m: Vec<String> = diags.into_iter().map(|d| d.message).collect();
        m.sort();
        m
    }

    #[test]
    fn a_diamond_of_nested_groups_is_not_a_cycle() {
        let m = messages(
            "version: 1\ngroups:\n  - name: a\n    include: [b, c]\n  - name: b\n    include: [d]\n  \
             - name: c\n    include: [d]\n  - name: d\n",
        );
        assert!(m.is_empty(), "{m:?}");
    }

    #[test]
    fn nested_groups_resolve_by_id_or_name() {
        let m = messages(
            "version: 1\ngroups:\n  - name: a\n    include: [g-b]\n  - id: g-b\n    name: b\n    \
             include: [a]\n",
        );
        assert_eq!(m, vec!["nested group cycle: a -> b -> a"]);
    }

    #[test]
    fn a_manager_chain_is_fine_and_a_loop_is_reported_once() {
        let chain = messages(
            "version: 1\nusers:\n  - { id: a, user_name: a }\n  - { id: b, user_name: b, manager: a }\n  \
             - { id: c, user_name: c, manager: b }\n",
        );
        assert!(chain.is_empty(), "{chain:?}");
        let cycle = messages(
            "version: 1\nusers:\n  - { id: x, user_name: x, manager: b }\n  - { id: a, user_name: a, manager: c }\n  \
             - { id: b, user_name: b, manager: a }\n  - { id: c, user_name: c, manager: b }\n",
        );
        assert_eq!(cycle, vec!["manager cycle: b -> a -> c -> b"]);
    }

    #[test]
    fn two_unnamed_groups_with_one_name_are_one_duplicate() {
        let m = messages("version: 1\ngroups:\n  - name: eng\n  - name: eng\n");
        assert_eq!(
            m,
            vec!["duplicate group name \"eng\" (group names are compared ignoring case)"]
        );
    }

    #[test]
    fn a_user_without_user_name_does_not_cascade() {
        let m =
            messages("version: 1\nusers:\n  - id: e1\ngroups:\n  - name: eng\n    members: [e1]\n");
        assert_eq!(m, vec!["user is missing the required field `user_name`"]);
    }

    #[test]
    fn http_is_allowed_to_loopback_and_with_insecure_http() {
        let yaml = |url: &str| {
            format!(
                "version: 1\ntargets:\n  t:\n    type: generic\n    url: {url}\n    auth: {{ bearer_token_env: T }}\n    \
                 assign: {{ all: true }}\n    policy: {{ owns: {{ external_id: x }} }}\n"
            )
        };
        assert!(messages(&yaml("http://127.0.0.1:9999/scim/v2")).is_empty());
        let remote = yaml("http://scim.example.com/scim/v2");
        assert_eq!(messages(&remote).len(), 1);
        let doc = load::parse_document(&remote, 0).expect("parses");
        let mut diags = Vec::new();
        let desired = resolve(vec![(0, doc)], SourceMap::default(), ".".into(), &mut diags);
        let insecure = super::check_with(
            &desired,
            super::CheckOptions {
                insecure_http: true,
                ..Default::default()
            },
        );
        assert!(insecure.is_empty(), "{insecure:?}");
    }
}

#[cfg(test)]
mod member_tests {
    use crate::config::{load, resolve};
    use crate::diag::SourceMap;

    #[test]
    fn a_member_listed_twice_is_a_warning_and_other_groups_may_share_it() {
        let yaml = "version: 1\nusers:\n  - { id: e1, user_name: a }\ngroups:\n  - name: x\n    \
                    members: [e1, e1]\n  - name: y\n    members: [e1]\n";
        let doc = load::parse_document(yaml, 0).expect("parses");
        let mut diags = Vec::new();
        let desired = resolve(vec![(0, doc)], SourceMap::default(), ".".into(), &mut diags);
        let found = super::check(&desired);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(!found[0].is_error());
        assert_eq!(
            found[0].message,
            "\"e1\" is listed twice in the members of group \"x\""
        );
        assert_eq!(found[0].notes[0].0.line, 6);
    }
}
