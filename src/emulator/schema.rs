//! What the emulator knows of RFC 7643's schemas: the `/Schemas`, `/ResourceTypes` and
//! `/ServiceProviderConfig` documents it serves, and the attribute facts (canonical name,
//! multi-valued, mutability, returned) that the PATCH engine and the `attributes` parameter need.
//!
//! `schemas.json` is the schema representation of RFC 7643 §8.7.1 (core User, Group and the
//! enterprise extension).

use crate::scim::resource::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use serde_json::{json, Value};
use std::sync::OnceLock;

/// A resource type the emulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    pub fn core_schema(self) -> &'static str {
        match self {
            Kind::User => USER_SCHEMA,
            Kind::Group => GROUP_SCHEMA,
        }
    }
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Kind::User => &[ENTERPRISE_USER_SCHEMA],
            Kind::Group => &[],
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }
    pub fn endpoint(self) -> &'static str {
        match self {
            Kind::User => "Users",
            Kind::Group => "Groups",
        }
    }
}

/// One attribute definition.
#[derive(Debug, Clone)]
pub struct AttrDef {
    pub name: String,
    pub multi: bool,
    pub complex: bool,
    pub read_only: bool,
    pub returned_never: bool,
    pub subs: Vec<AttrDef>,
}

impl AttrDef {
    fn from_json(v: &Value) -> AttrDef {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default();
        AttrDef {
            name: s("name").to_string(),
            multi: v
                .get("multiValued")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            complex: s("type") == "complex",
            read_only: s("mutability") == "readOnly",
            returned_never: s("returned") == "never",
            subs: v
                .get("subAttributes")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(AttrDef::from_json).collect())
                .unwrap_or_default(),
        }
    }

    pub fn sub(&self, name: &str) -> Option<&AttrDef> {
        self.subs.iter().find(|s| s.name.eq_ignore_ascii_case(name))
    }
}

struct Catalog {
    schemas: Vec<Value>,
    /// (schema URN, its attributes)
    defs: Vec<(String, Vec<AttrDef>)>,
}

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        // The file is part of the binary and checked by a unit test, so failing to parse it is
        // a build defect; fall back to no schemas rather than panic in a server.
        let schemas: Vec<Value> =
            serde_json::from_str(include_str!("schemas.json")).unwrap_or_default();
        let defs = schemas
            .iter()
            .map(|s| {
                let id = s.get("id").and_then(Value::as_str).unwrap_or_default();
                let attrs = s
                    .get("attributes")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().map(AttrDef::from_json).collect())
                    .unwrap_or_default();
                (id.to_string(), attrs)
            })
            .collect();
        Catalog { schemas, defs }
    })
}

/// The attribute `name` of schema `urn`, case-insensitively.
pub fn attr_def(urn: &str, name: &str) -> Option<&'static AttrDef> {
    catalog()
        .defs
        .iter()
        .find(|(id, _)| id.eq_ignore_ascii_case(urn))
        .and_then(|(_, attrs)| attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name)))
}

/// The canonical spelling of a schema URN the emulator knows.
pub fn known_schema(urn: &str) -> Option<&'static str> {
    [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA]
        .into_iter()
        .find(|u| u.eq_ignore_ascii_case(urn))
}

/// Attributes common to every resource (RFC 7643 §3.1), with their canonical names.
pub fn common_attr(name: &str) -> Option<&'static str> {
    ["id", "externalId", "meta", "schemas"]
        .into_iter()
        .find(|c| c.eq_ignore_ascii_case(name))
}

/// `GET /Schemas` content.
pub fn schemas(base: &str) -> Vec<Value> {
    catalog()
        .schemas
        .iter()
        .map(|s| {
            let mut s = s.clone();
            let id = s
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if let Some(o) = s.as_object_mut() {
                o.insert(
                    "meta".into(),
                    json!({"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")}),
                );
            }
            s
        })
        .collect()
}

/// `GET /ResourceTypes` content.
pub fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": [crate::scim::resource::RESOURCE_TYPE_SCHEMA],
            "id": "User", "name": "User", "endpoint": "/Users", "description": "User Account",
            "schema": USER_SCHEMA,
            "schemaExtensions": [{"schema": ENTERPRISE_USER_SCHEMA, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")}
        }),
        json!({
            "schemas": [crate::scim::resource::RESOURCE_TYPE_SCHEMA],
            "id": "Group", "name": "Group", "endpoint": "/Groups", "description": "Group",
            "schema": GROUP_SCHEMA,
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")}
        }),
    ]
}

/// `GET /ServiceProviderConfig`. Sorting, bulk and password changes are not offered.
pub fn service_provider_config(base: &str, aws: bool) -> Value {
    // AWS still advertises maxResults 50 although cursor pages hold up to 100 (captured
    // response in aws-scim-samples/ServiceProviderConfig.json); say what AWS says.
    let (etag, max_results, doc) = if aws {
        (
            false,
            50,
            "https://docs.aws.amazon.com/singlesignon/latest/developerguide/what-is-scim.html",
        )
    } else {
        (true, 1000, "https://www.rfc-editor.org/rfc/rfc7644")
    };
    json!({
        "schemas": [crate::scim::resource::SERVICE_PROVIDER_CONFIG_SCHEMA],
        "documentationUri": doc,
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": etag},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication scheme using the OAuth Bearer Token Standard",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_load_with_rfc_attributes() {
        assert_eq!(schemas("").len(), 3);
        let emails = attr_def(USER_SCHEMA, "EMAILS").expect("emails");
        assert!(emails.multi && emails.complex);
        assert_eq!(emails.sub("VALUE").map(|s| s.name.as_str()), Some("value"));
        assert!(attr_def(USER_SCHEMA, "password").is_some_and(|p| p.returned_never));
        assert!(attr_def(USER_SCHEMA, "groups").is_some_and(|p| p.read_only));
        assert!(attr_def(ENTERPRISE_USER_SCHEMA, "manager").is_some());
        assert!(attr_def(GROUP_SCHEMA, "members").is_some_and(|m| m.multi));
    }
}
