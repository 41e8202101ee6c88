//! The `validate` checks that need a target's compiled mapping and rendered values.

use super::CompiledTarget;
use crate::config::Desired;
use crate::diag::Diagnostic;

/// Every mapping problem of every target.
pub fn check(desired: &Desired) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for t in &desired.targets {
        if let Err(d) = CompiledTarget::compile(t) {
            out.extend(d);
        }
    }
    out
}
