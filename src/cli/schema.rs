//! `roster schema`: print the JSON Schema of the configuration. `schema/roster.schema.json` is
//! exactly this output; a test fails when they differ.

use super::{CommandError, Exit, Ui};
use clap::Args;

#[derive(Debug, Args)]
pub struct SchemaArgs {}

pub fn run(ui: &Ui, _args: &SchemaArgs) -> Result<Exit, CommandError> {
    ui.out(&crate::config::schema_json());
    Ok(Exit::Ok)
}
