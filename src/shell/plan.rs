//! Planning against live state: for each compiled target, connect read-only, read its live
//! state, and run the pure planner on it. Targets are read one after another so their requests
//! never compete; each target's own reads run in parallel up to the connection's parallelism.

use super::error::ShellError;
use super::files::now_rfc3339;
use super::observe::{observe, ConnectSettings, Connection};
use super::target::CompiledTarget;
use crate::config::Desired;
use crate::plan::{plan_document, plan_target, PlanDocument, PlanOptions, TargetPlan};

/// Told about each target as soon as it is planned (`cli` shows it with `-v`).
pub trait PlanProgress {
    fn planned(&self, plan: &TargetPlan);
}

/// Read every target and plan it.
pub async fn plan_all(
    desired: &Desired,
    targets: &[CompiledTarget<'_>],
    settings: &ConnectSettings,
    opts: &PlanOptions,
    progress: &dyn PlanProgress,
) -> Result<Vec<TargetPlan>, ShellError> {
    let mut plans = Vec::new();
    for compiled in targets {
        let target = compiled.target;
        let conn = Connection::open(target, settings, true).await?;
        let result = observe(&conn.reader(), desired, compiled).await;
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
        let mut plan =
            plan_target(desired, target, &observed, opts).map_err(|source| ShellError::Plan {
                target: target.name.clone(),
                source,
            })?;
        plan.url = display_url;
        plan.requests.live_state_reads = stats.requests.reads();
        progress.planned(&plan);
        plans.push(plan);
    }
    Ok(plans)
}

/// The plan document over the target plans, stamped now by this roster.
pub fn document(desired: &Desired, plans: Vec<TargetPlan>) -> PlanDocument {
    plan_document(desired, plans, &now_rfc3339(), env!("CARGO_PKG_VERSION"))
}
