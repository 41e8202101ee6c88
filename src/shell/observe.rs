//! Reading live state: the imperative shell around the pure planner. It connects to a target
//! (starting the in-process provider for `embedded` targets), lists users and groups through the
//! read-only client, and reads the members of the groups roster may own, into the
//! [`Observed`] snapshot the planner consumes.
//!
//! Everything here reads; the client it builds for `plan`, `import` and `drift` cannot send
//! anything but GET. A list that cannot be proven complete is an error, never a partial snapshot.

use super::target::CompiledTarget;
use crate::config::{Desired, Endpoint, Target};
use crate::emulator::{start_embedded, Embedded, EmulatorError};
use crate::plan::{LiveGroup, LiveUser, Observed};
use crate::scim::auth::AuthError;
use crate::scim::client::ClientOptions;
use crate::scim::membership::{read_memberships, Strategy};
use crate::scim::{Credentials, ReadOnlyClient, RequestCounts, ScimClient, ScimClientError};
use crate::shell::scim_settings;
use secrecy::ExposeSecret;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Connection settings from the command line.
#[derive(Debug, Clone, Default)]
pub struct ConnectSettings {
    /// Requests in flight per target.
    pub parallelism: usize,
    pub ca_cert: Option<PathBuf>,
    pub insecure_http: bool,
}

/// Why live state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error("target {target:?}: {source}")]
    Auth {
        target: String,
        #[source]
        source: AuthError,
    },
    #[error("target {target:?}: cannot start the embedded SCIM provider: {source}")]
    Embedded {
        target: String,
        #[source]
        source: EmulatorError,
    },
    #[error("target {target:?}: {source}")]
    Scim {
        target: String,
        #[source]
        source: Box<ScimClientError>,
    },
    #[error("target {target:?}: {message}")]
    Other { target: String, message: String },
}

/// A live connection to one target. For `embedded` targets it owns the in-process provider,
/// which must be shut down (its state written) with [`Connection::close`].
pub struct Connection {
    pub target: String,
    pub client: ScimClient,
    /// The URL shown to humans and written into plans (`embedded:PATH` for embedded targets).
    pub display_url: String,
    embedded: Option<Embedded>,
}

impl Connection {
    /// Connect to a target. `read_only` builds a client that refuses every method but GET.
    pub async fn open(
        target: &Target,
        settings: &ConnectSettings,
        read_only: bool,
    ) -> Result<Connection, ObserveError> {
        let name = target.name.clone();
        let (base_url, credentials, embedded, display_url, insecure) = match &target.endpoint {
            Endpoint::Url(url) => {
                let credentials = match &target.auth {
                    Some(source) => {
                        Credentials::from_source(&scim_settings::credential_source(source))
                            .map_err(|source| ObserveError::Auth {
                                target: name.clone(),
                                source,
                            })?
                    }
                    None => {
                        return Err(ObserveError::Other {
                            target: name,
                            message: "no `auth` configured".into(),
                        })
                    }
                };
                (
                    url.clone(),
                    credentials,
                    None,
                    crate::config::display_url(url),
                    settings.insecure_http,
                )
            }
            Endpoint::Embedded { path } => {
                let e = start_embedded(path, scim_settings::dialect(target.dialect))
                    .await
                    .map_err(|source| ObserveError::Embedded {
                        target: name.clone(),
                        source,
                    })?;
                let credentials = Credentials::bearer(e.token.expose_secret().to_string());
                let display = format!("embedded:{}", path.display());
                (e.base_url.clone(), credentials, Some(e), display, false)
            }
        };
        let mut opts = ClientOptions::new(
            base_url,
            credentials,
            scim_settings::dialect(target.dialect),
        );
        opts.parallelism = settings.parallelism.max(1);
        opts.rate = scim_settings::rate_limits(&target.rate);
        opts.throttle_budget = target
            .throttle_budget_seconds
            .map(std::time::Duration::from_secs_f64);
        opts.ca_cert = settings.ca_cert.clone();
        opts.insecure_http = insecure;
        opts.read_only = read_only;
        scim_settings::apply_read_limits(&target.read, &mut opts);
        let client = ScimClient::new(opts).map_err(|source| ObserveError::Scim {
            target: name.clone(),
            source: Box::new(source),
        })?;
        Ok(Connection {
            target: name,
            client,
            display_url,
            embedded,
        })
    }

    /// The read-only view of this connection's client.
    pub fn reader(&self) -> ReadOnlyClient {
        self.client.reader()
    }

    /// Close the connection; for embedded targets, stop the provider and write its state.
    pub async fn close(self) -> Result<(), ObserveError> {
        if let Some(e) = self.embedded {
            e.shutdown()
                .await
                .map_err(|source| ObserveError::Embedded {
                    target: self.target,
                    source,
                })?;
        }
        Ok(())
    }
}

/// What reading live state cost, for `-v` and benchmarks.
#[derive(Debug, Clone, Copy)]
pub struct ReadStats {
    pub requests: RequestCounts,
    pub membership_strategy: Option<Strategy>,
    pub groups_read: usize,
    pub elapsed: Duration,
}

/// Read a target's users, groups, and the members of every group roster may own.
pub async fn observe(
    client: &ReadOnlyClient,
    desired: &Desired,
    compiled: &CompiledTarget<'_>,
) -> Result<(Observed, ReadStats), ObserveError> {
    observe_for(client, desired, compiled, None).await
}

/// [`observe`] once for two configurations of the same target (`plan --base`: the work tree's
/// and the base's): the members of every group either may own are read, so both plans diff
/// against the one snapshot.
pub async fn observe_for(
    client: &ReadOnlyClient,
    desired: &Desired,
    compiled: &CompiledTarget<'_>,
    also: Option<(&Desired, &CompiledTarget<'_>)>,
) -> Result<(Observed, ReadStats), ObserveError> {
    let target = compiled.target;
    let started = Instant::now();
    let scim = |source| ObserveError::Scim {
        target: target.name.clone(),
        source: Box::new(source),
    };
    // Each user is slimmed while its page is decoded and held from then on as compact text
    // (`LiveUser`): the pages' resources as JSON trees were once all resident at the same time.
    let users: Vec<SlimUser> = client.list("/Users", "users", None).await.map_err(scim)?;
    let mut observed = Observed {
        users: Vec::with_capacity(users.len()),
        groups: Vec::new(),
    };
    for SlimUser(user) in users {
        observed
            .users
            .push(user.map_err(|message| ObserveError::Other {
                target: target.name.clone(),
                message,
            })?);
    }
    let groups = client.list_groups(None).await.map_err(scim)?;

    let other = |message| ObserveError::Other {
        target: target.name.clone(),
        message,
    };
    let mut managed = groups_to_read(desired, compiled, &groups).map_err(other)?;
    if let Some((desired, compiled)) = also {
        let mut seen: HashSet<String> = managed.iter().cloned().collect();
        for id in groups_to_read(desired, compiled, &groups).map_err(other)? {
            if seen.insert(id.clone()) {
                managed.push(id);
            }
        }
    }
    let user_ids: Vec<String> = observed.users.iter().map(|u| u.id.clone()).collect();
    let (strategy, mut memberships) = if managed.is_empty() {
        (None, Default::default())
    } else {
        let (s, m) = read_memberships(client, &managed, &user_ids, &groups)
            .await
            .map_err(scim)?;
        (Some(s), m)
    };
    // The member lists are a second account of who exists; they must agree with the user list.
    super::complete::members_resolve(
        &memberships,
        user_ids.iter().map(String::as_str),
        groups
            .iter()
            .filter_map(|g| Some((g.id.as_deref()?, g.display_name.as_str()))),
    )
    .map_err(|e| other(e.to_string()))?;

    let to_value = |v: serde_json::Result<serde_json::Value>| {
        v.map_err(|e| ObserveError::Other {
            target: target.name.clone(),
            message: format!("cannot read a live resource: {e}"),
        })
    };
    drop(user_ids);
    observed.groups.reserve_exact(groups.len());
    for g in groups {
        // Moved out of the read's map, not copied: each member id is held once.
        let members =
            g.id.as_ref()
                .and_then(|id| memberships.remove(id))
                .map(|set| set.into_iter().collect::<Vec<_>>());
        let mut resource = to_value(serde_json::to_value(&g))?;
        if let Some(obj) = resource.as_object_mut() {
            // membership lives in `members` below; what the listing said is not trusted
            obj.remove("members");
        }
        slim(&mut resource);
        let mut group = LiveGroup::from_resource(resource).map_err(|e| ObserveError::Other {
            target: target.name.clone(),
            message: e.to_string(),
        })?;
        group.members = members;
        observed.groups.push(group);
    }
    Ok((
        observed,
        ReadStats {
            requests: client.counts(),
            membership_strategy: strategy,
            groups_read: managed.len(),
            elapsed: started.elapsed(),
        },
    ))
}

/// Keep of a live resource what a plan and apply's re-read use: drop `schemas` (no mapping may
/// name it; roster fills it on writes) and every `meta` attribute but `version` (the ETag
/// preconditions carry). The URNs, dates and location URL are a third of a small resource, and
/// 100,000 of them were held for nothing.
fn slim(resource: &mut serde_json::Value) {
    let Some(obj) = resource.as_object_mut() else {
        return;
    };
    obj.shift_remove("schemas");
    let meta_key = obj.keys().find(|k| k.eq_ignore_ascii_case("meta")).cloned();
    if let Some(key) = meta_key {
        let keep = match obj.get_mut(&key) {
            Some(serde_json::Value::Object(meta)) => {
                meta.retain(|k, _| k.eq_ignore_ascii_case("version"));
                !meta.is_empty()
            }
            _ => false,
        };
        if !keep {
            obj.shift_remove(&key);
        }
    }
}

/// A live user decoded from a page as [`slim`] would leave it and then held as a [`LiveUser`],
/// so a page's users are compact as soon as the page is read. `Err` holds why the resource is
/// not a user (no string `id`); the listing then refuses the page for an item without an id.
struct SlimUser(Result<LiveUser, String>);

impl crate::scim::paging::Identified for SlimUser {
    fn scim_id(&self) -> Option<&str> {
        self.0.as_ref().ok().map(|u| u.id.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for SlimUser {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let SlimResource(resource) = SlimResource::deserialize(d)?;
        Ok(SlimUser(
            LiveUser::from_resource(resource).map_err(|e| e.to_string()),
        ))
    }
}

/// A live resource decoded as [`slim`] would leave it: `schemas` and every `meta` attribute
/// but `version` are skipped by the decoder instead of being built and then removed.
struct SlimResource(serde_json::Value);

impl<'de> serde::Deserialize<'de> for SlimResource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SlimVisitor).map(SlimResource)
    }
}

/// Decodes an object as `slim` would leave it; anything else is kept as sent, for
/// `LiveUser::from_resource` to refuse with its usual message.
struct SlimVisitor;

impl<'de> serde::de::Visitor<'de> for SlimVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a SCIM resource")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<serde_json::Value, A::Error> {
        use serde::de::IgnoredAny;
        use serde_json::Value;
        let mut out = serde_json::Map::new();
        // `slim` trims the first key that reads `meta` in any case (and so its duplicates).
        let mut meta_key: Option<String> = None;
        while let Some(key) = map.next_key::<String>()? {
            let is_meta = match &meta_key {
                Some(k) => *k == key,
                None => key.eq_ignore_ascii_case("meta"),
            };
            if key == "schemas" {
                map.next_value::<IgnoredAny>()?;
            } else if is_meta {
                meta_key = Some(key.clone());
                match map.next_value::<Value>()? {
                    Value::Object(mut meta) => {
                        meta.retain(|k, _| k.eq_ignore_ascii_case("version"));
                        if meta.is_empty() {
                            out.shift_remove(&key);
                        } else {
                            out.insert(key, Value::Object(meta));
                        }
                    }
                    _ => {
                        out.shift_remove(&key);
                    }
                }
            } else {
                let value = map.next_value::<Value>()?;
                out.insert(key, value);
            }
        }
        Ok(Value::Object(out))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> Result<serde_json::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<serde_json::Value>()? {
            out.push(v);
        }
        Ok(serde_json::Value::Array(out))
    }

    fn visit_bool<E>(self, v: bool) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E>(self, v: i64) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_str<E>(self, v: &str) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E>(self) -> Result<serde_json::Value, E> {
        Ok(serde_json::Value::Null)
    }
}

/// The live groups whose members the planner may need: every group a directory group could
/// match by any of the target's match keys, or whose externalId `owns` claims, that is neither
/// ignored nor released. This is a superset of what the planner ends up owning (it also counts
/// keys a higher-precedence key would overrule); reading one group too many costs a request,
/// while missing one makes the planner refuse to plan, so erring wide is the safe side.
/// Nothing is read when membership is `off`.
pub fn groups_to_read(
    desired: &Desired,
    compiled: &CompiledTarget<'_>,
    live: &[crate::scim::resource::Group],
) -> Result<Vec<String>, String> {
    if compiled.target.policy.members == crate::config::model::MembersMode::Off || live.is_empty() {
        return Ok(Vec::new());
    }
    let lists = &compiled.lists;
    let mapping = &compiled.mapping;
    let rule = |name: &str| {
        mapping
            .group
            .iter()
            .position(|r| r.path.to_string().eq_ignore_ascii_case(name))
    };
    let (ext_rule, name_rule) = (rule("externalId"), rule("displayName"));
    let mut external_ids = HashSet::new();
    let mut names = HashSet::new();
    for g in &desired.groups {
        let r = mapping.render_group(g).map_err(|e| e.to_string())?;
        let text = |i: Option<usize>| {
            i.and_then(|i| r.values[i].as_ref())
                .and_then(|v| v.as_str().map(str::to_string))
        };
        if let Some(x) = text(ext_rule) {
            external_ids.insert(x);
        }
        if let Some(n) = text(name_rule) {
            names.insert(n.to_lowercase());
        }
    }
    Ok(live
        .iter()
        .filter(|g| {
            let ext = g.external_id.as_deref();
            if lists.ignore_groups.matching(&g.display_name).is_some()
                || lists.release_groups.contains(ext, &g.display_name)
            {
                return false;
            }
            ext.is_some_and(|x| external_ids.contains(x) || lists.owns(Some(x)))
                || names.contains(&g.display_name.to_lowercase())
        })
        .filter_map(|g| g.id.clone())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slim_keeps_what_plans_and_preconditions_read_in_order() {
        let mut u = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u1",
            "userName": "a", "emails": [{"value": "a@x", "primary": true}],
            "meta": {"resourceType": "User", "location": "http://x/Users/u1", "version": "W/\"3\""}});
        slim(&mut u);
        assert_eq!(
            serde_json::to_string(&u).expect("json"),
            r#"{"id":"u1","userName":"a","emails":[{"value":"a@x","primary":true}],"meta":{"version":"W/\"3\""}}"#
        );
        let user = LiveUser::from_resource(u).expect("a user");
        assert_eq!(user.version.as_deref(), Some("W/\"3\""));
        let mut g = json!({"id": "g1", "meta": {"created": "2024-01-01"}});
        slim(&mut g);
        assert_eq!(g, json!({"id": "g1"}));
    }

    #[test]
    fn decoding_slim_equals_slimming_what_was_decoded() {
        let cases = [
            r#"{"schemas":["urn:x"],"id":"u1","userName":"a","meta":{"resourceType":"User","version":"W/\"3\""},"active":true}"#,
            r#"{"id":"u1","Meta":{"created":"x"},"emails":[{"value":"a@x","primary":true}],"schemas":[]}"#,
            r#"{"id":"u1","meta":"odd","meta":{"Version":"1","location":"l"},"x":null,"n":1.5}"#,
            r#"{"id":"u1","meta":{"version":"1"},"META":{"created":"kept, as slim keeps it"}}"#,
            r#"["not", "an", "object"]"#,
            r#""text""#,
        ];
        for text in cases {
            let SlimResource(decoded) = serde_json::from_str(text).expect("decodes");
            let mut slimmed: serde_json::Value = serde_json::from_str(text).expect("parses");
            slim(&mut slimmed);
            assert_eq!(
                serde_json::to_string(&decoded).expect("json"),
                serde_json::to_string(&slimmed).expect("json"),
                "{text}"
            );
        }
    }
}
