//! Planning against live state: for each compiled target, connect read-only, read its live
//! state, and run the pure planner on it. Targets are read one after another so their requests
//! never compete; each target's own reads run in parallel up to the connection's parallelism.

use super::base::{counterpart, mark_origins, BaseError};
use super::error::ShellError;
use super::explain::check_resources;
use super::files::now_rfc3339;
use super::observe::{observe_for, ConnectSettings, Connection};
use super::target::CompiledTarget;
use crate::config::Desired;
use crate::plan::explain::plan_knowing;
use crate::plan::planner::with_live_state_reads;
use crate::plan::{plan_document, plan_target, PlanDocument, PlanOptions, TargetPlan};

/// Told about each target as soon as it is planned (`cli` shows it with `-v`).
pub trait PlanProgress {
    fn planned(&self, plan: &TargetPlan);
}

/// The configuration at a git ref (`plan --base`), its targets compiled.
pub struct Base<'a> {
    pub git_ref: String,
    pub desired: &'a Desired,
    pub targets: Vec<CompiledTarget<'a>>,
}

/// Read every target and plan it.
pub async fn plan_all(
    desired: &Desired,
    targets: &[CompiledTarget<'_>],
    settings: &ConnectSettings,
    opts: &PlanOptions,
    progress: &dyn PlanProgress,
) -> Result<Vec<TargetPlan>, ShellError> {
    plan_with_base(desired, targets, None, settings, opts, progress).await
}

/// [`plan_all`], and with a `base` also plan the base's configuration of each target against
/// the same read of live state, and mark every change's origin.
pub async fn plan_with_base(
    desired: &Desired,
    targets: &[CompiledTarget<'_>],
    base: Option<&Base<'_>>,
    settings: &ConnectSettings,
    opts: &PlanOptions,
    progress: &dyn PlanProgress,
) -> Result<Vec<TargetPlan>, ShellError> {
    let mut plans = Vec::new();
    let mut known = Vec::new();
    for compiled in targets {
        let target = compiled.target;
        let other =
            base.and_then(|b| counterpart(&b.targets, compiled.name()).map(|c| (b.desired, c)));
        let conn = Connection::open(target, settings, true).await?;
        let result = observe_for(&conn.reader(), desired, compiled, other).await;
        // Asked after the read, so the read's own request count stays what it was.
        let discovered = match &result {
            Ok(_) => Some(crate::scim::discovery::discover(&conn.reader()).await),
            Err(_) => None,
        };
        let display_url = conn.display_url.clone();
        let closed = conn.close().await;
        let (observed, stats) = result?;
        closed?;
        tracing::info!(
            target = %target.name,
            users = observed.users.len(),
            groups = observed.groups.len(),
            requests = stats.requests.total(),
            seconds = stats.elapsed.as_secs_f64(),
            "read live state"
        );
        let cut = discovered.as_ref().and_then(|d| {
            tracing::info!(target = %target.name, "{}", d.describe());
            super::capabilities::restricted(target, d)
        });
        if let Some((_, warnings)) = &cut {
            for w in warnings {
                tracing::warn!("{w}");
            }
        }
        let target = cut.as_ref().map_or(target, |(t, _)| t);
        let planned = if opts.resources.is_empty() {
            plan_target(desired, target, &observed, opts).map(|p| (p, None))
        } else {
            // `--resource` addresses are checked against what the plan knows, below.
            plan_knowing(desired, target, &observed, opts).map(|(p, k)| (p, Some(k)))
        };
        let (mut plan, k) = planned.map_err(|source| ShellError::Plan {
            target: target.name.clone(),
            source,
        })?;
        if let Some(k) = k {
            known.push((target.name.clone(), k));
        }
        plan.url = display_url;
        with_live_state_reads(
            &mut plan.requests,
            stats.requests.reads(),
            crate::scim::discovery::requests(super::scim_settings::dialect(target.dialect)),
            &target.rate,
        );
        if let Some(b) = base {
            let base_plan = match other {
                Some((d, c)) => Some(
                    plan_target(
                        d,
                        discovered
                            .as_ref()
                            .and_then(|x| super::capabilities::restricted(c.target, x))
                            .as_ref()
                            .map_or(c.target, |(t, _)| t),
                        &observed,
                        opts,
                    )
                    .map_err(|e| BaseError::plan(&b.git_ref, &target.name, &e))?,
                ),
                None => None,
            };
            mark_origins(&mut plan, base_plan.as_ref());
        }
        progress.planned(&plan);
        plans.push(plan);
    }
    check_resources(&opts.resources, &known)?;
    Ok(plans)
}

/// The plan document over the target plans, stamped now by this roster.
pub fn document(desired: &Desired, plans: Vec<TargetPlan>) -> PlanDocument {
    let mut doc = plan_document(desired, plans, &now_rfc3339(), env!("CARGO_PKG_VERSION"));
    doc.redact_salt = Some(crate::plan::document::fresh_redact_salt());
    doc
}
