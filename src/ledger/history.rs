//! Reading the ledger back as history, for `refsync runs` and `refsync runs show`.

use super::documents::parse_outcome;
use super::{Ledger, LedgerError, RunId};
use crate::outcome::Outcome;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// It ended and recorded its exit code.
    Finished,
    /// Stopped by a signal; `--resume` continues it.
    Stopped,
    /// Running now, or killed: `--resume` continues it.
    Unfinished,
}

/// One line of `refsync runs`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunSummary {
    /// The run's number.
    pub id: i64,
    /// The run key (SHA-256 of inputs and planning options).
    pub key: String,
    /// When it started (RFC 3339, UTC).
    pub started_at: String,
    /// When it last ended, if it did.
    pub ended_at: Option<String>,
    /// Its input files.
    pub inputs: Vec<String>,
    /// Report rows planned.
    pub planned: usize,
    /// Final outcomes recorded so far, by outcome name.
    pub counts: BTreeMap<String, usize>,
    /// Documents sent whose outcome is not known yet.
    pub in_flight: usize,
    /// Report rows planned that the ledger holds no record of: documents never sent (a run
    /// stopped or killed first), or sent and refused before anything was applied.
    /// `--resume` sends them.
    pub not_finished: usize,
    /// The exit code, once it ended.
    pub exit_code: Option<i32>,
    /// From start to end, once it ended.
    pub duration_ms: Option<i64>,
    /// How many times it was resumed.
    pub resumes: u32,
    /// Where it stands.
    pub status: RunStatus,
}

/// One document of `refsync runs show`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DocumentRecord {
    /// Its position in the plan.
    pub entry: usize,
    /// The referral ID, if it had one.
    pub referral_id: Option<String>,
    /// Its final outcome; `None` while in flight.
    pub outcome: Option<Outcome>,
    /// The `MS-RequestId` it was last sent with.
    pub request_id: Option<String>,
    /// Its report row, once final.
    pub row: Option<serde_json::Value>,
}

impl DocumentRecord {
    /// A text cell of the report row (`error_code`, `error_message`, `note`…), if set.
    pub fn cell(&self, column: &str) -> Option<&str> {
        self.row.as_ref()?.get(column)?.as_str()
    }
}

/// `refsync runs show RUN`: the run's summary and its documents not `updated`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunDetail {
    /// The summary line.
    pub run: RunSummary,
    /// The planning options.
    pub options: String,
    /// The run's `MS-CorrelationId`.
    pub correlation_id: Option<String>,
    /// The summary JSON it finished with.
    pub summary: Option<serde_json::Value>,
    /// Its documents whose outcome is not `updated`, in flight ones included, in plan order.
    pub not_updated: Vec<DocumentRecord>,
}

const RUN_COLUMNS: &str = "run_id, run_key, started_at, ended_at, inputs, planned, exit_code,
    CAST(round((julianday(ended_at) - julianday(started_at)) * 86400000) AS INTEGER),
    resumes, finished, options, correlation_id, summary";

impl Ledger {
    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<RunSummary>, LedgerError> {
        let writer = self.writer();
        let conn = &writer.conn;
        let mut counts = outcome_counts(conn, None)?;
        let mut statement =
            conn.prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY run_id"))?;
        let rows = statement.query_map([], |row| read_run(row).map(|(summary, ..)| summary))?;
        let mut runs = Vec::new();
        for row in rows {
            let mut run = row?;
            let run_counts = counts.remove(&run.id).unwrap_or_default();
            fill_counts(&mut run, run_counts)?;
            runs.push(run);
        }
        Ok(runs)
    }

    /// One run's summary and its documents not `updated`; [`LedgerError::NoSuchRun`] for
    /// a run the ledger does not hold.
    pub fn run_detail(&self, run: RunId) -> Result<RunDetail, LedgerError> {
        let writer = self.writer();
        let conn = &writer.conn;
        let found = conn
            .prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?1"))?
            .query_row([run.0], read_run)
            .optional()?;
        let (mut summary, options, correlation_id, summary_json) =
            found.ok_or(LedgerError::NoSuchRun(run.0))?;
        let counts = outcome_counts(conn, Some(run))?.remove(&run.0);
        fill_counts(&mut summary, counts.unwrap_or_default())?;
        Ok(RunDetail {
            run: summary,
            options,
            correlation_id,
            summary: summary_json.and_then(|text| serde_json::from_str(&text).ok()),
            not_updated: not_updated(conn, run)?,
        })
    }
}

/// A run row: its summary (counts still empty), options, correlation ID, summary JSON.
type RunRow = (RunSummary, String, Option<String>, Option<String>);

fn read_run(row: &Row<'_>) -> rusqlite::Result<RunRow> {
    let inputs: String = row.get(4)?;
    let (ended_at, finished): (Option<String>, bool) = (row.get(3)?, row.get(9)?);
    let status = match (finished, &ended_at) {
        (true, _) => RunStatus::Finished,
        (false, Some(_)) => RunStatus::Stopped,
        (false, None) => RunStatus::Unfinished,
    };
    let summary = RunSummary {
        id: row.get(0)?,
        key: row.get(1)?,
        started_at: row.get(2)?,
        ended_at,
        inputs: serde_json::from_str(&inputs).unwrap_or_else(|_| vec![inputs]),
        planned: row.get(5)?,
        counts: BTreeMap::new(),
        in_flight: 0,
        not_finished: 0,
        exit_code: row.get(6)?,
        duration_ms: row.get(7)?,
        resumes: row.get(8)?,
        status,
    };
    Ok((summary, row.get(10)?, row.get(11)?, row.get(12)?))
}

/// Per run, the count of documents per outcome; `None` as the outcome counts in flight.
type Counts = HashMap<i64, Vec<(Option<String>, usize)>>;

fn outcome_counts(conn: &Connection, run: Option<RunId>) -> Result<Counts, LedgerError> {
    let mut statement = conn.prepare_cached(
        "SELECT run_id, outcome, count(*) FROM documents
         WHERE ?1 IS NULL OR run_id = ?1 GROUP BY run_id, outcome",
    )?;
    let rows = statement.query_map(params![run.map(|r| r.0)], |row| {
        Ok((row.get::<_, i64>(0)?, row.get(1)?, row.get(2)?))
    })?;
    let mut counts = Counts::new();
    for row in rows {
        let (run, outcome, count) = row?;
        counts.entry(run).or_default().push((outcome, count));
    }
    Ok(counts)
}

/// Fills in the counts per outcome, in flight, and not finished: what the plan holds beyond
/// every document recorded.
fn fill_counts(
    run: &mut RunSummary,
    counts: Vec<(Option<String>, usize)>,
) -> Result<(), LedgerError> {
    let mut recorded = 0;
    for (outcome, count) in counts {
        recorded += count;
        match outcome {
            Some(name) => {
                run.counts.insert(parse_outcome(&name)?.to_string(), count);
            }
            None => run.in_flight = count,
        }
    }
    run.not_finished = run.planned.saturating_sub(recorded);
    Ok(())
}

fn not_updated(conn: &Connection, run: RunId) -> Result<Vec<DocumentRecord>, LedgerError> {
    let mut statement = conn.prepare_cached(
        "SELECT entry, referral_id, outcome, request_id, report_row FROM documents
         WHERE run_id = ?1 AND outcome IS NOT 'updated' ORDER BY entry",
    )?;
    let rows = statement.query_map([run.0], |row| {
        let values: (
            usize,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        ) = (
            row.get(0)?,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
        );
        Ok(values)
    })?;
    let mut documents = Vec::new();
    for row in rows {
        let (entry, referral_id, outcome, request_id, report_row) = row?;
        documents.push(DocumentRecord {
            entry,
            referral_id,
            outcome: outcome.as_deref().map(parse_outcome).transpose()?,
            request_id,
            row: report_row.and_then(|text| serde_json::from_str(&text).ok()),
        });
    }
    Ok(documents)
}
