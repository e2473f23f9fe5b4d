//! One `refsync sync` child against a running emulator, sampled while it runs.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::emulator::{EmulatorProcess, StatsSummary};
use crate::measure::{Finished, Running};
use crate::proc_stats;
use crate::sampler::{INTERVAL, Series};

/// How long a stopped sync may take to write its report before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// A `refsync sync` to run.
#[derive(Debug, Clone)]
pub struct SyncSpec {
    /// The input file.
    pub input: PathBuf,
    /// `--rate`.
    pub rate: String,
    /// `--report`.
    pub report: PathBuf,
    /// `--rejects`, if any.
    pub rejects: Option<PathBuf>,
    /// `--summary-json`.
    pub summary: PathBuf,
    /// Where its stderr goes.
    pub log: PathBuf,
    /// Stop it (SIGTERM) after this long.
    pub max_run: Duration,
}

impl SyncSpec {
    fn args(&self, endpoint: &str) -> Vec<String> {
        let mut args = vec![
            "sync".to_string(),
            self.input.display().to_string(),
            "--endpoint".into(),
            endpoint.into(),
            "--rate".into(),
            self.rate.clone(),
            "--report".into(),
            self.report.display().to_string(),
            "--progress".into(),
            "never".into(),
            "-q".into(),
            "--summary-json".into(),
            self.summary.display().to_string(),
        ];
        if let Some(rejects) = &self.rejects {
            args.extend(["--rejects".into(), rejects.display().to_string()]);
        }
        args
    }
}

/// What one sync did.
#[derive(Debug, Clone)]
pub struct SyncResult {
    /// refsync's wall time, peak RSS, CPU and exit code.
    pub finished: Finished,
    /// The emulator's counters over time.
    pub series: Series,
    /// The emulator's counters at the end.
    pub stats: StatsSummary,
    /// Whether it was stopped at `max_run`.
    pub cut: bool,
    /// CPU the emulator used while the sync ran, if the OS tells.
    pub emulator_cpu: Option<Duration>,
    /// The most requests refsync had on the wire at once, from its `--summary-json`: the
    /// emulator counts only the requests its handlers are running, which at latency 0 is
    /// the one or two handled at that instant.
    pub peak_in_flight: Option<u64>,
}

/// Runs `spec` against `emulator`, polling its stats every [`INTERVAL`].
pub async fn run(
    refsync: &Path,
    emulator: &EmulatorProcess,
    spec: &SyncSpec,
) -> anyhow::Result<SyncResult> {
    // The emulator may have served other clients before (the unthrottled scenario runs
    // refsync several times, wrk in between): every count is this run's own.
    let baseline = emulator.stats().await?;
    // A summary left by an earlier run must not stand in for one this run never wrote.
    crate::measure::remove_earlier_output(&spec.summary)?;
    let cpu_before = proc_stats::cpu_time(emulator.pid());
    let running = spawn(refsync, emulator, spec)?;
    let pid = running.pid();
    let started = running.started;
    let mut wait = tokio::task::spawn_blocking(move || running.wait());
    let mut series = Series::default();
    let mut ticker = tokio::time::interval(INTERVAL);
    let mut stop = Stop::new(spec.max_run);
    let finished = loop {
        tokio::select! {
            joined = &mut wait => break joined??,
            _ = ticker.tick() => {
                // A poll that fails (a busy emulator past the client's timeout) is a
                // missing sample, not a reason to leave the sync running unwatched.
                if let Ok(stats) = emulator.stats().await {
                    let stats = stats.since(&baseline);
                    series.push(started.elapsed().as_secs_f64(), stats, proc_stats::cpu_time(pid));
                }
                stop.check(pid, started);
            }
        }
    };
    let stats = emulator.stats().await?.since(&baseline);
    series.push(started.elapsed().as_secs_f64(), stats, None);
    let emulator_cpu = cpu_before
        .zip(proc_stats::cpu_time(emulator.pid()))
        .map(|(before, after)| after.saturating_sub(before));
    Ok(SyncResult {
        finished,
        series,
        stats,
        cut: stop.cut,
        emulator_cpu,
        peak_in_flight: peak_in_flight(&spec.summary),
    })
}

/// `peak_in_flight` of the summary at `path`; `None` where there is none to read (a sync
/// stopped before it wrote one).
fn peak_in_flight(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let summary: serde_json::Value = serde_json::from_str(&text).ok()?;
    summary["peak_in_flight"].as_u64()
}

fn spawn(refsync: &Path, emulator: &EmulatorProcess, spec: &SyncSpec) -> anyhow::Result<Running> {
    let log =
        File::create(&spec.log).with_context(|| format!("cannot create {}", spec.log.display()))?;
    let child = Command::new(refsync)
        .args(spec.args(&emulator.endpoint()))
        .env("PARTNER_CENTER_TOKEN", "x")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {} sync", refsync.display()))?;
    Ok(Running::new(child))
}

/// Stops a run that goes on too long: SIGTERM at the limit, SIGKILL after a grace.
struct Stop {
    limit: Duration,
    cut: bool,
    killed: bool,
}

impl Stop {
    fn new(limit: Duration) -> Stop {
        Stop {
            limit,
            cut: false,
            killed: false,
        }
    }

    fn check(&mut self, pid: i32, started: Instant) {
        let elapsed = started.elapsed();
        if !self.cut && elapsed > self.limit {
            self.cut = true;
            signal(pid, libc::SIGTERM);
        } else if self.cut && !self.killed && elapsed > self.limit + STOP_GRACE {
            self.killed = true;
            signal(pid, libc::SIGKILL);
        }
    }
}

fn signal(pid: i32, signal: i32) {
    // SAFETY: kill(2) on our own child, which is only reaped by the wait task after it
    // ends; the select loop stops calling this as soon as that task finishes.
    unsafe {
        libc::kill(pid, signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refsyncs_peak_in_flight_is_read_from_its_summary_and_none_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        std::fs::write(
            &path,
            r#"{"command":"sync","peak_in_flight":52,"requests":120000}"#,
        )
        .unwrap();
        assert_eq!(peak_in_flight(&path), Some(52));
        assert_eq!(peak_in_flight(&dir.path().join("gone.json")), None);
        std::fs::write(&path, "{\"command\":").unwrap();
        assert_eq!(peak_in_flight(&path), None, "a summary cut short");
    }
}
