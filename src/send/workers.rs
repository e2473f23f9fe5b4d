//! The run: workers take documents in plan order from one queue, each once the pacer gives
//! it a turn (the adaptive in-flight limit, at most `--concurrency`), send each to its
//! outcome and hand the result on at once; the first error that stops the run
//! (a second 401, 403 on every first request, no token) stops the others taking more.
//!
//! [`Stop`] is the one stop signal: draining stops workers taking documents (documents
//! not taken are never reported, and the caller marks them `not_sent`); halting and
//! aborting also end the documents in flight, each with its own `failed` result. An error
//! that stops the run halts it: requests already on the wire get their answers, but no
//! document in flight sends another (a revoked token met by a hundred documents waiting
//! for the rate limiter went on sending doomed requests for seconds).

use super::control::{Mode, RunControl, Stop, StopReason};
use super::document::{StoppedBy, send_document};
use super::dry_run::check_document;
use super::endpoint::Endpoint;
use super::exchange::{Counters, Shared};
use super::pacer::{Pacer, RateGate, rate_gate};
use super::retry::Backoff;
use super::token::TokenProvider;
use super::transport::Transport;
use super::{Batch, Document, SendError, SendOptions, SendResult, SendStats};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How many of the first finished documents must all get 403 for the run to stop.
const FORBIDDEN_PROBE: usize = 5;

/// Sends every document; each result goes to `results` as soon as it is known.
pub async fn send_all(
    batch: Batch,
    options: &SendOptions,
    transport: Arc<dyn Transport>,
    tokens: Arc<TokenProvider>,
    results: UnboundedSender<SendResult>,
) -> Result<SendStats, StoppedRun> {
    let cancel = CancellationToken::new();
    send_all_until(batch, options, transport, tokens, results, cancel).await
}

/// [`send_all`], stopping to take new documents once `cancel` fires.
pub async fn send_all_until(
    batch: Batch,
    options: &SendOptions,
    transport: Arc<dyn Transport>,
    tokens: Arc<TokenProvider>,
    results: UnboundedSender<SendResult>,
    cancel: CancellationToken,
) -> Result<SendStats, StoppedRun> {
    let control = RunControl {
        stop: Stop::draining_on(cancel),
        ..RunControl::default()
    };
    send_all_with(batch, options, transport, tokens, results, control).await
}

/// [`send_all`] steered by `control`: stop and abort, ledger hooks, dry run, `--undo`.
pub async fn send_all_with(
    batch: Batch,
    options: &SendOptions,
    transport: Arc<dyn Transport>,
    tokens: Arc<TokenProvider>,
    results: UnboundedSender<SendResult>,
    control: RunControl,
) -> Result<SendStats, StoppedRun> {
    let gate = control
        .gate
        .clone()
        .unwrap_or_else(|| rate_gate(options.rate, options.burst));
    let mut shared = shared(options, transport, tokens, gate).map_err(StoppedRun::before)?;
    shared.control = control;
    match drive(batch, Arc::new(shared), results).await {
        (stats, None) => Ok(stats),
        (stats, Some(error)) => Err(StoppedRun { error, stats }),
    }
}

/// The error that stopped a run, with the figures of what it sent until then: a summary
/// of a run stopped by a second 401 still counts the requests that went out.
#[derive(Debug)]
pub struct StoppedRun {
    /// Why it stopped.
    pub error: SendError,
    /// What it sent.
    pub stats: SendStats,
}

impl StoppedRun {
    /// A run stopped before it sent anything.
    fn before(error: SendError) -> Self {
        StoppedRun {
            error,
            stats: SendStats::default(),
        }
    }
}

impl std::fmt::Display for StoppedRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for StoppedRun {
    // Transparent: the error's own cause, so a message does not say the error twice.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

/// The run-wide state, the endpoint checked before anything can connect.
pub(crate) fn shared(
    options: &SendOptions,
    transport: Arc<dyn Transport>,
    tokens: Arc<TokenProvider>,
    gate: Arc<dyn RateGate>,
) -> Result<Shared, SendError> {
    Ok(Shared {
        endpoint: Endpoint::check(&options.endpoint)?,
        options: options.clone(),
        transport,
        tokens,
        pacer: Pacer::new(gate, options.concurrency, options.rate),
        backoff: Backoff::default(),
        counters: Counters::default(),
        control: RunControl::default(),
    })
}

/// Runs the workers to the end of the batch or the first stop (`shared.control.stop`, the
/// one signal the workers and every document's waits obey); gives the figures, and the
/// error that stopped the run if one did.
pub(crate) async fn drive(
    batch: Batch,
    shared: Arc<Shared>,
    results: UnboundedSender<SendResult>,
) -> (SendStats, Option<SendError>) {
    let stop = shared.control.stop.clone();
    let workers = shared.options.concurrency.clamp(1, batch.len().max(1));
    let probe = batch.len().min(workers).min(FORBIDDEN_PROBE);
    let run = Arc::new(Run {
        shared,
        queue: Mutex::new(batch.into_iter()),
        probe: Mutex::new(ForbiddenProbe::new(probe)),
        results,
        stop,
        error: Mutex::new(None),
    });
    let watchdog = tokio::spawn({
        let shared = Arc::clone(&run.shared);
        async move { shared.pacer.watch_overdue().await }
    });
    let _watchdog = AbortOnDrop(watchdog);
    let mut set = JoinSet::new();
    for _ in 0..workers {
        set.spawn(Arc::clone(&run).work());
    }
    while let Some(joined) = set.join_next().await {
        if let Err(error) = joined
            && error.is_panic()
        {
            std::panic::resume_unwind(error.into_panic());
        }
    }
    (stats(&run.shared), lock(&run.error).take())
}

/// The run's counters (the peak of requests on the wire included), with what the pacer
/// adapted.
fn stats(shared: &Shared) -> SendStats {
    SendStats {
        adapted_rate: shared.pacer.adapted_rate(),
        ..shared.counters.snapshot()
    }
}

/// A task that ends with the run, however the run ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the workers share.
struct Run {
    shared: Arc<Shared>,
    queue: Mutex<std::vec::IntoIter<(usize, std::sync::Arc<Document>)>>,
    probe: Mutex<ForbiddenProbe>,
    results: UnboundedSender<SendResult>,
    stop: Stop,
    error: Mutex<Option<SendError>>,
}

impl Run {
    async fn work(self: Arc<Self>) {
        loop {
            // The turn comes first, so a stop leaves no document taken but not started.
            let _turn = tokio::select! {
                biased;
                () = self.stop.drained() => return,
                turn = self.shared.pacer.turn() => turn,
            };
            if self.stop.is_draining() {
                return;
            }
            let Some((entry, doc)) = lock(&self.queue).next() else {
                return;
            };
            let done = match self.shared.control.mode {
                Mode::Send => send_document(&self.shared, entry, &doc).await,
                Mode::DryRun => check_document(&self.shared, entry, &doc)
                    .await
                    .map_err(StoppedBy::from),
            };
            match done {
                Ok(result) => self.finished(result),
                Err(StoppedBy { error, result }) => {
                    if let Some(result) = result {
                        self.finished(result);
                    }
                    self.stop(error);
                }
            }
        }
    }

    /// Hands a result on; stops the run when the 403 probe trips or nobody listens.
    fn finished(&self, result: SendResult) {
        let forbidden = lock(&self.probe).observe(result.http_status);
        if self.results.send(result).is_err() {
            self.stop.drain();
        }
        if forbidden {
            self.stop(SendError::Forbidden);
        }
    }

    /// Keeps the first error, stops every worker taking another document and ends the
    /// waits of the documents in flight.
    fn stop(&self, error: SendError) {
        tracing::debug!(%error, "stopping the run");
        lock(&self.error).get_or_insert(error);
        self.stop.halt(StopReason::Failed);
    }
}

/// Watches the first finished documents: if every one got 403, the user lacks a role and
/// the rest would only fail the same way.
#[derive(Debug)]
struct ForbiddenProbe {
    needed: usize,
    seen: usize,
    all_forbidden: bool,
}

impl ForbiddenProbe {
    fn new(needed: usize) -> Self {
        ForbiddenProbe {
            needed,
            seen: 0,
            all_forbidden: true,
        }
    }

    /// Records one finished document; true exactly once, when the probe is full of 403s.
    fn observe(&mut self, status: Option<u16>) -> bool {
        if self.seen >= self.needed {
            return false;
        }
        self.seen += 1;
        self.all_forbidden &= status == Some(403);
        self.seen == self.needed && self.all_forbidden
    }
}

/// A worker that panicked holding a lock must not hide the others' results.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_trips_only_when_every_first_document_got_403() {
        let mut probe = ForbiddenProbe::new(3);
        assert!(!probe.observe(Some(403)));
        assert!(!probe.observe(Some(403)));
        assert!(probe.observe(Some(403)));
        assert!(!probe.observe(Some(403)));
        let mut mixed = ForbiddenProbe::new(2);
        assert!(!mixed.observe(Some(204)));
        assert!(!mixed.observe(Some(403)));
    }
}
