//! Pacing across workers: the run-wide 429 pause, the one rate limiter every request
//! passes (its burst holding after a pause), the concurrency cap and the peak of requests
//! on the wire, and the endpoint refused before anything is sent.

use super::*;
use crate::outcome::Outcome;
use crate::send::RunControl;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A rate gate that lets everything through and counts the permits taken.
#[derive(Default)]
struct CountingGate(AtomicUsize);

impl RateGate for CountingGate {
    fn until_ready(&self) -> BoxFuture<'_, ()> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(std::future::ready(()))
    }
}

#[tokio::test(start_paused = true)]
async fn a_429_pauses_every_other_worker() {
    let script = Scripted::new(&[
        ("r1", vec![status(429).retry_after("5"), status(204)]),
        (
            "r2",
            vec![status(503).after(Duration::from_secs(1)), status(204)],
        ),
    ]);
    let start = Instant::now();
    let ran = run(
        &options(),
        script.clone(),
        vec![replace_doc("r1"), replace_doc("r2")],
    )
    .await;
    assert!(ran.results.iter().all(|r| r.outcome == Outcome::Updated));
    let r2_retry = script
        .seen()
        .into_iter()
        .filter(|s| s.id == "r2")
        .nth(1)
        .expect("a retry");
    // r2's own backoff is at most 250 ms after its 503 at 1 s; the 429 holds it to 5 s.
    assert!(r2_retry.at - start >= Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn every_request_passes_the_rate_limiter_gets_and_retries_included() {
    let script = Scripted::new(&[(
        "r1",
        vec![referral("\"e\"", json!({})), status(503), status(204)],
    )]);
    let gate = Arc::new(CountingGate::default());
    let tokens = Arc::new(TokenProvider::new(TokenSource::Fixed(Secret::new("tok"))));
    let options = SendOptions {
        if_match: IfMatchPolicy::Fetch,
        ..options()
    };
    let ran = run_with(
        &options,
        script,
        tokens,
        gate.clone(),
        vec![replace_doc("r1")],
    )
    .await;
    assert_eq!(gate.0.load(Ordering::SeqCst), 3);
    assert_eq!(ran.stats.expect("run finished").requests, 3);
}

#[tokio::test(start_paused = true)]
async fn at_most_concurrency_requests_are_in_flight() {
    let ids: Vec<String> = (0..6).map(|n| format!("r{n}")).collect();
    let script: Vec<_> = ids
        .iter()
        .map(|id| (id.as_str(), vec![status(204).after(Duration::from_secs(1))]))
        .collect();
    let script = Scripted::new(&script);
    let options = SendOptions {
        concurrency: 2,
        ..options()
    };
    let start = Instant::now();
    let ran = run(
        &options,
        script,
        ids.iter().map(|id| replace_doc(id)).collect(),
    )
    .await;
    assert_eq!(ran.results.len(), 6);
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn a_plain_http_endpoint_to_a_remote_host_is_refused_before_any_request() {
    let script = Scripted::new(&[("r1", vec![status(204)])]);
    let options = SendOptions {
        endpoint: "http://example.com/v1.0".into(),
        ..options()
    };
    let ran = run(&options, script.clone(), vec![replace_doc("r1")]).await;
    assert!(matches!(ran.stats, Err(SendError::Endpoint(_))));
    assert!(script.seen().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_id_is_percent_encoded_into_the_url() {
    let script = Scripted::new(&[("a%20b%2Fc", vec![status(204)])]);
    let options = SendOptions {
        endpoint: "http://127.0.0.1:8080/v1.0/".into(),
        ..options()
    };
    let ran = run(&options, script.clone(), vec![replace_doc("a b/c")]).await;
    assert_eq!(ran.one().outcome, Outcome::Updated);
    assert_eq!(
        script.seen()[0].request.url.as_str(),
        "http://127.0.0.1:8080/v1.0/engagements/referrals/a%20b%2Fc"
    );
}

#[tokio::test(start_paused = true)]
async fn burst_1_holds_when_a_429_pause_ends() {
    // r1's 429 pauses the run for 5 s while r2 waits for its first permit; when the pause
    // ends, r1's retry and r2's first try must not go at the same instant.
    let script = Scripted::new(&[
        ("r1", vec![status(429).retry_after("5"), status(204)]),
        ("r2", vec![status(204)]),
    ]);
    let gate = Arc::new(Bucket::new(Duration::from_millis(100), 1));
    let docs = vec![replace_doc("r1"), replace_doc("r2")];
    let ran = run_gated(
        &options(),
        script.clone(),
        RunControl::default(),
        gate,
        docs,
    )
    .await;
    assert!(ran.results.iter().all(|r| r.outcome == Outcome::Updated));
    let at: Vec<Duration> = script
        .seen()
        .iter()
        .map(|s| s.at - script.seen()[0].at)
        .collect();
    let ms = Duration::from_millis;
    assert_eq!(at, [ms(0), ms(5000), ms(5100)], "{at:?}");
}

#[tokio::test(start_paused = true)]
async fn the_peak_in_flight_counts_requests_on_the_wire_not_documents_waiting() {
    // Four documents at once, but permits 100 ms apart and answers after 10 ms: never
    // more than one request on the wire.
    let ids = ["r1", "r2", "r3", "r4"];
    let answer = || vec![status(204).after(Duration::from_millis(10))];
    let script: Vec<_> = ids.iter().map(|id| (*id, answer())).collect();
    let script = Scripted::new(&script);
    let docs = ids.map(replace_doc).to_vec();
    let gate = Arc::new(Spaced::default());
    let ran = run_gated(&options(), script, RunControl::default(), gate, docs).await;
    assert_eq!(ran.stats.expect("run finished").peak_in_flight, 1);
}

#[tokio::test(start_paused = true)]
async fn the_peak_in_flight_reaches_the_requests_that_overlap() {
    let ids = ["r1", "r2", "r3"];
    let answer = || vec![status(204).after(Duration::from_secs(1))];
    let script: Vec<_> = ids.iter().map(|id| (*id, answer())).collect();
    let script = Scripted::new(&script);
    let ran = run(&options(), script, ids.map(replace_doc).to_vec()).await;
    assert_eq!(ran.stats.expect("run finished").peak_in_flight, 3);
}

#[tokio::test(start_paused = true)]
async fn requests_that_never_answer_do_not_hold_up_the_other_documents() {
    // Answers in 10 ms bring the in-flight limit down to about 6 at 100/s; then eight
    // requests in a row get no answer until their 30 s timeout. Were they counted against
    // the limit all that time, every other document would wait for them.
    let stalled: Vec<String> = (100..108).map(|n| format!("r{n}")).collect();
    let ids: Vec<String> = (0..200).map(|n| format!("r{n}")).collect();
    let quick = || status(204).after(Duration::from_millis(10));
    let script: Vec<_> = ids
        .iter()
        .map(|id| match stalled.contains(id) {
            true => (
                id.as_str(),
                vec![
                    failure(TransportError::Timeout).after(Duration::from_secs(30)),
                    quick(),
                ],
            ),
            false => (id.as_str(), vec![quick()]),
        })
        .collect();
    let script = Scripted::new(&script);
    let options = SendOptions {
        rate: RateLimit::Every {
            count: 100,
            period: Duration::from_secs(1),
        },
        concurrency: 64,
        ..options()
    };
    let start = Instant::now();
    let docs = ids.iter().map(|id| replace_doc(id)).collect();
    let ran = run(&options, script.clone(), docs).await;
    assert!(ran.results.iter().all(|r| r.outcome == Outcome::Updated));
    let last_other = script
        .seen()
        .iter()
        .filter(|seen| !stalled.contains(&seen.id))
        .map(|seen| seen.at - start)
        .max()
        .expect("requests seen");
    assert!(
        last_other < Duration::from_secs(5),
        "the other documents were sent by {last_other:?}"
    );
    let peak = ran.stats.expect("run finished").peak_in_flight;
    assert!(peak <= 64, "never past --concurrency: {peak}");
}
