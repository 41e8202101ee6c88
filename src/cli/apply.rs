//! `roster apply [PLAN_FILE]`: carry out a plan (docs/contract.md#apply).
//!
//! With a saved plan it applies exactly that plan, after checking that the configuration is
//! the one the plan was made from and re-reading every object the plan touches; it never
//! prompts. Without one it plans, shows the plan, asks for `yes` on a terminal (or takes
//! `--auto-approve`), and applies. Every refusal (stale plan, tripped gate, protected object,
//! no confirmation) happens before the first write.

use super::error::CliError;
use super::progress::{describe, result_line, Printer};
use super::{CommandError, Exit, GlobalArgs, Ui};
use crate::apply::report::final_line;
use crate::apply::{ChangeResult, Status};
use crate::plan::{PlanDocument, PlanOptions};
use crate::shell::{self, gates};
use clap::Args;
use std::io::BufRead;
use std::path::PathBuf;

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
        return Err(CliError::NoTerminal.into());
    }
    let mut settings = global.settings();
    // A saved plan is read first: without -c, its configuration is the one it records.
    let saved_doc = match &args.plan_file {
        Some(path) => {
            let doc = shell::saved::read_plan_file(path)?;
            if global.config.is_none() {
                if let Some(config) = shell::saved::recorded_config(&doc, path)? {
                    settings.config = config;
                }
            }
            Some(doc)
        }
        None => None,
    };
    let desired = super::read_config(ui, &settings)?;
    let runtime = shell::runtime()?;
    let started_at = shell::files::now_rfc3339();

    let (doc, compiled, saved) = match (&args.plan_file, saved_doc) {
        (Some(path), Some(doc)) => {
            let doc = shell::saved::accept(doc, path, &desired, &settings.targets)?;
            let compiled =
                shell::target::compile_all(&desired, &shell::saved::targets(&doc, &desired))?;
            (doc, compiled, true)
        }
        _ => {
            let targets = shell::target::select(&desired, &settings.targets)?;
            let compiled = shell::target::compile_all(&desired, &targets)?;
            let plans = runtime.block_on(shell::plan::plan_all(
                &desired,
                &compiled,
                &settings.connect,
                &PlanOptions::default(),
                &super::plan::Verbose(ui),
            ))?;
            let doc = shell::plan::document(&desired, plans);
            super::plan::print_plan(ui, global, &doc, false, None, true);
            (doc, compiled, false)
        }
    };

    if let Some(want) = &args.checksum {
        shell::saved::check_checksum(&doc, want)?;
    }
    let conflicts = crate::render::text::conflict_count(&doc);
    if !shell::saved::has_work(&doc) {
        if conflicts > 0 {
            // Nothing to send, yet the desired state is not reached: exiting 0 here would let a
            // new hire go without access and nobody notice.
            ui.error(&conflicts_remain(conflicts), Some(CONFLICT_HINT));
            return Ok(Exit::Partial);
        }
        if saved {
            ui.out("No changes. Live state matches the configuration.");
        }
        return Ok(Exit::Ok);
    }

    let refusals = |doc: &PlanDocument| -> Result<(), shell::ShellError> {
        gates::check_gates(doc, args.allow_destroy)?;
        gates::check_protected(&compiled, doc)
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
    let redact = settings.redact;
    let name_of = move |name: &str| {
        if redact {
            crate::render::redact::digest(name)
        } else {
            name.to_string()
        }
    };
    let ready = runtime.block_on(shell::apply::prepare(
        &settings.connect,
        &name_of,
        &desired,
        &compiled,
        &doc,
        saved,
    ))?;
    if saved {
        if let Err(e) = refusals(&doc) {
            runtime.block_on(shell::apply::close_all(ready));
            return Err(e.into());
        }
    }
    let outcome = runtime.block_on(shell::apply::apply_all(ready, |name, total| {
        Printer::new(ui, global, name, total)
    }))?;
    if let Some(path) = &args.report {
        shell::apply::write_report(path, &doc, started_at, &outcome, &name_of)?;
    }

    let failures: Vec<&ChangeResult> = outcome
        .targets
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
    result_line(ui, global, &final_line(&outcome.totals));
    if conflicts > 0 {
        ui.error(&conflicts_remain(conflicts), Some(CONFLICT_HINT));
    }
    Ok(if failures.is_empty() && conflicts == 0 {
        Exit::Ok
    } else {
        Exit::Partial
    })
}

/// How to resolve a conflict, the three ways docs/contract.md#matching-and-ownership names.
const CONFLICT_HINT: &str = "for each, fix the live object's externalId, `release` it, or change the target's `match`; `roster explain ADDR` shows the other object";

/// The final word of an apply that left conflicts: why it exits 5 though nothing failed.
fn conflicts_remain(n: u64) -> String {
    let (noun, verb) = if n == 1 {
        ("conflict", "remains")
    } else {
        ("conflicts", "remain")
    };
    format!("{n} {noun} {verb}, not changed: the desired state was not reached (exit 5)")
}

fn confirm(ui: &Ui) -> Result<bool, CliError> {
    ui.prompt(
        "\nDo you want to perform these actions?\n  roster will perform the actions described above.\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ",
    );
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(CliError::ReadAnswer)?;
    Ok(line.trim() == "yes")
}
