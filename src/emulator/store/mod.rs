//! The emulator's in-memory directory: users and groups as JSON, kept in insertion order
//! (`IndexMap`) so that a page is a slice by position, with hash indexes for the attributes
//! clients look objects up by (userName, externalId, displayName, membership in both
//! directions). Every list request costs O(page) without a filter and O(matches) with an indexed
//! `eq` filter; only other filters scan. The `visited` counter records how many stored entries
//! list requests touched, so tests can prove it.

use crate::emulator::patch;
use crate::emulator::schema::Kind;
use crate::scim::resource::PatchOp;
use indexmap::{IndexMap, IndexSet};
use rand::Rng;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

mod query;

/// Why a store operation was refused. The server turns these into dialect-shaped bodies.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreError {
    NotFound,
    /// A unique attribute is taken.
    Conflict(String),
    /// 400 with a scimType.
    Invalid {
        scim_type: &'static str,
        detail: String,
    },
    /// If-Match did not match.
    Precondition,
}

impl StoreError {
    pub fn invalid(scim_type: &'static str, detail: impl Into<String>) -> Self {
        StoreError::Invalid {
            scim_type,
            detail: detail.into(),
        }
    }
}

impl From<patch::PatchError> for StoreError {
    fn from(e: patch::PatchError) -> Self {
        StoreError::Invalid {
            scim_type: e.scim_type,
            detail: e.detail,
        }
    }
}

/// A cursor page: its resources and the cursor of the next page.
pub type CursorPage = (Vec<Map<String, Value>>, Option<String>);

/// A dialect's validation of a resource about to be stored.
pub type Check = dyn Fn(&Map<String, Value>) -> Result<(), StoreError>;

/// A change to persist: the new full state of one resource, or its deletion.
#[derive(Debug, Clone, PartialEq)]
pub enum Mutation {
    Put(Kind, Map<String, Value>),
    Delete(Kind, String),
}

/// What id format to mint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdStyle {
    Uuid,
    /// AWS Identity Store: `9067729b3d-94f1e0b3-c394-48d5-8ab1-2c122a167074`.
    Aws,
}

/// Resources in insertion order. A delete leaves a tombstone (O(1) instead of shifting every
/// later entry); tombstones are swept before the next list request, so that positions are
/// ranks again when a page is cut.
#[derive(Debug, Default)]
struct Slots {
    map: IndexMap<String, Option<Map<String, Value>>>,
    dead: usize,
}

impl Slots {
    fn get(&self, id: &str) -> Option<&Map<String, Value>> {
        self.map.get(id).and_then(Option::as_ref)
    }
    fn contains_key(&self, id: &str) -> bool {
        self.get(id).is_some()
    }
    fn len(&self) -> usize {
        self.map.len() - self.dead
    }
    fn values(&self) -> impl Iterator<Item = &Map<String, Value>> {
        self.map.values().flatten()
    }
    fn iter(&self) -> impl Iterator<Item = (&String, &Map<String, Value>)> {
        self.map
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
    }
    fn insert(&mut self, id: String, res: Map<String, Value>) {
        if let Some(None) = self.map.get(&id) {
            self.dead -= 1;
        }
        self.map.insert(id, Some(res));
    }
    fn remove(&mut self, id: &str) {
        if let Some(slot) = self.map.get_mut(id) {
            if slot.take().is_some() {
                self.dead += 1;
            }
        }
    }
    fn sweep(&mut self) {
        if self.dead > 0 {
            self.map.retain(|_, v| v.is_some());
            self.dead = 0;
        }
    }
    /// Position of a live entry; meaningful as a rank only after `sweep`.
    fn get_index_of(&self, id: &str) -> Option<usize> {
        self.map.get_index_of(id)
    }
    /// The entry at a position; after `sweep` every position is live.
    fn get_index(&self, i: usize) -> Option<(&String, &Map<String, Value>)> {
        self.map
            .get_index(i)
            .and_then(|(k, v)| v.as_ref().map(|v| (k, v)))
    }
}

#[derive(Debug, Default)]
pub struct Store {
    users: Slots,
    groups: Slots,
    user_names: HashMap<String, String>,
    user_external: HashMap<String, String>,
    group_names: HashMap<String, IndexSet<String>>,
    group_external: HashMap<String, String>,
    /// member id -> ids of the groups it is a direct member of.
    member_of: HashMap<String, IndexSet<String>>,
    /// Stored entries list requests have examined (for the O(page) test).
    pub visited: u64,
    /// Group displayName unique (AWS).
    pub unique_group_names: bool,
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

fn str_at<'a>(res: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    res.get(key).and_then(Value::as_str)
}

/// The member ids of a group body.
fn member_ids(res: &Map<String, Value>) -> IndexSet<String> {
    res.get("members")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&f)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

pub fn new_id(style: IdStyle) -> String {
    let mut rng = rand::rng();
    let b: [u8; 16] = rng.random();
    let h = hex::encode(b);
    let uuid = format!(
        "{}-{}-4{}-{}{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        ["8", "9", "a", "b"][usize::from(b[8] & 3)],
        &h[17..20],
        &h[20..32]
    );
    match style {
        IdStyle::Uuid => uuid,
        IdStyle::Aws => {
            let p: [u8; 5] = rng.random();
            format!("{}-{}", hex::encode(p), uuid)
        }
    }
}

/// The version number in `meta.version` (`W/"n"`).
pub fn version_of(res: &Map<String, Value>) -> u64 {
    res.get("meta")
        .and_then(|m| m.get("version"))
        .and_then(Value::as_str)
        .and_then(|v| v.trim_start_matches("W/").trim_matches('"').parse().ok())
        .unwrap_or(0)
}

impl Store {
    pub fn new(unique_group_names: bool) -> Store {
        Store {
            unique_group_names,
            ..Store::default()
        }
    }

    fn map(&self, kind: Kind) -> &Slots {
        match kind {
            Kind::User => &self.users,
            Kind::Group => &self.groups,
        }
    }

    fn sweep(&mut self, kind: Kind) {
        match kind {
            Kind::User => self.users.sweep(),
            Kind::Group => self.groups.sweep(),
        }
    }

    pub fn len(&self, kind: Kind) -> usize {
        self.map(kind).len()
    }

    pub fn get(&self, kind: Kind, id: &str) -> Option<&Map<String, Value>> {
        self.map(kind).get(id)
    }

    pub fn all(&self, kind: Kind) -> impl Iterator<Item = &Map<String, Value>> {
        self.map(kind).values()
    }

    /// Groups a member belongs to, in the order they were joined.
    pub fn groups_of(&self, member: &str) -> Vec<(&str, &Map<String, Value>)> {
        self.member_of
            .get(member)
            .map(|gs| {
                gs.iter()
                    .filter_map(|g| self.groups.get(g).map(|r| (g.as_str(), r)))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn unindex(&mut self, kind: Kind, res: &Map<String, Value>) {
        let Some(id) = str_at(res, "id") else { return };
        match kind {
            Kind::User => {
                if let Some(n) = str_at(res, "userName") {
                    self.user_names.remove(&lower(n));
                }
                if let Some(e) = str_at(res, "externalId") {
                    self.user_external.remove(e);
                }
            }
            Kind::Group => {
                if let Some(n) = str_at(res, "displayName") {
                    let key = lower(n);
                    if let Some(set) = self.group_names.get_mut(&key) {
                        set.shift_remove(id);
                        if set.is_empty() {
                            self.group_names.remove(&key);
                        }
                    }
                }
                if let Some(e) = str_at(res, "externalId") {
                    self.group_external.remove(e);
                }
                for m in member_ids(res) {
                    if let Some(set) = self.member_of.get_mut(&m) {
                        set.shift_remove(id);
                        if set.is_empty() {
                            self.member_of.remove(&m);
                        }
                    }
                }
            }
        }
    }

    fn index(&mut self, kind: Kind, res: &Map<String, Value>) {
        let Some(id) = str_at(res, "id").map(str::to_string) else {
            return;
        };
        match kind {
            Kind::User => {
                if let Some(n) = str_at(res, "userName") {
                    self.user_names.insert(lower(n), id.clone());
                }
                if let Some(e) = str_at(res, "externalId") {
                    self.user_external.insert(e.to_string(), id);
                }
            }
            Kind::Group => {
                if let Some(n) = str_at(res, "displayName") {
                    self.group_names
                        .entry(lower(n))
                        .or_default()
                        .insert(id.clone());
                }
                if let Some(e) = str_at(res, "externalId") {
                    self.group_external.insert(e.to_string(), id.clone());
                }
                for m in member_ids(res) {
                    self.member_of.entry(m).or_default().insert(id.clone());
                }
            }
        }
    }

    /// Check the unique attributes of `res` against everyone but itself.
    fn check_unique(&self, kind: Kind, res: &Map<String, Value>) -> Result<(), StoreError> {
        let id = str_at(res, "id").unwrap_or_default();
        let taken = |owner: Option<&String>| owner.is_some_and(|o| o != id);
        match kind {
            Kind::User => {
                if let Some(n) = str_at(res, "userName") {
                    if taken(self.user_names.get(&lower(n))) {
                        return Err(StoreError::Conflict(format!(
                            "userName {n:?} is already taken"
                        )));
                    }
                }
                if let Some(e) = str_at(res, "externalId") {
                    if taken(self.user_external.get(e)) {
                        return Err(StoreError::Conflict(format!(
                            "externalId {e:?} is already taken"
                        )));
                    }
                }
            }
            Kind::Group => {
                if self.unique_group_names {
                    if let Some(n) = str_at(res, "displayName") {
                        if self
                            .group_names
                            .get(&lower(n))
                            .is_some_and(|set| set.iter().any(|g| g != id))
                        {
                            return Err(StoreError::Conflict(format!(
                                "displayName {n:?} is already taken"
                            )));
                        }
                    }
                }
                if let Some(e) = str_at(res, "externalId") {
                    if taken(self.group_external.get(e)) {
                        return Err(StoreError::Conflict(format!(
                            "externalId {e:?} is already taken"
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Normalise a body from a client (or seed): required attributes, schemas, members.
    fn normalise(&self, kind: Kind, res: &mut Map<String, Value>) -> Result<(), StoreError> {
        // Read-only and write-only attributes are not kept (RFC 7643: `groups` is read-only,
        // `password` is never returned, and the emulator does no authentication of users).
        res.remove("password");
        if kind == Kind::User {
            res.remove("groups");
        }
        // Canonical spelling for the attributes the indexes read.
        for key in ["userName", "externalId", "displayName", "members", "active"] {
            if !res.contains_key(key) {
                if let Some(k) = res.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned() {
                    if let Some(v) = res.remove(&k) {
                        res.insert(key.to_string(), v);
                    }
                }
            }
        }
        for key in ["externalId", "displayName", "userName"] {
            match res.get(key) {
                Some(Value::Null) => {
                    res.remove(key);
                }
                Some(Value::String(_)) | None => {}
                Some(_) => {
                    return Err(StoreError::invalid(
                        "invalidValue",
                        format!("{key} must be a string"),
                    ))
                }
            }
        }
        match kind {
            Kind::User => {
                if str_at(res, "userName").is_none_or(|n| n.trim().is_empty()) {
                    return Err(StoreError::invalid("invalidValue", "userName is required"));
                }
            }
            Kind::Group => {
                if str_at(res, "displayName").is_none_or(|n| n.trim().is_empty()) {
                    return Err(StoreError::invalid(
                        "invalidValue",
                        "displayName is required",
                    ));
                }
                if let Some(members) = res.get_mut("members") {
                    let Value::Array(items) = members else {
                        return Err(StoreError::invalid(
                            "invalidValue",
                            "members must be a list",
                        ));
                    };
                    let mut seen = IndexSet::new();
                    let mut kept = Vec::with_capacity(items.len());
                    for m in items.drain(..) {
                        let Some(v) = m.get("value").and_then(Value::as_str) else {
                            return Err(StoreError::invalid(
                                "invalidValue",
                                "every member needs a value",
                            ));
                        };
                        if !self.users.contains_key(v) && !self.groups.contains_key(v) {
                            return Err(StoreError::invalid(
                                "invalidValue",
                                format!("member {v:?} does not exist"),
                            ));
                        }
                        if seen.insert(v.to_string()) {
                            // Keep what identifies the member; display and $ref are derived
                            // on read so they never go stale.
                            let mut o = Map::new();
                            o.insert("value".into(), Value::String(v.to_string()));
                            let t = if self.users.contains_key(v) {
                                "User"
                            } else {
                                "Group"
                            };
                            o.insert("type".into(), Value::String(t.into()));
                            // A client-given display is kept as given (RFC 7643 lets clients
                            // set it); otherwise it is derived on read.
                            if let Some(d) = m.get("display").filter(|d| d.is_string()) {
                                o.insert("display".into(), d.clone());
                            }
                            kept.push(Value::Object(o));
                        }
                    }
                    if kept.is_empty() {
                        res.remove("members");
                    } else {
                        *items = kept;
                    }
                }
            }
        }
        let mut schemas = vec![Value::String(kind.core_schema().into())];
        for ext in kind.extensions() {
            if let Some(k) = res.keys().find(|k| k.eq_ignore_ascii_case(ext)).cloned() {
                let v = res.remove(&k).unwrap_or(Value::Null);
                if v.as_object().is_some_and(|o| !o.is_empty()) {
                    res.insert((*ext).to_string(), v);
                    schemas.push(Value::String((*ext).to_string()));
                }
            }
        }
        res.insert("schemas".into(), Value::Array(schemas));
        Ok(())
    }

    fn stamp(res: &mut Map<String, Value>, kind: Kind, created: Option<String>, version: u64) {
        let now = now();
        res.insert(
            "meta".into(),
            json!({
                "resourceType": kind.name(),
                "created": created.unwrap_or_else(|| now.clone()),
                "lastModified": now,
                "version": format!("W/\"{version}\""),
            }),
        );
    }

    /// Create a resource; `id` is kept when given (seeds) and minted otherwise.
    pub fn create(
        &mut self,
        kind: Kind,
        res: Map<String, Value>,
        keep_id: bool,
        style: IdStyle,
    ) -> Result<(Map<String, Value>, Vec<Mutation>), StoreError> {
        let id = self.insert_new(kind, res, keep_id, style)?;
        let stored = self.get(kind, &id).cloned().ok_or(StoreError::NotFound)?;
        Ok((stored.clone(), vec![Mutation::Put(kind, stored)]))
    }

    /// Validate, stamp and store a new resource without copying it; returns its id. Seeds of
    /// 100,000 users go through here.
    pub fn insert_new(
        &mut self,
        kind: Kind,
        mut res: Map<String, Value>,
        keep_id: bool,
        style: IdStyle,
    ) -> Result<String, StoreError> {
        self.normalise(kind, &mut res)?;
        let id = match str_at(&res, "id") {
            Some(id) if keep_id && !id.is_empty() => id.to_string(),
            _ => new_id(style),
        };
        if self.map(kind).contains_key(&id) {
            return Err(StoreError::Conflict(format!("id {id:?} is already taken")));
        }
        res.insert("id".into(), Value::String(id.clone()));
        self.check_unique(kind, &res)?;
        let created = if keep_id {
            res.get("meta")
                .and_then(|m| m.get("created"))
                .and_then(Value::as_str)
                .map(str::to_string)
        } else {
            None
        };
        Self::stamp(&mut res, kind, created, 1);
        self.index(kind, &res);
        self.insert_raw(kind, res);
        Ok(id)
    }

    fn insert_raw(&mut self, kind: Kind, res: Map<String, Value>) {
        let id = str_at(&res, "id").unwrap_or_default().to_string();
        match kind {
            Kind::User => self.users.insert(id, res),
            Kind::Group => self.groups.insert(id, res),
        };
    }

    fn check_version(res: &Map<String, Value>, if_match: Option<&str>) -> Result<(), StoreError> {
        match if_match {
            None => Ok(()),
            Some(m) if m.trim() == "*" => Ok(()),
            Some(m) => {
                let want = format!("W/\"{}\"", version_of(res));
                let strong = format!("\"{}\"", version_of(res));
                if m.split(',').any(|t| t.trim() == want || t.trim() == strong) {
                    Ok(())
                } else {
                    Err(StoreError::Precondition)
                }
            }
        }
    }

    /// Store `new` as the state of an existing resource (after PUT or PATCH).
    fn commit(
        &mut self,
        kind: Kind,
        old: &Map<String, Value>,
        mut new: Map<String, Value>,
    ) -> Result<(Map<String, Value>, Vec<Mutation>), StoreError> {
        let id = str_at(old, "id").unwrap_or_default().to_string();
        new.insert("id".into(), Value::String(id));
        self.normalise(kind, &mut new)?;
        self.check_unique(kind, &new)?;
        let created = old
            .get("meta")
            .and_then(|m| m.get("created"))
            .and_then(Value::as_str)
            .map(str::to_string);
        Self::stamp(&mut new, kind, created, version_of(old) + 1);
        self.unindex(kind, old);
        self.index(kind, &new);
        self.insert_raw(kind, new.clone());
        Ok((new.clone(), vec![Mutation::Put(kind, new)]))
    }

    /// PUT: replace every writable attribute.
    pub fn replace(
        &mut self,
        kind: Kind,
        id: &str,
        body: Map<String, Value>,
        if_match: Option<&str>,
        check: &Check,
    ) -> Result<(Map<String, Value>, Vec<Mutation>), StoreError> {
        let old = self.get(kind, id).cloned().ok_or(StoreError::NotFound)?;
        Self::check_version(&old, if_match)?;
        let mut new = body;
        new.remove("meta");
        check(&new)?;
        self.commit(kind, &old, new)
    }

    /// PATCH: apply the operations to a copy, validate, store.
    pub fn patch(
        &mut self,
        kind: Kind,
        id: &str,
        ops: &[PatchOp],
        if_match: Option<&str>,
        check: &Check,
    ) -> Result<(Map<String, Value>, Vec<Mutation>), StoreError> {
        let old = self.get(kind, id).cloned().ok_or(StoreError::NotFound)?;
        Self::check_version(&old, if_match)?;
        let mut new = old.clone();
        patch::apply(&mut new, kind, ops)?;
        check(&new)?;
        if new == old {
            // Nothing changed: no new version, nothing to persist.
            return Ok((old, Vec::new()));
        }
        self.commit(kind, &old, new)
    }

    /// DELETE; a deleted user or group also leaves every group it was a member of.
    pub fn delete(
        &mut self,
        kind: Kind,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<Vec<Mutation>, StoreError> {
        let old = self.get(kind, id).cloned().ok_or(StoreError::NotFound)?;
        Self::check_version(&old, if_match)?;
        self.unindex(kind, &old);
        match kind {
            Kind::User => self.users.remove(id),
            Kind::Group => self.groups.remove(id),
        };
        let mut muts = vec![Mutation::Delete(kind, id.to_string())];
        let containing: Vec<String> = self
            .member_of
            .get(id)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for gid in containing {
            let Some(g) = self.groups.get(&gid).cloned() else {
                continue;
            };
            let mut new = g.clone();
            if let Some(Value::Array(items)) = new.get_mut("members") {
                items.retain(|m| m.get("value").and_then(Value::as_str) != Some(id));
                if items.is_empty() {
                    new.remove("members");
                }
            }
            let (_, m) = self.commit(Kind::Group, &g, new)?;
            muts.extend(m);
        }
        Ok(muts)
    }

    /// Put a persisted resource back as it was (journal replay); indexes follow.
    pub fn restore(&mut self, m: Mutation) {
        match m {
            Mutation::Put(kind, res) => {
                let id = str_at(&res, "id").unwrap_or_default().to_string();
                if let Some(old) = self.get(kind, &id).cloned() {
                    self.unindex(kind, &old);
                }
                self.index(kind, &res);
                self.insert_raw(kind, res);
            }
            Mutation::Delete(kind, id) => {
                if let Some(old) = self.get(kind, &id).cloned() {
                    self.unindex(kind, &old);
                    match kind {
                        Kind::User => self.users.remove(&id),
                        Kind::Group => self.groups.remove(&id),
                    };
                }
            }
        }
    }

    /// The full state, for snapshots.
    pub fn snapshot(&self) -> Value {
        json!({
            "format": 1,
            "users": self.users.values().collect::<Vec<_>>(),
            "groups": self.groups.values().collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::filter::parse_filter;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    fn ids(store: &mut Store, kind: Kind, f: &str) -> Vec<String> {
        let f = parse_filter(f).expect("filter");
        let (_, items) = store.page(kind, Some(&f), 0, 100);
        items
            .iter()
            .filter_map(|r| r["id"].as_str().map(str::to_string))
            .collect()
    }

    #[test]
    fn indexes_follow_renames_deletes_and_membership() {
        let mut s = Store::new(false);
        let (a, _) = s
            .create(
                Kind::User,
                obj(json!({"userName": "Alice", "externalId": "e1"})),
                false,
                IdStyle::Uuid,
            )
            .expect("create");
        let a = a["id"].as_str().expect("id").to_string();
        let (b, _) = s
            .create(
                Kind::User,
                obj(json!({"userName": "bob"})),
                false,
                IdStyle::Uuid,
            )
            .expect("create");
        let b = b["id"].as_str().expect("id").to_string();
        let ops: Vec<PatchOp> = serde_json::from_value(
            json!([{"op": "replace", "path": "userName", "value": "alicia"}]),
        )
        .expect("ops");
        s.patch(Kind::User, &a, &ops, None, &|_| Ok(()))
            .expect("patch");
        assert!(ids(&mut s, Kind::User, r#"userName eq "alice""#).is_empty());
        assert_eq!(
            ids(&mut s, Kind::User, r#"userName eq "ALICIA""#),
            vec![a.clone()]
        );
        // The old name is free again; the new one is taken.
        assert!(s
            .create(
                Kind::User,
                obj(json!({"userName": "alice"})),
                false,
                IdStyle::Uuid
            )
            .is_ok());
        assert_eq!(
            s.create(
                Kind::User,
                obj(json!({"userName": "Alicia"})),
                false,
                IdStyle::Uuid
            )
            .map(|_| ()),
            Err(StoreError::Conflict(
                "userName \"Alicia\" is already taken".into()
            ))
        );

        let (g, _) = s
            .create(
                Kind::Group,
                obj(json!({"displayName": "Eng", "members": [{"value": a}, {"value": b}, {"value": a}]})),
                false,
                IdStyle::Uuid,
            )
            .expect("group");
        let g = g["id"].as_str().expect("id").to_string();
        assert_eq!(
            s.get(Kind::Group, &g)
                .and_then(|g| g["members"].as_array().map(Vec::len)),
            Some(2)
        );
        assert_eq!(
            ids(&mut s, Kind::User, &format!(r#"groups.value eq "{g}""#)),
            vec![a.clone(), b.clone()]
        );
        assert_eq!(
            ids(&mut s, Kind::Group, &format!(r#"members.value eq "{b}""#)),
            vec![g.clone()]
        );
        assert!(matches!(
            s.create(
                Kind::Group,
                obj(json!({"displayName": "X", "members": [{"value": "nobody"}]})),
                false,
                IdStyle::Uuid
            ),
            Err(StoreError::Invalid { .. })
        ));

        let muts = s.delete(Kind::User, &b, None).expect("delete");
        assert_eq!(muts.len(), 2, "the user and the group it left");
        assert!(ids(&mut s, Kind::Group, &format!(r#"members.value eq "{b}""#)).is_empty());
        assert_eq!(
            ids(&mut s, Kind::User, &format!(r#"groups.value eq "{g}""#)),
            vec![a.clone()]
        );
        assert_eq!(s.len(Kind::User), 2);
        assert_eq!(s.delete(Kind::User, &b, None), Err(StoreError::NotFound));
        assert_eq!(
            s.delete(Kind::User, &a, Some("W/\"1\"")),
            Err(StoreError::Precondition),
            "alice was renamed, so she is at version 2"
        );
    }

    #[test]
    fn cursor_pages_cover_everything_once() {
        let mut s = Store::new(true);
        for i in 0..25 {
            s.create(
                Kind::Group,
                obj(json!({"displayName": format!("g{i}")})),
                false,
                IdStyle::Aws,
            )
            .expect("group");
        }
        let (mut seen, mut cursor) = (Vec::new(), String::new());
        loop {
            let (items, next) = s.cursor_page(Kind::Group, None, &cursor, 10).expect("page");
            seen.extend(
                items
                    .iter()
                    .filter_map(|g| g["displayName"].as_str().map(str::to_string)),
            );
            match next {
                Some(n) => cursor = n,
                None => break,
            }
        }
        assert_eq!(seen, (0..25).map(|i| format!("g{i}")).collect::<Vec<_>>());
        assert!(s
            .cursor_page(Kind::Group, None, "no-such-cursor", 10)
            .is_err());
        assert!(matches!(
            s.create(
                Kind::Group,
                obj(json!({"displayName": "G1"})),
                false,
                IdStyle::Aws
            ),
            Err(StoreError::Conflict(_))
        ));
    }
}
