//! The unthrottled scenario: refsync at `--rate unlimited` (no `--concurrency`) against
//! `wrk` PATCHing the same emulator, each run [`PAIRS`] times in turn, and the emulator's
//! CPU use under each, which shows whether the emulator is the bottleneck.

use std::time::{Duration, Instant};

use crate::emulator::{EmulatorProcess, EmulatorSpec};
use crate::sync_run::SyncResult;
use crate::table::{Row, Table, Verdict};
use crate::updates::{UpdateFormat, emulator_ids};
use crate::{plot, proc_stats, wrk};

use super::{Bench, middle_run, sync_extras};

/// Documents refsync sends (one operation each, like wrk's body).
const DOCUMENTS: usize = 120_000;
/// How long each wrk run lasts.
const WRK_DURATION: Duration = Duration::from_secs(5);
/// Runs of refsync and of wrk, taken in turn (refsync, wrk, refsync, ...); the table shows
/// the median of each. This machine's speed moves from one minute to the next (wrk's own
/// figure moved between 29 and 42 thousand requests/s from one run to the next), and one
/// run of each set a slow minute against a fast one.
const PAIRS: usize = 3;
const NAME: &str = "unthrottled";

/// Runs refsync and wrk in turn against one emulator.
pub async fn run(bench: &Bench, table: &mut Table) -> anyhow::Result<()> {
    let input = bench.updates(DOCUMENTS, 1, UpdateFormat::Csv, 0)?;
    let spec = EmulatorSpec {
        generate: DOCUMENTS,
        ..EmulatorSpec::default()
    };
    let emulator = bench.emulator(spec, NAME)?;
    let outcome = measure(bench, table, &emulator, &input).await;
    emulator.stop().await?;
    outcome
}

/// One refsync run: what it did, its rate while sending, and the emulator's load meanwhile.
struct RefsyncRun {
    result: SyncResult,
    rate: f64,
    load: LoadDelta,
}

/// One wrk run, and the emulator's load meanwhile.
struct WrkRun {
    measured: wrk::WrkResult,
    load: LoadDelta,
}

async fn measure(
    bench: &Bench,
    table: &mut Table,
    emulator: &EmulatorProcess,
    input: &std::path::Path,
) -> anyhow::Result<()> {
    let Some(wrk) = wrk::find() else {
        eprintln!("wrk not found: apt-get install wrk");
        let refsync = run_refsync(bench, emulator, input).await?;
        report_refsync(bench, table, &refsync, &[refsync.rate])?;
        table.row(row(refsync.rate, None));
        return Ok(());
    };
    let script = bench.path("wrk-patch.lua");
    let ids = emulator_ids(DOCUMENTS, bench.options.fault_seed);
    std::fs::write(&script, wrk::script(&ids))?;
    let mut refsync_runs = Vec::with_capacity(PAIRS);
    let mut wrk_runs = Vec::with_capacity(PAIRS);
    for pair in 0..PAIRS {
        refsync_runs.push(run_refsync(bench, emulator, input).await?);
        let token = format!("{}-{pair}", std::process::id());
        wrk_runs.push(run_wrk(bench, emulator, &wrk, &script, &token).await?);
    }
    let refsync_rates: Vec<f64> = refsync_runs.iter().map(|run| run.rate).collect();
    let wrk_rates: Vec<f64> = wrk_runs
        .iter()
        .map(|run| run.measured.requests_per_second)
        .collect();
    let (Some(refsync), Some(wrk_run)) = (
        middle_run(&refsync_runs, |run| run.rate),
        middle_run(&wrk_runs, |run| run.measured.requests_per_second),
    ) else {
        anyhow::bail!("no run of refsync or wrk to measure");
    };
    report_refsync(bench, table, refsync, &refsync_rates)?;
    table.row(row(
        refsync.rate,
        Some(wrk_run.measured.requests_per_second),
    ));
    report_wrk(table, wrk_run, &wrk_rates);
    Ok(())
}

/// One `refsync sync --rate unlimited` of `input`, and the emulator's load meanwhile.
async fn run_refsync(
    bench: &Bench,
    emulator: &EmulatorProcess,
    input: &std::path::Path,
) -> anyhow::Result<RefsyncRun> {
    let before = Load::now(emulator).await?;
    let result = bench
        .sync(emulator, input, "unlimited", NAME, false, bench.max_run())
        .await?;
    let load = Load::now(emulator).await?.since(&before);
    let rate = result.series.success_rate().unwrap_or(0.0);
    Ok(RefsyncRun { result, rate, load })
}

/// One wrk run of [`WRK_DURATION`] with `script` and the run's `token` (see
/// [`wrk::run`]), and the emulator's load meanwhile. A run that any answer came to from
/// the emulator's replay store is refused: nothing was applied for it, so it is no
/// baseline for PATCHes that are.
async fn run_wrk(
    bench: &Bench,
    emulator: &EmulatorProcess,
    wrk: &std::path::Path,
    script: &std::path::Path,
    token: &str,
) -> anyhow::Result<WrkRun> {
    let before = Load::now(emulator).await?;
    let (wrk, addr, script, token) = (
        wrk.to_path_buf(),
        emulator.addr().to_string(),
        script.to_path_buf(),
        token.to_string(),
    );
    let output = bench.path("wrk.out");
    let measured = tokio::task::spawn_blocking(move || {
        wrk::run(&wrk, &addr, &script, &token, WRK_DURATION, &output)
    })
    .await??;
    let load = Load::now(emulator).await?.since(&before);
    anyhow::ensure!(
        load.replayed == 0,
        "{} of wrk's requests were answered from the emulator's MS-RequestId store; \
         its figure would not be a baseline",
        load.replayed
    );
    Ok(WrkRun { measured, load })
}

/// The lines under the table for refsync's median run, and the plot of it.
fn report_refsync(
    bench: &Bench,
    table: &mut Table,
    refsync: &RefsyncRun,
    rates: &[f64],
) -> anyhow::Result<()> {
    plot::draw(
        &bench.plot_path(NAME),
        &format!("{NAME}: --rate unlimited, {DOCUMENTS} documents"),
        &refsync.result.series,
    )?;
    table.extra(
        NAME,
        format!(
            "refsync runs, in turn with wrk's: {} 2xx/s; the median run's figures follow",
            rates_list(rates)
        ),
    );
    sync_extras(table, NAME, &refsync.result);
    table.extra(NAME, refsync.load.capacity("under refsync"));
    table.extra(NAME, client_cost("refsync while sending", &refsync.result));
    Ok(())
}

/// The lines under the table for wrk's median run.
fn report_wrk(table: &mut Table, wrk_run: &WrkRun, rates: &[f64]) {
    let measured = &wrk_run.measured;
    let wrk_cpu =
        100.0 * measured.finished.cpu.as_secs_f64() / measured.finished.wall.as_secs_f64();
    table.extra(
        NAME,
        format!(
            "wrk -t{} -c{} for {} s, {} runs: {} req/s; the median run: wrk CPU {wrk_cpu:.0} %, emulator CPU {} (100 % = one core of 2)",
            wrk::THREADS,
            wrk::CONNECTIONS,
            WRK_DURATION.as_secs(),
            rates.len(),
            rates_list(rates),
            wrk_run.load.cpu_share(),
        ),
    );
    table.extra(NAME, wrk_run.load.capacity("under wrk"));
    table.extra(
        NAME,
        format!(
            "wrk: {:.1} µs CPU per request",
            1e6 * measured.finished.cpu.as_secs_f64()
                / (measured.requests_per_second * measured.finished.wall.as_secs_f64()).max(1.0)
        ),
    );
}

/// Rates as `a / b / c`, in the order measured.
fn rates_list(rates: &[f64]) -> String {
    let all: Vec<String> = rates.iter().map(|rate| format!("{rate:.0}")).collect();
    all.join(" / ")
}

/// The emulator's CPU, answered requests and replays at a moment, and between two.
struct Load {
    at: Instant,
    cpu: Option<Duration>,
    requests: u64,
    replayed: u64,
}

impl Load {
    async fn now(emulator: &EmulatorProcess) -> anyhow::Result<Load> {
        let stats = emulator.stats().await?;
        Ok(Load {
            at: Instant::now(),
            cpu: proc_stats::cpu_time(emulator.pid()),
            requests: stats.completed,
            replayed: stats.replayed,
        })
    }

    /// What the emulator did between `earlier` and `self`.
    fn since(&self, earlier: &Load) -> LoadDelta {
        LoadDelta {
            seconds: self.at.duration_since(earlier.at).as_secs_f64(),
            cpu: self.cpu.zip(earlier.cpu).map(|(a, b)| a.saturating_sub(b)),
            requests: self.requests.saturating_sub(earlier.requests),
            replayed: self.replayed.saturating_sub(earlier.replayed),
        }
    }
}

/// The emulator's CPU and answered requests over a span.
struct LoadDelta {
    seconds: f64,
    cpu: Option<Duration>,
    requests: u64,
    /// Of `requests`, those answered from the replay store.
    replayed: u64,
}

impl LoadDelta {
    fn cpu_share(&self) -> String {
        self.cpu.map_or("n/a".into(), |cpu| {
            format!(
                "{:.0} %",
                100.0 * cpu.as_secs_f64() / self.seconds.max(1e-9)
            )
        })
    }

    /// CPU per request, and the request rate one core of it would serve.
    fn capacity(&self, during: &str) -> String {
        match self.cpu.filter(|_| self.requests > 0) {
            Some(cpu) => {
                let per_request = cpu.as_secs_f64() / self.requests as f64;
                format!(
                    "emulator {during}: {:.1} µs CPU per request, so {:.0} req/s per core it is given; CPU {}",
                    per_request * 1e6,
                    1.0 / per_request,
                    self.cpu_share()
                )
            }
            None => format!("emulator {during}: CPU not available"),
        }
    }
}

/// The client's CPU share and CPU per request over the sending phase.
fn client_cost(who: &str, result: &SyncResult) -> String {
    let Some(load) = result.series.sending_load().filter(|l| l.requests > 0) else {
        return format!("{who}: CPU not available");
    };
    let cpu = load.cpu.as_secs_f64();
    format!(
        "{who}: {:.1} µs CPU per request, CPU {:.0} %",
        1e6 * cpu / load.requests as f64,
        100.0 * cpu / load.seconds.max(1e-9)
    )
}

fn row(refsync_rate: f64, wrk_rate: Option<f64>) -> Row {
    let ratio = wrk_rate.map(|w| refsync_rate / w);
    Row {
        scenario: "unthrottled: requests/s".into(),
        measured: format!("{refsync_rate:.0} req/s"),
        baseline: wrk_rate.map_or("wrk: not installed".into(), |w| format!("wrk {w:.0} req/s")),
        ratio,
        target: "≥ 0.60".into(),
        verdict: match ratio {
            Some(r) => Verdict::of(r >= 0.60),
            None => Verdict::Skipped("wrk not found: apt-get install wrk".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_listed_in_the_order_measured() {
        assert_eq!(
            rates_list(&[28567.7, 31002.2, 25000.0]),
            "28568 / 31002 / 25000"
        );
    }
}
