//! Presets: what each target `type` supplies by default. A target's own entries override the
//! preset's one by one, so a minimal target needs only `type`, `url`, `auth` and `assign`.
//!
//! Every value here is part of the user contract (docs/configuration.md#presets): the default mapping
//! of the well-known directory fields, match precedence, request rates, safety limits and the
//! objects AWS creates itself and roster must never touch.

use super::model::{Dialect, GroupMatchKey, TargetType, UserMatchKey};

/// One default mapping: SCIM attribute path, template, and the directory field that must be
/// present on at least one user for the mapping to be included (`None`: always included).
#[derive(Debug, Clone, Copy)]
pub struct PresetMapping {
    pub path: &'static str,
    pub template: &'static str,
    pub requires_field: Option<&'static str>,
    /// A `user_ref` (the template renders a directory user id) rather than a plain template.
    pub user_ref: bool,
}

const fn m(path: &'static str, template: &'static str) -> PresetMapping {
    PresetMapping {
        path,
        template,
        requires_field: None,
        user_ref: false,
    }
}

const fn opt(path: &'static str, template: &'static str, field: &'static str) -> PresetMapping {
    PresetMapping {
        path,
        template,
        requires_field: Some(field),
        user_ref: false,
    }
}

pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The default user mapping of every preset.
pub const USER_MAPPING: &[PresetMapping] = &[
    m("userName", "{{ user_name }}"),
    m("externalId", "{{ id }}"),
    m(
        "displayName",
        "{{ display_name | default(given_name ~ \" \" ~ family_name) }}",
    ),
    opt("name.givenName", "{{ given_name }}", "given_name"),
    opt("name.familyName", "{{ family_name }}", "family_name"),
    opt("emails[primary eq true].value", "{{ email }}", "email"),
    opt("title", "{{ title }}", "title"),
    opt(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        "{{ department }}",
        "department",
    ),
    PresetMapping {
        path: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        template: "{{ manager }}",
        requires_field: Some("manager"),
        user_ref: true,
    },
];

/// The default group mapping of every preset.
pub const GROUP_MAPPING: &[PresetMapping] =
    &[m("displayName", "{{ name }}"), m("externalId", "{{ id }}")];

/// Defaults that differ between target types.
#[derive(Debug, Clone)]
pub struct Preset {
    pub dialect: Dialect,
    pub match_users: &'static [UserMatchKey],
    pub match_groups: &'static [GroupMatchKey],
    pub reads_per_second: Option<f64>,
    pub writes_per_second: Option<f64>,
    pub member_operations_per_second: Option<f64>,
    pub max_destroy: u64,
    pub max_destroy_percent: f64,
    /// Glob patterns over userName that are ignored.
    pub ignore_users: &'static [&'static str],
    /// Glob patterns over displayName that are ignored.
    pub ignore_groups: &'static [&'static str],
    /// Attributes an assigned user must render non-empty.
    pub required_user_attributes: &'static [&'static str],
    /// Names the target refuses for users and groups.
    pub reserved_names: &'static [&'static str],
}

const USER_KEYS: &[UserMatchKey] = &[UserMatchKey::ExternalId, UserMatchKey::UserName];
const GROUP_KEYS: &[GroupMatchKey] = &[GroupMatchKey::ExternalId, GroupMatchKey::DisplayName];

/// The groups AWS IAM Identity Center creates itself.
pub const AWS_IGNORED_GROUPS: &[&str] = &[
    "AWSControlTower*",
    "AWSSecurityAuditors",
    "AWSLogArchive*",
    "AWSAccountFactory",
    "AWSServiceCatalog*",
];

impl Preset {
    /// The preset of a target type; `embedded` follows the dialect it emulates.
    pub fn for_target(kind: TargetType, dialect: Dialect) -> Preset {
        let generic = Preset {
            dialect: Dialect::Generic,
            match_users: USER_KEYS,
            match_groups: GROUP_KEYS,
            reads_per_second: None,
            writes_per_second: None,
            member_operations_per_second: None,
            max_destroy: 25,
            max_destroy_percent: 10.0,
            ignore_users: &[],
            ignore_groups: &[],
            required_user_attributes: &["userName"],
            reserved_names: &[],
        };
        let aws_rules = |p: Preset| Preset {
            dialect: Dialect::AwsIdentityCenter,
            required_user_attributes: &[
                "userName",
                "displayName",
                "name.givenName",
                "name.familyName",
            ],
            reserved_names: &["Administrator", "AWSAdministrators"],
            ignore_groups: AWS_IGNORED_GROUPS,
            ..p
        };
        match (kind, dialect) {
            (TargetType::AwsIdentityCenter, _) => Preset {
                reads_per_second: Some(40.0),
                writes_per_second: Some(25.0),
                member_operations_per_second: Some(25.0),
                ..aws_rules(generic)
            },
            // The embedded provider runs on loopback: AWS's protocol rules, but no rate limit.
            (TargetType::Embedded, Dialect::AwsIdentityCenter) => aws_rules(generic),
            _ => generic,
        }
    }
}
