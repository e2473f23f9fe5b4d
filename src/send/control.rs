//! How a run is steered from outside the send stage: when to stop taking documents and
//! when to abandon the ones in flight ([`Stop`]), the ledger's [`SendHooks`], whether the
//! run sends or only reads ([`Mode`]), and whether each referral is read before its PATCH.
//!
//! Three tokens, because a graceful stop and a hard one differ: `drain` stops workers
//! taking new documents, and documents taken that have sent nothing yet do not start;
//! `halt` also ends every wait of the documents in flight (the pacer, backoff sleeps and
//! `Retry-After` pauses) but lets a request already on the wire have its answer; `abort`
//! cuts those requests too. A document ended early is `failed` with a code saying why, so
//! no document is lost from the report.

use super::hooks::{NoHooks, SendHooks};
use super::pacer::RateGate;
use std::sync::{Arc, OnceLock};
use tokio_util::sync::CancellationToken;

/// Why documents in flight were abandoned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// `--deadline` passed: they end `failed` with `deadline`.
    Deadline,
    /// A second signal, or the grace period after the first ran out: `not_sent` where no
    /// PATCH can have been applied, else `outcome_unknown`.
    Interrupted,
    /// The run failed (a second 401, 403 on every first request, the ledger refusing a
    /// record): every further request would fail the same way, or go unrecorded. Documents
    /// end as under [`StopReason::Interrupted`], but a request already on the wire keeps
    /// its answer.
    Failed,
}

/// The run's stop signals; clones share them.
#[derive(Clone, Debug, Default)]
pub struct Stop {
    drain: CancellationToken,
    halt: CancellationToken,
    abort: CancellationToken,
    reason: Arc<OnceLock<StopReason>>,
}

impl Stop {
    /// Signals that nothing has fired yet.
    pub fn new() -> Self {
        Stop::default()
    }

    /// A stop whose drain is `token` (what [`super::send_all_until`] is given).
    pub fn draining_on(token: CancellationToken) -> Self {
        Stop {
            drain: token,
            ..Stop::default()
        }
    }

    /// Stops workers taking new documents; documents in flight that have sent nothing yet
    /// do not start, the others go on.
    pub fn drain(&self) {
        self.drain.cancel();
    }

    /// Ends every wait of the documents in flight too, but not their requests on the wire;
    /// the first reason given is the one kept.
    pub fn halt(&self, reason: StopReason) {
        let _first = self.reason.set(reason);
        self.drain.cancel();
        self.halt.cancel();
    }

    /// Abandons the documents in flight, their requests on the wire included; the first
    /// reason given is the one kept.
    pub fn abort(&self, reason: StopReason) {
        self.halt(reason);
        self.abort.cancel();
    }

    /// Whether workers should stop taking documents.
    pub fn is_draining(&self) -> bool {
        self.drain.is_cancelled()
    }

    /// Resolves once workers should stop taking documents.
    pub async fn drained(&self) {
        self.drain.cancelled().await;
    }

    /// Whether documents in flight should stop waiting (halted or aborted).
    pub fn is_halted(&self) -> bool {
        self.halt.is_cancelled()
    }

    /// Resolves once documents in flight should stop waiting (halted or aborted).
    pub async fn halted(&self) {
        self.halt.cancelled().await;
    }

    /// Resolves once the run is aborted: requests on the wire are abandoned.
    pub async fn aborted(&self) {
        self.abort.cancelled().await;
    }

    /// Why the run was aborted, if it was.
    pub fn reason(&self) -> Option<StopReason> {
        self.reason.get().copied()
    }
}

/// Whether documents are sent or only checked against the referral (`--dry-run`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Send each document as a PATCH.
    #[default]
    Send,
    /// GET each referral and say what the PATCH would do; never PATCH.
    DryRun,
}

/// What steers a run beyond [`super::SendOptions`].
#[derive(Clone)]
pub struct RunControl {
    /// Stop and abort.
    pub stop: Stop,
    /// The ledger's hooks ([`NoHooks`] without one).
    pub hooks: Arc<dyn SendHooks>,
    /// Send or dry run.
    pub mode: Mode,
    /// Read every referral before its PATCH and keep what was read in
    /// [`super::SendResult::before`] (`--undo` needs the values a PATCH replaces).
    pub read_before: bool,
    /// The run's rate gate, where requests went through it before the batch (CRM
    /// lookups): the batch's requests then pass the same limiter rather than start a fresh
    /// one with a full burst. `None`: a gate of its own from `--rate`.
    pub gate: Option<Arc<dyn RateGate>>,
}

impl Default for RunControl {
    fn default() -> Self {
        RunControl {
            stop: Stop::new(),
            hooks: Arc::new(NoHooks),
            mode: Mode::Send,
            read_before: false,
            gate: None,
        }
    }
}

impl std::fmt::Debug for RunControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunControl")
            .field("stop", &self.stop)
            .field("mode", &self.mode)
            .field("read_before", &self.read_before)
            .finish_non_exhaustive()
    }
}
