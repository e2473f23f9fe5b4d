//! Commands: each file wires one command's resolved settings to the pipeline's stages.

pub mod auth;
pub mod breaker;
pub mod completions;
pub mod config_show;
pub mod dry_run;
pub mod emulator;
pub mod ledger_run;
pub mod lookup;
pub mod outputs;
pub mod plan;
pub mod prepare;
pub mod runs;
pub mod signals;
pub mod sync;
pub mod undo;

use crate::cli::Command;
use crate::cli::tools::ConfigCommand;
use crate::config;
use crate::config::layers::Parsed;
use crate::ui::Terminal;

/// Runs the parsed command line; returns the exit code. `Err` is for what stops a run
/// before or while it works (exit 1).
pub async fn run(parsed: &Parsed, terminal: &Terminal) -> anyhow::Result<i32> {
    match &parsed.cli.command {
        Command::Plan(args) => plan::run(args, terminal),
        Command::Sync(args) => {
            let auth = config::auth::resolve(&config::auth::layered(parsed.file.as_ref()))?;
            if args.dry_run {
                dry_run::run(args, auth.as_ref(), terminal).await
            } else {
                sync::run(args, auth.as_ref(), terminal).await
            }
        }
        Command::Emulator(args) => emulator::run(args).await,
        Command::Runs(args) => runs::run(args, terminal),
        Command::Auth(args) => auth::run(args, parsed, terminal).await,
        Command::Config(args) => match &args.command {
            ConfigCommand::Show(sync_args) => config_show::run(sync_args, parsed),
        },
        Command::Completions(args) => completions::completions(args),
        Command::Man => completions::man(),
    }
}
