//! `roster plan`: read live state through a read-only client, diff it against the configuration,
//! print the plan, and optionally save it for `roster apply PLAN_FILE`.

use super::{CommandError, Exit, Format, GlobalArgs, Ui};
use crate::plan::document::{ObjectKind, PlanDocument, TargetPlan};
use crate::plan::PlanOptions;
use crate::render;
use crate::shell::{self, plan::PlanProgress};
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
    /// Also plan the configuration at this git ref against the same read of live state, and
    /// mark each change as this change's or pre-existing drift.
    #[arg(long, value_name = "GIT_REF")]
    pub base: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnlyKind {
    Users,
    Groups,
}

pub fn run(ui: &Ui, global: &GlobalArgs, args: &PlanArgs) -> Result<Exit, CommandError> {
    let settings = global.settings();
    let desired = super::read_config(ui, &settings)?;
    let targets = shell::target::select(&desired, &settings.targets)?;
    let compiled = shell::target::compile_all(&desired, &targets)?;
    // The base is read and checked before any connection, so a bad ref costs no request.
    let base_desired = match &args.base {
        Some(git_ref) => {
            let resolved = shell::base::read(&settings, git_ref)?;
            ui.diagnostics(&resolved.diagnostics, &resolved.desired.sources);
            Some((git_ref, shell::base::accept(resolved, git_ref)?))
        }
        None => None,
    };
    let base = match &base_desired {
        Some((git_ref, d)) => {
            let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
            Some(shell::plan::Base {
                git_ref: git_ref.to_string(),
                desired: d,
                targets: shell::base::compile(d, &names, git_ref)?,
            })
        }
        None => None,
    };
    let opts = PlanOptions {
        only: args.only.map(|o| match o {
            OnlyKind::Users => ObjectKind::User,
            OnlyKind::Groups => ObjectKind::Group,
        }),
        resources: args.resources.clone(),
    };
    let runtime = shell::runtime()?;
    let plans = runtime.block_on(shell::plan::plan_with_base(
        &desired,
        &compiled,
        base.as_ref(),
        &settings.connect,
        &opts,
        &Verbose(ui),
    ))?;
    let mut doc = shell::plan::document(&desired, plans);

    if let Some(path) = &args.out {
        doc.config_file = Some(shell::saved::entry_file_for(path, &settings.config));
        shell::files::write_private(path, render::json::render_json(&doc).as_bytes())?;
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

/// With `-v`, each target's number of changes as soon as it is planned.
pub struct Verbose<'a>(pub &'a Ui);

impl PlanProgress for Verbose<'_> {
    fn planned(&self, plan: &TargetPlan) {
        self.0.debug(&format!(
            "target {}: {} changes",
            plan.name,
            plan.changes.len()
        ));
    }
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
                verbose: ui.verbose > 0,
                quiet: ui.quiet,
            },
        )),
        Format::Markdown => {
            let parts = render::markdown::render_markdown(doc);
            let text = parts.join(&format!("\n{}\n", super::show::PART_BREAK));
            ui.out(&text);
            if !applying {
                step_summary(ui, &text);
            }
        }
        Format::Json => ui.out(&render::json::render_json(doc)),
    }
}

/// In a GitHub Actions step, markdown output is also appended to the job's summary page
/// (`$GITHUB_STEP_SUMMARY`). A summary that cannot be written is a warning: the output itself
/// was printed, and the exit code stays the plan's.
pub fn step_summary(ui: &Ui, markdown: &str) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return;
    };
    let path = PathBuf::from(path);
    if let Err(e) = shell::files::append(&path, markdown) {
        ui.warn(&format!("{e} (GITHUB_STEP_SUMMARY)"));
    }
}
