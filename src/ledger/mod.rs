//! The ledger: a SQLite file (`--ledger FILE`) that records each run and each document's
//! outcome as it happens, so that a run killed at any moment can be resumed without
//! applying anything twice or losing anything (SPEC.md "Ledger and resume").
//!
//! The order of writes is the guarantee. [`Ledger::record_sending`] is durable before the
//! PATCH leaves, with the document's `MS-RequestId`; [`Ledger::record_outcome`] is durable
//! before the report shows the row. So after a crash every document is in one of three
//! states: never sent (no row), perhaps applied (`in_flight`, with the request ID to resend
//! or verify with), or final (with its report row). Every record is one small transaction.
//!
//! One run at a time: [`Ledger::open`] takes an OS lock ([`lock`]). `refsync runs` reads
//! through [`Ledger::open_read_only`], which takes no lock, so history can be read while a
//! run writes. No token or secret is ever stored: only IDs, hashes, outcomes, report rows
//! and request IDs. The schema is in [`schema`] and `docs/ledger.md`.

mod commit;
mod documents;
mod error;
mod history;
mod key;
mod lock;
mod runs;
pub mod schema;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_records;

pub use documents::{DocumentKey, DocumentState, Sending};
pub use error::LedgerError;
pub use history::{DocumentRecord, RunDetail, RunStatus, RunSummary};
pub use key::{document_hash, run_key};
pub use runs::{RunEnd, RunId, RunMeta};

use commit::{Synced, Writer, Writers};
use lock::LedgerLock;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// An open ledger. `Sync`: the connection sits behind a mutex, so send workers can share
/// one `Arc<Ledger>`; the mutex is held for microseconds, never across a sync ([`commit`]).
/// Every call blocks until its record is synced: from async code, call it through
/// `block_in_place` or `spawn_blocking` so the runtime's other tasks go on meanwhile.
#[derive(Debug)]
pub struct Ledger {
    // Declared before the lock so that the database closes before the lock is released.
    writer: Mutex<Writer>,
    synced: Mutex<Synced>,
    writers: Writers,
    path: PathBuf,
    _lock: Option<LedgerLock>,
}

impl Ledger {
    /// Opens the ledger at `path` for a run, creating it if there is none. Refuses a file
    /// that is not a refsync ledger ([`LedgerError::Foreign`], [`LedgerError::Corrupt`]),
    /// never resetting it, and a ledger that another run holds ([`LedgerError::InUse`]).
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        let mut lock = LedgerLock::acquire(path)?;
        let mut open = || {
            let conn = Connection::open(path)?;
            lock.hold_database(path)?;
            schema::prepare(&conn, path, true)?;
            schema::tune_for_writing(&conn).map_err(|e| schema::corrupt_or(e, path))?;
            Ok(conn)
        };
        let conn = open().map_err(|e| LedgerError::unwritable_or(e, path))?;
        Ok(Ledger::new(conn, path, Some(lock)))
    }

    /// Opens an existing ledger to read its history, without the run lock (a run may be
    /// writing it meanwhile). The write methods fail on a ledger opened this way.
    pub fn open_read_only(path: &Path) -> Result<Ledger, LedgerError> {
        if !path.is_file() {
            return Err(LedgerError::NotFound {
                path: path.to_path_buf(),
            });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        schema::prepare(&conn, path, false)?;
        Ok(Ledger::new(conn, path, None))
    }

    /// The ledger's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn new(conn: Connection, path: &Path, lock: Option<LedgerLock>) -> Ledger {
        Ledger {
            writer: Mutex::new(Writer::new(conn)),
            synced: Mutex::new(Synced::default()),
            writers: Writers::default(),
            path: path.to_path_buf(),
            _lock: lock,
        }
    }
}

/// Now, as the RFC 3339 UTC text the ledger stores (SQLite's date functions read it).
fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
