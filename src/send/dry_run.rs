//! The live dry run (`sync --dry-run`): one GET per document, through the same pacer and
//! retries as a real run, and the outcome the real run would report — `planned` with its
//! field-level diff, `unchanged` where the referral already holds every value, `conflict`
//! for a stale input `if_match`, or `failed` for what the API would refuse (an unknown ID,
//! a move the current status forbids, a `replace` of a missing target). No PATCH is ever
//! built.
//!
//! A refusal the dry run predicts carries the code, message and status the API answers
//! for it as the emulator models it (`PreconditionFailed` 412, `InvalidTransition` and
//! `TargetNotFound` 400); one the GET itself met (`NotFound` 404) carries the GET's.

use super::end::End;
use super::error_body::ApiError;
use super::exchange::Shared;
use super::read::{Current, Sent, read};
use super::{ConflictPolicy, SendError, SendResult, members, verify};
use super::{IfMatchPolicy, document::IfMatchSource, document::if_match_source};
use crate::outcome::{Note, Outcome};
use crate::plan::{Document, PatchOp};
use serde_json::{Value, json};
use tokio::time::Instant;

/// Reads the referral of `doc` and says what sending it would do.
pub async fn check_document(
    shared: &Shared,
    entry: usize,
    doc: &Document,
) -> Result<SendResult, SendError> {
    let started = Instant::now();
    let url = shared.endpoint.referral_url(&doc.id);
    let read = read(shared, &url, Sent::Nothing).await?;
    let (end, http_status, note, if_match_sent) = match read.current {
        Ok(current) => {
            let policy = conflict_policy(shared, doc, &current);
            let end = judge(shared, doc, &current, policy);
            let status = match policy {
                // The 412 that led to the re-read is the last answer a PATCH got.
                Some(Note::Refetched) if !matches!(end, End::Planned { .. }) => Some(412),
                _ => predicted_status(&end).or(read.status),
            };
            let sent = if_match_sent(shared, doc, &current, policy, &end);
            (end, status, policy, sent)
        }
        // The GET's own refusal (a 404, say) is what the PATCH would meet too.
        Err(end) => (end, read.status, None, None),
    };
    let mut result = SendResult {
        entry,
        outcome: Outcome::Failed,
        http_status,
        attempts: 0,
        if_match_sent,
        etag_after: None,
        error_code: None,
        error_message: None,
        note: None,
        resolved_by: None,
        request_id: None,
        duration: started.elapsed(),
        before: None,
        changes: None,
    };
    end.write_into(&mut result);
    result.note = note.or(result.note);
    Ok(result)
}

/// How the real run would get past the 412 that the input's stale `if_match` meets:
/// `refetched` (it reads the referral again, then acts as one that reads first) or
/// `overwritten` (it sends again without If-Match); `None` where the ETag is current, or
/// the 412 would stand (`--on-conflict report`, see [`stale_if_match`]).
fn conflict_policy(shared: &Shared, doc: &Document, current: &Current) -> Option<Note> {
    stale_etag(shared, doc, current)?;
    match shared.options.on_conflict {
        ConflictPolicy::Refetch => Some(Note::Refetched),
        ConflictPolicy::Overwrite => Some(Note::Overwritten),
        ConflictPolicy::Report => None,
    }
}

/// The `If-Match` of the last PATCH the real run would send, as its report would show it:
/// the input's stale ETag where the 412 stands or no PATCH follows it, the ETag read again
/// after a refetch, none after an overwrite or where no PATCH would be sent at all.
fn if_match_sent(
    shared: &Shared,
    doc: &Document,
    current: &Current,
    policy: Option<Note>,
    end: &End,
) -> Option<String> {
    let sends_again = matches!(end, End::Planned { .. });
    if let Some(stale) = stale_etag(shared, doc, current) {
        return match policy {
            Some(Note::Overwritten) => None,
            Some(Note::Refetched) if sends_again => current.etag.clone(),
            _ => Some(stale),
        };
    }
    if matches!(end, End::Unchanged) {
        return None;
    }
    match if_match_source(shared.options.if_match, doc) {
        IfMatchSource::Use(tag) => tag,
        IfMatchSource::Fetch => current.etag.clone(),
    }
}

/// The status the real run's PATCH would get where the dry run predicts a refusal: 412 for
/// a stale ETag, 400 for a patch the referral refuses; `None` where it would be sent
/// (the report then shows the GET's own status).
fn predicted_status(end: &End) -> Option<u16> {
    match end {
        End::Conflict(_) => Some(412),
        End::Failed { .. } => Some(400),
        End::Updated { .. } | End::Unchanged | End::Planned { .. } => None,
    }
}

/// The real run's outcome for `doc` against the referral as it is now, checked in the
/// order the server would answer: stale ETag first, then the patch itself. Refusals carry
/// the codes and messages the API (as the emulator models it) would answer with.
fn judge(shared: &Shared, doc: &Document, current: &Current, policy: Option<Note>) -> End {
    if let Some(end) = stale_if_match(shared, doc, current) {
        return end;
    }
    let refetched = policy == Some(Note::Refetched);
    if let Err(mismatch) = verify::recheck(&current.body, doc) {
        // After a refetch the real run reports the re-check's own code, not the API's.
        return match refetched {
            true => End::failed(mismatch.code(), mismatch.after_refetch()),
            false => End::failed(mismatch.api_code(), mismatch.detail),
        };
    }
    // Only a real run that reads the referral before its PATCH (or again after a 412) can
    // find an append already applied, or drop the members already in a team; one that
    // does not read sends its appends as they are, and they would change the referral.
    let reads_first = if_match_source(shared.options.if_match, doc) == IfMatchSource::Fetch
        || shared.control.read_before
        || refetched;
    if reads_first && verify::changes_present(&current.body, &doc.ops) {
        return End::Unchanged;
    }
    // The appends the real run would send all change the referral: those it drops as
    // already in the team are gone, and one it keeps for a later index is sent as given.
    let diff = match reads_first {
        true => changes(
            &current.body,
            &members::pending_ops(&current.body, &doc.ops),
        ),
        false => changes(&current.body, &doc.ops),
    };
    // A real run that reads first skips a document that changes nothing (`unchanged`);
    // one that does not read sends it and reports it `updated`, so the dry run says
    // `planned`, with no changes to show.
    if reads_first && diff.as_array().is_some_and(Vec::is_empty) {
        return End::Unchanged;
    }
    End::Planned { changes: diff }
}

/// A `conflict` where the real run would send the input's ETag and it is not the
/// referral's current one; under `refetch` or `overwrite` that 412 would be resolved. Code
/// and message are the API's for that 412 (as the emulator gives them).
fn stale_if_match(shared: &Shared, doc: &Document, current: &Current) -> Option<End> {
    if shared.options.on_conflict != ConflictPolicy::Report {
        return None;
    }
    let sent = stale_etag(shared, doc, current)?;
    let now = current.etag.as_deref().unwrap_or("none");
    Some(End::Conflict(ApiError {
        code: "PreconditionFailed".into(),
        message: format!("If-Match {sent} does not match the referral's current eTag {now}"),
    }))
}

/// The ETag the real run would send from the input, where it is not the referral's
/// current one (its first PATCH would get 412).
fn stale_etag(shared: &Shared, doc: &Document, current: &Current) -> Option<String> {
    if shared.options.if_match == IfMatchPolicy::Fetch {
        return None;
    }
    let IfMatchSource::Use(Some(sent)) = if_match_source(shared.options.if_match, doc) else {
        return None;
    };
    (current.etag.as_deref() != Some(sent.as_str())).then_some(sent)
}

/// The field-level diff of the operations that would change something:
/// `[{"path", "from", "to"}]`, `from` being `null` for an append or a new member. An
/// append always changes something (the caller leaves out those the real run would drop
/// as already in the team). Operations apply in order, as the server applies them,
/// so each `from` is the value as the operations before it left it.
pub fn changes(referral: &Value, ops: &[PatchOp]) -> Value {
    let mut working = referral.clone();
    let mut diff = Vec::new();
    for op in ops {
        let changes =
            op.is_append() || !verify::changes_present(&working, std::slice::from_ref(op));
        if !changes {
            continue;
        }
        let from = match op.is_append() {
            true => Value::Null,
            false => working.pointer(&op.path).cloned().unwrap_or(Value::Null),
        };
        diff.push(json!({"path": &*op.path, "from": from, "to": op.value}));
        apply(&mut working, op);
    }
    Value::Array(diff)
}

/// Applies `op` to `referral`, leaving it as it is where the operation does not apply
/// (the dry run reports that refusal on its own).
fn apply(referral: &mut Value, op: &PatchOp) {
    if let Ok(patch) = serde_json::from_value::<json_patch::Patch>(json!([op.to_json()])) {
        // One operation that does not apply changes nothing.
        let _ = json_patch::patch(referral, &patch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::OpKind;

    #[test]
    fn changes_list_the_old_and_new_value_of_each_changed_path_only() {
        let referral = json!({"name": "Old", "details": {"notes": "same"}, "team": []});
        let ops = vec![
            PatchOp::new(OpKind::Replace, "/name", &json!("New")),
            PatchOp::new(OpKind::Replace, "/details/notes", &json!("same")),
            PatchOp::new(OpKind::Add, "/team/-", &json!({"email": "a@x.com"})),
        ];
        assert_eq!(
            changes(&referral, &ops),
            json!([
                {"path": "/name", "from": "Old", "to": "New"},
                {"path": "/team/-", "from": null, "to": {"email": "a@x.com"}}
            ])
        );
    }

    #[test]
    fn each_change_starts_from_what_the_operations_before_it_left() {
        let referral = json!({"details": {"notes": "old", "dealValue": 5}, "team": []});
        let ops = vec![
            PatchOp::new(OpKind::Replace, "/details", &json!({"notes": "x"})),
            PatchOp::new(OpKind::Replace, "/details/notes", &json!("y")),
            PatchOp::new(OpKind::Add, "/team/-", &json!({"email": "n@x.com"})),
            PatchOp::new(OpKind::Replace, "/team/0/email", &json!("m@x.com")),
        ];
        assert_eq!(
            changes(&referral, &ops),
            json!([
                {"path": "/details", "from": {"notes": "old", "dealValue": 5}, "to": {"notes": "x"}},
                {"path": "/details/notes", "from": "x", "to": "y"},
                {"path": "/team/-", "from": null, "to": {"email": "n@x.com"}},
                {"path": "/team/0/email", "from": "n@x.com", "to": "m@x.com"}
            ])
        );
    }
}
