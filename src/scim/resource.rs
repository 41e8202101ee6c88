//! SCIM 2.0 resources and protocol messages (RFC 7643, RFC 7644) as they travel on the wire.
//!
//! The typed structs are views for code that wants fields by name; every one keeps the
//! attributes it does not name in `extra`, so a resource read from a server round-trips without
//! losing anything. The planner compares attributes by path on the JSON form
//! (`serde_json::Value`), which is why every type converts to and from it.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// `meta` of a resource.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The ETag, e.g. `W/"3"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// `name` of a user.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Name {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honorific_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honorific_suffix: Option<String>,
}

/// One value of a multi-valued attribute (emails, phoneNumbers, roles, ...).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MultiValue {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A reference to a user or group (group `members`, user `groups`, enterprise `manager`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reference {
    pub value: String,
    #[serde(default, rename = "$ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// The enterprise user extension.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnterpriseUser {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_center: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<Reference>,
}

/// A SCIM User.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default)]
    pub schemas: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default)]
    pub user_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub emails: Vec<MultiValue>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub groups: Vec<Reference>,
    #[serde(
        default,
        rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        skip_serializing_if = "Option::is_none"
    )]
    pub enterprise: Option<EnterpriseUser>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Every other attribute (nickName, phoneNumbers, addresses, extensions, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A SCIM Group.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    #[serde(default)]
    pub schemas: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default)]
    pub display_name: String,
    /// AWS answers `[]` here even for groups with members; read membership by filter instead.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub members: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// A page of a list (RFC 7644 §3.4.2), index-paged or cursor-paged (AWS: `nextCursor`, no
/// `totalResults`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "T: Deserialize<'de>"))]
pub struct ListResponse<T> {
    #[serde(default)]
    pub schemas: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_results: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_index: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_per_page: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    #[serde(
        rename = "Resources",
        default = "Vec::new",
        deserialize_with = "null_as_empty"
    )]
    pub resources: Vec<T>,
}

/// One PATCH operation (RFC 7644 §3.5.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchOp {
    /// `add`, `remove` or `replace` (servers accept any case; roster sends lower case).
    pub op: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

impl PatchOp {
    pub fn add(path: impl Into<String>, value: Value) -> Self {
        PatchOp {
            op: "add".into(),
            path: Some(path.into()),
            value: Some(value),
        }
    }
    pub fn replace(path: impl Into<String>, value: Value) -> Self {
        PatchOp {
            op: "replace".into(),
            path: Some(path.into()),
            value: Some(value),
        }
    }
    pub fn remove(path: impl Into<String>) -> Self {
        PatchOp {
            op: "remove".into(),
            path: Some(path.into()),
            value: None,
        }
    }
}

/// A PATCH request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchRequest {
    pub schemas: Vec<String>,
    #[serde(rename = "Operations")]
    pub operations: Vec<PatchOp>,
}

impl PatchRequest {
    pub fn new(operations: Vec<PatchOp>) -> Self {
        PatchRequest {
            schemas: vec![PATCH_OP_SCHEMA.to_string()],
            operations,
        }
    }
}

/// A SCIM error body (RFC 7644 §3.12). AWS sends `status` as a string and adds
/// `exceptionRequestId`; both forms are read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ScimError {
    #[serde(default)]
    pub schemas: Vec<String>,
    #[serde(default, deserialize_with = "status_any")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<&str>, detail: impl Into<String>) -> Self {
        ScimError {
            schemas: vec![ERROR_SCHEMA.to_string()],
            status: Some(status),
            scim_type: scim_type.map(str::to_string),
            detail: Some(detail.into()),
            extra: Map::new(),
        }
    }
}

fn status_any<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_u64().and_then(|v| u16::try_from(v).ok()),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/aws-samples");

    fn sample(name: &str) -> String {
        fs_err::read_to_string(format!("{SAMPLES}/{name}")).expect("sample exists")
    }

    #[test]
    fn reads_aws_user_and_round_trips() {
        let text = sample("CreateUserResponse_Active.json");
        let u: User = serde_json::from_str(&text).expect("user");
        assert_eq!(u.user_name, "bjensen");
        assert_eq!(u.emails[0].primary, Some(true));
        let e = u.enterprise.as_ref().expect("enterprise");
        assert_eq!(e.department.as_deref(), Some("Tour Operations"));
        assert!(u.extra.contains_key("addresses"));
        let back: Value = serde_json::to_value(&u).expect("json");
        let orig: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(back, orig);
    }

    #[test]
    fn reads_aws_cursor_page_and_error() {
        let page: ListResponse<Group> =
            serde_json::from_str(&sample("ListGroupsResponse_CursorPage1.json")).expect("page");
        assert_eq!(page.total_results, None);
        assert_eq!(page.next_cursor.as_deref(), Some("Q3Vyc29yUGFnZTI="));
        assert_eq!(page.resources.len(), 2);
        let err: ScimError =
            serde_json::from_str(&sample("CreateUserResponse_Conflict.json")).expect("error");
        assert_eq!(err.status, Some(409));
        assert_eq!(
            err.detail.as_deref(),
            Some("Refused to create a new, duplicate resource.")
        );
    }
}
