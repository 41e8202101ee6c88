//! Assignment: which directory users and groups a target receives, and each group's flattened
//! membership there (docs/configuration.md#assign).
//!
//! `assign.groups` sends those groups, the groups they include (transitively, by name or id) and
//! all their flattened members; `assign.users` sends users only; `all: true` sends everything.
//! Nested groups are always flattened, because AWS has none and generic servers disagree on them.
//! Unknown references are skipped here (the reference check reports them) and include cycles
//! terminate, so this is safe to run on any configuration that resolved.

use super::{Desired, Target};
// Fx-hashed: flattening looks up every membership of every assigned group by id, and SipHash
// was a visible share of `validate` on 500,000 memberships.
use crate::fasthash::{map_with_capacity, FastMap as HashMap};

/// What one target receives: indices into `desired.users` / `desired.groups`, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    pub users: Vec<usize>,
    pub groups: Vec<usize>,
    /// The flattened member user indices of each assigned group (sorted, parallel to `groups`),
    /// limited to users the target receives.
    pub members: Vec<Vec<usize>>,
}

/// Lookups by reference, built once per configuration.
struct Index<'a> {
    group_by_name: HashMap<&'a str, usize>,
    group_by_id: HashMap<&'a str, usize>,
    user_by_id: HashMap<&'a str, usize>,
    user_by_name: HashMap<String, usize>,
}

impl<'a> Index<'a> {
    fn new(desired: &'a Desired) -> Self {
        let mut group_by_name = map_with_capacity(desired.groups.len());
        let mut group_by_id = map_with_capacity(desired.groups.len());
        for (i, g) in desired.groups.iter().enumerate() {
            // The first definition wins; duplicates are reported elsewhere.
            group_by_name.entry(g.name.as_str()).or_insert(i);
            group_by_id.entry(g.id.as_str()).or_insert(i);
        }
        let mut user_by_id = map_with_capacity(desired.users.len());
        for (i, u) in desired.users.iter().enumerate() {
            user_by_id.entry(u.id.as_str()).or_insert(i);
        }
        Index {
            group_by_name,
            group_by_id,
            user_by_id,
            // Filled only if some reference is not an id (rare): see `user`.
            user_by_name: HashMap::default(),
        }
    }

    /// A group by name, else by id.
    fn group(&self, r: &str) -> Option<usize> {
        self.group_by_name
            .get(r)
            .or_else(|| self.group_by_id.get(r))
            .copied()
    }

    /// A user by id, else by user name (ignoring case).
    fn user(&mut self, desired: &Desired, r: &str) -> Option<usize> {
        if let Some(i) = self.user_by_id.get(r) {
            return Some(*i);
        }
        if self.user_by_name.is_empty() {
            for (i, u) in desired.users.iter().enumerate() {
                self.user_by_name
                    .entry(u.user_name.to_lowercase())
                    .or_insert(i);
            }
        }
        self.user_by_name.get(&r.to_lowercase()).copied()
    }
}

/// The users and groups `target` receives.
pub fn assigned(desired: &Desired, target: &Target) -> Assignment {
    let mut index = Index::new(desired);
    let n_users = desired.users.len();
    let n_groups = desired.groups.len();

    // Groups: the named ones and everything they include, transitively.
    let mut group_in = vec![false; n_groups];
    if target.assign.all {
        group_in.iter_mut().for_each(|g| *g = true);
    } else {
        let mut stack: Vec<usize> = target
            .assign
            .groups
            .iter()
            .filter_map(|(r, _)| index.group(r))
            .collect();
        while let Some(g) = stack.pop() {
            if std::mem::replace(&mut group_in[g], true) {
                continue;
            }
            for (r, _) in &desired.groups[g].include {
                if let Some(i) = index.group(r) {
                    if !group_in[i] {
                        stack.push(i);
                    }
                }
            }
        }
    }
    let groups: Vec<usize> = (0..n_groups).filter(|g| group_in[*g]).collect();

    // Flattened members of each assigned group. Stamps (the group's position + 1) stand in for
    // per-group visited sets, so no set is allocated per group.
    let mut user_stamp = vec![0usize; n_users];
    let mut group_stamp = vec![0usize; n_groups];
    let mut flattened: Vec<Vec<usize>> = Vec::with_capacity(groups.len());
    let mut stack = Vec::new();
    for (pos, &g) in groups.iter().enumerate() {
        let stamp = pos + 1;
        let mut members = Vec::new();
        stack.clear();
        stack.push(g);
        group_stamp[g] = stamp;
        while let Some(cur) = stack.pop() {
            let grp = &desired.groups[cur];
            for (r, _) in &grp.members {
                if let Some(u) = index.user(desired, r) {
                    if user_stamp[u] != stamp {
                        user_stamp[u] = stamp;
                        members.push(u);
                    }
                }
            }
            for (r, _) in &grp.include {
                if let Some(i) = index.group(r) {
                    if group_stamp[i] != stamp {
                        group_stamp[i] = stamp;
                        stack.push(i);
                    }
                }
            }
        }
        flattened.push(members);
    }

    // Users: every flattened member of an assigned group, plus those named directly.
    let mut user_in = vec![false; n_users];
    if target.assign.all {
        user_in.iter_mut().for_each(|u| *u = true);
    } else {
        for m in &flattened {
            for &u in m {
                user_in[u] = true;
            }
        }
        for (r, _) in &target.assign.users {
            if let Some(u) = index.user(desired, r) {
                user_in[u] = true;
            }
        }
    }
    let users: Vec<usize> = (0..n_users).filter(|u| user_in[*u]).collect();
    let members = flattened
        .into_iter()
        .map(|mut m| {
            m.retain(|u| user_in[*u]);
            m.sort_unstable();
            m
        })
        .collect();
    Assignment {
        users,
        groups,
        members,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::test_support::desired;

    const DIR: &str = r#"
users:
  - { id: e1, user_name: a }
  - { id: e2, user_name: b }
  - { id: e3, user_name: c }
  - { id: e4, user_name: d }
groups:
  - { name: eng, members: [e1], include: [platform, ghost] }
  - { id: g-plat, name: platform, members: [e2, nobody], include: [g-sre] }
  - { id: g-sre, name: sre, members: [e3], include: [eng] }
  - { name: sales, members: [e4] }
"#;

    fn with_target(assign: &str) -> Desired {
        desired(&format!(
            "{DIR}targets:\n  t:\n    type: embedded\n    assign: {assign}\n"
        ))
    }

    #[test]
    fn groups_bring_included_groups_and_flattened_members() {
        let d = with_target("{ groups: [platform] }");
        let a = assigned(&d, &d.targets[0]);
        // platform includes sre which includes eng (a cycle back through eng -> platform)
        assert_eq!(a.groups, vec![0, 1, 2]);
        assert_eq!(a.users, vec![0, 1, 2]);
        // every group in the cycle flattens to all three members
        assert_eq!(a.members, vec![vec![0, 1, 2]; 3]);
    }

    #[test]
    fn users_only_and_all() {
        let d = with_target("{ users: [e4, B, unknown] }");
        let a = assigned(&d, &d.targets[0]);
        assert_eq!(a.users, vec![1, 3]);
        assert!(a.groups.is_empty() && a.members.is_empty());

        let d = with_target("{ all: true }");
        let a = assigned(&d, &d.targets[0]);
        assert_eq!(a.users, vec![0, 1, 2, 3]);
        assert_eq!(a.groups, vec![0, 1, 2, 3]);
        assert_eq!(a.members[3], vec![3]);
    }

    #[test]
    fn leaf_group_gets_only_its_members() {
        let d = with_target("{ groups: [sales, nope] }");
        let a = assigned(&d, &d.targets[0]);
        assert_eq!(a.groups, vec![3]);
        assert_eq!(a.users, vec![3]);
        assert_eq!(a.members, vec![vec![3]]);
    }
}
