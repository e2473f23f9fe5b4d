//! The plan scenario: `refsync plan` of 1,000,000 rows for 100,000 referrals, CSV and
//! JSONL, against a bare parse of the same file in this process, and its peak RSS against
//! the input's size; then the same CSV rows shuffled, as a CRM export in no particular
//! order would come.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context;

use crate::baseline::bare_parse;
use crate::measure::{Finished, Running};
use crate::table::{Row, Table, Verdict, mib};
use crate::updates::{RowOrder, UpdateFormat, UpdatesSpec};

use super::{Bench, middle_run};

/// Referrals in the plan input.
pub const REFERRALS: usize = 100_000;
/// Rows per referral: 1,000,000 rows in all.
pub const ROWS_PER_REFERRAL: usize = 10;
/// Every third referral also appends a team member.
pub const TEAM_EVERY: usize = 3;

/// Runs of refsync and of the bare parse per format, taken in turn; the table shows the
/// median of each. One run of a fraction of a second moves by up to a third on a shared
/// machine, and the bare parse's runs within one `all` moved between 0.12 and 0.22 s: one
/// slow minute moves the median of five less than that of three.
const SAMPLES: usize = 5;

/// Plans the CSV and the JSONL file, and the CSV file shuffled.
pub fn run(bench: &Bench, table: &mut Table) -> anyhow::Result<()> {
    let files = [
        (UpdateFormat::Csv, RowOrder::Passes),
        (UpdateFormat::Jsonl, RowOrder::Passes),
        (UpdateFormat::Csv, RowOrder::Shuffled),
    ];
    for (format, order) in files {
        let input = bench.updates_file(&UpdatesSpec {
            referrals: REFERRALS,
            rows_per_referral: ROWS_PER_REFERRAL,
            format,
            fault_seed: bench.options.fault_seed,
            team_every: TEAM_EVERY,
            order,
        })?;
        let size = std::fs::metadata(&input)?.len();
        let (records, samples) = sample(bench, &input, format)?;
        let name = match order {
            RowOrder::Passes => format.extension().to_string(),
            RowOrder::Shuffled => format!("{} shuffled", format.extension()),
        };
        let bare = median(samples.iter().map(|(bare, _)| *bare));
        let wall = median(samples.iter().map(|(_, run)| run.wall)).as_secs_f64();
        let cpu = median(samples.iter().map(|(_, run)| run.cpu));
        let peak_rss = samples
            .iter()
            .map(|(_, run)| run.peak_rss)
            .max()
            .unwrap_or(0);
        let ratio = wall / bare.as_secs_f64();
        table.row(Row {
            scenario: format!("plan {name}: wall"),
            measured: format!("{wall:.2} s"),
            baseline: format!("bare parse {:.2} s", bare.as_secs_f64()),
            ratio: Some(ratio),
            target: "≤ 2, and ≤ 2 s".into(),
            verdict: Verdict::of(ratio <= 2.0 && wall <= 2.0),
        });
        let rss_ratio = peak_rss as f64 / size as f64;
        table.row(Row {
            scenario: format!("plan {name}: peak RSS"),
            measured: mib(peak_rss),
            baseline: format!("input {}", mib(size)),
            ratio: Some(rss_ratio),
            target: "≤ 2".into(),
            verdict: Verdict::of(rss_ratio <= 2.0),
        });
        let seconds = |pick: fn(&(Duration, Finished)) -> Duration| {
            let all: Vec<String> = samples
                .iter()
                .map(|s| format!("{:.2}", pick(s).as_secs_f64()))
                .collect();
            all.join(" / ")
        };
        table.extra(
            &format!("plan {name}"),
            format!(
                "{records} records, {} of input; median of {SAMPLES} runs in turn: refsync \
                 {} s, bare parse {} s; refsync CPU {:.2} s (median), peak RSS the highest",
                mib(size),
                seconds(|(_, run)| run.wall),
                seconds(|(bare, _)| *bare),
                cpu.as_secs_f64()
            ),
        );
    }
    Ok(())
}

/// [`SAMPLES`] bare parses and `refsync plan` runs of `input`, in turn; with the records
/// the bare parse counted.
fn sample(
    bench: &Bench,
    input: &Path,
    format: UpdateFormat,
) -> anyhow::Result<(u64, Vec<(Duration, Finished)>)> {
    let mut records = 0;
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let (counted, bare) = bare_parse(input, format)?;
        let finished = plan(bench, input)?;
        anyhow::ensure!(
            finished.code == 0,
            "refsync plan exited {}; see its log in {}",
            finished.code,
            bench.work.display()
        );
        records = counted;
        samples.push((bare, finished));
    }
    Ok((records, samples))
}

/// The median of an odd number of durations (the upper one of an even number).
fn median(durations: impl Iterator<Item = Duration>) -> Duration {
    let all: Vec<Duration> = durations.collect();
    middle_run(&all, Duration::as_secs_f64)
        .copied()
        .unwrap_or_default()
}

/// Runs `refsync plan FILE --out /dev/null` and measures it. The report of the run before
/// is removed first, so that every run writes a new report as the first one does:
/// truncating the last run's 14 MB report, still in the page cache, took `plan` about
/// 5 ms more (timed inside the run, side by side).
fn plan(bench: &Bench, input: &Path) -> anyhow::Result<Finished> {
    let name = input
        .file_name()
        .map_or_else(|| "input".into(), |name| name.to_string_lossy());
    let log = std::fs::File::create(bench.path(&format!("plan-{name}.log")))?;
    let report = bench.path(&format!("plan-{name}-report.csv"));
    crate::measure::remove_earlier_output(&report)?;
    let child = Command::new(&bench.refsync)
        .arg("plan")
        .arg(input)
        .args([
            "--out",
            "/dev/null",
            "--progress",
            "never",
            "-q",
            "--report",
        ])
        .arg(&report)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {} plan", bench.refsync.display()))?;
    Running::new(child).wait()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_the_middle_run_whatever_their_order() {
        let ms = Duration::from_millis;
        assert_eq!(median([ms(9), ms(1), ms(5)].into_iter()), ms(5));
        assert_eq!(median([ms(4), ms(2)].into_iter()), ms(4));
        assert_eq!(median(std::iter::empty()), Duration::ZERO);
    }
}
