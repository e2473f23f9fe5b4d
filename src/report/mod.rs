//! Report: one row per referral document (and per ID-less bad row), the rejects file, and
//! the run summary.
//!
//! Rows are built here from plan entries and send results ([`rows`]), written as CSV or
//! JSONL ([`writer`]) with formula cells neutralised ([`cells`]), and the input rows of
//! rejected documents are copied verbatim into a rejects file ([`rejects`]).

pub mod cells;
pub mod lines;
pub mod rejects;
pub mod rows;
pub mod summary;
pub mod writer;

pub use lines::LineNames;
pub use rows::ReportRow;
pub use summary::Summary;
pub use writer::{LineSpan, ReportFormat, ReportLines, ReportWriter};

use std::path::{Path, PathBuf};

/// Checks, before a run sends anything, that a file can be written at `path`, so a typo
/// in an output path stops the run at its start rather than after every request; leaves
/// nothing behind where there was no file, and changes nothing in one that is there.
pub fn check_writable(path: &Path) -> Result<(), ReportError> {
    let existed = std::fs::symlink_metadata(path).is_ok();
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(ReportError::write(path))?;
    if !existed {
        std::fs::remove_file(path).map_err(ReportError::write(path))?;
    }
    Ok(())
}

/// What stops the report from being written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// An output file could not be written.
    #[error("cannot write {path}: {source}; check that its folder exists and is writable")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `--rejects` names a device, and the inputs' two formats need two files.
    #[error(
        "--rejects {0} is not a regular file, and inputs in two formats need a rejects file \
         each; give a file name such as rejects.csv (the JSONL rows go to rejects.jsonl)"
    )]
    RejectsNeedFiles(PathBuf),
    /// An input could not be read back for the rejects file.
    #[error("cannot read {path} back for the rejects file: {source}")]
    ReadBack {
        /// The input.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Whether `path` is the process's stdout (`-` is given as `/dev/stdout`).
pub fn is_stdout(path: &Path) -> bool {
    path == Path::new("/dev/stdout") || path == Path::new("/proc/self/fd/1")
}

/// The buffer an output file (report, rejects, planned documents) is written through:
/// a large one, since a million-row plan writes tens of megabytes, and at the default 8 KiB
/// a write call every 8 KiB took a tenth of the time spent writing them.
pub const OUTPUT_BUFFER: usize = 1 << 18;

/// Creates the output file at `path`, emptied. The process's stdout is written through
/// the descriptor it inherited instead of being opened again by its name: opened anew, a
/// file that stdout is redirected to would be emptied and written from its start, so that
/// `--report - >> run.log` wiped the log, and in `{ echo a; refsync …; echo b; } > f` the
/// lines overwrote one another.
pub fn create_output(path: &Path) -> std::io::Result<std::fs::File> {
    if is_stdout(path) {
        use std::os::fd::AsFd;
        return std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map(std::fs::File::from);
    }
    std::fs::File::create(path)
}

/// Whether `path` names a device rather than a file of its own (`/dev/stdout`, `/dev/null`,
/// a pipe): under `/dev` it counts as one even when stdout is redirected to a regular file.
pub fn is_device(path: &Path) -> bool {
    path.starts_with("/dev") || std::fs::metadata(path).is_ok_and(|m| !m.is_file())
}

impl ReportError {
    /// Wraps a failure to read back the input at `path`.
    pub fn read_back(path: &Path) -> impl Fn(std::io::Error) -> ReportError + '_ {
        move |source| ReportError::ReadBack {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Wraps a write failure on `path`.
    pub fn write(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
        move |source| ReportError::Write {
            path: path.to_path_buf(),
            source,
        }
    }
}
