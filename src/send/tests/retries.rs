//! Retries: what is retried, how long it waits, when it gives up, and what it reports.

use super::*;
use crate::outcome::Outcome;

#[tokio::test(start_paused = true)]
async fn two_503s_then_204_is_updated_after_three_attempts() {
    let script = Scripted::new(&[(
        "r1",
        vec![status(503), status(503), status(204).etag("\"e2\"")],
    )]);
    let ran = run(&options(), script.clone(), vec![replace_doc("r1")]).await;
    let result = ran.one();
    assert_eq!(result.outcome, Outcome::Updated);
    assert_eq!(result.attempts, 3);
    assert_eq!(result.http_status, Some(204));
    assert_eq!(result.etag_after.as_deref(), Some("\"e2\""));
    let stats = ran.stats.expect("run finished");
    assert_eq!((stats.requests, stats.retries, stats.throttled), (3, 2, 0));
}

#[tokio::test(start_paused = true)]
async fn every_retry_of_a_document_carries_the_same_request_id() {
    let answers = vec![status(500), failure(TransportError::Timeout), status(204)];
    let script = Scripted::new(&[("r1", answers)]);
    let ran = run(&options(), script.clone(), vec![replace_doc("r1")]).await;
    let ids: Vec<_> = script
        .patches()
        .iter()
        .map(|s| s.request.request_id)
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|id| *id == ids[0]));
    assert_eq!(ran.one().request_id, Some(ids[0]));
}

#[tokio::test(start_paused = true)]
async fn retry_after_seconds_is_waited_at_least() {
    let script = Scripted::new(&[("r1", vec![status(503).retry_after("7"), status(204)])]);
    run(&options(), script.clone(), vec![replace_doc("r1")]).await;
    let seen = script.seen();
    assert!(seen[1].at - seen[0].at >= Duration::from_secs(7));
}

#[tokio::test(start_paused = true)]
async fn retry_after_as_an_http_date_is_waited_at_least() {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(20));
    let script = Scripted::new(&[("r1", vec![status(429).retry_after(&date), status(204)])]);
    let ran = run(&options(), script.clone(), vec![replace_doc("r1")]).await;
    let seen = script.seen();
    // HTTP dates have whole seconds, so up to one second is lost to rounding.
    assert!(seen[1].at - seen[0].at >= Duration::from_secs(19));
    assert_eq!(ran.stats.expect("run finished").throttled, 1);
}

#[tokio::test(start_paused = true)]
async fn max_attempts_is_respected_and_the_last_answer_is_reported() {
    let script = Scripted::new(&[("r1", vec![status(502); 10])]);
    let options = SendOptions {
        max_attempts: 4,
        ..options()
    };
    let ran = run(&options, script.clone(), vec![replace_doc("r1")]).await;
    let result = ran.one();
    assert_eq!(script.seen().len(), 4);
    assert_eq!((result.outcome, result.attempts), (Outcome::Failed, 4));
    assert_eq!(result.error_code.as_deref(), Some("retries_exhausted"));
    assert!(
        result
            .error_message
            .as_deref()
            .unwrap_or_default()
            .contains("502 Bad Gateway")
    );
}

#[tokio::test(start_paused = true)]
async fn every_429_is_counted_the_last_try_too() {
    let script = Scripted::new(&[("r1", vec![status(429); 3])]);
    let options = SendOptions {
        max_attempts: 3,
        ..options()
    };
    let ran = run(&options, script.clone(), vec![replace_doc("r1")]).await;
    assert_eq!(ran.one().outcome, Outcome::Failed);
    let stats = ran.stats.expect("run finished");
    assert_eq!((stats.requests, stats.retries, stats.throttled), (3, 2, 3));
}

#[tokio::test(start_paused = true)]
async fn a_timeout_on_the_last_try_is_reported_as_timeout() {
    let result = with_two_tries(vec![status(503), failure(TransportError::Timeout)]).await;
    assert_eq!(result.error_code.as_deref(), Some("timeout"));
}

#[tokio::test(start_paused = true)]
async fn a_400_is_failed_with_the_apis_code_and_message_and_not_retried() {
    let body =
        json!({"code": "invalid_transition", "message": "Closed referrals cannot be reopened"});
    let script = Scripted::new(&[("r1", vec![with_body(400, body), status(204)])]);
    let ran = run(&options(), script.clone(), vec![replace_doc("r1")]).await;
    let result = ran.one();
    assert_eq!(
        (result.outcome, result.attempts, result.http_status),
        (Outcome::Failed, 1, Some(400))
    );
    assert_eq!(result.error_code.as_deref(), Some("invalid_transition"));
    assert_eq!(
        result.error_message.as_deref(),
        Some("Closed referrals cannot be reopened")
    );
    assert_eq!(script.seen().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_404_without_a_body_is_failed_as_http_404() {
    let script = Scripted::new(&[("r1", vec![status(404)])]);
    let result = run(&options(), script, vec![replace_doc("r1")])
        .await
        .one()
        .clone();
    assert_eq!(result.error_code.as_deref(), Some("http_404"));
}

#[tokio::test(start_paused = true)]
async fn a_lost_response_of_an_idempotent_document_is_simply_retried() {
    let answers = vec![failure(TransportError::Lost("reset".into())), status(204)];
    let script = Scripted::new(&[("r1", answers)]);
    let result = run(&options(), script, vec![replace_doc("r1")])
        .await
        .one()
        .clone();
    assert_eq!(
        (result.outcome, result.attempts, result.note),
        (Outcome::Updated, 2, None)
    );
}

#[tokio::test(start_paused = true)]
async fn tries_lost_on_a_referral_read_without_the_change_say_that_it_was_read() {
    let lost = || failure(TransportError::Timeout);
    let without = referral("\"e1\"", json!({"details": {"notes": "old"}}));
    let script = Scripted::new(&[("r1", vec![lost(), lost(), without])]);
    let options = SendOptions {
        max_attempts: 2,
        ..options()
    };
    let ran = run(&options, script, vec![replace_doc("r1")]).await;
    let message = ran.one().error_message.clone().unwrap_or_default();
    assert!(
        message.contains("read after the last one does not hold the change"),
        "{message}"
    );
    // Unread, it says so.
    let script = Scripted::new(&[("r1", vec![lost(), lost(), status(503), status(503)])]);
    let ran = run(&options, script, vec![replace_doc("r1")]).await;
    let message = ran.one().error_message.clone().unwrap_or_default();
    assert!(message.contains("could not be read to check"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_cannot_be_opened_is_a_try_but_no_request_sent() {
    let refused = || failure(TransportError::Connect("refused".into()));
    let script = Scripted::new(&[("r1", vec![refused(), refused(), status(204)])]);
    let ran = run(&options(), script, vec![replace_doc("r1")]).await;
    let result = ran.one();
    assert_eq!((result.outcome, result.attempts), (Outcome::Updated, 1));
    let stats = ran.stats.as_ref().expect("stats");
    assert_eq!((stats.requests, stats.retries), (1, 0));
    // Never opened at all: retries run out with nothing sent, so nothing was applied and
    // the document is `not_sent`, left open for a resume.
    let options = SendOptions {
        max_attempts: 2,
        ..options()
    };
    let script = Scripted::new(&[("r1", vec![refused(), refused()])]);
    let ran = run(&options, script, vec![replace_doc("r1")]).await;
    let result = ran.one();
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(result.error_code.as_deref(), Some("not_sent"));
    let message = result.error_message.as_deref().unwrap_or_default();
    assert!(message.contains("could not be reached"), "{message}");
    assert_eq!(result.attempts, 0);
    // No request left, so none carried a request ID to report.
    assert_eq!(result.request_id, None);
    assert_eq!(ran.stats.as_ref().expect("stats").requests, 0);
}

#[tokio::test(start_paused = true)]
async fn an_append_whose_read_before_its_patch_never_connects_is_not_sent() {
    // Under auto an append reads its referral first; that read never connected.
    let refused = || failure(TransportError::Connect("refused".into()));
    let options = SendOptions {
        max_attempts: 2,
        ..options()
    };
    let script = Scripted::new(&[("r1", vec![refused(), refused()])]);
    let ran = run(&options, script.clone(), vec![append_doc("r1")]).await;
    let result = ran.one();
    assert_eq!(result.error_code.as_deref(), Some("not_sent"));
    assert_eq!(result.attempts, 0);
    assert!(script.patches().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_document_whose_patch_left_once_is_not_called_unsent_when_later_tries_cannot_connect() {
    let refused = || failure(TransportError::Connect("refused".into()));
    let options = SendOptions {
        max_attempts: 3,
        ..options()
    };
    let script = Scripted::new(&[("r1", vec![status(503), refused(), refused()])]);
    let ran = run(&options, script, vec![replace_doc("r1")]).await;
    let result = ran.one();
    assert_eq!(result.error_code.as_deref(), Some("retries_exhausted"));
    assert_eq!(result.attempts, 1);
}

#[tokio::test(start_paused = true)]
async fn a_lost_append_without_if_match_that_never_settles_is_outcome_unknown() {
    let lost = failure(TransportError::Lost("reset".into()));
    let script = Scripted::new(&[("r1", vec![lost, status(503), status(503)])]);
    let options = SendOptions {
        max_attempts: 3,
        if_match: IfMatchPolicy::None,
        ..options()
    };
    let ran = run(&options, script.clone(), vec![append_doc("r1")]).await;
    let result = ran.one();
    assert_eq!(result.error_code.as_deref(), Some("outcome_unknown"));
    assert_eq!(result.attempts, 3);
    assert!(
        script
            .patches()
            .iter()
            .all(|s| s.header("If-Match").is_none())
    );
}

#[tokio::test(start_paused = true)]
async fn a_lost_append_that_the_server_replays_is_updated() {
    let lost = failure(TransportError::Timeout);
    let script = Scripted::new(&[("r1", vec![lost, status(204)])]);
    let options = SendOptions {
        if_match: IfMatchPolicy::None,
        ..options()
    };
    let result = run(&options, script.clone(), vec![append_doc("r1")])
        .await
        .one()
        .clone();
    assert_eq!(result.outcome, Outcome::Updated);
    let patches = script.patches();
    assert_eq!(patches[0].request.request_id, patches[1].request.request_id);
}

#[tokio::test(start_paused = true)]
async fn etag_after_comes_from_the_body_when_the_header_is_missing() {
    let script = Scripted::new(&[("r1", vec![with_body(200, json!({"eTag": "\"e9\""}))])]);
    let options = SendOptions {
        return_representation: true,
        ..options()
    };
    let ran = run(&options, script.clone(), vec![replace_doc("r1")]).await;
    assert_eq!(ran.one().etag_after.as_deref(), Some("\"e9\""));
    assert_eq!(
        script.seen()[0].header("Prefer").as_deref(),
        Some("return=representation")
    );
}

#[tokio::test(start_paused = true)]
async fn a_patch_carries_the_documented_headers_and_body() {
    let script = Scripted::new(&[("r1", vec![status(204)])]);
    let options = SendOptions {
        correlation_id: uuid::Uuid::from_u128(7),
        ..options()
    };
    run(&options, script.clone(), vec![replace_doc("r1")]).await;
    let seen = &script.seen()[0];
    assert_eq!(seen.request.token.expose(), "tok");
    assert_eq!(
        seen.header("Content-Type").as_deref(),
        Some("application/json")
    );
    assert_eq!(seen.header("Accept").as_deref(), Some("application/json"));
    assert_eq!(
        seen.header("MS-CorrelationId"),
        Some(uuid::Uuid::from_u128(7).to_string())
    );
    assert_eq!(seen.header("Prefer"), None);
    let body: Value =
        serde_json::from_slice(seen.request.body.as_deref().unwrap_or_default()).expect("json");
    assert_eq!(
        body,
        json!([{"op": "replace", "path": "/details/notes", "value": "hello"}])
    );
}

#[tokio::test(start_paused = true)]
async fn an_outcome_unknown_shows_no_status_when_no_patch_was_answered() {
    // The referral is read first (--undo) and answers 200; every PATCH's answer is lost.
    // That 200 is not the PATCH's: the report shows no status.
    let lost = || failure(TransportError::Lost("reset".into()));
    let answers = vec![referral("\"e1\"", json!({"team": []})), lost(), lost()];
    let script = Scripted::new(&[("r1", answers)]);
    let options = SendOptions {
        max_attempts: 2,
        if_match: IfMatchPolicy::None,
        ..options()
    };
    let control = crate::send::RunControl {
        read_before: true,
        ..crate::send::RunControl::default()
    };
    let ran = run_controlled(&options, script, control, vec![append_doc("r1")]).await;
    let result = ran.one();
    assert_eq!(result.error_code.as_deref(), Some("outcome_unknown"));
    assert_eq!((result.attempts, result.http_status), (2, None));
}

#[tokio::test(start_paused = true)]
async fn a_certificate_that_is_not_trusted_stops_the_run_without_a_retry() {
    let untrusted = || failure(TransportError::Certificate("UnknownIssuer".into()));
    let script = Scripted::new(&[("r1", vec![untrusted()]), ("r2", vec![untrusted()])]);
    let options = SendOptions {
        concurrency: 1,
        ..options()
    };
    let docs = vec![replace_doc("r1"), replace_doc("r2")];
    let ran = run(&options, script.clone(), docs).await;
    match ran.stats {
        Err(error @ SendError::Certificate(_)) => {
            let message = error.to_string();
            assert!(message.contains("UnknownIssuer"), "{message}");
            assert!(message.contains("--ca-cert"), "{message}");
        }
        other => panic!("expected the run to stop on the certificate: {other:?}"),
    }
    assert_eq!(script.seen().len(), 1, "neither retried nor tried for r2");
    assert!(ran.results.is_empty(), "{:?}", ran.results);
}

#[tokio::test(start_paused = true)]
async fn tries_that_all_lost_their_answer_are_verified_by_reading_the_referral() {
    let lost = || failure(TransportError::Lost("reset".into()));
    let applied = referral("\"e2\"", json!({"details": {"notes": "hello"}}));
    let script = Scripted::new(&[("r1", vec![lost(), lost(), lost(), applied])]);
    let options = SendOptions {
        max_attempts: 3,
        ..options()
    };
    let ran = run(&options, script.clone(), vec![replace_doc("r1")]).await;
    let result = ran.one();
    assert_eq!(
        (result.outcome, result.attempts, result.note),
        (Outcome::Updated, 3, Some(crate::send::Note::Verified))
    );
    assert_eq!(result.etag_after.as_deref(), Some("\"e2\""));
    assert_eq!(
        script.seen().last().map(|s| s.request.method),
        Some(Method::Get)
    );
}

#[tokio::test(start_paused = true)]
async fn a_lost_answer_verified_afterwards_keeps_the_referral_read_before_it_for_the_undo() {
    let before = json!({"details": {"notes": "old"}});
    let lost = failure(TransportError::Lost("reset".into()));
    let applied = referral("\"e2\"", json!({"details": {"notes": "hello"}}));
    let answers = vec![referral("\"e1\"", before.clone()), lost, applied];
    let script = Scripted::new(&[("r1", answers)]);
    let options = SendOptions {
        max_attempts: 1,
        ..options()
    };
    let control = crate::send::RunControl {
        read_before: true,
        ..crate::send::RunControl::default()
    };
    let ran = run_controlled(&options, script, control, vec![replace_doc("r1")]).await;
    let result = ran.one();
    assert_eq!(
        (result.outcome, result.note),
        (Outcome::Updated, Some(crate::send::Note::Verified))
    );
    let read_first = result.before.as_ref().map(|body| &body["details"]);
    assert_eq!(read_first, Some(&before["details"]));
}

#[tokio::test(start_paused = true)]
async fn a_lost_append_found_in_the_team_afterwards_is_updated_not_unknown() {
    let lost = || failure(TransportError::Timeout);
    let team = json!({"team": [{"email": "NEW@x.com"}]});
    let script = Scripted::new(&[("r1", vec![lost(), lost(), referral("\"e5\"", team)])]);
    let options = SendOptions {
        max_attempts: 2,
        if_match: IfMatchPolicy::None,
        ..options()
    };
    let ran = run(&options, script, vec![append_doc("r1")]).await;
    let result = ran.one();
    assert_eq!(result.outcome, Outcome::Updated);
    assert_eq!(result.note, Some(crate::send::Note::Verified));
}

/// `replace_doc("r1")` answered by `answers`, with two tries.
async fn with_two_tries(answers: Vec<Answer>) -> SendResult {
    let options = SendOptions {
        max_attempts: 2,
        ..options()
    };
    let script = Scripted::new(&[("r1", answers)]);
    run(&options, script, vec![replace_doc("r1")])
        .await
        .one()
        .clone()
}

#[tokio::test(start_paused = true)]
async fn lost_answers_whose_changes_the_referral_lacks_stay_failed() {
    let lost = failure(TransportError::Lost("reset".into()));
    let unapplied = referral("\"e1\"", json!({"details": {"notes": "before"}}));
    let result = with_two_tries(vec![lost, status(503), unapplied]).await;
    assert_eq!(
        (result.outcome, result.error_code.as_deref(), result.note),
        (Outcome::Failed, Some("retries_exhausted"), None)
    );
    assert_eq!(result.http_status, Some(503));
}

#[tokio::test(start_paused = true)]
async fn a_read_that_fails_after_lost_answers_leaves_the_report_as_the_patches_left_it() {
    let lost = || failure(TransportError::Timeout);
    let result = with_two_tries(vec![lost(), lost(), status(404)]).await;
    assert_eq!(
        (result.outcome, result.error_code.as_deref()),
        (Outcome::Failed, Some("timeout"))
    );
    assert_eq!(
        result.http_status, None,
        "no PATCH was answered; the read's 404 is not its status"
    );
    let message = result.error_message.as_deref().unwrap_or_default();
    assert!(message.contains("may have been applied"), "{message}");
}
