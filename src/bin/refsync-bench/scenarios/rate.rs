//! The rate scenarios: throttled, latency-bound, unknown limit, and stalled requests.
//! Each syncs a generated file (3 rows per referral, no team appends, so one PATCH per
//! document) against an emulator shaped by the scenario, and plots the run.

use crate::emulator::EmulatorSpec;
use crate::plot;
use crate::sync_run::SyncResult;
use crate::table::{Row, Table, Verdict};
use crate::updates::UpdateFormat;

use super::{Bench, sync_extras};

/// One rate scenario.
struct RateCase {
    /// Its name, for files and the table.
    name: &'static str,
    /// Documents (= referrals generated).
    documents: usize,
    /// refsync's `--rate`, per second.
    rate: u32,
    /// The emulator's latency and throttle.
    emulator: EmulatorSpec,
}

/// Runs `case` and plots it.
async fn run_case(bench: &Bench, case: &RateCase) -> anyhow::Result<SyncResult> {
    let input = bench.updates(case.documents, 3, UpdateFormat::Csv, 0)?;
    let spec = EmulatorSpec {
        generate: case.documents,
        ..case.emulator.clone()
    };
    let emulator = bench.emulator(spec, case.name)?;
    let rate = format!("{}/s", case.rate);
    let result = bench
        .sync(&emulator, &input, &rate, case.name, false, bench.max_run())
        .await;
    emulator.stop().await?;
    let result = result?;
    let title = format!("{}: --rate {rate}, {} documents", case.name, case.documents);
    plot::draw(&bench.plot_path(case.name), &title, &result.series)?;
    Ok(result)
}

/// 4,000 documents at `--rate 200/s`, latency 50 ms, emulator `--throttle 200/s`: the
/// wall time against N/R = 20 s, and no 429.
pub async fn throttled(bench: &Bench, table: &mut Table) -> anyhow::Result<()> {
    let case = RateCase {
        name: "throttled",
        documents: 4000,
        rate: 200,
        emulator: EmulatorSpec {
            latency_ms: 50,
            throttle: Some(200),
            ..EmulatorSpec::default()
        },
    };
    let result = run_case(bench, &case).await?;
    let ideal = case.documents as f64 / case.rate as f64;
    let wall = result.finished.wall.as_secs_f64();
    let ratio = wall / ideal;
    table.row(Row {
        scenario: "throttled: wall, 429s".into(),
        measured: format!("{wall:.2} s, {} × 429", result.stats.throttled),
        baseline: format!("N/R = {ideal:.0} s"),
        ratio: Some(ratio),
        target: "≤ 1.03, no 429".into(),
        verdict: Verdict::of(ratio <= 1.03 && result.stats.throttled == 0 && !result.cut),
    });
    sync_extras(table, case.name, &result);
    Ok(())
}

/// 3,000 documents at `--rate 500/s`, latency 400 ms, no `--concurrency`: the rate
/// sustained against R (Little's law asks for R × latency = 200 in flight).
pub async fn latency(bench: &Bench, table: &mut Table) -> anyhow::Result<()> {
    let case = RateCase {
        name: "latency",
        documents: 3000,
        rate: 500,
        emulator: EmulatorSpec {
            latency_ms: 400,
            ..EmulatorSpec::default()
        },
    };
    let result = run_case(bench, &case).await?;
    sustained_row(table, &case, &result, "latency-bound", 0.95);
    sync_extras(table, case.name, &result);
    table.extra(
        case.name,
        "Little's law: R × latency = 500/s × 0.4 s = 200 requests in flight needed".into(),
    );
    Ok(())
}

/// 3,000 documents at `--rate 500/s` against emulator `--throttle 150/s`, with and
/// without `Retry-After`: the 2xx rate against 150/s and the share of 429s.
pub async fn unknown_limit(bench: &Bench, table: &mut Table) -> anyhow::Result<()> {
    for (name, no_retry_after) in [
        ("unknown-limit-retry-after", false),
        ("unknown-limit-no-retry-after", true),
    ] {
        let case = RateCase {
            name,
            documents: 3000,
            rate: 500,
            emulator: EmulatorSpec {
                throttle: Some(150),
                no_retry_after,
                ..EmulatorSpec::default()
            },
        };
        let result = run_case(bench, &case).await?;
        unknown_limit_row(table, &case, &result);
        sync_extras(table, name, &result);
    }
    Ok(())
}

/// 3,000 documents at `--rate 400/s` against an emulator answering in 5 ms that leaves 1 %
/// of requests unanswered (`--stall-rate 0.01`; refsync's `--timeout` stays 30 s): the 2xx
/// rate sustained against R. Answers that fast size the in-flight limit at about ten, so
/// documents whose requests stalled must not keep the others waiting for their timeout.
pub async fn stalls(bench: &Bench, table: &mut Table) -> anyhow::Result<()> {
    let case = RateCase {
        name: "stalls",
        documents: 3000,
        rate: 400,
        emulator: EmulatorSpec {
            latency_ms: 5,
            stall_rate: Some(0.01),
            ..EmulatorSpec::default()
        },
    };
    let result = run_case(bench, &case).await?;
    sustained_row(table, &case, &result, "stalls", 0.90);
    sync_extras(table, case.name, &result);
    Ok(())
}

/// The row of a scenario judged by the rate of 2xx answers sustained between 10 % and
/// 90 % of the documents, which must be at least `least` of R.
fn sustained_row(table: &mut Table, case: &RateCase, result: &SyncResult, label: &str, least: f64) {
    let rate = result.series.sustained_rate().unwrap_or(0.0);
    let ratio = rate / case.rate as f64;
    table.row(Row {
        scenario: format!("{label}: sustained rate (10–90 %)"),
        measured: format!("{rate:.1} req/s{}", cut_note(result)),
        baseline: format!("R = {} req/s", case.rate),
        ratio: Some(ratio),
        target: format!("≥ {least:.2}"),
        verdict: Verdict::of(ratio >= least),
    });
}

fn unknown_limit_row(table: &mut Table, case: &RateCase, result: &SyncResult) {
    let limit = 150.0;
    let rate = result.series.success_rate().unwrap_or(0.0);
    let share = result.stats.throttled as f64 / result.stats.completed.max(1) as f64;
    let ratio = rate / limit;
    let variant = match case.emulator.no_retry_after {
        true => "no Retry-After",
        false => "Retry-After",
    };
    table.row(Row {
        scenario: format!("unknown limit ({variant}): rate, 429 share"),
        measured: format!(
            "{rate:.1} 2xx/s, {:.1} % 429{}",
            100.0 * share,
            cut_note(result)
        ),
        baseline: "150 req/s".into(),
        ratio: Some(ratio),
        target: "≥ 0.90, 429 ≤ 2 %".into(),
        verdict: Verdict::of(ratio >= 0.90 && share <= 0.02),
    });
}

/// Marks a figure measured on a run stopped at the limit.
pub fn cut_note(result: &SyncResult) -> &'static str {
    if result.cut { " (cut)" } else { "" }
}
