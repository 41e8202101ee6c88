//! Carrying out a plan: connect to every target with changes and, for a saved plan, re-read
//! what it touches (all before the first write anywhere), then run each target's changes and
//! collect what happened into the apply report. Progress goes to a [`TargetProgress`] that `cli`
//! implements; nothing here prints.

use super::error::ShellError;
use super::files::{now_rfc3339, write_private};
use super::observe::{observe, ConnectSettings, Connection};
use super::target::CompiledTarget;
use crate::apply::report::{ApplyReport, TargetReport, Totals, REPORT_FORMAT_VERSION};
use crate::apply::verify::DigestPaths;
use crate::apply::{execute_with, per_object_reads, verify, Prepared, Progress, Snapshot, Source};
use crate::config::Desired;
use crate::plan::{PlanDocument, TargetPlan};
use crate::scim::discovery::{discover, Discovered};
use std::path::Path;
use std::sync::Arc;

/// Told about one target's apply: each change as it ends ([`Progress`]), then the end.
pub trait TargetProgress: Progress {
    fn finish(&self);
}

/// A target ready to apply: its connection, plan, and what its re-read established.
pub struct Ready {
    conn: Connection,
    plan: Arc<TargetPlan>,
    paths: Arc<DigestPaths>,
    prepared: Prepared,
    /// What the target says it supports, asked once before anything is written.
    discovered: Discovered,
}

/// What every target's apply did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub targets: Vec<TargetReport>,
    pub totals: Totals,
}

/// Close connections opened for an apply that will not happen. Closing is best effort: the
/// refusal that led here is what the user needs to hear.
pub async fn close_all(ready: Vec<Ready>) {
    for r in ready {
        let _ = r.conn.close().await;
    }
}

/// Connect to every target with changes and, for a `saved` plan, re-read what it touches. A
/// stale object anywhere refuses the whole plan; `name_of` gives the name a refusal shows (cli
/// passes the redacting one under `--redact`).
pub async fn prepare(
    settings: &ConnectSettings,
    name_of: &(dyn Fn(&str) -> String + Sync),
    desired: &Desired,
    compiled: &[CompiledTarget<'_>],
    doc: &PlanDocument,
    saved: bool,
) -> Result<Vec<Ready>, ShellError> {
    let mut ready: Vec<Ready> = Vec::new();
    let mut stale = Vec::new();
    let mut failure = None;
    for t in &doc.targets {
        if !t.changes.iter().any(|c| !c.operations.is_empty()) {
            continue;
        }
        let Some(target) = compiled.iter().find(|x| x.name() == t.name) else {
            failure = Some(ShellError::TargetNotConfigured(t.name.clone()));
            break;
        };
        let conn = match Connection::open(target.target, settings, false).await {
            Ok(c) => c,
            Err(e) => {
                failure = Some(e.into());
                break;
            }
        };
        let plan = Arc::new(t.clone());
        let discovered = discover(&conn.reader()).await;
        tracing::info!(target = %t.name, "{}", discovered.describe());
        // The plan was made without the attributes the target does not declare: its
        // preconditions cover the same cut.
        let paths = match super::capabilities::restricted_digest_paths(target.target, &discovered) {
            Some(p) => Arc::new(p),
            None => Arc::clone(&target.digest_paths),
        };
        let mut prepared = Prepared::default();
        if saved {
            let checked = match verify_source(&conn, desired, target, &plan).await {
                Ok(source) => verify(&source, conn.client.parallelism(), &plan, &paths)
                    .await
                    .map_err(|source| ShellError::Reread {
                        target: t.name.clone(),
                        source: Box::new(source),
                    }),
                Err(e) => Err(e),
            };
            match checked {
                Ok((p, s)) => {
                    prepared = p;
                    stale.extend(s);
                }
                Err(e) => {
                    failure = Some(e);
                    let _ = conn.close().await;
                    break;
                }
            }
        }
        ready.push(Ready {
            conn,
            plan,
            paths,
            prepared,
            discovered,
        });
    }
    if failure.is_none() && !stale.is_empty() {
        let list = stale
            .iter()
            .map(|s| {
                let name = name_of(&s.name);
                format!("{} ({name}): {}", s.address, s.why)
            })
            .collect();
        failure = Some(ShellError::Stale(list));
    }
    if let Some(e) = failure {
        close_all(ready).await;
        return Err(e);
    }
    Ok(ready)
}

/// Apply every prepared target, one after another, and close their connections. `start` makes
/// the progress of one target from its name and number of changes.
pub async fn apply_all<P: TargetProgress>(
    ready: Vec<Ready>,
    mut start: impl FnMut(&str, u64) -> P,
) -> Result<Outcome, ShellError> {
    let mut reports = Vec::new();
    let mut close_error = None;
    for r in ready {
        let total = r
            .plan
            .changes
            .iter()
            .filter(|c| !c.operations.is_empty())
            .count();
        let progress = start(&r.plan.name, total as u64);
        let t0 = std::time::Instant::now();
        let results = execute_with(
            &r.conn.client,
            Arc::clone(&r.plan),
            r.paths,
            r.prepared,
            r.discovered,
            &progress,
        )
        .await;
        progress.finish();
        // The connection was opened for this apply: its counts are the re-read and the writes.
        let requests = r.conn.client.counts();
        tracing::info!(
            target = %r.plan.name,
            seconds = t0.elapsed().as_secs_f64(),
            posts = requests.post,
            patches = requests.patch,
            deletes = requests.delete,
            gets = requests.get,
            throttled = requests.throttled,
            "applied"
        );
        reports.push(TargetReport {
            name: r.plan.name.clone(),
            summary: Totals::of(&results),
            requests,
            seconds: (t0.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
            changes: results,
        });
        if let Err(e) = r.conn.close().await {
            close_error.get_or_insert(e);
        }
    }
    if let Some(e) = close_error {
        return Err(e.into());
    }
    let mut totals = Totals::default();
    for t in &reports {
        totals.add(t.summary);
    }
    Ok(Outcome {
        targets: reports,
        totals,
    })
}

/// Object by object, or the whole state when the plan's own read of it was fewer requests.
async fn verify_source(
    conn: &Connection,
    desired: &Desired,
    target: &CompiledTarget<'_>,
    plan: &TargetPlan,
) -> Result<Source, ShellError> {
    let whole = plan.requests.live_state_reads;
    let objects = per_object_reads(plan);
    if whole == 0 || whole >= objects {
        return Ok(Source::Objects(conn.reader()));
    }
    tracing::info!(
        target = %plan.name,
        whole, objects, "re-reading the whole state: fewer requests than object by object"
    );
    let (observed, _) = observe(&conn.reader(), desired, target).await?;
    Ok(Source::Snapshot(Arc::new(Snapshot::new(observed))))
}

/// Write the JSON report of an apply (mode 0600), each change's name as `name_of` gives it.
pub fn write_report(
    path: &Path,
    doc: &PlanDocument,
    started_at: String,
    outcome: &Outcome,
    name_of: &dyn Fn(&str) -> String,
) -> Result<(), ShellError> {
    let totals = outcome.totals;
    let mut report = ApplyReport {
        format_version: REPORT_FORMAT_VERSION.to_string(),
        roster_version: env!("CARGO_PKG_VERSION").to_string(),
        status: if totals.failed + totals.skipped == 0 {
            "applied".into()
        } else {
            "partial".into()
        },
        plan_checksum: doc.checksum.clone(),
        config_digest: doc.config_digest.clone(),
        started_at,
        finished_at: now_rfc3339(),
        summary: totals,
        targets: outcome.targets.clone(),
    };
    for t in &mut report.targets {
        for c in &mut t.changes {
            c.name = name_of(&c.name);
        }
    }
    let mut text = serde_json::to_string_pretty(&report).map_err(ShellError::EncodeReport)?;
    text.push('\n');
    write_private(path, text.as_bytes())
}
