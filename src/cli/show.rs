//! `roster show PLAN_FILE`: render a saved plan (text, markdown or json) without touching the
//! network. It refuses a document of an unknown major format version and one whose checksum no
//! longer matches its changes, so what a reviewer reads is what `apply PLAN_FILE` would do.

use super::{CommandError, Format, GlobalArgs, Ui};
use crate::cli::Exit;
use crate::plan::document::{checksum, PlanDocument, FORMAT_VERSION};
use crate::render;
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
    let doc = read_plan_file(&args.plan_file)?;
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

/// Read a saved plan: the JSON document, a known major version, an intact checksum.
pub fn read_plan_file(path: &std::path::Path) -> Result<PlanDocument, CommandError> {
    let shown = path.display();
    let text = fs_err::read_to_string(path)
        .map_err(|e| CommandError::error(format!("cannot read the plan file: {e}")))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        CommandError::error(format!("{shown} is not a roster plan file: {e}"))
            .hint("plan files are written by `roster plan --out FILE`")
    })?;
    let version = value
        .get("format_version")
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            CommandError::error(format!(
                "{shown} is not a roster plan file: no format_version"
            ))
            .hint("plan files are written by `roster plan --out FILE`")
        })?;
    let major = version.split('.').next().unwrap_or_default();
    if major != FORMAT_VERSION {
        return Err(CommandError::error(format!(
            "{shown} has plan format version {version}, and this roster reads version {FORMAT_VERSION}"
        ))
        .hint("show or apply the plan with the roster version that wrote it, or plan again"));
    }
    let doc = PlanDocument::from_value(value).map_err(|e| {
        CommandError::error(format!("{shown} is not a valid roster plan file: {e}"))
    })?;
    if checksum(&doc.targets) != doc.checksum {
        return Err(CommandError::error(format!(
            "{shown}: the plan file was modified after it was written (its checksum does not match its changes)"
        ))
        .hint("plan again with `roster plan --out FILE`"));
    }
    Ok(doc)
}
