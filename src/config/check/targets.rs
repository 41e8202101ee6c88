//! The checks of each target's own settings: assignment, endpoint and `https://`, auth and
//! inline secrets, policy patterns, and two targets that would share one server.

use super::{CheckOptions, GroupIndex, UserIndex};
use crate::config::model::{TargetType, Unmanaged};
use crate::config::{Endpoint, Target};
use crate::diag::Diagnostic;
use crate::fasthash::FastMap as HashMap;

/// Checks of one target: assignment, endpoint, authentication, secrets and policy.
pub(super) fn check_target(
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
        if Some(*loc) == t.url_loc {
            out.push(
                Diagnostic::error(*loc, format!("{what} of target {:?}", t.name)).hint(
                    "a URL is printed in plans and logs and sent to every proxy: remove the \
                     userinfo and the query, put the token in `auth` (bearer_token_env, \
                     bearer_token_file), and rotate it, it has been exposed",
                ),
            );
            continue;
        }
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
        if groups.unknown(g) {
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
        if users.unknown(u) {
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

/// `https://` everywhere except loopback (docs/contract.md#security).
fn check_url(t: &Target, raw: &str, options: CheckOptions, out: &mut Vec<Diagnostic>) {
    let loc = t.url_loc.unwrap_or(t.loc);
    let example =
        "write the SCIM base URL, e.g. https://scim.us-east-1.amazonaws.com/TENANT/scim/v2";
    let url = match url::Url::parse(raw) {
        Ok(u) => u,
        Err(e) => {
            let shown = crate::config::display_url(raw);
            out.push(Diagnostic::error(loc, format!("invalid URL {shown:?}: {e}")).hint(example));
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
        let shown = crate::config::display_url(raw);
        out.push(Diagnostic::error(loc, format!("URL {shown:?} has no host")).hint(example));
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
pub(super) fn check_endpoints(targets: &[Target], out: &mut Vec<Diagnostic>) {
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
        if users.unknown(name) && !users.by_name.contains_key(name.to_lowercase().as_str()) {
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
        if groups.unknown(name)
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
