//! Preconditions of a saved plan (docs/contract.md#stale-plans): before anything is written, re-read every
//! object the plan touches and decide, per change, whether it is still valid (fresh), already
//! carried out (done: a crash after the server acted, or someone did it by hand), or stale (the
//! object moved since the plan was made). One stale change refuses the whole plan.
//!
//! Reads come from one of two sources, whichever is fewer requests: object by object (one GET
//! per touched object, one filtered list per create, run concurrently within the read budget), or
//! one read of the whole state the way `plan` read it (a plan of 10,000 creates against a target
//! of 20,000 users is 200 list pages, not 10,000 lookups).

use super::{classify, fetch, find_by_keys, id_of, in_effect, name_attr, Found};
use crate::mapping::AttrPath;
use crate::plan::planner::reread_requests;
use crate::plan::{
    precondition_digest, Action, Address, Change, MemberRef, ObjectKind, Observed, Operation,
    TargetPlan,
};
use crate::scim::{ReadOnlyClient, ScimClientError};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::task::JoinSet;

/// What the re-read established, for the executor.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// Creates found already in effect: address -> the id of the existing object.
    pub ids: HashMap<String, String>,
    /// The version each object has now (for `If-Match`), where the server has ETags.
    pub versions: HashMap<String, String>,
    /// Changes already in effect (index into the plan's changes) -> a note for the record.
    pub done: HashMap<usize, String>,
}

/// A change whose object moved since the plan was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    pub address: Address,
    pub name: String,
    pub why: String,
}

enum Verdict {
    Fresh {
        version: Option<String>,
    },
    /// A membership change and the group's live members: whether it is already in effect is
    /// decided once every create's id is known (a member may be a user this plan created).
    Members(HashSet<String>),
    Done {
        id: Option<String>,
        note: String,
    },
    Stale(String),
}

/// The digest paths of each kind of object (the attributes preconditions cover).
#[derive(Debug, Clone)]
pub struct DigestPaths {
    pub user: Vec<AttrPath>,
    pub group: Vec<AttrPath>,
}

impl DigestPaths {
    pub fn of(&self, kind: ObjectKind) -> &[AttrPath] {
        match kind {
            ObjectKind::User => &self.user,
            ObjectKind::Group => &self.group,
        }
    }
}

/// Where the re-read of a saved plan's objects comes from.
#[derive(Clone)]
pub enum Source {
    /// Object by object.
    Objects(ReadOnlyClient),
    /// A fresh read of the whole state, indexed.
    Snapshot(Arc<Snapshot>),
}

/// How many requests reading object by object costs: one GET per change of a live object, and
/// for a create one lookup by externalId plus one by name when the first finds nothing (the
/// usual case). Member changes of a group the plan creates are checked through the create.
pub fn per_object_reads(plan: &TargetPlan) -> u64 {
    // The plan's own estimate counts with the same function, so what it says is what is sent.
    plan.changes.iter().map(reread_requests).sum()
}

/// What a re-read says about a group's members.
enum Members {
    /// The group is gone.
    Gone,
    /// The read does not show members (AWS answers `members: []`): the change is sent.
    Unknown,
    Known(HashSet<String>),
}

/// Live state indexed for the lookups preconditions need.
pub struct Snapshot {
    objects: [Vec<Value>; 2],
    /// Member ids of the groups whose membership the read covered.
    members: HashMap<String, HashSet<String>>,
    by_id: [HashMap<String, usize>; 2],
    by_external_id: [HashMap<String, Vec<usize>>; 2],
    /// userName or displayName, lowercased (servers compare them ignoring case).
    by_name: [HashMap<String, Vec<usize>>; 2],
}

fn slot(kind: ObjectKind) -> usize {
    match kind {
        ObjectKind::User => 0,
        ObjectKind::Group => 1,
    }
}

impl Snapshot {
    pub fn new(observed: Observed) -> Snapshot {
        let users: Vec<Value> = observed.users.into_iter().map(|u| u.resource()).collect();
        let mut members = HashMap::new();
        let groups: Vec<Value> = observed
            .groups
            .into_iter()
            .map(|g| {
                let resource = g.resource();
                if let Some(m) = g.members {
                    members.insert(g.id, m.into_iter().collect());
                }
                resource
            })
            .collect();
        let mut s = Snapshot {
            objects: [users, groups],
            members,
            by_id: Default::default(),
            by_external_id: Default::default(),
            by_name: Default::default(),
        };
        for kind in [ObjectKind::User, ObjectKind::Group] {
            let k = slot(kind);
            for (i, v) in s.objects[k].iter().enumerate() {
                if let Some(id) = id_of(v) {
                    s.by_id[k].insert(id, i);
                }
                if let Some(e) = v.get("externalId").and_then(Value::as_str) {
                    s.by_external_id[k]
                        .entry(e.to_string())
                        .or_default()
                        .push(i);
                }
                if let Some(n) = v.get(name_attr(kind)).and_then(Value::as_str) {
                    s.by_name[k].entry(n.to_lowercase()).or_default().push(i);
                }
            }
        }
        s
    }

    fn get(&self, kind: ObjectKind, id: &str) -> Option<Value> {
        let k = slot(kind);
        self.by_id[k].get(id).map(|i| self.objects[k][*i].clone())
    }

    /// As [`super::find_by_keys`] does on the server: by externalId, else by name.
    fn find(&self, kind: ObjectKind, body: &serde_json::Map<String, Value>) -> Vec<Value> {
        let k = slot(kind);
        let text = |a: &str| {
            body.get(a)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        };
        let hits = text("externalId")
            .and_then(|e| self.by_external_id[k].get(e))
            .or_else(|| text(name_attr(kind)).and_then(|n| self.by_name[k].get(&n.to_lowercase())));
        hits.map(|is| is.iter().map(|i| self.objects[k][*i].clone()).collect())
            .unwrap_or_default()
    }
}

impl Source {
    async fn get(&self, kind: ObjectKind, id: &str) -> Result<Option<Value>, ScimClientError> {
        match self {
            Source::Objects(client) => fetch(client, kind, id).await,
            Source::Snapshot(s) => Ok(s.get(kind, id)),
        }
    }

    /// A group's live members, in the one GET the re-read sends for a membership change.
    async fn members(&self, id: &str) -> Result<Members, ScimClientError> {
        match self {
            Source::Objects(client) if client.capabilities().groups_list_members => {
                match client.get_group(id).await {
                    Ok(g) => Ok(Members::Known(
                        g.members.into_iter().map(|m| m.value).collect(),
                    )),
                    Err(e) if e.is_not_found() => Ok(Members::Gone),
                    Err(e) => Err(e),
                }
            }
            Source::Objects(client) => Ok(match fetch(client, ObjectKind::Group, id).await? {
                Some(_) => Members::Unknown,
                None => Members::Gone,
            }),
            Source::Snapshot(s) => Ok(match s.get(ObjectKind::Group, id) {
                None => Members::Gone,
                Some(_) => s
                    .members
                    .get(id)
                    .map_or(Members::Unknown, |m| Members::Known(m.clone())),
            }),
        }
    }

    async fn find(
        &self,
        kind: ObjectKind,
        body: &serde_json::Map<String, Value>,
    ) -> Result<Vec<Value>, ScimClientError> {
        match self {
            Source::Objects(client) => find_by_keys(client, kind, body).await,
            Source::Snapshot(s) => Ok(s.find(kind, body)),
        }
    }
}

/// Re-read every object `plan` touches. `Err` only when the reads themselves fail; stale
/// changes come back in the list, and the caller refuses the plan when it is not empty.
pub async fn verify(
    source: &Source,
    parallelism: usize,
    plan: &Arc<TargetPlan>,
    paths: &Arc<DigestPaths>,
) -> Result<(Prepared, Vec<Stale>), ScimClientError> {
    let phases = super::phases(&plan.changes);
    let limit = parallelism.max(1) * 2;
    let mut tasks: JoinSet<(usize, Result<Verdict, ScimClientError>)> = JoinSet::new();
    let mut verdicts: Vec<(usize, Verdict)> = Vec::new();
    let mut first_error = None;
    let mut collect = |joined: Option<Result<(usize, Result<Verdict, ScimClientError>), _>>| {
        if let Some(Ok((i, r))) = joined {
            match r {
                Ok(v) => verdicts.push((i, v)),
                Err(e) => {
                    if first_error.is_none() {
                        first_error = Some(e);
                    }
                }
            }
        }
    };
    for (i, phase) in phases.iter().enumerate() {
        if phase.is_none() {
            continue;
        }
        while tasks.len() >= limit {
            collect(tasks.join_next().await);
        }
        let (source, plan, paths) = (source.clone(), Arc::clone(plan), Arc::clone(paths));
        tasks.spawn(async move {
            let r = check(&source, &plan.changes[i], &paths).await;
            (i, r)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        collect(Some(joined));
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    verdicts.sort_by_key(|(i, _)| *i);
    let mut prepared = Prepared::default();
    let mut stale = Vec::new();
    // Membership verdicts last: they need the ids of creates found already in effect.
    let (members, verdicts): (Vec<_>, Vec<_>) = verdicts
        .into_iter()
        .partition(|(_, v)| matches!(v, Verdict::Members(_)));
    for (i, v) in verdicts.into_iter().chain(members) {
        let c = &plan.changes[i];
        match v {
            Verdict::Members(live) => {
                if members_in_effect(c, &live, &prepared.ids) {
                    prepared.done.insert(i, "already in effect".into());
                }
            }
            Verdict::Fresh { version } => {
                if let Some(v) = version {
                    prepared.versions.insert(c.address.to_string(), v);
                }
            }
            Verdict::Done { id, note } => {
                if let Some(id) = id {
                    if c.actions.contains(&Action::Create) {
                        prepared.ids.insert(c.address.to_string(), id);
                    }
                }
                prepared.done.insert(i, note);
            }
            Verdict::Stale(why) => stale.push(Stale {
                address: c.address.clone(),
                name: c.name.clone(),
                why,
            }),
        }
    }
    Ok((prepared, stale))
}

async fn check(
    source: &Source,
    c: &Change,
    paths: &DigestPaths,
) -> Result<Verdict, ScimClientError> {
    let digest_paths = paths.of(c.kind);
    if let Some(Operation::Create { body }) = c.operations.first() {
        let found = source.find(c.kind, body).await?;
        return Ok(
            match classify(&found, &Value::Object(body.clone()), digest_paths) {
                Found::Nothing => Verdict::Fresh { version: None },
                Found::Same(id) => Verdict::Done {
                    id: Some(id),
                    note: "already in effect (the object exists as planned)".into(),
                },
                Found::Different(why) => {
                    Verdict::Stale(format!("since the plan, an object took its keys: {why}"))
                }
            },
        );
    }
    let Some(id) = &c.id else {
        // Members of a group this plan creates: checked through that create.
        return Ok(Verdict::Fresh { version: None });
    };
    if is_membership(c) {
        return Ok(match source.members(id).await? {
            Members::Known(live) => Verdict::Members(live),
            Members::Unknown => Verdict::Fresh { version: None },
            Members::Gone => Verdict::Stale(format!("it no longer exists (id {id} was not found)")),
        });
    }
    let has = |a: Action| c.actions.contains(&a);
    let live = source.get(c.kind, id).await?;
    let Some(live) = live else {
        if has(Action::Delete) || has(Action::Deactivate) {
            return Ok(Verdict::Done {
                id: None,
                note: "already gone from the target".into(),
            });
        }
        return Ok(Verdict::Stale(format!(
            "it no longer exists (id {id} was not found)"
        )));
    };
    let version = live
        .pointer("/meta/version")
        .and_then(Value::as_str)
        .map(str::to_string);
    // Membership changes are deltas with no precondition (docs/contract.md#checksum-and-digests).
    let Some(pre) = &c.precondition else {
        return Ok(Verdict::Fresh { version: None });
    };
    let refs: Vec<&AttrPath> = digest_paths.iter().collect();
    if precondition_digest(&live, &refs) == pre.digest {
        return Ok(Verdict::Fresh { version });
    }
    if in_effect(c, &live, &HashMap::new()) {
        return Ok(Verdict::Done {
            id: Some(id.clone()),
            note: "already in effect".into(),
        });
    }
    let changed: Vec<String> = c
        .before
        .iter()
        .filter_map(|(path, before)| {
            let p = AttrPath::parse(path).ok()?;
            (!crate::plan::same_value(p.get(&live), Some(before))).then(|| path.clone())
        })
        .collect();
    Ok(Verdict::Stale(if changed.is_empty() {
        "it changed on the target since the plan was made".into()
    } else {
        format!(
            "it changed on the target since the plan was made ({})",
            changed.join(", ")
        )
    }))
}

/// A change that only adds or removes members (a delta with no precondition).
fn is_membership(c: &Change) -> bool {
    !c.actions.is_empty()
        && c.actions
            .iter()
            .all(|a| matches!(a, Action::AddMembers | Action::RemoveMembers))
}

/// Whether every member the change adds is already in the group and every member it removes
/// is already out, so re-applying a finished plan sends no membership operation again. A
/// member whose id is not known (its create has not run) is not in effect.
fn members_in_effect(
    c: &Change,
    live: &HashSet<String>,
    created: &HashMap<String, String>,
) -> bool {
    let id = |m: &MemberRef| {
        m.id.clone().or_else(|| {
            m.created_by
                .as_ref()
                .and_then(|a| created.get(a.as_str()).cloned())
        })
    };
    c.members_added
        .iter()
        .all(|m| id(m).is_some_and(|i| live.contains(&i)))
        && c.members_removed
            .iter()
            .all(|m| id(m).is_some_and(|i| !live.contains(&i)))
}
