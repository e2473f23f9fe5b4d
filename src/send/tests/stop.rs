//! Stopping a run: aborting it (`--deadline`, a second signal) reaches every wait of the
//! documents in flight, and each ends `failed` with the code that says how far it got;
//! draining it (a first signal, `--max-failures`) starts nothing new.

use super::*;
use crate::outcome::Outcome;
use crate::send::{RunControl, Stop, StopReason};

/// Runs `docs` and aborts with `reason` after `after` (on tokio's paused clock).
async fn aborted_after(
    after: Duration,
    reason: StopReason,
    script: Arc<Scripted>,
    docs: Vec<Document>,
) -> Ran {
    let stop = Stop::new();
    let control = RunControl {
        stop: stop.clone(),
        ..RunControl::default()
    };
    let trigger = tokio::spawn(async move {
        tokio::time::sleep(after).await;
        stop.abort(reason);
    });
    let ran = run_controlled(&options(), script, control, docs).await;
    trigger.abort();
    ran
}

#[tokio::test(start_paused = true)]
async fn a_deadline_cuts_a_retry_after_pause_short_and_reports_deadline() {
    let throttled = status(429).retry_after("120");
    let script = Scripted::new(&[("r1", vec![throttled, status(204)])]);
    let start = Instant::now();
    let ran = aborted_after(
        Duration::from_secs(1),
        StopReason::Deadline,
        script,
        vec![replace_doc("r1")],
    )
    .await;
    let result = ran.one();
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(result.error_code.as_deref(), Some("deadline"));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn an_interrupted_patch_on_the_wire_is_outcome_unknown() {
    let slow = status(204).after(Duration::from_secs(60));
    let script = Scripted::new(&[("r1", vec![slow])]);
    let ran = aborted_after(
        Duration::from_secs(1),
        StopReason::Interrupted,
        script,
        vec![replace_doc("r1")],
    )
    .await;
    let result = ran.one();
    assert_eq!(result.error_code.as_deref(), Some("outcome_unknown"));
    assert_eq!(result.attempts, 1);
}

#[tokio::test(start_paused = true)]
async fn an_interruption_during_the_get_before_the_patch_is_not_sent() {
    let slow_get = referral("\"e1\"", json!({"team": []})).after(Duration::from_secs(60));
    let script = Scripted::new(&[("r1", vec![slow_get])]);
    let ran = aborted_after(
        Duration::from_secs(1),
        StopReason::Interrupted,
        script.clone(),
        vec![append_doc("r1")],
    )
    .await;
    assert_eq!(ran.one().error_code.as_deref(), Some("not_sent"));
    assert!(script.patches().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_drained_run_takes_no_new_document_but_finishes_the_one_in_flight() {
    let options = SendOptions {
        concurrency: 1,
        ..options()
    };
    let stop = Stop::new();
    let control = RunControl {
        stop: stop.clone(),
        ..RunControl::default()
    };
    let slow = status(204).after(Duration::from_secs(2));
    let script = Scripted::new(&[("r1", vec![slow]), ("r2", vec![status(204)])]);
    let trigger = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.drain();
    });
    let docs = vec![replace_doc("r1"), replace_doc("r2")];
    let ran = run_controlled(&options, script, control, docs).await;
    trigger.abort();
    assert_eq!(ran.one().outcome, Outcome::Updated);
    assert_eq!(ran.one().entry, 0);
}

#[tokio::test(start_paused = true)]
async fn a_drain_ends_the_documents_still_waiting_to_send_anything() {
    // Permits 100 ms apart: r1 is on the wire until 1 s, r2 got a 503 at 100 ms and waits
    // to retry, r3 and r4 wait for their first permits when the run drains at 150 ms.
    let stop = Stop::new();
    let control = RunControl {
        stop: stop.clone(),
        ..RunControl::default()
    };
    let script = Scripted::new(&[
        ("r1", vec![status(204).after(Duration::from_secs(1))]),
        ("r2", vec![status(503), status(204)]),
        ("r3", vec![status(204)]),
        ("r4", vec![status(204)]),
    ]);
    let trigger = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        stop.drain();
    });
    let docs = ["r1", "r2", "r3", "r4", "r5"].map(replace_doc).to_vec();
    let gate = Arc::new(Spaced::default());
    let ran = run_gated(&options(), script.clone(), control, gate, docs).await;
    trigger.abort();
    let not_sent = |entry| (entry, Outcome::Failed, Some("not_sent"), 0);
    assert_eq!(
        ran.endings(),
        [
            (0, Outcome::Updated, None, 1),
            (1, Outcome::Updated, None, 2),
            not_sent(2),
            not_sent(3),
        ]
    );
    assert_eq!(script.patches().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn an_interrupted_check_after_a_lost_answer_is_outcome_unknown() {
    // The PATCH's answer is lost, its retry gets 412, and the GET that would tell whether
    // the first try landed is cut short: the document may have been applied.
    let lost = failure(TransportError::Timeout);
    let slow_get = referral("\"e2\"", json!({})).after(Duration::from_secs(60));
    let stale = with_body(412, json!({"code": "PreconditionFailed"}));
    let script = Scripted::new(&[("r1", vec![lost, stale, slow_get])]);
    let mut doc = replace_doc("r1");
    doc.if_match = Some("\"e1\"".into());
    let ran = aborted_after(
        Duration::from_secs(30),
        StopReason::Interrupted,
        script,
        vec![doc],
    )
    .await;
    let result = ran.one();
    assert_eq!(result.error_code.as_deref(), Some("outcome_unknown"));
    assert_eq!(result.attempts, 2);
}

#[tokio::test(start_paused = true)]
async fn a_deadline_reports_documents_that_sent_nothing_not_sent_and_says_which_patch_left() {
    // Permits 100 ms apart: r1 is on the wire until 10 s; r2 got a 503 at 100 ms and waits
    // to retry; r3 and r4 wait for their first permits when the deadline passes at 150 ms.
    let stop = Stop::new();
    let control = RunControl {
        stop: stop.clone(),
        ..RunControl::default()
    };
    let options = SendOptions {
        max_attempts: 2,
        ..options()
    };
    let script = Scripted::new(&[
        ("r1", vec![status(204).after(Duration::from_secs(10))]),
        ("r2", vec![status(503), status(204)]),
        ("r3", vec![status(204)]),
        ("r4", vec![status(204)]),
    ]);
    let trigger = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        stop.abort(StopReason::Deadline);
    });
    let docs = ["r1", "r2", "r3", "r4"].map(replace_doc).to_vec();
    let gate = Arc::new(Spaced::default());
    let ran = run_gated(&options, script, control, gate, docs).await;
    trigger.abort();
    let not_sent = |entry| (entry, Outcome::Failed, Some("not_sent"), 0);
    assert_eq!(
        ran.endings(),
        [
            (0, Outcome::Failed, Some("deadline"), 1),
            (1, Outcome::Failed, Some("deadline"), 1),
            not_sent(2),
            not_sent(3),
        ]
    );
    let message = |entry: usize| ran.results[entry].error_message.clone().unwrap_or_default();
    assert!(
        message(0).contains("may have been applied"),
        "{}",
        message(0)
    );
    assert!(
        message(1).contains("sending it again is safe"),
        "{}",
        message(1)
    );
    assert!(
        message(2).contains("before this document sent its PATCH"),
        "{}",
        message(2)
    );
}
