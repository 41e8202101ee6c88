//! The configuration as written: the serde + schemars types that one YAML document deserializes
//! into. These are the "raw" shapes (every optional key optional, values spanned so that semantic
//! checks can point at the line they came from). `config::resolve` turns a loaded set of documents
//! into the `Desired` state the rest of roster works on, with presets applied.
//!
//! The JSON Schema in `schema/roster.schema.json` is generated from these same types, so editors
//! and roster agree on what is valid.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::fmt;

/// A value with the position of the YAML node it came from.
pub type S<T> = Spanned<T>;

/// One YAML document of the configuration: the entry file or one of its includes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "roster configuration", rename = "RosterConfig")]
pub struct Document {
    /// Format version of the configuration. Always 1.
    #[schemars(with = "Option<u32>")]
    pub version: Option<S<u32>>,
    /// Glob patterns of further YAML files, relative to this file. A pattern that matches no
    /// file is an error.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub include: Vec<S<String>>,
    /// The directory: people, with free-form fields and one immutable id.
    #[serde(default)]
    #[schemars(with = "Vec<UserSchema>")]
    pub users: Vec<S<RawUser>>,
    /// Groups of directory users.
    #[serde(default)]
    #[schemars(with = "Vec<Group>")]
    pub groups: Vec<S<Group>>,
    /// The directory's fields, declared: when present (in any file), a user field not listed
    /// here is an error, and so is a mapping template that reads one. `id`, `user_name`,
    /// `active` and `manager` are always declared. Without it, a field that no mapping reads
    /// and that is a letter or two away from one that a mapping reads is a warning.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub fields: Option<Vec<S<String>>>,
    /// SCIM service providers that receive the directory, by name.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, Target>")]
    pub targets: IndexMap<String, S<Target>>,
}

/// A field value of a directory user: text, a boolean, a number or a list of texts.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(untagged)]
pub enum FieldValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    List(Vec<String>),
    Null(()),
}

// One visitor over the YAML node's own type rather than `#[serde(untagged)]`, which buffers
// every value and tries each variant in turn, building an error for each miss: on a directory of
// 100,000 users that was most of the time `validate` took.
impl<'de> Deserialize<'de> for FieldValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FieldValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a user field: text, a number, true/false or a list of texts")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(FieldValue::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(FieldValue::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                match i64::try_from(v) {
                    Ok(i) => Ok(FieldValue::Int(i)),
                    // beyond i64: keep the digits rather than lose precision in a float
                    Err(_) => Ok(FieldValue::Text(v.to_string())),
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(FieldValue::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(FieldValue::Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(FieldValue::Text(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(FieldValue::Null(()))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(FieldValue::Null(()))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(V)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(FieldValue::List(items))
            }
        }
        d.deserialize_any(V)
    }
}

impl FieldValue {
    /// The value as templates and comparisons see it; `None` for null.
    pub fn as_text(&self) -> Option<String> {
        match self {
            FieldValue::Bool(b) => Some(b.to_string()),
            FieldValue::Int(i) => Some(i.to_string()),
            FieldValue::Float(f) => Some(f.to_string()),
            FieldValue::Text(s) => Some(s.clone()),
            FieldValue::List(v) => Some(v.join(",")),
            FieldValue::Null(()) => None,
        }
    }
}

/// A directory user exactly as written: every key is a field. The well-known keys (`id`,
/// `user_name`, `active`, `manager`) are checked when the user is resolved, so a wrong type
/// there is reported with the field's own position.
#[derive(Debug)]
pub struct RawUser {
    pub fields: IndexMap<String, RawField, super::FastBuild>,
}

/// One field of a user with the line and column of its value. Kept compact (a `Spanned` holds
/// two full parser locations): a large directory has close to a million fields, all alive
/// until the configuration is resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct RawField {
    pub value: FieldValue,
    pub line: u32,
    pub col: u32,
}

impl<'de> Deserialize<'de> for RawUser {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawUser;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a user: a mapping of field names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = IndexMap::with_capacity_and_hasher(
                    map.size_hint().unwrap_or(8),
                    super::FastBuild::default(),
                );
                while let Some(key) = map.next_key::<String>()? {
                    let v: S<FieldValue> = map.next_value()?;
                    let field = RawField {
                        value: v.value,
                        line: u32::try_from(v.referenced.line()).unwrap_or(u32::MAX),
                        col: u32::try_from(v.referenced.column()).unwrap_or(u32::MAX),
                    };
                    if fields.insert(key, field).is_some() {
                        // the parser refuses duplicate keys before this; keep the rule here too
                        return Err(de::Error::custom("duplicate field in a user"));
                    }
                }
                Ok(RawUser { fields })
            }
        }
        d.deserialize_map(V)
    }
}

/// Schema-only view of a user, so that editors complete the well-known fields.
#[derive(JsonSchema)]
#[allow(dead_code)]
#[schemars(rename = "User")]
pub struct UserSchema {
    /// Required, unique, never reused: the default externalId in every target.
    id: String,
    /// Required, unique ignoring case: the default userName.
    user_name: String,
    given_name: Option<String>,
    family_name: Option<String>,
    display_name: Option<String>,
    email: Option<String>,
    department: Option<String>,
    title: Option<String>,
    /// The id of this user's manager; mapped to the manager's id in each target.
    manager: Option<String>,
    /// Default true; false deactivates the user in every target.
    active: Option<bool>,
    #[schemars(flatten)]
    other: IndexMap<String, FieldValue>,
}

/// A group of directory users.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Immutable id, the group's externalId; defaults to the name.
    #[schemars(with = "Option<String>")]
    pub id: Option<S<String>>,
    /// Unique ignoring case. Renaming keeps the id, so the live group is kept.
    #[schemars(with = "String")]
    pub name: S<String>,
    #[schemars(with = "Option<String>")]
    pub description: Option<S<String>>,
    /// Directory user ids.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub members: Vec<S<String>>,
    /// Nested groups, by name or id. Targets receive them flattened.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub include: Vec<S<String>>,
}

/// The kind of SCIM service provider a target is; each is a preset of defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TargetType {
    /// Any RFC 7643/7644 service provider.
    Generic,
    /// AWS IAM Identity Center's SCIM endpoint.
    AwsIdentityCenter,
    /// roster's own SCIM service provider, run in-process with its state in a file.
    Embedded,
}

impl TargetType {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetType::Generic => "generic",
            TargetType::AwsIdentityCenter => "aws-identity-center",
            TargetType::Embedded => "embedded",
        }
    }
}

/// The protocol rules a server follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Dialect {
    /// RFC 7644 as written.
    Generic,
    /// AWS IAM Identity Center's subset of RFC 7644.
    #[serde(alias = "aws")]
    AwsIdentityCenter,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Generic => "generic",
            Dialect::AwsIdentityCenter => "aws-identity-center",
        }
    }
}

/// One SCIM service provider and the policy roster follows for it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    #[serde(rename = "type")]
    #[schemars(with = "TargetType")]
    pub kind: S<TargetType>,
    /// Base URL of the SCIM API (not for `embedded`).
    #[schemars(with = "Option<String>")]
    pub url: Option<S<String>>,
    /// `embedded` only: the file that holds its state. Default `.roster/embedded.json`.
    #[schemars(with = "Option<String>")]
    pub path: Option<S<String>>,
    /// `embedded` only: which server rules it follows. Default `generic`.
    #[schemars(with = "Option<Dialect>")]
    pub dialect: Option<S<Dialect>>,
    #[schemars(with = "Option<Auth>")]
    pub auth: Option<S<Auth>>,
    /// Who this target receives. Required: no target silently receives everyone.
    #[schemars(with = "Option<Assign>")]
    pub assign: Option<S<Assign>>,
    pub rate: Option<Rate>,
    pub read: Option<ReadLimits>,
    #[serde(rename = "match")]
    pub match_keys: Option<MatchKeys>,
    pub mapping: Option<Mappings>,
    pub policy: Option<Policy>,
}

/// How roster authenticates. Secrets come from the environment or a file, never from YAML.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// Name of the environment variable that holds the bearer token.
    pub bearer_token_env: Option<String>,
    /// Path of a file that holds the bearer token, relative to the configuration file.
    pub bearer_token_file: Option<String>,
    pub basic: Option<BasicAuth>,
    pub header: Option<HeaderAuth>,
    /// Refused: tokens must not be written in the configuration.
    #[schemars(skip)]
    #[schemars(with = "Option<String>")]
    pub bearer_token: Option<S<String>>,
    /// Refused: tokens must not be written in the configuration.
    #[schemars(skip)]
    #[schemars(with = "Option<String>")]
    pub token: Option<S<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    /// Name of the environment variable that holds the password.
    pub password_env: Option<String>,
    /// Refused: passwords must not be written in the configuration.
    #[schemars(skip)]
    #[schemars(with = "Option<String>")]
    pub password: Option<S<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeaderAuth {
    /// The header's name, e.g. `X-Api-Key`.
    pub name: String,
    /// Name of the environment variable that holds the header's value.
    pub value_env: Option<String>,
    /// Refused: secrets must not be written in the configuration.
    #[schemars(skip)]
    #[schemars(with = "Option<String>")]
    pub value: Option<S<String>>,
}

/// Who a target receives: groups (with their nested groups and flattened members), users, or
/// everyone.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Assign {
    /// Group names or ids.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub groups: Vec<S<String>>,
    /// User ids.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub users: Vec<S<String>>,
    /// Send every user and group.
    #[serde(default)]
    pub all: bool,
}

/// Request budgets per second. The AWS preset: 40 reads, 25 writes, 25 membership operations.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    #[schemars(with = "Option<f64>")]
    pub reads_per_second: Option<S<f64>>,
    #[schemars(with = "Option<f64>")]
    pub writes_per_second: Option<S<f64>>,
    #[schemars(with = "Option<f64>")]
    pub member_operations_per_second: Option<S<f64>>,
    /// Seconds one request may keep being answered 429 (Too Many Requests) before it fails.
    /// Throttling is not failure: until then it is retried, whatever the number of attempts.
    /// Default 300.
    #[schemars(with = "Option<f64>")]
    pub throttle_budget_seconds: Option<S<f64>>,
}

/// Bounds on what one read of the target may hold, so that a server that never stops (a fresh
/// cursor on every page) or answers with a giant page fails the read instead of exhausting
/// memory or time. The defaults sit far above any real directory.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadLimits {
    /// The largest answer roster reads, in MiB. Default 32.
    #[schemars(with = "Option<u64>")]
    pub max_response_mib: Option<S<u64>>,
    /// The most pages one list (of users, of groups) may take. Default 20000.
    #[schemars(with = "Option<u64>")]
    pub max_pages: Option<S<u64>>,
    /// The most objects one list may hold. Default 2000000.
    #[schemars(with = "Option<u64>")]
    pub max_objects: Option<S<u64>>,
}

/// Matching precedence: the first key both objects have decides.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchKeys {
    #[schemars(with = "Option<Vec<UserMatchKey>>")]
    pub users: Option<S<Vec<S<UserMatchKey>>>>,
    #[schemars(with = "Option<Vec<GroupMatchKey>>")]
    pub groups: Option<S<Vec<S<GroupMatchKey>>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
pub enum UserMatchKey {
    #[serde(rename = "externalId")]
    ExternalId,
    #[serde(rename = "userName")]
    UserName,
    /// The primary email.
    #[serde(rename = "email", alias = "emails")]
    Email,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
pub enum GroupMatchKey {
    #[serde(rename = "externalId")]
    ExternalId,
    #[serde(rename = "displayName")]
    DisplayName,
}

/// Attribute mappings: SCIM attribute path <- template, constant, or user reference.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mappings {
    #[serde(default)]
    #[schemars(with = "IndexMap<String, MappingEntry>")]
    pub user: IndexMap<String, S<MappingEntry>>,
    #[serde(default)]
    #[schemars(with = "IndexMap<String, MappingEntry>")]
    pub group: IndexMap<String, S<MappingEntry>>,
}

/// When a mapped attribute is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum When {
    /// On create and on every update (the default).
    #[default]
    Always,
    /// Only when the object is created; never updated afterwards.
    Create,
}

/// How one SCIM attribute gets its value.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(untagged)]
pub enum MappingEntry {
    /// A MiniJinja template over the user's (or group's) fields. Rendering empty means absent.
    Template(String),
    /// The long form.
    Spec(MappingSpec),
}

/// The long form of a mapping: exactly one of `template`, `value`, `user_ref`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingSpec {
    /// A MiniJinja template.
    pub template: Option<String>,
    /// A constant.
    #[schemars(with = "Option<serde_json::Value>")]
    pub value: Option<serde_json::Value>,
    /// A template that renders a directory user id, written as that user's id in the target.
    pub user_ref: Option<String>,
    /// `create`: written on create only.
    #[serde(default)]
    pub on: When,
}

impl<'de> Deserialize<'de> for MappingEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MappingEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a template string or a map with one of template, value, user_ref")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MappingEntry::Template(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(MappingEntry::Template(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(MappingEntry::Spec(MappingSpec {
                    value: Some(serde_json::Value::Bool(v)),
                    ..MappingSpec::default()
                }))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(MappingEntry::Spec(MappingSpec {
                    value: Some(serde_json::Value::from(v)),
                    ..MappingSpec::default()
                }))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(MappingEntry::Spec(MappingSpec {
                    value: Some(serde_json::Value::from(v)),
                    ..MappingSpec::default()
                }))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                MappingSpec::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(MappingEntry::Spec)
            }
        }
        d.deserialize_any(V)
    }
}

/// What roster may do in a target.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Create assigned users missing in the target. Default true.
    pub create: Option<bool>,
    /// Bring mapped attributes back to the desired values. Default true.
    pub update: Option<bool>,
    /// Unassigned or inactive users get active=false. Default true.
    pub deactivate: Option<bool>,
    /// A user inactive in the target but active in the directory is made active again. Default
    /// true; false leaves such a user inactive (counted as not reactivated in the plan).
    pub reactivate: Option<bool>,
    /// Owned users removed from the directory are deleted (else deactivated). Default false.
    pub delete: Option<bool>,
    pub groups: Option<GroupPolicy>,
    pub owns: Option<Owns>,
    /// What happens to live objects roster neither matches nor owns. Default `ignore`.
    pub unmanaged: Option<Unmanaged>,
    pub ignore: Option<Patterns>,
    pub protect: Option<Patterns>,
    pub release: Option<Patterns>,
    pub limits: Option<Limits>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupPolicy {
    pub create: Option<bool>,
    pub update: Option<bool>,
    pub delete: Option<bool>,
    pub members: Option<MembersMode>,
}

/// How roster treats the members of the groups it owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum MembersMode {
    /// Live members are made equal to the desired ones (protected and ignored users stay).
    #[default]
    Authoritative,
    /// Only adds members.
    Additive,
    /// Neither reads nor writes membership.
    Off,
}

/// Live objects whose externalId matches are roster's, even once removed from the YAML.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Owns {
    /// A regular expression over the externalId of users and groups.
    #[schemars(with = "Option<String>")]
    pub external_id: Option<S<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Unmanaged {
    /// Count them as "not touching"; never change them.
    #[default]
    Ignore,
    Deactivate,
    Delete,
}

impl Unmanaged {
    pub fn as_str(self) -> &'static str {
        match self {
            Unmanaged::Ignore => "ignore",
            Unmanaged::Deactivate => "deactivate",
            Unmanaged::Delete => "delete",
        }
    }
}

/// Lists of users and groups. For `ignore`: glob patterns over userName / displayName. For
/// `protect` and `release`: directory ids, user names or group names.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Patterns {
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub users: Vec<S<String>>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub groups: Vec<S<String>>,
}

/// The safety gate over user deactivations, user deletes and group deletes.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// At most this many destructive changes per plan.
    pub max_destroy: Option<u64>,
    /// At most this percentage of the owned live objects.
    #[schemars(with = "Option<f64>")]
    pub max_destroy_percent: Option<S<f64>>,
}
