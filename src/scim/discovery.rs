//! What a target says it can do, asked once per run (docs/contract.md#capability-discovery): its
//! ServiceProviderConfig (PATCH, filtering, ETags, bulk), its ResourceTypes (which schema
//! extensions users and groups carry) and its Schemas (which attributes they declare).
//!
//! Servers that keep less than they are sent mostly say so here, and believing them costs three
//! reads instead of an endless update: an attribute the target does not declare is not mapped, a
//! target without PATCH gets a PUT, one without filtering is matched locally. A server that lacks
//! the discovery endpoints is taken to follow the RFC's defaults. AWS IAM Identity Center's
//! capabilities are documented, so nothing is asked there (its minimum request count holds).

use crate::scim::client::ReadOnlyClient;
use crate::scim::dialect::{Dialect, ResourceKind};
use crate::scim::resource::{GROUP_SCHEMA, USER_SCHEMA};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// Where the capabilities came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The dialect's documentation (AWS): nothing was asked.
    Documented,
    /// The target's own discovery endpoints.
    Server,
    /// The RFC's defaults, assumed because the target did not say (why, for `-v`).
    Defaults(String),
}

/// The attributes one resource type declares, by schema (lowercase URN).
#[derive(Debug, Clone, Default)]
struct Declared {
    core: String,
    /// Lowercase URN -> lowercase attribute names, and `attr.sub` for declared sub-attributes.
    schemas: HashMap<String, HashSet<String>>,
}

/// What a target supports, as it told (or as its dialect documents).
#[derive(Debug, Clone)]
pub struct Discovered {
    pub patch: bool,
    pub filter: bool,
    pub etag: bool,
    pub bulk: bool,
    pub origin: Origin,
    /// What was assumed for a missing part (`-v` says it).
    pub notes: Vec<String>,
    users: Option<Declared>,
    groups: Option<Declared>,
}

/// Attributes every resource has (RFC 7643 §3.1), which no schema lists.
const COMMON: [&str; 4] = ["id", "externalid", "meta", "schemas"];

impl Discovered {
    /// The RFC's defaults: PATCH and filtering supported, every attribute declared.
    pub fn assumed(dialect: Dialect, why: impl Into<String>) -> Discovered {
        let caps = crate::scim::dialect::capabilities(dialect);
        Discovered {
            patch: true,
            filter: true,
            etag: caps.etags,
            bulk: false,
            origin: Origin::Defaults(why.into()),
            notes: Vec::new(),
            users: None,
            groups: None,
        }
    }

    /// What a dialect's documentation says (AWS: PATCH and `eq` filters, no ETags, no bulk).
    pub fn documented(dialect: Dialect) -> Discovered {
        let mut d = Discovered::assumed(dialect, "documented");
        d.origin = Origin::Documented;
        d
    }

    /// Capabilities from the discovery documents a server answered (`None` for one it lacks).
    pub fn from_documents(
        dialect: Dialect,
        spc: Option<&Value>,
        resource_types: Option<&Value>,
        schemas: Option<&Value>,
    ) -> Discovered {
        let mut d = Discovered::assumed(dialect, "");
        d.origin = Origin::Server;
        match spc {
            Some(spc) => {
                let flag = |name: &str, default: bool| {
                    spc.get(name)
                        .and_then(|v| v.get("supported"))
                        .and_then(Value::as_bool)
                        .unwrap_or(default)
                };
                d.patch = flag("patch", true);
                d.filter = flag("filter", true);
                d.etag = flag("etag", d.etag);
                d.bulk = flag("bulk", false);
            }
            None => d
                .notes
                .push("no ServiceProviderConfig: PATCH and filtering assumed supported".into()),
        }
        let Some(schemas) = schemas else {
            d.notes
                .push("no Schemas: every mapped attribute assumed declared".into());
            return d;
        };
        let mut by_urn: HashMap<String, HashSet<String>> = HashMap::new();
        for s in resources(schemas) {
            let Some(id) = s.get("id").and_then(Value::as_str) else {
                continue;
            };
            let mut names = HashSet::new();
            for a in s
                .get("attributes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(name) = a.get("name").and_then(Value::as_str) else {
                    continue;
                };
                let name = name.to_ascii_lowercase();
                for sub in a
                    .get("subAttributes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(sub) = sub.get("name").and_then(Value::as_str) {
                        names.insert(format!("{name}.{}", sub.to_ascii_lowercase()));
                    }
                }
                names.insert(name);
            }
            by_urn.insert(id.to_ascii_lowercase(), names);
        }
        let types: Vec<&Value> = resource_types.map(resources).unwrap_or_default();
        if resource_types.is_none() {
            d.notes.push(
                "no ResourceTypes: the core schemas assumed, with every extension schema listed"
                    .into(),
            );
        }
        let declared = |name: &str, default_core: &str| -> Declared {
            let t = types.iter().find(|t| {
                t.get("name")
                    .or_else(|| t.get("id"))
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            });
            let core = t
                .and_then(|t| t.get("schema"))
                .and_then(Value::as_str)
                .unwrap_or(default_core)
                .to_ascii_lowercase();
            let extensions: Vec<String> = match t {
                Some(t) => t
                    .get("schemaExtensions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.get("schema").and_then(Value::as_str))
                    .map(str::to_ascii_lowercase)
                    .collect(),
                // Without resource types, an extension belongs where its URN ends.
                None => by_urn
                    .keys()
                    .filter(|u| {
                        !u.contains(":core:")
                            && u.ends_with(&format!(":{}", name.to_ascii_lowercase()))
                    })
                    .cloned()
                    .collect(),
            };
            let mut schemas = HashMap::new();
            for urn in std::iter::once(&core).chain(&extensions) {
                if let Some(names) = by_urn.get(urn) {
                    schemas.insert(urn.clone(), names.clone());
                }
            }
            Declared { core, schemas }
        };
        d.users = Some(declared("User", USER_SCHEMA));
        d.groups = Some(declared("Group", GROUP_SCHEMA));
        d
    }

    /// Whether the target declares the attribute `attr` (with `sub`) of `schema` (`None`: the
    /// core schema) for `kind`. True when the target did not say which attributes it has.
    pub fn declares(
        &self,
        kind: ResourceKind,
        schema: Option<&str>,
        attr: &str,
        sub: Option<&str>,
    ) -> bool {
        let declared = match kind {
            ResourceKind::User => &self.users,
            ResourceKind::Group => &self.groups,
        };
        let Some(declared) = declared else {
            return true;
        };
        let attr = attr.to_ascii_lowercase();
        if schema.is_none() && COMMON.contains(&attr.as_str()) {
            return true;
        }
        let urn = schema.map_or_else(|| declared.core.clone(), str::to_ascii_lowercase);
        let Some(names) = declared.schemas.get(&urn) else {
            return false;
        };
        if !names.contains(&attr) {
            return false;
        }
        match sub {
            None => true,
            Some(sub) => {
                let has_subs = names.iter().any(|n| n.starts_with(&format!("{attr}.")));
                !has_subs || names.contains(&format!("{attr}.{}", sub.to_ascii_lowercase()))
            }
        }
    }

    /// A one-line account for `-v`.
    pub fn describe(&self) -> String {
        let from = match &self.origin {
            Origin::Documented => "documented".to_string(),
            Origin::Server => "discovered".to_string(),
            Origin::Defaults(why) => format!("RFC defaults assumed ({why})"),
        };
        let mut line = format!(
            "capabilities {from}: patch {}, filter {}, etag {}, bulk {}",
            self.patch, self.filter, self.etag, self.bulk
        );
        for n in &self.notes {
            line.push_str("; ");
            line.push_str(n);
        }
        line
    }
}

/// The resources of a list response, or the items of a bare array.
fn resources(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        _ => v
            .get("Resources")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
    }
}

/// One discovery document, or `None` (noting why) when the target does not answer it.
async fn fetch(client: &ReadOnlyClient, path: &str, missing: &mut Vec<String>) -> Option<Value> {
    match client.get(path).await {
        Ok(r) => r.body,
        Err(e) => {
            let why = e
                .status()
                .map_or_else(|| "no answer".to_string(), |s| s.to_string());
            missing.push(format!("{path}: {why}"));
            None
        }
    }
}

/// Ask a target what it supports: three reads on a generic target, none on AWS. A discovery
/// endpoint that fails (404, 501, a body that is not JSON) is taken as absent.
/// The requests [`discover`] sends to a target of `dialect` (without retries): none on AWS,
/// whose capabilities are documented, else one GET each of the three discovery endpoints.
pub fn requests(dialect: Dialect) -> u64 {
    if dialect == Dialect::AwsIdentityCenter {
        0
    } else {
        3
    }
}

pub async fn discover(client: &ReadOnlyClient) -> Discovered {
    let dialect = client.dialect();
    if dialect == Dialect::AwsIdentityCenter {
        return Discovered::documented(dialect);
    }
    let mut missing = Vec::new();
    let spc = fetch(client, "/ServiceProviderConfig", &mut missing).await;
    let types = fetch(client, "/ResourceTypes", &mut missing).await;
    let schemas = fetch(client, "/Schemas", &mut missing).await;
    let mut d = Discovered::from_documents(dialect, spc.as_ref(), types.as_ref(), schemas.as_ref());
    if spc.is_none() && types.is_none() && schemas.is_none() {
        d.origin = Origin::Defaults(format!("no discovery endpoints ({})", missing.join(", ")));
        d.notes.clear();
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn schemas() -> Value {
        json!({"Resources": [
            {"id": USER_SCHEMA, "attributes": [
                {"name": "userName"}, {"name": "title"},
                {"name": "name", "subAttributes": [{"name": "givenName"}, {"name": "familyName"}]},
                {"name": "emails", "subAttributes": [{"name": "value"}, {"name": "type"}]}]},
            {"id": GROUP_SCHEMA, "attributes": [{"name": "displayName"}, {"name": "members"}]},
            {"id": ENT, "attributes": [{"name": "department"}]}
        ]})
    }

    #[test]
    fn declared_attributes_follow_resource_types_and_schemas() {
        let types = json!([{"name": "User", "schema": USER_SCHEMA, "schemaExtensions": []},
            {"name": "Group", "schema": GROUP_SCHEMA}]);
        let spc = json!({"patch": {"supported": false}, "filter": {"supported": false}});
        let d = Discovered::from_documents(
            Dialect::Generic,
            Some(&spc),
            Some(&types),
            Some(&schemas()),
        );
        assert!(!d.patch && !d.filter && d.etag);
        let u = ResourceKind::User;
        assert!(d.declares(u, None, "UserName", None));
        assert!(d.declares(u, None, "externalId", None));
        assert!(d.declares(u, None, "name", Some("givenName")));
        assert!(!d.declares(u, None, "name", Some("middleName")));
        assert!(!d.declares(u, None, "nickName", None));
        // The extension schema exists but the User resource type does not carry it.
        assert!(!d.declares(u, Some(ENT), "department", None));
        assert!(d.declares(ResourceKind::Group, None, "members", None));
    }

    #[test]
    fn without_resource_types_extensions_are_placed_by_their_urn_and_without_schemas_all_is_declared(
    ) {
        let d = Discovered::from_documents(Dialect::Generic, None, None, Some(&schemas()));
        assert!(d.patch && d.filter);
        assert!(d.declares(ResourceKind::User, Some(ENT), "department", None));
        assert!(!d.declares(ResourceKind::User, Some(ENT), "manager", None));
        let none = Discovered::from_documents(Dialect::Generic, None, None, None);
        assert!(none.declares(ResourceKind::User, Some(ENT), "anything", None));
        let aws = Discovered::documented(Dialect::AwsIdentityCenter);
        assert!(!aws.etag && aws.patch && aws.origin == Origin::Documented);
    }
}
