//! Each document's passage through a run: `in_flight` from just before its PATCH leaves,
//! `final` once its outcome is known, and what a resumed run reads back from both.

use super::{Ledger, LedgerError, RunId, now};
use crate::outcome::Outcome;
use rusqlite::{OptionalExtension, Row, params};
use std::collections::HashMap;
use uuid::Uuid;

/// Which document a record is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DocumentKey<'a> {
    /// The document's position in the plan (report rows in plan order), stable across a
    /// resume because the run key pins the inputs and planning options.
    pub entry: usize,
    /// The referral ID; `None` for an invalid row with no usable ID.
    pub referral_id: Option<&'a str>,
    /// [`super::document_hash`] of the document; `None` where planning made none.
    pub doc_hash: Option<&'a str>,
}

/// What a run's ledger says about one of its documents.
#[derive(Clone, Debug, PartialEq)]
pub enum DocumentState {
    /// Its PATCH may have been sent and its outcome is unknown: a resume must resolve it
    /// (read the referral, decide as SPEC.md "Exactly once" says), reusing this request ID.
    InFlight {
        /// The `MS-RequestId` it was sent with.
        request_id: Uuid,
        /// The `If-Match` it was sent with, if any.
        if_match: Option<String>,
        /// The PATCHes of the document the earlier runs sent, the one in flight counted
        /// as sent: what the resumed run's `attempts` starts from.
        sent: u32,
    },
    /// Its outcome is final: a resume does not send it again and reports this row.
    Final {
        /// The outcome.
        outcome: Outcome,
        /// The report row, as JSON.
        row: serde_json::Value,
    },
}

/// A PATCH about to leave, as [`Ledger::record_sending`] records it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sending<'a> {
    /// Its `MS-RequestId`.
    pub request_id: Uuid,
    /// Its `If-Match`, if any.
    pub if_match: Option<&'a str>,
    /// Under `--undo`, the referral as read before it (JSON text).
    pub undo_before: Option<&'a str>,
    /// The PATCHes of the document sent before it, in this run and the runs it resumes.
    pub sent_before: u32,
}

impl Ledger {
    /// Records that `doc` is about to be sent as `sending` says; call it before the PATCH,
    /// and again whenever what it records changes (a refetch). Refuses a document whose
    /// outcome is already final ([`LedgerError::AlreadyFinal`]).
    pub fn record_sending(
        &self,
        run: RunId,
        doc: DocumentKey<'_>,
        sending: &Sending<'_>,
    ) -> Result<(), LedgerError> {
        let changed = self.write(|conn| {
            let mut statement = conn.prepare_cached(
                "INSERT INTO documents
                   (run_id, entry, referral_id, doc_hash, state, request_id, if_match, sent_at,
                    undo_before, sent_before)
                 VALUES (?1, ?2, ?3, ?4, 'in_flight', ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (run_id, entry) DO UPDATE SET
                   request_id = excluded.request_id, if_match = excluded.if_match,
                   sent_at = excluded.sent_at, undo_before = excluded.undo_before,
                   sent_before = excluded.sent_before
                 WHERE state = 'in_flight'",
            )?;
            Ok(statement.execute(params![
                run.0,
                doc.entry,
                doc.referral_id,
                doc.doc_hash,
                sending.request_id.to_string(),
                sending.if_match,
                now(),
                sending.undo_before,
                sending.sent_before,
            ])?)
        })?;
        not_final(changed, run, doc.entry)
    }

    /// The referral as read before the PATCH of each of `run`'s documents still in flight,
    /// where `--undo` recorded it: what a resume that finds the PATCH applied puts in its
    /// undo line.
    pub fn undo_befores(
        &self,
        run: RunId,
    ) -> Result<HashMap<usize, serde_json::Value>, LedgerError> {
        let writer = self.writer();
        let mut statement = writer.conn.prepare_cached(
            "SELECT entry, undo_before FROM documents
             WHERE run_id = ?1 AND state = 'in_flight' AND undo_before IS NOT NULL",
        )?;
        let rows = statement.query_map([run.0], |row| {
            Ok((row.get::<_, usize>(0)?, row.get::<_, String>(1)?))
        })?;
        let mut befores = HashMap::new();
        for row in rows {
            let (entry, text) = row?;
            let before = serde_json::from_str(&text).map_err(|_| bad("undo_before", text))?;
            befores.insert(entry, before);
        }
        Ok(befores)
    }

    /// Takes back the in-flight record of entry `entry` sent with `request_id`, for a
    /// PATCH that was refused (401, 412) or never left: the document is again one that
    /// was never sent, which a resume sends without reading it first.
    pub fn record_not_sent(
        &self,
        run: RunId,
        entry: usize,
        request_id: Uuid,
    ) -> Result<(), LedgerError> {
        self.write(|conn| {
            let mut statement = conn.prepare_cached(
                "DELETE FROM documents
                 WHERE run_id = ?1 AND entry = ?2 AND state = 'in_flight' AND request_id = ?3",
            )?;
            statement.execute(params![run.0, entry, request_id.to_string()])?;
            Ok(())
        })
    }

    /// Records `doc`'s final `outcome` and its report `row`; call it before the report
    /// shows the row. A document never sent (invalid, skipped) gets its row here too.
    pub fn record_outcome(
        &self,
        run: RunId,
        doc: DocumentKey<'_>,
        outcome: Outcome,
        row: &serde_json::Value,
    ) -> Result<(), LedgerError> {
        self.record_outcomes(run, &[(doc, outcome, row)])
    }

    /// Records several documents' final outcomes as [`Ledger::record_outcome`] does each,
    /// in one transaction and so with one sync: a run's results arrive many at a time, and
    /// a sync per outcome capped a ledger run at a few thousand documents a second.
    pub fn record_outcomes(
        &self,
        run: RunId,
        outcomes: &[(DocumentKey<'_>, Outcome, &serde_json::Value)],
    ) -> Result<(), LedgerError> {
        self.write(|conn| {
            let mut statement = conn.prepare_cached(
                "INSERT INTO documents
                   (run_id, entry, referral_id, doc_hash, state, outcome, report_row, finished_at)
                 VALUES (?1, ?2, ?3, ?4, 'final', ?5, ?6, ?7)
                 ON CONFLICT (run_id, entry) DO UPDATE SET
                   state = 'final', outcome = excluded.outcome,
                   report_row = excluded.report_row, finished_at = excluded.finished_at
                 WHERE state = 'in_flight'",
            )?;
            let finished_at = now();
            for (doc, outcome, row) in outcomes {
                let changed = statement.execute(params![
                    run.0,
                    doc.entry,
                    doc.referral_id,
                    doc.doc_hash,
                    outcome.as_str(),
                    row.to_string(),
                    finished_at,
                ])?;
                not_final(changed, run, doc.entry)?;
            }
            Ok(())
        })
    }

    /// Every document of `run` that has a row, by entry: final or in flight. An entry
    /// missing from the map was never sent.
    pub fn documents(&self, run: RunId) -> Result<HashMap<usize, DocumentState>, LedgerError> {
        let writer = self.writer();
        let mut statement = writer.conn.prepare_cached(
            "SELECT entry, state, request_id, if_match, outcome, report_row, sent_before
             FROM documents WHERE run_id = ?1",
        )?;
        let rows = statement.query_map([run.0], read_state)?;
        let mut states = HashMap::new();
        for row in rows {
            let (entry, raw) = row?;
            states.insert(entry, raw.parse()?);
        }
        Ok(states)
    }

    /// The document hash of the document last applied (`updated`) to `referral_id` at
    /// `endpoint`, in any run (a run that recorded no endpoint counts for every one): what
    /// `--skip-unchanged` compares with.
    pub fn last_applied(
        &self,
        referral_id: &str,
        endpoint: &str,
    ) -> Result<Option<String>, LedgerError> {
        let writer = self.writer();
        let hash = writer
            .conn
            .prepare_cached(
                "SELECT doc_hash FROM documents JOIN runs USING (run_id)
                 WHERE referral_id = ?1 AND outcome = 'updated'
                   AND (runs.endpoint IS NULL OR runs.endpoint = ?2)
                 ORDER BY run_id DESC LIMIT 1",
            )?
            .query_row([referral_id, endpoint], |row| row.get(0))
            .optional()?;
        Ok(hash.flatten())
    }
}

/// No row changed: the document's outcome was final already.
fn not_final(changed: usize, run: RunId, entry: usize) -> Result<(), LedgerError> {
    match changed {
        0 => Err(LedgerError::AlreadyFinal { run: run.0, entry }),
        _ => Ok(()),
    }
}

/// A document row as stored, before its text is checked.
struct RawState {
    state: String,
    request_id: Option<String>,
    if_match: Option<String>,
    outcome: Option<String>,
    report_row: Option<String>,
    sent_before: Option<u32>,
}

fn read_state(row: &Row<'_>) -> rusqlite::Result<(usize, RawState)> {
    let raw = RawState {
        state: row.get(1)?,
        request_id: row.get(2)?,
        if_match: row.get(3)?,
        outcome: row.get(4)?,
        report_row: row.get(5)?,
        sent_before: row.get(6)?,
    };
    Ok((row.get(0)?, raw))
}

impl RawState {
    /// Checks the stored text: a ledger edited by hand gets a clear error, not a panic.
    fn parse(self) -> Result<DocumentState, LedgerError> {
        if self.state == "in_flight" {
            let text = self.request_id.unwrap_or_default();
            let request_id = Uuid::parse_str(&text).map_err(|_| bad("request_id", text))?;
            // A row from a build that did not count (NULL) knows of the one in flight.
            let sent = self.sent_before.unwrap_or(0).saturating_add(1);
            return Ok(DocumentState::InFlight {
                request_id,
                if_match: self.if_match,
                sent,
            });
        }
        let outcome = parse_outcome(self.outcome.as_deref().unwrap_or_default())?;
        let text = self.report_row.unwrap_or_default();
        let row = serde_json::from_str(&text).map_err(|_| bad("report_row", text))?;
        Ok(DocumentState::Final { outcome, row })
    }
}

/// The outcome named `name` in the ledger.
pub(crate) fn parse_outcome(name: &str) -> Result<Outcome, LedgerError> {
    Outcome::ALL
        .into_iter()
        .find(|outcome| outcome.as_str() == name)
        .ok_or_else(|| bad("outcome", name.to_owned()))
}

fn bad(what: &'static str, value: String) -> LedgerError {
    LedgerError::BadValue { what, value }
}
