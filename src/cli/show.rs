//! `roster show PLAN_FILE`: render a saved plan (text, markdown or json) without touching the
//! network. It refuses a document of an unknown major format version and one whose checksum no
//! longer matches its changes, so what a reviewer reads is what `apply PLAN_FILE` would do.

use super::{CommandError, Exit, Format, GlobalArgs, Ui};
use crate::render;
use crate::shell;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The plan file written by `roster plan --out`.
    #[arg(value_name = "PLAN_FILE")]
    pub plan_file: PathBuf,
}

/// Printed between markdown parts, so a script can cut them into separate comments.
pub const PART_BREAK: &str = "<!-- roster-plan part break -->";

pub fn run(ui: &Ui, global: &GlobalArgs, args: &ShowArgs) -> Result<Exit, CommandError> {
    let doc = shell::saved::read_plan_file(&args.plan_file)?;
    let doc = if global.redact {
        render::redact(&doc)
    } else {
        doc
    };
    let out = match global.format {
        Format::Text => {
            render::render_saved_plan(&doc, ui.color_out, &args.plan_file.display().to_string())
        }
        Format::Markdown => render::render_markdown(&doc).join(&format!("\n{PART_BREAK}\n")),
        Format::Json => render::render_json(&doc),
    };
    ui.out(&out);
    Ok(Exit::Ok)
}
