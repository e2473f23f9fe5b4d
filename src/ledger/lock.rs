//! The one-run-at-a-time lock: an OS file lock on a sidecar file `LEDGER.lock`, and on
//! Unix on the database file itself.
//!
//! Why a sidecar: SQLite takes its own byte-range locks on the database, and on Windows a
//! whole-file lock there would collide with them. The sidecar is named after the ledger's
//! real path (symbolic links resolved), so two names of one file share it. On Unix a
//! whole-file lock (`flock`) does not touch SQLite's (`fcntl`) ones, so the database file
//! is locked too: a hard link, or a sidecar deleted mid-run, cannot let a second run in.
//! Why an OS lock and not a "running" row: the OS drops the lock when the process dies,
//! however it dies, so a run killed with SIGKILL never leaves a stale lock behind. The
//! sidecar file itself may stay; an unlocked sidecar means nothing.

use super::LedgerError;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// An exclusive lock held for as long as this value lives.
#[derive(Debug)]
pub(crate) struct LedgerLock {
    // Held only for their locks; closing a file releases its lock. The database's is
    // dropped after the connection (the ledger's last field), never before it.
    _sidecar: File,
    database: Option<File>,
}

/// The sidecar lock file of the ledger at `ledger`, named after its real path.
pub(crate) fn lock_path(ledger: &Path) -> PathBuf {
    let mut name = real_path(ledger).into_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

/// `path` with symbolic links resolved; a file not there yet by its folder's real path.
fn real_path(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(folder), path.file_name()) {
        (Ok(folder), Some(name)) => folder.join(name),
        _ => path.to_path_buf(),
    }
}

impl LedgerLock {
    /// Takes the lock of the ledger at `ledger` without waiting; `InUse` if it is held.
    pub(crate) fn acquire(ledger: &Path) -> Result<LedgerLock, LedgerError> {
        let path = lock_path(ledger);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| LedgerError::Lock {
                path: path.clone(),
                source,
            })?;
        try_lock(&file, &path, ledger)?;
        Ok(LedgerLock {
            _sidecar: file,
            database: None,
        })
    }

    /// Locks the database file too, once it exists (on Unix; see the module's notes).
    pub(crate) fn hold_database(&mut self, ledger: &Path) -> Result<(), LedgerError> {
        if !cfg!(unix) {
            return Ok(());
        }
        let file = File::open(ledger).map_err(|source| LedgerError::Lock {
            path: ledger.to_path_buf(),
            source,
        })?;
        try_lock(&file, ledger, ledger)?;
        self.database = Some(file);
        Ok(())
    }
}

/// Takes `file`'s lock (the lock file at `path` of the ledger at `ledger`) without waiting.
fn try_lock(file: &File, path: &Path, ledger: &Path) -> Result<(), LedgerError> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => Err(LedgerError::InUse {
            path: ledger.to_path_buf(),
        }),
        Err(TryLockError::Error(source)) => Err(LedgerError::Lock {
            path: path.to_path_buf(),
            source,
        }),
    }
}
