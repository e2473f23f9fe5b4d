//! The ledger's schema, how a file is recognised as a ledger, and the connection settings.
//!
//! A ledger is recognised by two header fields that SQLite keeps for exactly this purpose:
//! `PRAGMA application_id` (the file's owner) and `PRAGMA user_version` (its schema
//! version). Nothing is written to a file before both are checked, so a file that is not a
//! ledger is never changed, let alone reset. `docs/ledger.md` documents these tables.

use super::LedgerError;
use rusqlite::{Connection, ErrorCode};
use std::path::Path;

/// `PRAGMA application_id` of a refsync ledger: the ASCII bytes `RFSL`.
pub const APPLICATION_ID: i64 = 0x5246_534C;

/// The schema version this build writes and reads (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

/// The tables of schema version 1. A document row exists from the moment it is sent (or
/// gets an outcome without being sent); `state` says whether its outcome is final.
const SCHEMA: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE runs (
    run_id         INTEGER PRIMARY KEY,
    run_key        TEXT    NOT NULL,
    started_at     TEXT    NOT NULL,
    inputs         TEXT    NOT NULL,
    options        TEXT    NOT NULL,
    correlation_id TEXT,
    endpoint       TEXT,
    planned        INTEGER NOT NULL,
    resumes        INTEGER NOT NULL DEFAULT 0,
    ended_at       TEXT,
    exit_code      INTEGER,
    finished       INTEGER NOT NULL DEFAULT 0 CHECK (finished IN (0, 1)),
    summary        TEXT,
    undo_files     TEXT
);
CREATE INDEX runs_unfinished ON runs (run_key, run_id) WHERE finished = 0;

CREATE TABLE documents (
    run_id      INTEGER NOT NULL REFERENCES runs (run_id),
    entry       INTEGER NOT NULL,
    referral_id TEXT,
    doc_hash    TEXT,
    state       TEXT    NOT NULL CHECK (state IN ('in_flight', 'final')),
    request_id  TEXT,
    if_match    TEXT,
    outcome     TEXT CHECK (outcome IN
                    ('updated', 'unchanged', 'conflict', 'failed', 'invalid', 'planned')),
    report_row  TEXT,
    sent_at     TEXT,
    finished_at TEXT,
    undo_before TEXT,
    sent_before INTEGER,
    PRIMARY KEY (run_id, entry),
    CHECK ((state = 'final') = (outcome IS NOT NULL))
) WITHOUT ROWID;
CREATE INDEX documents_applied ON documents (referral_id, run_id) WHERE outcome = 'updated';
";

/// What the header of an opened file says it is.
enum Identity {
    /// A new (or empty, table-less) database: ours to create.
    Empty,
    /// A refsync ledger of this schema version.
    Ledger,
}

/// Makes sure the file at `path` is a ledger of a version this build reads, creating the
/// schema in a new file when `create` is set.
pub(crate) fn prepare(conn: &Connection, path: &Path, create: bool) -> Result<(), LedgerError> {
    match identify(conn, path).map_err(|e| corrupt_or(e, path))? {
        Identity::Ledger if create => add_later_columns(conn).map_err(|e| corrupt_or(e, path)),
        Identity::Ledger => Ok(()),
        Identity::Empty if create => create_schema(conn).map_err(|e| corrupt_or(e, path)),
        Identity::Empty => Err(LedgerError::Foreign {
            path: path.to_path_buf(),
        }),
    }
}

/// Reads the header fields; only reads, so a foreign or damaged file stays as it is.
fn identify(conn: &Connection, path: &Path) -> Result<Identity, LedgerError> {
    let application_id: i64 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let objects: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
    match application_id {
        APPLICATION_ID if version > SCHEMA_VERSION => Err(LedgerError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            known: SCHEMA_VERSION,
        }),
        APPLICATION_ID if version == SCHEMA_VERSION => Ok(Identity::Ledger),
        0 if objects == 0 && version == 0 => Ok(Identity::Empty),
        _ => Err(LedgerError::Foreign {
            path: path.to_path_buf(),
        }),
    }
}

/// Creates the tables and stamps the header, all in one transaction: a crash halfway
/// leaves an empty file, never a half-made ledger.
fn create_schema(conn: &Connection) -> Result<(), LedgerError> {
    let version = env!("CARGO_PKG_VERSION");
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE;
         {SCHEMA}
         INSERT INTO meta (key, value) VALUES ('format', 'refsync ledger'),
                                              ('created_by', 'refsync {version}');
         PRAGMA application_id = {APPLICATION_ID};
         PRAGMA user_version = {SCHEMA_VERSION};
         COMMIT;"
    ))?;
    Ok(())
}

/// Columns added after the first schema, each to a ledger made before it: only added,
/// never required, so such a ledger's older rows keep `NULL` there, and an older build
/// reading the file passes over a column it does not name.
/// - `runs.endpoint`: where the run sent (`NULL`: unknown, counts for every endpoint);
/// - `runs.undo_files`: each attempt's `--undo` file (JSON array, `null` for an attempt
///   without one), so that a resume can warn when the undo lines split or stop;
/// - `documents.undo_before`: under `--undo`, the referral as read before the PATCH in
///   flight, so that a resume that finds it applied can still write its undo line;
/// - `documents.sent_before`: the PATCHes of the document sent before the one in flight
///   (in this run and the runs it resumes), so that a resume's `attempts` counts them.
const LATER_COLUMNS: [(&str, &str, &str); 4] = [
    ("runs", "endpoint", "TEXT"),
    ("runs", "undo_files", "TEXT"),
    ("documents", "undo_before", "TEXT"),
    ("documents", "sent_before", "INTEGER"),
];

fn add_later_columns(conn: &Connection) -> Result<(), LedgerError> {
    for (table, column, kind) in LATER_COLUMNS {
        let has: bool = conn.query_row(
            "SELECT count(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2",
            [table, column],
            |row| row.get(0),
        )?;
        if !has {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
        }
    }
    Ok(())
}

/// Settings of a connection that writes. WAL lets `refsync runs` read while a run writes;
/// `synchronous = FULL` syncs the WAL on every commit, so a record survives a power cut as
/// well as a killed process: the record of a PATCH must outlive the PATCH it announces.
pub(crate) fn tune_for_writing(conn: &Connection) -> Result<(), LedgerError> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Turns SQLite's "not a database" and "malformed" into the error that says so and names
/// the file; other errors pass through.
pub(crate) fn corrupt_or(error: LedgerError, path: &Path) -> LedgerError {
    match &error {
        LedgerError::Sqlite(inner @ rusqlite::Error::SqliteFailure(failure, _))
            if matches!(
                failure.code,
                ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt
            ) =>
        {
            LedgerError::Corrupt {
                path: path.to_path_buf(),
                detail: inner.to_string(),
            }
        }
        _ => error,
    }
}
