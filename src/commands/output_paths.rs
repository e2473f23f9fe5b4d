//! The run's output files, checked before anything is read back, sent or recorded: each one
//! writable, none of them an input, no two of them the same file.
//!
//! Most outputs are written only when the run ends, after every request; a path that
//! cannot be written would lose the run's results, and an output that is also an input
//! (`--rejects` named after the file being fed back, say) would destroy that input.

use super::prepare::{Prepared, default_report_path};
use crate::cli::args::CommonArgs;
use crate::report::rejects::{check_rejects_writable, rejects_paths};
use crate::report::{check_writable, is_stdout};
use std::path::{Path, PathBuf};

/// An output the command writes besides the common ones, and the flag that names it:
/// `plan --out` (stdout when not given), `sync --undo`, `sync --ledger`.
pub type OwnOutput<'a> = (&'static str, &'a Path);

/// A file the run reads besides its inputs, and the flag that names it (`--mapping`,
/// `--ids`, `--token-file`, …): no output may be written over it either.
pub type ReadFile<'a> = (&'static str, &'a Path);

/// What makes the run's output paths unusable.
#[derive(Debug, thiserror::Error)]
pub enum OutputPathError {
    /// An output is one of the inputs, or another file the run reads.
    #[error(
        "{flag} {path} is the input {input}: writing it would destroy the input; give the \
         output another name"
    )]
    IsInput {
        /// The flag naming the output.
        flag: &'static str,
        /// The output's path.
        path: PathBuf,
        /// The input as given on the command line (or the flag that names it).
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
    /// Two outputs would both go to stdout.
    #[error("{first} and {second} would both write to stdout; send one of them to a file")]
    BothStdout {
        /// The flag of the first output.
        first: &'static str,
        /// The flag of the second output.
        second: &'static str,
    },
    /// The report's extension names no report format.
    #[error(
        "--report {0} needs a file name ending in .csv or .jsonl (the report's format comes \
         from its extension), or - for stdout"
    )]
    ReportFormat(PathBuf),
}

impl OutputPathError {
    /// Whether the output of `flag`, at `path`, is one of those refused (or the file of
    /// one), and so must be left as it is.
    pub fn refuses(&self, flag: &str, path: &Path) -> bool {
        match self {
            OutputPathError::IsInput { flag: refused, .. } => *refused == flag,
            OutputPathError::Shared { first, second, .. }
            | OutputPathError::BothStdout { first, second } => *first == flag || *second == flag,
            OutputPathError::ReportFormat(report) => flag == "--report" || report == path,
        }
    }
}

/// Checks every output of the run: the report, the rejects, the summary, and the
/// command's `own` outputs; none may be an input or one of the other files it `reads`.
pub fn check_output_paths(
    common: &CommonArgs,
    prepared: &Prepared,
    own: &[OwnOutput<'_>],
    reads: &[ReadFile<'_>],
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
    // Each input by the name it was given: a transcoded one is read from a spool file,
    // but the original is what an output must not overwrite. Stdin (`-`) is no file.
    let mut read: Vec<(String, &Path)> = prepared
        .sources
        .iter()
        .filter(|s| s.name != crate::input::STDIN_NAME)
        .map(|s| (s.name.clone(), Path::new(&s.name)))
        .collect();
    let named = [("--mapping", &common.mapping), ("--ids", &common.ids)];
    let named = named
        .into_iter()
        .filter_map(|(flag, path)| Some((flag, path.as_deref()?)));
    for (flag, path) in named.chain(reads.iter().copied()) {
        read.push((format!("{} (given to {flag})", path.display()), path));
    }
    check_distinct(&outputs, &read)?;
    remove_stale_results(&outputs);
    let earlier = common
        .rejects
        .as_deref()
        .and_then(|path| crate::report::rejects::earlier_rejects(path, &prepared.sources));
    if let Some(earlier) = earlier.filter(|path| !read.iter().any(|(_, r)| same_file(path, r))) {
        remove_stale_results(&[("--rejects", earlier)]);
    }
    Ok(())
}

/// Removes what an earlier run left at the summary's and the rejects' paths, which are
/// written only when a run ends: a run killed before then (SIGKILL, the machine's
/// reboot) must leave no summary saying that the last run succeeded, nor rejects that
/// are not its own. A file that cannot be removed is left to be overwritten at the end.
fn remove_stale_results(outputs: &[(&'static str, PathBuf)]) {
    let stale = outputs
        .iter()
        .filter(|(flag, _)| matches!(*flag, "--summary-json" | "--rejects"));
    for (flag, path) in stale {
        let regular = std::fs::metadata(path).is_ok_and(|meta| meta.is_file());
        if regular && !is_stdout(path) && std::fs::remove_file(path).is_ok() {
            tracing::debug!(flag, path = %path.display(), "removed the file an earlier run left");
        }
    }
}

/// A report file takes its format from its extension; anything but a regular file (a
/// device such as `/dev/stdout`, whatever stdout is redirected to) gets CSV.
fn check_report_format(path: &Path) -> Result<(), OutputPathError> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let named = matches!(extension.as_deref(), Some("csv" | "jsonl"));
    if named || crate::report::is_device(path) {
        return Ok(());
    }
    Err(OutputPathError::ReportFormat(path.to_path_buf()))
}

/// No output is a file the run reads, no two outputs share a file, and at most one goes
/// to stdout.
fn check_distinct(
    outputs: &[(&'static str, PathBuf)],
    reads: &[(String, &Path)],
) -> Result<(), OutputPathError> {
    for (index, (flag, path)) in outputs.iter().enumerate() {
        if let Some((input, _)) = reads.iter().find(|(_, read)| same_file(path, read)) {
            return Err(OutputPathError::IsInput {
                flag,
                path: path.clone(),
                input: input.clone(),
            });
        }
        for (second, other) in &outputs[index + 1..] {
            if is_stdout(path) && is_stdout(other) {
                return Err(OutputPathError::BothStdout {
                    first: flag,
                    second,
                });
            }
            if same_file(path, other) {
                return Err(OutputPathError::Shared {
                    first: flag,
                    second,
                    path: path.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Whether `a` and `b` name one regular file: the same file when both exist (links and
/// `./` spellings included), the same place when neither does yet (their folders resolved,
/// `..` and links included). Devices such as `/dev/null` may take any number of outputs.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(ma), Ok(mb)) => {
            ma.is_file() && mb.is_file() && same_file::is_same_file(a, b).unwrap_or(false)
        }
        (Err(_), Err(_)) => match (resolved(a), resolved(b)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        },
        _ => false,
    }
}

/// Where a file that does not exist yet would be: its folder resolved, then its name.
fn resolved(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?;
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    Some(folder.canonicalize().ok()?.join(name))
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
        assert!(check_report_format(Path::new("/dev/stdout")).is_ok());
        assert!(check_report_format(Path::new("r.json")).is_err());
        assert!(check_report_format(Path::new("report")).is_err());
    }

    #[test]
    fn files_not_there_yet_are_the_same_when_their_folders_resolve_alike() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        let r = dir.path().join("r.csv");
        assert!(same_file(
            &r,
            &dir.path().join("d").join("..").join("r.csv")
        ));
    }

    #[test]
    fn two_outputs_on_stdout_clash_and_a_file_the_run_reads_is_no_output() {
        let outputs = [
            ("--out", PathBuf::from("/dev/stdout")),
            ("--summary-json", PathBuf::from("/dev/stdout")),
        ];
        assert!(matches!(
            check_distinct(&outputs, &[]),
            Err(OutputPathError::BothStdout { .. })
        ));
        let dir = tempfile::tempdir().unwrap();
        let ids = dir.path().join("ids.txt");
        std::fs::write(&ids, "a\n").unwrap();
        let outputs = [("--undo", ids.clone())];
        let reads = [("ids.txt (given to --ids)".to_string(), ids.as_path())];
        assert!(matches!(
            check_distinct(&outputs, &reads),
            Err(OutputPathError::IsInput { .. })
        ));
        assert!(check_report_format(Path::new("/dev/stdout")).is_ok());
    }
}
