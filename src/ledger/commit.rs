//! Group commit: every record is durable (`synchronous = FULL`, the WAL synced) before its
//! call returns, yet concurrent senders share one sync instead of queueing for one each.
//!
//! Why: a sync costs milliseconds on an ordinary disk (≈3.5 ms here), so one sync per
//! record caps a ledger at a few hundred records a second. Here a record is written into
//! the open transaction under the writer lock (microseconds), then its caller waits for a
//! commit that covers it; the first waiter commits everything written so far, and those
//! written meanwhile find their record already committed. Nothing returns before its own
//! record is synced, so the guarantee is exactly that of one transaction per record.
//!
//! The commit itself holds the writer lock, so records arriving during a sync queue for
//! it, and the first of them to commit next could grab it before the others had written
//! theirs. So callers say when they are about to write ([`Writers`]), and a committer first
//! waits, briefly, for those to have written: one sync then covers everyone who was
//! waiting. (A `sync` run went from one sync per 1.6 records, under `strace`, to fewer
//! mostly because it now records its outcomes many at a time, `record_outcomes`; this
//! wait gave about a sixth on top.)

use super::{Ledger, LedgerError};
use rusqlite::Connection;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The longest a committer waits for announced records to be written: they take
/// microseconds, so this bounds only a writer stalled by something else.
const GATHER_AT_MOST: Duration = Duration::from_millis(2);

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

/// How many callers are about to write a record or writing one, so that a commit can wait
/// for them to be in it.
#[derive(Debug, Default)]
pub(crate) struct Writers {
    count: Mutex<usize>,
    idle: Condvar,
}

impl Writers {
    fn lock(&self) -> MutexGuard<'_, usize> {
        self.count.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Announces a writer until the returned guard drops (its record written, or not).
    fn announce(&self) -> Announced<'_> {
        *self.lock() += 1;
        Announced(self)
    }

    /// Waits until no announced writer is left, or [`GATHER_AT_MOST`] has passed.
    fn gather(&self) {
        let until = Instant::now() + GATHER_AT_MOST;
        let mut count = self.lock();
        while *count > 0 {
            let Some(left) = until.checked_duration_since(Instant::now()) else {
                return;
            };
            count = match self.idle.wait_timeout(count, left) {
                Ok((count, _)) => count,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

/// An announced writer; dropping it ends the announcement.
struct Announced<'a>(&'a Writers);

impl Drop for Announced<'_> {
    fn drop(&mut self) {
        let mut count = self.0.lock();
        *count = count.saturating_sub(1);
        if *count == 0 {
            self.0.idle.notify_all();
        }
    }
}

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
            let _announced = self.writers.announce();
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
        self.writers.gather();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_waits_for_announced_writers_but_never_for_long() {
        let writers = Writers::default();
        writers.gather();
        let announced = writers.announce();
        // A writer that never finishes holds a commit back for GATHER_AT_MOST only.
        let started = Instant::now();
        writers.gather();
        assert!(started.elapsed() >= GATHER_AT_MOST);
        drop(announced);
        assert_eq!(*writers.lock(), 0);
        std::thread::scope(|scope| {
            let announced = writers.announce();
            let committer = scope.spawn(|| writers.gather());
            drop(announced);
            committer.join().expect("gathered");
        });
        assert_eq!(*writers.lock(), 0);
    }
}
