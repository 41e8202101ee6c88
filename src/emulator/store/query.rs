//! Answering list requests from the store: which entries a filter can be answered from by
//! index, filter evaluation over the rest, and index- and cursor-style pages. Apart from the
//! mutations in `store` because this is where the O(page) promise is kept or broken.

use super::{lower, member_ids, str_at, CursorPage, Store, StoreError};
use crate::emulator::filter::{self, CompOp, Filter};
use crate::emulator::schema::Kind;
use serde_json::{json, Map, Value};
use std::borrow::Cow;

impl Store {
    /// Ids a filter can be answered from by index, in store order; `None` when it needs a scan.
    fn candidates(&self, kind: Kind, f: &Filter) -> Option<Vec<String>> {
        let ids: Vec<String> = match f {
            Filter::Compare {
                path,
                op: CompOp::Eq,
                value: Value::String(v),
            } => {
                if let Some(u) = &path.urn {
                    if !u.eq_ignore_ascii_case(kind.core_schema()) {
                        return None;
                    }
                }
                match (kind, path.key().as_str()) {
                    (_, "id") => vec![v.clone()],
                    (Kind::User, "username") => self
                        .user_names
                        .get(&lower(v))
                        .cloned()
                        .into_iter()
                        .collect(),
                    (Kind::User, "externalid") => {
                        self.user_external.get(v).cloned().into_iter().collect()
                    }
                    (Kind::Group, "externalid") => {
                        self.group_external.get(v).cloned().into_iter().collect()
                    }
                    (Kind::Group, "displayname") => self
                        .group_names
                        .get(&lower(v))
                        .map(|s| s.iter().cloned().collect())
                        .unwrap_or_default(),
                    (Kind::User, "groups.value" | "groups") => self
                        .groups
                        .get(v)
                        .map(|g| member_ids(g).into_iter().collect())
                        .unwrap_or_default(),
                    (Kind::Group, "members.value" | "members") => self
                        .member_of
                        .get(v)
                        .map(|s| s.iter().cloned().collect())
                        .unwrap_or_default(),
                    _ => return None,
                }
            }
            Filter::And(a, b) => match (self.candidates(kind, a), self.candidates(kind, b)) {
                (Some(x), Some(y)) => {
                    if x.len() <= y.len() {
                        x
                    } else {
                        y
                    }
                }
                (Some(x), None) | (None, Some(x)) => x,
                (None, None) => return None,
            },
            Filter::Or(a, b) => {
                let mut x = self.candidates(kind, a)?;
                x.extend(self.candidates(kind, b)?);
                x
            }
            _ => return None,
        };
        let map = self.map(kind);
        let mut pos: Vec<(usize, String)> = ids
            .into_iter()
            .filter_map(|id| map.get_index_of(&id).map(|p| (p, id)))
            .collect();
        pos.sort();
        pos.dedup();
        Some(pos.into_iter().map(|(_, id)| id).collect())
    }

    /// The resource as filters see it: users with their `groups` filled in.
    fn eval_view<'a>(
        &self,
        kind: Kind,
        res: &'a Map<String, Value>,
        needs_groups: bool,
    ) -> Cow<'a, Map<String, Value>> {
        if kind == Kind::User && needs_groups {
            let mut r = res.clone();
            let id = str_at(res, "id").unwrap_or_default();
            let gs: Vec<Value> = self
                .groups_of(id)
                .into_iter()
                .map(|(gid, g)| json!({"value": gid, "display": g.get("displayName")}))
                .collect();
            r.insert("groups".into(), Value::Array(gs));
            Cow::Owned(r)
        } else {
            Cow::Borrowed(res)
        }
    }

    /// Ids matching a filter, in store order. Indexed filters touch only their candidates.
    fn matching(&mut self, kind: Kind, f: &Filter) -> Vec<String> {
        let needs_groups = mentions(f, "groups");
        let (ids, visited): (Vec<String>, u64) = match self.candidates(kind, f) {
            Some(c) => {
                let n = c.len() as u64;
                let kept = c
                    .into_iter()
                    .filter(|id| {
                        self.get(kind, id).is_some_and(|r| {
                            filter::matches(f, &self.eval_view(kind, r, needs_groups))
                        })
                    })
                    .collect();
                (kept, n)
            }
            None => {
                let map = self.map(kind);
                let kept = map
                    .iter()
                    .filter(|(_, r)| filter::matches(f, &self.eval_view(kind, r, needs_groups)))
                    .map(|(id, _)| id.clone())
                    .collect();
                (kept, map.len() as u64)
            }
        };
        self.visited += visited;
        ids
    }

    /// An index-paged list: (totalResults, the page). `start` is 0-based.
    pub fn page(
        &mut self,
        kind: Kind,
        f: Option<&Filter>,
        start: usize,
        count: usize,
    ) -> (usize, Vec<Map<String, Value>>) {
        self.sweep(kind);
        match f {
            None => {
                let map = self.map(kind);
                let total = map.len();
                let end = start.saturating_add(count).min(total);
                let items: Vec<_> = (start.min(end)..end)
                    .filter_map(|i| map.get_index(i).map(|(_, r)| r.clone()))
                    .collect();
                self.visited += items.len() as u64;
                (total, items)
            }
            Some(f) => {
                let ids = self.matching(kind, f);
                let total = ids.len();
                let items = ids
                    .iter()
                    .skip(start)
                    .take(count)
                    .filter_map(|id| self.get(kind, id).cloned())
                    .collect();
                (total, items)
            }
        }
    }

    /// A cursor-paged list: the page and the cursor of the next one. The cursor is the id of the
    /// first resource of the next page.
    pub fn cursor_page(
        &mut self,
        kind: Kind,
        f: Option<&Filter>,
        cursor: &str,
        count: usize,
    ) -> Result<CursorPage, StoreError> {
        self.sweep(kind);
        let bad = || StoreError::invalid("invalidValue", "The cursor is invalid or has expired.");
        match f {
            None => {
                let map = self.map(kind);
                let start = if cursor.is_empty() {
                    0
                } else {
                    map.get_index_of(cursor).ok_or_else(bad)?
                };
                let end = start.saturating_add(count).min(map.len());
                let items: Vec<_> = (start..end)
                    .filter_map(|i| map.get_index(i).map(|(_, r)| r.clone()))
                    .collect();
                let next = map.get_index(end).map(|(id, _)| id.clone());
                self.visited += items.len() as u64;
                Ok((items, next))
            }
            Some(f) => {
                let ids = self.matching(kind, f);
                let start = if cursor.is_empty() {
                    0
                } else {
                    ids.iter().position(|i| i == cursor).ok_or_else(bad)?
                };
                let end = start.saturating_add(count).min(ids.len());
                let items = ids[start..end]
                    .iter()
                    .filter_map(|id| self.get(kind, id).cloned())
                    .collect();
                Ok((items, ids.get(end).cloned()))
            }
        }
    }
}

/// Whether a filter mentions an attribute (to know when users need their groups computed).
fn mentions(f: &Filter, attr: &str) -> bool {
    match f {
        Filter::Compare { path, .. } | Filter::Present(path) => {
            path.attr.eq_ignore_ascii_case(attr)
        }
        Filter::ValuePath { path, .. } => path.attr.eq_ignore_ascii_case(attr),
        Filter::And(a, b) | Filter::Or(a, b) => mentions(a, attr) || mentions(b, attr),
        Filter::Not(a) => mentions(a, attr),
    }
}
