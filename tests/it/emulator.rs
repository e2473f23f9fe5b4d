//! HTTP-level tests of the emulator: each starts one in-process on 127.0.0.1:0 and talks
//! to it with `reqwest`, as refsync does. The later faults and the list and token
//! endpoints have modules of their own.

mod faults;
mod list;
mod stats;

use std::sync::LazyLock;

use refsync::emulator::{Emulator, EmulatorOptions, Faults, Seed};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

/// Sample referrals (samples/referrals.jsonl) in the states the tests need.
const NEW_PENDING: &str = "fbcf71a8-76dc-4ea0-8a52-2f61cb154456";
const ACTIVE_ENGAGED: &str = "e46c632e-eb76-4781-bffd-fd48fee26fa0";
const CLOSED_WON: &str = "d0ef119d-f19e-4462-b81f-5c8100d7a488";

/// One client for all tests: building a rustls client costs milliseconds, which adds up.
/// Without idle connections, nothing outlives the test runtime that made it.
static CLIENT: LazyLock<Client> = LazyLock::new(|| {
    Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a reqwest client")
});

fn client() -> Client {
    CLIENT.clone()
}

async fn start(options: EmulatorOptions) -> Emulator {
    Emulator::start(options).await.unwrap()
}

async fn start_with(faults: Faults) -> Emulator {
    start(EmulatorOptions {
        faults,
        ..EmulatorOptions::default()
    })
    .await
}

fn url(emulator: &Emulator, id: &str) -> String {
    format!("{}/engagements/referrals/{id}", emulator.base_url())
}

async fn get(emulator: &Emulator, id: &str) -> Response {
    client().get(url(emulator, id)).send().await.unwrap()
}

async fn patch(emulator: &Emulator, id: &str, body: Value, headers: &[(&str, &str)]) -> Response {
    let mut request = client().patch(url(emulator, id)).json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn notes(text: &str) -> Value {
    json!([{"op": "replace", "path": "/details/notes", "value": text}])
}

fn etag_header(response: &Response) -> String {
    response.headers()["etag"].to_str().unwrap().to_string()
}

async fn error_code(response: Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["code"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn get_returns_the_referral_with_an_etag_header_equal_to_its_body() {
    let emulator = start(EmulatorOptions::default()).await;
    let response = get(&emulator, ACTIVE_ENGAGED).await;
    assert_eq!(response.status(), StatusCode::OK);
    let etag = etag_header(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], ACTIVE_ENGAGED);
    assert_eq!(body["eTag"], etag);
    assert!(etag.starts_with('"') && etag.ends_with('"'));
    emulator.shutdown().await;
}

#[tokio::test]
async fn an_unknown_id_is_404_not_found() {
    let emulator = start(EmulatorOptions::default()).await;
    let (status, code) = error_code(get(&emulator, "no-such-id").await).await;
    assert_eq!((status, code.as_str()), (StatusCode::NOT_FOUND, "NotFound"));
    let response = patch(&emulator, "no-such-id", notes("x"), &[]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    emulator.shutdown().await;
}

#[tokio::test]
async fn patch_answers_204_by_default_and_200_with_the_referral_when_preferred() {
    let emulator = start(EmulatorOptions::default()).await;
    let before = emulator.referrals()[ACTIVE_ENGAGED].clone();
    let plain = patch(&emulator, ACTIVE_ENGAGED, notes("one"), &[]).await;
    assert_eq!(plain.status(), StatusCode::NO_CONTENT);
    let first = etag_header(&plain);
    assert_ne!(first, before["eTag"]);
    let prefer = [("Prefer", "return=representation")];
    let full = patch(&emulator, ACTIVE_ENGAGED, notes("two"), &prefer).await;
    assert_eq!(full.status(), StatusCode::OK);
    let second = etag_header(&full);
    let body: Value = full.json().await.unwrap();
    assert_eq!(body["details"]["notes"], "two");
    assert_eq!(body["eTag"], second);
    assert_ne!(second, first);
    assert_ne!(body["updatedDateTime"], before["updatedDateTime"]);
    assert_eq!(emulator.referrals()[ACTIVE_ENGAGED], body);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_stale_if_match_is_412_and_changes_nothing_while_star_matches() {
    let emulator = start(EmulatorOptions::default()).await;
    let current = etag_header(&get(&emulator, NEW_PENDING).await);
    let stale = [("If-Match", "\"00000000-0000-0000-0000-000000000000\"")];
    let (status, code) = error_code(patch(&emulator, NEW_PENDING, notes("x"), &stale).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PRECONDITION_FAILED, "PreconditionFailed")
    );
    assert_eq!(emulator.referrals()[NEW_PENDING]["eTag"], current);
    let fresh = [("If-Match", current.as_str())];
    assert_eq!(
        patch(&emulator, NEW_PENDING, notes("y"), &fresh)
            .await
            .status(),
        204
    );
    let star = [("If-Match", "*")];
    assert_eq!(
        patch(&emulator, NEW_PENDING, notes("z"), &star)
            .await
            .status(),
        204
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn refused_patches_are_400_with_a_code_saying_why() {
    let emulator = start(EmulatorOptions::default()).await;
    let cases = [
        (
            json!([{"op": "replace", "path": "/eTag", "value": "\"x\""}]),
            "ReadOnlyField",
        ),
        (
            json!([{"op": "remove", "path": "/details/notes"}]),
            "UnsupportedOperation",
        ),
        (
            json!([{"op": "replace", "path": "/details/dealValue", "value": "lots"}]),
            "InvalidValue",
        ),
        (
            json!([{"op": "replace", "path": "/details/colour", "value": "red"}]),
            "InvalidPath",
        ),
        (
            json!([{"op": "replace", "path": "/status", "value": "New"},
                {"op": "replace", "path": "/substatus", "value": "Pending"}]),
            "InvalidTransition",
        ),
        (json!({"op": "replace"}), "InvalidBody"),
    ];
    for (body, expected) in cases {
        let (status, code) = error_code(patch(&emulator, ACTIVE_ENGAGED, body, &[]).await).await;
        assert_eq!((status, code.as_str()), (StatusCode::BAD_REQUEST, expected));
    }
    assert_eq!(emulator.stats()["applied"], json!({}));
    emulator.shutdown().await;
}

#[tokio::test]
async fn an_allowed_transition_is_applied() {
    let emulator = start(EmulatorOptions::default()).await;
    // The API's names are case-sensitive: a client must send them in its case.
    let lower = json!([{"op": "replace", "path": "/status", "value": "closed"},
                       {"op": "replace", "path": "/substatus", "value": "Won"}]);
    assert_eq!(
        patch(&emulator, ACTIVE_ENGAGED, lower, &[]).await.status(),
        400
    );
    let close = json!([{"op": "replace", "path": "/status", "value": "Closed"},
                       {"op": "replace", "path": "/substatus", "value": "Won"}]);
    assert_eq!(
        patch(&emulator, ACTIVE_ENGAGED, close, &[]).await.status(),
        204
    );
    let referral = &emulator.referrals()[ACTIVE_ENGAGED];
    assert_eq!(
        (&referral["status"], &referral["substatus"]),
        (&json!("Closed"), &json!("Won"))
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn bodies_that_are_not_json_or_too_big_are_refused_without_harm() {
    let emulator = start(EmulatorOptions::default()).await;
    let client = client();
    let garbage = client
        .patch(url(&emulator, NEW_PENDING))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(garbage).await,
        (StatusCode::BAD_REQUEST, "InvalidBody".into())
    );
    let huge = vec![b' '; 2 * 1024 * 1024];
    let big = client
        .patch(url(&emulator, NEW_PENDING))
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(get(&emulator, NEW_PENDING).await.status(), StatusCode::OK);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_token_is_required_when_set_and_never_echoed() {
    let emulator = start(EmulatorOptions {
        token: Some("s3cret".into()),
        ..EmulatorOptions::default()
    })
    .await;
    let client = client();
    let target = url(&emulator, NEW_PENDING);
    let none = client.get(&target).send().await.unwrap();
    assert_eq!(
        error_code(none).await,
        (StatusCode::UNAUTHORIZED, "Unauthorized".into())
    );
    let wrong = client
        .get(&target)
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = client
        .get(&target)
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    let stats = emulator.stats();
    assert!(!stats.to_string().contains("s3cret"));
    assert_eq!(stats["headers"][2]["authorization"], true);
    assert_eq!(stats["requests"]["GET 401"], 2);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_repeated_request_id_gets_the_first_answer_and_is_applied_once() {
    let emulator = start(EmulatorOptions::default()).await;
    let etag = etag_header(&get(&emulator, NEW_PENDING).await);
    let append =
        json!([{"op": "add", "path": "/team/-", "value": {"email": "new@adventure-works.com"}}]);
    let headers = [
        ("MS-RequestId", "6f0e4c1a-0000-4000-8000-000000000001"),
        ("If-Match", etag.as_str()),
        ("Prefer", "return=representation"),
    ];
    let first = patch(&emulator, NEW_PENDING, append.clone(), &headers).await;
    let (first_status, first_etag) = (first.status(), etag_header(&first));
    let first_body: Value = first.json().await.unwrap();
    // The retry carries the old If-Match, now stale: the replay must win over the 412.
    let again = patch(&emulator, NEW_PENDING, append, &headers).await;
    assert_eq!(
        (again.status(), etag_header(&again)),
        (first_status, first_etag)
    );
    assert_eq!(again.json::<Value>().await.unwrap(), first_body);
    let stats = emulator.stats();
    assert_eq!(stats["applied"][NEW_PENDING], 1);
    assert_eq!(stats["replays"], 1);
    let team = emulator.referrals()[NEW_PENDING]["team"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(team, first_body["team"].as_array().unwrap().len());
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_refused_request_id_is_not_stored_so_its_retry_is_handled_afresh() {
    let emulator = start(EmulatorOptions::default()).await;
    let id = ("MS-RequestId", "6f0e4c1a-0000-4000-8000-000000000002");
    let stale = [id, ("If-Match", "\"stale\"")];
    assert_eq!(
        patch(&emulator, NEW_PENDING, notes("a"), &stale)
            .await
            .status(),
        412
    );
    assert_eq!(
        patch(&emulator, NEW_PENDING, notes("a"), &[id])
            .await
            .status(),
        204
    );
    assert_eq!(emulator.stats()["replays"], 0);
    assert_eq!(emulator.stats()["applied"][NEW_PENDING], 1);
    emulator.shutdown().await;
}

async fn generated_ids(n: usize, fault_seed: u64) -> Vec<String> {
    let emulator = start(EmulatorOptions {
        seed: Seed::Generate(n),
        faults: Faults {
            fault_seed,
            ..Faults::default()
        },
        ..EmulatorOptions::default()
    })
    .await;
    let ids: Vec<String> = emulator.referrals().keys().cloned().collect();
    assert_eq!(get(&emulator, &ids[0]).await.status(), StatusCode::OK);
    emulator.shutdown().await;
    ids
}

#[tokio::test]
async fn generated_referrals_have_the_same_ids_for_the_same_n_and_seed() {
    let ids = generated_ids(50, 3).await;
    assert_eq!(ids.len(), 50);
    assert_eq!(ids, generated_ids(50, 3).await);
    assert_ne!(ids, generated_ids(50, 4).await);
}

#[tokio::test]
async fn a_bad_seed_file_names_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.jsonl");
    std::fs::write(&path, "{\"id\": \"a\"}\n{\"id\": \n").unwrap();
    let options = EmulatorOptions {
        seed: Seed::File(path.clone()),
        ..EmulatorOptions::default()
    };
    let error = Emulator::start(options).await.err().unwrap().to_string();
    assert!(
        error.contains(&path.display().to_string()) && error.contains("line 2"),
        "{error}"
    );
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let emulator = start(EmulatorOptions::default()).await;
    let target = url(&emulator, NEW_PENDING);
    emulator.shutdown().await;
    assert!(client().get(target).send().await.is_err());
}

#[tokio::test]
async fn an_empty_request_id_is_no_replay_key_so_each_patch_is_applied() {
    let emulator = start(EmulatorOptions::default()).await;
    let empty = [("MS-RequestId", "")];
    for text in ["first", "second"] {
        let response = patch(&emulator, NEW_PENDING, notes(text), &empty).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(
        emulator.referrals()[NEW_PENDING]["details"]["notes"],
        "second"
    );
    let stats = emulator.stats();
    assert_eq!(stats["replays"], 0);
    assert_eq!(stats["applied"][NEW_PENDING], 2);
    emulator.shutdown().await;
}

async fn unauthorized(response: Response) -> (String, String) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = response.json().await.unwrap();
    (challenge, body["message"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn a_401_carries_a_bearer_challenge_and_says_whether_the_token_was_missing_or_wrong() {
    let emulator = start(EmulatorOptions {
        token: Some("s3cret".into()),
        ..EmulatorOptions::default()
    })
    .await;
    let target = url(&emulator, NEW_PENDING);
    let missing = unauthorized(client().get(&target).send().await.unwrap()).await;
    assert_eq!(missing.0, "Bearer");
    let wrong = client().get(&target).bearer_auth("guess").send().await;
    let wrong = unauthorized(wrong.unwrap()).await;
    assert!(
        wrong.0.starts_with("Bearer error=\"invalid_token\""),
        "{}",
        wrong.0
    );
    assert_ne!(missing.1, wrong.1);
    assert!(missing.1.contains("no access token"), "{}", missing.1);
    assert!(wrong.1.contains("not valid"), "{}", wrong.1);
    let lower = client()
        .get(&target)
        .header("Authorization", "bearer s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(lower.status(), StatusCode::OK);
    emulator.shutdown().await;
}

#[tokio::test]
async fn an_empty_token_is_refused_at_start() {
    for token in ["", "  "] {
        let options = EmulatorOptions {
            token: Some(token.into()),
            ..EmulatorOptions::default()
        };
        let error = Emulator::start(options).await.err().unwrap().to_string();
        assert!(error.contains("--token is empty"), "{error}");
    }
}

#[tokio::test]
async fn setting_the_status_without_a_substatus_is_refused_even_when_it_does_not_change() {
    let emulator = start(EmulatorOptions::default()).await;
    let cases = [
        (ACTIVE_ENGAGED, "Active", "(Accepted, Engaged)"),
        (NEW_PENDING, "Active", "(Accepted, Engaged)"),
        (NEW_PENDING, "New", "(Pending, Received)"),
    ];
    for (id, status, allowed) in cases {
        let body = json!([{"op": "replace", "path": "/status", "value": status}]);
        let response = patch(&emulator, id, body, &[]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: Value = response.json().await.unwrap();
        let message = body["message"].as_str().unwrap();
        assert_eq!(body["code"], "InvalidTransition");
        assert!(
            message.contains("no /substatus") && message.contains(allowed),
            "{message}"
        );
        assert!(!message.contains("Pending does not go"), "{message}");
    }
    assert_eq!(emulator.stats()["applied"], json!({}));
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_method_an_endpoint_does_not_take_is_405_with_a_json_body() {
    let emulator = start(EmulatorOptions::default()).await;
    let one = url(&emulator, NEW_PENDING);
    let all = format!("{}/engagements/referrals", emulator.base_url());
    let requests = [
        (client().put(&one), "GET,HEAD,PATCH"),
        (client().delete(&one), "GET,HEAD,PATCH"),
        (client().patch(&all).json(&notes("x")), "GET,HEAD"),
    ];
    for (request, allow) in requests {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        let allowed = response.headers()["allow"]
            .to_str()
            .unwrap()
            .replace(' ', "");
        assert_eq!(allowed, allow);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "MethodNotAllowed");
        assert!(body["message"].as_str().unwrap().contains("is not allowed"));
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_body_that_is_an_object_is_refused_saying_it_must_be_an_array() {
    let emulator = start(EmulatorOptions::default()).await;
    let response = patch(&emulator, NEW_PENDING, json!({}), &[]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    let message = body["message"].as_str().unwrap();
    assert_eq!(body["code"], "InvalidBody");
    assert!(message.contains("must be a JSON array"), "{message}");
    assert!(!message.contains("column"), "{message}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn generated_referrals_take_the_patches_the_sample_ones_do() {
    let emulator = start(EmulatorOptions {
        seed: Seed::Generate(20),
        ..EmulatorOptions::default()
    })
    .await;
    let id = emulator.referrals().keys().next().unwrap().clone();
    let body = json!([
        {"op": "replace", "path": "/consent/consentToContact", "value": false},
        {"op": "replace", "path": "/inviteContext/notes", "value": "from the bench"},
        {"op": "replace", "path": "/expirationDateTime", "value": "2027-01-01T00:00:00Z"},
        {"op": "add", "path": "/details/requirements/industries/-", "value": {"id": "Retail"}},
        {"op": "add", "path": "/target/-", "value": {"type": "SolutionProfile", "id": "t"}},
        {"op": "replace", "path": "/customerProfile/ids/0/external", "value": "ACCT-1"},
    ]);
    let response = patch(&emulator, &id, body, &[]).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let referral = &emulator.referrals()[&id];
    assert_eq!(referral["consent"]["consentToContact"], false);
    assert_eq!(
        referral["organizationId"],
        "4f1c2b7e-93a5-4d0e-8c61-2a9d7e3b5f10"
    );
    emulator.shutdown().await;
}
