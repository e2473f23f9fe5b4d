//! The local Partner Center referrals emulator: an HTTP server with the behaviour of
//! API.md, fault injection for tests and benchmarks, and counters at `/_emulator/stats`.
//!
//! [`Emulator::start`] runs it inside the calling process (tests, `sync --emulator`,
//! benchmarks); [`run_until_signal`] is `refsync emulator`. The pieces, one concern each:
//! [`seed`] and [`generate`] build the starting referrals, [`store`] holds them with their
//! ETags and replayable answers, [`patch`] validates and applies JSON Patch documents,
//! [`faults`] draws the injected faults, [`auth`] checks bearer tokens, [`stats`] counts,
//! and [`routes`], [`list`] and [`token`] are the HTTP handlers.

pub mod auth;
pub mod faults;
pub mod generate;
pub mod list;
mod listener;
pub mod patch;
pub mod reply;
pub mod routes;
pub mod seed;
pub mod stats;
pub mod store;
pub mod token;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long [`Emulator::shutdown`] waits for open requests before it gives up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Where the emulator's referrals come from.
#[derive(Clone, Debug, Default)]
pub enum Seed {
    /// The sample referrals built into the binary (`samples/referrals.jsonl`).
    #[default]
    Sample,
    /// A JSONL file of referrals.
    File(PathBuf),
    /// `N` synthetic referrals whose IDs are GUIDs derived from N and the fault seed.
    Generate(usize),
}

/// Faults, each drawn from a generator seeded by `fault_seed` so a run repeats.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// `--latency-ms`: added to every answer, with jitter.
    pub latency_ms: u64,
    /// `--fail-rate`: share of requests answered 500/502/503/504 before anything is applied.
    pub fail_rate: f64,
    /// `--throttle N/s`: a token bucket of N per second holding N; beyond it 429.
    pub throttle: Option<u32>,
    /// `--no-retry-after`: 429s carry no `Retry-After`.
    pub no_retry_after: bool,
    /// `--fault-seed`.
    pub fault_seed: u64,
    /// `--drop-rate`: share of PATCHes applied and then left unanswered (connection dropped).
    pub drop_rate: f64,
    /// `--conflict-rate`: share of PATCHes preceded by another writer's change, so that
    /// their If-Match goes stale.
    pub conflict_rate: f64,
    /// `--stall-rate`: share of requests never answered (until the emulator stops).
    pub stall_rate: f64,
    /// `--token-ttl`: a token stops working this long after it was first seen.
    pub token_ttl: Option<Duration>,
    /// `--closed-is-final`: a Closed referral refuses every change (409 `ReferralClosed`).
    pub closed_is_final: bool,
    /// `--no-replay`: ignore `MS-RequestId`, as a server might that does not honour it, so a
    /// retry of a lost response is only safe through If-Match.
    pub no_replay: bool,
}

/// How to start the emulator.
#[derive(Clone, Debug)]
pub struct EmulatorOptions {
    /// Address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The referrals it starts with.
    pub seed: Seed,
    /// `--token`: the bearer token every request must carry, if any.
    pub token: Option<String>,
    /// Fault injection.
    pub faults: Faults,
}

impl Default for EmulatorOptions {
    /// Loopback, a free port, the built-in sample, no token, no faults.
    fn default() -> Self {
        EmulatorOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: Seed::Sample,
            token: None,
            faults: Faults::default(),
        }
    }
}

/// Why the emulator could not start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source} (is another process using the port? try port 0)")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The seed file could not be read.
    #[error("cannot read seed file {path}: {source}")]
    SeedRead {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A line of the seed file is not a referral.
    #[error("seed file {file}, line {line}: {reason}")]
    SeedLine {
        /// The file (`samples/referrals.jsonl` for the built-in sample).
        file: String,
        /// The 1-based line.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// `--token` was given empty (or blank): no request could ever match it.
    #[error(
        "--token is empty: give the bearer token every request must carry, or leave --token out"
    )]
    EmptyToken,
    /// Stdout could not be written (the `listening on` line).
    #[error("cannot write to stdout: {0}")]
    Stdout(std::io::Error),
    /// The signal handlers could not be installed.
    #[error("cannot listen for Ctrl-C / SIGTERM: {0}")]
    Signal(std::io::Error),
}

/// A running emulator. [`Emulator::shutdown`] stops it and waits; dropping it only asks
/// it to stop (so a failing test does not leave a server behind).
pub struct Emulator {
    addr: SocketAddr,
    state: Arc<routes::AppState>,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Seeds the store, binds `options.listen` (port 0 picks a free port) and spawns the
    /// server task.
    pub async fn start(options: EmulatorOptions) -> Result<Emulator, EmulatorError> {
        check_token(options.token.as_deref())?;
        let referrals = seed::load(&options.seed, options.faults.fault_seed)?;
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(|source| EmulatorError::Bind {
                addr: options.listen,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                addr: options.listen,
                source,
            })?;
        let cancel = CancellationToken::new();
        let state = Arc::new(routes::AppState::new(
            &options,
            referrals,
            base_url(addr),
            cancel.clone(),
        ));
        let task = tokio::spawn(listener::serve(listener, state.clone(), cancel.clone()));
        tracing::debug!(%addr, "emulator listening");
        Ok(Emulator {
            addr,
            state,
            cancel,
            task: Some(task),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API base, `http://ADDR/v1.0`, as `--endpoint` takes it.
    pub fn base_url(&self) -> String {
        base_url(self.addr)
    }

    /// A snapshot of every referral by ID (the same as `GET /_emulator/referrals`).
    pub fn referrals(&self) -> serde_json::Map<String, Value> {
        self.state.store.snapshot()
    }

    /// The counters (the same as `GET /_emulator/stats`).
    pub fn stats(&self) -> Value {
        self.state.stats_json()
    }

    /// Stops accepting, answers stalled requests by dropping them, and waits (a bounded
    /// time) for the requests in flight to finish.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        let Some(task) = self.task.take() else {
            return;
        };
        let abort = task.abort_handle();
        if tokio::time::timeout(SHUTDOWN_GRACE, task).await.is_err() {
            tracing::warn!("emulator requests still open after the grace period; dropping them");
            abort.abort();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// A required token must be something: an empty bearer token counts as none, so an empty
/// `--token` could never be matched and would refuse every request.
fn check_token(token: Option<&str>) -> Result<(), EmulatorError> {
    match token {
        Some(token) if token.trim().is_empty() => Err(EmulatorError::EmptyToken),
        _ => Ok(()),
    }
}

fn base_url(addr: SocketAddr) -> String {
    format!("http://{addr}/v1.0")
}

/// `refsync emulator`: starts, prints `listening on http://ADDR` as the first line on
/// stdout, and serves until Ctrl-C or SIGTERM.
pub async fn run_until_signal(options: EmulatorOptions) -> Result<(), EmulatorError> {
    let emulator = Emulator::start(options).await?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on http://{}", emulator.addr())
        .and_then(|()| stdout.flush())
        .map_err(EmulatorError::Stdout)?;
    drop(stdout);
    wait_for_signal().await?;
    emulator.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() -> Result<(), EmulatorError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(EmulatorError::Signal)?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.map_err(EmulatorError::Signal),
        _ = term.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> Result<(), EmulatorError> {
    tokio::signal::ctrl_c().await.map_err(EmulatorError::Signal)
}
