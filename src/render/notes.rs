//! `--redact` for what the plan names for reviewers (docs/contract.md#security): the names
//! behind reference values, the groups of `via`, and the objects left alone are personal or
//! organisational values like any attribute, so they get the same digests; addresses and the
//! reason words stay readable.

use super::redact::digest;
use crate::plan::document::{Change, NotTouching, Via};

/// Replace the names of a change's notes by their digests.
pub(crate) fn redact_notes(c: &mut Change) {
    for r in c.notes.refs.values_mut() {
        for n in [&mut r.before, &mut r.after].into_iter().flatten() {
            *n = digest(n);
        }
    }
    for v in &mut c.notes.via {
        if let Via::Group { name } = v {
            *name = digest(name);
        }
    }
}

/// Replace the names of the objects left alone by their digests.
pub(crate) fn redact_left_alone(n: &mut NotTouching) {
    for o in &mut n.objects {
        o.name = digest(&o.name);
    }
}
