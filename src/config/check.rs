//! Semantic checks of a resolved configuration: everything `roster validate` reports beyond
//! YAML syntax and types. Each check adds diagnostics with positions; none stops the others.

use super::Desired;
use crate::diag::Diagnostic;

/// Every problem in the configuration.
pub fn check(desired: &Desired) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for t in &desired.targets {
        for (what, loc) in &t.inline_secrets {
            out.push(
                Diagnostic::error(*loc, format!("{what} written inline in target {:?}", t.name))
                    .hint("secrets never go in YAML: use bearer_token_env / bearer_token_file, password_env or value_env"),
            );
        }
    }
    out.extend(crate::mapping::check::check(desired));
    out
}
