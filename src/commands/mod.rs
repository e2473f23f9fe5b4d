//! Commands: each file wires one command's resolved settings to the pipeline's stages.

pub mod dry_run;
pub mod emulator;
pub mod lookup;
pub mod outputs;
pub mod plan;
pub mod prepare;
pub mod runs;
pub mod signals;
pub mod sync;
pub mod undo;

use crate::cli::{Cli, Command};
use crate::ui::Terminal;

/// Runs the parsed command line; returns the exit code. `Err` is for what stops a run
/// before or while it works (exit 1).
pub async fn run(cli: &Cli, terminal: &Terminal) -> anyhow::Result<i32> {
    match &cli.command {
        Command::Plan(args) => plan::run(args, terminal),
        Command::Sync(args) if args.dry_run => dry_run::run(args, terminal).await,
        Command::Sync(args) => sync::run(args, terminal).await,
        Command::Emulator(args) => emulator::run(args).await,
        Command::Runs(args) => runs::run(args, terminal),
    }
}
