//! A target's mapping cut down to what the target declares (docs/contract.md#capability-discovery).
//!
//! A mapped attribute the server's Schemas do not declare would be sent, dropped by the server,
//! read back absent, and planned again on every run: an endless update. Planning against the
//! mapping without it, with a warning naming attribute and target, ends that. Plan and apply's
//! re-read both cut the same way, so a saved plan's preconditions cover the same attributes.

use crate::apply::verify::DigestPaths;
use crate::config::Target;
use crate::mapping::{self, AttrPath};
use crate::plan::{digest_paths, ObjectKind};
use crate::scim::discovery::Discovered;
use crate::scim::ResourceKind;

/// What a target does not declare: one line per mapped attribute left out, for a warning.
pub fn undeclared(target: &Target, d: &Discovered) -> Vec<String> {
    restricted(target, d).map(|(_, w)| w).unwrap_or_default()
}

/// The target with every mapping of an attribute it does not declare removed, and a warning for
/// each; `None` when it declares everything it is mapped to (the common case: nothing is cloned).
pub fn restricted(target: &Target, d: &Discovered) -> Option<(Target, Vec<String>)> {
    let mut warnings = Vec::new();
    let mut keep = |rules: &[crate::config::MappingRule], kind: ResourceKind, naming: &str| {
        rules
            .iter()
            .map(|r| {
                let Ok(p) = AttrPath::parse(&r.path) else {
                    // An unparsable path is the mapping check's to report.
                    return true;
                };
                // The attribute that names an object is never dropped: without it nothing
                // could be created or matched.
                if p.is_simple(naming) {
                    return true;
                }
                let declared = d.declares(kind, p.schema.as_deref(), &p.attr, p.sub.as_deref());
                if !declared {
                    let what = match kind {
                        ResourceKind::User => "users",
                        ResourceKind::Group => "groups",
                    };
                    warnings.push(format!(
                        "target {:?} does not declare the attribute {} for {what} in its Schemas: \
                         it is neither sent nor compared",
                        target.name, r.path
                    ));
                }
                declared
            })
            .collect::<Vec<bool>>()
    };
    let users = keep(&target.user_mapping, ResourceKind::User, "userName");
    let groups = keep(&target.group_mapping, ResourceKind::Group, "displayName");
    if warnings.is_empty() {
        return None;
    }
    let mut t = target.clone();
    let mut flags = users.into_iter();
    t.user_mapping.retain(|_| flags.next().unwrap_or(true));
    let mut flags = groups.into_iter();
    t.group_mapping.retain(|_| flags.next().unwrap_or(true));
    Some((t, warnings))
}

/// The precondition attributes of a target cut down to what it declares, or `None` when nothing
/// was cut (the compiled target's own paths hold).
pub fn restricted_digest_paths(target: &Target, d: &Discovered) -> Option<DigestPaths> {
    let (t, _) = restricted(target, d)?;
    let compiled = mapping::CompiledTarget::compile(&t).ok()?;
    Some(DigestPaths {
        user: digest_paths(&compiled, ObjectKind::User),
        group: digest_paths(&compiled, ObjectKind::Group),
    })
}
