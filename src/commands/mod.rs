//! Commands: each file wires one command's resolved settings to the pipeline's stages.

pub mod auth;
pub mod breaker;
pub mod completions;
pub mod config_show;
pub mod dry_run;
pub mod emulator;
pub mod ledger_run;
pub mod lookup;
pub mod output_paths;
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

/// The threads a command's async runtime should have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threads {
    /// Every task on the thread that runs the command.
    One,
    /// A worker thread per core.
    PerCore,
}

/// The runtime `parsed`'s command runs best on.
///
/// A `sync` without a ledger runs on one thread: its tasks then never wake one another
/// across threads, and side by side against the emulator at `--rate unlimited` that sent
/// the same 120,000 documents in about a fifth less time, with a third less CPU per
/// request (`refsync-bench unthrottled`). With a ledger, every record blocks its thread
/// until a commit is synced, so a thread per core keeps sending while one waits; the
/// emulator serves many connections and uses every core.
pub fn threads(parsed: &Parsed) -> Threads {
    match &parsed.cli.command {
        Command::Sync(args) if args.ledger.is_none() => Threads::One,
        _ => Threads::PerCore,
    }
}

/// Runs the parsed command line; returns the exit code. `Err` is for what stops a run
/// before or while it works (exit 1).
pub async fn run(parsed: &Parsed, terminal: &Terminal) -> anyhow::Result<i32> {
    match &parsed.cli.command {
        Command::Plan(args) => {
            let ran = plan::run(args, terminal);
            outputs::summarise_failure(&ran, &args.common, "plan");
            ran
        }
        Command::Sync(args) => {
            // `[auth]` is judged only if no other token source comes first.
            let auth = config::auth::resolve(&config::auth::layered(parsed.file.as_ref()));
            let ran = if args.dry_run {
                dry_run::run(args, &auth, terminal).await
            } else {
                sync::run(args, &auth, terminal).await
            };
            let command = if args.dry_run { "dry-run" } else { "sync" };
            outputs::summarise_failure(&ran, &args.common, command);
            ran
        }
        Command::Emulator(args) => emulator::run(args).await,
        Command::Runs(args) => runs::run(args, terminal),
        Command::Auth(args) => auth::run(args, parsed, terminal).await,
        Command::Config(args) => match &args.command {
            ConfigCommand::Show(sync_args) => config_show::run(sync_args, parsed),
        },
        Command::Completions(args) => completions::completions(args),
        Command::Man(args) => completions::man(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threads_for(args: &[&str]) -> Threads {
        let args = std::iter::once("refsync").chain(args.iter().copied());
        let parsed = crate::config::layers::parse_from(args.map(Into::into).collect())
            .expect("the command line parses");
        threads(&parsed)
    }

    #[test]
    fn a_sync_runs_on_one_thread_unless_a_ledger_needs_one_to_wait_on_commits() {
        assert_eq!(threads_for(&["sync", "u.csv"]), Threads::One);
        assert_eq!(threads_for(&["sync", "u.csv", "--dry-run"]), Threads::One);
        let ledger = ["sync", "u.csv", "--ledger", "l.db"];
        assert_eq!(threads_for(&ledger), Threads::PerCore);
        assert_eq!(threads_for(&["emulator"]), Threads::PerCore);
        assert_eq!(threads_for(&["plan", "u.csv"]), Threads::PerCore);
    }
}
