//! `refsync sync`: plan, then send every valid document as one PATCH; write the report.

use super::outputs::{Finish, RunOutputs};
use super::prepare::{Prepared, prepare};
use crate::auth::AuthSettings;
use crate::cli::SyncArgs;
use crate::config::sync::{SyncSettings, resolve};
use crate::emulator::{Emulator, EmulatorOptions, Faults};
use crate::outcome::Outcome;
use crate::plan::PlanEntry;
use crate::report::ReportRow;
use crate::report::summary::EXIT_ABORTED;
use crate::send::{self, Batch, HttpTransport, SendResult, SendStats, TokenProvider};
use crate::ui::Terminal;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Runs `sync` (`auth`: the resolved `[auth]` section, if any); returns the exit code.
pub async fn run(
    args: &SyncArgs,
    auth: Option<&AuthSettings>,
    terminal: &Terminal,
) -> anyhow::Result<i32> {
    let mut settings = resolve(args, auth)?;
    let prepared = prepare(&args.common)?;
    let mut outputs = RunOutputs::open(&args.common, prepared.plan.entries.len(), false, terminal)?;
    let batch = record_invalid_and_batch(&prepared, &mut outputs)?;
    let emulator = start_emulator(&mut settings).await?;
    let correlation_id = settings.send.correlation_id.to_string();
    let sent = send_batch(batch, &settings, &prepared, &mut outputs).await;
    if let Some(emulator) = emulator {
        emulator.shutdown().await;
    }
    let (stats, stopped) = match sent {
        Ok(stats) => (stats, None),
        Err(error) => (SendStats::default(), Some(format!("{error:#}"))),
    };
    record_not_sent(&prepared, &mut outputs)?;
    outputs.finish(Finish {
        command: "sync",
        common: &args.common,
        prepared: &prepared,
        stats: &stats,
        correlation_id: Some(correlation_id),
        stopped,
        stopped_exit_code: EXIT_ABORTED,
    })
}

/// Reports every invalid entry at once and returns the documents to send.
fn record_invalid_and_batch(
    prepared: &Prepared,
    outputs: &mut RunOutputs,
) -> anyhow::Result<Batch> {
    let mut batch = Vec::new();
    for (index, entry) in prepared.plan.entries.iter().enumerate() {
        match entry {
            PlanEntry::Document(doc) => batch.push((index, doc.clone())),
            PlanEntry::Invalid(_) => {
                let row = ReportRow::for_entry(entry, &prepared.names);
                outputs.record(index, row.outcome, row)?;
            }
        }
    }
    Ok(batch)
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

/// Sends the batch, recording each result as it arrives.
async fn send_batch(
    batch: Batch,
    settings: &SyncSettings,
    prepared: &Prepared,
    outputs: &mut RunOutputs,
) -> anyhow::Result<SendStats> {
    let transport = Arc::new(HttpTransport::new(&settings.send)?);
    let tokens = Arc::new(TokenProvider::new(settings.token.clone()));
    let (tx, mut rx) = mpsc::unbounded_channel::<SendResult>();
    let options = settings.send.clone();
    let sender =
        tokio::spawn(async move { send::send_all(batch, &options, transport, tokens, tx).await });
    while let Some(result) = rx.recv().await {
        if let Some(PlanEntry::Document(doc)) = prepared.plan.entries.get(result.entry) {
            let row = ReportRow::for_result(doc, &result, &prepared.names);
            outputs.record(result.entry, result.outcome, row)?;
        }
    }
    Ok(sender.await??)
}

/// Reports every document the run stopped before sending as `failed`, `not_sent`.
fn record_not_sent(prepared: &Prepared, outputs: &mut RunOutputs) -> anyhow::Result<()> {
    for (index, entry) in prepared.plan.entries.iter().enumerate() {
        if outputs.has_row(index) {
            continue;
        }
        let mut row = ReportRow::for_entry(entry, &prepared.names);
        row.outcome = Outcome::Failed;
        row.note = None;
        row.error_code = Some("not_sent".into());
        row.error_message = Some("the run stopped before this document was sent".into());
        outputs.record(index, Outcome::Failed, row)?;
    }
    Ok(())
}
