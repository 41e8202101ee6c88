//! `roster apply [PLAN_FILE]`: carry out a plan (SPEC section 5).
//!
//! With a saved plan it applies exactly that plan, after checking that the configuration is
//! the one the plan was made from and re-reading every object the plan touches; it never
//! prompts. Without one it plans, shows the plan, asks for `yes` on a terminal (or takes
//! `--auto-approve`), and applies. Every refusal (stale plan, tripped gate, protected object,
//! no confirmation) happens before the first write.

use super::{CommandError, Exit, Format, GlobalArgs, Ui};
use crate::apply::report::{final_line, ApplyReport, TargetReport, Totals, REPORT_FORMAT_VERSION};
use crate::apply::verify::DigestPaths;
use crate::apply::{
    execute, per_object_reads, verify, ChangeResult, Prepared, Progress, Snapshot, Source, Stale,
    Status,
};
use crate::config::{Desired, Target};
use crate::mapping::CompiledTarget;
use crate::observe::{observe, Connection};
use crate::plan::policy::Lists;
use crate::plan::{
    config_digest, digest_paths, plan_document, Action, ObjectKind, PlanDocument, PlanOptions,
    TargetPlan,
};
use crate::render;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved by `roster plan --out FILE`: apply exactly it (refused when stale).
    #[arg(value_name = "PLAN_FILE")]
    pub plan_file: Option<PathBuf>,
    /// Apply without asking (required without a terminal when planning and applying at once).
    #[arg(long)]
    pub auto_approve: bool,
    /// Lift the `limits` safety gate for this apply (`protect` still holds).
    #[arg(long)]
    pub allow_destroy: bool,
    /// Write the result of every change (status, id, timing, error) as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Apply only if the plan's checksum is this one (the plan that was reviewed).
    #[arg(long, value_name = "SHA256")]
    pub checksum: Option<String>,
}

pub fn run(ui: &Ui, global: &GlobalArgs, args: &ApplyArgs) -> Result<Exit, CommandError> {
    let interactive = args.plan_file.is_none() && !args.auto_approve;
    if interactive && !ui.stdin_tty {
        return Err(CommandError::error(
            "refusing to apply without confirmation: there is no terminal to ask on",
        )
        .hint("pass --auto-approve to apply without asking (as in CI), or save a plan with `roster plan --out FILE` and run `roster apply FILE`"));
    }
    let desired = super::read_config(ui, global)?;
    let runtime = super::runtime()?;
    let settings = super::plan::connect_settings(global);
    let started_at = super::now_rfc3339();

    let (doc, saved) = match &args.plan_file {
        Some(path) => {
            let doc = super::show::read_plan_file(path)?;
            let digest = config_digest(&desired);
            if doc.config_digest != digest {
                return Err(CommandError::new(
                    Exit::Stale,
                    format!(
                        "the plan in {} was made from another configuration (its digest {} is not the current {digest}); nothing was written",
                        path.display(),
                        doc.config_digest
                    ),
                )
                .hint("plan again with `roster plan --out FILE`, review it, and apply that file"));
            }
            (select_saved(doc, &global.targets)?, true)
        }
        None => {
            let targets = super::plan::select_targets(&desired, &global.targets)?;
            let plans = runtime.block_on(super::plan::plan_all(
                ui,
                &desired,
                &targets,
                &settings,
                &PlanOptions::default(),
            ))?;
            let doc = plan_document(
                &desired,
                plans,
                &super::now_rfc3339(),
                env!("CARGO_PKG_VERSION"),
            );
            super::plan::print_plan(ui, global, &doc, false, None, true);
            (doc, false)
        }
    };

    if let Some(want) = &args.checksum {
        let want = want.trim();
        let want = want.strip_prefix("sha256:").unwrap_or(want);
        let have = doc
            .checksum
            .strip_prefix("sha256:")
            .unwrap_or(&doc.checksum);
        if !want.eq_ignore_ascii_case(have) {
            return Err(CommandError::new(
                Exit::Stale,
                format!(
                    "the plan's checksum sha256:{have} is not the reviewed one (--checksum sha256:{want}); nothing was written"
                ),
            )
            .hint("plan again, review the new plan, and pass its checksum"));
        }
    }

    let work: usize = doc
        .targets
        .iter()
        .map(|t| {
            t.changes
                .iter()
                .filter(|c| !c.operations.is_empty())
                .count()
        })
        .sum();
    if work == 0 {
        if saved {
            ui.out("No changes. Live state matches the configuration.");
        }
        return Ok(Exit::Ok);
    }

    let refusals = |doc: &PlanDocument| -> Result<(), CommandError> {
        check_gates(doc, args.allow_destroy)?;
        check_protected(&desired, doc)
    };
    if !saved {
        refusals(&doc)?;
        if interactive && !confirm(ui)? {
            ui.out("Apply cancelled.");
            return Ok(Exit::Ok);
        }
    }
    // A saved plan is re-read first, so that a plan both stale and gated says "stale" (exit 4
    // wins over 3): planning again is what it needs.
    let ready = runtime.block_on(prepare(global, &desired, &doc, saved))?;
    if saved {
        if let Err(e) = refusals(&doc) {
            runtime.block_on(close_all(ready));
            return Err(e);
        }
    }
    let outcome = runtime.block_on(apply_all(ui, global, ready))?;

    let mut totals = Totals::default();
    for t in &outcome {
        totals.add(t.summary);
    }
    if let Some(path) = &args.report {
        let report = ApplyReport {
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
            finished_at: super::now_rfc3339(),
            summary: totals,
            targets: outcome.clone(),
        };
        let mut text = serde_json::to_string_pretty(&redact_report(report, global.redact))
            .map_err(|e| CommandError::error(format!("cannot encode the report: {e}")))?;
        text.push('\n');
        super::write_private(path, text.as_bytes())?;
    }

    let failures: Vec<&ChangeResult> = outcome
        .iter()
        .flat_map(|t| &t.changes)
        .filter(|r| r.status != Status::Applied)
        .collect();
    if !failures.is_empty() {
        let failed = failures
            .iter()
            .filter(|r| r.status == Status::Failed)
            .count();
        let mut message = format!(
            "{failed} change(s) failed and {} were skipped:",
            failures.len() - failed
        );
        for r in &failures {
            message.push_str(&format!(
                "\n  {} {}: {}",
                r.address,
                describe(r, global.redact),
                r.error.as_deref().unwrap_or("")
            ));
        }
        ui.error(
            &message,
            Some("fix the cause and run apply again: changes already applied count as done"),
        );
    }
    result_line(ui, global, &final_line(&totals));
    Ok(if failures.is_empty() {
        Exit::Ok
    } else {
        Exit::Partial
    })
}

/// The saved plan's targets, limited to `--target` names.
fn select_saved(mut doc: PlanDocument, names: &[String]) -> Result<PlanDocument, CommandError> {
    if names.is_empty() {
        return Ok(doc);
    }
    for n in names {
        if !doc.targets.iter().any(|t| &t.name == n) {
            return Err(CommandError::error(format!(
                "the plan has no target named {n:?}"
            )));
        }
    }
    doc.targets.retain(|t| names.contains(&t.name));
    Ok(doc)
}

fn check_gates(doc: &PlanDocument, allow_destroy: bool) -> Result<(), CommandError> {
    let tripped: Vec<String> = doc
        .targets
        .iter()
        .flat_map(|t| {
            t.safety
                .iter()
                .filter(|g| g.tripped)
                .map(move |g| format!("target {:?}: {}", t.name, render::text::gate_line(g)))
        })
        .collect();
    if tripped.is_empty() || allow_destroy {
        return Ok(());
    }
    Err(CommandError::new(
        Exit::Gated,
        format!(
            "blocked by the safety gate; nothing was written:\n  {}",
            tripped.join("\n  ")
        ),
    )
    .hint("review what would be destroyed; pass --allow-destroy to lift `limits` for this apply (protected users stay protected)"))
}

/// `protect` can never be overridden: refuse any plan that would deactivate, delete or remove
/// from a group a protected user, or delete a protected group, whatever made that plan.
fn check_protected(desired: &Desired, doc: &PlanDocument) -> Result<(), CommandError> {
    let mut found = Vec::new();
    for t in &doc.targets {
        let Some(target) = desired.targets.iter().find(|x| x.name == t.name) else {
            continue;
        };
        let lists = Lists::new(&target.policy, desired)
            .map_err(|e| CommandError::error(format!("target {:?}: {e}", t.name)))?;
        let dir_id = |address: &str, kind: &str| -> Option<String> {
            let rest = address.split_once(':')?.1.strip_prefix(kind)?;
            (!rest.starts_with("live:")).then(|| rest.to_string())
        };
        for c in &t.changes {
            let destroys =
                c.actions.contains(&Action::Deactivate) || c.actions.contains(&Action::Delete);
            match c.kind {
                ObjectKind::User if destroys => {
                    let id = dir_id(&c.address, "user.");
                    if lists.protect_users.contains(id.as_deref(), &c.name) {
                        found.push(format!("{} ({})", c.address, c.name));
                    }
                }
                ObjectKind::Group if destroys => {
                    let id = dir_id(&c.address, "group.");
                    if lists.protect_groups.contains(id.as_deref(), &c.name) {
                        found.push(format!("{} ({})", c.address, c.name));
                    }
                }
                _ => {}
            }
            for m in &c.members_removed {
                if lists.protect_users.contains(None, &m.name) {
                    found.push(format!(
                        "{} (removing protected member {})",
                        c.address, m.name
                    ));
                }
            }
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    Err(CommandError::new(
        Exit::Gated,
        format!(
            "the plan would destroy protected objects; nothing was written:\n  {}",
            found.join("\n  ")
        ),
    )
    .hint("`protect` cannot be overridden: remove the object from `policy.protect` first if this is intended"))
}

fn confirm(ui: &Ui) -> Result<bool, CommandError> {
    ui.prompt(
        "\nDo you want to perform these actions?\n  roster will perform the actions described above.\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ",
    );
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CommandError::error(format!("cannot read the answer: {e}")))?;
    Ok(line.trim() == "yes")
}

/// A target ready to apply: its connection, plan, and digest paths.
struct Ready {
    conn: Connection,
    plan: Arc<TargetPlan>,
    paths: Arc<DigestPaths>,
    prepared: Prepared,
}

async fn close_all(ready: Vec<Ready>) {
    for r in ready {
        let _ = r.conn.close().await;
    }
}

/// Connect to every target with changes and, for a saved plan, re-read what it touches: all
/// before the first write anywhere.
async fn prepare(
    global: &GlobalArgs,
    desired: &Desired,
    doc: &PlanDocument,
    saved: bool,
) -> Result<Vec<Ready>, CommandError> {
    let settings = super::plan::connect_settings(global);
    let mut ready: Vec<Ready> = Vec::new();
    let mut stale: Vec<(String, Stale)> = Vec::new();
    // Open and (for a saved plan) verify every target before the first write anywhere.
    let mut failure = None;
    for t in &doc.targets {
        if !t.changes.iter().any(|c| !c.operations.is_empty()) {
            continue;
        }
        let Some(target) = desired.targets.iter().find(|x| x.name == t.name) else {
            failure = Some(CommandError::new(
                Exit::Stale,
                format!("the plan's target {:?} is not in the configuration", t.name),
            ));
            break;
        };
        let paths = match digest_paths_of(target) {
            Ok(p) => Arc::new(p),
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        let conn = match Connection::open(target, &settings, false).await {
            Ok(c) => c,
            Err(e) => {
                failure = Some(super::observe_error(e));
                break;
            }
        };
        let plan = Arc::new(t.clone());
        let mut prepared = Prepared::default();
        if saved {
            let source = match verify_source(&conn, desired, target, &plan).await {
                Ok(s) => s,
                Err(e) => {
                    failure = Some(e);
                    let _ = conn.close().await;
                    break;
                }
            };
            match verify(&source, conn.client.parallelism(), &plan, &paths).await {
                Ok((p, s)) => {
                    prepared = p;
                    stale.extend(s.into_iter().map(|s| (t.name.clone(), s)));
                }
                Err(e) => {
                    failure = Some(CommandError::error(format!(
                        "target {:?}: cannot re-read the objects the plan touches: {e}",
                        t.name
                    )));
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
        });
    }
    if failure.is_none() && !stale.is_empty() {
        let list: Vec<String> = stale
            .iter()
            .map(|(_, s)| {
                let name = if global.redact {
                    render::redact::digest(&s.name)
                } else {
                    s.name.clone()
                };
                format!("{} ({name}): {}", s.address, s.why)
            })
            .collect();
        failure = Some(
            CommandError::new(
                Exit::Stale,
                format!(
                    "the saved plan is stale: {} object(s) changed since it was made; nothing was written:\n  {}",
                    list.len(),
                    list.join("\n  ")
                ),
            )
            .hint("plan again with `roster plan --out FILE`, review it, and apply the new file"),
        );
    }
    if let Some(e) = failure {
        close_all(ready).await;
        return Err(e);
    }
    Ok(ready)
}

/// Apply every prepared target, one after another, and close their connections.
async fn apply_all(
    ui: &Ui,
    global: &GlobalArgs,
    ready: Vec<Ready>,
) -> Result<Vec<TargetReport>, CommandError> {
    let mut reports = Vec::new();
    let mut close_error = None;
    for r in ready {
        let total = r
            .plan
            .changes
            .iter()
            .filter(|c| !c.operations.is_empty())
            .count();
        let printer = Printer::new(ui, global, &r.plan.name, total as u64);
        let t0 = std::time::Instant::now();
        let results = execute(
            &r.conn.client,
            Arc::clone(&r.plan),
            r.paths,
            r.prepared,
            &printer,
        )
        .await;
        printer.finish();
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
        return Err(super::observe_error(e));
    }
    Ok(reports)
}

/// Object by object, or the whole state when the plan's own read of it was fewer requests.
async fn verify_source(
    conn: &Connection,
    desired: &Desired,
    target: &Target,
    plan: &TargetPlan,
) -> Result<Source, CommandError> {
    let whole = plan.requests.live_state_reads;
    let objects = per_object_reads(plan);
    if whole == 0 || whole >= objects {
        return Ok(Source::Objects(conn.reader()));
    }
    tracing::info!(
        target = %plan.name,
        whole, objects, "re-reading the whole state: fewer requests than object by object"
    );
    let (observed, _) = observe(&conn.reader(), desired, target)
        .await
        .map_err(super::observe_error)?;
    Ok(Source::Snapshot(Arc::new(Snapshot::new(observed))))
}

fn digest_paths_of(target: &Target) -> Result<DigestPaths, CommandError> {
    let compiled = CompiledTarget::compile(target).map_err(|d| {
        CommandError::error(format!(
            "target {:?}: the mapping does not compile ({} problem(s)); run `roster validate`",
            target.name,
            d.len()
        ))
    })?;
    Ok(DigestPaths {
        user: digest_paths(&compiled, ObjectKind::User),
        group: digest_paths(&compiled, ObjectKind::Group),
    })
}

/// What a change did, in words, with the name unless `--redact`.
fn describe(r: &ChangeResult, redact: bool) -> String {
    if redact {
        format!("({})", render::redact::digest(&r.name))
    } else {
        format!("({})", r.name)
    }
}

fn verb(r: &ChangeResult) -> String {
    let words: Vec<&str> = r
        .actions
        .iter()
        .map(|a| match a {
            Action::Create => "created",
            Action::Update => "updated",
            Action::Deactivate => "deactivated",
            Action::Reactivate => "reactivated",
            Action::Delete => "deleted",
            Action::AddMembers => "members added",
            Action::RemoveMembers => "members removed",
        })
        .collect();
    words.join(" and ")
}

/// One line per change, or a progress bar on a terminal.
struct Printer<'a> {
    ui: &'a Ui,
    global: &'a GlobalArgs,
    bar: Option<ProgressBar>,
}

impl<'a> Printer<'a> {
    fn new(ui: &'a Ui, global: &'a GlobalArgs, target: &str, total: u64) -> Printer<'a> {
        let bar = (ui.stderr_tty && !ui.quiet).then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:.bold} [{bar:30}] {pos}/{len} changes  {rate}  {elapsed_precise}  {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .with_key(
                    "rate",
                    |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0}/s", state.per_sec());
                    },
                )
                .progress_chars("=> "),
            );
            bar.set_prefix(target.to_string());
            super::ui::set_progress_bar(Some(bar.clone()));
            bar
        });
        Printer { ui, global, bar }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            super::ui::set_progress_bar(None);
        }
    }
}

impl Progress for Printer<'_> {
    fn throttled(&self, write_rate: Option<f64>) {
        let rate = write_rate.map_or("unpaced".to_string(), |r| format!("at {r:.1} writes/s"));
        let line = format!(
            "the server answers 429 (Too Many Requests): waiting on its limit, sending {rate}"
        );
        match &self.bar {
            Some(bar) => bar.println(line),
            None if !self.ui.quiet => self.ui.status(&line),
            None => {}
        }
    }

    fn finished(&self, r: &ChangeResult) {
        let name = describe(r, self.global.redact);
        let line = match r.status {
            Status::Applied => {
                let id = match (&r.id, r.actions.contains(&Action::Create)) {
                    (Some(id), true) => format!(" [id={id}]"),
                    _ => String::new(),
                };
                let note = r
                    .note
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                format!(
                    "{} {name}: {}{id}{note} after {:.2}s",
                    r.address,
                    verb(r),
                    r.seconds
                )
            }
            Status::Failed => {
                let text = format!(
                    "{} {name}: FAILED: {}",
                    r.address,
                    r.error.as_deref().unwrap_or("")
                );
                if self.ui.color_out {
                    format!("\x1b[31m{text}\x1b[0m")
                } else {
                    text
                }
            }
            Status::Skipped => format!(
                "{} {name}: {}",
                r.address,
                r.error.as_deref().unwrap_or("skipped")
            ),
        };
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if r.status != Status::Applied {
                bar.println(line);
            }
            return;
        }
        if !self.ui.quiet {
            result_line(self.ui, self.global, &line);
        }
    }
}

fn result_line(ui: &Ui, global: &GlobalArgs, line: &str) {
    if global.format == Format::Text {
        ui.out(line);
    } else {
        ui.status(line);
    }
}

fn redact_report(mut report: ApplyReport, redact: bool) -> ApplyReport {
    if redact {
        for t in &mut report.targets {
            for c in &mut t.changes {
                c.name = render::redact::digest(&c.name);
            }
        }
    }
    report
}
