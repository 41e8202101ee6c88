//! Checks on the rendered values of a target's users and groups: AWS's userName length, reserved
//! names, values that collide once rendered, and objects no match key can find.

use super::mappings::AWS_MAX_USER_NAME;
use super::rendered::{
    copied_field, directory_duplicate, first_and_more, rendered_collisions, text, user_value_loc,
    Row,
};
use crate::config::model::{Dialect, GroupMatchKey, UserMatchKey};
use crate::config::{Desired, Target, User};
use crate::diag::Diagnostic;
use crate::mapping::CompiledTarget;

/// The directory field the preset maps to a required attribute.
pub(super) fn preset_field(attr: &str) -> &'static str {
    match attr {
        "userName" => "user_name",
        "displayName" => "display_name, or given_name and family_name",
        "name.givenName" => "given_name",
        "name.familyName" => "family_name",
        _ => "see `roster schema`",
    }
}

pub(super) fn check_user_values(
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
                let text_of = |u: &User| u.fields.get(f.as_str()).and_then(|x| x.value.as_text());
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

pub(super) fn check_group_values(
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

pub(super) fn check_match_keys(
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
