//! 401 and 403: the token refreshed once per wave, the run stopped by a second 401 or by
//! 403 on every first request. Real (unpaused) time: the token command is a real process.

use super::*;
use crate::outcome::Outcome;

/// A token command printing `tok<N>` where N counts its runs, and the count file.
fn counting_tokens(dir: &tempfile::TempDir) -> (Arc<TokenProvider>, std::path::PathBuf) {
    let counter = dir.path().join("runs");
    let cmd = format!(
        "echo x >> {0}; printf 'tok%s' $(wc -l < {0})",
        counter.display()
    );
    (
        Arc::new(TokenProvider::new(TokenSource::Command(cmd))),
        counter,
    )
}

fn runs(counter: &std::path::Path) -> usize {
    std::fs::read_to_string(counter)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_401_fetches_the_token_again_and_repeats_the_request() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (tokens, counter) = counting_tokens(&dir);
    let script = Scripted::new(&[("r1", vec![status(401), status(204)])]);
    let ran = run_with(
        &options(),
        script.clone(),
        tokens,
        Arc::new(NoLimit),
        vec![replace_doc("r1")],
    )
    .await;
    let result = ran.one();
    assert_eq!((result.outcome, result.attempts), (Outcome::Updated, 2));
    let tokens: Vec<_> = script
        .seen()
        .iter()
        .map(|s| s.request.token.expose().to_string())
        .collect();
    assert_eq!(tokens, ["tok1", "tok2"]);
    assert_eq!(runs(&counter), 2);
}

#[tokio::test]
async fn a_wave_of_401s_fetches_the_token_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (tokens, counter) = counting_tokens(&dir);
    let slow_401 = || status(401).after(Duration::from_millis(50));
    let script = Scripted::new(&[
        ("r1", vec![slow_401(), status(204)]),
        ("r2", vec![slow_401(), status(204)]),
        ("r3", vec![slow_401(), status(204)]),
    ]);
    let docs = vec![replace_doc("r1"), replace_doc("r2"), replace_doc("r3")];
    let ran = run_with(&options(), script.clone(), tokens, Arc::new(NoLimit), docs).await;
    assert!(ran.results.iter().all(|r| r.outcome == Outcome::Updated));
    assert_eq!(runs(&counter), 2);
}

#[tokio::test]
async fn a_second_401_right_after_a_fresh_token_stops_the_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (tokens, _) = counting_tokens(&dir);
    let refused = with_body(401, json!({"code": "InvalidToken", "message": "expired"}));
    let script = Scripted::new(&[("r1", vec![status(401), refused])]);
    let ran = run_with(
        &options(),
        script,
        tokens,
        Arc::new(NoLimit),
        vec![replace_doc("r1")],
    )
    .await;
    assert!(matches!(ran.stats, Err(SendError::Unauthorized(_))));
    // The document shows its two PATCHes and the 401 with the API's code, and is safe to
    // send again.
    let result = ran.one();
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(result.error_code.as_deref(), Some("InvalidToken"));
    assert_eq!((result.attempts, result.http_status), (2, Some(401)));
}

#[tokio::test]
async fn a_401_after_which_no_token_can_be_had_shows_the_patch_it_sent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let once = dir.path().join("once");
    // A token the first time, then a failing command (a sign-in that expired).
    let cmd = format!(
        "test -e {0} && exit 2; touch {0}; printf tok",
        once.display()
    );
    let tokens = Arc::new(TokenProvider::new(TokenSource::Command(cmd)));
    let script = Scripted::new(&[("r1", vec![status(401)])]);
    let ran = run_with(
        &options(),
        script,
        tokens,
        Arc::new(NoLimit),
        vec![replace_doc("r1")],
    )
    .await;
    assert!(matches!(ran.stats, Err(SendError::Token(_))));
    let result = ran.one();
    assert_eq!(result.error_code.as_deref(), Some("http_401"));
    assert_eq!((result.attempts, result.http_status), (1, Some(401)));
}

#[tokio::test]
async fn no_token_stops_the_run_before_any_request() {
    let tokens = Arc::new(TokenProvider::new(TokenSource::Command("exit 1".into())));
    let script = Scripted::new(&[]);
    let ran = run_with(
        &options(),
        script.clone(),
        tokens,
        Arc::new(NoLimit),
        vec![replace_doc("r1")],
    )
    .await;
    assert!(matches!(ran.stats, Err(SendError::Token(_))));
    assert!(script.seen().is_empty());
}

#[tokio::test]
async fn forbidden_on_every_first_document_stops_the_run() {
    let forbidden = || vec![status(403)];
    let script = Scripted::new(&[
        ("r1", forbidden()),
        ("r2", forbidden()),
        ("r3", forbidden()),
    ]);
    let options = SendOptions {
        concurrency: 3,
        ..options()
    };
    let docs = vec![replace_doc("r1"), replace_doc("r2"), replace_doc("r3")];
    let ran = run(&options, script, docs).await;
    assert!(matches!(ran.stats, Err(SendError::Forbidden)));
    assert_eq!(
        ran.results.len(),
        3,
        "the probed documents are still reported"
    );
}

#[tokio::test]
async fn a_403_among_successes_is_just_failed() {
    let script = Scripted::new(&[("r1", vec![status(204)]), ("r2", vec![status(403)])]);
    let ran = run(
        &options(),
        script,
        vec![replace_doc("r1"), replace_doc("r2")],
    )
    .await;
    assert!(ran.stats.is_ok());
    assert_eq!(ran.results[1].outcome, Outcome::Failed);
    assert_eq!(ran.results[1].error_code.as_deref(), Some("http_403"));
}

#[tokio::test(start_paused = true)]
async fn a_run_stopped_by_a_second_401_sends_nothing_more() {
    // Four documents in flight take turns at the gate, 100 ms apart. r2's 401 comes first
    // (r1's answer is slow), so r2 fetches a token. r3's first try, let through the gate
    // next, takes that fresh token, and its refusal stops the run: a token fetched after a
    // 401 and refused before it ever worked. The repeats of r1 and r2, still waiting for
    // the gate, are never sent, and no other token is fetched. r3 reports its one PATCH.
    let refused = || vec![status(401), status(401), status(401)];
    let mut script: Vec<(&str, Vec<Answer>)> = vec![(
        "r1",
        vec![status(401).after(Duration::from_millis(150)), status(401)],
    )];
    script.extend(["r2", "r3", "r4", "r5", "r6"].map(|id| (id, refused())));
    let script = Scripted::new(&script);
    let tokens = Arc::new(TokenProvider::new(TokenSource::Fixed(Secret::new("tok"))));
    let gate = Arc::new(Spaced::default());
    let docs = ["r1", "r2", "r3", "r4", "r5", "r6"]
        .map(replace_doc)
        .to_vec();
    let ran = run_with(&options(), script.clone(), tokens.clone(), gate, docs).await;
    assert!(matches!(ran.stats, Err(SendError::Unauthorized(_))));
    let sent: Vec<String> = script.seen().iter().map(|s| s.id.clone()).collect();
    assert_eq!(sent, ["r1", "r2", "r3"]);
    let not_sent = |entry, sent| (entry, Outcome::Failed, Some("not_sent"), sent);
    // The one refused after the fresh token shows the 401's code; the others' 401s came
    // as the run stopped, and were not repeated.
    let refused_twice = (2, Outcome::Failed, Some("http_401"), 1);
    assert_eq!(
        ran.endings(),
        [
            not_sent(0, 1),
            not_sent(1, 1),
            refused_twice,
            not_sent(3, 0)
        ]
    );
    assert_eq!(
        tokens
            .current()
            .await
            .map(|(generation, _)| generation)
            .ok(),
        Some(2)
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_on_the_wire_when_the_run_stops_keeps_its_answer() {
    let script = Scripted::new(&[
        (
            "r1",
            vec![status(401).after(Duration::from_millis(100)), status(401)],
        ),
        ("r2", vec![status(204).after(Duration::from_secs(1))]),
    ]);
    let tokens = Arc::new(TokenProvider::new(TokenSource::Fixed(Secret::new("tok"))));
    let docs = vec![replace_doc("r1"), replace_doc("r2")];
    let ran = run_with(&options(), script, tokens, Arc::new(NoLimit), docs).await;
    assert!(matches!(ran.stats, Err(SendError::Unauthorized(_))));
    let endings: Vec<_> = ran.results.iter().map(|r| (r.entry, r.outcome)).collect();
    assert_eq!(endings, [(0, Outcome::Failed), (1, Outcome::Updated)]);
}
