//! Reading live state: the imperative shell around the pure planner. It connects to a target
//! (starting the in-process provider for `embedded` targets), lists users and groups through the
//! read-only client, and reads the members of the groups roster may own, into the
//! [`Observed`] snapshot the planner consumes.
//!
//! Everything here reads; the client it builds for `plan`, `import` and `drift` cannot send
//! anything but GET. A list that cannot be proven complete is an error, never a partial snapshot.

use crate::config::{Desired, Endpoint, Target};
use crate::emulator::{start_embedded, Embedded, EmulatorError};
use crate::mapping::CompiledTarget;
use crate::plan::policy::Lists;
use crate::plan::{LiveGroup, LiveUser, Observed};
use crate::scim::auth::AuthError;
use crate::scim::client::ClientOptions;
use crate::scim::membership::{read_memberships, Strategy};
use crate::scim::{Credentials, ReadOnlyClient, RequestCounts, ScimClient, ScimClientError};
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
                        Credentials::from_source(source).map_err(|source| ObserveError::Auth {
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
                    url.clone(),
                    settings.insecure_http,
                )
            }
            Endpoint::Embedded { path } => {
                let e = start_embedded(path, target.dialect)
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
        let mut opts = ClientOptions::new(base_url, credentials, target.dialect);
        opts.parallelism = settings.parallelism.max(1);
        opts.rate = target.rate;
        opts.throttle_budget = target
            .throttle_budget_seconds
            .map(std::time::Duration::from_secs_f64);
        opts.ca_cert = settings.ca_cert.clone();
        opts.insecure_http = insecure;
        opts.read_only = read_only;
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
    target: &Target,
) -> Result<(Observed, ReadStats), ObserveError> {
    let started = Instant::now();
    let scim = |source| ObserveError::Scim {
        target: target.name.clone(),
        source: Box::new(source),
    };
    let users = client.list_users(None).await.map_err(scim)?;
    let groups = client.list_groups(None).await.map_err(scim)?;

    let managed =
        groups_to_read(desired, target, &groups).map_err(|message| ObserveError::Other {
            target: target.name.clone(),
            message,
        })?;
    let user_ids: Vec<String> = users.iter().filter_map(|u| u.id.clone()).collect();
    let (strategy, memberships) = if managed.is_empty() {
        (None, Default::default())
    } else {
        let (s, m) = read_memberships(client, &managed, &user_ids, &groups)
            .await
            .map_err(scim)?;
        (Some(s), m)
    };

    let to_value = |v: serde_json::Result<serde_json::Value>| {
        v.map_err(|e| ObserveError::Other {
            target: target.name.clone(),
            message: format!("cannot read a live resource: {e}"),
        })
    };
    let mut observed = Observed::default();
    for u in users {
        let resource = to_value(serde_json::to_value(&u))?;
        let user = LiveUser::from_resource(resource).map_err(|e| ObserveError::Other {
            target: target.name.clone(),
            message: e.to_string(),
        })?;
        observed.users.push(user);
    }
    for g in groups {
        let members =
            g.id.as_ref()
                .and_then(|id| memberships.get(id))
                .map(|set| set.iter().cloned().collect::<Vec<_>>());
        let mut resource = to_value(serde_json::to_value(&g))?;
        if let Some(obj) = resource.as_object_mut() {
            // membership lives in `members` below; what the listing said is not trusted
            obj.remove("members");
        }
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

/// The live groups whose members the planner may need: every group a directory group could
/// match by any of the target's match keys, or whose externalId `owns` claims, that is neither
/// ignored nor released. This is a superset of what the planner ends up owning (it also counts
/// keys a higher-precedence key would overrule); reading one group too many costs a request,
/// while missing one makes the planner refuse to plan, so erring wide is the safe side.
/// Nothing is read when membership is `off`.
pub fn groups_to_read(
    desired: &Desired,
    target: &Target,
    live: &[crate::scim::resource::Group],
) -> Result<Vec<String>, String> {
    if target.policy.members == crate::config::model::MembersMode::Off || live.is_empty() {
        return Ok(Vec::new());
    }
    let compiled = CompiledTarget::compile(target).map_err(|d| {
        d.iter()
            .map(|x| x.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let lists = Lists::new(&target.policy, desired).map_err(|e| e.to_string())?;
    let rule = |name: &str| {
        compiled
            .group
            .iter()
            .position(|r| r.path.to_string().eq_ignore_ascii_case(name))
    };
    let (ext_rule, name_rule) = (rule("externalId"), rule("displayName"));
    let mut external_ids = HashSet::new();
    let mut names = HashSet::new();
    for g in &desired.groups {
        let r = compiled.render_group(g).map_err(|e| e.to_string())?;
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
