//! One document's way from plan to outcome: where its `If-Match` comes from, what the
//! referral as read says before sending (already applied, members already in the team),
//! the PATCH and its retries, what a 412 leads to (conflict, refetch, overwrite, or
//! `verified` after a lost response), and the [`SendResult`] it ends in.
//!
//! `MS-RequestId` is fixed per (body, If-Match): every retry of one PATCH carries the same
//! value so the server can replay instead of applying twice; a refetch or an overwrite
//! changes If-Match and so takes a new one. A resumed run reuses the ledger's.

use super::end::{End, etag_after, exhausted, unreached};
use super::error_body::{self, ApiError};
use super::exchange::{Call, Ended, LastTry, Shared};
use super::read::{Current, Sent, read};
use super::transport::{Method, Response};
use super::{ConflictPolicy, IfMatchPolicy, PatchCall, SendError, SendResult, members, verify};
use crate::outcome::{Note, Outcome};
use crate::plan::{Document, patch_body};
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
) -> Result<SendResult, StoppedBy> {
    let mut run = Run::new(shared, entry, doc);
    match run.drive().await {
        Ok(end) => Ok(run.result(end)),
        Err(SendError::Unauthorized(source)) if run.attempts > 0 => {
            // Its PATCH, repeated with a fresh token, was refused again: the report shows
            // what it sent, and the 401's code. Nothing of it applied, and the ledger
            // leaves it open for a resumed run to send again (`ledger_run`).
            run.last_status = Some(401);
            let end = End::failed(&run.refused_code(), refused_token_message(run.attempts));
            Err(StoppedBy {
                error: SendError::Unauthorized(source),
                result: Some(run.result(end)),
            })
        }
        Err(error @ SendError::Token(_)) if run.last_status == Some(401) => {
            // Its PATCH was refused (401) and no new token could be had: the row shows
            // the PATCH it sent.
            let end = End::failed(
                &run.refused_code(),
                "the API refused the token for this document's PATCH (401), no new token \
                 could be had, and the run stopped: nothing of it was applied; send it again",
            );
            Err(StoppedBy {
                error,
                result: Some(run.result(end)),
            })
        }
        Err(error) => Err(error.into()),
    }
}

/// Why a document whose PATCH met the second 401 was not applied, for its report row:
/// its first PATCH may have gone with a token another request already found refused.
fn refused_token_message(attempts: u32) -> &'static str {
    match attempts {
        1 => {
            "the API refused the token for this document's PATCH (401), a token fetched \
             after another request's 401, and the run stopped: nothing of it was applied; \
             send it again"
        }
        _ => {
            "the API refused the token for this document's PATCH twice (401), the second \
             time just after fetching a fresh one, and the run stopped: nothing of it was \
             applied; send it again"
        }
    }
}

/// What stops the run as a document is sent: the error, and the document's own result
/// where it has one to report (the PATCH that the API refused twice with 401).
#[derive(Debug)]
pub struct StoppedBy {
    /// Why the run stops.
    pub error: SendError,
    /// The document's result, if it sent anything.
    pub result: Option<SendResult>,
}

impl From<SendError> for StoppedBy {
    fn from(error: SendError) -> Self {
        StoppedBy {
            error,
            result: None,
        }
    }
}

/// What a read after tries whose answers were lost found.
enum AfterAll {
    /// Every change is there: the document's end.
    Applied(End),
    /// The referral does not hold the changes (yet).
    Absent,
    /// It could not be read.
    Unread,
}

/// The state of one document in flight.
struct Run<'a> {
    shared: &'a Shared,
    entry: usize,
    doc: &'a Document,
    url: reqwest::Url,
    body: Vec<u8>,
    started: Instant,
    if_match: Option<String>,
    request_id: uuid::Uuid,
    attempts: u32,
    /// The PATCHes earlier runs sent (a resumed document's), which `attempts` omits.
    earlier_sent: u32,
    /// Of the attempts, those refused (401, 412) before anything was applied.
    refused: u32,
    refetches: u32,
    /// The report's `http_status`: the last PATCH answer's (see [`Run::fetch`]).
    last_status: Option<u16>,
    /// The error code of the last 401 its PATCH got, where one came.
    refused_code: Option<String>,
    patched: Option<(Option<String>, uuid::Uuid)>,
    /// The request ID of the last PATCH call recorded in flight (by
    /// [`super::SendHooks::before_patch`]) in this run, if any was.
    announced: Option<uuid::Uuid>,
    note: Option<Note>,
    /// The conflict policy's note when a later verification took `note`'s place.
    resolved_by: Option<Note>,
    before: Option<Value>,
}

impl<'a> Run<'a> {
    fn new(shared: &'a Shared, entry: usize, doc: &'a Document) -> Self {
        let hooks = &shared.control.hooks;
        Run {
            shared,
            entry,
            doc,
            url: shared.endpoint.referral_url(&doc.id),
            body: doc.patch_body(),
            started: Instant::now(),
            if_match: None,
            request_id: hooks.request_id(entry).unwrap_or_else(uuid::Uuid::new_v4),
            attempts: 0,
            earlier_sent: hooks.earlier_sent(entry),
            refused: 0,
            refetches: 0,
            last_status: None,
            refused_code: None,
            patched: None,
            announced: None,
            note: None,
            resolved_by: None,
            before: None,
        }
    }

    /// The `error_code` of a document whose PATCH the API refused with 401 before the
    /// run stopped: the 401's own code, else `http_401`.
    fn refused_code(&self) -> String {
        self.refused_code
            .clone()
            .unwrap_or_else(|| "http_401".into())
    }

    async fn drive(&mut self) -> Result<End, SendError> {
        if let Some(end) = self.prepare().await? {
            return Ok(end);
        }
        loop {
            let (response, maybe_applied) = match self.patch().await? {
                Ok(answer) => answer,
                Err(end) => return Ok(end),
            };
            match response.status {
                200..=299 => {
                    let etag = match etag_after(&response) {
                        None if self.shared.control.read_before => self.etag_read_after().await,
                        etag => etag,
                    };
                    return Ok(End::Updated { etag });
                }
                412 => match self.on_conflict(&response, maybe_applied).await? {
                    Next::Resend => continue,
                    Next::End(end) => return Ok(end),
                },
                _ => return Ok(End::refused(&response)),
            }
        }
    }

    /// Before the first PATCH: sets If-Match and, where the policy, a resume or `--undo`
    /// needs the referral, reads it and settles what is already there.
    async fn prepare(&mut self) -> Result<Option<End>, SendError> {
        let source = if_match_source(self.shared.options.if_match, self.doc);
        let in_flight = self.shared.control.hooks.was_in_flight(self.entry);
        let must_read =
            source == IfMatchSource::Fetch || in_flight || self.shared.control.read_before;
        if let IfMatchSource::Use(tag) = source.clone() {
            self.if_match = tag;
        }
        if !must_read {
            return Ok(None);
        }
        let sent = if in_flight {
            Sent::MaybeApplied
        } else {
            Sent::Nothing
        };
        let current = match self.fetch(sent).await? {
            Ok(current) => current,
            Err(end) if in_flight => return Ok(Some(self.unread_in_flight(end))),
            Err(end) => return Ok(Some(end)),
        };
        if source == IfMatchSource::Fetch || self.guards_what_undo_read() {
            self.if_match = current.etag.clone();
            if self.if_match.is_none() && !self.doc.is_idempotent() {
                tracing::warn!(
                    id = %self.doc.id,
                    "the referral was read without an ETag, so its append goes without If-Match: \
                     a resend after a lost answer could append twice"
                );
            }
        }
        let settled = self.settle(current, in_flight);
        if settled.is_none() && in_flight {
            self.renew_request_id_if_changed();
        }
        Ok(settled)
    }

    /// The ETag of the referral as read after its PATCH applied, for `--undo` when the
    /// answer named none (a bare 204, as the API's own example shows): the undo line is
    /// guarded by it. `None` when the read fails or no longer shows the changes (another
    /// writer came in between, whose version the line must not guard). What stops the run
    /// meanwhile (a second 401) is left to the next request: this document is applied.
    async fn etag_read_after(&self) -> Option<String> {
        let read = read(self.shared, &self.url, Sent::MaybeApplied)
            .await
            .ok()?;
        match read.current {
            Ok(now) if verify::changes_present(&now.body, &self.doc.ops) => now.etag,
            _ => None,
        }
    }

    /// Whether the PATCH must carry the ETag just read for `--undo`, where `auto` would
    /// send none: the undo line puts back the values read, which holds only if the PATCH
    /// changes that very version. Unguarded, another writer's edit between the read and
    /// the PATCH was overwritten, and the undo line then reverted it as well.
    fn guards_what_undo_read(&self) -> bool {
        self.shared.control.read_before
            && self.shared.options.if_match == IfMatchPolicy::Auto
            && self.if_match.is_none()
    }

    /// A resumed document keeps the `MS-RequestId` of its earlier PATCH only while it is
    /// the same request: the same `If-Match` and the same body (members found already in
    /// the team are dropped from it). Otherwise a stored answer to the old request must
    /// not be replayed for the new one.
    fn renew_request_id_if_changed(&mut self) {
        let hooks = &self.shared.control.hooks;
        let same_if_match = hooks.earlier_if_match(self.entry) == self.if_match;
        let same_body = self.body == self.doc.patch_body();
        if !(same_if_match && same_body) {
            self.request_id = uuid::Uuid::new_v4();
        }
    }

    /// What the referral as read says before sending: a document whose changes are all
    /// there is `updated`/`verified` when an earlier run sent it, else `unchanged`; the
    /// appends of members already in the team are dropped from what is sent.
    fn settle(&mut self, current: Current, in_flight: bool) -> Option<End> {
        if verify::changes_present(&current.body, &self.doc.ops) {
            if in_flight {
                self.verified();
                // Read after the earlier run's PATCH applied: what it replaced is what
                // that run read before sending, if it recorded it.
                if self.shared.control.read_before {
                    self.before = self.shared.control.hooks.earlier_undo_before(self.entry);
                }
                return Some(End::Updated { etag: current.etag });
            }
            return Some(End::Unchanged);
        }
        self.keep_pending(&current.body);
        if self.shared.control.read_before {
            self.before = Some(current.body);
        }
        None
    }

    /// Sends only the operations the referral still lacks (members not yet in the team).
    fn keep_pending(&mut self, referral: &Value) {
        let pending = members::pending_ops(referral, &self.doc.ops);
        if pending.len() != self.doc.ops.len() {
            self.body = patch_body(&pending);
        }
    }

    /// Sends the PATCH; an answer with whether an earlier try may have been applied, or
    /// the end when tries ran out or the run stopped.
    async fn patch(&mut self) -> Result<Result<(Response, bool), End>, SendError> {
        let call = Call {
            method: Method::Patch,
            url: self.url.clone(),
            request_id: self.request_id,
            if_match: self.if_match.clone(),
            body: Some(self.body.clone()),
            unstarted: self.attempts == 0,
        };
        let hooks = &self.shared.control.hooks;
        let announced = PatchCall {
            request_id: call.request_id,
            if_match: call.if_match.as_deref(),
            undo_before: self.before.as_ref(),
            sent_before: self.earlier_sent + self.attempts,
        };
        let entry = self.entry;
        // Recorded once the pacer lets the PATCH go, not while it waits its turn: a
        // process killed meanwhile leaves no PATCH in flight that never left.
        let mut recorded = false;
        let mut announce = || {
            hooks
                .before_patch(entry, &announced)
                .map_err(SendError::Hook)?;
            recorded = true;
            Ok(())
        };
        self.patched = Some((call.if_match.clone(), call.request_id));
        let exchanged = self
            .shared
            .exchange_or_abort(&call, Some(&mut announce))
            .await;
        if recorded {
            self.announced = Some(call.request_id);
        }
        let exchange = match exchanged {
            Ok(exchange) => exchange,
            Err(aborted) => {
                self.attempts += aborted.sent;
                self.refused += aborted.refused;
                self.last_status = aborted.last_status.or(self.last_status);
                self.refused_code = aborted.refused_code.or(self.refused_code.take());
                self.take_back_if_unapplied()?;
                return Err(aborted.error);
            }
        };
        self.attempts += exchange.sent;
        self.refused += exchange.refused;
        match exchange.ended {
            Ended::Answered(response) => {
                self.last_status = Some(response.status);
                Ok(Ok((response, exchange.maybe_applied)))
            }
            Ended::GaveUp(last) => Ok(Err(self.gave_up(last, exchange.maybe_applied).await?)),
            Ended::Stopped => {
                // A 401 answered before the stop is the last answer its PATCH got.
                self.last_status = exchange.last_status.or(self.last_status);
                self.take_back_if_unapplied()?;
                let reason = self.shared.control.stop.reason();
                Ok(Err(End::stopped(reason, self.sent(exchange.maybe_applied))))
            }
        }
    }

    /// The run stops before this document's outcome is known: where none of its PATCHes
    /// can have been applied — none sent, or each refused (401, 412) — in this run and in
    /// an earlier one, its in-flight record is taken back, so a resume sends it without
    /// reading the referral first.
    fn take_back_if_unapplied(&self) -> Result<(), SendError> {
        let hooks = &self.shared.control.hooks;
        let Some(request_id) = self.announced else {
            return Ok(());
        };
        if self.attempts > self.refused || hooks.was_in_flight(self.entry) {
            return Ok(());
        }
        hooks
            .patch_not_sent(self.entry, request_id)
            .map_err(SendError::Hook)
    }

    /// How far the document got, for a stop: whether a PATCH of it had left, and whether
    /// the last one (`maybe_applied`) may have landed unseen.
    fn sent(&self, maybe_applied: bool) -> Sent {
        match (maybe_applied, self.attempts) {
            (true, _) => Sent::MaybeApplied,
            (false, 0) => Sent::Nothing,
            (false, _) => Sent::Refused,
        }
    }

    /// Reads the referral. The report's `http_status` is that of the last PATCH answer;
    /// a GET's status stands in only where no PATCH was answered and the GET ended the
    /// document (a 404, a 403, tries run out), since its error is the one reported.
    async fn fetch(&mut self, sent: Sent) -> Result<Result<Current, End>, SendError> {
        let read = read(self.shared, &self.url, sent).await?;
        if read.current.is_err() {
            self.last_status = self.last_status.or(read.status);
        }
        Ok(read.current)
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
            match self.fetch(Sent::MaybeApplied).await? {
                Ok(now) if verify::changes_present(&now.body, &self.doc.ops) => {
                    self.verified();
                    return Ok(Next::End(End::Updated { etag: now.etag }));
                }
                Ok(now) => current = Some(now),
                Err(end) => return Ok(Next::End(self.unsettled(end))),
            }
        }
        let conflict = || Next::End(End::Conflict(error_body::parse(412, &response.body)));
        if self.if_match.is_none() {
            // A 412 without If-Match: no policy can help, and resending would loop.
            return Ok(conflict());
        }
        match self.shared.options.on_conflict {
            ConflictPolicy::Report => Ok(conflict()),
            ConflictPolicy::Overwrite => self.overwrite(current).await,
            ConflictPolicy::Refetch if self.refetches >= MAX_REFETCHES => Ok(conflict()),
            ConflictPolicy::Refetch => self.refetch(current).await,
        }
    }

    /// Resends without If-Match. Under `--undo` the referral is read again first (unless
    /// just read): the undo line must put back what the overwrite replaces, another
    /// writer's values, not those read before the 412.
    async fn overwrite(&mut self, current: Option<Current>) -> Result<Next, SendError> {
        if self.shared.control.read_before {
            match self.read_after_412(current).await? {
                Ok(current) => self.before = Some(current.body),
                Err(end) => return Ok(Next::End(end)),
            }
        }
        self.resend_with(None, Note::Overwritten, true);
        Ok(Next::Resend)
    }

    /// The referral after a 412 refused the PATCH: `current` where it was just read (to
    /// check a lost answer), else read now; or the end when it cannot be read.
    async fn read_after_412(
        &mut self,
        current: Option<Current>,
    ) -> Result<Result<Current, End>, SendError> {
        match current {
            Some(current) => Ok(Ok(current)),
            None => self.fetch(Sent::Refused).await,
        }
    }

    /// Re-reads the referral (unless just read), re-checks the document against it and
    /// resends with its new ETag.
    async fn refetch(&mut self, current: Option<Current>) -> Result<Next, SendError> {
        self.refetches += 1;
        let current = match self.read_after_412(current).await? {
            Ok(current) => current,
            Err(end) => return Ok(Next::End(end)),
        };
        // Whatever the re-check finds, the report says the referral was read again.
        self.note = Some(Note::Refetched);
        if let Err(mismatch) = verify::recheck(&current.body, self.doc) {
            let end = End::failed(mismatch.code(), mismatch.after_refetch());
            return Ok(Next::End(end));
        }
        let Some(etag) = current.etag.clone() else {
            let message =
                "the referral changed (412) and its new version shows no eTag to retry with";
            return Ok(Next::End(End::Conflict(ApiError {
                code: "http_412".into(),
                message: message.into(),
            })));
        };
        let body = self.body.clone();
        if let Some(end) = self.settle(current, false) {
            return Ok(Next::End(end));
        }
        let same_body = self.body == body;
        self.resend_with(Some(etag), Note::Refetched, same_body);
        Ok(Next::Resend)
    }

    /// Resends with `if_match`: a new request as far as the server's replay goes, with a
    /// new `MS-RequestId`, unless its If-Match and (`same_body`) its body are the last
    /// PATCH's.
    fn resend_with(&mut self, if_match: Option<String>, note: Note, same_body: bool) {
        if !(same_body && if_match == self.if_match) {
            self.request_id = uuid::Uuid::new_v4();
        }
        self.if_match = if_match;
        self.note = Some(note);
    }

    /// The end of a call whose tries ran out. Where a try may have been applied unseen,
    /// the referral is read once: holding every change, the document was applied after
    /// all. Otherwise an append that may have been applied is never resent blindly: its
    /// outcome is unknown and the user must look.
    async fn gave_up(&mut self, last: LastTry, maybe_applied: bool) -> Result<End, SendError> {
        if let LastTry::Status(response) = &last {
            self.last_status = Some(response.status);
        }
        let check = match maybe_applied {
            true => self.applied_after_all().await?,
            false => AfterAll::Unread,
        };
        if let AfterAll::Applied(end) = check {
            return Ok(end);
        }
        let tries = self.shared.options.max_attempts.max(1);
        // No PATCH of it ever reached the server, in this run or an earlier one.
        let never_reached = self.attempts == 0 && !maybe_applied;
        if never_reached
            && !self.shared.control.hooks.was_in_flight(self.entry)
            && let Some(end) = unreached(&last, tries)
        {
            self.take_back_if_unapplied()?;
            return Ok(end);
        }
        if maybe_applied && !self.doc.is_idempotent() {
            let why = format!("{tries} tries did not settle whether it was applied");
            return Ok(self.unknown_append(&why));
        }
        // Said, since the report's `failed` alone reads as "not applied".
        let lost = match check {
            AfterAll::Absent => {
                "the answer to an earlier try was lost, and the referral read after the last \
                 one does not hold the change, though a try still under way may yet land it"
            }
            _ => {
                "the answer to an earlier try was lost and the referral could not be read to \
                 check, so it may have been applied"
            }
        };
        match exhausted(last, tries) {
            End::Failed { code, message } if maybe_applied => Ok(End::Failed {
                code,
                message: format!(
                    "{message}; {lost} (sending it again is safe: its operations are idempotent)"
                ),
            }),
            end => Ok(end),
        }
    }

    /// The end of a document one of whose PATCHes may have applied unseen, when reading
    /// the referral to settle it failed with `end` (tries of the GET ran out, say): an
    /// idempotent document ends as the read did; an append is never resent blindly, so its
    /// outcome is unknown. An end that says so already, or a stop, stands.
    fn unsettled(&self, end: End) -> End {
        if self.doc.is_idempotent() || !read_failed(&end) {
            return end;
        }
        let why = match &end {
            End::Failed { message, .. } => {
                format!("reading the referral to check failed ({message})")
            }
            _ => "reading the referral to check failed".into(),
        };
        self.unknown_append(&why)
    }

    /// The end of a document an earlier run left in flight when reading its referral
    /// failed with `end` (the read's tries ran out, say): that run's PATCH may have landed,
    /// so it is `outcome_unknown`, left open in the ledger for the next `--resume` to read,
    /// and not sent now. A 404 (no such referral: nothing was applied), a 401 that stops
    /// the run, and an end that says it was stopped stand.
    fn unread_in_flight(&self, end: End) -> End {
        let settled = matches!(self.last_status, Some(401 | 404));
        match end {
            End::Failed { ref message, .. } if !settled && read_failed(&end) => End::failed(
                "outcome_unknown",
                format!(
                    "an earlier run sent this document and stopped before its answer, and \
                         reading the referral to check failed ({message}): it may have been \
                         applied, so it is not sent now; run again with --resume once the API \
                         answers, which reads it and sends it only if its changes are missing"
                ),
            ),
            end => end,
        }
    }

    /// `failed`, `outcome_unknown`: an append whose answer was lost, unsettled for `why`.
    fn unknown_append(&self, why: &str) -> End {
        let message = format!(
            "the answer to an append was lost and {why}; it is not resent: check referral {} \
             before sending it again",
            self.doc.id
        );
        End::failed("outcome_unknown", message)
    }

    /// After tries whose answers were lost: `updated` (note `verified`) where the referral
    /// now holds every change of the document. Where it does not, or cannot be read,
    /// nothing is settled: a request that timed out may still land. (Read without
    /// [`Run::fetch`]: a failed read's status must not stand in for the PATCH's.)
    async fn applied_after_all(&mut self) -> Result<AfterAll, SendError> {
        let read = read(self.shared, &self.url, Sent::MaybeApplied).await?;
        match read.current {
            Ok(now) if verify::changes_present(&now.body, &self.doc.ops) => {
                self.verified();
                Ok(AfterAll::Applied(End::Updated { etag: now.etag }))
            }
            Ok(_) => Ok(AfterAll::Absent),
            Err(_) => Ok(AfterAll::Unread),
        }
    }

    /// The `If-Match` and `MS-RequestId` of the last PATCH, and the PATCHes sent, earlier
    /// runs' included; none where no PATCH left. A document that a resume verified as
    /// applied, or sent nothing for while an earlier process's PATCH of it may have
    /// landed, reports that PATCH: the ledger's request ID and If-Match.
    fn patch_sent(&self) -> (Option<String>, Option<uuid::Uuid>, u32) {
        let hooks = &self.shared.control.hooks;
        let attempts = self.earlier_sent + self.attempts;
        // A PATCH prepared but never on the wire (stopped while it waited for the rate
        // limiter, no connection) carried no request ID or If-Match to report.
        match self.patched.as_ref().filter(|_| attempts > 0) {
            Some((tag, id)) => (tag.clone(), Some(*id), attempts),
            None if self.note == Some(Note::Verified) || hooks.was_in_flight(self.entry) => (
                hooks.earlier_if_match(self.entry),
                hooks.request_id(self.entry),
                attempts,
            ),
            None => (None, None, attempts),
        }
    }

    /// Notes the document `verified`, keeping a conflict policy's note that came before.
    fn verified(&mut self) {
        if matches!(self.note, Some(Note::Refetched | Note::Overwritten)) {
            self.resolved_by = self.note;
        }
        self.note = Some(Note::Verified);
    }

    fn result(self, end: End) -> SendResult {
        let (if_match_sent, request_id, attempts) = self.patch_sent();
        let mut result = SendResult {
            entry: self.entry,
            outcome: Outcome::Failed,
            http_status: self.last_status,
            attempts,
            if_match_sent,
            etag_after: None,
            error_code: None,
            error_message: None,
            // The report joins this with `merged-duplicates`, which the plan already knows.
            note: self.note,
            resolved_by: self.resolved_by,
            request_id,
            duration: self.started.elapsed(),
            before: None,
            changes: None,
        };
        let applied = matches!(end, End::Updated { .. });
        end.write_into(&mut result);
        // The referral as read before this run's first PATCH of the document, which applied
        // (seen, or verified after its answer was lost). A document resumed in flight has
        // none: it was read only after its earlier PATCH may have applied.
        result.before = self.before.filter(|_| applied);
        result
    }
}

/// Whether `end` is a read of the referral that failed (its tries ran out, a refusal),
/// rather than an end that already says the outcome is unsettled or that the run stopped.
fn read_failed(end: &End) -> bool {
    matches!(end, End::Failed { code, .. }
        if !matches!(code.as_str(), "outcome_unknown" | "deadline" | "not_sent"))
}
