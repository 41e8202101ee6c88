//! `roster completions SHELL`: print shell completions.

use super::{Cli, CommandError, Exit, Ui};
use clap::{Args, CommandFactory};

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn run(ui: &Ui, args: &CompletionsArgs) -> Result<Exit, CommandError> {
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "roster", &mut buf);
    ui.out(&String::from_utf8_lossy(&buf));
    Ok(Exit::Ok)
}
