//! What can stop the ledger: every failure names the file and says what to do next.

use std::path::PathBuf;

/// Why the ledger could not be opened, read or written. Each of these stops a run (exit 1):
/// a run that cannot record what it sends must not send.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Another process (or another handle in this one) holds the ledger.
    #[error(
        "ledger {path} is in use by another refsync run; wait for it to finish, or use another --ledger file"
    )]
    InUse {
        /// The ledger file.
        path: PathBuf,
    },
    /// `runs` was pointed at a file that does not exist.
    #[error("no ledger at {path}; give the file that `refsync sync --ledger` wrote")]
    NotFound {
        /// The path given.
        path: PathBuf,
    },
    /// A SQLite database that some other program made; it is left as it is.
    #[error(
        "{path} is a SQLite database but not a refsync ledger; it was left untouched: choose another --ledger file"
    )]
    Foreign {
        /// The file.
        path: PathBuf,
    },
    /// Not a SQLite database at all, or a damaged one; it is left as it is.
    #[error(
        "{path} is not a readable refsync ledger (not a SQLite database, or damaged: {detail}); it was left untouched: restore it from a backup or choose another --ledger file"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        detail: String,
    },
    /// A ledger written by a newer refsync, whose schema this one does not know.
    #[error(
        "ledger {path} has schema version {found}, newer than this refsync knows ({known}); upgrade refsync"
    )]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// A run ID that the ledger does not hold.
    #[error("the ledger holds no run {0}; `refsync runs` lists them")]
    NoSuchRun(i64),
    /// A resume of a run that is finished, or not in the ledger.
    #[error("run {0} is not an unfinished run of this ledger; it cannot be resumed")]
    NotResumable(i64),
    /// An attempt to send or record again a document that already has its final outcome:
    /// the guard that keeps a resumed run from applying a document twice.
    #[error("document {entry} of run {run} already has its final outcome; it is not sent again")]
    AlreadyFinal {
        /// The run.
        run: i64,
        /// The document's position in the plan.
        entry: usize,
    },
    /// A value in the ledger that this build cannot read (edited by hand?).
    #[error("the ledger holds an unreadable value in {what}: {value}")]
    BadValue {
        /// Which column.
        what: &'static str,
        /// The value found.
        value: String,
    },
    /// A commit failed (disk full, I/O error): the records it carried are lost, so the
    /// ledger takes no more; the run stops rather than send what it cannot record.
    #[error(
        "the ledger could not commit ({0}); the run stops: free disk space or check the disk, then --resume"
    )]
    Broken(String),
    /// The lock file could not be created or locked.
    #[error("cannot lock the ledger with {path}: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The ledger file, or the folder that holds it, cannot be written: SQLite needs both
    /// (its write-ahead log lives beside the file).
    #[error(
        "cannot write the ledger {path} ({detail}); SQLite writes the file and creates its -wal and -shm files beside it: check that the file and its folder are writable, or choose another --ledger file"
    )]
    Unwritable {
        /// The ledger file.
        path: PathBuf,
        /// What SQLite said.
        detail: String,
    },
    /// Any other SQLite failure (disk full, I/O error).
    #[error("ledger: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl LedgerError {
    /// `error`, met opening the ledger at `path` to write it, as [`LedgerError::Unwritable`]
    /// where SQLite could not write or open the file; other errors pass through.
    pub(crate) fn unwritable_or(error: LedgerError, path: &std::path::Path) -> LedgerError {
        use rusqlite::ErrorCode;
        match &error {
            LedgerError::Sqlite(inner @ rusqlite::Error::SqliteFailure(failure, _))
                if matches!(
                    failure.code,
                    ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied
                ) =>
            {
                LedgerError::Unwritable {
                    path: path.to_path_buf(),
                    detail: inner.to_string(),
                }
            }
            _ => error,
        }
    }
}
