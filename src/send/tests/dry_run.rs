//! The dry run: one GET per document, and the outcome, error code and status the real run
//! would most likely report — `unchanged` where a real run would read the referral first
//! and find every value there,
//! the API's own codes (as the emulator answers them) for what it would refuse.

use super::*;
use crate::outcome::Outcome;
use crate::send::{Mode, RunControl};

/// Runs `docs` as a dry run with `options`.
async fn dry_run(options: &SendOptions, script: Arc<Scripted>, docs: Vec<Document>) -> Ran {
    let control = RunControl {
        mode: Mode::DryRun,
        ..RunControl::default()
    };
    run_controlled(options, script, control, docs).await
}

fn closed() -> Value {
    json!({"status": "Closed", "substatus": "Won", "details": {"notes": "hello"},
           "team": [{"email": "new@x.com"}]})
}

/// The outcome, error code and status of the only result.
fn verdict(ran: &Ran) -> (Outcome, Option<&str>, Option<u16>) {
    let result = ran.one();
    (
        result.outcome,
        result.error_code.as_deref(),
        result.http_status,
    )
}

#[tokio::test(start_paused = true)]
async fn a_document_the_referral_already_holds_is_planned_unless_the_real_run_reads_first() {
    // The real run sends a replace without reading first, and reports it `updated`.
    let script = Scripted::new(&[("r1", vec![referral("\"e1\"", closed())])]);
    let ran = dry_run(&options(), script.clone(), vec![replace_doc("r1")]).await;
    assert_eq!(verdict(&ran), (Outcome::Planned, None, Some(200)));
    assert_eq!(ran.one().changes, Some(json!([])));
    assert!(script.patches().is_empty());
    // Under --if-match fetch it reads first, finds every value there, and skips it.
    let fetching = SendOptions {
        if_match: IfMatchPolicy::Fetch,
        ..options()
    };
    let script = Scripted::new(&[("r1", vec![referral("\"e1\"", closed())])]);
    let ran = dry_run(&fetching, script, vec![replace_doc("r1")]).await;
    assert_eq!(verdict(&ran), (Outcome::Unchanged, None, Some(200)));
}

#[tokio::test(start_paused = true)]
async fn a_document_that_changes_something_is_planned_with_its_changes() {
    let referral_now = json!({"details": {"notes": "old"}});
    let script = Scripted::new(&[("r1", vec![referral("\"e1\"", referral_now)])]);
    let ran = dry_run(&options(), script, vec![replace_doc("r1")]).await;
    assert_eq!(verdict(&ran), (Outcome::Planned, None, Some(200)));
    assert_eq!(
        ran.one().changes,
        Some(json!([{"path": "/details/notes", "from": "old", "to": "hello"}]))
    );
}

#[tokio::test(start_paused = true)]
async fn an_append_already_there_is_unchanged_where_the_real_run_reads_first() {
    // auto reads the referral before an append and drops members already in the team.
    let script = Scripted::new(&[("r1", vec![referral("\"e1\"", closed())])]);
    let ran = dry_run(&options(), script, vec![append_doc("r1")]).await;
    assert_eq!(verdict(&ran), (Outcome::Unchanged, None, Some(200)));
}

#[tokio::test(start_paused = true)]
async fn an_append_the_real_run_keeps_for_a_later_index_is_among_the_changes() {
    // new@x.com is member 0 already; the real run keeps the append, since /team/1 names
    // the member it adds, and sends both operations.
    let append = op(OpKind::Add, "/team/-", json!({"email": "new@x.com"}));
    let email = op(OpKind::Replace, "/team/1/email", json!("two@x.com"));
    let script = Scripted::new(&[("r1", vec![referral("\"e1\"", closed())])]);
    let ran = dry_run(&options(), script, vec![doc("r1", vec![append, email])]).await;
    assert_eq!(verdict(&ran), (Outcome::Planned, None, Some(200)));
    let changed: Vec<&str> = ran
        .one()
        .changes
        .as_ref()
        .and_then(Value::as_array)
        .map_or(Vec::new(), |changes| {
            changes.iter().filter_map(|c| c["path"].as_str()).collect()
        });
    assert_eq!(changed, ["/team/-", "/team/1/email"]);
}

#[tokio::test(start_paused = true)]
async fn an_append_is_planned_where_the_real_run_sends_it_unread() {
    let options = SendOptions {
        if_match: IfMatchPolicy::None,
        ..options()
    };
    let script = Scripted::new(&[("r1", vec![referral("\"e1\"", closed())])]);
    let ran = dry_run(&options, script, vec![append_doc("r1")]).await;
    assert_eq!(verdict(&ran), (Outcome::Planned, None, Some(200)));
}

#[tokio::test(start_paused = true)]
async fn a_stale_if_match_is_the_apis_precondition_failed_with_412() {
    let script = Scripted::new(&[("r1", vec![referral("\"e2\"", closed())])]);
    let mut doc = replace_doc("r1");
    doc.if_match = Some("\"e1\"".into());
    let ran = dry_run(&options(), script, vec![doc]).await;
    assert_eq!(
        verdict(&ran),
        (Outcome::Conflict, Some("PreconditionFailed"), Some(412))
    );
    assert_eq!(
        ran.one().error_message.as_deref(),
        Some("If-Match \"e1\" does not match the referral's current eTag \"e2\"")
    );
    // As the real run's report: the ETag its PATCH carried.
    assert_eq!(ran.one().if_match_sent.as_deref(), Some("\"e1\""));
}

#[tokio::test(start_paused = true)]
async fn the_if_match_shown_is_the_one_the_real_runs_last_patch_would_carry() {
    let sent = |policy: IfMatchPolicy, on_conflict: ConflictPolicy, if_match: Option<&str>| {
        let options = SendOptions {
            if_match: policy,
            on_conflict,
            ..options()
        };
        let referral_now = json!({"details": {"notes": "old"}});
        let script = Scripted::new(&[("r1", vec![referral("\"e2\"", referral_now)])]);
        let mut doc = replace_doc("r1");
        doc.if_match = if_match.map(str::to_string);
        async move {
            dry_run(&options, script, vec![doc])
                .await
                .one()
                .if_match_sent
                .clone()
        }
    };
    let stale = Some("\"e1\"");
    let report = ConflictPolicy::Report;
    let e1 = Some("\"e1\"".to_string());
    let e2 = Some("\"e2\"".to_string());
    assert_eq!(sent(IfMatchPolicy::Auto, report, stale).await, e1);
    assert_eq!(
        sent(IfMatchPolicy::Auto, ConflictPolicy::Refetch, stale).await,
        e2
    );
    assert_eq!(
        sent(IfMatchPolicy::Auto, ConflictPolicy::Overwrite, stale).await,
        None
    );
    assert_eq!(sent(IfMatchPolicy::Fetch, report, stale).await, e2);
    assert_eq!(sent(IfMatchPolicy::None, report, stale).await, None);
    assert_eq!(sent(IfMatchPolicy::Auto, report, None).await, None);
    assert_eq!(sent(IfMatchPolicy::Input, report, Some("\"e2\"")).await, e2);
}

#[tokio::test(start_paused = true)]
async fn a_move_the_status_forbids_is_the_apis_invalid_transition_with_400() {
    let script = Scripted::new(&[("r1", vec![referral("\"e1\"", closed())])]);
    let doc = doc(
        "r1",
        vec![
            op(OpKind::Replace, "/status", json!("Active")),
            op(OpKind::Replace, "/substatus", json!("Engaged")),
        ],
    );
    let ran = dry_run(&options(), script, vec![doc]).await;
    assert_eq!(
        verdict(&ran),
        (Outcome::Failed, Some("InvalidTransition"), Some(400))
    );
    // Nothing changed meanwhile in a dry run: the message says what is refused, no more.
    assert_eq!(
        ran.one().error_message.as_deref(),
        Some("a referral in status Closed cannot move to status Active")
    );
}

#[tokio::test(start_paused = true)]
async fn a_replace_of_a_missing_target_is_the_apis_target_not_found_with_400() {
    let script = Scripted::new(&[("r1", vec![referral("\"e1\"", json!({}))])]);
    let ran = dry_run(&options(), script, vec![replace_doc("r1")]).await;
    assert_eq!(
        verdict(&ran),
        (Outcome::Failed, Some("TargetNotFound"), Some(400))
    );
    let message = ran.one().error_message.clone().unwrap_or_default();
    assert!(!message.contains("meanwhile"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn an_unknown_id_keeps_the_gets_own_code_and_404() {
    let body = json!({"code": "NotFound", "message": "no referral r1"});
    let script = Scripted::new(&[("r1", vec![with_body(404, body)])]);
    let ran = dry_run(&options(), script, vec![replace_doc("r1")]).await;
    assert_eq!(
        verdict(&ran),
        (Outcome::Failed, Some("NotFound"), Some(404))
    );
}
