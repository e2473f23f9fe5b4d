//! One request carried to a final answer: paced, sent, retried with backoff on transient
//! failures, repeated with a fresh token after a 401.
//!
//! What the answer means for the document (updated, conflict, failed) is not decided
//! here but in `document`; this layer only knows HTTP and the retry policy.
//!
//! An abort of the run ([`super::control::Stop::abort`]) reaches every wait here: the
//! pacer (its `Retry-After` pause included), the request in flight and the backoff sleep.

use super::control::RunControl;
use super::endpoint::Endpoint;
use super::error_body;
use super::pacer::Pacer;
use super::retry::{self, Backoff, Class};
use super::token::{Secret, TokenProvider};
use super::transport::{Method, Request, Response, Transport, TransportError};
use super::{SendError, SendOptions, SendStats};
use reqwest::Url;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

/// Run-wide counters, updated as requests go out.
#[derive(Debug, Default)]
pub struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    on_wire: AtomicU64,
    peak_on_wire: AtomicU64,
}

impl Counters {
    /// The counts so far.
    pub fn snapshot(&self) -> SendStats {
        SendStats {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            peak_in_flight: self.peak_on_wire.load(Ordering::Relaxed),
            ..SendStats::default()
        }
    }

    /// Counts one request on the wire until the guard drops (answered, failed, or
    /// abandoned by an abort).
    fn on_wire(&self) -> OnWire<'_> {
        let now = self.on_wire.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_on_wire.fetch_max(now, Ordering::Relaxed);
        OnWire(self)
    }
}

/// A request between the pacer letting it go and its answer.
struct OnWire<'a>(&'a Counters);

impl Drop for OnWire<'_> {
    fn drop(&mut self) {
        self.0.on_wire.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Everything the workers share for the run.
pub struct Shared {
    /// The run's options.
    pub options: SendOptions,
    /// The checked endpoint.
    pub endpoint: Endpoint,
    /// The HTTP exchange.
    pub transport: Arc<dyn Transport>,
    /// The bearer token.
    pub tokens: Arc<TokenProvider>,
    /// Rate limit, 429 pause and concurrency cap.
    pub pacer: Pacer,
    /// The backoff policy.
    pub backoff: Backoff,
    /// Run-wide counters.
    pub counters: Counters,
    /// Stop signals, ledger hooks, mode.
    pub control: RunControl,
}

/// A request as the document wants it sent; the token is added per try.
#[derive(Clone, Debug)]
pub struct Call {
    /// GET or PATCH.
    pub method: Method,
    /// The referral's URL.
    pub url: Url,
    /// `MS-RequestId`, the same on every try of this call.
    pub request_id: uuid::Uuid,
    /// `If-Match`.
    pub if_match: Option<String>,
    /// The PATCH body.
    pub body: Option<Vec<u8>>,
    /// Nothing of the document has been sent yet (at most reads): a drain may end the call
    /// before its first try, since stopping it then changes nothing on the server. A
    /// document already under way goes on to its outcome.
    pub unstarted: bool,
}

/// What a call does once, just before its first request leaves (see
/// [`Shared::exchange_or_abort`]): a PATCH is recorded in the ledger as in flight.
pub type Announce<'a> = &'a mut (dyn FnMut() -> Result<(), SendError> + Send);

/// How the last try of a call that ran out of tries ended.
#[derive(Clone, Debug, PartialEq)]
pub enum LastTry {
    /// A retryable status (5xx, 408, 429).
    Status(Response),
    /// No answer at all.
    Failed(TransportError),
}

/// Where a call ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Ended {
    /// An answer that another try would not change.
    Answered(Response),
    /// `--max-attempts` tries, all transient failures.
    GaveUp(LastTry),
    /// The run was aborted before an answer came.
    Stopped,
}

/// A call's end and what it took.
#[derive(Clone, Debug, PartialEq)]
pub struct Exchange {
    /// Where it ended.
    pub ended: Ended,
    /// Requests sent, 401 repeats included.
    pub sent: u32,
    /// Of those, the ones answered 401 or 412: refused before anything was applied.
    pub refused: u32,
    /// Whether some try may have been applied without our seeing the answer.
    pub maybe_applied: bool,
    /// The status of the last answer, if any came.
    pub last_status: Option<u16>,
}

/// A call cut short by what stops the run (a second 401, no token), with what it had sent:
/// where every request sent was refused, nothing of it was applied.
#[derive(Debug)]
pub struct Aborted {
    /// What stops the run.
    pub error: SendError,
    /// Requests sent, 401 repeats included.
    pub sent: u32,
    /// Of those, the ones answered 401 or 412.
    pub refused: u32,
    /// The status of the last answer, if any came.
    pub last_status: Option<u16>,
    /// The error code of the last 401 (the API's own, else `http_401`), if one came.
    pub refused_code: Option<String>,
}

/// What a call has taken so far.
#[derive(Default)]
struct Progress {
    sent: u32,
    refused: u32,
    tries: u32,
    maybe_applied: bool,
    last_status: Option<u16>,
    refused_code: Option<String>,
}

impl Progress {
    /// The run was aborted; a PATCH abandoned on the wire may still land on the server.
    fn stopped(mut self, in_flight: bool, call: &Call) -> Exchange {
        self.sent += u32::from(in_flight);
        self.maybe_applied |= in_flight && call.method == Method::Patch;
        self.end(Ended::Stopped)
    }

    fn end(self, ended: Ended) -> Exchange {
        Exchange {
            ended,
            sent: self.sent,
            refused: self.refused,
            maybe_applied: self.maybe_applied,
            last_status: self.last_status,
        }
    }

    fn aborted(&self, error: SendError) -> Aborted {
        Aborted {
            error,
            sent: self.sent,
            refused: self.refused,
            last_status: self.last_status,
            refused_code: self.refused_code.clone(),
        }
    }
}

/// No connection could be made: the request never left.
fn unsent(result: &Result<Response, TransportError>) -> bool {
    matches!(result, Err(TransportError::Connect(_)))
}

/// A 401 or a 412: the server refused the request before applying anything.
fn refused(result: &Result<Response, TransportError>) -> bool {
    result
        .as_ref()
        .is_ok_and(|response| matches!(response.status, 401 | 412))
}

impl Shared {
    /// Sends `call` until a final answer, retries running out, or a second 401.
    pub async fn exchange(&self, call: &Call) -> Result<Exchange, SendError> {
        self.exchange_or_abort(call, None)
            .await
            .map_err(|aborted| aborted.error)
    }

    /// [`Shared::exchange`], saying also, when the run must stop, what the call had sent.
    /// `announce` runs once, when the pacer has let the first try go and just before it
    /// leaves (not while it waits its turn); its error stops the call unsent.
    pub async fn exchange_or_abort(
        &self,
        call: &Call,
        mut announce: Option<Announce<'_>>,
    ) -> Result<Exchange, Aborted> {
        let mut progress = Progress::default();
        loop {
            let sent = self.send_once(call, progress.sent > 0, &mut announce).await;
            let (generation, result) = match sent.map_err(|e| progress.aborted(e))? {
                Try::Done { generation, result } => (generation, result),
                Try::Stopped { in_flight } => return Ok(progress.stopped(in_flight, call)),
            };
            if let Err(TransportError::Certificate(detail)) = &result {
                // No request reached the server, and every other one would meet the same
                // certificate: stop the run rather than retry each document.
                let error = SendError::Certificate(detail.clone());
                return Err(progress.aborted(error));
            }
            // A connection that could not be opened sent nothing: it counts as a try
            // (`--max-attempts`), not as a request.
            progress.sent += u32::from(!unsent(&result));
            progress.refused += u32::from(refused(&result));
            if let Ok(response) = &result {
                progress.last_status = Some(response.status);
                // Every 429 counts, the last try's too, which is not waited on.
                if response.status == 429 {
                    self.counters.throttled.fetch_add(1, Ordering::Relaxed);
                }
                if response.status == 401 {
                    progress.refused_code = Some(error_body::parse(401, &response.body).code);
                }
            }
            if result.as_ref().is_ok_and(|response| response.status != 401) {
                self.tokens.worked(generation);
            }
            match retry::classify(&result, SystemTime::now()) {
                // A halted run fetches no token and repeats nothing; the 401 applied
                // nothing, so the document is left for a later run (`not_sent`).
                Class::Unauthorized if self.control.stop.is_halted() => {
                    return Ok(progress.end(Ended::Stopped));
                }
                // A 401 repeat is not one of the tries.
                Class::Unauthorized => {
                    // A token source may hang (a stuck command, a silent sign-in service):
                    // a halt ends the wait, as it ends every other.
                    let renewed = tokio::select! {
                        biased;
                        () = self.control.stop.halted() => return Ok(progress.end(Ended::Stopped)),
                        renewed = self.tokens.after_401(generation) => renewed,
                    };
                    renewed.map_err(|e| progress.aborted(e))?;
                }
                Class::Final => return Ok(progress.end(final_answer(result))),
                Class::Retry {
                    retry_after,
                    throttled,
                    maybe_applied,
                } => {
                    progress.maybe_applied |= maybe_applied;
                    progress.tries += 1;
                    if progress.tries >= self.options.max_attempts.max(1) {
                        return Ok(progress.end(Ended::GaveUp(last_try(result))));
                    }
                    let retry = progress.tries;
                    if !self.wait_before_retry(retry, retry_after, throttled).await {
                        return Ok(progress.end(Ended::Stopped));
                    }
                }
            }
        }
    }

    /// Waits before the next try; a 429 also pauses every other worker for as long.
    /// False when the run was aborted meanwhile.
    async fn wait_before_retry(
        &self,
        retry: u32,
        retry_after: Option<std::time::Duration>,
        throttled: bool,
    ) -> bool {
        let floor = match (throttled, retry_after) {
            (true, None) => Some(retry::MIN_THROTTLE_PAUSE),
            _ => retry_after,
        };
        let wait = self.backoff.delay(retry, floor);
        if throttled {
            self.pacer.pause_for(wait);
        } else {
            self.pacer.backing_off(wait);
        }
        tracing::debug!(
            retry,
            wait_ms = wait.as_millis() as u64,
            "waiting before retry"
        );
        tokio::select! {
            biased;
            () = self.control.stop.halted() => false,
            () = tokio::time::sleep(wait) => true,
        }
    }

    /// One paced try, counted; the request line is logged without `Authorization`.
    ///
    /// The token is taken once the pacer lets the request go: one taken before the wait
    /// could be replaced meanwhile (a 401 elsewhere), and would be sent already refused.
    async fn send_once(
        &self,
        call: &Call,
        is_retry: bool,
        announce: &mut Option<Announce<'_>>,
    ) -> Result<Try, SendError> {
        let stop = &self.control.stop;
        tokio::select! {
            biased;
            () = stop.halted() => return Ok(Try::Stopped { in_flight: false }),
            () = stop.drained(), if call.unstarted && !is_retry => {
                return Ok(Try::Stopped { in_flight: false });
            }
            () = self.pacer.admit() => {}
        };
        // The token is fetched the first time here, by one worker while the others wait
        // for it; its source may hang, so a stop ends the wait as it ends the pacer's.
        let (generation, token) = tokio::select! {
            biased;
            () = stop.halted() => return Ok(Try::Stopped { in_flight: false }),
            () = stop.drained(), if call.unstarted && !is_retry => {
                return Ok(Try::Stopped { in_flight: false });
            }
            current = self.tokens.current() => current?,
        };
        if let Some(announce) = announce.take() {
            announce()?;
        }
        let request = self.request(call, token.clone());
        tracing::debug!(method = ?call.method, url = %call.url, headers = ?request.headers(), "request");
        let on_wire = self.counters.on_wire();
        let count_sent = || {
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            if is_retry {
                self.counters.retries.fetch_add(1, Ordering::Relaxed);
            }
        };
        let (result, held) = tokio::select! {
            biased;
            () = stop.aborted() => {
                count_sent();
                return Ok(Try::Stopped { in_flight: true });
            }
            sent = self.pacer.on_wire(self.transport.send(request)) => sent,
        };
        drop(on_wire);
        if !unsent(&result) {
            count_sent();
        }
        let result = result.map(|response| response.without_token(&token));
        let status = result.as_ref().ok().map(|response| response.status);
        self.pacer.request_ended(status, held);
        match &result {
            Ok(response) => tracing::debug!(status = response.status, url = %call.url, "response"),
            Err(error) => tracing::debug!(%error, url = %call.url, "no response"),
        }
        Ok(Try::Done { generation, result })
    }

    fn request(&self, call: &Call, token: Secret) -> Request {
        let is_patch = call.method == Method::Patch;
        Request {
            method: call.method,
            url: call.url.clone(),
            token,
            correlation_id: self.options.correlation_id,
            request_id: call.request_id,
            if_match: call.if_match.clone(),
            prefer_representation: is_patch && self.options.return_representation,
            body: call.body.clone(),
        }
    }
}

/// How one try went.
enum Try {
    /// An answer or a transport failure, to a request sent with token `generation`.
    Done {
        generation: u64,
        result: Result<Response, TransportError>,
    },
    /// The run was aborted; `in_flight` when the request had already gone out.
    Stopped { in_flight: bool },
}

/// A final result: an answer, or a request that cannot be sent at all.
fn final_answer(result: Result<Response, TransportError>) -> Ended {
    match result {
        Ok(response) => Ended::Answered(response),
        Err(error) => Ended::GaveUp(LastTry::Failed(error)),
    }
}

fn last_try(result: Result<Response, TransportError>) -> LastTry {
    match result {
        Ok(response) => LastTry::Status(response),
        Err(error) => LastTry::Failed(error),
    }
}
