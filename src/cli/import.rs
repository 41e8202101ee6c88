//! `roster import`: adopt a populated tenant. Reads one target (GET only), prints or writes the
//! YAML that makes the next plan empty, and ends with what it wrote and what it could not
//! reverse.

use super::{CommandError, Exit, GlobalArgs, Ui};
use crate::shell::{
    self,
    import::{Filter, Imported},
    CompiledTarget,
};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Which live objects to import: every one, those no directory entry matches, those that
    /// differ, live-active users the directory has inactive or unassigned, or live-inactive
    /// and missing users the directory has active.
    #[arg(long, value_enum, default_value_t = FilterArg::All)]
    pub filter: FilterArg,
    /// Write users.yaml and groups.yaml into this directory (created when missing) instead
    /// of printing them.
    #[arg(long, value_name = "DIR")]
    pub write: Option<PathBuf>,
    /// Overwrite files that exist.
    #[arg(long, requires = "write")]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FilterArg {
    All,
    New,
    Update,
    Activate,
    Deactivate,
}

impl From<FilterArg> for Filter {
    fn from(f: FilterArg) -> Filter {
        match f {
            FilterArg::All => Filter::All,
            FilterArg::New => Filter::New,
            FilterArg::Update => Filter::Update,
            FilterArg::Activate => Filter::Activate,
            FilterArg::Deactivate => Filter::Deactivate,
        }
    }
}

const FILES: [&str; 2] = ["users.yaml", "groups.yaml"];

pub fn run(ui: &Ui, global: &GlobalArgs, args: &ImportArgs) -> Result<Exit, CommandError> {
    let settings = global.settings();
    let desired = super::read_config(ui, &settings)?;
    let target = shell::import::one_target(&desired, &settings.targets)?;
    // Refuse a bad destination before reading anything.
    if let Some(dir) = &args.write {
        shell::import::check_destination(dir, &FILES, args.force)?;
    }
    let compiled = CompiledTarget::compile(&desired, target).map_err(shell::ShellError::from)?;
    let runtime = shell::runtime()?;
    let imported = runtime.block_on(shell::import::import(
        &desired,
        &compiled,
        &settings.connect,
        args.filter.into(),
    ))?;
    ui.debug(&format!(
        "target {}: live state read in {} requests",
        imported.target, imported.requests.get
    ));
    let wrote = match &args.write {
        Some(dir) => {
            let paths = shell::import::write_files(dir, &imported.files, args.force)?;
            let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            format!("wrote {}", names.join(" and "))
        }
        None => {
            let text: String = imported.files.iter().map(|f| f.text.as_str()).collect();
            ui.out(&text);
            format!(
                "printed {} (pass --write DIR to write them)",
                FILES.join(" and ")
            )
        }
    };
    report(ui, &imported);
    let not = imported.not_reversed.len();
    ui.status(&format!(
        "Import complete: {wrote}: {} and {} from target {:?} (filter {}); {}.",
        plural(imported.users, "user"),
        plural(imported.groups, "group"),
        imported.target,
        imported.filter.as_str(),
        match not {
            0 => "every mapped attribute reversed".to_string(),
            _ => format!(
                "{} could not be reversed ({})",
                plural(not, "attribute"),
                plural(imported.not_reversed_count(), "value")
            ),
        }
    ));
    Ok(Exit::Ok)
}

/// What the user must look at before committing: attributes not reversed, adopted users, and
/// users written active that the target does not receive.
fn report(ui: &Ui, imported: &Imported) {
    for n in &imported.not_reversed {
        let kind = match n.kind {
            crate::plan::ObjectKind::User => "user",
            crate::plan::ObjectKind::Group => "group",
        };
        let shown: Vec<&str> = n.objects.iter().take(5).map(String::as_str).collect();
        let more = n.objects.len().saturating_sub(shown.len());
        ui.warn(&format!(
            "not reversed: {kind} attribute `{}` is mapped from {} and its rendering differs from the live value for {} ({}{}); the next plan will update it unless the mapping or these entries change",
            n.path,
            n.why.as_str(),
            plural(n.objects.len(), kind),
            shown.join(", "),
            if more > 0 { format!(", and {more} more") } else { String::new() }
        ));
    }
    if imported.adopted > 0 {
        ui.status(&format!(
            "{} had no externalId: written with ids derived from their userName; the next plan adopts them (sets their externalId).",
            plural(imported.adopted, "user")
        ));
    }
    if !imported.unassigned.is_empty() {
        ui.warn(&format!(
            "{} written active that target {:?} does not receive ({}): assign them (its `assign`), or the next plan deactivates them",
            plural(imported.unassigned.len(), "user"),
            imported.target,
            imported.unassigned.join(", ")
        ));
    }
}

fn plural(n: usize, w: &str) -> String {
    format!("{n} {w}{}", if n == 1 { "" } else { "s" })
}
