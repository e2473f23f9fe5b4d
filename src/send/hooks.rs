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

    /// Called before each PATCH call (once per request ID and If-Match, not again for the
    /// retries of that call, which carry the same values). An `Err` stops the run before
    /// the PATCH goes out: a request that cannot be recorded must not be sent.
    /// `undo_before` is the referral as read before it under `--undo`, kept so that a
    /// resume that finds the PATCH applied can still write the undo line.
    fn before_patch(
        &self,
        entry: usize,
        request_id: Uuid,
        if_match: Option<&str>,
        undo_before: Option<&Value>,
    ) -> Result<(), String>;

    /// The referral as an earlier run read it before the PATCH it left in flight, where
    /// `--undo` recorded it.
    fn earlier_undo_before(&self, _entry: usize) -> Option<Value> {
        None
    }

    /// Called when the run stops before the document's outcome is known and nothing of it
    /// can have been applied: the PATCH announced by `before_patch` with `request_id` never
    /// went out (the run stopped while it waited its turn) or was refused (401, 412), as
    /// was every PATCH the document sent before it, and no earlier run left it in flight.
    fn patch_not_sent(&self, _entry: usize, _request_id: Uuid) -> Result<(), String> {
        Ok(())
    }
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

    fn before_patch(
        &self,
        _: usize,
        _: Uuid,
        _: Option<&str>,
        _: Option<&Value>,
    ) -> Result<(), String> {
        Ok(())
    }
}
