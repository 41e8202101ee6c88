//! What a reviewer needs beside the changes and that apply never reads: the names behind
//! reference values (a manager's live id), why a created user is in the target and why an
//! unassigned one is no longer, and the live objects the plan leaves alone, named
//! (docs/contract.md#text-and-markdown).
//!
//! Everything here is computed after the changes are ordered and selected, from what the
//! planner already holds, so the changes apply sends are exactly those of a plan without notes
//! and the checksum does not cover them.

use super::Planner;
use crate::fasthash::FastMap;
use crate::mapping::RuleKind;
use crate::plan::document::{
    Action, Change, LeftAlone, ObjectKind, Reason, RefNames, Via, WhyLeftAlone,
};
use serde_json::Value;

impl Planner<'_> {
    /// Fill in the notes of the ordered changes: reference names and `via`.
    pub(super) fn annotate(&self, changes: &mut [Change]) {
        self.name_references(changes);
        self.assigned_via(changes);
    }

    /// The live user's name: the directory user matched to it, else its live userName.
    fn live_user_name(&self, l: usize) -> &str {
        match self.users.matching.live_owner[l] {
            Some(d) => &self.desired.users[d].user_name,
            None => self.observed.users[l].user_name(),
        }
    }

    fn name_references(&self, changes: &mut [Change]) {
        let ref_paths: Vec<&str> = self
            .compiled
            .user
            .iter()
            .filter(|r| r.kind == RuleKind::UserRef)
            .map(|r| r.path_text.as_str())
            .collect();
        if ref_paths.is_empty() {
            return;
        }
        // A user this plan creates is named by its create's address.
        let created: FastMap<String, String> = changes
            .iter()
            .filter(|c| c.kind == ObjectKind::User && c.actions.contains(&Action::Create))
            .map(|c| (c.address.as_str().to_string(), c.name.clone()))
            .collect();
        let name_of = |v: Option<&Value>| -> Option<String> {
            match v? {
                Value::String(id) => {
                    let l = *self.live_user_by_id.get(id.as_str())?;
                    Some(self.live_user_name(l).to_string())
                }
                Value::Object(o) => created.get(o.get("$user_ref")?.as_str()?).cloned(),
                _ => None,
            }
        };
        for c in changes.iter_mut().filter(|c| c.kind == ObjectKind::User) {
            for p in &ref_paths {
                if !c.before.contains_key(*p) && !c.after.contains_key(*p) {
                    continue;
                }
                let names = RefNames {
                    before: name_of(c.before.get(*p)),
                    after: name_of(c.after.get(*p)),
                };
                if names.before.is_some() || names.after.is_some() {
                    c.notes.refs.insert((*p).to_string(), names);
                }
            }
        }
    }

    /// `via` on user creates (what assigns the user) and on `unassigned` deactivations (the
    /// directory groups whose live groups still hold the user, which no longer assign it).
    fn assigned_via(&self, changes: &mut [Change]) {
        let directory_user = |c: &Change| {
            c.address
                .directory_id()
                .and_then(|id| self.user_by_id.get(id).copied())
        };
        let mut creates: FastMap<usize, Vec<Via>> = FastMap::default();
        let mut leavers: FastMap<String, Vec<Via>> = FastMap::default();
        for c in changes.iter().filter(|c| c.kind == ObjectKind::User) {
            if c.actions.contains(&Action::Create) {
                if let Some(d) = directory_user(c) {
                    creates.insert(d, Vec::new());
                }
            } else if c.reason == Reason::Unassigned {
                if let Some(id) = &c.id {
                    leavers.insert(id.clone(), Vec::new());
                }
            }
        }
        if creates.is_empty() && leavers.is_empty() {
            return;
        }
        let assign = &self.target.assign;
        if assign.all {
            creates.values_mut().for_each(|v| v.push(Via::All));
        } else if !creates.is_empty() {
            for (g, pos) in self.group_assigned.iter().enumerate() {
                let Some(pos) = pos else { continue };
                for u in &self.members[*pos] {
                    if let Some(v) = creates.get_mut(u) {
                        v.push(Via::Group {
                            name: self.desired.groups[g].name.clone(),
                        });
                    }
                }
            }
            for (r, _) in &assign.users {
                let named = self.user_by_id.get(r.as_str()).copied().or_else(|| {
                    self.desired
                        .users
                        .iter()
                        .position(|u| u.user_name.eq_ignore_ascii_case(r))
                });
                if let Some(v) = named.and_then(|d| creates.get_mut(&d)) {
                    if !v.contains(&Via::User) {
                        v.push(Via::User);
                    }
                }
            }
        }
        if !leavers.is_empty() {
            for (l, lg) in self.observed.groups.iter().enumerate() {
                let Some(g) = self.groups.matching.live_owner[l] else {
                    continue;
                };
                for m in lg.members.iter().flatten() {
                    if let Some(v) = leavers.get_mut(m.as_str()) {
                        v.push(Via::Group {
                            name: self.desired.groups[g].name.clone(),
                        });
                    }
                }
            }
        }
        for c in changes.iter_mut().filter(|c| c.kind == ObjectKind::User) {
            let via = if c.actions.contains(&Action::Create) {
                directory_user(c).and_then(|d| creates.get(&d))
            } else if c.reason == Reason::Unassigned {
                c.id.as_deref().and_then(|id| leavers.get(id))
            } else {
                None
            };
            if let Some(via) = via {
                let mut via = via.clone();
                via.sort();
                via.dedup();
                c.notes.via = via;
            }
        }
    }

    /// The live objects left alone, named: by why, then address.
    pub(super) fn left_alone(&self) -> Vec<LeftAlone> {
        let mut protected: Vec<(ObjectKind, usize)> =
            self.untouched.protected.iter().copied().collect();
        protected.sort_unstable();
        let mut out: Vec<LeftAlone> = self
            .untouched
            .objects
            .iter()
            .copied()
            .chain(
                protected
                    .into_iter()
                    .map(|(k, l)| (k, l, WhyLeftAlone::Protected)),
            )
            .map(|(kind, l, why)| match kind {
                ObjectKind::User => LeftAlone {
                    address: self.live_user_address(l),
                    name: self.observed.users[l].user_name().to_string(),
                    why,
                },
                ObjectKind::Group => LeftAlone {
                    address: self.live_group_address(l),
                    name: self.observed.groups[l].display_name().to_string(),
                    why,
                },
            })
            .collect();
        out.sort_by(|a, b| a.why.cmp(&b.why).then_with(|| a.address.cmp(&b.address)));
        out
    }
}
