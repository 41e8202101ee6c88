//! Observed state: the live users and groups of one target, as the planner sees them.
//!
//! The planner compares attributes by path on each resource's full SCIM JSON, so a live object
//! keeps its whole resource rather than a typed view: as compact JSON text, parsed again where an
//! attribute is compared (once per object in a plan), with the keys matching reads for every
//! object (ids, names, email, `active`, `meta.version`) held apart. Group membership is held apart from the
//! resource because it is read separately (AWS answers `members: []`), and `None` says it was
//! not read at all, which the planner refuses to diff against.
//!
//! The same JSON file format (`{"users": [...], "groups": [...]}` of SCIM resources, groups with
//! `"members": [{"value": ID}]`) serves planner fixtures and the emulator's `--seed`.

use serde_json::{Map, Value};

/// A live user. Its resource is held as compact JSON text, parsed again when a plan compares its
/// attributes; what matching reads for every user (ids, userName, email, `active`) is held apart.
/// 100,000 users as trees of `serde_json` maps took four times the memory of their text.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveUser {
    /// The SCIM id.
    pub id: String,
    /// `meta.version`, when the server has ETags.
    pub version: Option<String>,
    text: Box<str>,
    user_name: Box<str>,
    external_id: Option<Box<str>>,
    primary_email: Option<Box<str>>,
    active: bool,
}

/// A live group.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveGroup {
    pub id: String,
    pub version: Option<String>,
    /// Ids of the member users; `None` when membership was not read.
    pub members: Option<Vec<String>>,
    /// The resource as compact JSON text (its `members`, if any, are in `members` above).
    text: Box<str>,
    display_name: Box<str>,
    external_id: Option<Box<str>>,
}

/// Everything read from one target.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    pub users: Vec<LiveUser>,
    pub groups: Vec<LiveGroup>,
}

/// A live-state file that cannot be read as one.
#[derive(Debug, thiserror::Error)]
pub enum ObservedError {
    #[error("live state is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("live state: {0}")]
    Shape(String),
}

impl LiveUser {
    /// A user from its SCIM resource; the resource must carry a string `id`.
    pub fn from_resource(resource: Value) -> Result<LiveUser, ObservedError> {
        let id = resource_id(&resource, "user")?;
        let version = meta_version(&resource);
        let active = !matches!(get_ci(&resource, "active"), Some(Value::Bool(false)));
        let user_name = get_ci(&resource, "userName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .into();
        let external_id = non_empty(get_ci(&resource, "externalId")).map(Box::from);
        let primary_email = primary_email(&resource).map(Box::from);
        Ok(LiveUser {
            id,
            version,
            text: text_of(&resource)?,
            user_name,
            external_id,
            primary_email,
            active,
        })
    }

    /// The full SCIM resource as the server returned it (less what `observe` slims away).
    pub fn resource(&self) -> Value {
        parse_own(&self.text)
    }

    /// `active`, where absence means active (RFC 7643 leaves the default to the server, and
    /// every server roster targets treats a user without it as enabled).
    pub fn active(&self) -> bool {
        self.active
    }

    pub fn user_name(&self) -> &str {
        &self.user_name
    }

    pub fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }

    /// The primary email (or the only/first one when none is marked primary).
    pub fn primary_email(&self) -> Option<&str> {
        self.primary_email.as_deref()
    }
}

fn primary_email(resource: &Value) -> Option<&str> {
    let emails = get_ci(resource, "emails")?.as_array()?;
    let primary = emails.iter().find(|e| {
        e.as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("primary")))
            .is_some_and(|(_, v)| v == &Value::Bool(true))
    });
    let e = primary.or_else(|| emails.first())?;
    non_empty(get_ci(e, "value"))
}

impl LiveGroup {
    /// A group from its SCIM resource; `members` (a list of `{"value": id}`) is taken out of
    /// the resource into [`LiveGroup::members`]. A resource without `members` has none.
    pub fn from_resource(mut resource: Value) -> Result<LiveGroup, ObservedError> {
        let id = resource_id(&resource, "group")?;
        let version = meta_version(&resource);
        let mut members = Vec::new();
        if let Some(obj) = resource.as_object_mut() {
            let key = obj
                .keys()
                .find(|k| k.eq_ignore_ascii_case("members"))
                .cloned();
            if let Some(list) = key.and_then(|k| obj.remove(&k)) {
                match list {
                    Value::Null => {}
                    Value::Array(items) => {
                        for m in items {
                            match non_empty(get_ci(&m, "value")) {
                                Some(v) => members.push(v.to_string()),
                                None => {
                                    return Err(ObservedError::Shape(format!(
                                        "group {id:?} has a member without a string `value`"
                                    )))
                                }
                            }
                        }
                    }
                    _ => {
                        return Err(ObservedError::Shape(format!(
                            "group {id:?}: `members` must be a list"
                        )))
                    }
                }
            }
        }
        let display_name = get_ci(&resource, "displayName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .into();
        let external_id = non_empty(get_ci(&resource, "externalId")).map(Box::from);
        Ok(LiveGroup {
            id,
            version,
            members: Some(members),
            text: text_of(&resource)?,
            display_name,
            external_id,
        })
    }

    /// The full SCIM resource, without `members`.
    pub fn resource(&self) -> Value {
        parse_own(&self.text)
    }

    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    pub fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }
}

fn text_of(resource: &Value) -> Result<Box<str>, ObservedError> {
    Ok(serde_json::to_string(resource)?.into_boxed_str())
}

/// Text this module wrote from a `Value` reads back as that value (floats round-trip exactly:
/// serde_json's `float_roundtrip` is on). Should it ever not parse, the resource reads as
/// `null`, which matches no attribute a plan compares, rather than as a made-up object.
fn parse_own(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

impl Observed {
    /// Read the live-state file format.
    pub fn from_json(text: &str) -> Result<Observed, ObservedError> {
        Observed::from_value(serde_json::from_str(text)?)
    }

    pub fn from_value(v: Value) -> Result<Observed, ObservedError> {
        let Value::Object(mut top) = v else {
            return Err(ObservedError::Shape(
                "expected an object with `users` and `groups`".into(),
            ));
        };
        let list = |top: &mut Map<String, Value>, key: &str| -> Result<Vec<Value>, ObservedError> {
            match top.remove(key) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(a)) => Ok(a),
                Some(_) => Err(ObservedError::Shape(format!("`{key}` must be a list"))),
            }
        };
        let users = list(&mut top, "users")?
            .into_iter()
            .map(LiveUser::from_resource)
            .collect::<Result<Vec<_>, _>>()?;
        let groups = list(&mut top, "groups")?
            .into_iter()
            .map(LiveGroup::from_resource)
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(k) = top.keys().next() {
            return Err(ObservedError::Shape(format!(
                "unknown key `{k}` (expected `users` and `groups`)"
            )));
        }
        Ok(Observed { users, groups })
    }

    /// The file format again, groups with their members: what `from_json` reads.
    pub fn to_value(&self) -> Value {
        let groups = self
            .groups
            .iter()
            .map(|g| {
                let mut r = g.resource();
                if let (Some(o), Some(members)) = (r.as_object_mut(), &g.members) {
                    o.insert(
                        "members".into(),
                        Value::Array(
                            members
                                .iter()
                                .map(|m| serde_json::json!({ "value": m }))
                                .collect(),
                        ),
                    );
                }
                r
            })
            .collect();
        serde_json::json!({
            "users": self.users.iter().map(LiveUser::resource).collect::<Vec<_>>(),
            "groups": Value::Array(groups),
        })
    }
}

fn resource_id(resource: &Value, kind: &str) -> Result<String, ObservedError> {
    match resource.get("id") {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(ObservedError::Shape(format!(
            "a {kind} without a string `id`: {}",
            truncate(&resource.to_string(), 120)
        ))),
    }
}

fn truncate(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

fn meta_version(resource: &Value) -> Option<String> {
    get_ci(get_ci(resource, "meta")?, "version")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A top-level attribute, its name compared ignoring case (RFC 7643 §2.1).
pub(crate) fn get_ci<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let o = v.as_object()?;
    o.get(key).or_else(|| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn non_empty(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_seed_format() {
        let o = Observed::from_json(
            r#"{"users":[{"id":"u1","userName":"A","active":false,"meta":{"version":"W/\"2\""},
                "emails":[{"value":"x@e"},{"value":"p@e","primary":true}]}],
                "groups":[{"id":"g1","displayName":"G","members":[{"value":"u1"}]},
                          {"id":"g2","displayName":"H"}]}"#,
        )
        .expect("reads");
        assert_eq!(o.users[0].version.as_deref(), Some("W/\"2\""));
        assert!(!o.users[0].active());
        assert_eq!(o.users[0].primary_email(), Some("p@e"));
        assert_eq!(
            o.groups[0].members.as_deref(),
            Some(&["u1".to_string()][..])
        );
        assert!(o.groups[0].resource().get("members").is_none());
        assert_eq!(o.groups[1].members.as_deref(), Some(&[][..]));
        let back = Observed::from_value(o.to_value()).expect("round trip");
        assert_eq!(back, o);
    }

    #[test]
    fn refuses_objects_without_ids_and_unknown_keys() {
        assert!(Observed::from_value(json!({"users":[{"userName":"a"}]})).is_err());
        assert!(Observed::from_value(json!({"people":[]})).is_err());
        assert!(Observed::from_value(json!({"groups":[{"id":"g","members":[{"x":1}]}]})).is_err());
    }

    #[test]
    fn absent_active_means_active() {
        let u = LiveUser::from_resource(json!({"id":"u","userName":"a"})).expect("user");
        assert!(u.active());
        assert_eq!(u.external_id(), None);
    }
}
