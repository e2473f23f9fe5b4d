//! `refsync-bench`: the benchmark of issue 4. It generates its own data, starts the
//! emulator, runs each scenario against the release binaries as child processes, and prints
//! one table of figures next to their limits or baselines, measured in the same run.
//!
//! Run `cargo build --release --bins && target/release/refsync-bench all`; see
//! `docs/benchmarks.md`. It is not a test: CI times nothing.

mod baseline;
mod cli;
mod emulator;
mod measure;
mod plot;
mod proc_stats;
mod sampler;
mod scenarios;
mod sync_run;
mod table;
mod updates;
mod wrk;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("refsync-bench: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: cli::Cli) -> anyhow::Result<()> {
    if let cli::Command::GenUpdates(gen_args) = &args.command {
        return updates::write_file(&gen_args.spec(), &gen_args.out);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(scenarios::run(args))
}
