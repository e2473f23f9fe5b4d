//! What `plan` and `sync` share before sending: open the inputs, read and plan them, and
//! narrow the plan to `--ids` / `--limit`.

use crate::cli::args::{CommonArgs, FormatArg, OnDuplicateArg};
use crate::input::mapping::Mapping;
use crate::input::{self, Format, InputSource, ReadOptions};
use crate::plan::{self, InputNames, OnDuplicate, Plan, PlanEntry, PlanOptions, Planned};
use crate::report::LineNames;
use anyhow::Context;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// A planned run: its inputs and the plan.
pub struct Prepared {
    /// The inputs, in command-line order.
    pub sources: Vec<InputSource>,
    /// Their names, for writing lines.
    pub names: LineNames,
    /// The plan, narrowed to `--ids` / `--limit`.
    pub plan: Plan,
    /// Input rows read (before narrowing).
    pub input_rows: usize,
    /// When the run began, before its inputs were read: the summary's elapsed time is
    /// the whole run's, planning included.
    pub started: Instant,
}

/// The reader options the flags give.
pub fn read_options(common: &CommonArgs) -> ReadOptions {
    ReadOptions {
        format: common.format.map(|f| match f {
            FormatArg::Csv => Format::Csv,
            FormatArg::Jsonl => Format::Jsonl,
        }),
        delimiter: common.delimiter,
        encoding: common.encoding,
        mapping: None,
    }
}

/// The planner options the flags give, for `sources`.
pub fn plan_options(common: &CommonArgs, sources: &[InputSource]) -> PlanOptions {
    PlanOptions {
        on_duplicate: match common.on_duplicate {
            OnDuplicateArg::Error => OnDuplicate::Error,
            OnDuplicateArg::LastWins => OnDuplicate::LastWins,
        },
        input_names: InputNames::new(sources.iter().map(|s| s.name.clone()).collect()),
        // Only the rejects file copies rows out of the inputs again.
        lines_only: common.rejects.is_none(),
    }
}

/// Opens every input (so an unreadable one stops the run before anything is sent), then
/// reads and plans them all.
pub fn prepare(common: &CommonArgs) -> anyhow::Result<Prepared> {
    let started = Instant::now();
    let mut options = read_options(common);
    options.mapping = common
        .mapping
        .as_deref()
        .map(Mapping::load)
        .transpose()?
        .map(Arc::new);
    let ids = common.ids.as_ref().map(read_ids).transpose()?;
    let sources = input::open_inputs(&common.inputs, &options)?;
    if options.mapping.is_some() {
        warn_of_unmapped_inputs(&sources);
    }
    let (plan, input_rows) = read_and_plan(&sources, &options, &plan_options(common, &sources))?;
    if let (Some(ids), Some(path)) = (&ids, &common.ids) {
        warn_of_unplanned_ids(ids, &plan, path);
    }
    let plan = narrow(plan, ids.as_ref(), common.limit);
    let names = LineNames::new(sources.iter().map(|s| s.name.clone()).collect());
    Ok(Prepared {
        sources,
        names,
        plan,
        input_rows,
        started,
    })
}

/// A mapping reads wide CSV exports: a JSONL input is read in its own forms, which the
/// user who gave `--mapping` may not expect.
fn warn_of_unmapped_inputs(sources: &[InputSource]) {
    for source in sources.iter().filter(|s| s.format == Format::Jsonl) {
        tracing::warn!(
            input = source.name.as_str(),
            "--mapping reads CSV inputs only: this JSONL input is read as rows or documents"
        );
    }
}

/// Reads and plans every input, a thread per core (up to four) planning a share of the
/// IDs each: plain CSV read by the first planning thread, which hands the others their
/// rows; anything else (JSONL, mapped CSV) parsed once on threads of their own and handed
/// to them all.
fn read_and_plan(
    sources: &[InputSource],
    options: &ReadOptions,
    plan_options: &PlanOptions,
) -> anyhow::Result<Planned> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    // One thread reading for all pays when reading a row costs less than planning it:
    // plain CSV, not JSON (whose parse would keep that thread the busiest) nor a mapped
    // export.
    let plain_csv = options.mapping.is_none() && sources.iter().all(|s| s.format == Format::Csv);
    if plain_csv && cores > 1 {
        return Ok(plan::plan_inputs(sources, options, plan_options, cores)?);
    }
    let shares = cores.clamp(1, plan::MOST_THREADS);
    let streams = input::read_in_background(sources.to_vec(), options.clone(), shares)?;
    Ok(plan::plan_streams(streams, plan_options)?)
}

/// Reads an `--ids` file: one ID per line; blank lines and `#` comments are skipped, and
/// so is a UTF-8 byte-order mark (Notepad and Excel write one), as in an input.
fn read_ids(path: &PathBuf) -> anyhow::Result<HashSet<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the --ids file {}", path.display()))?;
    Ok(text
        .trim_start_matches('\u{feff}')
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// Warns when the `--ids` list selects less than it names: an empty list selects nothing,
/// and a listed ID the inputs lack is most likely a typo or the wrong file.
fn warn_of_unplanned_ids(ids: &HashSet<String>, plan: &Plan, path: &std::path::Path) {
    if ids.is_empty() {
        tracing::warn!("--ids {} lists no IDs: nothing is planned", path.display());
        return;
    }
    let planned: HashSet<&str> = plan.entries.iter().filter_map(PlanEntry::id).collect();
    let mut missing: Vec<&str> = ids
        .iter()
        .map(String::as_str)
        .filter(|id| !planned.contains(id))
        .collect();
    if missing.is_empty() {
        return;
    }
    missing.sort_unstable();
    let shown = missing
        .iter()
        .take(3)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    let more = if missing.len() > 3 { ", …" } else { "" };
    tracing::warn!(
        "{} of the {} IDs in --ids {} are in no input: {shown}{more}",
        missing.len(),
        ids.len(),
        path.display()
    );
}

/// Keeps the entries whose ID is listed (ID-less rows go when a list is given), then the
/// first `limit` documents: ID-less rows are no documents, so they do not count, and those
/// before the last document kept stay.
fn narrow(plan: Plan, ids: Option<&HashSet<String>>, limit: Option<usize>) -> Plan {
    let listed = |entry: &PlanEntry| match (ids, entry.id()) {
        (None, _) => true,
        (Some(ids), Some(id)) => ids.contains(id),
        (Some(_), None) => false,
    };
    let limit = limit.unwrap_or(usize::MAX);
    let mut documents = 0;
    let within_limit = |entry: &PlanEntry| {
        documents += usize::from(entry.id().is_some());
        documents <= limit && !(entry.id().is_none() && documents == limit)
    };
    Plan {
        entries: plan
            .entries
            .into_iter()
            .filter(listed)
            .take_while(within_limit)
            .collect(),
    }
}

/// The default report path: `refsync-report-<UTC timestamp>.csv` in the working folder.
///
/// Chosen once per run, so every step names the same file; a name an earlier run took
/// (two runs within a second) gets a number (`…Z-2.csv`) rather than being overwritten.
pub fn default_report_path() -> PathBuf {
    static CHOSEN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    CHOSEN
        .get_or_init(|| {
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
            let first = PathBuf::from(format!("refsync-report-{stamp}.csv"));
            if !first.exists() {
                return first;
            }
            (2..100)
                .map(|n| PathBuf::from(format!("refsync-report-{stamp}-{n}.csv")))
                .find(|path| !path.exists())
                .unwrap_or(first)
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::InvalidEntry;

    fn entry(id: Option<&str>) -> PlanEntry {
        PlanEntry::Invalid(Box::new(InvalidEntry {
            id: id.map(str::to_owned),
            rows: Default::default(),
            ops: 0,
            errors: Vec::new(),
        }))
    }

    fn ids_of(plan: &Plan) -> Vec<Option<&str>> {
        plan.entries.iter().map(PlanEntry::id).collect()
    }

    #[test]
    fn a_limit_counts_documents_and_keeps_the_id_less_rows_among_them() {
        let plan = || Plan {
            entries: vec![
                entry(None),
                entry(Some("a")),
                entry(None),
                entry(Some("b")),
                entry(None),
                entry(Some("c")),
            ],
        };
        let one = narrow(plan(), None, Some(1));
        assert_eq!(ids_of(&one), [None, Some("a")]);
        let two = narrow(plan(), None, Some(2));
        assert_eq!(ids_of(&two), [None, Some("a"), None, Some("b")]);
        assert_eq!(narrow(plan(), None, None).entries.len(), 6);
    }

    #[test]
    fn a_list_of_ids_drops_id_less_rows_before_the_limit_counts() {
        let plan = Plan {
            entries: vec![entry(None), entry(Some("a")), entry(Some("b"))],
        };
        let ids: HashSet<String> = ["b".to_string()].into();
        assert_eq!(ids_of(&narrow(plan, Some(&ids), Some(1))), [Some("b")]);
    }
}
