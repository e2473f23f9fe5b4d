//! The command line: one subcommand per scenario, `all`, and the updates generator.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::updates::{RowOrder, UpdateFormat, UpdatesSpec};

/// Benchmarks refsync against its emulator and prints one table.
#[derive(Debug, Parser)]
#[command(name = "refsync-bench", version)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
    /// The options every scenario shares.
    #[command(flatten)]
    pub options: BenchOptions,
}

/// The options every scenario shares.
#[derive(Debug, Clone, Args)]
pub struct BenchOptions {
    /// The `refsync` binary to measure (default: the one beside this binary, i.e.
    /// `target/release/refsync` after `cargo build --release --bins`).
    #[arg(long, global = true, value_name = "FILE")]
    pub refsync: Option<PathBuf>,
    /// Where generated inputs, reports and logs go (default: a fresh temporary directory,
    /// removed at the end).
    #[arg(long, global = true, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Where the SVG plots of the sync scenarios go.
    #[arg(long, global = true, value_name = "DIR", default_value = "docs/bench")]
    pub plots: PathBuf,
    /// A sync still running after this many seconds is stopped (SIGTERM) and measured over
    /// what it did so far; the table marks it.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 60)]
    pub max_seconds: u64,
    /// The emulator's `--fault-seed`, which also fixes the generated IDs.
    #[arg(long, global = true, value_name = "N", default_value_t = 1)]
    pub fault_seed: u64,
}

/// The scenarios of issue 4, and the generator.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Every scenario below, one table.
    All,
    /// 4,000 documents, `--rate 200/s`, emulator latency 50 ms and `--throttle 200/s`.
    Throttled,
    /// 3,000 documents, `--rate 500/s`, latency 400 ms, no `--concurrency`.
    Latency,
    /// 3,000 documents, `--rate 500/s`, emulator `--throttle 150/s`, with and without
    /// `Retry-After`.
    UnknownLimit,
    /// 3,000 documents, `--rate 400/s`, latency 5 ms, emulator `--stall-rate 0.01`: 1 % of
    /// requests never answered.
    Stalls,
    /// `--rate unlimited`, latency 0, against `wrk` PATCHing the same emulator.
    Unthrottled,
    /// `refsync plan` of 1,000,000 rows (100,000 referrals), CSV and JSONL, against a bare
    /// parse of the same file.
    Plan,
    /// 1,000,000 rows through the emulator at `--rate unlimited` with `--rejects` and the
    /// report; peak RSS against the input size, and at half the size.
    SyncMemory,
    /// Writes an update file whose IDs are those of `refsync emulator --generate N`.
    GenUpdates(GenArgs),
}

/// `gen-updates`.
#[derive(Debug, Args)]
pub struct GenArgs {
    /// N: the emulator's `--generate N`.
    #[arg(long, value_name = "N")]
    pub referrals: usize,
    /// K: rows per referral; row r goes to referral r % N.
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub rows_per_referral: usize,
    /// The file's format.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: UpdateFormat,
    /// The emulator's `--fault-seed`.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub fault_seed: u64,
    /// Every M-th referral also gets an `add /team/-` member (0: none). Such a document is
    /// not idempotent, so `sync` reads the referral first (one GET more).
    #[arg(long, value_name = "M", default_value_t = 3)]
    pub team_every: usize,
    /// The order of the rows.
    #[arg(long, value_enum, default_value = "passes")]
    pub order: RowOrder,
    /// The file to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

impl GenArgs {
    /// The generator's input.
    pub fn spec(&self) -> UpdatesSpec {
        UpdatesSpec {
            referrals: self.referrals,
            rows_per_referral: self.rows_per_referral,
            format: self.format,
            fault_seed: self.fault_seed,
            team_every: self.team_every,
            order: self.order,
        }
    }
}
