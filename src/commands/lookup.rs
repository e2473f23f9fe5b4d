//! Resolving CRM IDs before `sync` sends: the documents of inputs read through a lookup
//! mapping carry the CRM's ID; each is looked up once by `externalReferenceId` and the
//! document takes the referral's ID, or is reported `failed` (`not_found_by_external_id`,
//! `ambiguous_external_id`) and not sent.
//!
//! The plan is rewritten in place, so the report, the rejects file and every later stage
//! see the referral ID the PATCH went to.

use super::outputs::RunOutputs;
use super::prepare::Prepared;
use crate::config::sync::SyncSettings;
use crate::outcome::Outcome;
use crate::plan::{Document, PlanEntry};
use crate::report::ReportRow;
use crate::send::lookup::{Lookups, Resolution, resolve_external_ids};
use crate::send::pacer::RateGate;
use crate::send::{Batch, HttpTransport, SendStats, Stop, TokenProvider};
use std::collections::HashMap;
use std::sync::Arc;

/// Resolves the CRM IDs of `batch`: found documents go on with their referral ID (in the
/// batch and the plan alike); the rest are recorded as `failed` and dropped from the batch.
/// Gives the batch and the lookups' request counts, for the run's summary.
///
/// A stop (a signal, `--deadline`) ends the lookups at once: nothing is left to send, and
/// every document is then reported `not_sent`, as when a run stops before sending. The
/// lookups pass the run's rate `gate` and use its `tokens`, as the documents' requests do
/// next: one limiter, and one token fetched (a `--token-command` run once) for both.
pub async fn resolve_batch(
    batch: Batch,
    settings: &SyncSettings,
    (stop, gate, tokens): (&Stop, &Arc<dyn RateGate>, &Arc<TokenProvider>),
    prepared: &mut Prepared,
    outputs: &mut RunOutputs,
) -> anyhow::Result<(Batch, SendStats)> {
    let keys: Vec<String> = batch
        .iter()
        .filter(|(_, doc)| doc.by_external_id)
        .map(|(_, doc)| doc.id.clone())
        .collect();
    if keys.is_empty() {
        return Ok((batch, SendStats::default()));
    }
    let lookups = tokio::select! {
        biased;
        () = stop.drained() => {
            tracing::info!("stopped while looking up CRM IDs: nothing is sent");
            return Ok((Vec::new(), SendStats::default()));
        }
        lookups = look_up(keys, settings, Arc::clone(gate), Arc::clone(tokens)) => lookups?,
    };
    let mut kept = Vec::with_capacity(batch.len());
    for (index, doc) in batch {
        match lookups
            .resolutions
            .get(&doc.id)
            .filter(|_| doc.by_external_id)
        {
            None => kept.push((index, doc)),
            Some(Resolution::Found(id)) => {
                // The batch shares the plan's document: let go of it so the plan's copy
                // can be changed in place.
                drop(doc);
                kept.extend(set_plan_id(prepared, index, id).map(|doc| (index, doc)));
            }
            Some(unresolved) => {
                let (code, message) = unresolved.error(&doc.id).unwrap_or_default();
                record_failed(prepared, outputs, index, code, message)?;
            }
        }
    }
    let kept = one_document_per_referral(kept, prepared, outputs)?;
    Ok((kept, lookups.stats))
}

/// The batch with one document per referral: a CRM ID can turn out to be a referral that
/// another document (by its ID, or by another CRM ID) updates too. Planning could not
/// group them, and sent side by side they would race; the later one is `failed`,
/// `duplicate_referral`, naming the other's line, and the earlier is sent.
fn one_document_per_referral(
    batch: Batch,
    prepared: &Prepared,
    outputs: &mut RunOutputs,
) -> anyhow::Result<Batch> {
    let mut first: HashMap<String, usize> = HashMap::with_capacity(batch.len());
    let mut kept = Vec::with_capacity(batch.len());
    for (index, doc) in batch {
        let Some(&earlier) = first.get(&doc.id) else {
            first.insert(doc.id.clone(), index);
            kept.push((index, doc));
            continue;
        };
        let line = |entry: usize| {
            let at = prepared.plan.entries.get(entry)?.rows().first()?.at;
            Some(prepared.names.in_message(at))
        };
        let message = format!(
            "this document and the one of {} both update referral {}, once its CRM ID was \
             looked up; a run sends one document per referral: send this one in a later run, \
             or give both in the same form so that they are planned as one",
            line(earlier).unwrap_or_else(|| "another line".into()),
            doc.id
        );
        record_failed(
            prepared,
            outputs,
            index,
            "duplicate_referral".into(),
            message,
        )?;
    }
    Ok(kept)
}

/// The lookups for `keys`, through the run's endpoint, `tokens` and rate `gate`.
async fn look_up(
    keys: Vec<String>,
    settings: &SyncSettings,
    gate: Arc<dyn RateGate>,
    tokens: Arc<TokenProvider>,
) -> anyhow::Result<Lookups> {
    let transport = Arc::new(HttpTransport::new(&settings.send)?);
    let lookups = resolve_external_ids(keys, &settings.send, transport, tokens, gate).await?;
    tracing::info!(mode = ?lookups.mode, requests = lookups.stats.requests, ids = lookups.resolutions.len(), "looked up CRM IDs by externalReferenceId");
    Ok(lookups)
}

/// Gives plan entry `index` its referral ID; returns the document to send.
fn set_plan_id(prepared: &mut Prepared, index: usize, id: &str) -> Option<Arc<Document>> {
    let Some(PlanEntry::Document(doc)) = prepared.plan.entries.get_mut(index) else {
        return None;
    };
    // Resolved, the document is one of a referral ID like any other (its document form
    // included).
    let resolved = Arc::make_mut(doc);
    resolved.id = id.to_string();
    resolved.by_external_id = false;
    Some(Arc::clone(doc))
}

fn record_failed(
    prepared: &Prepared,
    outputs: &mut RunOutputs,
    index: usize,
    code: String,
    message: String,
) -> anyhow::Result<()> {
    let Some(entry) = prepared.plan.entries.get(index) else {
        return Ok(());
    };
    let mut row = ReportRow::for_entry(entry, &prepared.names);
    row.outcome = Outcome::Failed;
    row.note = None;
    row.error_code = Some(code);
    row.error_message = Some(message);
    outputs.record(index, row)
}
