//! `--redact` for what the plan names for reviewers (docs/contract.md#security): the names
//! behind reference values, the groups of `via`, and the objects left alone are personal or
//! organisational values like any attribute, so they get the same digests; addresses and the
//! reason words stay readable.

use super::redact::digest_with;
use crate::plan::document::{Change, NotTouching, Via};

/// Replace the names of a change's notes by their digests.
pub(crate) fn redact_notes(key: &[u8], c: &mut Change) {
    for r in c.notes.refs.values_mut() {
        for n in [&mut r.before, &mut r.after].into_iter().flatten() {
            *n = digest_with(key, n);
        }
    }
    for v in &mut c.notes.via {
        if let Via::Group { name } = v {
            *name = digest_with(key, name);
        }
    }
}

/// Replace the names of the objects left alone by their digests.
pub(crate) fn redact_left_alone(key: &[u8], n: &mut NotTouching) {
    for o in &mut n.objects {
        o.name = digest_with(key, &o.name);
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::document::{Address, LeftAlone, ObjectKind, RefNames, Via, WhyLeftAlone};
    use crate::plan::fixtures::*;

    #[test]
    fn redact_hides_the_names_of_notes_and_of_objects_left_alone() {
        let mut c = update_user();
        c.notes.refs.insert(
            "manager.value".into(),
            RefNames {
                before: Some("carol@example.com".into()),
                after: None,
            },
        );
        c.notes.via = vec![Via::Group {
            name: "secret-project".into(),
        }];
        let mut d = one(vec![c]);
        d.targets[0].not_touching.objects = vec![LeftAlone {
            address: Address::live("aws", ObjectKind::User, "s-9"),
            name: "stranger@example.com".into(),
            why: WhyLeftAlone::Ignored,
        }];
        let json = crate::render::render_json(&crate::render::redact(&d));
        for personal in [
            "carol@example.com",
            "secret-project",
            "stranger@example.com",
        ] {
            assert!(!json.contains(personal), "{personal}: {json}");
        }
        assert!(json.contains("aws:user.live:s-9"), "addresses stay");
    }
}
