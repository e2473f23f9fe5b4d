//! Scenario tests of the send stage: a scripted [`Transport`] answers each referral's
//! requests from a queue of canned answers and records what it saw; the pacer does not
//! wait, and tokio's paused clock makes every backoff free while still measurable.

mod auth;
mod conflicts;
mod dry_run;
mod hooks;
mod http;
mod if_match;
mod pacing;
mod retries;
mod stop;

use super::pacer::{NoLimit, RateGate};
use super::token::{Secret, TokenProvider, TokenSource};
use super::transport::{BoxFuture, Method, Request, Response, Transport, TransportError};
use super::workers::{drive, shared};
use super::{
    Batch, ConflictPolicy, IfMatchPolicy, RateLimit, SendError, SendOptions, SendResult, SendStats,
};
use crate::plan::{Document, OpKind, PatchOp};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Options for tests: loopback endpoint, no rate limit, 4 workers, 6 tries.
pub(crate) fn options() -> SendOptions {
    SendOptions {
        endpoint: "http://127.0.0.1:9/v1.0".into(),
        rate: RateLimit::Unlimited,
        burst: 1,
        concurrency: 4,
        max_attempts: 6,
        timeout: Duration::from_secs(30),
        if_match: IfMatchPolicy::Auto,
        on_conflict: ConflictPolicy::Report,
        return_representation: false,
        correlation_id: uuid::Uuid::nil(),
        ca_cert: None,
    }
}

/// One canned answer, optionally after a delay (time in flight).
#[derive(Clone, Debug)]
pub(crate) struct Answer {
    result: Result<Response, TransportError>,
    delay: Duration,
}

/// An answer with `status` and no body.
pub(crate) fn status(status: u16) -> Answer {
    with_body(status, Value::Null)
}

/// An answer with `status` and a JSON body (`null` for none).
pub(crate) fn with_body(status: u16, body: Value) -> Answer {
    let body = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    Answer {
        result: Ok(Response {
            status,
            body,
            ..Response::default()
        }),
        delay: Duration::ZERO,
    }
}

/// A failure without an HTTP answer.
pub(crate) fn failure(error: TransportError) -> Answer {
    Answer {
        result: Err(error),
        delay: Duration::ZERO,
    }
}

/// A 200 to a GET: the referral with `eTag` in its body.
pub(crate) fn referral(etag: &str, body: Value) -> Answer {
    let mut body = body;
    body["eTag"] = json!(etag);
    with_body(200, body)
}

impl Answer {
    /// The same answer with an `ETag` header.
    pub(crate) fn etag(mut self, tag: &str) -> Self {
        if let Ok(response) = &mut self.result {
            response.etag = Some(tag.into());
        }
        self
    }

    /// The same answer with a `Retry-After` header.
    pub(crate) fn retry_after(mut self, value: &str) -> Self {
        if let Ok(response) = &mut self.result {
            response.retry_after = Some(value.into());
        }
        self
    }

    /// The same answer, after `delay` in flight.
    pub(crate) fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A request the scripted transport saw, and when (on tokio's clock).
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub request: Request,
    pub id: String,
    pub at: Instant,
}

impl Seen {
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        let headers = self.request.headers();
        headers
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }
}

/// Answers each referral's requests, in order, from its queue.
#[derive(Default)]
pub(crate) struct Scripted {
    queues: Mutex<HashMap<String, VecDeque<Answer>>>,
    seen: Mutex<Vec<Seen>>,
}

impl Scripted {
    pub(crate) fn new(script: &[(&str, Vec<Answer>)]) -> Arc<Self> {
        let queues = script
            .iter()
            .map(|(id, answers)| (id.to_string(), answers.iter().cloned().collect()));
        Arc::new(Scripted {
            queues: Mutex::new(queues.collect()),
            seen: Mutex::default(),
        })
    }

    /// Every request seen, in order.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// The PATCHes seen.
    pub(crate) fn patches(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.request.method == Method::Patch)
            .collect()
    }

    fn next(&self, request: Request) -> Answer {
        let id = request
            .url
            .as_str()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        self.seen.lock().expect("lock").push(Seen {
            request,
            id: id.clone(),
            at: Instant::now(),
        });
        let mut queues = self.queues.lock().expect("lock");
        let next = queues.get_mut(&id).and_then(VecDeque::pop_front);
        next.unwrap_or_else(|| with_body(599, json!({"code": "script_ran_out", "message": id})))
    }
}

impl Transport for Scripted {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        let answer = self.next(request);
        Box::pin(async move {
            tokio::time::sleep(answer.delay).await;
            answer.result
        })
    }
}

/// A one-op idempotent document: `replace /details/notes`.
pub(crate) fn replace_doc(id: &str) -> Document {
    doc(
        id,
        vec![op(OpKind::Replace, "/details/notes", json!("hello"))],
    )
}

/// A non-idempotent document: append a team member.
pub(crate) fn append_doc(id: &str) -> Document {
    doc(
        id,
        vec![op(OpKind::Add, "/team/-", json!({"email": "new@x.com"}))],
    )
}

pub(crate) fn doc(id: &str, ops: Vec<PatchOp>) -> Document {
    Document {
        id: id.into(),
        if_match: None,
        ops,
        rows: Default::default(),
        merged_duplicates: false,
        by_external_id: false,
    }
}

pub(crate) fn op(op: OpKind, path: &str, value: Value) -> PatchOp {
    PatchOp::new(op, path, &value)
}

/// What a run produced.
pub(crate) struct Ran {
    pub stats: Result<SendStats, SendError>,
    pub results: Vec<SendResult>,
}

/// How a document ended, in short: entry, outcome, error code, PATCHes sent.
pub(crate) type Ending<'a> = (usize, crate::outcome::Outcome, Option<&'a str>, u32);

impl Ran {
    /// How each reported document ended, by entry.
    pub(crate) fn endings(&self) -> Vec<Ending<'_>> {
        self.results
            .iter()
            .map(|r| (r.entry, r.outcome, r.error_code.as_deref(), r.attempts))
            .collect()
    }

    /// The only result (panics in a test that expected one).
    pub(crate) fn one(&self) -> &SendResult {
        assert_eq!(
            self.results.len(),
            1,
            "expected one result: {:?}",
            self.results
        );
        &self.results[0]
    }
}

/// Runs `docs` against `transport` with `options`, a fixed token and no rate limit.
pub(crate) async fn run(
    options: &SendOptions,
    transport: Arc<Scripted>,
    docs: Vec<Document>,
) -> Ran {
    let tokens = Arc::new(TokenProvider::new(TokenSource::Fixed(Secret::new("tok"))));
    run_with(options, transport, tokens, Arc::new(NoLimit), docs).await
}

/// A rate gate handing out one permit every 100 ms of tokio's clock.
#[derive(Default)]
pub(crate) struct Spaced(Mutex<Option<Instant>>);

impl RateGate for Spaced {
    fn until_ready(&self) -> BoxFuture<'_, ()> {
        let mut next = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let slot = next.map_or_else(Instant::now, |n| n.max(Instant::now()));
        *next = Some(slot + Duration::from_millis(100));
        Box::pin(tokio::time::sleep_until(slot))
    }
}

/// A rate gate on tokio's clock that meters as [`super::pacer::GovernorGate`] does (GCRA):
/// fresh, it lets `burst` through at once and then one per `interval`; its one cell of
/// slack refills while it is unused; `restart` starts it afresh, and `set_rate` (whose
/// rate it ignores) empty.
pub(crate) struct Bucket {
    interval: Duration,
    burst: u32,
    /// The theoretical arrival time of the next request.
    tat: Mutex<Instant>,
}

impl Bucket {
    pub(crate) fn new(interval: Duration, burst: u32) -> Self {
        Bucket {
            interval,
            burst,
            tat: Mutex::new(Instant::now() + interval),
        }
    }

    fn tat(&self) -> std::sync::MutexGuard<'_, Instant> {
        self.tat
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl RateGate for Bucket {
    fn until_ready(&self) -> BoxFuture<'_, ()> {
        let now = Instant::now();
        let mut tat = self.tat();
        // burst cells and the slack one.
        let capacity = self.interval * (self.burst + 1);
        let next = (*tat).max(now) + self.interval;
        let at = next.checked_sub(capacity).map_or(now, |at| at.max(now));
        *tat = next;
        Box::pin(tokio::time::sleep_until(at))
    }

    fn set_rate(&self, _per_second: f64) {
        // Empty: the next permit one interval away.
        *self.tat() = Instant::now() + self.interval * (self.burst + 1);
    }

    fn restart(&self) {
        // A fresh limiter with its slack cell taken.
        *self.tat() = Instant::now() + self.interval;
    }
}

/// [`run`] steered by `control` (hooks, stop, mode).
pub(crate) async fn run_controlled(
    options: &SendOptions,
    transport: Arc<Scripted>,
    control: super::RunControl,
    docs: Vec<Document>,
) -> Ran {
    run_gated(options, transport, control, Arc::new(NoLimit), docs).await
}

/// [`run_controlled`] with a rate gate.
pub(crate) async fn run_gated(
    options: &SendOptions,
    transport: Arc<Scripted>,
    control: super::RunControl,
    gate: Arc<dyn RateGate>,
    docs: Vec<Document>,
) -> Ran {
    let tokens = Arc::new(TokenProvider::new(TokenSource::Fixed(Secret::new("tok"))));
    let batch: Batch = docs
        .into_iter()
        .map(std::sync::Arc::new)
        .enumerate()
        .collect();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let stats = match shared(options, transport, tokens, gate) {
        Ok(mut shared) => {
            shared.control = control;
            finished(drive(batch, Arc::new(shared), tx).await)
        }
        Err(error) => Err(error),
    };
    let mut results = Vec::new();
    while let Ok(result) = rx.try_recv() {
        results.push(result);
    }
    results.sort_by_key(|r| r.entry);
    Ran { stats, results }
}

/// The figures of a run, or the error that stopped it.
fn finished((stats, error): (SendStats, Option<SendError>)) -> Result<SendStats, SendError> {
    error.map_or(Ok(stats), Err)
}

/// [`run`] with a given token provider and rate gate.
pub(crate) async fn run_with(
    options: &SendOptions,
    transport: Arc<Scripted>,
    tokens: Arc<TokenProvider>,
    gate: Arc<dyn RateGate>,
    docs: Vec<Document>,
) -> Ran {
    let batch: Batch = docs
        .into_iter()
        .map(std::sync::Arc::new)
        .enumerate()
        .collect();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let stats = match shared(options, transport, tokens, gate) {
        Ok(shared) => finished(drive(batch, Arc::new(shared), tx).await),
        Err(error) => Err(error),
    };
    let mut results = Vec::new();
    while let Ok(result) = rx.try_recv() {
        results.push(result);
    }
    results.sort_by_key(|r| r.entry);
    Ran { stats, results }
}
