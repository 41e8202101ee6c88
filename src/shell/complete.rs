//! Completeness as a proof: the consistency checks a read must pass before a plan may rest on
//! it. The pager proves each list adds up by its own account (totals, cursors, repeats); but a
//! server whose `totalResults` equals the page length, or whose cursor chain ends early, gives
//! an account that adds up and is still short. The groups' member lists are a second,
//! independent account of who exists: a member id that no read user (or group) resolves to
//! proves the user list incomplete, and planning on it would strip the unread users of their
//! memberships. So the read fails, naming the evidence.

use crate::scim::membership::Memberships;
use std::collections::HashSet;

/// Member ids quoted in an error, at most; the count says how many there were.
const QUOTED: usize = 5;

/// Evidence that a read is incomplete: a group whose members were not all read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the read is incomplete: group {group:?} has {count} member id(s) that no listed user or group \
     has ({}{}); the server's user list is short (a lying totalResults or a cursor chain that \
     ended early), so nothing is planned on it",
    .missing.join(", "),
    if *.count > .missing.len() { ", ..." } else { "" }
)]
pub struct Unresolved {
    /// The group's display name (its id when it has none).
    pub group: String,
    /// The first few unresolved member ids, sorted.
    pub missing: Vec<String>,
    /// How many member ids did not resolve.
    pub count: usize,
}

/// Checks that every member id of every read group resolves to a read user or group (nested
/// groups are members too). `names` gives a group id's display name for the message. The first
/// group, in id order, that fails is reported.
pub fn members_resolve<'a>(
    memberships: &Memberships,
    user_ids: impl IntoIterator<Item = &'a str>,
    groups: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), Unresolved> {
    let users: HashSet<&str> = user_ids.into_iter().collect();
    let groups: Vec<(&str, &str)> = groups.into_iter().collect();
    let group_ids: HashSet<&str> = groups.iter().map(|(id, _)| *id).collect();
    for (gid, members) in memberships {
        let missing: Vec<&String> = members
            .iter()
            .filter(|m| !users.contains(m.as_str()) && !group_ids.contains(m.as_str()))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let name = groups
            .iter()
            .find(|(id, _)| *id == gid.as_str())
            .map_or(gid.as_str(), |(_, n)| *n);
        return Err(Unresolved {
            group: name.to_string(),
            count: missing.len(),
            missing: missing.into_iter().take(QUOTED).cloned().collect(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memberships(pairs: &[(&str, &[&str])]) -> Memberships {
        pairs
            .iter()
            .map(|(g, ms)| (g.to_string(), ms.iter().map(|m| m.to_string()).collect()))
            .collect()
    }

    #[test]
    fn members_of_read_users_and_groups_resolve() {
        let m = memberships(&[("g1", &["u1", "u2", "g2"]), ("g2", &[])]);
        members_resolve(&m, ["u1", "u2"], [("g1", "eng"), ("g2", "ops")]).expect("complete");
    }

    #[test]
    fn an_unread_member_names_the_group_the_ids_and_the_count() {
        let ids: Vec<String> = (0..8).map(|i| format!("u{i}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let m = memberships(&[("g1", &refs)]);
        let e = members_resolve(&m, ["u0"], [("g1", "eng")]).expect_err("incomplete");
        assert_eq!(e.group, "eng");
        assert_eq!(e.count, 7);
        assert_eq!(e.missing, ["u1", "u2", "u3", "u4", "u5"]);
        let text = e.to_string();
        assert!(text.contains("group \"eng\" has 7 member id(s)"), "{text}");
        assert!(text.contains("u1, u2, u3, u4, u5, ..."), "{text}");
    }
}
