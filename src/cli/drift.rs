//! `roster drift`: the plan's read and rendering for scheduled runs. Exit 0 in sync, 2 drift, 1
//! error, and never 3: a tripped safety gate is drift to report, not a refusal (nothing is
//! applied). `--ignore-known FILE` accepts listed drift until its expiry; the file is checked
//! before anything is read from a server.

use super::{CommandError, Exit, Format, GlobalArgs, Ui};
use crate::plan::PlanOptions;
use crate::render;
use crate::shell;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Accepted drift: a YAML list of `{address, reason?, expires?: YYYY-MM-DD}`.
    #[arg(long = "ignore-known", value_name = "FILE")]
    pub ignore_known: Option<PathBuf>,
}

pub fn run(ui: &Ui, global: &GlobalArgs, args: &DriftArgs) -> Result<Exit, CommandError> {
    let settings = global.settings();
    let desired = super::read_config(ui, &settings)?;
    let known = match &args.ignore_known {
        Some(path) => shell::drift::read_known(path, &desired)?,
        None => Vec::new(),
    };
    let targets = shell::target::select(&desired, &settings.targets)?;
    let compiled = shell::target::compile_all(&desired, &targets)?;
    let runtime = shell::runtime()?;
    let plans = runtime.block_on(shell::plan::plan_all(
        &desired,
        &compiled,
        &settings.connect,
        &PlanOptions::default(),
        &super::plan::Verbose(ui),
    ))?;
    let doc = shell::plan::document(&desired, plans);
    // Judged after redaction, so the known list shows names as the plan does (ids are kept).
    let doc = if global.redact {
        render::redact(&doc)
    } else {
        doc
    };
    let report = shell::drift::judge(&doc, &known);
    let file = args.ignore_known.as_ref().map(|p| p.display().to_string());
    match global.format {
        Format::Text => {
            let mut out = render::text::render_plan_to_apply(&doc, ui.color_out);
            out.push_str(&render::drift::render_drift_text(&report, file.as_deref()));
            ui.out(&out);
        }
        Format::Markdown => {
            let parts = render::drift::render_drift_markdown(&doc, &report, file.as_deref());
            let text = parts.join(&format!("\n{}\n", super::show::PART_BREAK));
            ui.out(&text);
            super::plan::step_summary(ui, &text);
        }
        Format::Json => {
            let mut value = serde_json::to_value(&doc).map_err(shell::ShellError::EncodeReport)?;
            value["drift"] = report.to_json();
            ui.out(&format!(
                "{}\n",
                serde_json::to_string_pretty(&value).map_err(shell::ShellError::EncodeReport)?
            ));
        }
    }
    Ok(if report.drifted() {
        Exit::Changes
    } else {
        Exit::Ok
    })
}
