//! How one document ended, before it is written up as a [`SendResult`]: the outcome with
//! its ETag or error, and the messages for tries that ran out or a run that stopped.

use super::SendResult;
use super::control::StopReason;
use super::error_body::{self, ApiError};
use super::exchange::LastTry;
use super::read::Sent;
use super::transport::{Response, TransportError};
use crate::outcome::Outcome;
use serde_json::Value;

/// The end of a stopped document's message where its PATCH may have been applied.
const MAYBE_APPLIED: &str =
    "; it may have been applied: check the referral before sending it again";

/// Why a stopped document whose PATCH had left may be sent again.
const NONE_APPLIED: &str = "none of its tries was applied (each was refused, or never reached \
     the server), so sending it again is safe";

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

    /// A document ended early by a stop (`reason` `None`: drained before it sent anything),
    /// having `sent` what it had: a document whose PATCH never left is `not_sent` whatever
    /// stopped the run; one whose PATCH may have landed unseen is `outcome_unknown` (or
    /// `deadline`); the message says which.
    pub fn stopped(reason: Option<StopReason>, sent: Sent) -> Self {
        if reason == Some(StopReason::Deadline) && sent != Sent::Nothing {
            return End::deadline(sent);
        }
        let stopped = match reason {
            Some(StopReason::Deadline) => "the run's --deadline passed",
            Some(StopReason::Failed) => "the run stopped on an error",
            Some(StopReason::Interrupted) => "the run was stopped",
            // Drained (a first signal, --max-failures) before the document sent anything.
            None => "the run stopped",
        };
        match sent {
            Sent::MaybeApplied => End::failed(
                "outcome_unknown",
                format!("{stopped} while this document was in flight{MAYBE_APPLIED}"),
            ),
            // Its tries were all refused or lost before the server applied anything (a
            // 401, a 5xx, a 429, a 412): sending it again is safe.
            Sent::Refused => End::failed(
                "not_sent",
                format!("{stopped} before this document was applied; {NONE_APPLIED}"),
            ),
            Sent::Nothing => End::failed(
                "not_sent",
                format!("{stopped} before this document sent its PATCH; nothing of it was applied"),
            ),
        }
    }

    /// A document the `--deadline` cut short after its PATCH had left (`sent` is not
    /// [`Sent::Nothing`]): `deadline`, saying whether that PATCH may have been applied.
    fn deadline(sent: Sent) -> Self {
        let passed = "the run's --deadline passed before this document finished";
        let message = match sent {
            Sent::MaybeApplied => {
                format!("{passed}; its PATCH had left and no answer came back{MAYBE_APPLIED}")
            }
            Sent::Refused | Sent::Nothing => {
                format!("{passed}; its PATCH had left, but {NONE_APPLIED}")
            }
        };
        End::failed("deadline", message)
    }

    /// A dry run's document whose GET a stop cut short (or never let start).
    pub fn unchecked(reason: Option<StopReason>) -> Self {
        let stopped = match reason {
            Some(StopReason::Deadline) => "the run's --deadline passed",
            Some(StopReason::Failed) => "the run stopped on an error",
            Some(StopReason::Interrupted) | None => "the run was stopped",
        };
        End::failed(
            "not_sent",
            format!(
                "{stopped} before this document's referral was read (a dry run sends no PATCH)"
            ),
        )
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
    let gave_up = match tries {
        1 => "gave up after 1 try".to_string(),
        _ => format!("gave up after {tries} tries"),
    };
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

/// The end of a document none of whose `tries` reached the API, the last one failing
/// to connect (an outage, a wrong host): `not_sent`, since nothing of it can have been
/// applied, so that a ledger keeps it open for `--resume` as it keeps a document a stop
/// left unsent. `None` where the last try connected, or failed otherwise.
pub fn unreached(last: &LastTry, tries: u32) -> Option<End> {
    let LastTry::Failed(error @ TransportError::Connect(_)) = last else {
        return None;
    };
    let tries = match tries {
        1 => "its 1 try".to_string(),
        _ => format!("its {tries} tries"),
    };
    Some(End::failed(
        "not_sent",
        format!(
            "the API could not be reached: none of {tries} connected (the last one: {error}), \
             so nothing of it was applied; send it again (with --ledger, --resume sends it)"
        ),
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_document_says_how_far_it_got_and_why() {
        use Sent::{MaybeApplied, Nothing, Refused};
        use StopReason::{Deadline, Failed, Interrupted};
        let cases = [
            (
                Some(Failed),
                Nothing,
                "not_sent",
                "the run stopped on an error before",
            ),
            (
                Some(Failed),
                Refused,
                "not_sent",
                "the run stopped on an error before",
            ),
            (
                Some(Failed),
                MaybeApplied,
                "outcome_unknown",
                "the run stopped on an error while",
            ),
            (
                Some(Interrupted),
                Nothing,
                "not_sent",
                "the run was stopped before",
            ),
            (
                Some(Interrupted),
                MaybeApplied,
                "outcome_unknown",
                "the run was stopped while",
            ),
            (
                Some(Deadline),
                Nothing,
                "not_sent",
                "the run's --deadline passed before",
            ),
            (
                Some(Deadline),
                Refused,
                "deadline",
                "the run's --deadline passed before",
            ),
            (
                Some(Deadline),
                MaybeApplied,
                "deadline",
                "the run's --deadline passed before",
            ),
            (None, Nothing, "not_sent", "the run stopped before"),
        ];
        for (reason, sent, code, start) in cases {
            let End::Failed { code: got, message } = End::stopped(reason, sent) else {
                panic!("{reason:?} did not fail the document");
            };
            assert_eq!(got, code, "{reason:?}, {sent:?}");
            assert!(message.starts_with(start), "{message}");
            let maybe_applied = sent == MaybeApplied;
            assert_eq!(
                message.contains("may have been applied"),
                maybe_applied,
                "{message}"
            );
            assert_eq!(
                message.contains("its PATCH had left"),
                code == "deadline",
                "{message}"
            );
            assert_eq!(
                message.contains("sent its PATCH"),
                sent == Nothing,
                "{message}"
            );
        }
    }

    #[test]
    fn a_dry_run_cut_short_says_its_referral_was_not_read_and_names_no_patch_sent() {
        let End::Failed { code, message } = End::unchecked(Some(StopReason::Deadline)) else {
            panic!("not failed");
        };
        assert_eq!(code, "not_sent");
        assert!(
            message.contains("--deadline") && message.contains("was read"),
            "{message}"
        );
    }
}
