//! Resolving one target: its endpoint, auth (named sources only; inline secrets are kept aside
//! for `check` to refuse), rates, match keys, policy, and the preset's mappings merged with the
//! written ones, so that later stages never look at presets again.

use super::model::{self, Dialect, MappingEntry, TargetType, When};
use super::preset::Preset;
use super::resolve::names;
use super::{
    preset, Assign, AuthSource, Endpoint, MappingRule, MappingSource, Names, Policy, RateLimits,
    ReadLimits, Target,
};
use crate::diag::{Diagnostic, FileId, Loc};
use indexmap::IndexMap;
use std::path::Path;

pub(super) fn resolve_target(
    file: FileId,
    name: String,
    raw: model::S<model::Target>,
    base_dir: &Path,
    defined_fields: &std::collections::HashSet<String>,
    diags: &mut Vec<Diagnostic>,
) -> Target {
    let loc = Loc::of(file, &raw);
    let t = raw.value;
    let kind = t.kind.value;
    let kind_loc = Loc::of(file, &t.kind);
    let dialect = match kind {
        TargetType::Generic => Dialect::Generic,
        TargetType::AwsIdentityCenter => Dialect::AwsIdentityCenter,
        TargetType::Embedded => t
            .dialect
            .as_ref()
            .map(|d| d.value)
            .unwrap_or(Dialect::Generic),
    };
    if let (Some(d), false) = (&t.dialect, kind == TargetType::Embedded) {
        diags.push(
            Diagnostic::error(
                Loc::of(file, d),
                "`dialect` applies only to `type: embedded`",
            )
            .hint("the target type already fixes the dialect; remove `dialect`"),
        );
    }
    let preset = Preset::for_target(kind, dialect);

    // endpoint
    let url_loc = t.url.as_ref().map(|u| Loc::of(file, u));
    let endpoint = match kind {
        TargetType::Embedded => {
            if let Some(u) = &t.url {
                diags.push(
                    Diagnostic::error(Loc::of(file, u), "an embedded target has no `url`")
                        .hint("remove `url`; the embedded provider runs in-process on loopback"),
                );
            }
            let p = t
                .path
                .as_ref()
                .map(|p| p.value.clone())
                .unwrap_or_else(|| ".roster/embedded.json".into());
            Endpoint::Embedded {
                path: base_dir.join(p),
            }
        }
        _ => {
            if let Some(p) = &t.path {
                diags.push(
                    Diagnostic::error(Loc::of(file, p), "`path` applies only to `type: embedded`")
                        .hint("remove `path`; set `url` to the SCIM base URL"),
                );
            }
            match &t.url {
                Some(u) => Endpoint::Url(u.value.clone()),
                None => {
                    diags.push(
                        Diagnostic::error(loc, format!("target {name:?} has no `url`")).hint(
                            "add `url:` with the SCIM base URL, e.g. \
                             https://scim.us-east-1.amazonaws.com/TENANT/scim/v2",
                        ),
                    );
                    Endpoint::Url(String::new())
                }
            }
        }
    };

    // auth
    let mut inline_secrets = Vec::new();
    let mut secret_texts = Vec::new();
    if let (Some(u), Some(uloc)) = (&t.url, url_loc) {
        if let Some(what) = secret_in_url(&u.value) {
            inline_secrets.push((what.to_string(), uloc));
        }
    }
    let mut auth_problem = None;
    let auth_loc = t.auth.as_ref().map(|a| Loc::of(file, a));
    let auth = t.auth.as_ref().and_then(|a| {
        let a = &a.value;
        for s in [&a.bearer_token, &a.token].into_iter().flatten() {
            inline_secrets.push(("bearer token".to_string(), Loc::of(file, s)));
        }
        if let Some(p) = a.basic.as_ref().and_then(|b| b.password.as_ref()) {
            inline_secrets.push(("password".to_string(), Loc::of(file, p)));
        }
        if let Some(v) = a.header.as_ref().and_then(|h| h.value.as_ref()) {
            inline_secrets.push(("header value".to_string(), Loc::of(file, v)));
        }
        let mut sources = Vec::new();
        if let Some(e) = &a.bearer_token_env {
            if looks_like_token(e) {
                // Said where (the `auth` of this target), never what: the value is blanked in
                // the sources so the quoted line does not show it either.
                inline_secrets.push((
                    "bearer token (given as `bearer_token_env`, which takes a variable name)"
                        .to_string(),
                    Loc::of(file, t.auth.as_ref().expect("inside t.auth")),
                ));
                secret_texts.push(e.clone());
            }
            sources.push(AuthSource::BearerEnv(e.clone()));
        }
        if let Some(f) = &a.bearer_token_file {
            sources.push(AuthSource::BearerFile(base_dir.join(f)));
        }
        if let Some(b) = &a.basic {
            if let Some(env) = &b.password_env {
                sources.push(AuthSource::Basic {
                    username: b.username.clone(),
                    password_env: env.clone(),
                });
            } else if b.password.is_none() {
                auth_problem = Some("`basic` needs `password_env`".to_string());
            }
        }
        if let Some(h) = &a.header {
            if let Some(env) = &h.value_env {
                sources.push(AuthSource::Header {
                    name: h.name.clone(),
                    value_env: env.clone(),
                });
            } else if h.value.is_none() {
                auth_problem = Some("`header` needs `value_env`".to_string());
            }
        }
        if sources.len() > 1 {
            auth_problem = Some(
                "`auth` names more than one source; use exactly one of bearer_token_env, \
                 bearer_token_file, basic, header"
                    .to_string(),
            );
        }
        if sources.is_empty() && auth_problem.is_none() && inline_secrets.is_empty() {
            auth_problem = Some(
                "`auth` names no source; use one of bearer_token_env, bearer_token_file, \
                 basic, header"
                    .to_string(),
            );
        }
        sources.into_iter().next()
    });

    let assign = match &t.assign {
        Some(a) => Assign {
            groups: names(file, &a.value.groups),
            users: names(file, &a.value.users),
            all: a.value.all,
            loc: Some(Loc::of(file, a)),
        },
        None => Assign::default(),
    };

    let r = t.rate.clone().unwrap_or_default();
    let mut rate_value = |key: &str, v: Option<model::S<f64>>, default: Option<f64>| {
        let Some(v) = v else { return default };
        // NaN fails this test too
        if !(v.value > 0.0 && v.value.is_finite()) {
            diags.push(
                Diagnostic::error(
                    Loc::of(file, &v),
                    format!("`rate.{key}` must be a positive number, found {}", v.value),
                )
                .hint("write requests per second above 0 (e.g. 25), or remove it to use the preset's rate"),
            );
            return default;
        }
        Some(v.value)
    };
    let throttle_budget_seconds = rate_value(
        "throttle_budget_seconds",
        r.throttle_budget_seconds.clone(),
        None,
    );
    let rate = RateLimits {
        reads_per_second: rate_value(
            "reads_per_second",
            r.reads_per_second,
            preset.reads_per_second,
        ),
        writes_per_second: rate_value(
            "writes_per_second",
            r.writes_per_second,
            preset.writes_per_second,
        ),
        member_operations_per_second: rate_value(
            "member_operations_per_second",
            r.member_operations_per_second,
            preset.member_operations_per_second,
        ),
    };

    let read = read_limits(file, t.read.clone().unwrap_or_default(), diags);

    let mk = t.match_keys.clone().unwrap_or_default();
    let mut empty_match = |what: &str, loc: Loc| {
        diags.push(
            Diagnostic::error(loc, format!("`match.{what}` is empty"))
                .hint("list at least one key (e.g. [externalId, userName]), or remove it to use the preset's"),
        );
    };
    let match_users = match mk.users {
        Some(v) if v.value.is_empty() => {
            empty_match("users", Loc::of(file, &v));
            preset.match_users.to_vec()
        }
        Some(v) => v.value.into_iter().map(|k| k.value).collect(),
        None => preset.match_users.to_vec(),
    };
    let match_groups = match mk.groups {
        Some(v) if v.value.is_empty() => {
            empty_match("groups", Loc::of(file, &v));
            preset.match_groups.to_vec()
        }
        Some(v) => v.value.into_iter().map(|k| k.value).collect(),
        None => preset.match_groups.to_vec(),
    };

    let (written_user, written_group) = match t.mapping {
        Some(m) => (m.user, m.group),
        None => Default::default(),
    };
    let user_mapping = merge_mapping(
        file,
        preset::USER_MAPPING,
        written_user,
        defined_fields,
        diags,
    );
    let group_mapping = merge_mapping(
        file,
        preset::GROUP_MAPPING,
        written_group,
        defined_fields,
        diags,
    );

    let p = t.policy.unwrap_or_default();
    let g = p.groups.clone().unwrap_or_default();
    let mut ignore_users: Names = preset
        .ignore_users
        .iter()
        .map(|s| (s.to_string(), loc))
        .collect();
    let mut ignore_groups: Names = preset
        .ignore_groups
        .iter()
        .map(|s| (s.to_string(), loc))
        .collect();
    let (mut protect_users, mut protect_groups, mut release_users, mut release_groups) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    if let Some(i) = &p.ignore {
        ignore_users.extend(names(file, &i.users));
        ignore_groups.extend(names(file, &i.groups));
    }
    if let Some(i) = &p.protect {
        protect_users.extend(names(file, &i.users));
        protect_groups.extend(names(file, &i.groups));
    }
    if let Some(i) = &p.release {
        release_users.extend(names(file, &i.users));
        release_groups.extend(names(file, &i.groups));
    }
    let limits = p.limits.clone().unwrap_or_default();
    let policy = Policy {
        create: p.create.unwrap_or(true),
        update: p.update.unwrap_or(true),
        deactivate: p.deactivate.unwrap_or(true),
        reactivate: p.reactivate.unwrap_or(true),
        delete: p.delete.unwrap_or(false),
        group_create: g.create.unwrap_or(true),
        group_update: g.update.unwrap_or(true),
        group_delete: g.delete.unwrap_or(false),
        members: g.members.unwrap_or_default(),
        owns_external_id: p
            .owns
            .as_ref()
            .and_then(|o| o.external_id.as_ref())
            .map(|r| (r.value.clone(), Loc::of(file, r))),
        unmanaged: p.unmanaged.unwrap_or_default(),
        ignore_users,
        ignore_groups,
        protect_users,
        protect_groups,
        release_users,
        release_groups,
        max_destroy: limits.max_destroy.unwrap_or(preset.max_destroy),
        max_destroy_percent: match &limits.max_destroy_percent {
            Some(v) if (0.0..=100.0).contains(&v.value) => v.value,
            Some(v) => {
                diags.push(
                    Diagnostic::error(
                        Loc::of(file, v),
                        format!(
                            "`limits.max_destroy_percent` must be between 0 and 100, found {}",
                            v.value
                        ),
                    )
                    .hint("it is a percentage of the owned live objects, e.g. 10"),
                );
                preset.max_destroy_percent
            }
            None => preset.max_destroy_percent,
        },
    };

    Target {
        name,
        kind,
        dialect,
        endpoint,
        auth,
        assign,
        rate,
        throttle_budget_seconds,
        read,
        match_users,
        match_groups,
        user_mapping,
        group_mapping,
        policy,
        required_user_attributes: preset
            .required_user_attributes
            .iter()
            .map(|s| s.to_string())
            .collect(),
        reserved_names: preset
            .reserved_names
            .iter()
            .map(|s| s.to_string())
            .collect(),
        loc,
        url_loc,
        kind_loc,
        inline_secrets,
        secret_texts,
        auth_loc,
        auth_problem,
    }
}

/// The `read` bounds, each a whole number above 0 (0 would refuse every read). The response cap
/// is in MiB, at most 4096: an answer larger than that is no SCIM page.
fn read_limits(file: FileId, r: model::ReadLimits, diags: &mut Vec<Diagnostic>) -> ReadLimits {
    let mut bound = |key: &str, v: Option<model::S<u64>>, max: u64| {
        let v = v?;
        if v.value == 0 || v.value > max {
            diags.push(
                Diagnostic::error(
                    Loc::of(file, &v),
                    format!(
                        "`read.{key}` must be between 1 and {max}, found {}",
                        v.value
                    ),
                )
                .hint("remove it to use the default, which is far above any real directory"),
            );
            return None;
        }
        Some(v.value)
    };
    ReadLimits {
        max_response_mib: bound("max_response_mib", r.max_response_mib, 4096),
        max_pages: bound("max_pages", r.max_pages, u64::from(u32::MAX)),
        max_objects: bound("max_objects", r.max_objects, u64::from(u32::MAX)),
    }
}

/// What kind of credential `raw` carries where a URL must carry none: userinfo
/// (`https://user:TOKEN@host/`) or a query (`?token=...`). Either would be sent to every
/// proxy and printed in every log that shows the URL.
fn secret_in_url(raw: &str) -> Option<&'static str> {
    let userinfo = Some("credentials in the URL's userinfo");
    let query = Some("a query string (which may carry a token) in the URL");
    // `u:tok@host/x` parses, as scheme `u` with an opaque path: anything but an http(s) URL is
    // judged by its shape, since `check` only says it is invalid.
    match url::Url::parse(raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
    {
        Some(u) if !u.username().is_empty() || u.password().is_some() => userinfo,
        Some(u) if u.query().is_some() => query,
        Some(_) => None,
        None if raw.contains('@') => userinfo,
        None if raw.contains('?') => query,
        None => None,
    }
}

/// An environment variable name is `[A-Za-z_][A-Za-z0-9_]*`; anything else given as
/// `bearer_token_env` is most likely the token itself, pasted in the wrong key.
fn looks_like_token(s: &str) -> bool {
    let mut chars = s.chars();
    let valid_name = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_name {
        return true;
    }
    // A valid name can still be a token (`AQoDYXdzEJr1234567890`): variable names are words
    // joined by `_`, tokens are long runs mixing cases and digits.
    let mixed = s.chars().any(|c| c.is_ascii_lowercase())
        && s.chars().any(|c| c.is_ascii_uppercase())
        && s.chars().any(|c| c.is_ascii_digit());
    mixed && s.len() >= 20 && !s.contains('_')
}

/// The preset's mappings, overridden one by one by the written ones (by attribute path),
/// followed by written mappings for attributes the preset does not map.
fn merge_mapping(
    file: FileId,
    preset: &[preset::PresetMapping],
    written: IndexMap<String, model::S<MappingEntry>>,
    defined_fields: &std::collections::HashSet<String>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<MappingRule> {
    let mut out: Vec<MappingRule> = Vec::new();
    let mut written = written;
    for p in preset {
        if let Some(w) = written.shift_remove(p.path) {
            out.push(written_rule(file, p.path.to_string(), w, diags));
            continue;
        }
        if let Some(f) = p.requires_field {
            if !defined_fields.contains(f) {
                continue;
            }
        }
        out.push(MappingRule {
            path: p.path.to_string(),
            source: if p.user_ref {
                MappingSource::UserRef(p.template.to_string())
            } else {
                MappingSource::Template(p.template.to_string())
            },
            on: When::Always,
            loc: None,
        });
    }
    for (path, w) in written {
        out.push(written_rule(file, path, w, diags));
    }
    out
}

fn written_rule(
    file: FileId,
    path: String,
    w: model::S<MappingEntry>,
    diags: &mut Vec<Diagnostic>,
) -> MappingRule {
    let loc = Some(Loc::of(file, &w));
    let (source, on) = match w.value {
        MappingEntry::Template(t) => (MappingSource::Template(t), When::Always),
        MappingEntry::Spec(s) => {
            let n = [
                s.template.is_some(),
                s.value.is_some(),
                s.user_ref.is_some(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            if n != 1 {
                diags.push(
                    Diagnostic::error(
                        loc,
                        format!(
                            "mapping for `{path}` must have exactly one of template, value, \
                             user_ref (found {n})"
                        ),
                    )
                    .hint("write `{ template: \"{{ field }}\" }`, `{ value: CONSTANT }` or `{ user_ref: \"{{ manager }}\" }`"),
                );
            }
            let source = if let Some(t) = s.template {
                MappingSource::Template(t)
            } else if let Some(r) = s.user_ref {
                MappingSource::UserRef(r)
            } else if let Some(v) = s.value {
                MappingSource::Value(v)
            } else {
                // `check` reports a spec with no source; an empty template renders absent.
                MappingSource::Template(String::new())
            };
            (source, s.on)
        }
    };
    MappingRule {
        path,
        source,
        on,
        loc,
    }
}

#[cfg(test)]
mod secret_tests {
    use super::*;

    #[test]
    fn tokens_in_urls_and_env_names() {
        assert!(secret_in_url("https://u:t@h/x").is_some());
        assert!(secret_in_url("https://t@h/x").is_some());
        assert!(secret_in_url("https://h/x?token=t").is_some());
        assert!(secret_in_url("https://h/x").is_none());
        assert!(secret_in_url("h/x@y").is_some());
        assert!(secret_in_url("u:tok@h/x").is_some());
        assert!(!looks_like_token("SCIM_TOKEN"));
        assert!(!looks_like_token("aws_token_2"));
        assert!(looks_like_token("AQoDYXdzEJr1234567890secret"));
        assert!(looks_like_token("eyJhbGciOi.J9.x"));
    }
}
