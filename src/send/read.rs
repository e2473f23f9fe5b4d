//! Reading one referral (GET) for the send stage: its current ETag and content, or the end
//! the document comes to when it cannot be read (404, tries run out, the run stopped).

use super::SendError;
use super::control::Mode;
use super::end::{End, exhausted};
use super::exchange::{Call, Ended, LastTry, Shared};
use super::transport::Method;
use serde_json::Value;

/// The referral as a GET found it.
#[derive(Clone, Debug, PartialEq)]
pub struct Current {
    /// Its ETag exactly as the API gave it (body `eTag`, else the header): API.md says to
    /// send it back so, quotes and all, and a server that compares If-Match byte for byte
    /// refuses one quoted here that it gave bare.
    pub etag: Option<String>,
    /// Its content.
    pub body: Value,
}

/// A GET's result: the last status seen, and the referral or the document's end.
#[derive(Debug)]
pub struct Read {
    /// The last HTTP status the GET received, if any.
    pub status: Option<u16>,
    /// The referral, or why the document ends here.
    pub current: Result<Current, End>,
}

/// What the document's own PATCH may have done when its referral is read: what a read
/// cut short by a stop leaves the document as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// Nothing of the document was sent: a drain may end the read before it starts.
    Nothing,
    /// Its PATCH had left, and every try of it was answered without being applied (a
    /// 412, a 5xx, a 429) or never reached the server.
    Refused,
    /// Its PATCH may have been applied unseen: a lost answer, or a resumed run's document
    /// that was in flight.
    MaybeApplied,
}

/// Reads the referral at `url` for a document whose PATCH stands as `sent`; `Err` only for
/// what stops the run.
pub async fn read(shared: &Shared, url: &reqwest::Url, sent: Sent) -> Result<Read, SendError> {
    let call = Call {
        method: Method::Get,
        url: url.clone(),
        request_id: uuid::Uuid::new_v4(),
        if_match: None,
        body: None,
        unstarted: sent == Sent::Nothing,
    };
    let exchange = shared.exchange(&call).await?;
    let response = match exchange.ended {
        Ended::Answered(response) => response,
        Ended::GaveUp(last) => return Ok(gave_up(shared, last, sent, exchange.sent == 0)),
        Ended::Stopped => {
            let reason = shared.control.stop.reason();
            let end = match shared.control.mode {
                Mode::Send => End::stopped(reason, sent),
                Mode::DryRun => End::unchecked(reason),
            };
            return Ok(Read {
                status: None,
                current: Err(end),
            });
        }
    };
    let status = Some(response.status);
    if !(200..300).contains(&response.status) {
        let current = Err(End::refused(&response));
        return Ok(Read { status, current });
    }
    let Ok(body) = serde_json::from_slice::<Value>(&response.body) else {
        let end = End::failed(
            "invalid_response",
            "the API answered the GET of the referral with something that is not JSON",
        );
        return Ok(Read {
            status,
            current: Err(end),
        });
    };
    let etag = body.get("eTag").and_then(Value::as_str).map(str::to_string);
    let etag = etag.or(response.etag);
    let current = Ok(Current { etag, body });
    Ok(Read { status, current })
}

/// The read of a document whose PATCH stands as `sent`, when its tries ran out; a read
/// none of whose tries went out (`none_went_out`, the last failing to connect), of a
/// document that sent nothing yet, leaves the document `not_sent` in a real run.
fn gave_up(shared: &Shared, last: LastTry, sent: Sent, none_went_out: bool) -> Read {
    let status = match &last {
        LastTry::Status(response) => Some(response.status),
        LastTry::Failed(_) => None,
    };
    let tries = shared.options.max_attempts.max(1);
    let never_sent = sent == Sent::Nothing && none_went_out && shared.control.mode == Mode::Send;
    let end = never_sent
        .then(|| super::end::unreached(&last, tries))
        .flatten()
        .unwrap_or_else(|| exhausted(last, tries));
    Read {
        status,
        current: Err(end),
    }
}
