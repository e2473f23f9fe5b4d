//! The flags of every command, as SPEC.md "Flags" names them.

use crate::config::parse::{self, MaxFailures};
use crate::send::RateLimit;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Partner Center's API base, `--endpoint`'s default.
pub const DEFAULT_ENDPOINT: &str = "https://api.partner.microsoft.com/v1.0";

/// Bulk-apply updates to Microsoft Partner Center referrals from CSV or JSONL files.
#[derive(Debug, Parser)]
#[command(name = "refsync", version = crate::VERSION, propagate_version = true)]
#[command(
    after_help = "Try it with no setup:  refsync sync samples/updates.csv --emulator\n\nEvery flag can also be set in the --config file (max_attempts = 8) or as REFSYNC_<NAME>\n(REFSYNC_MAX_ATTEMPTS=8); a flag wins over the environment, which wins over the file."
)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The `sync` flags of the command line, for `sync` and for `config show`.
    pub fn sync_args_mut(&mut self) -> Option<&mut SyncArgs> {
        match &mut self.command {
            Command::Sync(args) => Some(args),
            Command::Config(config) => match &mut config.command {
                super::tools::ConfigCommand::Show(args) => Some(args),
            },
            _ => None,
        }
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse, group and validate updates offline; write the planned documents and a report.
    #[command(
        after_help = "Example:  refsync plan updates.csv --out planned.jsonl --report plan.csv"
    )]
    Plan(PlanArgs),
    /// Plan, then send every valid document as one PATCH; write the report.
    #[command(
        after_help = "Examples:\n  refsync sync samples/updates.csv --emulator\n  refsync sync updates.csv --token-file token.txt --rate 5/s --report report.csv --rejects rejects.csv\n\nThe access token comes from the first of: --token-command CMD, --token-file FILE, the\nPARTNER_CENTER_TOKEN environment variable, the [auth] refresh token of the --config file\n(refsync auth login). A source on the command line beats one in the environment\n(REFSYNC_TOKEN_COMMAND, REFSYNC_TOKEN_FILE, PARTNER_CENTER_TOKEN), which beats one in the\nconfig file; `refsync config show` tells which one a run would use."
    )]
    Sync(Box<SyncArgs>),
    /// Run the local Partner Center referrals emulator until stopped.
    #[command(
        after_help = "Example:  refsync emulator --listen 127.0.0.1:8080 --generate 10000 --throttle 200/s"
    )]
    Emulator(EmulatorArgs),
    /// List the runs recorded in a ledger; `runs show RUN` for one run's documents not updated.
    #[command(
        after_help = "Examples:\n  refsync runs --ledger nightly.db\n  refsync runs show 12 --ledger nightly.db --json"
    )]
    Runs(RunsArgs),
    /// Sign in for unattended runs (the refresh token of the [auth] config section).
    Auth(super::tools::AuthArgs),
    /// Inspect the configuration: the file, REFSYNC_* variables and flags, layered.
    Config(super::tools::ConfigArgs),
    /// Print shell completions.
    #[command(after_help = "Examples:
  refsync completions bash > ~/.local/share/bash-completion/completions/refsync
  refsync completions zsh > ~/.zfunc/_refsync
  refsync completions fish > ~/.config/fish/completions/refsync.fish
  refsync completions powershell >> $PROFILE")]
    Completions(super::tools::CompletionsArgs),
    /// Print a man page (roff) to stdout: refsync's own, or a command's (refsync man sync).
    #[command(
        after_help = "Examples:\n  refsync man > refsync.1 && man ./refsync.1\n  refsync man sync > refsync-sync.1\n  refsync man config show > refsync-config-show.1"
    )]
    Man(super::tools::ManArgs),
}

/// Log formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// When to draw the progress bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// Only when stderr is a terminal.
    Auto,
    /// Always (e.g. under a CI that renders it).
    Always,
    /// Never.
    Never,
}

/// Options of every command.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Log format on stderr.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "REFSYNC_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
    /// More log detail (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less output: errors only (no progress bar unless --progress always; the summary only
    /// when the exit code is not 0).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub quiet: u8,
    /// TOML config file: every flag's value (max_attempts = 8) and the [auth] section.
    #[arg(long, global = true, value_name = "FILE", env = "REFSYNC_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Input-format choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// CSV with a header row.
    Csv,
    /// JSON Lines.
    Jsonl,
}

/// What to do with two rows replacing one path with different values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OnDuplicateArg {
    /// The document is invalid.
    Error,
    /// The last row's operation stands.
    LastWins,
}

/// Options shared by `plan` and `sync`: inputs, planning and outputs.
#[derive(Clone, Debug, Args)]
pub struct CommonArgs {
    /// Input files (CSV, JSONL), or - for stdin.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Input format when the extension does not say.
    #[arg(long, value_enum, env = "REFSYNC_FORMAT")]
    pub format: Option<FormatArg>,
    /// CSV delimiter (`;` for many Excel exports; `tab` for tabs).
    #[arg(long, default_value = ",", value_parser = parse::delimiter, env = "REFSYNC_DELIMITER")]
    pub delimiter: u8,
    /// Input encoding: utf-8, or e.g. windows-1252 for Excel exports (transcoded to UTF-8).
    #[arg(long, value_name = "NAME", default_value = "utf-8", value_parser = crate::input::parse_encoding, env = "REFSYNC_ENCODING")]
    pub encoding: &'static encoding_rs::Encoding,
    /// Column-mapping file (TOML) for wide CSV exports from a CRM; see docs/mapping.md.
    #[arg(long, value_name = "FILE", env = "REFSYNC_MAPPING")]
    pub mapping: Option<PathBuf>,
    /// Two rows replacing one path with different values: error, or the last one wins.
    #[arg(
        long,
        value_enum,
        default_value = "error",
        env = "REFSYNC_ON_DUPLICATE"
    )]
    pub on_duplicate: OnDuplicateArg,
    /// Only the documents whose IDs are listed in FILE (one per line).
    #[arg(long, value_name = "FILE", env = "REFSYNC_IDS")]
    pub ids: Option<PathBuf>,
    /// Only the first N documents (a canary run).
    #[arg(long, value_name = "N", env = "REFSYNC_LIMIT")]
    pub limit: Option<usize>,
    /// Report file, .csv or .jsonl, `-` for stdout (default refsync-report-<timestamp>.csv).
    #[arg(long, value_name = "FILE", value_parser = parse::report_path, env = "REFSYNC_REPORT")]
    pub report: Option<PathBuf>,
    /// Write the input rows of conflict, failed and invalid documents here, to fix and re-feed.
    #[arg(long, value_name = "FILE", value_parser = parse::output_path, env = "REFSYNC_REJECTS")]
    pub rejects: Option<PathBuf>,
    /// Write the summary as JSON here (`-` for stdout).
    #[arg(long, value_name = "FILE", value_parser = parse::output_path, env = "REFSYNC_SUMMARY_JSON")]
    pub summary_json: Option<PathBuf>,
    /// Progress bar on stderr.
    #[arg(long, value_enum, default_value = "auto", env = "REFSYNC_PROGRESS")]
    pub progress: ProgressMode,
}

/// `refsync plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Inputs, planning and outputs.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Planned documents as JSONL in the document form (default, and `-`: stdout).
    #[arg(long, value_name = "FILE", value_parser = parse::output_path, env = "REFSYNC_OUT")]
    pub out: Option<PathBuf>,
}

/// If-Match policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum IfMatchArg {
    /// The input's ETag, else fetch for documents that append.
    Auto,
    /// The ETag given in the input, if any.
    Input,
    /// Read each referral first and send its current ETag.
    Fetch,
    /// Send none.
    None,
}

/// Conflict policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OnConflictArg {
    /// Record the 412 as conflict.
    Report,
    /// Re-read the referral, re-check, retry with its new ETag (at most 3 times).
    Refetch,
    /// Retry without If-Match.
    Overwrite,
}

/// `refsync sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Inputs, planning and outputs.
    #[command(flatten)]
    pub common: CommonArgs,
    /// API base, /v1.0 included.
    #[arg(
        long,
        value_name = "URL",
        value_parser = parse::ENDPOINT,
        env = "REFSYNC_ENDPOINT",
        hide_env_values = true,
        default_value = DEFAULT_ENDPOINT
    )]
    pub endpoint: String,
    /// Run against the built-in emulator, in this process; no token needed.
    #[arg(long, env = "REFSYNC_EMULATOR")]
    pub emulator: bool,
    /// With --emulator: seed it from this JSONL file instead of the built-in sample
    /// (ignored without --emulator: REFSYNC_SEED may be set for `refsync emulator`).
    #[arg(long, value_name = "FILE", env = "REFSYNC_SEED")]
    pub seed: Option<PathBuf>,
    /// Client rate limit for all requests: N/s, N/m, N/h or unlimited.
    #[arg(long, default_value = "10/s", value_parser = parse::rate, env = "REFSYNC_RATE")]
    pub rate: RateLimit,
    /// Requests the rate limiter lets through at once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..), env = "REFSYNC_BURST")]
    pub burst: u32,
    /// Cap on requests in flight; below it refsync adapts the number by itself (rate × latency).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=1024), env = "REFSYNC_CONCURRENCY")]
    pub concurrency: u32,
    /// Tries per request, the first included.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=100), env = "REFSYNC_MAX_ATTEMPTS")]
    pub max_attempts: u32,
    /// Per-request timeout (500ms, 30s, 5m, 2h).
    #[arg(long, default_value = "30s", value_parser = parse::duration, env = "REFSYNC_TIMEOUT")]
    pub timeout: Duration,
    /// Where If-Match comes from.
    #[arg(long, value_enum, default_value = "auto", env = "REFSYNC_IF_MATCH")]
    pub if_match: IfMatchArg,
    /// What a 412 Precondition Failed does.
    #[arg(
        long,
        value_enum,
        default_value = "report",
        env = "REFSYNC_ON_CONFLICT"
    )]
    pub on_conflict: OnConflictArg,
    /// Send Prefer: return=representation (the API answers 200 with the referral).
    #[arg(long, env = "REFSYNC_RETURN_REPRESENTATION")]
    pub return_representation: bool,
    /// A command whose stdout is the access token (re-run on 401).
    #[arg(
        long,
        value_name = "CMD",
        value_parser = parse::command,
        env = "REFSYNC_TOKEN_COMMAND",
        hide_env_values = true
    )]
    pub token_command: Option<String>,
    /// A file holding the access token (re-read on 401).
    #[arg(long, value_name = "FILE", env = "REFSYNC_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// An extra trusted root certificate (PEM).
    #[arg(long, value_name = "FILE", env = "REFSYNC_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// Bound on the whole run (30m, 2h): what is unfinished then is reported failed.
    #[arg(long, value_name = "DUR", value_parser = parse::duration, env = "REFSYNC_DEADLINE")]
    pub deadline: Option<Duration>,
    /// Read each referral (GET) and report what would change; send no PATCH.
    #[arg(long, env = "REFSYNC_DRY_RUN")]
    pub dry_run: bool,
    /// Write, for every document applied, a document-form line restoring what it replaced.
    #[arg(long, value_name = "FILE", env = "REFSYNC_UNDO")]
    pub undo: Option<PathBuf>,
    /// SQLite ledger recording each run and document outcome, for resume and history.
    #[arg(long, value_name = "FILE", env = "REFSYNC_LEDGER")]
    pub ledger: Option<PathBuf>,
    /// Continue the newest unfinished run of the same inputs and options in the ledger.
    #[arg(long, env = "REFSYNC_RESUME")]
    pub resume: bool,
    /// Skip a document identical to the last one the ledger shows applied for its referral.
    #[arg(long, env = "REFSYNC_SKIP_UNCHANGED")]
    pub skip_unchanged: bool,
    /// Stop early (exit 5) after N failed documents, or when P% of at least 20 finished failed.
    #[arg(long, value_name = "N|P%", value_parser = parse::max_failures, env = "REFSYNC_MAX_FAILURES")]
    pub max_failures: Option<MaxFailures>,
}

/// `refsync emulator`.
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on; port 0 picks a free port.
    ///
    /// Its variable is REFSYNC_LISTEN, as for every option; REFSYNC_EMULATOR_LISTEN, its
    /// earlier name, still counts when REFSYNC_LISTEN is not set.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Seed the referrals from this JSONL file (default: the built-in sample).
    #[arg(long, value_name = "FILE", conflicts_with = "generate")]
    pub seed: Option<PathBuf>,
    /// Seed N synthetic referrals instead.
    #[arg(long, value_name = "N")]
    pub generate: Option<usize>,
    /// Require this bearer token on every request.
    #[arg(long, value_name = "T", value_parser = parse::BEARER_TOKEN, hide_env_values = true)]
    pub token: Option<String>,
    /// Latency added to every answer, in milliseconds (with jitter).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of requests answered 500/502/503/504 before anything is applied.
    #[arg(long, value_name = "F", default_value = "0", value_parser = parse::share)]
    pub fail_rate: f64,
    /// Server-side limit N/s: beyond it, 429.
    #[arg(long, value_name = "N/s", value_parser = parse::per_second)]
    pub throttle: Option<u32>,
    /// 429 answers carry no Retry-After.
    #[arg(long)]
    pub no_retry_after: bool,
    /// Seed of the fault generator, so a run repeats.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub fault_seed: u64,
    /// Share of PATCHes applied and then left unanswered (the connection dropped).
    #[arg(long, value_name = "F", default_value = "0", value_parser = parse::share)]
    pub drop_rate: f64,
    /// Share of requests preceded by another writer's change, so their If-Match goes stale.
    #[arg(long, value_name = "F", default_value = "0", value_parser = parse::share)]
    pub conflict_rate: f64,
    /// Share of requests never answered.
    #[arg(long, value_name = "F", default_value = "0", value_parser = parse::share)]
    pub stall_rate: f64,
    /// A token stops working SECS seconds after it was first seen.
    #[arg(long, value_name = "SECS")]
    pub token_ttl: Option<u64>,
    /// A Closed referral refuses every change (409).
    #[arg(long)]
    pub closed_is_final: bool,
    /// Ignore MS-RequestId (no replay of applied requests), like a server that does not honour it.
    #[arg(long)]
    pub no_replay: bool,
}

/// `refsync runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// The ledger that `sync --ledger` writes (read only; a running sync does not block it).
    #[arg(long, value_name = "FILE", global = true, env = "REFSYNC_LEDGER")]
    pub ledger: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// `show RUN`; without it, every run is listed.
    #[command(subcommand)]
    pub command: Option<RunsCommand>,
}

/// The subcommands of `refsync runs`.
#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// One run's summary and its documents not updated (failed, conflict, in flight…).
    Show {
        /// The run's number, as `refsync runs` lists it.
        #[arg(value_name = "RUN")]
        run: i64,
    },
}
