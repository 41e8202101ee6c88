//! Reading the memberships of the groups roster manages. A generic server lists a group's
//! members with the group, so they cost nothing extra. AWS answers `members: []` on every group,
//! so memberships must be read by filter: per managed group (`GET /Users?filter=groups.value eq
//! "GID"`, paged) or per user (`GET /Groups?filter=members.value eq "UID"`), whichever costs
//! fewer requests (docs/contract.md#aws-iam-identity-center). Only groups roster manages are read. Reads run concurrently up to
//! the client's parallelism, within its read budget.

use crate::scim::client::ReadOnlyClient;
use crate::scim::dialect::Capabilities;
use crate::scim::error::ScimClientError;
use crate::scim::filter::Filter;
use crate::scim::resource::{Group, User};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use tokio::task::JoinSet;

/// Group id -> ids of its member users.
pub type Memberships = BTreeMap<String, BTreeSet<String>>;

/// How memberships are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// From the `members` the group listing already returned: no request.
    FromGroups,
    /// One paged `ListUsers` filtered by `groups.value` per managed group.
    PerGroup,
    /// One `ListGroups` filtered by `members.value` per user.
    PerUser,
}

/// Estimated request counts of the two filter strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    pub per_group: u64,
    pub per_user: u64,
}

/// Every managed group costs at least one request; the pages beyond the first are bounded by
/// the members they hold, estimated as one managed group per user. A user is in few groups, so
/// per-user costs one request each.
pub fn estimate(managed_groups: usize, users: usize, page_size: u32) -> Estimate {
    let page = u64::from(page_size.max(1));
    let groups = managed_groups as u64;
    let users = users as u64;
    let extra_pages = if groups == 0 { 0 } else { users / page };
    Estimate {
        per_group: groups + extra_pages,
        per_user: users,
    }
}

/// The cheaper strategy for a server with these capabilities.
pub fn choose_strategy(caps: &Capabilities, managed_groups: usize, users: usize) -> Strategy {
    if caps.groups_list_members {
        return Strategy::FromGroups;
    }
    let e = estimate(managed_groups, users, caps.page_size);
    if e.per_group <= e.per_user {
        Strategy::PerGroup
    } else {
        Strategy::PerUser
    }
}

/// Reads the members of `managed_group_ids`. `listed_groups` is the group listing the caller
/// already has (used as is where the dialect trusts it); `user_ids` are the live users' ids (for
/// the per-user strategy and its estimate).
pub async fn read_memberships(
    client: &ReadOnlyClient,
    managed_group_ids: &[String],
    user_ids: &[String],
    listed_groups: &[Group],
) -> Result<(Strategy, Memberships), ScimClientError> {
    let strategy = choose_strategy(
        client.capabilities(),
        managed_group_ids.len(),
        user_ids.len(),
    );
    let mut out: Memberships = managed_group_ids
        .iter()
        .map(|g| (g.clone(), BTreeSet::new()))
        .collect();
    if managed_group_ids.is_empty() {
        return Ok((strategy, out));
    }
    match strategy {
        Strategy::FromGroups => {
            let mut missing = Vec::new();
            for gid in managed_group_ids {
                match listed_groups.iter().find(|g| g.id.as_deref() == Some(gid)) {
                    Some(g) => {
                        out.insert(
                            gid.clone(),
                            g.members.iter().map(|m| m.value.clone()).collect(),
                        );
                    }
                    None => missing.push(gid.clone()),
                }
            }
            let read = run_bounded(client, missing, |c, gid| async move {
                let g = c.get_group(&gid).await?;
                Ok((
                    gid,
                    g.members.into_iter().map(|m| m.value).collect::<Vec<_>>(),
                ))
            })
            .await?;
            for (gid, members) in read {
                out.insert(gid, members.into_iter().collect());
            }
        }
        Strategy::PerGroup => {
            let read = run_bounded(client, managed_group_ids.to_vec(), |c, gid| async move {
                let f = Filter::eq("groups.value", &gid);
                let users = c.list_users(Some(&f)).await?;
                Ok((
                    gid,
                    users
                        .into_iter()
                        .filter_map(|u: User| u.id)
                        .collect::<Vec<_>>(),
                ))
            })
            .await?;
            for (gid, members) in read {
                out.insert(gid, members.into_iter().collect());
            }
        }
        Strategy::PerUser => {
            let managed: HashSet<&String> = managed_group_ids.iter().collect();
            let read = run_bounded(client, user_ids.to_vec(), |c, uid| async move {
                let f = Filter::eq("members.value", &uid);
                let groups = c.list_groups(Some(&f)).await?;
                Ok((
                    uid,
                    groups.into_iter().filter_map(|g| g.id).collect::<Vec<_>>(),
                ))
            })
            .await?;
            for (uid, groups) in read {
                for gid in groups {
                    if managed.contains(&gid) {
                        out.entry(gid).or_default().insert(uid.clone());
                    }
                }
            }
        }
    }
    Ok((strategy, out))
}

/// Runs `f` over `items` with at most `parallelism` tasks alive; the first error aborts the rest
/// (dropping the JoinSet cancels them).
async fn run_bounded<F, Fut, R>(
    client: &ReadOnlyClient,
    items: Vec<String>,
    f: F,
) -> Result<Vec<R>, ScimClientError>
where
    F: Fn(ReadOnlyClient, String) -> Fut,
    Fut: std::future::Future<Output = Result<R, ScimClientError>> + Send + 'static,
    R: Send + 'static,
{
    let limit = client.parallelism();
    let mut set = JoinSet::new();
    let mut results = Vec::with_capacity(items.len());
    let mut items = items.into_iter();
    loop {
        while set.len() < limit {
            match items.next() {
                Some(item) => {
                    set.spawn(f(client.clone(), item));
                }
                None => break,
            }
        }
        match set.join_next().await {
            Some(Ok(r)) => results.push(r?),
            Some(Err(e)) => {
                return Err(ScimClientError::Setup(format!(
                    "a membership read task failed: {e}"
                )))
            }
            None => return Ok(results),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::dialect::capabilities;
    use crate::scim::dialect::Dialect;

    #[test]
    fn generic_uses_listed_members() {
        assert_eq!(
            choose_strategy(&capabilities(Dialect::Generic), 10, 1000),
            Strategy::FromGroups
        );
    }

    #[test]
    fn aws_picks_fewer_requests() {
        let aws = capabilities(Dialect::AwsIdentityCenter);
        // 5 managed groups, 2,000 users: 5 + 20 pages beats 2,000 per-user reads.
        assert_eq!(choose_strategy(&aws, 5, 2000), Strategy::PerGroup);
        // 500 managed groups, 50 users: 50 per-user reads beat 500.
        assert_eq!(choose_strategy(&aws, 500, 50), Strategy::PerUser);
        let e = estimate(5, 2000, 100);
        assert_eq!(
            e,
            Estimate {
                per_group: 25,
                per_user: 2000
            }
        );
    }
}
