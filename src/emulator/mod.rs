//! The local Partner Center referrals emulator: an HTTP server with the behaviour of
//! API.md, fault injection for tests and benchmarks, and counters at `/_emulator/stats`.

use std::net::SocketAddr;
use std::path::PathBuf;

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
