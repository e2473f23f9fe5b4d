//! The introspection endpoints: `/_emulator/stats` and `/_emulator/referrals`.

use refsync::emulator::EmulatorOptions;
use serde_json::{Value, json};

use super::{NEW_PENDING, client, get, notes, patch, start};

#[tokio::test]
async fn stats_count_answers_and_keep_each_requests_headers() {
    let emulator = start(EmulatorOptions::default()).await;
    get(&emulator, NEW_PENDING).await;
    let headers = [
        ("MS-RequestId", "req-1"),
        ("MS-CorrelationId", "run-1"),
        ("Prefer", "return=representation"),
        ("If-Match", "*"),
    ];
    patch(&emulator, NEW_PENDING, notes("x"), &headers).await;
    let stats: Value = client()
        .get(format!("http://{}/_emulator/stats", emulator.addr()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["requests"], json!({"GET 200": 1, "PATCH 200": 1}));
    assert_eq!(stats["applied"], json!({ NEW_PENDING: 1 }));
    assert_eq!(stats["replays"], 0);
    assert!(stats["peak_rps"].as_u64().unwrap() >= 1);
    assert!(stats["max_in_flight"].as_u64().unwrap() >= 1);
    let expected = json!({"method": "PATCH", "id": NEW_PENDING, "status": "200",
        "request_id": "req-1", "correlation_id": "run-1", "if_match": "*",
        "prefer": "return=representation", "authorization": false});
    assert_eq!(stats["headers"][1], expected);
    assert_eq!(stats, emulator.stats());
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_stats_summary_leaves_out_headers_and_applied_and_shows_in_flight() {
    let emulator = start(EmulatorOptions::default()).await;
    patch(&emulator, NEW_PENDING, notes("x"), &[]).await;
    let stats: Value = client()
        .get(format!(
            "http://{}/_emulator/stats?summary=1",
            emulator.addr()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["requests"], json!({"PATCH 204": 1}));
    assert_eq!(stats["in_flight"], 0);
    assert!(stats.get("headers").is_none() && stats.get("applied").is_none());
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_referrals_endpoint_returns_the_state_by_id() {
    let emulator = start(EmulatorOptions::default()).await;
    let state: Value = client()
        .get(format!("http://{}/_emulator/referrals", emulator.addr()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state.as_object().unwrap().len(), 30);
    assert_eq!(state, Value::Object(emulator.referrals()));
    emulator.shutdown().await;
}
