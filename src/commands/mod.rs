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
/// until a commit is synced, so a thread per core keeps sending while one waits.
///
/// The emulator runs on one thread for the same reason as `sync`: its handlers are short
/// and never block (every lock is taken and let go between two awaits), and on two cores
/// shared with its client, a thread per core spent its time waking workers on the other
/// core. Side by side against `wrk -t1 -c32` (fresh request IDs, twice each) it answered
/// 60,700–61,000 PATCHes/s on one thread against 47,100–49,900 on two, at 15 µs of CPU
/// per request against 20, and a 120,000-document `sync --rate unlimited` took 2.48–2.52 s
/// against 2.82–2.87 s.
///
/// `plan` awaits nothing: it reads, plans and writes on threads of its own, and a
/// runtime's workers would only be started to sit beside them.
pub fn threads(parsed: &Parsed) -> Threads {
    match &parsed.cli.command {
        Command::Sync(args) if args.ledger.is_none() => Threads::One,
        Command::Emulator(_) | Command::Plan(_) => Threads::One,
        _ => Threads::PerCore,
    }
}

/// How soon memory that a command frees goes back to the OS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreedMemory {
    /// At once: `sync` holds its plan through a long run, and what planning freed on the
    /// way (grown lists' old buffers, the input's batches, the planning threads' heaps)
    /// should not stay resident beside it at the run's peak.
    ReturnAtOnce,
    /// After the allocator's delay (mimalloc's 1 s), so that memory freed and soon
    /// needed again is not given back and faulted in anew.
    Default,
}

/// What `parsed`'s command wants of the allocator (see [`FreedMemory`]).
///
/// Measured side by side with the benchmark's `sync-memory` scenario, twice: the peak of
/// the 500,000-row sync fell from 80.5-82.3 MiB (1.93-1.97 x its input) to 59.8-59.9 MiB,
/// the million-row one's from 124-127 to 105.5 MiB, at the same sending rate. `plan` of
/// the million-row CSV ran 9 % slower with memory given back at once, so it keeps the
/// delay, as does the emulator.
pub fn freed_memory(parsed: &Parsed) -> FreedMemory {
    match &parsed.cli.command {
        Command::Sync(_) => FreedMemory::ReturnAtOnce,
        _ => FreedMemory::Default,
    }
}

/// Runs the parsed command line; returns the exit code. `Err` is for what stops a run
/// before or while it works (exit 1).
pub async fn run(parsed: &Parsed, terminal: &Terminal) -> anyhow::Result<i32> {
    for (variable, meant) in &parsed.misspelt_variables {
        tracing::warn!(%variable, "{variable} is read by no option and is ignored; did you mean {meant}?");
    }
    for notice in &parsed.notices {
        tracing::warn!("{notice}");
    }
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
        Command::Man(args) => completions::man(args, terminal),
    }
}

/// The exit code of a command that `error` stopped: 2 for output paths that clash (an
/// output that is an input, two outputs naming one file, a report that names no format),
/// which is a usage error as SPEC.md counts them; 1 for every other.
pub fn exit_code_of(error: &anyhow::Error) -> i32 {
    let clash = error
        .chain()
        .any(|cause| cause.is::<output_paths::OutputPathError>());
    match clash {
        true => 2,
        false => 1,
    }
}

/// Writes `text` to stdout for a command that prints and exits (`runs`, `config show`,
/// `man`, `completions`): exit 0, and a reader that stops early (`refsync runs | head`)
/// is not an error worth a message.
pub fn print_to_stdout(text: &[u8]) -> anyhow::Result<i32> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Parsed {
        let args = std::iter::once("refsync").chain(args.iter().copied());
        crate::config::layers::parse_from(args.map(Into::into).collect())
            .expect("the command line parses")
    }

    fn threads_for(args: &[&str]) -> Threads {
        threads(&parsed(args))
    }

    #[test]
    fn a_sync_runs_on_one_thread_unless_a_ledger_needs_one_to_wait_on_commits() {
        assert_eq!(threads_for(&["sync", "u.csv"]), Threads::One);
        assert_eq!(threads_for(&["sync", "u.csv", "--dry-run"]), Threads::One);
        let ledger = ["sync", "u.csv", "--ledger", "l.db"];
        assert_eq!(threads_for(&ledger), Threads::PerCore);
        assert_eq!(threads_for(&["emulator"]), Threads::One);
        assert_eq!(threads_for(&["plan", "u.csv"]), Threads::One);
    }

    #[test]
    fn a_sync_gives_freed_memory_back_at_once_and_plan_keeps_the_allocators_delay() {
        let freed = |args: &[&str]| freed_memory(&parsed(args));
        assert_eq!(freed(&["sync", "u.csv"]), FreedMemory::ReturnAtOnce);
        assert_eq!(
            freed(&["sync", "u.csv", "--dry-run"]),
            FreedMemory::ReturnAtOnce
        );
        assert_eq!(freed(&["plan", "u.csv"]), FreedMemory::Default);
        assert_eq!(freed(&["emulator"]), FreedMemory::Default);
    }
}
