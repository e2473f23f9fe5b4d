//! The ledger side of a `sync` run: opening the ledger, starting or resuming the run,
//! recording each outcome before the report shows it, handing the send stage the request
//! IDs of a resumed run, and skipping documents already applied (`--skip-unchanged`).

use super::prepare::Prepared;
use crate::cli::SyncArgs;
use crate::cli::args::OnDuplicateArg;
use crate::input::Format;
use crate::ledger::{self, DocumentKey, DocumentState, Ledger, RunEnd, RunId, RunMeta, Sending};
use crate::outcome::Outcome;
use crate::plan::{Document, PlanEntry};
use crate::report::ReportRow;
use crate::report::summary::{LedgerStart, RunStart};
use crate::send::{PatchCall, SendHooks};
use anyhow::Context;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use uuid::Uuid;

/// Error codes of documents a stopped run did not finish: left open in the ledger so that
/// `--resume` sends or resolves them.
const UNFINISHED_CODES: [&str; 3] = ["not_sent", "deadline", "outcome_unknown"];

/// Whether a report row is a document's final outcome, which a resumed run keeps: not a
/// document the run stopped before finishing, nor one whose PATCH the API refused with
/// 401 (which stopped the run, and applied nothing).
fn is_finished(row: &ReportRow) -> bool {
    let unfinished_code = row
        .error_code
        .as_deref()
        .is_some_and(|c| UNFINISHED_CODES.contains(&c));
    let refused_token = row.outcome == Outcome::Failed && row.http_status == Some(401);
    !(unfinished_code || refused_token)
}

/// One run recorded in a ledger.
pub struct LedgerRun {
    ledger: Ledger,
    run: RunId,
    /// Where the run sends, as the ledger records it ([`ledger_endpoint`]).
    endpoint: String,
    /// Per plan entry: the referral ID and the document hash.
    keys: Vec<(Option<String>, Option<String>)>,
    /// What the ledger knew of each entry when the run (re)started.
    states: HashMap<usize, DocumentState>,
    /// Per entry left in flight, the referral as read before its PATCH (`--undo`).
    undo_befores: HashMap<usize, serde_json::Value>,
    /// The run's `MS-CorrelationId`: the one it was started with, kept by a resume.
    correlation_id: Uuid,
    /// How the run began, for the summary.
    start: RunStart,
    /// Documents this attempt left open (not final) in the ledger: the run stays
    /// resumable while there are any, whatever ended it.
    left_open: AtomicUsize,
}

impl LedgerRun {
    /// Opens `--ledger` and starts a run with `correlation_id`, or with `--resume` continues
    /// the newest unfinished run of the same inputs and options (and its correlation ID, if
    /// it recorded one), refusing one that was sent to another `endpoint` ([`ledger_endpoint`]);
    /// `None` without `--ledger`, and for a dry run, which changes nothing and so records
    /// nothing (it reads the ledger through [`dry_run_ledger`]).
    pub fn open(
        args: &SyncArgs,
        prepared: &Prepared,
        correlation_id: Uuid,
        endpoint: String,
        dry_run: bool,
    ) -> anyhow::Result<Option<LedgerRun>> {
        let Some(path) = &args.ledger else {
            return Ok(None);
        };
        if dry_run {
            return Ok(None);
        }
        let ledger = Ledger::open(path)?;
        let options = planning_options(args, prepared);
        let mut hashed: Vec<std::path::PathBuf> =
            prepared.sources.iter().map(|s| s.path.clone()).collect();
        // The files that shape the plan count by their bytes, as the inputs do: an edited
        // --ids list is another plan, and one file under two spellings is the same plan.
        hashed.extend(args.common.mapping.clone());
        hashed.extend(args.common.ids.clone());
        let key = ledger::run_key(&hashed, &options)
            .with_context(|| "cannot read the inputs to compute the run key")?;
        let keys = entry_keys(prepared);
        let resumed = resumable(&ledger, &key, args.resume, &endpoint)?;
        let start = match (resumed, args.resume) {
            (Some(_), _) => RunStart::Resumed,
            (None, true) => RunStart::NothingToResume,
            (None, false) => RunStart::New,
        };
        let (run, states, correlation_id) = match resumed {
            Some(run) => {
                let kept = ledger.correlation_id(run)?.unwrap_or(correlation_id);
                (run, ledger.documents(run)?, kept)
            }
            None => {
                let meta = RunMeta {
                    inputs: args.common.inputs.clone(),
                    options,
                    correlation_id: Some(correlation_id),
                    endpoint: Some(endpoint.clone()),
                    planned: keys.len(),
                };
                (
                    ledger.start_run(&key, &meta)?,
                    HashMap::new(),
                    correlation_id,
                )
            }
        };
        let undo = args.undo.as_ref().map(|path| path.display().to_string());
        let earlier_undo = ledger.record_undo_file(run, undo.as_deref())?;
        if let Some(warning) = undo_split(&earlier_undo, undo.as_deref()) {
            tracing::warn!(run = run.0, "{warning}");
        }
        let undo_befores = match resumed {
            Some(run) => ledger.undo_befores(run)?,
            None => HashMap::new(),
        };
        Ok(Some(LedgerRun {
            ledger,
            run,
            endpoint,
            keys,
            states,
            undo_befores,
            correlation_id,
            start,
            left_open: AtomicUsize::new(0),
        }))
    }

    /// The run's `MS-CorrelationId`.
    pub fn correlation_id(&self) -> Uuid {
        self.correlation_id
    }

    /// The run's ID in the ledger.
    pub fn run(&self) -> RunId {
        self.run
    }

    /// The run and how it began, as the summary names them.
    pub fn start(&self) -> LedgerStart {
        LedgerStart {
            run: self.run.0,
            start: self.start,
        }
    }

    /// The report row an earlier attempt of this run already finished for `entry`.
    pub fn final_row(&self, entry: usize) -> Option<ReportRow> {
        match self.states.get(&entry) {
            Some(DocumentState::Final { row, .. }) => serde_json::from_value(row.clone()).ok(),
            _ => None,
        }
    }

    /// What the ledger shows applied before, for `--skip-unchanged`.
    pub fn history(&self) -> AppliedBefore<'_> {
        AppliedBefore::new(&self.ledger, &self.endpoint)
    }

    fn key(&self, entry: usize) -> DocumentKey<'_> {
        let (id, hash) = self
            .keys
            .get(entry)
            .map(|(i, h)| (i.as_deref(), h.as_deref()))
            .unwrap_or((None, None));
        DocumentKey {
            entry,
            referral_id: id,
            doc_hash: hash,
        }
    }

    /// Records the outcome of `entry` durably; documents a stopped run left unfinished stay
    /// open for `--resume`.
    pub fn record(&self, entry: usize, row: &ReportRow) -> anyhow::Result<()> {
        self.record_all(&[(entry, row)])
    }

    /// [`LedgerRun::record`] for several entries, durable together with one sync.
    pub fn record_all(&self, rows: &[(usize, &ReportRow)]) -> anyhow::Result<()> {
        let (finished, open): (Vec<_>, Vec<_>) = rows.iter().partition(|(_, row)| is_finished(row));
        self.left_open.fetch_add(open.len(), Ordering::Relaxed);
        let mut values = Vec::new();
        for &(entry, row) in finished {
            values.push((entry, row, serde_json::to_value(row)?));
        }
        let Some((_, first, _)) = values.first() else {
            return Ok(());
        };
        let outcomes: Vec<_> = values
            .iter()
            .map(|(entry, row, json)| (self.key(*entry), row.outcome, json))
            .collect();
        blocking(|| {
            self.ledger
                .record_outcomes(self.run, &outcomes)
                .with_context(|| format!("cannot record the outcome of {} in the ledger", first.id))
        })
    }

    /// Closes the run: finished, or stopped (resumable) when something stopped it or it
    /// left documents open (an `outcome_unknown` whose referral could not be read, a
    /// `not_sent` that never reached the API), so
    /// that `--resume` finds them.
    pub fn end(
        &self,
        stopped: bool,
        exit_code: i32,
        summary: serde_json::Value,
    ) -> anyhow::Result<()> {
        let left_open = self.left_open.load(Ordering::Relaxed);
        if left_open > 0 && !stopped {
            tracing::warn!(
                run = self.run.0,
                documents = left_open,
                "documents not sent (the API could not be reached) or whose outcome is \
                 unknown are left open in the ledger, so the run stays unfinished: sync \
                 --resume with the same inputs sends them, reading first those that may \
                 have been applied"
            );
        }
        if stopped || left_open > 0 {
            self.ledger.stop_run(self.run, exit_code)?;
        } else {
            self.ledger
                .finish_run(self.run, &RunEnd { exit_code, summary })?;
        }
        Ok(())
    }
}

/// A warning for a resumed attempt whose `--undo` file (`now`) is not the one every attempt
/// before it (`earlier`) wrote to: the undo lines of the run are then split over files,
/// or missing for what some attempt applied. `None` when they agree (or for a new run).
fn undo_split(earlier: &[Option<String>], now: Option<&str>) -> Option<String> {
    let other = earlier.iter().find(|file| file.as_deref() != now)?;
    Some(match (other, now) {
        (Some(file), None) => format!(
            "an earlier attempt of this run wrote undo lines to {file}, and this one has no \
             --undo: what it applies has no undo line; give --undo {file} to keep one file"
        ),
        (None, Some(file)) => format!(
            "an earlier attempt of this run had no --undo: what it applied has no undo line \
             in {file}, which covers this attempt only"
        ),
        (Some(file), Some(now)) => format!(
            "an earlier attempt of this run wrote undo lines to {file}, and this one writes \
             to {now}: undoing the run needs both files"
        ),
        (None, None) => return None,
    })
}

impl SendHooks for LedgerRun {
    fn request_id(&self, entry: usize) -> Option<Uuid> {
        match self.states.get(&entry) {
            Some(DocumentState::InFlight { request_id, .. }) => Some(*request_id),
            _ => None,
        }
    }

    fn earlier_if_match(&self, entry: usize) -> Option<String> {
        match self.states.get(&entry) {
            Some(DocumentState::InFlight { if_match, .. }) => if_match.clone(),
            _ => None,
        }
    }

    fn was_in_flight(&self, entry: usize) -> bool {
        matches!(
            self.states.get(&entry),
            Some(DocumentState::InFlight { .. })
        )
    }

    fn earlier_sent(&self, entry: usize) -> u32 {
        match self.states.get(&entry) {
            Some(DocumentState::InFlight { sent, .. }) => *sent,
            _ => 0,
        }
    }

    fn before_patch(&self, entry: usize, call: &PatchCall<'_>) -> Result<(), String> {
        let undo_before = call.undo_before.map(serde_json::Value::to_string);
        let sending = Sending {
            request_id: call.request_id,
            if_match: call.if_match,
            undo_before: undo_before.as_deref(),
            sent_before: call.sent_before,
        };
        blocking(|| {
            let key = self.key(entry);
            self.ledger
                .record_sending(self.run, key, &sending)
                .map_err(|e| format!("cannot record the request in the ledger: {e}"))
        })
    }

    fn earlier_undo_before(&self, entry: usize) -> Option<serde_json::Value> {
        self.undo_befores.get(&entry).cloned()
    }

    fn patch_not_sent(&self, entry: usize, request_id: Uuid) -> Result<(), String> {
        blocking(|| {
            self.ledger
                .record_not_sent(self.run, entry, request_id)
                .map_err(|e| format!("cannot record the request in the ledger: {e}"))
        })
    }
}

/// What a ledger shows applied at one endpoint: what `--skip-unchanged` compares a
/// document with.
#[derive(Clone, Copy)]
pub struct AppliedBefore<'a> {
    ledger: &'a Ledger,
    endpoint: &'a str,
}

impl<'a> AppliedBefore<'a> {
    /// What `ledger` shows applied at `endpoint` ([`ledger_endpoint`]).
    pub fn new(ledger: &'a Ledger, endpoint: &'a str) -> Self {
        AppliedBefore { ledger, endpoint }
    }

    /// Whether `doc` is identical to the last document applied for its referral in any run.
    pub fn already_applied(&self, doc: &Document) -> anyhow::Result<bool> {
        let applied = self.ledger.last_applied(&doc.id, self.endpoint)?;
        Ok(applied.is_some_and(|hash| hash == ledger::document_hash(doc)))
    }
}

/// The ledger a dry run reads, without the run lock and without writing: opened only for
/// `--skip-unchanged`, so that the dry run reports `unchanged` (`skipped-by-ledger`) where
/// the real run would skip. `None` without `--ledger` or `--skip-unchanged`, and for a
/// ledger not made yet, where the real run finds nothing applied. A file that is no ledger
/// is refused, as the real run refuses it.
pub fn dry_run_ledger(args: &SyncArgs) -> anyhow::Result<Option<Ledger>> {
    let Some(path) = &args.ledger else {
        return Ok(None);
    };
    warn_dry_run(path, args.skip_unchanged);
    if !args.skip_unchanged || !path.exists() {
        return Ok(None);
    }
    Ok(Some(Ledger::open_read_only(path)?))
}

/// A dry run records nothing in the ledger: says so, since `--ledger` (and with it
/// `--resume`) does nothing there but for `--skip-unchanged`, which reads it.
fn warn_dry_run(path: &std::path::Path, skip_unchanged: bool) {
    let what = match skip_unchanged {
        true => "--resume is ignored; --skip-unchanged reads what the ledger shows applied",
        false => "--ledger and --resume are ignored",
    };
    tracing::warn!(
        ledger = %path.display(),
        "a dry run records nothing in the ledger: {what}"
    );
}

/// Where a run sends, as the ledger records it: `emulator` for the in-process one (a new
/// one, on a new port, each time), else the API base, its scheme and host in lower case.
pub fn ledger_endpoint(emulator: bool, endpoint: &str) -> String {
    if emulator {
        return "emulator".into();
    }
    reqwest::Url::parse(endpoint).map_or_else(
        |_| endpoint.to_string(),
        |url| url.as_str().trim_end_matches('/').to_string(),
    )
}

/// The newest unfinished run of `key` when resuming, saying so when there is none, and
/// refusing one sent to another endpoint than `endpoint`: the documents it finished there
/// were never sent here, and resuming would report them done. Without `--resume`, a new
/// run starts, and an unfinished run of the same key is named, with how to continue it:
/// otherwise it would stay unfinished unnoticed.
fn resumable(
    ledger: &Ledger,
    key: &str,
    resume: bool,
    endpoint: &str,
) -> anyhow::Result<Option<RunId>> {
    if !resume {
        warn_unfinished(ledger, key)?;
        return Ok(None);
    }
    match ledger.unfinished_run(key)? {
        Some(run) => {
            if let Some(earlier) = ledger.run_endpoint(run)?.filter(|e| e != endpoint) {
                anyhow::bail!(
                    "run {run} of these inputs and options was sent to {earlier}, not to \
                     {endpoint}: resuming it here would report as done the documents it \
                     finished there, which were never sent here; resume it against \
                     {earlier}, or leave out --resume to start a new run here"
                );
            }
            ledger.resume_run(run)?;
            tracing::warn!(run = run.0, "resuming the unfinished run");
            Ok(Some(run))
        }
        // Unfinished, but of other inputs or options: a crashed run whose file was
        // edited before the resume, say. It is left as it is, which the user must hear.
        None => match ledger.unfinished_run_of_another_key(key)? {
            Some(other) => {
                tracing::warn!(
                    run = other.0,
                    "no unfinished run of these inputs and options to resume: starting a new \
                     run; run {other}, of other inputs or options (an input edited since?), \
                     stays unfinished (`refsync runs show {other}` lists what it did not \
                     finish)"
                );
                Ok(None)
            }
            // The usual case of a nightly `--resume` (each night's export is new): not a
            // warning that alerting would see every night.
            None => {
                tracing::info!(
                    "no unfinished run of these inputs and options to resume: starting a new run"
                );
                Ok(None)
            }
        },
    }
}

/// Warns when the ledger holds an unfinished (stopped or killed) run of `key`, which a
/// run without `--resume` leaves as it is.
fn warn_unfinished(ledger: &Ledger, key: &str) -> anyhow::Result<()> {
    if let Some(run) = ledger.unfinished_run(key)? {
        tracing::warn!(
            run = run.0,
            "run {run} of these inputs and options was stopped or killed before it finished \
             and stays unfinished: starting a new run; the same command with --resume \
             continues run {run} instead"
        );
    }
    Ok(())
}

/// The planning options, as the run key hashes them and `runs show` prints them. The
/// `--ids` and `--mapping` files are hashed by content with the inputs; here only whether
/// each is given.
fn planning_options(args: &SyncArgs, prepared: &Prepared) -> String {
    let c = &args.common;
    // Each input's format as read, not the flag: `--format csv` on a `.csv` file is the
    // same plan as leaving it out.
    let formats: Vec<&str> = prepared
        .sources
        .iter()
        .map(|source| match source.format {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        })
        .collect();
    let on_duplicate = match c.on_duplicate {
        OnDuplicateArg::Error => "error",
        OnDuplicateArg::LastWins => "last-wins",
    };
    let given = |file: &Option<std::path::PathBuf>| if file.is_some() { "given" } else { "none" };
    let limit = c.limit.map_or("none".to_string(), |n| n.to_string());
    format!(
        "format={};delimiter={};encoding={};on_duplicate={on_duplicate};ids={};limit={limit};mapping={}",
        formats.join(","),
        c.delimiter as char,
        c.encoding.name(),
        given(&c.ids),
        given(&c.mapping),
    )
}

fn entry_keys(prepared: &Prepared) -> Vec<(Option<String>, Option<String>)> {
    prepared
        .plan
        .entries
        .iter()
        .map(|entry| match entry {
            PlanEntry::Document(doc) => (Some(doc.id.clone()), Some(ledger::document_hash(doc))),
            PlanEntry::Invalid(invalid) => (invalid.id.clone(), None),
        })
        .collect()
}

/// Runs a ledger write, which waits for its group commit to reach the disk: on a runtime
/// with worker threads, the worker's other tasks are handed to another thread meanwhile,
/// so the documents in flight go on and their records join the next commit.
fn blocking<T>(write: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(write),
        _ => write(),
    }
}

#[cfg(test)]
mod tests {
    use super::undo_split;

    #[test]
    fn a_resume_is_warned_when_its_undo_file_is_not_every_earlier_attempts() {
        let file = Some("undo.jsonl".to_string());
        assert_eq!(undo_split(&[], None), None);
        assert_eq!(
            undo_split(&[file.clone(), file.clone()], Some("undo.jsonl")),
            None
        );
        assert_eq!(undo_split(&[None], None), None);
        let dropped = undo_split(std::slice::from_ref(&file), None).unwrap_or_default();
        assert!(dropped.contains("give --undo undo.jsonl"), "{dropped}");
        let added = undo_split(&[None], Some("undo.jsonl")).unwrap_or_default();
        assert!(added.contains("had no --undo"), "{added}");
        let moved = undo_split(&[file], Some("other.jsonl")).unwrap_or_default();
        assert!(moved.contains("needs both files"), "{moved}");
    }
}
