//! Stopping a run from outside: `--deadline`, SIGINT and SIGTERM, turned into the send
//! stage's [`Stop`].
//!
//! The first signal drains (no new documents, and none that has sent nothing yet starts;
//! the ones under way may finish for up to [`GRACE`]); a second signal, or the grace
//! running out, aborts them. The deadline
//! aborts at once: what is unfinished then is `failed` with `deadline`. Either way the
//! report is still flushed, because the command goes on to write it once sending returns.

use crate::report::summary::{EXIT_INTERRUPTED, EXIT_TERMINATED};
use crate::send::{Stop, StopReason};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How long documents in flight may finish after the first signal.
pub const GRACE: Duration = Duration::from_secs(10);

/// A signal that stopped the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (a service manager, `kill`).
    Terminate,
}

impl Signal {
    /// The exit code after this signal (SPEC.md "Exit codes").
    pub fn exit_code(self) -> i32 {
        match self {
            Signal::Interrupt => EXIT_INTERRUPTED,
            Signal::Terminate => EXIT_TERMINATED,
        }
    }

    /// Its name, for the summary.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// Watches the signals and the deadline for one run; stops watching when dropped.
pub struct Watch {
    received: Arc<OnceLock<Signal>>,
    task: JoinHandle<()>,
}

impl Watch {
    /// The first signal received, if any.
    pub fn received(&self) -> Option<Signal> {
        self.received.get().copied()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts watching: signals drain then abort `stop`, `deadline` (from now) aborts it.
///
/// The signals are caught from this call on, not from the watching task's first turn: the
/// run reads and plans its inputs next, on this thread, and a SIGTERM meanwhile killed the
/// process outright (no report, no summary). Caught then, it drains the run before its
/// first request, so every document is reported `not_sent` and the run exits 143.
pub fn watch(stop: Stop, deadline: Option<Duration>) -> Watch {
    let received = Arc::new(OnceLock::new());
    // A deadline too far off for the clock to hold (`--deadline 9999999999h`) is none.
    let at = deadline.and_then(|d| Instant::now().checked_add(d));
    let signals = match Signals::new() {
        Ok(signals) => Some(signals),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGINT/SIGTERM; a signal will end the run without a report");
            None
        }
    };
    tracing::debug!(
        deadline_ms = deadline.map(|d| d.as_millis() as u64),
        "watching for SIGINT and SIGTERM"
    );
    let task = tokio::spawn(watch_loop(stop, Arc::clone(&received), at, signals));
    Watch { received, task }
}

async fn watch_loop(
    stop: Stop,
    received: Arc<OnceLock<Signal>>,
    deadline: Option<Instant>,
    mut signals: Option<Signals>,
) {
    tokio::select! {
        () = until(deadline) => return stop.abort(StopReason::Deadline),
        signal = next(&mut signals) => {
            let _first = received.set(signal);
            tracing::warn!(signal = signal.name(), "stopping: no new documents; finishing the ones in flight (a second signal stops at once)");
            stop.drain();
        }
    }
    tokio::select! {
        () = until(deadline) => stop.abort(StopReason::Deadline),
        _ = next(&mut signals) => stop.abort(StopReason::Interrupted),
        () = tokio::time::sleep(GRACE) => stop.abort(StopReason::Interrupted),
    }
}

/// Resolves at `deadline`, or never.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The next signal, or never when signals cannot be watched.
async fn next(signals: &mut Option<Signals>) -> Signal {
    match signals {
        Some(signals) => signals.next().await,
        None => std::future::pending().await,
    }
}

/// The SIGINT and SIGTERM streams.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.interrupt.recv() => Signal::Interrupt,
            _ = self.terminate.recv() => Signal::Terminate,
        }
    }
}
