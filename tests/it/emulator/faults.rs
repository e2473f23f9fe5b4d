//! Injected faults: seeded 5xx, the throttle, dropped answers, another writer, stalls,
//! latency, and closed referrals that refuse every change.

use std::time::Duration;

use refsync::emulator::{EmulatorOptions, Faults};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

use super::{ACTIVE_ENGAGED, CLOSED_WON, NEW_PENDING, error_code, etag_header, get, notes, patch};
use super::{client, start, start_with, url};

#[tokio::test]
async fn a_dropped_patch_is_applied_but_never_answered_and_its_retry_is_replayed() {
    let emulator = start_with(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    })
    .await;
    let request = client()
        .patch(url(&emulator, NEW_PENDING))
        .header("MS-RequestId", "dropped-1")
        .json(&notes("lost answer"));
    assert!(request.send().await.is_err());
    assert_eq!(
        emulator.referrals()[NEW_PENDING]["details"]["notes"],
        "lost answer"
    );
    let stats = emulator.stats();
    assert_eq!(stats["requests"]["PATCH dropped"], 1);
    assert_eq!(stats["headers"][0]["status"], "dropped");
    assert_eq!(stats["applied"][NEW_PENDING], 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_conflicting_writer_makes_an_if_match_stale() {
    let emulator = start_with(Faults {
        conflict_rate: 1.0,
        ..Faults::default()
    })
    .await;
    let etag = etag_header(&get(&emulator, NEW_PENDING).await);
    let headers = [("If-Match", etag.as_str())];
    let (status, code) =
        error_code(patch(&emulator, NEW_PENDING, notes("x"), &headers).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PRECONDITION_FAILED, "PreconditionFailed")
    );
    assert_ne!(emulator.referrals()[NEW_PENDING]["eTag"], etag);
    assert_eq!(emulator.stats()["conflicts_injected"], 1);
    assert_eq!(emulator.stats()["applied"], json!({}));
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_stalled_request_is_never_answered_and_shutdown_still_ends() {
    let emulator = start_with(Faults {
        stall_rate: 1.0,
        ..Faults::default()
    })
    .await;
    let client = Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let error = client
        .get(url(&emulator, NEW_PENDING))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert_eq!(emulator.stats()["requests"]["stalled"], 1);
    tokio::time::timeout(Duration::from_secs(3), emulator.shutdown())
        .await
        .expect("shutdown ends despite a stalled request");
}

#[tokio::test]
async fn with_closed_is_final_a_closed_referral_refuses_every_change() {
    let emulator = start_with(Faults {
        closed_is_final: true,
        ..Faults::default()
    })
    .await;
    let (status, code) = error_code(patch(&emulator, CLOSED_WON, notes("x"), &[]).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "ReferralClosed")
    );
    assert_eq!(
        patch(&emulator, ACTIVE_ENGAGED, notes("x"), &[])
            .await
            .status(),
        204
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn without_closed_is_final_a_closed_referral_takes_other_changes() {
    let emulator = start(EmulatorOptions::default()).await;
    assert_eq!(
        patch(&emulator, CLOSED_WON, notes("x"), &[]).await.status(),
        204
    );
    let reopen = json!([{"op": "replace", "path": "/status", "value": "Active"},
                        {"op": "replace", "path": "/substatus", "value": "Engaged"}]);
    let (status, code) = error_code(patch(&emulator, CLOSED_WON, reopen, &[]).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "InvalidTransition")
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn latency_delays_answers_without_changing_them() {
    let emulator = start_with(Faults {
        latency_ms: 50,
        ..Faults::default()
    })
    .await;
    let started = std::time::Instant::now();
    let response = get(&emulator, NEW_PENDING).await;
    assert!(started.elapsed() >= Duration::from_millis(40));
    assert_eq!(response.json::<Value>().await.unwrap()["id"], NEW_PENDING);
    emulator.shutdown().await;
}

async fn statuses_with_fail_rate(seed: u64) -> Vec<u16> {
    let emulator = start_with(Faults {
        fail_rate: 0.4,
        fault_seed: seed,
        ..Faults::default()
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(get(&emulator, NEW_PENDING).await.status().as_u16());
    }
    emulator.shutdown().await;
    statuses
}

#[tokio::test]
async fn the_fail_rate_is_repeatable_by_seed_and_fails_with_5xx_only() {
    let first = statuses_with_fail_rate(11).await;
    assert_eq!(first, statuses_with_fail_rate(11).await);
    assert_ne!(first, statuses_with_fail_rate(12).await);
    assert!(first.iter().all(|s| [200, 500, 502, 503, 504].contains(s)));
    assert!(first.contains(&200) && first.iter().any(|s| *s >= 500));
}

#[tokio::test]
async fn an_injected_failure_applies_nothing() {
    let emulator = start_with(Faults {
        fail_rate: 1.0,
        ..Faults::default()
    })
    .await;
    let status = patch(&emulator, NEW_PENDING, notes("x"), &[])
        .await
        .status();
    assert!(status.is_server_error());
    assert_eq!(emulator.stats()["applied"], json!({}));
    emulator.shutdown().await;
}

async fn third_of_three_quick_requests(no_retry_after: bool) -> Response {
    let emulator = start_with(Faults {
        throttle: Some(2),
        no_retry_after,
        ..Faults::default()
    })
    .await;
    assert_eq!(get(&emulator, NEW_PENDING).await.status(), 200);
    assert_eq!(get(&emulator, NEW_PENDING).await.status(), 200);
    let third = get(&emulator, NEW_PENDING).await;
    assert_eq!(emulator.stats()["requests"]["GET 429"], 1);
    emulator.shutdown().await;
    third
}

#[tokio::test]
async fn beyond_the_throttle_bucket_requests_get_429_with_retry_after() {
    let third = third_of_three_quick_requests(false).await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    let seconds: u64 = third.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(seconds >= 1);
    assert_eq!(error_code(third).await.1, "Throttled");
}

#[tokio::test]
async fn with_no_retry_after_a_429_carries_no_retry_after() {
    let third = third_of_three_quick_requests(true).await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(third.headers().get("retry-after").is_none());
}
