//! The plan scenario: `refsync plan` of 1,000,000 rows for 100,000 referrals, CSV and
//! JSONL, against a bare parse of the same file in this process, and its peak RSS against
//! the input's size.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::Context;

use crate::baseline::bare_parse;
use crate::measure::{Finished, Running};
use crate::table::{Row, Table, Verdict, mib};
use crate::updates::UpdateFormat;

use super::Bench;

/// Referrals in the plan input.
pub const REFERRALS: usize = 100_000;
/// Rows per referral: 1,000,000 rows in all.
pub const ROWS_PER_REFERRAL: usize = 10;
/// Every third referral also appends a team member.
pub const TEAM_EVERY: usize = 3;

/// Plans the CSV and the JSONL file.
pub fn run(bench: &Bench, table: &mut Table) -> anyhow::Result<()> {
    for format in [UpdateFormat::Csv, UpdateFormat::Jsonl] {
        let input = bench.updates(REFERRALS, ROWS_PER_REFERRAL, format, TEAM_EVERY)?;
        let size = std::fs::metadata(&input)?.len();
        let (records, bare) = bare_parse(&input, format)?;
        let finished = plan(bench, &input, format)?;
        anyhow::ensure!(
            finished.code == 0,
            "refsync plan exited {}; see its log in {}",
            finished.code,
            bench.work.display()
        );
        let wall = finished.wall.as_secs_f64();
        let ratio = wall / bare.as_secs_f64();
        let name = format.extension();
        table.row(Row {
            scenario: format!("plan {name}: wall"),
            measured: format!("{wall:.2} s"),
            baseline: format!("bare parse {:.2} s", bare.as_secs_f64()),
            ratio: Some(ratio),
            target: "≤ 2, and ≤ 2 s".into(),
            verdict: Verdict::of(ratio <= 2.0 && wall <= 2.0),
        });
        let rss_ratio = finished.peak_rss as f64 / size as f64;
        table.row(Row {
            scenario: format!("plan {name}: peak RSS"),
            measured: mib(finished.peak_rss),
            baseline: format!("input {}", mib(size)),
            ratio: Some(rss_ratio),
            target: "≤ 2".into(),
            verdict: Verdict::of(rss_ratio <= 2.0),
        });
        table.extra(
            &format!("plan {name}"),
            format!(
                "{records} records, {} of input, refsync CPU {:.2} s",
                mib(size),
                finished.cpu.as_secs_f64()
            ),
        );
    }
    Ok(())
}

/// Runs `refsync plan FILE --out /dev/null` and measures it.
fn plan(bench: &Bench, input: &Path, format: UpdateFormat) -> anyhow::Result<Finished> {
    let name = format.extension();
    let log = std::fs::File::create(bench.path(&format!("plan-{name}.log")))?;
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
        .arg(bench.path(&format!("plan-{name}-report.csv")))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {} plan", bench.refsync.display()))?;
    Running::new(child).wait()
}
