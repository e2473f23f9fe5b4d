//! The unthrottled scenario: refsync at `--rate unlimited` (no `--concurrency`) against
//! `wrk` PATCHing the same emulator, and the emulator's CPU use under each, which shows
//! whether the emulator is the bottleneck.

use std::time::{Duration, Instant};

use crate::emulator::{EmulatorProcess, EmulatorSpec};
use crate::sync_run::SyncResult;
use crate::table::{Row, Table, Verdict};
use crate::updates::{UpdateFormat, emulator_ids};
use crate::{plot, proc_stats, wrk};

use super::{Bench, sync_extras};

/// Documents refsync sends (one operation each, like wrk's body).
const DOCUMENTS: usize = 120_000;
/// How long wrk runs.
const WRK_DURATION: Duration = Duration::from_secs(10);
const NAME: &str = "unthrottled";

/// Runs refsync, then wrk, against one emulator.
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

async fn measure(
    bench: &Bench,
    table: &mut Table,
    emulator: &EmulatorProcess,
    input: &std::path::Path,
) -> anyhow::Result<()> {
    let before = Load::now(emulator).await?;
    let result = bench
        .sync(emulator, input, "unlimited", NAME, false, bench.max_run())
        .await?;
    let refsync_load = Load::now(emulator).await?.since(&before);
    plot::draw(
        &bench.plot_path(NAME),
        &format!("{NAME}: --rate unlimited, {DOCUMENTS} documents"),
        &result.series,
    )?;
    let refsync_rate = result.series.success_rate().unwrap_or(0.0);
    sync_extras(table, NAME, &result);
    table.extra(NAME, refsync_load.capacity("under refsync"));
    table.extra(NAME, client_cost("refsync while sending", &result));
    let Some(wrk) = wrk::find() else {
        eprintln!("wrk not found: apt-get install wrk");
        table.row(row(refsync_rate, None));
        return Ok(());
    };
    let script = bench.path("wrk-patch.lua");
    let ids = emulator_ids(DOCUMENTS, bench.options.fault_seed);
    std::fs::write(&script, wrk::script(&ids))?;
    let before = Load::now(emulator).await?;
    let addr = emulator.addr().to_string();
    let output = bench.path("wrk.out");
    let measured =
        tokio::task::spawn_blocking(move || wrk::run(&wrk, &addr, &script, WRK_DURATION, &output))
            .await??;
    let load = Load::now(emulator).await?.since(&before);
    table.row(row(refsync_rate, Some(measured.requests_per_second)));
    let wrk_cpu =
        100.0 * measured.finished.cpu.as_secs_f64() / measured.finished.wall.as_secs_f64();
    table.extra(
        NAME,
        format!(
            "wrk -t{} -c{} for {} s: {:.0} req/s, wrk CPU {wrk_cpu:.0} %, emulator CPU {} (100 % = one core of 2)",
            wrk::THREADS,
            wrk::CONNECTIONS,
            WRK_DURATION.as_secs(),
            measured.requests_per_second,
            load.cpu_share(),
        ),
    );
    table.extra(NAME, load.capacity("under wrk"));
    table.extra(
        NAME,
        format!(
            "wrk: {:.1} µs CPU per request",
            1e6 * measured.finished.cpu.as_secs_f64()
                / (measured.requests_per_second * measured.finished.wall.as_secs_f64()).max(1.0)
        ),
    );
    Ok(())
}

/// The emulator's CPU and answered requests at a moment, and between two.
struct Load {
    at: Instant,
    cpu: Option<Duration>,
    requests: u64,
}

impl Load {
    async fn now(emulator: &EmulatorProcess) -> anyhow::Result<Load> {
        Ok(Load {
            at: Instant::now(),
            cpu: proc_stats::cpu_time(emulator.pid()),
            requests: emulator.stats().await?.completed,
        })
    }

    /// What the emulator did between `earlier` and `self`.
    fn since(&self, earlier: &Load) -> LoadDelta {
        LoadDelta {
            seconds: self.at.duration_since(earlier.at).as_secs_f64(),
            cpu: self.cpu.zip(earlier.cpu).map(|(a, b)| a.saturating_sub(b)),
            requests: self.requests.saturating_sub(earlier.requests),
        }
    }
}

/// The emulator's CPU and answered requests over a span.
struct LoadDelta {
    seconds: f64,
    cpu: Option<Duration>,
    requests: u64,
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
