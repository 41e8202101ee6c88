//! The `validate` checks that concern mappings, run per target: template syntax, fields no user
//! defines, invalid or unsupported attribute paths (`rules`), and the checks on each target's
//! RENDERED values (`rendered`, `values`: required attributes, AWS's userName length, reserved
//! names, duplicates, objects with no match key).
//!
//! They sit above both `config` and `mapping` because they are checks of one against the other:
//! two users can differ in the YAML and still collide in a target once mapped
//! (`{{ user_name | lower }}`), and only rendering shows it. Every assigned object is rendered
//! once per target and every check reads that one result, so `validate` of 100,000 users stays
//! fast.

use super::rendered::check_rendered;
use super::rules::{check_static, UserFields};
use crate::config::{defined_fields, Desired, Target};
use crate::diag::Diagnostic;
use crate::mapping::CompiledTarget;

/// AWS's longest userName.
pub(super) const AWS_MAX_USER_NAME: usize = 128;

/// Every mapping problem of every target.
///
/// Targets are independent, so each is checked on its own thread (rendering 100,000 users is
/// most of `validate`'s check time); each thread's rendered values are freed when it ends, and
/// the diagnostics are joined in target order so the output does not depend on scheduling.
pub fn check(desired: &Desired) -> Vec<Diagnostic> {
    let declared = super::fields::declared(desired);
    let is_declared = declared.is_some();
    let names = declared.unwrap_or_else(|| defined_fields(&desired.users));
    let user_fields = UserFields {
        names: &names,
        declared: is_declared,
        complete: desired.sources.unreadable.is_empty(),
    };
    let mut first = super::fields::check(desired);
    let one = |t: &Target| {
        let mut out = Vec::new();
        check_static(t, &user_fields, &mut out);
        match CompiledTarget::compile(t) {
            Ok(c) => check_rendered(desired, t, &c, &mut out),
            Err(d) => out.extend(d),
        }
        out
    };
    if desired.targets.len() <= 1 {
        first.extend(desired.targets.iter().flat_map(one));
        return first;
    }
    let rest: Vec<Diagnostic> = std::thread::scope(|scope| {
        let handles: Vec<_> = desired
            .targets
            .iter()
            .map(|t| scope.spawn(move || one(t)))
            .collect();
        handles
            .into_iter()
            // a panic in one target's checks is re-raised here, as without threads
            .flat_map(|h| match h.join() {
                Ok(d) => d,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    first.extend(rest);
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::rules::{closest, edit_distance, guarded_by_default};
    use crate::config::test_support::desired;

    fn messages(yaml: &str) -> Vec<String> {
        check(&desired(yaml))
            .into_iter()
            .map(|d| d.message)
            .collect()
    }

    const USERS: &str = r#"
users:
  - { id: e1, user_name: alice@example.com, given_name: Alice, family_name: Liddell, email: alice@example.com, manager: e2 }
  - { id: e2, user_name: bob@example.com, given_name: Bob, family_name: Builder, email: bob@example.com }
groups:
  - { id: g-eng, name: engineering, members: [e1, e2] }
"#;

    fn aws(mapping: &str) -> String {
        format!(
            "{USERS}targets:\n  aws:\n    type: aws-identity-center\n    url: https://x.example/scim/v2\n    auth: {{ bearer_token_env: T }}\n    assign: {{ all: true }}\n{mapping}"
        )
    }

    fn generic(mapping: &str) -> String {
        format!(
            "{USERS}targets:\n  crm:\n    type: generic\n    url: https://x.example/scim/v2\n    auth: {{ bearer_token_env: T }}\n    assign: {{ all: true }}\n{mapping}"
        )
    }

    #[test]
    fn presets_and_optional_fields_are_clean() {
        assert_eq!(messages(&aws("")), Vec::<String>::new());
        assert_eq!(messages(&generic("")), Vec::<String>::new());
        let m = "    mapping:\n      user:\n        title: { template: \"{{ title | default('') }}\", on: create }\n        \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter\": { value: CC-100 }\n";
        assert_eq!(messages(&aws(m)), Vec::<String>::new());
    }

    #[test]
    fn unknown_fields_suggest_the_nearest() {
        let d = check(&desired(&aws(
            "    mapping:\n      user:\n        title: \"{{ famly_name }}\"\n",
        )));
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].message.contains("`famly_name`, which no user defines"));
        assert!(d[0]
            .hint
            .as_deref()
            .unwrap()
            .contains("did you mean `family_name`"));
    }

    #[test]
    fn unsupported_attributes_per_dialect() {
        let user = |path: &str| {
            format!("    mapping:\n      user:\n        '{path}': \"{{{{ email }}}}\"\n")
        };
        for path in [
            "password",
            "entitlements[type eq \"x\"].value",
            "x509Certificates.value",
            "emails[type eq \"work\"].display",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
            "urn:acme:ext:User:badge",
            "active",
            "groups.value",
            "name.nickname",
            "userName.value",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:team",
        ] {
            let m = messages(&aws(&user(path)));
            assert!(!m.is_empty(), "AWS accepted {path}");
        }
        for path in [
            "password",
            "emails[type eq \"work\"].display",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
            "urn:acme:ext:User:badge",
            "phoneNumbers[type eq \"work\"].value",
            "addresses[type eq \"work\"].locality",
            "nickName",
        ] {
            assert_eq!(
                messages(&generic(&user(path))),
                Vec::<String>::new(),
                "{path}"
            );
        }
        for path in ["nickname2", "active", "id", "name.nickname"] {
            assert!(
                !messages(&generic(&user(path))).is_empty(),
                "generic accepted {path}"
            );
        }
        let group = |path: &str| {
            format!("    mapping:\n      group:\n        '{path}': \"{{{{ name }}}}\"\n")
        };
        assert!(!messages(&aws(&group("members"))).is_empty());
        assert!(!messages(&aws(&group("description"))).is_empty());
        assert!(!messages(&aws(&group("urn:acme:ext:Group:x"))).is_empty());
        assert!(messages(&generic(&group("urn:acme:ext:Group:x"))).is_empty());
    }

    #[test]
    fn aws_takes_one_email() {
        let m = messages(&aws(
            "    mapping:\n      user:\n        'emails[type eq \"home\"].value': \"{{ email }}\"\n",
        ));
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].contains("more than one of `emails`"), "{m:?}");
        // switching the preset's email off makes room for another
        let m = messages(&aws(
            "    mapping:\n      user:\n        'emails[primary eq true].value': \"\"\n        'emails[type eq \"home\"].value': \"{{ email }}\"\n",
        ));
        assert_eq!(m, Vec::<String>::new());
        // several sub-attributes of one address are one value
        let m = messages(&aws(
            "    mapping:\n      user:\n        'addresses[type eq \"work\"].locality': \"{{ email }}\"\n        'addresses[type eq \"work\"].country': { value: NL }\n        'addresses[type eq \"home\"].country': { value: BE }\n",
        ));
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].contains("more than one of `addresses`"), "{m:?}");
    }

    #[test]
    fn user_ref_in_group_mapping_is_refused() {
        let m = messages(&generic(
            "    mapping:\n      group:\n        externalId: { user_ref: \"{{ id }}\" }\n",
        ));
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].contains("`user_ref` in the group mapping"));
    }

    #[test]
    fn a_required_attribute_nobody_maps() {
        let yaml = "users:\n  - { id: e1, user_name: a, family_name: A }\ntargets:\n  aws:\n    type: embedded\n    dialect: aws-identity-center\n    assign: { all: true }\n";
        let m = messages(yaml);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].contains("no mapping for `name.givenName`"), "{m:?}");
    }

    #[test]
    fn required_empty_counts_users() {
        let yaml = "users:\n  - { id: e1, user_name: a, given_name: A, family_name: A }\n  - { id: e2, user_name: b, family_name: B }\n  - { id: e3, user_name: c, family_name: C }\ntargets:\n  aws:\n    type: embedded\n    dialect: aws-identity-center\n    assign: { all: true }\n";
        let m = messages(yaml);
        assert_eq!(
            m,
            vec![
                r#"`name.givenName` renders empty for user "e2" and 1 more assigned to target "aws"; AWS IAM Identity Center requires it"#
            ]
        );
    }

    #[test]
    fn unassigned_users_are_not_checked() {
        let yaml = "users:\n  - { id: e1, user_name: a, given_name: A, family_name: A }\n  - { id: e2, user_name: Administrator }\ntargets:\n  aws:\n    type: embedded\n    dialect: aws-identity-center\n    assign: { users: [e1] }\n";
        assert_eq!(messages(yaml), Vec::<String>::new());
    }

    #[test]
    fn rendered_duplicates_only_when_the_mapping_makes_them() {
        // the same user_name twice is the directory's duplicate: not repeated per target
        let yaml = "users:\n  - { id: e1, user_name: a }\n  - { id: e2, user_name: A }\ntargets:\n  t:\n    type: embedded\n    assign: { all: true }\n";
        assert_eq!(messages(yaml), Vec::<String>::new());
        let yaml = "users:\n  - { id: e1, user_name: a.x }\n  - { id: e2, user_name: a.y }\ntargets:\n  t:\n    type: embedded\n    assign: { all: true }\n    mapping:\n      user:\n        userName: \"{{ user_name | replace('.x', '') | replace('.y', '') }}\"\n        externalId: { value: same }\n";
        let d = check(&desired(yaml));
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d.iter().all(|d| d.notes.len() == 1));
        assert!(d[0].message.contains("both render userName \"a\""), "{d:?}");
        assert!(
            d[1].message.contains("both render externalId \"same\""),
            "{d:?}"
        );
    }

    #[test]
    fn render_errors_are_reported_once_per_rule() {
        let yaml = "users:\n  - { id: e1, user_name: a }\n  - { id: e2, user_name: b }\ntargets:\n  t:\n    type: embedded\n    assign: { all: true }\n    mapping:\n      user:\n        title: \"{% for i in range(1000) %}{% for j in range(1000) %}x{% endfor %}{% endfor %}\"\n";
        let m = messages(yaml);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].contains("fails for user \"e1\" and 1 more"), "{m:?}");
    }

    #[test]
    fn groups_without_match_key_and_reserved_group_names() {
        let yaml = "users: []\ngroups:\n  - { name: AWSAdministrators }\ntargets:\n  aws:\n    type: embedded\n    dialect: aws-identity-center\n    assign: { all: true }\n    mapping:\n      group:\n        externalId: \"\"\n        displayName: \"{{ description }}\"\n";
        let m = messages(yaml);
        assert!(
            m.iter()
                .any(|m| m.contains("no match key: externalId and displayName render empty")),
            "{m:?}"
        );
        let yaml = "users: []\ngroups:\n  - { name: awsadministrators }\ntargets:\n  aws:\n    type: embedded\n    dialect: aws-identity-center\n    assign: { all: true }\n";
        let m = messages(yaml);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].contains("a name target \"aws\" reserves"), "{m:?}");
    }

    #[test]
    fn edit_distance_and_default_guard() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(closest("emial", &["email", "id"]), Some("email"));
        assert_eq!(closest("zzz", &["email"]), None);
        assert!(guarded_by_default("{{ title | default('') }}", "title"));
        assert!(guarded_by_default("{{ title|d('x') }}", "title"));
        assert!(!guarded_by_default(
            "{{ subtitle | default('') }} {{ title }}",
            "title"
        ));
    }
}
