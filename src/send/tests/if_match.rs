//! Where `If-Match` comes from under each `--if-match` policy.

use super::*;
use crate::outcome::Outcome;
use crate::send::document::{IfMatchSource, if_match_source};

fn input(doc: Document) -> Document {
    Document {
        if_match: Some("\"in\"".into()),
        ..doc
    }
}

fn with_policy(if_match: IfMatchPolicy) -> SendOptions {
    SendOptions {
        if_match,
        ..options()
    }
}

#[test]
fn auto_uses_the_input_else_fetches_for_appends_else_sends_none() {
    let auto = IfMatchPolicy::Auto;
    assert_eq!(
        if_match_source(auto, &input(append_doc("a"))),
        IfMatchSource::Use(Some("\"in\"".into()))
    );
    assert_eq!(
        if_match_source(auto, &append_doc("a")),
        IfMatchSource::Fetch
    );
    assert_eq!(
        if_match_source(auto, &replace_doc("a")),
        IfMatchSource::Use(None)
    );
}

#[test]
fn input_fetch_and_none_do_what_they_say() {
    let doc = input(replace_doc("a"));
    assert_eq!(
        if_match_source(IfMatchPolicy::Input, &doc),
        IfMatchSource::Use(Some("\"in\"".into()))
    );
    assert_eq!(
        if_match_source(IfMatchPolicy::Input, &append_doc("a")),
        IfMatchSource::Use(None)
    );
    assert_eq!(
        if_match_source(IfMatchPolicy::Fetch, &doc),
        IfMatchSource::Fetch
    );
    assert_eq!(
        if_match_source(IfMatchPolicy::None, &doc),
        IfMatchSource::Use(None)
    );
}

#[tokio::test(start_paused = true)]
async fn input_sends_the_documents_etag() {
    let script = Scripted::new(&[("r1", vec![status(204)])]);
    run(
        &with_policy(IfMatchPolicy::Input),
        script.clone(),
        vec![input(replace_doc("r1"))],
    )
    .await;
    assert_eq!(
        script.seen()[0].header("If-Match").as_deref(),
        Some("\"in\"")
    );
}

#[tokio::test(start_paused = true)]
async fn fetch_reads_the_referral_and_sends_its_current_etag_ignoring_the_input() {
    let script = Scripted::new(&[("r1", vec![referral("\"now\"", json!({})), status(204)])]);
    let ran = run(
        &with_policy(IfMatchPolicy::Fetch),
        script.clone(),
        vec![input(replace_doc("r1"))],
    )
    .await;
    let seen = script.seen();
    assert_eq!(seen[0].request.method, Method::Get);
    assert_eq!(seen[0].header("If-Match"), None);
    assert_eq!(seen[1].header("If-Match").as_deref(), Some("\"now\""));
    assert_eq!(ran.one().attempts, 1, "GETs are not attempts");
    assert_eq!(ran.stats.expect("run finished").requests, 2);
}

#[tokio::test(start_paused = true)]
async fn fetch_falls_back_to_the_etag_header_sent_back_as_given() {
    let script = Scripted::new(&[(
        "r1",
        vec![with_body(200, json!({})).etag("bare"), status(204)],
    )]);
    run(
        &with_policy(IfMatchPolicy::Fetch),
        script.clone(),
        vec![replace_doc("r1")],
    )
    .await;
    assert_eq!(
        script.patches()[0].header("If-Match").as_deref(),
        Some("bare")
    );
}

#[tokio::test(start_paused = true)]
async fn a_bare_etag_in_the_body_goes_back_bare() {
    let script = Scripted::new(&[(
        "r1",
        vec![with_body(200, json!({"eTag": "0000-bare"})), status(204)],
    )]);
    run(
        &with_policy(IfMatchPolicy::Fetch),
        script.clone(),
        vec![replace_doc("r1")],
    )
    .await;
    let sent = script.patches()[0].header("If-Match");
    assert_eq!(sent.as_deref(), Some("0000-bare"));
}

#[tokio::test(start_paused = true)]
async fn none_sends_no_if_match_even_when_the_input_has_one() {
    let script = Scripted::new(&[("r1", vec![status(204)])]);
    run(
        &with_policy(IfMatchPolicy::None),
        script.clone(),
        vec![input(append_doc("r1"))],
    )
    .await;
    assert_eq!(script.seen()[0].header("If-Match"), None);
}

#[tokio::test(start_paused = true)]
async fn auto_fetches_for_an_append_and_not_for_a_replace() {
    let script = Scripted::new(&[
        (
            "r1",
            vec![referral("\"e1\"", json!({"team": []})), status(204)],
        ),
        ("r2", vec![status(204)]),
    ]);
    run(
        &options(),
        script.clone(),
        vec![append_doc("r1"), replace_doc("r2")],
    )
    .await;
    let methods = |id: &str| {
        script
            .seen()
            .into_iter()
            .filter(|s| s.id == id)
            .map(|s| s.request.method)
            .collect::<Vec<_>>()
    };
    assert_eq!(methods("r1"), [Method::Get, Method::Patch]);
    assert_eq!(methods("r2"), [Method::Patch]);
}

#[tokio::test(start_paused = true)]
async fn a_get_that_404s_is_failed_with_the_apis_code_and_no_patch() {
    let body = json!({"code": "referral_not_found", "message": "no referral r1"});
    let script = Scripted::new(&[("r1", vec![with_body(404, body)])]);
    let ran = run(
        &with_policy(IfMatchPolicy::Fetch),
        script.clone(),
        vec![replace_doc("r1")],
    )
    .await;
    let result = ran.one();
    assert_eq!(
        (result.outcome, result.attempts, result.http_status),
        (Outcome::Failed, 0, Some(404))
    );
    assert_eq!(result.error_code.as_deref(), Some("referral_not_found"));
    assert_eq!(
        (result.request_id, result.if_match_sent.clone()),
        (None, None)
    );
    assert!(script.patches().is_empty());
}
