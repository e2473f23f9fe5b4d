//! Group commit: every record is durable (`synchronous = FULL`, the WAL synced) before its
//! call returns, yet concurrent senders share one sync instead of queueing for one each.
//!
//! Why: a sync costs milliseconds on an ordinary disk (≈3.5 ms here), so one sync per
//! record caps a ledger at a few hundred records a second. Here a record is written into
//! the open transaction under the writer lock (microseconds), then its caller waits for a
//! commit that covers it; the first waiter commits everything written so far, and those
//! written meanwhile find their record already committed. Nothing returns before its own
//! record is synced, so the guarantee is exactly that of one transaction per record.

use super::{Ledger, LedgerError};
use rusqlite::Connection;
use std::sync::{MutexGuard, PoisonError};

/// The connection and how many records were written into it.
#[derive(Debug)]
pub(crate) struct Writer {
    /// The one connection of this ledger.
    pub(crate) conn: Connection,
    /// Records written so far (committed or in the open transaction).
    written: u64,
    /// Set when a commit failed: the records it carried are lost, so nothing more may be
    /// written or trusted; the run stops (exit 1).
    broken: Option<String>,
}

/// What the commit lock guards: how many records are committed and synced.
#[derive(Debug, Default)]
pub(crate) struct Synced(u64);

impl Writer {
    /// A writer over `conn`, nothing written yet.
    pub(crate) fn new(conn: Connection) -> Writer {
        Writer {
            conn,
            written: 0,
            broken: None,
        }
    }
}

impl Ledger {
    /// Runs `record` in the open transaction (beginning one if none is open) and returns
    /// once a commit covering it is synced.
    pub(crate) fn write<T>(
        &self,
        record: impl FnOnce(&Connection) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let (result, seq) = {
            let mut writer = self.writer();
            check_intact(&writer)?;
            if writer.conn.is_autocommit() {
                writer.conn.execute_batch("BEGIN IMMEDIATE")?;
            }
            // A failed statement is undone by SQLite on its own; the transaction, and the
            // records of others in it, go on.
            let result = record(&writer.conn);
            writer.written += 1;
            (result, writer.written)
        };
        self.commit_through(seq)?;
        result
    }

    /// Makes sure record number `seq` is committed: by this call, or by one that ran
    /// while this one waited for the commit lock.
    fn commit_through(&self, seq: u64) -> Result<(), LedgerError> {
        let mut synced = self.synced.lock().unwrap_or_else(PoisonError::into_inner);
        if synced.0 >= seq {
            return Ok(());
        }
        let mut writer = self.writer();
        check_intact(&writer)?;
        let through = writer.written;
        if let Err(error) = writer.conn.execute_batch("COMMIT") {
            writer.broken = Some(error.to_string());
            // Best effort: the transaction is lost either way, and `broken` says so.
            let _ = writer.conn.execute_batch("ROLLBACK");
            return Err(error.into());
        }
        synced.0 = through;
        Ok(())
    }

    /// The writer. A panic elsewhere while it was held cannot leave a record half-written
    /// (SQLite undoes a failed statement), so a poisoned mutex is simply taken over.
    pub(crate) fn writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn check_intact(writer: &Writer) -> Result<(), LedgerError> {
    match &writer.broken {
        Some(reason) => Err(LedgerError::Broken(reason.clone())),
        None => Ok(()),
    }
}
