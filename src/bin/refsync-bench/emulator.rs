//! The emulator as a child process (`refsync emulator`), so that its CPU and memory stay
//! out of the figures of the refsync process it serves, and its cheap stats summary.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::measure::{Finished, Running};

/// How to start the emulator.
#[derive(Debug, Clone, Default)]
pub struct EmulatorSpec {
    /// `--generate N`.
    pub generate: usize,
    /// `--latency-ms`.
    pub latency_ms: u64,
    /// `--throttle N/s`.
    pub throttle: Option<u32>,
    /// `--no-retry-after`.
    pub no_retry_after: bool,
    /// `--stall-rate`: the share of requests never answered.
    pub stall_rate: Option<f64>,
    /// `--fault-seed`.
    pub fault_seed: u64,
}

impl EmulatorSpec {
    fn args(&self) -> Vec<String> {
        let mut args = vec![
            "emulator".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--generate".into(),
            self.generate.to_string(),
            "--fault-seed".into(),
            self.fault_seed.to_string(),
            "--latency-ms".into(),
            self.latency_ms.to_string(),
        ];
        if let Some(rate) = self.throttle {
            args.extend(["--throttle".into(), format!("{rate}/s")]);
        }
        if let Some(share) = self.stall_rate {
            args.extend(["--stall-rate".into(), share.to_string()]);
        }
        if self.no_retry_after {
            args.push("--no-retry-after".into());
        }
        args
    }
}

/// The counters of `GET /_emulator/stats?summary=1`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatsSummary {
    /// API requests answered (or dropped), all methods and statuses.
    pub completed: u64,
    /// Of those, answered 2xx.
    pub succeeded: u64,
    /// Of those, answered 429.
    pub throttled: u64,
    /// Requests in flight now.
    pub in_flight: u64,
    /// The most requests in flight at once so far (since the emulator started: a second
    /// client's run against the same emulator sees the first one's too).
    pub max_in_flight: u64,
    /// PATCHes answered from the emulator's `MS-RequestId` store, nothing applied.
    pub replayed: u64,
}

impl StatsSummary {
    /// The counts since `baseline` was taken, for a client that is not the emulator's
    /// first (the in-flight figures as they are).
    pub fn since(self, baseline: &StatsSummary) -> StatsSummary {
        StatsSummary {
            completed: self.completed.saturating_sub(baseline.completed),
            succeeded: self.succeeded.saturating_sub(baseline.succeeded),
            throttled: self.throttled.saturating_sub(baseline.throttled),
            replayed: self.replayed.saturating_sub(baseline.replayed),
            ..self
        }
    }

    fn from_json(json: &Value) -> StatsSummary {
        let counts = json["requests"].as_object();
        let sum = |keep: &dyn Fn(&str) -> bool| {
            counts
                .into_iter()
                .flatten()
                .filter(|(key, _)| keep(key))
                .filter_map(|(_, n)| n.as_u64())
                .sum()
        };
        StatsSummary {
            completed: sum(&|_| true),
            succeeded: sum(&|key| key.split(' ').nth(1).is_some_and(|s| s.starts_with('2'))),
            throttled: sum(&|key| key.ends_with(" 429")),
            in_flight: json["in_flight"].as_u64().unwrap_or(0),
            max_in_flight: json["max_in_flight"].as_u64().unwrap_or(0),
            replayed: json["replays"].as_u64().unwrap_or(0),
        }
    }
}

/// A running `refsync emulator`.
#[derive(Debug)]
pub struct EmulatorProcess {
    running: Running,
    addr: String,
    client: reqwest::Client,
}

impl EmulatorProcess {
    /// Starts `refsync emulator` as `spec` says, its stderr to `log`, and reads the
    /// address from its first line (blocks while it seeds).
    pub fn start(refsync: &Path, spec: &EmulatorSpec, log: &Path) -> anyhow::Result<Self> {
        let stderr =
            File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let child = Command::new(refsync)
            .args(spec.args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("cannot start {} emulator", refsync.display()))?;
        let mut running = Running::new(child);
        let addr = match read_address(&mut running.child, log) {
            Ok(addr) => addr,
            Err(error) => {
                running.terminate();
                let _ = running.wait();
                return Err(error);
            }
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        Ok(EmulatorProcess {
            running,
            addr,
            client,
        })
    }

    /// The API base for `--endpoint`: `http://ADDR/v1.0`.
    pub fn endpoint(&self) -> String {
        format!("http://{}/v1.0", self.addr)
    }

    /// The `host:port` it listens on.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The process ID.
    pub fn pid(&self) -> i32 {
        self.running.pid()
    }

    /// The counters now.
    pub async fn stats(&self) -> anyhow::Result<StatsSummary> {
        let url = format!("http://{}/_emulator/stats?summary=1", self.addr);
        let json: Value = self
            .client
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("cannot read {url}"))?
            .json()
            .await
            .with_context(|| format!("{url} is not JSON"))?;
        Ok(StatsSummary::from_json(&json))
    }

    /// Stops it (SIGTERM) and reads its resource use.
    pub async fn stop(self) -> anyhow::Result<Finished> {
        self.running.terminate();
        tokio::task::spawn_blocking(move || self.running.wait()).await?
    }
}

/// The address from the emulator's first stdout line, `listening on http://ADDR`.
fn read_address(child: &mut std::process::Child, log: &Path) -> anyhow::Result<String> {
    let Some(stdout) = child.stdout.take() else {
        bail!("the emulator's stdout is not a pipe");
    };
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .context("cannot read the emulator's stdout")?;
    match line.trim().strip_prefix("listening on http://") {
        Some(addr) => Ok(addr.to_string()),
        None => bail!(
            "the emulator did not start (first line {:?}); see {}",
            line.trim(),
            log.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_since_a_baseline_are_the_later_clients_own() {
        let before = StatsSummary {
            completed: 350_000,
            succeeded: 349_990,
            throttled: 4,
            in_flight: 0,
            max_in_flight: 32,
            replayed: 7,
        };
        let after = StatsSummary {
            completed: 470_000,
            succeeded: 469_990,
            throttled: 4,
            in_flight: 3,
            max_in_flight: 32,
            replayed: 9,
        };
        let own = after.since(&before);
        assert_eq!(
            (own.completed, own.succeeded, own.throttled, own.replayed),
            (120_000, 120_000, 0, 2)
        );
        assert_eq!((own.in_flight, own.max_in_flight), (3, 32));
    }
}
