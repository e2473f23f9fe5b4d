//! Aborting a run (`--deadline`, a second signal) reaches every wait of the documents in
//! flight, and each ends `failed` with the code that says how far it got.

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
