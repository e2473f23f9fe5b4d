//! Send: turns each valid patch document into one `PATCH`, through one rate limiter, with
//! retries, If-Match policy, conflict handling and token refresh.
//!
//! A document's failure is data ([`SendResult`]); an `Err` ([`SendError`]) is only for what
//! stops the whole run (a second 401, 403 on every first request, no token, a server
//! certificate that is not trusted, a ledger that cannot record). [`RunControl`] steers a run from outside: stop and deadline, the
//! ledger's hooks, and the dry run.

pub mod adaptive;
pub mod control;
mod document;
mod dry_run;
mod end;
pub mod endpoint;
pub mod error_body;
mod exchange;
pub mod hooks;
pub mod lookup;
pub mod members;
mod overdue;
pub mod pacer;
mod read;
pub mod retry;
pub mod token;
pub mod transport;
mod turns;
mod verify;
mod workers;

#[cfg(test)]
pub(crate) mod tests;

pub use control::{Mode, RunControl, Stop, StopReason};
pub use endpoint::{EndpointError, check_endpoint, proxied_unless_loopback};
pub use hooks::{NoHooks, PatchCall, SendHooks};
pub use token::{Secret, TokenProvider, TokenSource};
pub use transport::{HttpTransport, Transport, TransportError};
pub use workers::{StoppedRun, send_all, send_all_until, send_all_with};

use crate::outcome::{Note, Outcome};
use crate::plan::Document;
use std::time::Duration;

/// A client-side rate limit (`--rate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateLimit {
    /// No limit.
    Unlimited,
    /// `count` requests per `period`.
    Every {
        /// Requests allowed per period (at least 1).
        count: u32,
        /// The period: one second, minute or hour.
        period: Duration,
    },
}

/// Where `If-Match` comes from (`--if-match`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IfMatchPolicy {
    /// `input` where the input has an ETag, else `fetch` for non-idempotent documents.
    #[default]
    Auto,
    /// The ETag given in the input, if any.
    Input,
    /// Read the referral first and send its current ETag.
    Fetch,
    /// Never send If-Match.
    None,
}

/// What a 412 does (`--on-conflict`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ConflictPolicy {
    /// Record it as `conflict`.
    #[default]
    Report,
    /// Re-read, re-check, retry with the new ETag, at most 3 times.
    Refetch,
    /// Retry without If-Match.
    Overwrite,
}

/// Everything the send stage needs to know, resolved from flags, env and config.
#[derive(Clone, Debug)]
pub struct SendOptions {
    /// API base, `/v1.0` included, without a trailing slash.
    pub endpoint: String,
    /// `--rate`.
    pub rate: RateLimit,
    /// `--burst`.
    pub burst: u32,
    /// `--concurrency`: the cap on requests in flight.
    pub concurrency: usize,
    /// `--max-attempts`: tries per request, the first included.
    pub max_attempts: u32,
    /// `--timeout`: per request.
    pub timeout: Duration,
    /// `--if-match`.
    pub if_match: IfMatchPolicy,
    /// `--on-conflict`.
    pub on_conflict: ConflictPolicy,
    /// `--return-representation`.
    pub return_representation: bool,
    /// `MS-CorrelationId`: one per run.
    pub correlation_id: uuid::Uuid,
    /// `--ca-cert`: an extra trusted root (PEM).
    pub ca_cert: Option<std::path::PathBuf>,
}

/// How one document ended, for the report.
#[derive(Clone, Debug, PartialEq)]
pub struct SendResult {
    /// The document's index in the plan's entries.
    pub entry: usize,
    /// Its outcome.
    pub outcome: Outcome,
    /// The status of the last answer to the document's PATCH. Where no PATCH was answered,
    /// that of the GET whose answer ended the document (a 404, a 403, a 5xx until tries
    /// ran out), else none. A dry run gives its GET's status for `planned` and
    /// `unchanged`, and the status the PATCH would get where it predicts a refusal (412,
    /// 400).
    pub http_status: Option<u16>,
    /// PATCH requests sent, a repeat after a 401 included (GETs not counted).
    pub attempts: u32,
    /// The `If-Match` value of the last PATCH, if it had one.
    pub if_match_sent: Option<String>,
    /// The ETag the API returned for the applied document.
    pub etag_after: Option<String>,
    /// The API's error code, `http_<status>`, or one of the sending codes.
    pub error_code: Option<String>,
    /// What went wrong, for a user (capped; never a secret).
    pub error_message: Option<String>,
    /// How the outcome was reached where that is not plain.
    pub note: Option<Note>,
    /// The conflict policy's note (`refetched`, `overwritten`) where a later lost answer
    /// was then verified: the report gives both.
    pub resolved_by: Option<Note>,
    /// The `MS-RequestId` of the last PATCH.
    pub request_id: Option<uuid::Uuid>,
    /// Wall time from the first request to the outcome.
    pub duration: Duration,
    /// The referral as read just before the PATCH that applied the document; only with
    /// [`RunControl::read_before`] (`--undo`), only where the document was applied (its
    /// answer seen, or lost and verified), and read before any PATCH of it in this run.
    pub before: Option<serde_json::Value>,
    /// A dry run's field-level diff: `[{"path", "from", "to"}, …]`.
    pub changes: Option<serde_json::Value>,
}

/// Run-wide counters for the summary.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SendStats {
    /// Requests sent (GET and PATCH, retries included).
    pub requests: u64,
    /// Retries (requests beyond each one's first attempt).
    pub retries: u64,
    /// 429 answers received.
    pub throttled: u64,
    /// The most requests on the wire at once: let go by the rate limiter and not yet
    /// answered (GETs and PATCHes alike).
    pub peak_in_flight: u64,
    /// The rate in force at the end, where 429s made the run lower it (requests per
    /// second); `None` where it kept `--rate`.
    pub adapted_rate: Option<f64>,
}

impl SendStats {
    /// Counts `earlier`'s requests in too: a stage sent before this one (the lookups of
    /// CRM IDs before the PATCHes). The adapted rate is this stage's where it has one.
    pub fn add_earlier(&mut self, earlier: &SendStats) {
        self.requests += earlier.requests;
        self.retries += earlier.retries;
        self.throttled += earlier.throttled;
        self.peak_in_flight = self.peak_in_flight.max(earlier.peak_in_flight);
        self.adapted_rate = self.adapted_rate.or(earlier.adapted_rate);
    }
}

/// What stops a whole run.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No token could be had.
    #[error("{0}")]
    Token(String),
    /// A request repeated with a freshly fetched token got 401 again.
    #[error(
        "the API refused the token twice (401), {0}; check that the token is for https://api.partner.microsoft.com and has not expired or been revoked"
    )]
    Unauthorized(&'static str),
    /// Every one of the first requests got 403.
    #[error(
        "the API answered 403 Forbidden to every request; the signed-in user needs the Referral Admin, Referral User or Global Admin role in Partner Center"
    )]
    Forbidden,
    /// The server's TLS certificate was not trusted: every request would fail the same
    /// way, so the run stops instead of retrying each document.
    #[error("the server's TLS certificate is not trusted: {}", transport::certificate_advice(.0))]
    Certificate(String),
    /// The HTTP client could not be built (bad `--ca-cert`, TLS setup).
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
    /// The endpoint is refused before any connection (plain http to a remote host, …).
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// A page of the referrals' listing links its next page off the endpoint's origin:
    /// following it would send the token elsewhere.
    #[error(
        "the API's @odata.nextLink {link:?} leaves the endpoint {endpoint}; refusing to send the token there"
    )]
    ForeignLink {
        /// The link as the API gave it.
        link: String,
        /// The endpoint in use.
        endpoint: String,
    },
    /// A [`SendHooks::before_patch`] refused (the ledger could not record the request):
    /// the PATCH is not sent and the run stops.
    #[error("cannot record the request before sending it: {0}")]
    Hook(String),
}

/// The plan entries to send: (index in the plan, document).
pub type Batch = Vec<(usize, std::sync::Arc<Document>)>;
