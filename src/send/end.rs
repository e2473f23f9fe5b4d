//! How one document ended, before it is written up as a [`SendResult`]: the outcome with
//! its ETag or error, and the messages for tries that ran out or a run that stopped.

use super::SendResult;
use super::control::StopReason;
use super::error_body::{self, ApiError};
use super::exchange::LastTry;
use super::transport::{Response, TransportError};
use crate::outcome::Outcome;
use serde_json::Value;

/// A document's end.
#[derive(Clone, Debug, PartialEq)]
pub enum End {
    /// Applied (or verified as applied), with the ETag after.
    Updated {
        /// The ETag the API returned, if any.
        etag: Option<String>,
    },
    /// Nothing to send: the referral already holds every value.
    Unchanged,
    /// A dry run's "would be updated", with its field-level diff.
    Planned {
        /// The `changes` column: `[{"path", "from", "to"}, …]`.
        changes: Value,
    },
    /// A 412 the conflict policy did not resolve.
    Conflict(ApiError),
    /// Refused, given up, or never finished.
    Failed {
        /// The report's `error_code`.
        code: String,
        /// The report's `error_message`.
        message: String,
    },
}

impl End {
    /// A `failed` end with `code` and `message`.
    pub fn failed(code: &str, message: impl Into<String>) -> Self {
        End::Failed {
            code: code.into(),
            message: message.into(),
        }
    }

    /// A refusal (4xx) with the API's own code and message.
    pub fn refused(response: &Response) -> Self {
        let error = error_body::parse(response.status, &response.body);
        End::Failed {
            code: error.code,
            message: error.message,
        }
    }

    /// A document ended early by a stop (`reason` `None`: drained before it sent anything);
    /// `maybe_applied` when its PATCH may have landed without our seeing the answer.
    pub fn stopped(reason: Option<StopReason>, maybe_applied: bool) -> Self {
        let unsure = if maybe_applied {
            "; its PATCH may have been applied: check the referral before sending it again"
        } else {
            ""
        };
        let stopped = match reason {
            Some(StopReason::Deadline) => {
                let message =
                    format!("the run's --deadline passed before this document finished{unsure}");
                return End::failed("deadline", message);
            }
            Some(StopReason::Failed) => "the run stopped on an error",
            Some(StopReason::Interrupted) => "the run was stopped",
            // Drained (a first signal, --max-failures) before the document sent anything.
            None => "the run stopped",
        };
        if maybe_applied {
            let message = format!("{stopped} while this document was in flight{unsure}");
            End::failed("outcome_unknown", message)
        } else {
            // Its tries, if any, were all refused or lost before the server applied
            // anything (a 401, a 5xx, a 429): sending it again is safe.
            let message = format!("{stopped} before this document was applied; nothing of it was");
            End::failed("not_sent", message)
        }
    }

    /// Fills the outcome and its error, ETag or diff into a result.
    pub fn write_into(self, result: &mut SendResult) {
        match self {
            End::Updated { etag } => {
                result.outcome = Outcome::Updated;
                result.etag_after = etag;
            }
            End::Unchanged => result.outcome = Outcome::Unchanged,
            End::Planned { changes } => {
                result.outcome = Outcome::Planned;
                result.changes = Some(changes);
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
}

/// The end of a call whose `tries` all failed transiently, saying what the last one got.
pub fn exhausted(last: LastTry, tries: u32) -> End {
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
pub fn etag_after(response: &Response) -> Option<String> {
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
pub fn quoted(tag: &str) -> String {
    if tag.starts_with('"') || tag.starts_with("W/\"") {
        tag.to_string()
    } else {
        format!("\"{tag}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_document_says_how_far_it_got_and_why() {
        use StopReason::{Deadline, Failed, Interrupted};
        let cases = [
            (
                Some(Failed),
                false,
                "not_sent",
                "the run stopped on an error before",
            ),
            (
                Some(Failed),
                true,
                "outcome_unknown",
                "the run stopped on an error while",
            ),
            (
                Some(Interrupted),
                false,
                "not_sent",
                "the run was stopped before",
            ),
            (
                Some(Interrupted),
                true,
                "outcome_unknown",
                "the run was stopped while",
            ),
            (
                Some(Deadline),
                false,
                "deadline",
                "the run's --deadline passed",
            ),
            (None, false, "not_sent", "the run stopped before"),
        ];
        for (reason, maybe_applied, code, start) in cases {
            let End::Failed { code: got, message } = End::stopped(reason, maybe_applied) else {
                panic!("{reason:?} did not fail the document");
            };
            assert_eq!(got, code, "{reason:?}, maybe applied: {maybe_applied}");
            assert!(message.starts_with(start), "{message}");
            assert_eq!(message.contains("may have been applied"), maybe_applied);
        }
    }
}
