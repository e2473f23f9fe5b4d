//! The run's output files, checked before anything is read back, sent or recorded: each one
//! writable, none of them an input, no two of them the same file.
//!
//! Most outputs are written only when the run ends, after every request; a path that
//! cannot be written would lose the run's results, and an output that is also an input
//! (`--rejects` named after the file being fed back, say) would destroy that input.

use super::prepare::{Prepared, default_report_path};
use crate::cli::args::CommonArgs;
use crate::input::InputSource;
use crate::report::check_writable;
use crate::report::rejects::{check_rejects_writable, rejects_paths};
use std::path::{Path, PathBuf};

/// An output the command writes besides the common ones, and the flag that names it:
/// `plan --out`, `sync --undo`, `sync --ledger`.
pub type OwnOutput<'a> = (&'static str, &'a Path);

/// What makes the run's output paths unusable.
#[derive(Debug, thiserror::Error)]
pub enum OutputPathError {
    /// An output is one of the inputs.
    #[error(
        "{flag} {path} is the input {input}: writing it would destroy the input; give the \
         output another name"
    )]
    IsInput {
        /// The flag naming the output.
        flag: &'static str,
        /// The output's path.
        path: PathBuf,
        /// The input as given on the command line.
        input: String,
    },
    /// Two outputs are the same file.
    #[error("{first} and {second} both name {path}: each output needs a file of its own")]
    Shared {
        /// The flag of the first output.
        first: &'static str,
        /// The flag of the second output.
        second: &'static str,
        /// The path they share.
        path: PathBuf,
    },
    /// The report's extension names no report format.
    #[error(
        "--report {0} must end in .csv or .jsonl (the report's format comes from its \
         extension)"
    )]
    ReportFormat(PathBuf),
}

/// Checks every output of the run: the report, the rejects, the summary, and the
/// command's `own` outputs.
pub fn check_output_paths(
    common: &CommonArgs,
    prepared: &Prepared,
    own: &[OwnOutput<'_>],
) -> anyhow::Result<()> {
    let report = common.report.clone().unwrap_or_else(default_report_path);
    check_report_format(&report)?;
    let mut outputs: Vec<(&'static str, PathBuf)> = vec![("--report", report)];
    outputs.extend(own.iter().map(|(flag, path)| (*flag, path.to_path_buf())));
    if let Some(summary) = &common.summary_json {
        outputs.push(("--summary-json", summary.clone()));
    }
    for (_, path) in &outputs {
        check_writable(path)?;
    }
    if let Some(path) = &common.rejects {
        check_rejects_writable(path, &prepared.sources)?;
        let rejects = rejects_paths(path, &prepared.sources);
        outputs.extend(rejects.into_iter().map(|path| ("--rejects", path)));
    }
    check_distinct(&outputs, &prepared.sources)?;
    Ok(())
}

/// A report file takes its format from its extension; anything but a regular file (a
/// device such as `/dev/stdout`) gets CSV.
fn check_report_format(path: &Path) -> Result<(), OutputPathError> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let named = matches!(extension.as_deref(), Some("csv" | "jsonl"));
    if named || std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return Ok(());
    }
    Err(OutputPathError::ReportFormat(path.to_path_buf()))
}

/// No output is an input, and no two outputs share a file.
fn check_distinct(
    outputs: &[(&'static str, PathBuf)],
    sources: &[InputSource],
) -> Result<(), OutputPathError> {
    for (index, (flag, path)) in outputs.iter().enumerate() {
        // Stdin's spool file is the run's own, never a path the user gave.
        let files = sources.iter().filter(|s| s.spool.is_none());
        if let Some(input) = files.into_iter().find(|s| same_file(path, &s.path)) {
            return Err(OutputPathError::IsInput {
                flag,
                path: path.clone(),
                input: input.name.clone(),
            });
        }
        if let Some((second, _)) = outputs[index + 1..]
            .iter()
            .find(|(_, p)| same_file(path, p))
        {
            return Err(OutputPathError::Shared {
                first: flag,
                second,
                path: path.clone(),
            });
        }
    }
    Ok(())
}

/// Whether `a` and `b` name one regular file: the same file when both exist (links and
/// `./` spellings included), the same absolute path when neither does yet. Devices such as
/// `/dev/null` may take any number of outputs.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(ma), Ok(mb)) => {
            ma.is_file() && mb.is_file() && same_file::is_same_file(a, b).unwrap_or(false)
        }
        (Err(_), Err(_)) => match (std::path::absolute(a), std::path::absolute(b)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_under_two_spellings_is_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.csv");
        std::fs::write(&file, "x").unwrap();
        let other = dir.path().join(".").join("a.csv");
        assert!(same_file(&file, &other));
        assert!(!same_file(&file, &dir.path().join("b.csv")));
    }

    #[test]
    fn files_not_there_yet_are_the_same_when_their_paths_are() {
        let dir = tempfile::tempdir().unwrap();
        assert!(same_file(
            &dir.path().join("r.csv"),
            &dir.path().join("r.csv")
        ));
        assert!(!same_file(
            &dir.path().join("r.csv"),
            &dir.path().join("s.csv")
        ));
    }

    #[test]
    fn a_device_takes_any_number_of_outputs() {
        assert!(!same_file(Path::new("/dev/null"), Path::new("/dev/null")));
    }

    #[test]
    fn a_report_needs_a_report_extension_unless_it_is_a_device() {
        assert!(check_report_format(Path::new("r.csv")).is_ok());
        assert!(check_report_format(Path::new("r.JSONL")).is_ok());
        assert!(check_report_format(Path::new("/dev/null")).is_ok());
        assert!(check_report_format(Path::new("r.json")).is_err());
        assert!(check_report_format(Path::new("report")).is_err());
    }
}
