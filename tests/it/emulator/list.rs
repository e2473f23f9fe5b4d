//! The list endpoint (`$filter`, `$top`, `$skip`, `@odata.nextLink`) and the token
//! endpoints that `[auth]` is tested against.

use refsync::emulator::{Emulator, EmulatorOptions};
use reqwest::StatusCode;
use serde_json::Value;

use super::{ACTIVE_ENGAGED, client, start};

async fn list(url: &str) -> Value {
    let response = client().get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn list_url(emulator: &Emulator, query: &str) -> String {
    format!("{}/engagements/referrals?{query}", emulator.base_url())
}

#[tokio::test]
async fn a_filter_on_external_reference_id_finds_that_referral() {
    let emulator = start(EmulatorOptions::default()).await;
    let query = "$filter=externalReferenceId%20eq%20%27OPP-10015%27";
    let page = list(&list_url(&emulator, query)).await;
    let found = page["value"].as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], ACTIVE_ENGAGED);
    assert!(page.get("@odata.nextLink").is_none());
    emulator.shutdown().await;
}

#[tokio::test]
async fn following_next_links_pages_through_every_referral_once() {
    let emulator = start(EmulatorOptions::default()).await;
    let mut next = Some(list_url(&emulator, "$top=7&$select=id,externalReferenceId"));
    let mut seen = Vec::new();
    while let Some(url) = next {
        let page = list(&url).await;
        for referral in page["value"].as_array().unwrap() {
            assert_eq!(referral.as_object().unwrap().len(), 2);
            seen.push(referral["id"].as_str().unwrap().to_string());
        }
        next = page["@odata.nextLink"].as_str().map(String::from);
    }
    let all: Vec<String> = emulator.referrals().keys().cloned().collect();
    seen.sort();
    assert_eq!(seen, all);
    emulator.shutdown().await;
}

#[tokio::test]
async fn an_unsupported_filter_is_400() {
    let emulator = start(EmulatorOptions::default()).await;
    let url = list_url(&emulator, "$filter=name%20eq%20%27x%27");
    let response = client().get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    emulator.shutdown().await;
}

fn token_url(emulator: &Emulator, endpoint: &str) -> String {
    format!("http://{}/tenant-1/oauth2/v2.0/{endpoint}", emulator.addr())
}

async fn post_form(url: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace(':', "%3A")))
        .collect::<Vec<_>>()
        .join("&");
    let response = client()
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_refreshed_access_token_is_accepted_where_a_token_is_required() {
    let emulator = start(EmulatorOptions {
        token: Some("configured".into()),
        ..EmulatorOptions::default()
    })
    .await;
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", "c"),
        ("refresh_token", "r1"),
    ];
    let (status, tokens) = post_form(&token_url(&emulator, "token"), &form).await;
    assert_eq!(status, StatusCode::OK);
    assert!(tokens["refresh_token"].as_str().is_some_and(|t| t != "r1"));
    let access = tokens["access_token"].as_str().unwrap();
    let url = format!(
        "{}/engagements/referrals/{ACTIVE_ENGAGED}",
        emulator.base_url()
    );
    let response = client().get(url).bearer_auth(access).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_device_code_is_pending_at_first_and_then_yields_tokens() {
    let emulator = start(EmulatorOptions::default()).await;
    let (status, device) =
        post_form(&token_url(&emulator, "devicecode"), &[("client_id", "c")]).await;
    assert_eq!(status, StatusCode::OK);
    let code = device["device_code"].as_str().unwrap().to_string();
    let grant = "urn:ietf:params:oauth:grant-type:device_code";
    let form = [
        ("grant_type", grant),
        ("client_id", "c"),
        ("device_code", code.as_str()),
    ];
    let (status, pending) = post_form(&token_url(&emulator, "token"), &form).await;
    assert_eq!(
        (status, &pending["error"]),
        (StatusCode::BAD_REQUEST, &"authorization_pending".into())
    );
    let (status, tokens) = post_form(&token_url(&emulator, "token"), &form).await;
    assert_eq!(status, StatusCode::OK);
    assert!(tokens["access_token"].is_string());
    // No offline_access was asked for: no refresh token. And a device code signs in once.
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    let (status, again) = post_form(&token_url(&emulator, "token"), &form).await;
    assert_eq!(
        (status, &again["error"]),
        (StatusCode::BAD_REQUEST, &"expired_token".into())
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_refresh_token_comes_only_with_offline_access_and_a_client_id_is_required() {
    let emulator = start(EmulatorOptions::default()).await;
    let url = token_url(&emulator, "token");
    let scope = "https://api.partner.microsoft.com/user_impersonation";
    let grant = |token: &'static str, scope: &'static str| {
        [
            ("grant_type", "refresh_token"),
            ("client_id", "c"),
            ("refresh_token", token),
            ("scope", scope),
        ]
    };
    let (status, tokens) = post_form(&url, &grant("r1", scope)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tokens["scope"], scope);
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    let offline = "https://api.partner.microsoft.com/user_impersonation offline_access";
    let (_, tokens) = post_form(&url, &grant("r2", offline)).await;
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    let (status, refused) = post_form(
        &url,
        &[("grant_type", "refresh_token"), ("refresh_token", "r3")],
    )
    .await;
    assert_eq!(
        (status, &refused["error"]),
        (StatusCode::BAD_REQUEST, &"invalid_request".into())
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn top_zero_is_an_empty_page_with_no_next_link() {
    let emulator = start(EmulatorOptions::default()).await;
    let page = list(&list_url(&emulator, "$top=0")).await;
    assert_eq!(page["value"], serde_json::json!([]));
    assert!(page.get("@odata.nextLink").is_none());
    emulator.shutdown().await;
}
