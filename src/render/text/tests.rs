//! Tests of the text renderer.

use super::*;
use crate::plan::document::{Action, Address, ObjectKind, Reason};
use crate::plan::fixtures::*;
use serde_json::json;

fn plain(doc: &PlanDocument) -> String {
    render_plan(doc, &TextOptions::default())
}

#[test]
fn create() {
    insta::assert_snapshot!(plain(&one(vec![create_user("e1003", "bob@example.com")])), @r#"
        Resource actions are indicated with the following symbols:
          + create

        roster will perform the following actions:

        Target aws (https://scim.example.com/aws/scim/v2, aws-identity-center):

          # aws:user.e1003 (bob@example.com) will be created
          # (because it is in the directory but missing from this target)
          + user "bob@example.com" {
              + userName    = "bob@example.com"
              + displayName = "Bob Example"
              + emails      = [{"value":"bob@example.com","type":"work","primary":true}]
              + active      = true
            }

        Apply will send 1 request (0 reads, 1 write, 0 membership operations); about 0.04 s at the target's rate.

        Plan: 1 to add, 0 to change, 0 to destroy (0 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.
        Checksum: sha256:96a7d8130d751cd792c7dda1001a3e723a8bead7f4a743f6fd1f9d8304893c9c

        Note: You didn't use the --out option to save this plan, so roster can't guarantee to take exactly these actions if you run "roster apply" now.
        "#);
}

#[test]
fn update_folds_unchanged_attributes() {
    let mut c = update_user();
    // An attribute present on both sides with the same value is folded too.
    c.before.insert("department".into(), json!("R&D"));
    c.after.insert("department".into(), json!("R&D"));
    c.before.insert("nickName".into(), json!("Al"));
    c.after.insert("preferredLanguage".into(), json!("en"));
    insta::assert_snapshot!(plain(&one(vec![c])), @r#"
        Resource actions are indicated with the following symbols:
          ~ update in-place

        roster will perform the following actions:

        Target aws (https://scim.example.com/aws/scim/v2, aws-identity-center):

          # aws:user.e1001 (alice@example.com) will be updated in-place
          # (because attributes differ from the directory)
          ~ user "alice@example.com" {
              ~ title             = "Engineer" -> "Staff Engineer"
              - nickName          = "Al" -> null
              + preferredLanguage = "en"
                # (6 unchanged attributes hidden)
            }

        Apply will send 1 request (0 reads, 1 write, 0 membership operations); about 0.04 s at the target's rate.

        Plan: 0 to add, 1 to change, 0 to destroy (0 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.
        Checksum: sha256:b451729f3782e722ad9b1a19f25c5a663311b01d3150d0cfb8aa650fcd646ae5

        Note: You didn't use the --out option to save this plan, so roster can't guarantee to take exactly these actions if you run "roster apply" now.
        "#);
}

#[test]
fn multi_line_values_are_diffed_line_by_line() {
    let mut c = update_user();
    c.unchanged_attributes = 0;
    c.before = obj(
        json!({"addresses[type eq \"work\"].streetAddress": "1 Main St\nFloor 2\nSpringfield"}),
    );
    c.after = obj(
        json!({"addresses[type eq \"work\"].streetAddress": "1 Main St\nFloor 3\nSpringfield"}),
    );
    insta::assert_snapshot!(plain(&one(vec![c])), @r#"
        Resource actions are indicated with the following symbols:
          ~ update in-place

        roster will perform the following actions:

        Target aws (https://scim.example.com/aws/scim/v2, aws-identity-center):

          # aws:user.e1001 (alice@example.com) will be updated in-place
          # (because attributes differ from the directory)
          ~ user "alice@example.com" {
              ~ addresses[type eq "work"].streetAddress = <<-EOT
                    1 Main St
                  - Floor 2
                  + Floor 3
                    Springfield
                EOT
            }

        Apply will send 1 request (0 reads, 1 write, 0 membership operations); about 0.04 s at the target's rate.

        Plan: 0 to add, 1 to change, 0 to destroy (0 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.
        Checksum: sha256:59e636fbea407f4f4c27d8f6efae4a9eef4bf00f60e4690cea63285752f22eaa

        Note: You didn't use the --out option to save this plan, so roster can't guarantee to take exactly these actions if you run "roster apply" now.
        "#);
}

#[test]
fn deactivate() {
    insta::assert_snapshot!(plain(&one(vec![deactivate_user()])), @r#"
        Resource actions are indicated with the following symbols:
          ⊘ deactivate

        roster will perform the following actions:

        Target aws (https://scim.example.com/aws/scim/v2, aws-identity-center):

          # aws:user.e1002 (carol@example.com) will be deactivated
          # (because it is no longer in the directory)
          ⊘ user "carol@example.com" {
              ~ active = true -> false
                # (7 unchanged attributes hidden)
            }

        Apply will send 1 request (0 reads, 1 write, 0 membership operations); about 0.04 s at the target's rate.

        Plan: 0 to add, 0 to change, 1 to destroy (1 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.
        Checksum: sha256:152261e51514c459d89dc47c4b1e2137b05eeee8086adffdf943d89938c7a27f

        Note: You didn't use the --out option to save this plan, so roster can't guarantee to take exactly these actions if you run "roster apply" now.
        "#);
}

#[test]
fn reactivate() {
    let mut c = deactivate_user();
    c.actions = vec![Action::Reactivate];
    c.reason = Reason::ActiveInDirectory;
    std::mem::swap(&mut c.before, &mut c.after);
    insta::assert_snapshot!(plain(&one(vec![c])), @r#"
        Resource actions are indicated with the following symbols:
          ~ update in-place

        roster will perform the following actions:

        Target aws (https://scim.example.com/aws/scim/v2, aws-identity-center):

          # aws:user.e1002 (carol@example.com) will be reactivated
          # (because it is active again in the directory)
          ~ user "carol@example.com" {
              ~ active = false -> true
                # (7 unchanged attributes hidden)
            }

        Apply will send 1 request (0 reads, 1 write, 0 membership operations); about 0.04 s at the target's rate.

        Plan: 0 to add, 1 to change, 0 to destroy (0 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.
        Checksum: sha256:3e0d0d3c8b6d34dca7b0e8cff9b5e728e17b249a112059013744ec6ffa4cd50f

        Note: You didn't use the --out option to save this plan, so roster can't guarantee to take exactly these actions if you run "roster apply" now.
        "#);
}

#[test]
fn delete() {
    let mut user = change(
        "aws:user.live:9067-ab",
        "mallory@example.com",
        ObjectKind::User,
        &[Action::Delete],
        Reason::UnmanagedPolicy,
    );
    user.id = Some("9067-ab".into());
    let mut group = change(
        "aws:group.old",
        "Old Team",
        ObjectKind::Group,
        &[Action::Delete],
        Reason::RemovedFromDirectory,
    );
    group.before = obj(json!({"displayName": "Old Team", "externalId": "old"}));
    insta::assert_snapshot!(plain(&one(vec![user, group])), @r#"
        Resource actions are indicated with the following symbols:
          - destroy

        roster will perform the following actions:

        Target aws (https://scim.example.com/aws/scim/v2, aws-identity-center):

          # aws:user.live:9067-ab (mallory@example.com) will be destroyed
          # (because it is not in the directory and the unmanaged policy claims it)
          - user "mallory@example.com" {
                id = "9067-ab"
            }

          # aws:group.old (Old Team) will be destroyed
          # (because it is no longer in the directory)
          - group "Old Team" {
              - displayName = "Old Team"
              - externalId  = "old"
            }

        Apply will send 2 requests (0 reads, 2 writes, 0 membership operations); about 0.08 s at the target's rate.

        Plan: 0 to add, 0 to change, 2 to destroy (0 deactivate, 2 delete); 0 unmanaged and 0 ignored not touched.
        Checksum: sha256:70710c63a389594e11e7cafd8ca30e166f7bbead4acabc6fe0bb8ccee869b3c7

        Note: You didn't use the --out option to save this plan, so roster can't guarantee to take exactly these actions if you run "roster apply" now.
        "#);
}

#[test]
fn membership_add_and_remove() {
    insta::assert_snapshot!(plain(&one(vec![membership()])), @r#"
        Resource actions are indicated with the following symbols:
          ~ update in-place

        roster will perform the following actions:

        Target aws (https://scim.example.com/aws/scim/v2, aws-identity-center):

          # aws:group.eng (Engineering) members will change
          # (because its live members differ from the directory)
          ~ group "Engineering" {
              + member "alice@example.com" (u-1)
              + member "bob@example.com" (created by this plan)
              - member "dave@example.com" (u-4)
            }

        Apply will send 1 request (0 reads, 1 write, 3 membership operations); about 0.04 s at the target's rate.

        Plan: 0 to add, 1 to change, 0 to destroy (0 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.
        Checksum: sha256:189056ebab1678691444aa033e069a28520c12fefe2658d260f439c7aeefde76

        Note: You didn't use the --out option to save this plan, so roster can't guarantee to take exactly these actions if you run "roster apply" now.
        "#);
}

#[test]
fn group_create_lists_its_members() {
    let mut g = membership();
    g.actions = vec![Action::Create];
    g.reason = Reason::Missing;
    g.id = None;
    g.members_removed.clear();
    g.after = obj(
        json!({"displayName": "Engineering", "description": "Builds things.\nOwns the platform."}),
    );
    insta::assert_snapshot!(plain(&one(vec![g])), @r#"
        Resource actions are indicated with the following symbols:
          + create

        roster will perform the following actions:

        Target aws (https://scim.example.com/aws/scim/v2, aws-identity-center):

          # aws:group.eng (Engineering) will be created
          # (because it is in the directory but missing from this target)
          + group "Engineering" {
              + displayName = "Engineering"
              + description = <<-EOT
                  + Builds things.
                  + Owns the platform.
                EOT
              + member "alice@example.com" (u-1)
              + member "bob@example.com" (created by this plan)
            }

        Apply will send 1 request (0 reads, 1 write, 2 membership operations); about 0.04 s at the target's rate.

        Plan: 1 to add, 0 to change, 0 to destroy (0 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.
        Checksum: sha256:c89436ad95367a729c5fdb5ba1c8b782b3b8f512a352b9de7a7b7fd30cd7b4c2

        Note: You didn't use the --out option to save this plan, so roster can't guarantee to take exactly these actions if you run "roster apply" now.
        "#);
}

#[test]
fn conflict_says_nothing_will_change() {
    let mut c = change(
        "aws:user.e1005",
        "erin@example.com",
        ObjectKind::User,
        &[],
        Reason::Conflict,
    );
    c.detail =
        Some("userName erin@example.com matches live user 11-22 whose externalId is e9999".into());
    insta::assert_snapshot!(plain(&one(vec![c])), @r#"
        roster will perform the following actions:

        Target aws (https://scim.example.com/aws/scim/v2, aws-identity-center):

          # aws:user.e1005 (erin@example.com) is in conflict; no changes will be made to it
          # (because userName erin@example.com matches live user 11-22 whose externalId is e9999)
          # (to resolve: fix the live externalId, `release` it, or change `match`; roster explain aws:user.e1005)


        Plan: 0 to add, 0 to change, 0 to destroy (0 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.
        1 conflict: not changed; run roster explain ADDR for it.
        Checksum: sha256:1cab07d222b51fe349502c6ce355e2cb6604f3333398606e0e3f2c3982fca97e

        Note: You didn't use the --out option to save this plan, so roster can't guarantee to take exactly these actions if you run "roster apply" now.
        "#);
}

#[test]
fn tripped_gate() {
    let changes: Vec<_> = (0..3)
        .map(|i| {
            let mut c = deactivate_user();
            c.address = Address::directory("aws", ObjectKind::User, &format!("e20{i}"));
            c.name = format!("u{i}@example.com");
            c
        })
        .collect();
    let mut d = one(changes);
    d.targets[0].safety = vec![
        SafetyGate {
            gate: "max_destroy".into(),
            limit: 2.0,
            observed: 3.0,
            tripped: true,
        },
        SafetyGate {
            gate: "max_destroy_percent".into(),
            limit: 10.0,
            observed: 37.5,
            tripped: true,
        },
    ];
    d.targets[0].not_touching = crate::plan::document::NotTouching {
        unmanaged_users: 14,
        ignored_groups: 2,
        protected: 1,
        ..Default::default()
    };
    d.targets[0].summary.unmanaged = 14;
    d.targets[0].summary.ignored = 2;
    insta::assert_snapshot!(plain(&d), @r#"
        Resource actions are indicated with the following symbols:
          ⊘ deactivate

        roster will perform the following actions:

        Target aws (https://scim.example.com/aws/scim/v2, aws-identity-center):

          # aws:user.e200 (u0@example.com) will be deactivated
          # (because it is no longer in the directory)
          ⊘ user "u0@example.com" {
              ~ active = true -> false
                # (7 unchanged attributes hidden)
            }

          # aws:user.e201 (u1@example.com) will be deactivated
          # (because it is no longer in the directory)
          ⊘ user "u1@example.com" {
              ~ active = true -> false
                # (7 unchanged attributes hidden)
            }

          # aws:user.e202 (u2@example.com) will be deactivated
          # (because it is no longer in the directory)
          ⊘ user "u2@example.com" {
              ~ active = true -> false
                # (7 unchanged attributes hidden)
            }

        Not touching: 14 unmanaged users, 2 ignored groups, 1 protected.
        Apply will send 3 requests (0 reads, 3 writes, 0 membership operations); about 0.12 s at the target's rate.
        Safety gate max_destroy tripped: 3 destructive changes, limit 2. Apply is blocked; pass --allow-destroy to override.
        Safety gate max_destroy_percent tripped: 37.5% of owned objects destroyed, limit 10%. Apply is blocked; pass --allow-destroy to override.

        Plan: 0 to add, 0 to change, 3 to destroy (3 deactivate, 0 delete); 14 unmanaged and 2 ignored not touched.
        Checksum: sha256:d9f49e5fc8a62296e2a0931994f6cecb495a163a344a145640e8649da7fcfce0

        Note: You didn't use the --out option to save this plan, so roster can't guarantee to take exactly these actions if you run "roster apply" now.
        "#);
}

#[test]
fn a_group_with_attribute_and_member_changes_is_one_block() {
    let mut update = change(
        "aws:group.eng",
        "Engineering",
        ObjectKind::Group,
        &[Action::Update],
        Reason::AttributeMismatch,
    );
    update.before = obj(json!({"displayName": "eng"}));
    update.after = obj(json!({"displayName": "Engineering"}));
    update.unchanged_attributes = 1;
    let mut removes = membership();
    removes.actions = vec![Action::RemoveMembers];
    let mut adds = membership();
    adds.actions = vec![Action::AddMembers];
    adds.members_removed.clear();
    removes.members_added.clear();
    let text = plain(&one(vec![update, adds, removes]));
    assert_eq!(
        text.matches("~ group \"Engineering\" {").count(),
        1,
        "{text}"
    );
    assert!(text.contains(
        "  # (because attributes differ from the directory, and its live members differ from the directory)\n  ~ group \"Engineering\" {\n      ~ displayName = \"eng\" -> \"Engineering\"\n        # (1 unchanged attribute hidden)\n      + member \"alice@example.com\" (u-1)\n      + member \"bob@example.com\" (created by this plan)\n      - member \"dave@example.com\" (u-4)\n    }\n"
    ), "{text}");
    // counted once, as the summary line always did
    assert!(text.contains("Plan: 0 to add, 1 to change,"), "{text}");
}

#[test]
fn references_show_names_and_enterprise_paths_are_shortened_with_a_legend() {
    let mut c = update_user();
    let path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value";
    c.before = obj(json!({ path: "s-1" }));
    c.after = obj(json!({ path: {"$user_ref": "aws:user.e1003"} }));
    c.notes.refs.insert(
        path.into(),
        crate::plan::document::RefNames {
            before: Some("alice@example.com".into()),
            after: Some("bob@example.com".into()),
        },
    );
    let text = plain(&one(vec![c]));
    assert!(
        text.contains("  ~ enterprise:manager.value = \"alice@example.com\" (s-1) -> \"bob@example.com\" (id known after apply)\n"),
        "{text}"
    );
    assert!(text.contains(
        "\nenterprise: stands for urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:\n\nPlan:"
    ));
    let json = crate::render::render_json(&one(vec![]));
    assert!(!json.contains("enterprise:"));
}

#[test]
fn via_lines_say_what_assigns_a_user_and_what_no_longer_does() {
    use crate::plan::document::Via;
    let mut c = create_user("e1003", "bob@example.com");
    c.notes.via = vec![
        Via::Group {
            name: "engineering".into(),
        },
        Via::User,
    ];
    let mut gone = deactivate_user();
    gone.reason = Reason::Unassigned;
    gone.notes.via = vec![Via::Group {
        name: "engineering".into(),
    }];
    let text = plain(&one(vec![c, gone]));
    assert!(
        text.contains("  # (assigned via group engineering and assign.users)\n"),
        "{text}"
    );
    assert!(
        text.contains("  # (group engineering no longer assigns it)\n"),
        "{text}"
    );
}

#[test]
fn verbose_names_what_is_left_alone_capped_and_quiet_prints_the_summary_only() {
    use crate::plan::document::{LeftAlone, WhyLeftAlone};
    let mut d = one(vec![update_user()]);
    d.targets[0].not_touching.unmanaged_users = 52;
    d.targets[0].not_touching.objects = (0..52)
        .map(|i| LeftAlone {
            address: Address::live("aws", ObjectKind::User, &format!("s-{i:02}")),
            name: format!("stranger{i:02}@example.com"),
            why: WhyLeftAlone::Unmanaged,
        })
        .collect();
    let quiet = plain(&d);
    assert!(!quiet.contains("stranger00"), "named with -v only");
    let verbose = render_plan(
        &d,
        &TextOptions {
            verbose: true,
            ..TextOptions::default()
        },
    );
    assert!(verbose.contains(
        "Not touching: 52 unmanaged users.\n  unmanaged  aws:user.live:s-00 (stranger00@example.com)\n"
    ), "{verbose}");
    assert!(verbose.contains("  unmanaged  aws:user.live:s-49 (stranger49@example.com)\n  and 2 more (--format json lists them all)\n"));
    assert!(!verbose.contains("stranger50"));
    let q = render_plan(
        &d,
        &TextOptions {
            quiet: true,
            ..TextOptions::default()
        },
    );
    assert_eq!(
        q,
        "Plan: 0 to add, 1 to change, 0 to destroy (0 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.\n"
    );
}

#[test]
fn no_changes() {
    let mut d = one(vec![]);
    d.targets[0].not_touching.unmanaged_users = 3;
    insta::assert_snapshot!(plain(&d), @r#"
        aws: Not touching: 3 unmanaged users.
        No changes. Live state matches the configuration.
        "#);
    assert!(plain(&d).ends_with("No changes. Live state matches the configuration.\n"));
}

#[test]
fn two_targets_sum_in_the_summary_line() {
    let d = doc(vec![
        target(
            "aws",
            vec![create_user("e1003", "bob@example.com"), deactivate_user()],
        ),
        target("okta", vec![update_user(), membership()]),
    ]);
    let text = render_plan(
        &d,
        &TextOptions {
            color: false,
            targeting: true,
            saved_to: Some("plan.json".into()),
            ..TextOptions::default()
        },
    );
    insta::assert_snapshot!(text, @r#"
        Warning: Targeting is in effect — this plan may not include every change the configuration asks for. Use --resource only for exceptional cases.

        Resource actions are indicated with the following symbols:
          + create
          ~ update in-place
          ⊘ deactivate

        roster will perform the following actions:

        Target aws (https://scim.example.com/aws/scim/v2, aws-identity-center):

          # aws:user.e1003 (bob@example.com) will be created
          # (because it is in the directory but missing from this target)
          + user "bob@example.com" {
              + userName    = "bob@example.com"
              + displayName = "Bob Example"
              + emails      = [{"value":"bob@example.com","type":"work","primary":true}]
              + active      = true
            }

          # aws:user.e1002 (carol@example.com) will be deactivated
          # (because it is no longer in the directory)
          ⊘ user "carol@example.com" {
              ~ active = true -> false
                # (7 unchanged attributes hidden)
            }

        Apply will send 2 requests (0 reads, 2 writes, 0 membership operations); about 0.08 s at the target's rate.

        Target okta (https://scim.example.com/okta/scim/v2, aws-identity-center):

          # aws:user.e1001 (alice@example.com) will be updated in-place
          # (because attributes differ from the directory)
          ~ user "alice@example.com" {
              ~ title = "Engineer" -> "Staff Engineer"
                # (5 unchanged attributes hidden)
            }

          # aws:group.eng (Engineering) members will change
          # (because its live members differ from the directory)
          ~ group "Engineering" {
              + member "alice@example.com" (u-1)
              + member "bob@example.com" (created by this plan)
              - member "dave@example.com" (u-4)
            }

        Apply will send 2 requests (0 reads, 2 writes, 3 membership operations); about 0.08 s at the target's rate.

        Plan: 1 to add, 2 to change, 1 to destroy (1 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.
        Checksum: sha256:09d5a00b0a8441c93e071122921cc27a3ec377580e18180e6bba6b8c69a99d66

        Saved the plan to: plan.json

        To perform exactly these actions, run: roster apply plan.json
        "#);
    assert!(text.contains(
        "\nPlan: 1 to add, 2 to change, 1 to destroy (1 deactivate, 0 delete); 0 unmanaged and 0 ignored not touched.\n"
    ));
}

#[test]
fn colour_on_uses_ansi_codes_and_off_uses_none() {
    let d = one(vec![
        create_user("e1003", "bob@example.com"),
        update_user(),
        deactivate_user(),
    ]);
    let on = render_plan(
        &d,
        &TextOptions {
            color: true,
            ..TextOptions::default()
        },
    );
    assert!(on.contains("\x1b[32m+\x1b[0m"), "green create mark");
    assert!(on.contains("\x1b[33m~\x1b[0m"), "yellow update mark");
    assert!(on.contains("\x1b[31m⊘\x1b[0m"), "red deactivate mark");
    let off = plain(&d);
    assert!(!off.contains('\x1b'));
    // Without the codes the two renderings are the same text.
    let stripped = regex::Regex::new("\x1b\\[[0-9;]*m")
        .expect("regex")
        .replace_all(&on, "");
    assert_eq!(stripped, off);
}

#[test]
fn summary_line_is_exact() {
    let mut d = one(vec![create_user("e1", "a@x")]);
    d.targets[0].summary = Summary {
        add: 3,
        change: 2,
        destroy: 1,
        deactivate: 1,
        delete: 0,
        unmanaged: 14,
        ignored: 2,
        conflicts: 0,
    };
    assert_eq!(
        summary_line(&d),
        "Plan: 3 to add, 2 to change, 1 to destroy (1 deactivate, 0 delete); 14 unmanaged and 2 ignored not touched."
    );
    assert_eq!(conflicts_line(&d), None);
    for c in &mut d.targets[0].changes {
        c.reason = Reason::Conflict;
    }
    let again = d.targets[0].changes[0].clone();
    d.targets[0].changes.push(again);
    assert_eq!(
        conflicts_line(&d).as_deref(),
        Some("2 conflicts: not changed; run roster explain ADDR for each.")
    );
}

#[test]
fn gate_numbers_read_naturally() {
    let g = SafetyGate {
        gate: "max_destroy".into(),
        limit: 25.0,
        observed: 30.0,
        tripped: true,
    };
    assert_eq!(
        gate_line(&g),
        "Safety gate max_destroy tripped: 30 destructive changes, limit 25. Apply is blocked; pass --allow-destroy to override."
    );
    assert_eq!(crate::plan::document::plain_number(12.5), "12.5");
    assert_eq!(crate::plan::document::plain_number(0.333), "0.33");
}
