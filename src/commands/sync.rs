//! `refsync sync`: plan, then send every valid document as one PATCH; write the report
//! (and, with `--undo`, the undo file). `--dry-run` runs the same path in
//! [`Mode::DryRun`]; see `dry_run`.
//!
//! Whatever stops the run — the end of the plan, `--deadline`, a signal, an error — the
//! report is still completed: every document without a result is reported `not_sent`.

use super::breaker::Breaker;
use super::ledger_run::{AppliedBefore, LedgerRun, dry_run_ledger, ledger_endpoint};
use super::output_paths::check_output_paths;
use super::outputs::{Finish, RunOutputs};
use super::prepare::{Prepared, prepare};
use super::signals::{self, Watch};
use super::undo::UndoWriter;
use crate::cli::SyncArgs;
use crate::config::auth::AuthConfig;
use crate::config::sync::{SyncSettings, resolve};
use crate::emulator::{Emulator, EmulatorOptions, Faults};
use crate::outcome::Note;
use crate::outcome::Outcome;
use crate::plan::{Document, PlanEntry};
use crate::report::summary::{EXIT_ABORTED, EXIT_FAILURES, EXIT_MAX_FAILURES};
use crate::report::{LineNames, ReportRow};
use crate::send::pacer::{RateGate, rate_gate};
use crate::send::{self, Batch, HttpTransport, Mode, NoHooks, RunControl, SendHooks};
use crate::send::{SendResult, SendStats};
use crate::send::{Stop, StopReason, StoppedRun, TokenProvider};
use crate::ui::Terminal;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The most results recorded together (one ledger sync, one pass over the report).
const RESULTS_AT_ONCE: usize = 256;

/// Runs `sync` (`auth`: the `[auth]` section as resolved, used only when no other token
/// source is given); returns the exit code.
pub async fn run(args: &SyncArgs, auth: &AuthConfig, terminal: &Terminal) -> anyhow::Result<i32> {
    execute(args, auth, terminal, Mode::Send).await
}

/// Runs `sync` in `mode`; returns the exit code.
pub(super) async fn execute(
    args: &SyncArgs,
    auth: &AuthConfig,
    terminal: &Terminal,
    mode: Mode,
) -> anyhow::Result<i32> {
    let mut settings = resolve(args, auth)?;
    // Files the send stage reads are checked before the inputs are: a mistyped path must
    // stop the run at once (exit 1), not fail every document after planning them.
    if let Some(path) = &settings.send.ca_cert {
        crate::send::transport::read_ca_cert(path)?;
    }
    settings.token.check_start()?;
    let stop = Stop::new();
    let watch = signals::watch(stop.clone(), settings.deadline);
    // Read and planned off the runtime's thread, so that a signal meanwhile is taken at
    // once: the run then drains before its first request.
    let common = args.common.clone();
    let mut prepared = tokio::task::spawn_blocking(move || prepare(&common))
        .await
        .map_err(|e| anyhow::anyhow!("reading the inputs stopped unexpectedly: {e}"))??;
    let dry_run = mode == Mode::DryRun;
    let undo = settings.undo.as_deref().map(|path| ("--undo", path));
    // A dry run opens no ledger.
    let ledger_path = args.ledger.as_deref().filter(|_| !dry_run);
    let own: Vec<_> = undo
        .into_iter()
        .chain(ledger_path.map(|path| ("--ledger", path)))
        .collect();
    // A dry run only reads the ledger (for --skip-unchanged).
    let dry_run_reads = args.ledger.as_deref().filter(|_| dry_run);
    let reads = [
        ("--ledger", dry_run_reads),
        ("--seed", args.seed.as_deref()),
        ("--ca-cert", args.ca_cert.as_deref()),
        ("--token-file", args.token_file.as_deref()),
    ];
    let reads: Vec<_> = reads
        .into_iter()
        .filter_map(|(flag, path)| Some((flag, path?)))
        .collect();
    check_output_paths(&args.common, &prepared, &own, &reads)?;
    // A dry run changes nothing, so it leaves no history to resume or skip by.
    let endpoint = ledger_endpoint(settings.emulator.is_some(), &settings.send.endpoint);
    let correlation_id = settings.send.correlation_id;
    let ledger =
        LedgerRun::open(args, &prepared, correlation_id, endpoint.clone(), dry_run)?.map(Arc::new);
    // A resumed run goes on with the correlation ID it started with.
    if let Some(ledger) = &ledger {
        settings.send.correlation_id = ledger.correlation_id();
    }
    let mut outputs =
        RunOutputs::open(&args.common, prepared.plan.entries.len(), dry_run, terminal)?;
    outputs.attach_ledger(ledger.clone());
    let dry_run_ledger = if dry_run { dry_run_ledger(args)? } else { None };
    let history = match (&ledger, &dry_run_ledger) {
        (Some(run), _) => Some(run.history()),
        (None, Some(read)) => Some(AppliedBefore::new(read, &endpoint)),
        (None, None) => None,
    };
    let skip = history.filter(|_| args.skip_unchanged);
    let batch = record_known_and_batch(&mut prepared, &mut outputs, ledger.as_deref(), skip)?;
    drop(dry_run_ledger);
    outputs.flush_report()?;
    let correlation_id = settings.send.correlation_id.to_string();
    let mut run = Run {
        stop,
        mode,
        hooks: match ledger {
            Some(ledger) => ledger,
            None => Arc::new(NoHooks),
        },
        breaker: Breaker::new(args.max_failures),
        gate: rate_gate(settings.send.rate, settings.send.burst),
    };
    let (sent, looked_up) =
        send_phase(&mut settings, batch, &mut run, &mut prepared, &mut outputs).await?;
    record_not_sent(&prepared, &mut outputs, &*run.hooks)?;
    let (stats, stopped, stopped_exit_code) = how_it_stopped(sent, &looked_up, &watch, &run);
    outputs.finish(Finish {
        command: if dry_run { "dry-run" } else { "sync" },
        common: &args.common,
        prepared: &prepared,
        stats: &stats,
        correlation_id: Some(correlation_id),
        stopped,
        stopped_exit_code,
    })
}

/// How the send phase is steered: stop handle, mode, ledger hooks, `--max-failures`.
struct Run {
    stop: Stop,
    mode: Mode,
    hooks: Arc<dyn SendHooks>,
    breaker: Breaker,
    /// The one rate limiter of every request of the run, CRM lookups and documents alike.
    gate: Arc<dyn RateGate>,
}

/// Sends the batch (against the in-process emulator where asked), with the undo file
/// open; the outer `Err` is what stops the run before sending, the inner one what stopped
/// it while sending (still reported, with every result so far). Gives also the figures
/// of the CRM ID lookups sent before the batch.
async fn send_phase(
    settings: &mut SyncSettings,
    batch: Batch,
    run: &mut Run,
    prepared: &mut Prepared,
    outputs: &mut RunOutputs,
) -> anyhow::Result<(anyhow::Result<SendStats>, SendStats)> {
    let emulator = start_emulator(settings).await?;
    // CRM IDs are resolved against the endpoint (the emulator's, where one runs) first. A
    // lookup that fails (a second 401, say) stops the run like a send that fails: every
    // document is still reported.
    let tokens = Arc::new(TokenProvider::new(settings.token.clone()));
    let steer = (&run.stop, &run.gate, &tokens);
    let resolved = super::lookup::resolve_batch(batch, settings, steer, prepared, outputs).await;
    let sent = match resolved {
        Ok((batch, looked_up)) => {
            let mut undo = settings.undo.as_deref().map(UndoWriter::open).transpose()?;
            let outputs = (&*prepared, outputs, undo.as_mut());
            let sent = send_batch(batch, settings, run, tokens, outputs).await;
            (sent, looked_up)
        }
        Err(error) => (Err(error), SendStats::default()),
    };
    if let Some(emulator) = emulator {
        emulator.shutdown().await;
    }
    Ok(sent)
}

/// The send stage's steering for `run`, reading each referral first where `read_before`.
fn control(run: &Run, read_before: bool) -> RunControl {
    RunControl {
        stop: run.stop.clone(),
        hooks: run.hooks.clone(),
        mode: run.mode,
        read_before,
        gate: Some(Arc::clone(&run.gate)),
    }
}

/// The figures (the lookups' `looked_up` included, and those of a send stopped by an
/// error), and why and with which exit code the run stopped early: a signal's code wins
/// over an error's, since the user asked for the stop. A run stopped by `--deadline` or
/// `--max-failures` is stopped too, so that `--resume` finishes it.
fn how_it_stopped(
    sent: anyhow::Result<SendStats>,
    looked_up: &SendStats,
    watch: &Watch,
    run: &Run,
) -> (SendStats, Option<String>, i32) {
    let (mut stats, error) = match sent {
        Ok(stats) => (stats, None),
        Err(error) => (
            error
                .downcast_ref::<StoppedRun>()
                .map(|stopped| stopped.stats.clone())
                .unwrap_or_default(),
            Some(crate::ui::describe_error(&error)),
        ),
    };
    stats.add_earlier(looked_up);
    if run.breaker.tripped() && watch.received().is_none() {
        return (stats, Some(run.breaker.reason()), EXIT_MAX_FAILURES);
    }
    if run.stop.reason() == Some(StopReason::Deadline) && error.is_none() {
        return (stats, Some("--deadline passed".into()), EXIT_FAILURES);
    }
    match watch.received() {
        Some(signal) => {
            let why = format!("stopped by {}", signal.name());
            (stats, Some(why), signal.exit_code())
        }
        None => (stats, error, EXIT_ABORTED),
    }
}

/// Reports at once what needs no request — invalid entries, documents a resumed run
/// already finished, documents `--skip-unchanged` finds applied — and returns the rest,
/// shared with the plan rather than copied.
fn record_known_and_batch(
    prepared: &mut Prepared,
    outputs: &mut RunOutputs,
    ledger: Option<&LedgerRun>,
    skip_unchanged: Option<AppliedBefore<'_>>,
) -> anyhow::Result<Batch> {
    let mut batch = Vec::new();
    // Recorded together at the end: one ledger sync for all, however many.
    let mut known = Vec::new();
    for (index, entry) in prepared.plan.entries.iter_mut().enumerate() {
        if let Some(row) = ledger.and_then(|l| l.final_row(index)) {
            outputs.replay(index, row)?;
            continue;
        }
        match entry {
            // A document of no operation (a mapped row that leaves the referral as it is)
            // changes nothing: the referral already holds every value it sets.
            PlanEntry::Document(doc) if doc.ops.is_empty() => {
                known.push((index, unchanged(entry, &prepared.names, None)));
            }
            PlanEntry::Document(doc) if skip_unchanged.is_some_and(|l| applied(l, doc)) => {
                let row = unchanged(entry, &prepared.names, Some(Note::SkippedByLedger));
                known.push((index, row));
            }
            PlanEntry::Document(doc) => batch.push((index, Arc::clone(doc))),
            PlanEntry::Invalid(_) => {
                known.push((index, ReportRow::for_entry(entry, &prepared.names)))
            }
        }
    }
    outputs.record_all(known)?;
    Ok(batch)
}

/// The `unchanged` report row of `entry`; `note`, where given, in place of the plan's.
fn unchanged(entry: &PlanEntry, names: &LineNames, note: Option<Note>) -> ReportRow {
    let mut row = ReportRow::for_entry(entry, names);
    row.outcome = Outcome::Unchanged;
    if let Some(note) = note {
        row.note = Some(note.as_str().into());
    }
    row
}

/// Whether the ledger shows `doc` already applied; a ledger that cannot answer means no.
fn applied(ledger: AppliedBefore<'_>, doc: &Document) -> bool {
    ledger.already_applied(doc).unwrap_or_else(|error| {
        tracing::warn!(id = %doc.id, %error, "cannot ask the ledger; sending the document");
        false
    })
}

/// With `--emulator`, starts the in-process emulator and points the endpoint at it.
async fn start_emulator(settings: &mut SyncSettings) -> anyhow::Result<Option<Emulator>> {
    let Some(seed) = settings.emulator.clone() else {
        return Ok(None);
    };
    let emulator = Emulator::start(EmulatorOptions {
        listen: ([127, 0, 0, 1], 0).into(),
        seed,
        token: None,
        faults: Faults::default(),
    })
    .await?;
    settings.send.endpoint = emulator.base_url();
    tracing::info!(endpoint = %settings.send.endpoint, "started the in-process emulator");
    Ok(Some(emulator))
}

/// Sends the batch with the run's `tokens`, recording each result (and its undo line) as
/// it arrives.
async fn send_batch(
    batch: Batch,
    settings: &SyncSettings,
    run: &mut Run,
    tokens: Arc<TokenProvider>,
    (prepared, outputs, mut undo): (&Prepared, &mut RunOutputs, Option<&mut UndoWriter>),
) -> anyhow::Result<SendStats> {
    let transport = Arc::new(HttpTransport::new(&settings.send)?);
    let (tx, mut rx) = mpsc::unbounded_channel::<SendResult>();
    let options = settings.send.clone();
    let control = control(run, settings.read_before);
    let sender = tokio::spawn(async move {
        send::send_all_with(batch, &options, transport, tokens, tx, control).await
    });
    // Results are taken as many as have arrived, so that the ledger records them with one
    // sync rather than one each.
    let mut results = Vec::with_capacity(RESULTS_AT_ONCE);
    while rx.recv_many(&mut results, RESULTS_AT_ONCE).await > 0 {
        let mut rows = Vec::with_capacity(results.len());
        for result in results.drain(..) {
            let Some(PlanEntry::Document(doc)) = prepared.plan.entries.get(result.entry) else {
                continue;
            };
            if let Some(undo) = undo.as_deref_mut() {
                undo.record(doc, &result)?;
            }
            rows.push((
                result.entry,
                ReportRow::for_result(doc, &result, &prepared.names),
            ));
        }
        // Every outcome is counted, including those after the one that trips the breaker.
        let mut tripped = false;
        for (_, row) in &rows {
            tripped |= run.breaker.count(row.outcome);
        }
        outputs.record_all(rows)?;
        // Rows reach the file whenever no other result is waiting, so a killed run still
        // leaves every row it had finished, without a write per document.
        if rx.is_empty() {
            outputs.flush_report()?;
        }
        if tripped {
            run.stop.drain();
        }
    }
    Ok(sender.await??)
}

/// Reports every document the run stopped before sending as `failed`, `not_sent`; one an
/// earlier run left in flight as `outcome_unknown`, since it may have been applied.
fn record_not_sent(
    prepared: &Prepared,
    outputs: &mut RunOutputs,
    hooks: &dyn SendHooks,
) -> anyhow::Result<()> {
    for (index, entry) in prepared.plan.entries.iter().enumerate() {
        if outputs.has_row(index) {
            continue;
        }
        let mut row = ReportRow::for_entry(entry, &prepared.names);
        row.outcome = Outcome::Failed;
        row.note = None;
        // Never taken by a worker, or stopped before a PATCH of it left (the document whose
        // PATCH was refused with 401 twice reports itself).
        let (code, message) = match hooks.was_in_flight(index) {
            // An earlier run sent it and died before the answer: it may be applied, and
            // only reading the referral (a resume does) can tell.
            true => (
                "outcome_unknown",
                "an earlier run sent this document and stopped before its answer, and this \
                 run stopped before reading the referral to check: it may have been applied; \
                 run again with --resume, which reads it and sends it only if its changes are \
                 missing",
            ),
            false => (
                "not_sent",
                "the run stopped before this document was sent: nothing of it was applied; \
                 send it again",
            ),
        };
        row.error_code = Some(code.into());
        row.error_message = Some(message.into());
        outputs.record(index, row)?;
    }
    Ok(())
}
