//! The seam through which a ledger follows the send stage: it makes each document's
//! `MS-RequestId` durable before the PATCH that carries it, and tells a resumed run which
//! request ID to reuse and which documents were in flight when the last process died.
//!
//! The send stage knows nothing of SQLite; [`NoHooks`] is the run without a ledger.

use serde_json::Value;
use uuid::Uuid;

/// What the send stage asks of (and tells) a ledger, per plan entry.
pub trait SendHooks: Send + Sync {
    /// The `MS-RequestId` an earlier run used for this entry, to reuse on a resume so the
    /// server can replay instead of applying twice.
    fn request_id(&self, entry: usize) -> Option<Uuid>;

    /// The `If-Match` that earlier request carried: a resume that sends another one (or
    /// another body) is another request, with a new `MS-RequestId`.
    fn earlier_if_match(&self, _entry: usize) -> Option<String> {
        None
    }

    /// Whether an earlier run sent this entry's PATCH without learning how it ended: the
    /// referral is then read first and the document sent only if its changes are missing.
    fn was_in_flight(&self, entry: usize) -> bool;

    /// The PATCHes of this entry that earlier runs sent (the one they left in flight
    /// counted), which its `attempts` include.
    fn earlier_sent(&self, _entry: usize) -> u32 {
        0
    }

    /// Called before each PATCH call leaves, once the rate limiter has let it go (once per
    /// request ID and If-Match, not again for the retries of that call, which carry the
    /// same values). An `Err` stops the run before the PATCH goes out: a request that
    /// cannot be recorded must not be sent.
    fn before_patch(&self, entry: usize, call: &PatchCall<'_>) -> Result<(), String>;

    /// The referral as an earlier run read it before the PATCH it left in flight, where
    /// `--undo` recorded it.
    fn earlier_undo_before(&self, _entry: usize) -> Option<Value> {
        None
    }

    /// Called when the run stops before the document's outcome is known and nothing of it
    /// can have been applied: the PATCH with `request_id` never went out or was refused
    /// (401, 412), as was every PATCH the document sent before it, and no earlier run
    /// left it in flight.
    fn patch_not_sent(&self, _entry: usize, _request_id: Uuid) -> Result<(), String> {
        Ok(())
    }
}

/// A PATCH call about to leave, as [`SendHooks::before_patch`] sees it.
#[derive(Clone, Copy, Debug)]
pub struct PatchCall<'a> {
    /// Its `MS-RequestId`.
    pub request_id: Uuid,
    /// Its `If-Match`, if any.
    pub if_match: Option<&'a str>,
    /// The referral as read before it under `--undo`, kept so that a resume that finds
    /// the PATCH applied can still write the undo line.
    pub undo_before: Option<&'a Value>,
    /// The PATCHes of the document sent before this call, earlier runs' included.
    pub sent_before: u32,
}

/// A run without a ledger: fresh request IDs, nothing in flight, nothing recorded.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHooks;

impl SendHooks for NoHooks {
    fn request_id(&self, _entry: usize) -> Option<Uuid> {
        None
    }

    fn was_in_flight(&self, _entry: usize) -> bool {
        false
    }

    fn before_patch(&self, _: usize, _: &PatchCall<'_>) -> Result<(), String> {
        Ok(())
    }
}
