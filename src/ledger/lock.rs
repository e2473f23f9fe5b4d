//! The one-run-at-a-time lock: an OS file lock on a sidecar file `LEDGER.lock`.
//!
//! Why a sidecar and not the database file itself: SQLite takes its own byte-range locks on
//! the database, and on Windows a whole-file lock there would collide with them. Why an OS
//! lock and not a "running" row: the OS drops the lock when the process dies, however it
//! dies, so a run killed with SIGKILL never leaves a stale lock behind. The sidecar file
//! itself may stay; an unlocked sidecar means nothing.

use super::LedgerError;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// An exclusive lock held for as long as this value lives.
#[derive(Debug)]
pub(crate) struct LedgerLock {
    // Held only for its lock; closing the file releases it.
    _file: File,
}

/// The sidecar lock file of the ledger at `ledger`.
pub(crate) fn lock_path(ledger: &Path) -> PathBuf {
    let mut name = ledger.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl LedgerLock {
    /// Takes the lock of the ledger at `ledger` without waiting; `InUse` if it is held.
    pub(crate) fn acquire(ledger: &Path) -> Result<LedgerLock, LedgerError> {
        let path = lock_path(ledger);
        let lock_error = |source| LedgerError::Lock {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(lock_error)?;
        match file.try_lock() {
            Ok(()) => Ok(LedgerLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(LedgerError::InUse {
                path: ledger.to_path_buf(),
            }),
            Err(TryLockError::Error(e)) => Err(lock_error(e)),
        }
    }
}
