//! The order of a plan and what `--only` / `--resource` keep of it.
//!
//! Changes sort by phase (the order apply runs them in, docs/contract.md#phases), then address; renames
//! that take a value another rename releases are ordered after it, and rename cycles become
//! conflicts. Selection keeps the creates a selected change depends on.

use super::super::document::{Action, Address, Change, ObjectKind, Phase, Reason};
use super::super::PlanOptions;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

/// Order the changes for apply, then keep what `opts` selects.
pub(super) fn order_and_select(
    mut changes: Vec<Change>,
    user_unique: &[String],
    group_unique: &[String],
    opts: &PlanOptions,
    target: &str,
) -> Vec<Change> {
    order_renames(&mut changes, user_unique, group_unique);
    changes.sort_by(|a, b| {
        a.phase
            .cmp(&b.phase)
            .then_with(|| a.address.cmp(&b.address))
            .then_with(|| a.actions.cmp(&b.actions))
    });
    select(changes, opts, target)
}

/// Renames that take a unique value (userName, primary email, group displayName) another rename
/// releases depend on that rename, so apply runs them in order (docs/contract.md#phases). Renames that
/// form a cycle (two users swapping userNames), and renames waiting on such a cycle, cannot be
/// ordered: they become conflicts, reported and never sent.
fn order_renames(changes: &mut [Change], user_unique: &[String], group_unique: &[String]) {
    let unique = |kind: ObjectKind| match kind {
        ObjectKind::User => user_unique,
        ObjectKind::Group => group_unique,
    };
    let value = |m: &Map<String, Value>, p: &str| {
        m.get(p)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_lowercase)
    };
    let renames: Vec<usize> = (0..changes.len())
        .filter(|i| changes[*i].phase == Phase::Rename)
        .collect();
    if renames.len() < 2 {
        return;
    }
    let mut holders: HashMap<(ObjectKind, &str, String), usize> = HashMap::new();
    for &i in &renames {
        let c = &changes[i];
        for p in unique(c.kind) {
            if let Some(v) = value(&c.before, p) {
                holders.insert((c.kind, p.as_str(), v), i);
            }
        }
    }
    // waits[i]: the renames change i waits for.
    let mut waits: HashMap<usize, Vec<usize>> = HashMap::new();
    for &i in &renames {
        let c = &changes[i];
        for p in unique(c.kind) {
            if let Some(j) = value(&c.after, p).and_then(|v| holders.get(&(c.kind, p.as_str(), v)))
            {
                if *j != i && !waits.get(&i).is_some_and(|w| w.contains(j)) {
                    waits.entry(i).or_default().push(*j);
                }
            }
        }
    }
    if waits.is_empty() {
        return;
    }
    // Peel off renames whose waits are all ordered; what is left is a cycle or behind one.
    let mut ordered: HashSet<usize> = renames
        .iter()
        .copied()
        .filter(|i| !waits.contains_key(i))
        .collect();
    loop {
        let next: Vec<usize> = waits
            .iter()
            .filter(|(i, w)| !ordered.contains(i) && w.iter().all(|j| ordered.contains(j)))
            .map(|(i, _)| *i)
            .collect();
        if next.is_empty() {
            break;
        }
        ordered.extend(next);
    }
    let mut stuck: Vec<usize> = waits
        .keys()
        .copied()
        .filter(|i| !ordered.contains(i))
        .collect();
    stuck.sort_unstable();
    for (i, w) in &waits {
        if ordered.contains(i) {
            let deps: Vec<Address> = w.iter().map(|j| changes[*j].address.clone()).collect();
            let c = &mut changes[*i];
            for d in deps {
                if !c.depends_on.contains(&d) {
                    c.depends_on.push(d);
                }
            }
            c.depends_on.sort();
        }
    }
    let names: Vec<String> = stuck.iter().map(|i| changes[*i].name.clone()).collect();
    for &i in &stuck {
        let c = &mut changes[i];
        c.phase = Phase::Conflict;
        c.detail = Some(format!(
            "its rename takes a value another rename releases, in a cycle ({}): rename one of them to a temporary value first",
            names.join(", ")
        ));
        c.reason = Reason::Conflict;
        c.actions.clear();
        c.operations.clear();
        c.precondition = None;
        c.depends_on.clear();
        c.before.clear();
        c.after.clear();
        c.unchanged_attributes = 0;
    }
}

/// `--only` and `--resource`: keep the selected changes and, as Terraform's `-target` does, the
/// creates they depend on (a membership cannot name a user that is never created).
fn select(changes: Vec<Change>, opts: &PlanOptions, target: &str) -> Vec<Change> {
    if opts.only.is_none() && opts.resources.is_empty() {
        return changes;
    }
    // An address given without its `<target>:` is read in this target; text that is no
    // address selects nothing.
    let wanted: Vec<Address> = opts
        .resources
        .iter()
        .filter_map(|r| Address::parse_in(target, r).ok())
        .collect();
    let listed = |addr: &Address| opts.resources.is_empty() || wanted.contains(addr);
    let mut keep: Vec<bool> = changes
        .iter()
        .map(|c| opts.only.is_none_or(|k| k == c.kind) && listed(&c.address))
        .collect();
    let mut creates: HashMap<&str, usize> = HashMap::new();
    for (i, c) in changes.iter().enumerate() {
        if c.actions.contains(&Action::Create) {
            creates.insert(c.address.as_str(), i);
        }
    }
    let mut stack: Vec<usize> = (0..changes.len()).filter(|i| keep[*i]).collect();
    while let Some(i) = stack.pop() {
        for dep in &changes[i].depends_on {
            if let Some(&j) = creates.get(dep.as_str()) {
                if !keep[j] {
                    keep[j] = true;
                    stack.push(j);
                }
            }
        }
    }
    changes
        .into_iter()
        .zip(keep)
        .filter_map(|(c, k)| k.then_some(c))
        .collect()
}
