//! The sync-memory scenario: 1,000,000 rows (100,000 referrals) through the emulator at
//! `--rate unlimited`, with `--rejects` and the report; refsync's peak RSS against the
//! input's size, and again at half the size to show that memory follows the grouped
//! documents and nothing else.

use std::time::Duration;

use crate::emulator::EmulatorSpec;
use crate::plot;
use crate::sync_run::SyncResult;
use crate::table::{Row, Table, Verdict, mib};
use crate::updates::UpdateFormat;

use super::plan::{REFERRALS, ROWS_PER_REFERRAL, TEAM_EVERY};
use super::{Bench, sync_extras};

/// One size's run.
struct Sized {
    documents: usize,
    input_size: u64,
    result: SyncResult,
}

/// Runs the full and the half size.
pub async fn run(bench: &Bench, table: &mut Table) -> anyhow::Result<()> {
    let half = sync_size(bench, table, REFERRALS / 2, "sync-memory-half").await?;
    let full = sync_size(bench, table, REFERRALS, "sync-memory").await?;
    for run in [&full, &half] {
        memory_row(table, run);
    }
    let per_document = |run: &Sized| run.result.finished.peak_rss as f64 / run.documents as f64;
    let ratio = per_document(&full) / per_document(&half);
    let marginal = (full.result.finished.peak_rss as f64 - half.result.finished.peak_rss as f64)
        / (full.documents - half.documents) as f64;
    table.row(Row {
        scenario: "sync memory: RSS per document, full / half".into(),
        measured: format!("{:.0} B/doc", per_document(&full)),
        baseline: format!("{:.0} B/doc at half", per_document(&half)),
        ratio: Some(ratio),
        target: "≤ 1.05 (no growth)".into(),
        verdict: Verdict::of(ratio <= 1.05),
    });
    table.extra(
        "sync-memory",
        format!("marginal RSS per extra document (full − half): {marginal:.0} B"),
    );
    Ok(())
}

async fn sync_size(
    bench: &Bench,
    table: &mut Table,
    referrals: usize,
    name: &str,
) -> anyhow::Result<Sized> {
    let input = bench.updates(referrals, ROWS_PER_REFERRAL, UpdateFormat::Csv, TEAM_EVERY)?;
    let input_size = std::fs::metadata(&input)?.len();
    let spec = EmulatorSpec {
        generate: referrals,
        ..EmulatorSpec::default()
    };
    let emulator = bench.emulator(spec, name)?;
    let max_run = Duration::from_secs(bench.options.max_seconds * 5);
    let result = bench
        .sync(&emulator, &input, "unlimited", name, true, max_run)
        .await;
    let emulator_finished = emulator.stop().await?;
    let result = result?;
    let rows = referrals * ROWS_PER_REFERRAL;
    let title = format!("{name}: --rate unlimited, {rows} rows, {referrals} documents");
    plot::draw(&bench.plot_path(name), &title, &result.series)?;
    sync_extras(table, name, &result);
    table.extra(
        name,
        format!(
            "emulator (a separate process) peak RSS {}",
            mib(emulator_finished.peak_rss)
        ),
    );
    Ok(Sized {
        documents: referrals,
        input_size,
        result,
    })
}

fn memory_row(table: &mut Table, run: &Sized) {
    let rss = run.result.finished.peak_rss;
    let ratio = rss as f64 / run.input_size as f64;
    let rows = run.documents * ROWS_PER_REFERRAL;
    let complete = run.result.finished.code == 0 && !run.result.cut;
    table.row(Row {
        scenario: format!("sync memory {rows} rows: peak RSS"),
        measured: format!(
            "{}{}",
            mib(rss),
            if complete { "" } else { " (run incomplete)" }
        ),
        baseline: format!("input {}", mib(run.input_size)),
        ratio: Some(ratio),
        target: "≤ 2".into(),
        verdict: Verdict::of(ratio <= 2.0),
    });
}
