//! One document's way from plan to outcome: where its `If-Match` comes from, the PATCH
//! and its retries, what a 412 leads to (conflict, refetch, overwrite, or `verified` after
//! a lost response), and the [`SendResult`] it ends in.
//!
//! `MS-RequestId` is fixed per (body, If-Match): every retry of one PATCH carries the same
//! value so the server can replay instead of applying twice; a refetch or an overwrite
//! changes If-Match and so takes a new one.

use super::error_body::{self, ApiError};
use super::exchange::{Call, Ended, LastTry, Shared};
use super::transport::{Method, Response, TransportError};
use super::{ConflictPolicy, IfMatchPolicy, SendError, SendResult, endpoint, verify};
use crate::outcome::{Note, Outcome};
use crate::plan::Document;
use serde_json::Value;
use tokio::time::Instant;

/// A 412 is resolved by refetching at most this many times (SPEC.md "Sending").
const MAX_REFETCHES: u32 = 3;

/// Where a document's first `If-Match` comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IfMatchSource {
    /// This value (or none).
    Use(Option<String>),
    /// Read the referral and use its current ETag.
    Fetch,
}

/// Applies `--if-match` to a document.
pub fn if_match_source(policy: IfMatchPolicy, doc: &Document) -> IfMatchSource {
    match (policy, &doc.if_match) {
        (IfMatchPolicy::Input, tag) => IfMatchSource::Use(tag.clone()),
        (IfMatchPolicy::None, _) => IfMatchSource::Use(None),
        (IfMatchPolicy::Fetch, _) => IfMatchSource::Fetch,
        (IfMatchPolicy::Auto, Some(tag)) => IfMatchSource::Use(Some(tag.clone())),
        (IfMatchPolicy::Auto, None) if !doc.is_idempotent() => IfMatchSource::Fetch,
        (IfMatchPolicy::Auto, None) => IfMatchSource::Use(None),
    }
}

/// How a document ended, before it is written up as a [`SendResult`].
#[derive(Clone, Debug, PartialEq)]
enum End {
    Updated { etag: Option<String> },
    Conflict(ApiError),
    Failed { code: String, message: String },
}

impl End {
    fn failed(code: &str, message: impl Into<String>) -> Self {
        End::Failed {
            code: code.into(),
            message: message.into(),
        }
    }

    /// Fills the outcome and its error or ETag into a result.
    fn write_into(self, result: &mut SendResult) {
        match self {
            End::Updated { etag } => {
                result.outcome = Outcome::Updated;
                result.etag_after = etag;
            }
            End::Conflict(error) => {
                result.outcome = Outcome::Conflict;
                result.error_code = Some(error.code);
                result.error_message = Some(error.message);
            }
            End::Failed { code, message } => {
                result.outcome = Outcome::Failed;
                result.error_code = Some(code);
                result.error_message = Some(message);
            }
        }
    }

    fn refused(response: &Response) -> Self {
        let error = error_body::parse(response.status, &response.body);
        End::Failed {
            code: error.code,
            message: error.message,
        }
    }
}

/// The referral as a GET found it.
struct Current {
    etag: Option<String>,
    body: Value,
}

/// What to do after a 412.
enum Next {
    Resend,
    End(End),
}

/// Sends one document to its outcome; `Err` only for what stops the run.
pub async fn send_document(
    shared: &Shared,
    entry: usize,
    doc: &Document,
) -> Result<SendResult, SendError> {
    let mut run = Run::new(shared, doc);
    let end = run.drive().await?;
    Ok(run.result(entry, end))
}

/// The state of one document in flight.
struct Run<'a> {
    shared: &'a Shared,
    doc: &'a Document,
    url: String,
    body: Vec<u8>,
    started: Instant,
    if_match: Option<String>,
    request_id: uuid::Uuid,
    attempts: u32,
    refetches: u32,
    last_status: Option<u16>,
    patched: Option<(Option<String>, uuid::Uuid)>,
    note: Option<Note>,
}

impl<'a> Run<'a> {
    fn new(shared: &'a Shared, doc: &'a Document) -> Self {
        Run {
            shared,
            doc,
            url: endpoint::referral_url(&shared.endpoint, &doc.id),
            body: doc.patch_json().to_string().into_bytes(),
            started: Instant::now(),
            if_match: None,
            request_id: uuid::Uuid::new_v4(),
            attempts: 0,
            refetches: 0,
            last_status: None,
            patched: None,
            note: None,
        }
    }

    async fn drive(&mut self) -> Result<End, SendError> {
        self.if_match = match if_match_source(self.shared.options.if_match, self.doc) {
            IfMatchSource::Use(tag) => tag,
            IfMatchSource::Fetch => match self.fetch().await? {
                Ok(current) => current.etag,
                Err(end) => return Ok(end),
            },
        };
        loop {
            let (response, maybe_applied) = match self.patch().await? {
                Ok(answer) => answer,
                Err(end) => return Ok(end),
            };
            match response.status {
                200..=299 => {
                    return Ok(End::Updated {
                        etag: etag_after(&response),
                    });
                }
                412 => match self.on_conflict(&response, maybe_applied).await? {
                    Next::Resend => continue,
                    Next::End(end) => return Ok(end),
                },
                _ => return Ok(End::refused(&response)),
            }
        }
    }

    /// Sends the PATCH; an answer with whether an earlier try may have been applied, or
    /// the end when tries ran out.
    async fn patch(&mut self) -> Result<Result<(Response, bool), End>, SendError> {
        let call = Call {
            method: Method::Patch,
            url: self.url.clone(),
            request_id: self.request_id,
            if_match: self.if_match.clone(),
            body: Some(self.body.clone()),
        };
        self.patched = Some((call.if_match.clone(), call.request_id));
        let exchange = self.shared.exchange(&call).await?;
        self.attempts += exchange.sent;
        match exchange.ended {
            Ended::Answered(response) => {
                self.last_status = Some(response.status);
                Ok(Ok((response, exchange.maybe_applied)))
            }
            Ended::GaveUp(last) => Ok(Err(self.gave_up(last, exchange.maybe_applied))),
        }
    }

    /// Reads the referral: its ETag (body `eTag`, else the header) and content.
    async fn fetch(&mut self) -> Result<Result<Current, End>, SendError> {
        let call = Call {
            method: Method::Get,
            url: self.url.clone(),
            request_id: uuid::Uuid::new_v4(),
            if_match: None,
            body: None,
        };
        let response = match self.shared.exchange(&call).await?.ended {
            Ended::Answered(response) => response,
            Ended::GaveUp(last) => return Ok(Err(self.gave_up(last, false))),
        };
        self.last_status = Some(response.status);
        if !(200..300).contains(&response.status) {
            return Ok(Err(End::refused(&response)));
        }
        let Ok(body) = serde_json::from_slice::<Value>(&response.body) else {
            return Ok(Err(End::failed(
                "invalid_response",
                "the API answered the GET of the referral with something that is not JSON",
            )));
        };
        let etag = body.get("eTag").and_then(Value::as_str).map(str::to_string);
        let etag = etag.or(response.etag).map(|tag| quoted(&tag));
        Ok(Ok(Current { etag, body }))
    }

    /// A 412: first, after a lost response, check whether the document already applied;
    /// then follow `--on-conflict`.
    async fn on_conflict(
        &mut self,
        response: &Response,
        maybe_applied: bool,
    ) -> Result<Next, SendError> {
        let mut current = None;
        if maybe_applied {
            match self.fetch().await? {
                Ok(now) if verify::changes_present(&now.body, &self.doc.ops) => {
                    self.note = Some(Note::Verified);
                    return Ok(Next::End(End::Updated { etag: now.etag }));
                }
                Ok(now) => current = Some(now),
                Err(end) => return Ok(Next::End(end)),
            }
        }
        let conflict = || Next::End(End::Conflict(error_body::parse(412, &response.body)));
        if self.if_match.is_none() {
            // A 412 without If-Match: no policy can help, and resending would loop.
            return Ok(conflict());
        }
        match self.shared.options.on_conflict {
            ConflictPolicy::Report => Ok(conflict()),
            ConflictPolicy::Overwrite => {
                self.resend_with(None, Note::Overwritten);
                Ok(Next::Resend)
            }
            ConflictPolicy::Refetch if self.refetches >= MAX_REFETCHES => Ok(conflict()),
            ConflictPolicy::Refetch => self.refetch(current).await,
        }
    }

    /// Re-reads the referral (unless just read), re-checks the document against it and
    /// resends with its new ETag.
    async fn refetch(&mut self, current: Option<Current>) -> Result<Next, SendError> {
        self.refetches += 1;
        let current = match current {
            Some(current) => current,
            None => match self.fetch().await? {
                Ok(current) => current,
                Err(end) => return Ok(Next::End(end)),
            },
        };
        if let Err(mismatch) = verify::recheck(&current.body, self.doc) {
            return Ok(Next::End(End::failed(mismatch.code, mismatch.message)));
        }
        let Some(etag) = current.etag else {
            let message =
                "the referral changed (412) and its new version shows no eTag to retry with";
            return Ok(Next::End(End::Conflict(ApiError {
                code: "http_412".into(),
                message: message.into(),
            })));
        };
        self.resend_with(Some(etag), Note::Refetched);
        Ok(Next::Resend)
    }

    /// A new If-Match is a new request as far as the server's replay goes.
    fn resend_with(&mut self, if_match: Option<String>, note: Note) {
        self.if_match = if_match;
        self.request_id = uuid::Uuid::new_v4();
        self.note = Some(note);
    }

    /// The end of a call whose tries ran out. An append that may have been applied is
    /// never resent blindly: its outcome is unknown and the user must look.
    fn gave_up(&mut self, last: LastTry, maybe_applied: bool) -> End {
        if let LastTry::Status(response) = &last {
            self.last_status = Some(response.status);
        }
        let tries = self.shared.options.max_attempts.max(1);
        if maybe_applied && !self.doc.is_idempotent() {
            let message = format!(
                "the answer to an append was lost and {tries} tries did not settle whether it was \
                 applied; it is not resent: check referral {} before sending it again",
                self.doc.id
            );
            return End::failed("outcome_unknown", message);
        }
        exhausted(last, tries)
    }

    fn result(self, entry: usize, end: End) -> SendResult {
        let (if_match_sent, request_id) = match self.patched {
            Some((tag, id)) => (tag, Some(id)),
            None => (None, None),
        };
        // The report joins this with `merged-duplicates`, which the plan already knows.
        let note = self.note;
        let mut result = SendResult {
            entry,
            outcome: Outcome::Failed,
            http_status: self.last_status,
            attempts: self.attempts,
            if_match_sent,
            etag_after: None,
            error_code: None,
            error_message: None,
            note,
            request_id,
            duration: self.started.elapsed(),
        };
        end.write_into(&mut result);
        result
    }
}

/// The end of a call whose `tries` all failed transiently, saying what the last one got.
fn exhausted(last: LastTry, tries: u32) -> End {
    let gave_up = format!("gave up after {tries} tries");
    match last {
        LastTry::Failed(TransportError::Timeout) => End::failed(
            "timeout",
            format!("{gave_up}; the last one got no answer within --timeout"),
        ),
        LastTry::Failed(TransportError::Invalid(why)) => End::failed("request_invalid", why),
        LastTry::Failed(error) => End::failed(
            "retries_exhausted",
            format!("{gave_up}; the last one: {error}"),
        ),
        LastTry::Status(response) => {
            let reason = error_body::reason(response.status);
            let detail = error_body::parse(response.status, &response.body).message;
            let detail = if detail == reason {
                String::new()
            } else {
                format!(": {detail}")
            };
            End::failed(
                "retries_exhausted",
                format!("{gave_up}; the last answer was {reason}{detail}"),
            )
        }
    }
}

/// The applied document's ETag: the `ETag` header, else the returned body's `eTag`.
fn etag_after(response: &Response) -> Option<String> {
    let from_body = || {
        serde_json::from_slice::<Value>(&response.body)
            .ok()?
            .get("eTag")?
            .as_str()
            .map(str::to_string)
    };
    response.etag.clone().or_else(from_body)
}

/// An ETag in its quoted form, as `If-Match` needs it (a weak `W/"…"` tag stays as is).
fn quoted(tag: &str) -> String {
    if tag.starts_with('"') || tag.starts_with("W/\"") {
        tag.to_string()
    } else {
        format!("\"{tag}\"")
    }
}
