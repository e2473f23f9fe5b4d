//! The life of a run in the ledger: started, perhaps stopped and resumed, finished.
//!
//! A run is "unfinished" until [`Ledger::finish_run`]: a crash, a kill or a stop by signal
//! ([`Ledger::stop_run`]) all leave it unfinished, which is what lets `--resume` find it.

use super::{Ledger, LedgerError, now};
use rusqlite::{OptionalExtension, params};
use std::fmt;

/// A run's number in the ledger (`runs.run_id`), as `refsync runs` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What the ledger keeps about a run when it starts. Nothing secret belongs here.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunMeta {
    /// The input files as given on the command line.
    pub inputs: Vec<String>,
    /// The planning options, as hashed into the run key (for people reading the ledger).
    pub options: String,
    /// The run's `MS-CorrelationId`, so the API's logs can be matched to the run.
    pub correlation_id: Option<uuid::Uuid>,
    /// Where the run sends its documents: the API base as configured (without any user
    /// name or password it held), or `emulator` for the in-process one. A resume must go
    /// to the same place, and `--skip-unchanged` counts only what was applied there.
    pub endpoint: Option<String>,
    /// How many report rows the plan has: documents plus ID-less invalid rows.
    pub planned: usize,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct RunEnd {
    /// The exit code refsync exited with.
    pub exit_code: i32,
    /// The run's summary as `--summary-json` writes it.
    pub summary: serde_json::Value,
}

impl Ledger {
    /// Records the start of a new run with run key `key`.
    pub fn start_run(&self, key: &str, meta: &RunMeta) -> Result<RunId, LedgerError> {
        let inputs = serde_json::to_string(&meta.inputs).unwrap_or_else(|_| "[]".into());
        self.write(|conn| {
            conn.prepare_cached(
                "INSERT INTO runs
                   (run_key, started_at, inputs, options, correlation_id, endpoint, planned)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                key,
                now(),
                inputs,
                meta.options,
                meta.correlation_id.map(|id| id.to_string()),
                meta.endpoint,
                meta.planned,
            ])?;
            Ok(RunId(conn.last_insert_rowid()))
        })
    }

    /// The newest unfinished run with run key `key`: the one `--resume` continues.
    pub fn unfinished_run(&self, key: &str) -> Result<Option<RunId>, LedgerError> {
        self.newest_unfinished("run_key = ?1", key)
    }

    /// The newest unfinished run of another key than `key`: what a `--resume` that found
    /// none of its own names, since its inputs or options may have changed since.
    pub fn unfinished_run_of_another_key(&self, key: &str) -> Result<Option<RunId>, LedgerError> {
        self.newest_unfinished("run_key != ?1", key)
    }

    /// The newest unfinished run whose key passes `key_test` (SQL, `?1` being `key`).
    fn newest_unfinished(&self, key_test: &str, key: &str) -> Result<Option<RunId>, LedgerError> {
        let writer = self.writer();
        let id = writer
            .conn
            .prepare_cached(&format!(
                "SELECT max(run_id) FROM runs WHERE {key_test} AND finished = 0
                 HAVING max(run_id) IS NOT NULL"
            ))?
            .query_row([key], |row| row.get(0))
            .optional()?;
        Ok(id.map(RunId))
    }

    /// The `MS-CorrelationId` `run` was started with, if it recorded one: a resumed run
    /// goes on with it, so the API's logs show one run.
    pub fn correlation_id(&self, run: RunId) -> Result<Option<uuid::Uuid>, LedgerError> {
        let writer = self.writer();
        let text: Option<String> = writer
            .conn
            .prepare_cached("SELECT correlation_id FROM runs WHERE run_id = ?1")?
            .query_row([run.0], |row| row.get(0))
            .optional()?
            .flatten();
        Ok(text.and_then(|text| uuid::Uuid::parse_str(&text).ok()))
    }

    /// The endpoint `run` was started against, if it recorded one (runs of ledgers made
    /// before refsync recorded it did not).
    pub fn run_endpoint(&self, run: RunId) -> Result<Option<String>, LedgerError> {
        let writer = self.writer();
        let endpoint = writer
            .conn
            .prepare_cached("SELECT endpoint FROM runs WHERE run_id = ?1")?
            .query_row([run.0], |row| row.get(0))
            .optional()?
            .flatten();
        Ok(endpoint)
    }

    /// Records the undo file (`--undo`) of this attempt of `run`, `None` for an attempt
    /// without one, and returns those of the attempts before it, oldest first (none for a
    /// run of a ledger made before refsync recorded them).
    pub fn record_undo_file(
        &self,
        run: RunId,
        undo: Option<&str>,
    ) -> Result<Vec<Option<String>>, LedgerError> {
        self.write(|conn| {
            let text: Option<String> = conn
                .prepare_cached("SELECT undo_files FROM runs WHERE run_id = ?1")?
                .query_row([run.0], |row| row.get(0))
                .optional()?
                .flatten();
            let earlier: Vec<Option<String>> = text
                .and_then(|text| serde_json::from_str(&text).ok())
                .unwrap_or_default();
            let mut all = earlier.clone();
            all.push(undo.map(str::to_string));
            let json = serde_json::to_string(&all).unwrap_or_else(|_| "[]".into());
            conn.prepare_cached("UPDATE runs SET undo_files = ?2 WHERE run_id = ?1")?
                .execute(params![run.0, json])?;
            Ok(earlier)
        })
    }

    /// Marks `run` as resumed: counts the resumption and clears the end of the attempt
    /// before, so the run reads as unfinished until it finishes again.
    pub fn resume_run(&self, run: RunId) -> Result<(), LedgerError> {
        let changed = self.write(|conn| {
            let sql = "UPDATE runs SET resumes = resumes + 1, ended_at = NULL, exit_code = NULL
                       WHERE run_id = ?1 AND finished = 0";
            Ok(conn.prepare_cached(sql)?.execute([run.0])?)
        })?;
        match changed {
            0 => Err(LedgerError::NotResumable(run.0)),
            _ => Ok(()),
        }
    }

    /// Records that `run` was stopped by a signal with `exit_code` (130, 143): it stays
    /// unfinished, so `--resume` picks it up; its unsent documents have no row.
    pub fn stop_run(&self, run: RunId, exit_code: i32) -> Result<(), LedgerError> {
        let changed = self.write(|conn| {
            let sql = "UPDATE runs SET ended_at = ?2, exit_code = ?3 WHERE run_id = ?1";
            Ok(conn
                .prepare_cached(sql)?
                .execute(params![run.0, now(), exit_code])?)
        })?;
        expect_one(changed, run)
    }

    /// Records that `run` finished with `end`; it is no longer resumable.
    pub fn finish_run(&self, run: RunId, end: &RunEnd) -> Result<(), LedgerError> {
        let changed = self.write(|conn| {
            let sql = "UPDATE runs SET ended_at = ?2, exit_code = ?3, summary = ?4, finished = 1
                       WHERE run_id = ?1";
            let summary = end.summary.to_string();
            Ok(conn
                .prepare_cached(sql)?
                .execute(params![run.0, now(), end.exit_code, summary])?)
        })?;
        expect_one(changed, run)
    }
}

/// An update that changed no row named a run the ledger does not hold.
fn expect_one(changed: usize, run: RunId) -> Result<(), LedgerError> {
    match changed {
        0 => Err(LedgerError::NoSuchRun(run.0)),
        _ => Ok(()),
    }
}
