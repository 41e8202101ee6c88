//! A target compiled once: its mapping, policy lists and digest paths, built from the
//! configuration before any I/O and then shared by reading live state, verifying a saved plan,
//! the safety checks and apply, so that none of them compiles (or can disagree about) the same
//! mapping again. Import, drift and explain take the same value.

use super::error::{CompileError, ShellError};
use crate::apply::verify::DigestPaths;
use crate::config::{Desired, Target};
use crate::mapping;
use crate::plan::policy::Lists;
use crate::plan::{digest_paths, ObjectKind};
use std::sync::Arc;

/// One configured target, ready for the commands that talk to it.
pub struct CompiledTarget<'a> {
    /// The target as configured (endpoint, auth, dialect, rate, policy).
    pub target: &'a Target,
    /// The mapping from directory objects to SCIM resources.
    pub mapping: mapping::CompiledTarget,
    /// The policy lists (ignore, protect, release, owns), expanded against the directory.
    pub lists: Lists,
    /// The attributes a precondition digest covers, per kind.
    pub digest_paths: Arc<DigestPaths>,
}

impl<'a> CompiledTarget<'a> {
    /// Compile a target's mapping and policy lists.
    pub fn compile(desired: &Desired, target: &'a Target) -> Result<Self, CompileError> {
        let mapping =
            mapping::CompiledTarget::compile(target).map_err(|d| CompileError::Mapping {
                target: target.name.clone(),
                messages: d.into_iter().map(|x| x.message).collect(),
            })?;
        let lists = Lists::new(&target.policy, desired).map_err(|source| CompileError::Policy {
            target: target.name.clone(),
            source,
        })?;
        let digest_paths = Arc::new(DigestPaths {
            user: digest_paths(&mapping, ObjectKind::User),
            group: digest_paths(&mapping, ObjectKind::Group),
        });
        Ok(CompiledTarget {
            target,
            mapping,
            lists,
            digest_paths,
        })
    }

    /// The target's name.
    pub fn name(&self) -> &str {
        &self.target.name
    }
}

/// Compile each of `targets`, in order.
pub fn compile_all<'a>(
    desired: &Desired,
    targets: &[&'a Target],
) -> Result<Vec<CompiledTarget<'a>>, ShellError> {
    targets
        .iter()
        .map(|t| CompiledTarget::compile(desired, t).map_err(ShellError::from))
        .collect()
}

/// The configured targets, limited to `names` (an unknown name is an error; none means all).
pub fn select<'a>(desired: &'a Desired, names: &[String]) -> Result<Vec<&'a Target>, ShellError> {
    if names.is_empty() {
        return Ok(desired.targets.iter().collect());
    }
    names
        .iter()
        .map(|n| {
            desired
                .targets
                .iter()
                .find(|t| &t.name == n)
                .ok_or_else(|| ShellError::UnknownTarget {
                    name: n.clone(),
                    known: desired.targets.iter().map(|t| t.name.clone()).collect(),
                })
        })
        .collect()
}
