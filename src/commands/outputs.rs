//! A run's outputs as results arrive: the report (appended, then rewritten in plan order),
//! the progress bar, the rejects file, the summary and the exit code.

use super::ledger_run::LedgerRun;
use super::prepare::{Prepared, default_report_path};
use crate::cli::args::CommonArgs;
use crate::outcome::Outcome;
use crate::report::rejects::{RejectedRow, write_rejects};
use crate::report::summary::{OutcomeCounts, Summary};
use crate::report::{LineSpan, ReportLines, ReportRow, ReportWriter};
use crate::send::SendStats;
use crate::ui::{Progress, Terminal};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What the end of a run needs of one entry's report row: where its line is, for the
/// report in plan order, and what the rejects file says of it. A run of a hundred thousand
/// documents kept every whole row before, about 400 bytes each.
#[derive(Clone, Debug)]
struct RowRecord {
    line: LineSpan,
    outcome: Outcome,
    /// The row's message, kept only when the outcome puts its rows in the rejects file.
    rejected_message: Option<Box<str>>,
}

/// What the end of a run needs of a report row besides its line: its outcome, and its
/// message when the outcome puts its rows in the rejects file.
#[derive(Debug)]
pub struct RowKept {
    outcome: Outcome,
    rejected_message: Option<Box<str>>,
}

impl RowKept {
    /// What the end of the run needs of `row`.
    pub fn of(row: &ReportRow) -> Self {
        let rejected_message = row
            .outcome
            .is_rejected()
            .then(|| row.error_message.as_deref().unwrap_or_default().into());
        RowKept {
            outcome: row.outcome,
            rejected_message,
        }
    }
}

/// The outputs of one `plan` or `sync` run.
pub struct RunOutputs {
    ledger: Option<Arc<LedgerRun>>,
    report: ReportWriter,
    rows: Vec<Option<RowRecord>>,
    counts: OutcomeCounts,
    progress: Progress,
    terminal: Terminal,
}

impl RunOutputs {
    /// Opens the report for a plan of `entries` entries; `with_changes` for a dry run.
    pub fn open(
        common: &CommonArgs,
        entries: usize,
        with_changes: bool,
        terminal: &Terminal,
    ) -> anyhow::Result<RunOutputs> {
        let path = common.report.clone().unwrap_or_else(default_report_path);
        Ok(RunOutputs {
            ledger: None,
            report: ReportWriter::create(&path, with_changes)?,
            rows: vec![None; entries],
            counts: OutcomeCounts::default(),
            progress: Progress::new(common.progress, entries as u64, terminal),
            terminal: terminal.clone(),
        })
    }

    /// Writes the report rows recorded so far to the file. Rows otherwise wait in a buffer
    /// until it fills: a write per row was a tenth of `plan`'s output time, and a system
    /// call per document for a fast `sync`.
    pub fn flush_report(&mut self) -> anyhow::Result<()> {
        Ok(self.report.flush()?)
    }

    /// Records every outcome in `ledger` too, durably before the report shows it.
    pub fn attach_ledger(&mut self, ledger: Option<Arc<LedgerRun>>) {
        self.ledger = ledger;
    }

    /// Records the row of plan entry `entry` as soon as its outcome is known.
    pub fn record(&mut self, entry: usize, row: ReportRow) -> anyhow::Result<()> {
        self.record_borrowed(entry, &row)
    }

    /// [`RunOutputs::record`] of a row the caller keeps (to reuse its memory).
    pub fn record_borrowed(&mut self, entry: usize, row: &ReportRow) -> anyhow::Result<()> {
        if let Some(ledger) = &self.ledger {
            ledger.record(entry, row)?;
        }
        self.show(entry, row)
    }

    /// An encoder of the report's lines, for rows made on another thread and recorded with
    /// [`RunOutputs::record_line`].
    pub fn report_lines(&self) -> ReportLines {
        self.report.lines()
    }

    /// [`RunOutputs::record`] of a row whose report line an encoder from
    /// [`RunOutputs::report_lines`] made already, given by what the end of the run needs of
    /// it ([`RowKept::of`]). Only for a run without a ledger, which keeps whole rows.
    pub fn record_line(&mut self, entry: usize, kept: RowKept, line: &[u8]) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.ledger.is_none(),
            "a report row made apart cannot be recorded in the ledger"
        );
        let span = self.report.append_line(line)?;
        self.note(entry, kept.outcome, span, kept.rejected_message);
        Ok(())
    }

    /// Records the rows of several entries whose outcomes are known, in the ledger together
    /// (one sync), then in the report.
    pub fn record_all(&mut self, rows: Vec<(usize, ReportRow)>) -> anyhow::Result<()> {
        if let Some(ledger) = &self.ledger {
            let refs: Vec<(usize, &ReportRow)> = rows.iter().map(|(e, r)| (*e, r)).collect();
            ledger.record_all(&refs)?;
        }
        for (entry, row) in rows {
            self.show(entry, &row)?;
        }
        Ok(())
    }

    /// Shows the row an earlier attempt of a resumed run already recorded in the ledger.
    pub fn replay(&mut self, entry: usize, row: ReportRow) -> anyhow::Result<()> {
        self.show(entry, &row)
    }

    fn show(&mut self, entry: usize, row: &ReportRow) -> anyhow::Result<()> {
        let line = self.report.append(row)?;
        let kept = RowKept::of(row);
        self.note(entry, kept.outcome, line, kept.rejected_message);
        Ok(())
    }

    /// Counts `outcome` and keeps what the end of the run needs of `entry`'s row, whose
    /// line the report has at `line`.
    fn note(
        &mut self,
        entry: usize,
        outcome: Outcome,
        line: LineSpan,
        rejected_message: Option<Box<str>>,
    ) {
        self.counts.add(outcome);
        self.progress.finished(outcome);
        if let Some(slot) = self.rows.get_mut(entry) {
            *slot = Some(RowRecord {
                line,
                outcome,
                rejected_message,
            });
        }
    }

    /// Whether entry `entry` has its row.
    pub fn has_row(&self, entry: usize) -> bool {
        self.rows.get(entry).is_some_and(Option::is_some)
    }

    /// Writes the final report, the rejects and the summary; returns the exit code.
    pub fn finish(self, run: Finish<'_>) -> anyhow::Result<i32> {
        self.progress.finish();
        let report_path = self.report.path().to_path_buf();
        let rows = self.rows;
        // A flattened iterator gives no length to collect into: sized here, a plan of
        // 100,000 rows is not copied through a dozen reallocations.
        let mut lines: Vec<LineSpan> = Vec::with_capacity(rows.len());
        lines.extend(rows.iter().flatten().map(|r| r.line));
        self.report.finish(&lines)?;
        drop(lines);
        let rejects = match &run.common.rejects {
            Some(path) => write_rejects(
                path,
                &run.prepared.sources,
                rejected_rows(run.prepared, &rows)?,
                run.common.delimiter,
            )?,
            None => Vec::new(),
        };
        let mut summary = Summary::new(
            run.command,
            &self.counts,
            run.prepared.input_rows,
            run.stats,
            run.prepared.started.elapsed(),
        );
        summary.report = report_path.display().to_string();
        summary.rejects = rejects.iter().map(|p| p.display().to_string()).collect();
        summary.correlation_id = run.correlation_id;
        if let Some(why) = run.stopped {
            summary.stopped = Some(why);
            summary.exit_code = run.stopped_exit_code;
        }
        if let Some(ledger) = &self.ledger {
            summary.ledger = Some(ledger.start());
            let stopped = summary.stopped.is_some();
            ledger.end(stopped, summary.exit_code, serde_json::to_value(&summary)?)?;
        }
        write_summary_json(run.common.summary_json.as_ref(), &summary)?;
        if !(self.terminal.is_quiet() && summary.exit_code == 0) {
            let fields = serde_json::json!({ "summary": summary });
            let level = finish_level(summary.stopped.is_some(), summary.exit_code);
            self.terminal
                .say(level, "run finished", &summary.to_text(), fields);
        }
        Ok(summary.exit_code)
    }
}

/// The log level of the end-of-run line, for alerting that watches levels: `ERROR` for a
/// run aborted (exit 1) or stopped by `--max-failures` (exit 5), `WARN` for another early
/// stop (a signal, `--deadline`), else `INFO`.
fn finish_level(stopped: bool, exit_code: i32) -> &'static str {
    match (stopped, exit_code) {
        (true, 1 | 5) => "ERROR",
        (true, _) => "WARN",
        (false, _) => "INFO",
    }
}

/// What [`RunOutputs::finish`] needs to know about the run.
pub struct Finish<'a> {
    /// `plan`, `sync` or `dry-run`.
    pub command: &'static str,
    /// The run's flags.
    pub common: &'a CommonArgs,
    /// The run's inputs and plan.
    pub prepared: &'a Prepared,
    /// Request figures.
    pub stats: &'a SendStats,
    /// The run's correlation ID, where it sent anything.
    pub correlation_id: Option<String>,
    /// Why the run stopped early, if it did.
    pub stopped: Option<String>,
    /// The exit code of an early stop.
    pub stopped_exit_code: i32,
}

/// Writes `--summary-json` for a run that could not start or was aborted by an error (exit
/// 1, or 2 for output paths that clash): an alerting script reading the file must see
/// this run's failure, not the summary an earlier run left there. Nothing is counted;
/// `stopped` says what went wrong. Not when the summary's own path was refused (an input,
/// or another output's file).
pub fn summarise_failure(ran: &anyhow::Result<i32>, common: &CommonArgs, command: &'static str) {
    let (Err(error), Some(path)) = (ran, common.summary_json.as_ref()) else {
        return;
    };
    let refused = error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<super::output_paths::OutputPathError>())
        .any(|refusal| refusal.refuses("--summary-json", path));
    if refused {
        return;
    }
    let code = super::exit_code_of(error);
    summarise_refusal(path, command, &crate::ui::describe_error(error), code);
}

/// Writes `--summary-json` at `path` for a `command` refused with `exit_code` before it
/// ran (`message` says why): nothing counted. A file that cannot be written is only
/// warned about: the refusal itself is the error to report.
pub fn summarise_refusal(path: &Path, command: &'static str, message: &str, exit_code: i32) {
    let counts = OutcomeCounts::default();
    let mut summary = Summary::new(command, &counts, 0, &SendStats::default(), Duration::ZERO);
    summary.exit_code = exit_code;
    summary.stopped = Some(message.to_string());
    if let Err(failure) = write_summary_json(Some(&path.to_path_buf()), &summary) {
        tracing::warn!("{}", crate::ui::describe_error(&failure));
    }
}

fn write_summary_json(path: Option<&PathBuf>, summary: &Summary) -> anyhow::Result<()> {
    let Some(path) = path else { return Ok(()) };
    let text = serde_json::to_string_pretty(summary)? + "\n";
    crate::report::create_output(path)
        .and_then(|mut file| std::io::Write::write_all(&mut file, text.as_bytes()))
        .with_context(|| format!("cannot write the summary to {}", path.display()))
}

/// The input rows of every rejected entry, with its outcome and message; an error where
/// the plan kept rows' lines alone (`PlanOptions::lines_only`), which cannot be copied.
fn rejected_rows<'a>(
    prepared: &Prepared,
    rows: &'a [Option<RowRecord>],
) -> anyhow::Result<Vec<RejectedRow<'a>>> {
    let mut out = Vec::new();
    for (entry, row) in prepared.plan.entries.iter().zip(rows) {
        let Some(row) = row.as_ref() else { continue };
        let Some(message) = row.rejected_message.as_deref() else {
            continue;
        };
        anyhow::ensure!(
            entry.rows().has_spans(),
            "cannot write --rejects: the plan kept its rows' lines only"
        );
        out.extend(entry.rows().iter().map(|r| RejectedRow {
            row: r,
            outcome: row.outcome,
            message,
        }));
    }
    Ok(out)
}
