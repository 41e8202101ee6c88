//! The numbers of a target plan: the summary line, the request estimate at the target's rate,
//! the safety gates and the "not touching" counts, all computed from the ordered changes.

use super::super::document::{
    Action, Change, NotTouching, ObjectKind, Operation, Reason, Requests, SafetyGate, Summary,
    Tally, TargetPlan, WhyLeftAlone,
};
use crate::config::{Desired, Endpoint, RateLimits, Target};
use std::collections::HashSet;

/// Counts of objects left alone.
#[derive(Default)]
pub(super) struct Untouched {
    pub unmanaged_users: u64,
    pub unmanaged_groups: u64,
    pub ignored_users: u64,
    pub ignored_groups: u64,
    pub released: u64,
    /// Users inactive live and active in the directory, left so by `reactivate: false`.
    pub not_reactivated: u64,
    /// Protected objects a change was dropped for (kind, live index).
    pub protected: HashSet<(ObjectKind, usize)>,
    /// The objects counted above but `protected`, in the order they were seen, to be named.
    pub objects: Vec<(ObjectKind, usize, WhyLeftAlone)>,
}

impl Untouched {
    /// Count live object `l` of `kind` as left alone for `why`, and remember it to name it.
    pub fn note(&mut self, kind: ObjectKind, l: usize, why: WhyLeftAlone) {
        let n = match (why, kind) {
            (WhyLeftAlone::Unmanaged, ObjectKind::User) => &mut self.unmanaged_users,
            (WhyLeftAlone::Unmanaged, ObjectKind::Group) => &mut self.unmanaged_groups,
            (WhyLeftAlone::Ignored, ObjectKind::User) => &mut self.ignored_users,
            (WhyLeftAlone::Ignored, ObjectKind::Group) => &mut self.ignored_groups,
            (WhyLeftAlone::Released, _) => &mut self.released,
            (WhyLeftAlone::NotReactivated, _) => &mut self.not_reactivated,
            // A set, so that a user dropped from several changes counts once.
            (WhyLeftAlone::Protected, _) => {
                self.protected.insert((kind, l));
                return;
            }
        };
        *n += 1;
        self.objects.push((kind, l, why));
    }
}

/// The target plan over `changes` (ordered and selected); `owned` is the population of live
/// objects roster owns or claims, which `max_destroy_percent` measures against.
pub(super) fn target_plan(
    desired: &Desired,
    target: &Target,
    changes: Vec<Change>,
    untouched: &Untouched,
    owned: u64,
) -> TargetPlan {
    let mut summary = Summary {
        unmanaged: untouched.unmanaged_users + untouched.unmanaged_groups,
        ignored: untouched.ignored_users + untouched.ignored_groups,
        ..Summary::default()
    };
    let requests = {
        let mut tally = Tally::new(
            changes
                .iter()
                .filter(|c| c.kind == ObjectKind::Group && c.actions.contains(&Action::Create))
                .map(|c| c.address.as_str()),
        );
        let mut reads = 0u64;
        let mut writes = 0u64;
        let mut member_ops = 0u64;
        for c in &changes {
            if c.reason == Reason::Conflict {
                summary.conflicts += 1;
                continue;
            }
            reads += reread_requests(c);
            writes += c.operations.len() as u64;
            member_ops += (c.members_added.len() + c.members_removed.len()) as u64;
            tally.count(c.kind, c.address.as_str(), &c.actions);
        }
        summary.add = tally.add;
        summary.change = tally.change;
        summary.deactivate = tally.deactivate;
        summary.delete = tally.delete;
        summary.destroy = summary.deactivate + summary.delete;

        let mut requests = Requests {
            reads,
            writes,
            member_operations: member_ops,
            seconds_at_rate: 0.0,
            live_state_reads: 0,
        };
        requests.seconds_at_rate = seconds_at_rate(&requests, &target.rate);
        requests
    };

    let policy = &target.policy;
    let destroy = summary.destroy;
    let percent = if destroy == 0 {
        0.0
    } else if owned == 0 {
        100.0
    } else {
        ((destroy as f64 / owned as f64) * 100.0 * 100.0).round() / 100.0
    };
    let safety = vec![
        SafetyGate {
            gate: "max_destroy".into(),
            limit: policy.max_destroy as f64,
            observed: destroy as f64,
            tripped: destroy > policy.max_destroy,
        },
        SafetyGate {
            gate: "max_destroy_percent".into(),
            limit: policy.max_destroy_percent,
            observed: percent,
            tripped: percent > policy.max_destroy_percent,
        },
    ];
    let not_touching = NotTouching {
        unmanaged_users: untouched.unmanaged_users,
        unmanaged_groups: untouched.unmanaged_groups,
        ignored_users: untouched.ignored_users,
        ignored_groups: untouched.ignored_groups,
        released: untouched.released,
        protected: untouched.protected.len() as u64,
        not_reactivated: untouched.not_reactivated,
        // Named by the planner, which knows the live objects (`Planner::left_alone`).
        objects: Vec::new(),
    };
    TargetPlan {
        name: target.name.clone(),
        url: target_url(desired, target),
        dialect: target.dialect.as_str().to_string(),
        complete: true,
        summary,
        requests,
        changes,
        safety,
        not_touching,
    }
}

/// The GETs `apply PLAN_FILE` sends to re-read one change's object before writing, object by
/// object (docs/contract.md#stale-plans): one per change of a live object, and for a create a
/// lookup by externalId and one by name (the second is sent because the first finds nothing,
/// the usual case). Members of a group this plan creates are checked through its create, and
/// conflicts send nothing. `apply::verify` counts its reads with this function.
pub fn reread_requests(c: &Change) -> u64 {
    if c.reason == Reason::Conflict {
        return 0;
    }
    match c.operations.first() {
        None => 0,
        Some(Operation::Create { body }) => {
            let has = |k: &str| {
                body.get(k)
                    .and_then(serde_json::Value::as_str)
                    .is_some_and(|v| !v.is_empty())
            };
            let name = match c.kind {
                ObjectKind::User => "userName",
                ObjectKind::Group => "displayName",
            };
            u64::from(has("externalId")) + u64::from(has(name))
        }
        Some(_) => u64::from(c.id.is_some()),
    }
}

/// Once the plan's own read of live state is known: `apply PLAN_FILE` re-reads the whole state
/// that way when it is fewer requests than object by object (see `shell::apply`), so the
/// estimate is the smaller of the two, plus the `discovery_reads` apply asks first, as plan did
/// (docs/contract.md#capability-discovery).
pub fn with_live_state_reads(
    requests: &mut Requests,
    live_state_reads: u64,
    discovery_reads: u64,
    rate: &RateLimits,
) {
    requests.live_state_reads = live_state_reads;
    if live_state_reads > 0 && live_state_reads < requests.reads {
        requests.reads = live_state_reads;
    }
    requests.reads += discovery_reads;
    requests.seconds_at_rate = seconds_at_rate(requests, rate);
}

/// How long the requests take at the target's rate: the slowest of its budgets.
fn seconds_at_rate(r: &Requests, rate: &RateLimits) -> f64 {
    let per = |n: u64, r: Option<f64>| match r {
        Some(r) if r > 0.0 => n as f64 / r,
        _ => 0.0,
    };
    let seconds = per(r.reads, rate.reads_per_second)
        .max(per(r.writes, rate.writes_per_second))
        .max(per(r.member_operations, rate.member_operations_per_second));
    (seconds * 1000.0).round() / 1000.0
}

/// The target's URL as the plan shows it; embedded state paths relative to the configuration.
fn target_url(desired: &Desired, target: &Target) -> String {
    match &target.endpoint {
        Endpoint::Url(u) => crate::config::display_url(u),
        Endpoint::Embedded { path } => {
            let shown = path.strip_prefix(&desired.base_dir).unwrap_or(path);
            format!("embedded:{}", shown.display())
        }
    }
}
