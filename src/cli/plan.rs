//! `roster plan`: read live state through a read-only client, diff it against the configuration,
//! print the plan, and optionally save it for `roster apply PLAN_FILE`.

use super::{CommandError, Exit, Format, GlobalArgs, Ui};
use crate::config::{Desired, Target};
use crate::shell::observe::{observe, ConnectSettings, Connection};
use crate::plan::document::{ObjectKind, PlanDocument, TargetPlan};
use crate::plan::{plan_document, plan_target, PlanOptions};
use crate::render;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Save the plan document to this file (mode 0600) for `roster apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 2 when the plan has changes (0 when none).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan only users or only groups.
    #[arg(long, value_enum)]
    pub only: Option<OnlyKind>,
    /// Plan only these addresses (repeatable), e.g. `aws:user.e1001`.
    #[arg(long = "resource", value_name = "ADDR")]
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnlyKind {
    Users,
    Groups,
}

pub fn run(ui: &Ui, global: &GlobalArgs, args: &PlanArgs) -> Result<Exit, CommandError> {
    let desired = super::read_config(ui, global)?;
    let targets = select_targets(&desired, &global.targets)?;
    let opts = PlanOptions {
        only: args.only.map(|o| match o {
            OnlyKind::Users => ObjectKind::User,
            OnlyKind::Groups => ObjectKind::Group,
        }),
        resources: args.resources.clone(),
    };
    let settings = connect_settings(global);
    let runtime = super::runtime()?;
    let plans = runtime.block_on(plan_all(ui, &desired, &targets, &settings, &opts))?;
    let doc = plan_document(
        &desired,
        plans,
        &super::now_rfc3339(),
        env!("CARGO_PKG_VERSION"),
    );

    if let Some(path) = &args.out {
        super::write_private(path, render::json::render_json(&doc).as_bytes())?;
    }
    print_plan(
        ui,
        global,
        &doc,
        !args.resources.is_empty(),
        args.out.as_deref(),
        false,
    );
    Ok(exit_for(&doc, args.detailed_exitcode))
}

/// The exit code a plan maps to: 3 when a gate tripped, 2 with `--detailed-exitcode` and changes.
pub fn exit_for(doc: &PlanDocument, detailed: bool) -> Exit {
    let gated = doc
        .targets
        .iter()
        .any(|t| t.safety.iter().any(|g| g.tripped));
    let changes = doc.targets.iter().any(|t| !t.changes.is_empty());
    let mut exit = Exit::Ok;
    if gated {
        exit = exit.combine(Exit::Gated);
    }
    if detailed && changes {
        exit = exit.combine(Exit::Changes);
    }
    exit
}

/// Print a plan in the chosen format.
pub fn print_plan(
    ui: &Ui,
    global: &GlobalArgs,
    doc: &PlanDocument,
    targeting: bool,
    saved_to: Option<&std::path::Path>,
    applying: bool,
) {
    let redacted;
    let doc = if global.redact {
        redacted = render::redact::redact(doc);
        &redacted
    } else {
        doc
    };
    match global.format {
        Format::Text if applying => ui.out(&render::text::render_plan_to_apply(doc, ui.color_out)),
        Format::Text => ui.out(&render::text::render_plan(
            doc,
            &render::text::TextOptions {
                color: ui.color_out,
                targeting,
                saved_to: saved_to.map(|p| p.display().to_string()),
            },
        )),
        Format::Markdown => {
            let parts = render::markdown::render_markdown(doc);
            ui.out(&parts.join(&format!("\n{}\n", super::show::PART_BREAK)));
        }
        Format::Json => ui.out(&render::json::render_json(doc)),
    }
}

/// The configured targets, limited to `--target` names (an unknown name is an error).
pub fn select_targets<'a>(
    desired: &'a Desired,
    names: &[String],
) -> Result<Vec<&'a Target>, CommandError> {
    if names.is_empty() {
        return Ok(desired.targets.iter().collect());
    }
    let mut out = Vec::new();
    for n in names {
        match desired.targets.iter().find(|t| &t.name == n) {
            Some(t) => out.push(t),
            None => {
                let known: Vec<&str> = desired.targets.iter().map(|t| t.name.as_str()).collect();
                return Err(CommandError::error(format!("no target named {n:?}"))
                    .hint(format!("configured targets: {}", known.join(", "))));
            }
        }
    }
    Ok(out)
}

pub fn connect_settings(global: &GlobalArgs) -> ConnectSettings {
    ConnectSettings {
        parallelism: global.parallelism,
        ca_cert: global.ca_cert.clone(),
        insecure_http: global.insecure_http,
    }
}

/// Read every target and plan it. Targets are read one after another so their requests never
/// compete; each target's own reads run in parallel up to `--parallelism`.
pub(super) async fn plan_all(
    ui: &Ui,
    desired: &Desired,
    targets: &[&Target],
    settings: &ConnectSettings,
    opts: &PlanOptions,
) -> Result<Vec<TargetPlan>, CommandError> {
    let mut plans = Vec::new();
    for target in targets {
        let conn = Connection::open(target, settings, true)
            .await
            .map_err(super::observe_error)?;
        let result = observe(&conn.reader(), desired, target).await;
        let display_url = conn.display_url.clone();
        let closed = conn.close().await;
        let (observed, stats) = result.map_err(super::observe_error)?;
        closed.map_err(super::observe_error)?;
        tracing::info!(
            target = %target.name,
            users = observed.users.len(),
            groups = observed.groups.len(),
            requests = stats.requests.total(),
            seconds = stats.elapsed.as_secs_f64(),
            "read live state"
        );
        let mut plan = plan_target(desired, target, &observed, opts)
            .map_err(|e| CommandError::error(format!("target {:?}: {e}", target.name)))?;
        plan.url = display_url;
        plan.requests.live_state_reads = stats.requests.reads();
        ui.debug(&format!(
            "target {}: {} changes",
            target.name,
            plan.changes.len()
        ));
        plans.push(plan);
    }
    Ok(plans)
}
