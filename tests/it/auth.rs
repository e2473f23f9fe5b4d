//! `[auth]` end to end against the emulator's token endpoints: device-code sign-in, the
//! refresh-token grant with rotation, a token expiring mid-run, and no secret in output.

use crate::fixtures::{self, id};
use crate::support::{self, Workdir, code, read_csv_report, stderr};
use axum::extract::{Form, State};
use axum::routing::post;
use refsync::auth::{AuthSettings, RefreshGrant};
use refsync::emulator::{Emulator, EmulatorOptions, Faults, Seed};
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Starts an emulator that only accepts tokens its token endpoint issued.
async fn strict_emulator(work: &Workdir, count: usize, token_ttl: Option<Duration>) -> Emulator {
    let seed = work.write(
        "seed.jsonl",
        &fixtures::seed_text(&fixtures::referrals(count)),
    );
    Emulator::start(EmulatorOptions {
        listen: ([127, 0, 0, 1], 0).into(),
        seed: Seed::File(seed),
        token: Some("no-client-knows-this".into()),
        faults: Faults {
            token_ttl,
            ..Faults::default()
        },
    })
    .await
    .expect("start emulator")
}

/// Writes a config file whose `[auth]` signs in at `emulator`.
fn auth_config(work: &Workdir, emulator: &Emulator) -> String {
    let text = format!(
        "[auth]\ntenant = \"contoso\"\nclient_id = \"app-id\"\nrefresh_token_file = \"state/refresh-token\"\nauthority = \"http://{}\"\n",
        emulator.addr()
    );
    work.write("refsync.toml", &text);
    std::fs::create_dir_all(work.path().join("state")).expect("state folder");
    "refsync.toml".into()
}

/// One replace per referral, for `count` referrals.
fn updates(work: &Workdir, count: usize) {
    let rows: String = (0..count)
        .map(|n| format!("{},replace,/details/notes,n{n}\n", id(n)))
        .collect();
    work.write("u.csv", &format!("id,op,path,value\n{rows}"));
}

fn refresh_token(work: &Workdir) -> String {
    work.read("state/refresh-token").trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_code_login_saves_the_refresh_token_readable_only_by_the_owner() {
    let work = Workdir::new();
    let emulator = strict_emulator(&work, 1, None).await;
    let config = auth_config(&work, &emulator);
    let out = work.refsync_with(&["auth", "login", "--config", &config], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("/devicelogin") && err.contains("EMU0"),
        "the URL and code are shown: {err}"
    );
    let token = refresh_token(&work);
    assert!(token.starts_with("emu-refresh-"), "{token}");
    assert!(!err.contains(&token), "the token itself is never shown");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(work.path().join("state/refresh-token"))
            .expect("saved")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_auth_gets_its_token_and_saves_the_rotated_refresh_token() {
    let work = Workdir::new();
    let emulator = strict_emulator(&work, 3, None).await;
    let config = auth_config(&work, &emulator);
    work.write("state/refresh-token", "first-refresh-token\n");
    updates(&work, 3);
    let endpoint = emulator.base_url();
    let args = [
        "sync",
        "u.csv",
        "--config",
        &config,
        "--endpoint",
        &endpoint,
        "--report",
        "r.csv",
        "-vvv",
    ];
    // A proxy in the environment is not used for the loopback sign-in service and API.
    let proxy = support::closed_port();
    let env = [
        ("HTTP_PROXY", proxy.as_str()),
        ("http_proxy", proxy.as_str()),
    ];
    let out = work.refsync_with(&args, &env);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rotated = refresh_token(&work);
    assert!(
        rotated.starts_with("emu-refresh-"),
        "rotated and saved: {rotated}"
    );
    let err = stderr(&out);
    for secret in ["first-refresh-token", rotated.as_str(), "emu-"] {
        assert!(!err.contains(secret), "{secret} leaked at -vvv:\n{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_expiring_mid_run_is_renewed_and_every_document_is_updated() {
    let work = Workdir::new();
    let count = 30;
    let emulator = strict_emulator(&work, count, Some(Duration::from_secs(2))).await;
    let config = auth_config(&work, &emulator);
    work.write("state/refresh-token", "first-refresh-token\n");
    updates(&work, count);
    let endpoint = emulator.base_url();
    // 10/s over 30 documents: about three seconds, one and a half lifetimes of a token.
    // Two in flight keep the wait in the rate limiter well below a token's life.
    let args = [
        "sync",
        "u.csv",
        "--config",
        &config,
        "--endpoint",
        &endpoint,
        "--rate",
        "10/s",
        "--concurrency",
        "2",
        "--report",
        "r.csv",
    ];
    let out = work.refsync_with(&args, &[]);
    assert_eq!(code(&out), 0, "{}\n{}", stderr(&out), work.read("r.csv"));
    let rows = read_csv_report(&work.path().join("r.csv"));
    assert_eq!(rows.len(), count);
    assert!(rows.iter().all(|r| r["outcome"] == "updated"), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_without_a_saved_refresh_token_says_to_sign_in() {
    let work = Workdir::new();
    let emulator = strict_emulator(&work, 1, None).await;
    let config = auth_config(&work, &emulator);
    updates(&work, 1);
    let endpoint = emulator.base_url();
    let out = work.refsync_with(
        &[
            "sync",
            "u.csv",
            "--config",
            &config,
            "--endpoint",
            &endpoint,
        ],
        &[],
    );
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("refsync auth login"),
        "{}",
        stderr(&out)
    );
}

/// A token endpoint that records the refresh token of each request and answers with the
/// next one in the series r0 → r1 → r2.
async fn recording_token_endpoint() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(record))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), seen)
}

async fn record(
    State(seen): State<Arc<Mutex<Vec<String>>>>,
    Form(form): Form<HashMap<String, String>>,
) -> axum::Json<serde_json::Value> {
    let mut seen = seen.lock().expect("lock");
    seen.push(form.get("refresh_token").cloned().unwrap_or_default());
    let n = seen.len();
    axum::Json(
        json!({ "access_token": format!("access-{n}"), "refresh_token": format!("r{n}"), "expires_in": 3600 }),
    )
}

#[tokio::test]
async fn a_rotated_refresh_token_replaces_the_old_one_which_is_never_sent_again() {
    let (authority, seen) = recording_token_endpoint().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("rt");
    std::fs::write(&file, "r0\n").expect("write");
    let grant = RefreshGrant::new(settings(&authority, &file)).expect("grant");
    assert_eq!(grant.fetch().await.expect("first").expose(), "access-1");
    assert_eq!(grant.fetch().await.expect("second").expose(), "access-2");
    assert_eq!(*seen.lock().expect("lock"), ["r0", "r1"]);
    assert_eq!(std::fs::read_to_string(&file).expect("read").trim(), "r2");
}

/// `/proc/self/comm` holds text (the process's name) in a folder no one may create a file
/// in, root included: a refresh-token file that reads but cannot be replaced.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_refresh_token_that_could_not_be_saved_after_rotation_is_not_exchanged() {
    let (authority, seen) = recording_token_endpoint().await;
    let file = Path::new("/proc/self/comm");
    let grant = RefreshGrant::new(settings(&authority, file)).expect("grant");
    let error = grant.fetch().await.expect_err("refused").to_string();
    assert!(
        error.contains("cannot write the refresh-token file /proc/self/comm"),
        "{error}"
    );
    assert!(seen.lock().expect("lock").is_empty(), "never exchanged");
}

/// A token endpoint that gives the scripted answers in turn (status, JSON body), then
/// tokens; with the number of requests it had.
async fn scripted_token_endpoint(
    script: Vec<(u16, serde_json::Value)>,
) -> (String, Arc<Mutex<usize>>) {
    let asked = Arc::new(Mutex::new(0));
    let state = (Arc::new(script), asked.clone());
    let app = axum::Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(scripted))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), asked)
}

type Script = (Arc<Vec<(u16, serde_json::Value)>>, Arc<Mutex<usize>>);

async fn scripted(State((script, asked)): State<Script>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let n = {
        let mut asked = asked.lock().expect("lock");
        *asked += 1;
        *asked - 1
    };
    let token = json!({"access_token": "access", "expires_in": 3600});
    let (status, body) = script.get(n).cloned().unwrap_or((200, token));
    let status = axum::http::StatusCode::from_u16(status).expect("status");
    (status, [("Retry-After", "0")], axum::Json(body)).into_response()
}

#[tokio::test]
async fn a_sign_in_service_failing_for_a_moment_is_asked_again() {
    let busy = json!({"error": "temporarily_unavailable", "error_description": "busy"});
    let script = vec![(503, json!({})), (500, busy.clone()), (400, busy)];
    let (authority, asked) = scripted_token_endpoint(script).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("rt");
    std::fs::write(&file, "r0\n").expect("write");
    let grant = RefreshGrant::new(settings(&authority, &file)).expect("grant");
    assert_eq!(grant.fetch().await.expect("fourth try").expose(), "access");
    assert_eq!(*asked.lock().expect("lock"), 4);
}

#[tokio::test]
async fn a_refusal_that_is_not_about_the_refresh_token_does_not_send_the_user_to_sign_in() {
    let refusal = json!({"error": "invalid_client", "error_description": "AADSTS7000215"});
    let (authority, asked) = scripted_token_endpoint(vec![(401, refusal)]).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("rt");
    std::fs::write(&file, "r0\n").expect("write");
    let grant = RefreshGrant::new(settings(&authority, &file)).expect("grant");
    let error = grant.fetch().await.expect_err("refused").to_string();
    assert!(error.contains("client secret"), "{error}");
    assert!(!error.contains("auth login"), "{error}");
    assert_eq!(*asked.lock().expect("lock"), 1, "a refusal is final");
}

fn settings(authority: &str, file: &Path) -> AuthSettings {
    AuthSettings {
        authority: authority.into(),
        tenant: "contoso".into(),
        client_id: "app-id".into(),
        client_secret: None,
        refresh_token_file: file.into(),
        scope: refsync::auth::DEFAULT_SCOPE.into(),
    }
}

/// Stdout as text.
fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn login_with_a_tenant_but_no_client_id_says_client_id_is_missing() {
    let work = Workdir::new();
    work.write("al1.toml", "[auth]\ntenant = \"contoso\"\n");
    let out = work.refsync_with(&["auth", "login", "--config", "al1.toml"], &[]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(
        err.contains("client_id") && !err.contains("no [auth] section"),
        "{err}"
    );
}

#[test]
fn a_secret_pasted_as_client_secret_env_is_never_shown() {
    let work = Workdir::new();
    let pasted = "Xy7~pasted.secret-value";
    work.write(
        "c.toml",
        &format!("[auth]\nclient_id = \"c\"\nrefresh_token_file = \"rt\"\nclient_secret_env = \"{pasted}\"\n"),
    );
    let out = work.refsync(&["config", "show", "--config", "c.toml"]);
    assert_eq!(code(&out), 1, "a bad config file");
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("client_secret_env") && !all.contains(pasted),
        "{all}"
    );
    let env = [("REFSYNC_AUTH_CLIENT_SECRET_ENV", pasted)];
    let out = work.refsync_with(&["config", "show"], &env);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains(pasted), "{all}");
}

#[test]
fn config_show_says_a_client_secret_file_that_does_not_exist_is_missing() {
    let work = Workdir::new();
    work.write(
        "c.toml",
        "[auth]\nclient_id = \"c\"\nrefresh_token_file = \"rt\"\nclient_secret_file = \"absent.txt\"\n",
    );
    let out = work.refsync(&["config", "show", "--config", "c.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let shown = stdout(&out);
    let line = shown
        .lines()
        .find(|l| l.contains("client_secret ") || l.contains("client_secret  "))
        .unwrap_or_default();
    assert!(
        line.contains("missing") && !line.contains("\"***\""),
        "{shown}"
    );
}

#[test]
fn a_token_file_with_spaces_is_said_to_hold_only_the_token() {
    let work = Workdir::new();
    work.write("tok.txt", "not a token\n");
    work.write("u.csv", "id,op,path,value\nabc,replace,/name,x\n");
    let args = [
        "sync",
        "u.csv",
        "--emulator",
        "--token-file",
        "tok.txt",
        "--report",
        "r.csv",
    ];
    let err = stderr(&work.refsync_with(&args, &[]));
    assert!(
        err.contains("must hold only the access token") && !err.contains("print"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_already_exchanged_is_refused_and_the_run_says_to_sign_in_again() {
    let work = Workdir::new();
    let emulator = strict_emulator(&work, 1, None).await;
    let config = auth_config(&work, &emulator);
    updates(&work, 1);
    let endpoint = emulator.base_url();
    let args = [
        "sync",
        "u.csv",
        "--config",
        &config,
        "--endpoint",
        &endpoint,
        "--report",
        "r.csv",
    ];
    work.write("state/refresh-token", "first-refresh-token\n");
    let out = work.refsync_with(&args, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_ne!(refresh_token(&work), "first-refresh-token");
    // A client that lost the rotated token offers the spent one again.
    work.write("state/refresh-token", "first-refresh-token\n");
    let out = work.refsync_with(&args, &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("invalid_grant"), "{}", stderr(&out));
    assert!(stderr(&out).contains("auth login"), "{}", stderr(&out));
}
