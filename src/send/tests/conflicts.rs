//! 412 Precondition Failed under each conflict policy, and lost responses resolved by
//! reading the referral back.

use super::*;
use crate::outcome::{Note, Outcome};

fn with_etag(mut doc: Document, tag: &str) -> Document {
    doc.if_match = Some(tag.into());
    doc
}

fn policy(on_conflict: ConflictPolicy) -> SendOptions {
    SendOptions {
        on_conflict,
        ..options()
    }
}

fn stale() -> Answer {
    with_body(
        412,
        json!({"code": "precondition_failed", "message": "eTag mismatch"}),
    )
}

fn active() -> Value {
    json!({"status": "Active", "substatus": "Engaged", "details": {"notes": "old"}, "team": []})
}

#[tokio::test(start_paused = true)]
async fn a_412_is_reported_as_conflict_by_default() {
    let script = Scripted::new(&[("r1", vec![stale()])]);
    let ran = run(
        &options(),
        script,
        vec![with_etag(replace_doc("r1"), "\"e1\"")],
    )
    .await;
    let result = ran.one();
    assert_eq!((result.outcome, result.attempts), (Outcome::Conflict, 1));
    assert_eq!(result.error_code.as_deref(), Some("precondition_failed"));
    assert_eq!(result.if_match_sent.as_deref(), Some("\"e1\""));
}

#[tokio::test(start_paused = true)]
async fn refetch_retries_with_the_new_etag_and_a_new_request_id() {
    let answers = vec![stale(), referral("\"e2\"", active()), status(204)];
    let script = Scripted::new(&[("r1", answers)]);
    let doc = with_etag(replace_doc("r1"), "\"e1\"");
    let result = run(&policy(ConflictPolicy::Refetch), script.clone(), vec![doc])
        .await
        .one()
        .clone();
    assert_eq!(
        (result.outcome, result.note, result.attempts),
        (Outcome::Updated, Some(Note::Refetched), 2)
    );
    let patches = script.patches();
    assert_eq!(patches[1].header("If-Match").as_deref(), Some("\"e2\""));
    assert_ne!(patches[0].request.request_id, patches[1].request.request_id);
    assert_eq!(result.request_id, Some(patches[1].request.request_id));
    assert_eq!(result.if_match_sent.as_deref(), Some("\"e2\""));
}

#[tokio::test(start_paused = true)]
async fn refetch_gives_up_after_three_refetches() {
    let mut answers = vec![stale()];
    for n in 2..5 {
        answers.extend([referral(&format!("\"e{n}\""), active()), stale()]);
    }
    let script = Scripted::new(&[("r1", answers)]);
    let doc = with_etag(replace_doc("r1"), "\"e1\"");
    let result = run(&policy(ConflictPolicy::Refetch), script.clone(), vec![doc])
        .await
        .one()
        .clone();
    assert_eq!((result.outcome, result.attempts), (Outcome::Conflict, 4));
    assert_eq!(script.seen().len(), 7);
}

#[tokio::test(start_paused = true)]
async fn refetch_that_finds_a_move_the_current_status_forbids_is_an_invalid_transition() {
    let closed = json!({"status": "Closed", "substatus": "Won", "details": {}});
    let script = Scripted::new(&[("r1", vec![stale(), referral("\"e2\"", closed)])]);
    let ops = vec![
        op(OpKind::Replace, "/status", json!("Active")),
        op(OpKind::Replace, "/substatus", json!("Engaged")),
    ];
    let doc = with_etag(doc("r1", ops), "\"e1\"");
    let result = run(&policy(ConflictPolicy::Refetch), script.clone(), vec![doc])
        .await
        .one()
        .clone();
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(result.error_code.as_deref(), Some("invalid_transition"));
    assert_eq!(result.note, Some(Note::Refetched));
    assert_eq!(script.patches().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn refetch_that_finds_the_etag_it_sent_resends_the_same_request() {
    let answers = vec![stale(), referral("\"e1\"", active()), status(204)];
    let script = Scripted::new(&[("r1", answers)]);
    let doc = with_etag(replace_doc("r1"), "\"e1\"");
    let result = run(&policy(ConflictPolicy::Refetch), script.clone(), vec![doc])
        .await
        .one()
        .clone();
    assert_eq!(result.outcome, Outcome::Updated);
    let patches = script.patches();
    assert_eq!(patches[1].header("If-Match").as_deref(), Some("\"e1\""));
    assert_eq!(patches[0].request.request_id, patches[1].request.request_id);
}

#[tokio::test(start_paused = true)]
async fn overwrite_resends_without_if_match_and_with_a_new_request_id() {
    let script = Scripted::new(&[("r1", vec![stale(), status(204)])]);
    let doc = with_etag(replace_doc("r1"), "\"e1\"");
    let result = run(
        &policy(ConflictPolicy::Overwrite),
        script.clone(),
        vec![doc],
    )
    .await
    .one()
    .clone();
    assert_eq!(
        (result.outcome, result.note),
        (Outcome::Updated, Some(Note::Overwritten))
    );
    let patches = script.patches();
    assert_eq!(patches[1].header("If-Match"), None);
    assert_ne!(patches[0].request.request_id, patches[1].request.request_id);
    assert_eq!(result.if_match_sent, None);
}

#[tokio::test(start_paused = true)]
async fn under_undo_overwrite_reads_again_what_it_replaces() {
    let first = json!({"status": "New", "details": {"notes": "first"}});
    let theirs = json!({"status": "New", "details": {"notes": "theirs"}});
    let answers = vec![
        referral("\"e1\"", first),
        stale(),
        referral("\"e2\"", theirs.clone()),
        status(204),
    ];
    let script = Scripted::new(&[("r1", answers)]);
    let control = crate::send::RunControl {
        read_before: true,
        ..crate::send::RunControl::default()
    };
    let policy = policy(ConflictPolicy::Overwrite);
    let ran = run_controlled(&policy, script.clone(), control, vec![replace_doc("r1")]).await;
    let result = ran.one();
    assert_eq!(
        (result.outcome, result.note),
        (Outcome::Updated, Some(Note::Overwritten))
    );
    let notes = result.before.as_ref().map(|body| &body["details"]["notes"]);
    assert_eq!(notes, Some(&theirs["details"]["notes"]));
    assert_eq!(script.patches()[1].header("If-Match"), None);
}

#[tokio::test(start_paused = true)]
async fn a_lost_response_then_412_is_verified_when_the_changes_are_there() {
    let applied = json!({"status": "New", "details": {"notes": "hello"}});
    let lost = failure(TransportError::Timeout);
    let script = Scripted::new(&[("r1", vec![lost, stale(), referral("\"e2\"", applied)])]);
    let doc = with_etag(replace_doc("r1"), "\"e1\"");
    let result = run(&options(), script.clone(), vec![doc])
        .await
        .one()
        .clone();
    assert_eq!(
        (result.outcome, result.note, result.attempts),
        (Outcome::Updated, Some(Note::Verified), 2)
    );
    assert_eq!(result.etag_after.as_deref(), Some("\"e2\""));
    // The status is the last PATCH answer's (the 412), not the verifying GET's 200.
    assert_eq!(result.http_status, Some(412));
}

#[tokio::test(start_paused = true)]
async fn a_refetched_resend_whose_answer_is_lost_is_verified_and_says_both() {
    let applied = json!({"status": "New", "details": {"notes": "hello"}});
    let lost = failure(TransportError::Timeout);
    let answers = vec![
        stale(),
        referral("\"e2\"", active()),
        lost,
        stale(),
        referral("\"e3\"", applied),
    ];
    let script = Scripted::new(&[("r1", answers)]);
    let doc = with_etag(replace_doc("r1"), "\"e1\"");
    let result = run(&policy(ConflictPolicy::Refetch), script, vec![doc])
        .await
        .one()
        .clone();
    assert_eq!(
        (result.outcome, result.resolved_by, result.note),
        (
            Outcome::Updated,
            Some(Note::Refetched),
            Some(Note::Verified)
        )
    );
}

#[tokio::test(start_paused = true)]
async fn a_lost_append_then_412_finds_the_member_by_email() {
    let applied = json!({"team": [{"email": "NEW@x.com", "firstName": "N"}]});
    let lost = failure(TransportError::Lost("eof".into()));
    let script = Scripted::new(&[("r1", vec![lost, stale(), referral("\"e2\"", applied)])]);
    let doc = with_etag(append_doc("r1"), "\"e1\"");
    let result = run(&options(), script, vec![doc]).await.one().clone();
    assert_eq!(
        (result.outcome, result.note),
        (Outcome::Updated, Some(Note::Verified))
    );
}

#[tokio::test(start_paused = true)]
async fn a_lost_append_then_412_whose_check_cannot_read_the_referral_is_unknown() {
    let lost = || failure(TransportError::Timeout);
    // The GET's own tries (options' max_attempts) all time out too.
    let mut answers = vec![lost(), stale()];
    answers.extend((0..options().max_attempts).map(|_| lost()));
    let script = Scripted::new(&[("r1", answers.clone()), ("r2", answers)]);
    let append = with_etag(append_doc("r1"), "\"e1\"");
    let replace = with_etag(replace_doc("r2"), "\"e1\"");
    let ran = run(&options(), script, vec![append, replace]).await;
    let code_of = |entry: usize| {
        let result = ran.results.iter().find(|r| r.entry == entry);
        result.and_then(|r| r.error_code.clone())
    };
    assert_eq!(code_of(0).as_deref(), Some("outcome_unknown"), "the append");
    assert_eq!(code_of(1).as_deref(), Some("timeout"), "the replace");
}

#[tokio::test(start_paused = true)]
async fn a_lost_response_then_412_without_the_changes_follows_the_conflict_policy() {
    let lost = failure(TransportError::Timeout);
    let script = Scripted::new(&[("r1", vec![lost, stale(), referral("\"e2\"", active())])]);
    let doc = with_etag(replace_doc("r1"), "\"e1\"");
    let result = run(&options(), script.clone(), vec![doc])
        .await
        .one()
        .clone();
    assert_eq!((result.outcome, result.note), (Outcome::Conflict, None));
    assert_eq!(script.seen().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_refetch_after_a_lost_response_reuses_the_referral_it_just_read() {
    let lost = failure(TransportError::Timeout);
    let answers = vec![lost, stale(), referral("\"e2\"", active()), status(204)];
    let script = Scripted::new(&[("r1", answers)]);
    let doc = with_etag(replace_doc("r1"), "\"e1\"");
    let result = run(&policy(ConflictPolicy::Refetch), script.clone(), vec![doc])
        .await
        .one()
        .clone();
    assert_eq!(
        (result.outcome, result.note),
        (Outcome::Updated, Some(Note::Refetched))
    );
    assert_eq!(script.seen().len(), 4);
}
