//! Group membership: the members a group's create carries (up to the dialect's limit) and the
//! chunks that follow it, and the add / remove diff of an owned live group's members.
//!
//! Membership is diffed with stamps on the live users (one `u32` per live user, reused across
//! groups) rather than a set per group, so 100,000 groups cost no allocation each.

use super::change::blank_change;
use super::{Planner, TargetRef};
use crate::config::model::MembersMode;
use crate::plan::document::{
    Action, Address, Change, MemberRef, ObjectKind, Operation, Phase, Reason,
};
use crate::plan::{shape, PlanError};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

impl Planner<'_> {
    /// The desired members of an assigned group that can be written: active, not ignored or
    /// released, and present in the target or created by this plan. Sorted by user name.
    pub(super) fn desired_members(&self, pos: usize) -> Vec<(usize, TargetRef)> {
        let mut out: Vec<(usize, TargetRef)> = self.members[pos]
            .iter()
            .filter(|u| self.desired.users[**u].active)
            .filter_map(|u| self.target_ref[*u].clone().map(|r| (*u, r)))
            .collect();
        out.sort_by(|a, b| {
            self.desired.users[a.0]
                .user_name
                .cmp(&self.desired.users[b.0].user_name)
                .then(a.0.cmp(&b.0))
        });
        out
    }

    pub(super) fn member_ref(&self, u: usize, r: &TargetRef) -> MemberRef {
        match r {
            TargetRef::Live(l) => MemberRef {
                name: self.desired.users[u].user_name.clone(),
                id: Some(self.observed.users[*l].id.clone()),
                created_by: None,
            },
            TargetRef::Created(addr) => MemberRef {
                name: self.desired.users[u].user_name.clone(),
                id: None,
                created_by: Some(addr.clone()),
            },
        }
    }

    pub(super) fn group_create(&mut self, g: usize, pos: usize) {
        let group = &self.desired.groups[g];
        let address = self.group_address(g);
        let mut body = self.compiled.group_resource(&self.groups.rendered[g]);
        let mut after = Map::new();
        for (rule, v) in self
            .compiled
            .group
            .iter()
            .zip(&self.groups.rendered[g].values)
        {
            if let Some(v) = v {
                after.insert(rule.path_text.clone(), v.clone());
            }
        }
        let mode = self.target.policy.members;
        let members = if mode == MembersMode::Off {
            Vec::new()
        } else {
            self.desired_members(pos)
        };
        let limit = shape::create_member_limit(self.compiled.dialect).unwrap_or(usize::MAX);
        let (in_body, rest) = members.split_at(members.len().min(limit));
        let mut depends_on = BTreeSet::new();
        if !in_body.is_empty() {
            let values: Vec<Value> = in_body
                .iter()
                .map(|(u, r)| {
                    let m = self.member_ref(*u, r);
                    if let Some(addr) = &m.created_by {
                        depends_on.insert(addr.clone());
                    }
                    shape::member_value(m.id.as_deref(), m.created_by.as_ref().map(Address::as_str))
                })
                .collect();
            body.insert("members".into(), Value::Array(values));
        }
        let mut change = blank_change(
            address.clone(),
            group.name.clone(),
            ObjectKind::Group,
            None,
            vec![Action::Create],
            Reason::Missing,
        );
        change.after = after;
        change.members_added = in_body
            .iter()
            .map(|(u, r)| self.member_ref(*u, r))
            .collect();
        change.operations = vec![Operation::Create { body }];
        change.depends_on = depends_on.into_iter().collect();
        change.precondition = Some(self.groups.create_precondition.clone());
        self.push(Phase::CreateGroups, change);
        if !rest.is_empty() {
            let refs: Vec<MemberRef> = rest.iter().map(|(u, r)| self.member_ref(*u, r)).collect();
            let change = self.add_members_change(
                address.clone(),
                group.name.clone(),
                None,
                refs,
                Some(address),
            );
            self.push(Phase::AddMembers, change);
        }
    }

    pub(super) fn add_members_change(
        &self,
        address: Address,
        name: String,
        id: Option<String>,
        refs: Vec<MemberRef>,
        group_create: Option<Address>,
    ) -> Change {
        let mut depends_on: BTreeSet<Address> = group_create.into_iter().collect();
        let values = refs
            .iter()
            .map(|m| {
                if let Some(a) = &m.created_by {
                    depends_on.insert(a.clone());
                }
                shape::member_value(m.id.as_deref(), m.created_by.as_ref().map(Address::as_str))
            })
            .collect();
        let mut change = blank_change(
            address,
            name,
            ObjectKind::Group,
            id,
            vec![Action::AddMembers],
            Reason::MembershipDrift,
        );
        change.operations = shape::add_member_patches(self.compiled.dialect, values);
        change.members_added = refs;
        change.depends_on = depends_on.into_iter().collect();
        change
    }

    /// Membership of an owned, assigned, live group, per `groups.members`.
    pub(super) fn group_members(
        &mut self,
        g: usize,
        pos: usize,
        l: usize,
    ) -> Result<(), PlanError> {
        let mode = self.target.policy.members;
        if mode == MembersMode::Off {
            return Ok(());
        }
        let lg = &self.observed.groups[l];
        let Some(live_members) = lg.members.as_ref() else {
            return Err(PlanError::MembersNotRead {
                group: lg.display_name().to_string(),
                id: lg.id.clone(),
            });
        };
        // Set membership by stamping live users with this group's number: no set per group.
        let stamp = u32::try_from(pos + 1).unwrap_or(u32::MAX);
        let mut in_live = std::mem::take(&mut self.in_live_mark);
        let mut wanted = std::mem::take(&mut self.wanted_mark);
        let mut live_idx: Vec<usize> = Vec::with_capacity(live_members.len());
        let mut unknown: Vec<&str> = Vec::new();
        for m in live_members {
            match self.live_user_by_id.get(m.as_str()) {
                Some(&i) if in_live[i] != stamp => {
                    in_live[i] = stamp;
                    live_idx.push(i);
                }
                Some(_) => {}
                None => unknown.push(m),
            }
        }
        let mut adds = Vec::new();
        for &u in &self.members[pos] {
            if !self.desired.users[u].active {
                continue;
            }
            match &self.target_ref[u] {
                Some(TargetRef::Live(lu)) => {
                    wanted[*lu] = stamp;
                    if in_live[*lu] != stamp {
                        adds.push(self.member_ref(u, &TargetRef::Live(*lu)));
                    }
                }
                Some(r @ TargetRef::Created(_)) => adds.push(self.member_ref(u, r)),
                None => {}
            }
        }
        adds.sort();
        let mut removes: Vec<(String, String)> = Vec::new();
        if mode == MembersMode::Authoritative {
            for lu in live_idx {
                if wanted[lu] == stamp {
                    continue;
                }
                // Ignored, released and conflicting users are never written; an inactive
                // directory user's memberships stay as they are.
                if self.users.live_ignored[lu]
                    || self.users.live_released[lu]
                    || self.users.matching.live_conflicted[lu]
                {
                    continue;
                }
                let owner = self.users.matching.live_owner[lu];
                if owner.is_some_and(|d| !self.desired.users[d].active) {
                    continue;
                }
                if self.is_protected_user(owner, lu) {
                    self.untouched.protected.insert((ObjectKind::User, lu));
                    continue;
                }
                let name = match owner {
                    Some(d) => self.desired.users[d].user_name.clone(),
                    None => self.observed.users[lu].user_name().to_string(),
                };
                removes.push((name, self.observed.users[lu].id.clone()));
            }
            // A member the user list does not show: nothing to classify it by, and the group
            // is authoritative.
            for m in unknown.iter().collect::<BTreeSet<_>>() {
                removes.push((m.to_string(), m.to_string()));
            }
            removes.sort();
        }
        self.in_live_mark = in_live;
        self.wanted_mark = wanted;
        let address = self.group_address(g);
        let name = self.desired.groups[g].name.clone();
        let id = lg.id.clone();
        if !adds.is_empty() {
            let change = self.add_members_change(
                address.clone(),
                name.clone(),
                Some(id.clone()),
                adds,
                None,
            );
            self.push(Phase::AddMembers, change);
        }
        if !removes.is_empty() {
            let ids: Vec<&str> = removes.iter().map(|(_, id)| id.as_str()).collect();
            let operations = shape::remove_member_patches(self.compiled.dialect, &ids);
            let mut change = blank_change(
                address,
                name,
                ObjectKind::Group,
                Some(id),
                vec![Action::RemoveMembers],
                Reason::MembershipDrift,
            );
            change.operations = operations;
            change.members_removed = removes
                .into_iter()
                .map(|(name, id)| MemberRef {
                    name,
                    id: Some(id),
                    created_by: None,
                })
                .collect();
            self.push(Phase::RemoveMembers, change);
        }
        Ok(())
    }
}
