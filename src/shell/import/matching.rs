//! Which directory entry each live object is, and whether a matched pair differs: the target's
//! match keys in precedence (the first key both sides have decides), and the attributes the
//! planner keeps up to date. Import needs the pairing for every live object, including those the
//! planner would leave untouched, so it is computed here rather than read off a plan.

use super::Live;
use crate::config::model::{GroupMatchKey, UserMatchKey, When};
use crate::config::{Desired, Group, User};
use crate::mapping::{RenderError, RuleKind};
use crate::shell::CompiledTarget;
use serde_json::Value;
use std::collections::HashMap;

/// The live user each desired user is, by the target's match keys in precedence; the first
/// key both sides have decides. Returns, per live user, the desired user it is.
pub(super) fn match_users(
    desired: &Desired,
    compiled: &CompiledTarget<'_>,
    live: &Live,
    skip: &[bool],
) -> Result<Vec<Option<usize>>, RenderError> {
    let mapping = &compiled.mapping;
    let keys = &compiled.target.match_users;
    let rule_of = |k: &UserMatchKey| match k {
        UserMatchKey::ExternalId => mapping.user_rule("externalId"),
        UserMatchKey::UserName => mapping.user_rule("userName"),
        UserMatchKey::Email => mapping.email_rule(),
    };
    let ci = |k: &UserMatchKey| !matches!(k, UserMatchKey::ExternalId);
    let mut index: Vec<HashMap<String, usize>> = vec![HashMap::new(); keys.len()];
    for (d, u) in desired.users.iter().enumerate() {
        let r = mapping.render_user(u)?;
        for (k, key) in keys.iter().enumerate() {
            let v = rule_of(key)
                .and_then(|i| r.values[i].as_ref())
                .and_then(Value::as_str);
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                let v = if ci(key) { v.to_lowercase() } else { v.into() };
                index[k].entry(v).or_insert(d);
            }
        }
    }
    Ok(live
        .users
        .iter()
        .zip(skip)
        .map(|(u, skip)| {
            if *skip {
                return None;
            }
            keys.iter().enumerate().find_map(|(k, key)| {
                let v = match key {
                    UserMatchKey::ExternalId => u.external_id(),
                    UserMatchKey::UserName => Some(u.user_name()).filter(|s| !s.is_empty()),
                    UserMatchKey::Email => u.primary_email(),
                }?;
                let v = if ci(key) { v.to_lowercase() } else { v.into() };
                index[k].get(&v).copied()
            })
        })
        .collect())
}

/// Per live group, the desired group it is.
pub(super) fn match_groups(
    desired: &Desired,
    compiled: &CompiledTarget<'_>,
    live: &Live,
    skip: &[bool],
) -> Result<Vec<Option<usize>>, RenderError> {
    let mapping = &compiled.mapping;
    let keys = &compiled.target.match_groups;
    let rule_of = |k: &GroupMatchKey| match k {
        GroupMatchKey::ExternalId => mapping.group_rule("externalId"),
        GroupMatchKey::DisplayName => mapping.group_rule("displayName"),
    };
    let ci = |k: &GroupMatchKey| matches!(k, GroupMatchKey::DisplayName);
    let mut index: Vec<HashMap<String, usize>> = vec![HashMap::new(); keys.len()];
    for (d, g) in desired.groups.iter().enumerate() {
        let r = mapping.render_group(g)?;
        for (k, key) in keys.iter().enumerate() {
            let v = rule_of(key)
                .and_then(|i| r.values[i].as_ref())
                .and_then(Value::as_str);
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                let v = if ci(key) { v.to_lowercase() } else { v.into() };
                index[k].entry(v).or_insert(d);
            }
        }
    }
    Ok(live
        .groups
        .iter()
        .zip(skip)
        .map(|(g, skip)| {
            if *skip {
                return None;
            }
            keys.iter().enumerate().find_map(|(k, key)| {
                let v = match key {
                    GroupMatchKey::ExternalId => g.external_id(),
                    GroupMatchKey::DisplayName => Some(g.display_name()).filter(|s| !s.is_empty()),
                }?;
                let v = if ci(key) { v.to_lowercase() } else { v.into() };
                index[k].get(&v).copied()
            })
        })
        .collect())
}

/// Whether a matched live user differs from its directory entry in an attribute the planner
/// keeps up to date (not `active`, which the activate/deactivate filters cover).
pub(super) fn user_differs(
    compiled: &CompiledTarget<'_>,
    d: &User,
    live: &Value,
    resolve: &dyn Fn(&str) -> Option<String>,
) -> Result<bool, RenderError> {
    let r = compiled.mapping.render_user(d)?;
    Ok(compiled
        .mapping
        .user
        .iter()
        .zip(&r.values)
        .any(|(rule, want)| {
            if rule.path.is_simple("active") || rule.on == When::Create {
                return false;
            }
            let have = rule.path.get(live);
            if rule.kind == RuleKind::UserRef {
                let have = have.and_then(Value::as_str).and_then(resolve);
                return have.as_deref() != want.as_ref().and_then(Value::as_str);
            }
            !crate::plan::same_value(have, want.as_ref())
        }))
}

/// Whether a matched live group differs from its directory entry in a mapped attribute.
pub(super) fn group_differs(
    compiled: &CompiledTarget<'_>,
    d: &Group,
    live: &Value,
) -> Result<bool, RenderError> {
    let r = compiled.mapping.render_group(d)?;
    Ok(compiled
        .mapping
        .group
        .iter()
        .zip(&r.values)
        .any(|(rule, want)| {
            rule.on != When::Create && !crate::plan::same_value(rule.path.get(live), want.as_ref())
        }))
}
