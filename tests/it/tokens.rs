//! Tokens that expire mid-run, from each source: a command is re-run and a file re-read
//! once per wave of 401s; a token that cannot be renewed stops the run (exit 1). No token
//! appears in any byte refsync writes, at the most verbose log level.

use crate::fixtures::{self, id};
use crate::support::{self, Workdir, code, read_csv_report, stderr};
use refsync::emulator::{Emulator, Faults, Seed};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const DOCUMENTS: usize = 100;

async fn expiring_emulator(work: &Workdir) -> Emulator {
    let seed = work.write(
        "seed.jsonl",
        &fixtures::seed_text(&fixtures::referrals(DOCUMENTS)),
    );
    let faults = Faults {
        token_ttl: Some(Duration::from_millis(1000)),
        latency_ms: 20,
        ..Faults::default()
    };
    support::emulator_with(Seed::File(seed), faults).await
}

fn write_updates(work: &Workdir) {
    let csv: String = std::iter::once("id,op,path,value\n".to_string())
        .chain((0..DOCUMENTS).map(|n| format!("{},replace,/details/notes,t{n}\n", id(n))))
        .collect();
    work.write("u.csv", &csv);
}

fn sync(work: &Workdir, base: &str, source: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec![
        "sync",
        "u.csv",
        "--endpoint",
        base,
        "--rate",
        "40/s",
        "--concurrency",
        "8",
        "--report",
        "report.csv",
        "-vvv",
        "--log-format",
        "json",
    ];
    args.extend_from_slice(source);
    work.refsync_with(&args, env)
}

/// Every byte refsync wrote: stdout, stderr and the report.
fn assert_no_secret(work: &Workdir, out: &Output) {
    let report = std::fs::read(work.path().join("report.csv")).unwrap_or_default();
    for (name, bytes) in [
        ("stdout", &out.stdout),
        ("stderr", &out.stderr),
        ("report", &report),
    ] {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("secret-"), "a token leaked into {name}");
    }
}

fn unauthorized(emulator: &Emulator) -> u64 {
    emulator.stats()["requests"]["PATCH 401"]
        .as_u64()
        .unwrap_or(0)
}

/// `sync` whose tokens come from `sh SCRIPT` (`--token-command`).
fn sync_fetching_with(work: &Workdir, emulator: &Emulator, script: &str) -> Output {
    let command = format!("sh {script}");
    sync(
        work,
        &emulator.base_url(),
        &["--token-command", &command],
        &[],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traced_token_command_writes_nothing_into_a_log_that_is_no_terminal() {
    let work = Workdir::new();
    let emulator = expiring_emulator(&work).await;
    write_updates(&work);
    // `set -x` traces every command to stderr, the token among them; a new token each
    // run, as the emulator's expire.
    work.write(
        "token.sh",
        "set -x\nn=$(cat runs 2>/dev/null || echo 0); n=$((n+1)); echo $n > runs\n\
         TOKEN=secret-traced-$n\necho \"$TOKEN\"\n",
    );
    let out = sync_fetching_with(&work, &emulator, "token.sh");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_no_secret(&work, &out);
    for line in stderr(&out).lines() {
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(line);
        assert!(parsed.is_ok(), "not a JSON log line: {line}");
    }
    // Failing, it says why its stderr is not shown.
    work.write("fail.sh", "set -x\nTOKEN=secret-failed\nexit 3\n");
    let out = sync_fetching_with(&work, &emulator, "fail.sh");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_no_secret(&work, &out);
    assert!(stderr(&out).contains("is not shown"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_command_is_re_run_once_per_wave_of_401s() {
    let work = Workdir::new();
    let emulator = expiring_emulator(&work).await;
    write_updates(&work);
    work.write(
        "token.sh",
        "n=$(cat runs 2>/dev/null || echo 0); n=$((n+1)); echo $n > runs; echo secret-cmd-$n\n",
    );
    let out = sync_fetching_with(&work, &emulator, "token.sh");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert!(rows.iter().all(|r| r["outcome"] == "updated"));
    let runs: u64 = work.read("runs").trim().parse().unwrap();
    let waves = unauthorized(&emulator);
    assert!(waves > 0, "the tokens must have expired during the run");
    assert!(runs >= 2, "the command ran again after the token expired");
    assert!(
        runs <= waves + 1,
        "{runs} runs for {waves} 401s: at most one per 401, fewer per wave"
    );
    assert_no_secret(&work, &out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_file_is_re_read_after_a_401() {
    let work = Workdir::new();
    let emulator = expiring_emulator(&work).await;
    write_updates(&work);
    let path = work.write("token.txt", "secret-file-0\n");
    // Another process renews the file, more often than tokens expire, atomically (a
    // temporary file renamed over it) as a token renewer must. An OS thread of its own
    // keeps it independent of the runtime that serves the emulator.
    let stop = Arc::new(AtomicBool::new(false));
    let renewer = std::thread::spawn({
        let stop = stop.clone();
        move || {
            let staged = path.with_extension("new");
            for n in 1.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
                let _ = std::fs::write(&staged, format!("secret-file-{n}\n"));
                let _ = std::fs::rename(&staged, &path);
            }
        }
    });
    let base = emulator.base_url();
    let out = tokio::task::spawn_blocking({
        let dir = work.path().to_path_buf();
        move || {
            sync(
                &Workdir::at(dir),
                &base,
                &["--token-file", "token.txt"],
                &[],
            )
        }
    })
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    let _ = renewer.join();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        unauthorized(&emulator) > 0,
        "the tokens must have expired during the run"
    );
    assert_no_secret(&work, &out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_cannot_be_renewed_stops_the_run_with_exit_one() {
    let work = Workdir::new();
    let emulator = expiring_emulator(&work).await;
    write_updates(&work);
    let out = sync(
        &work,
        &emulator.base_url(),
        &["--summary-json", "summary.json"],
        &[("PARTNER_CENTER_TOKEN", "secret-env")],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));
    let served = support::requests_served(&emulator);
    assert!(served > 0);
    assert_eq!(
        support::summary_json(&work)["requests"],
        serde_json::json!(served),
        "the stopped run counts what it sent"
    );
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(
        rows.len(),
        DOCUMENTS,
        "every document is still in the report"
    );
    assert!(rows.iter().any(|r| r["error_code"] == "not_sent"));
    for row in rows.iter().filter(|r| r["http_status"] == "401") {
        // A refusal is said twice only where the document was sent twice.
        let twice = row["error_message"].contains("twice");
        assert_eq!(twice, row["attempts"] == "2", "{row:?}");
    }
    assert_no_secret(&work, &out);
}

#[test]
fn the_emulator_runs_no_token_source_of_the_file_or_the_environment() {
    // `--emulator` needs no token: a production config's token command is not run.
    let work = Workdir::new();
    work.write("refsync.toml", "token_command = \"false\"\n");
    work.write("seed.jsonl", &fixtures::seed_text(&fixtures::referrals(1)));
    work.write(
        "u.csv",
        &format!("id,op,path,value\n{},replace,/name,x\n", id(0)),
    );
    let args = [
        "sync",
        "u.csv",
        "--config",
        "refsync.toml",
        "--emulator",
        "--seed",
        "seed.jsonl",
        "--report",
        "r.csv",
    ];
    let out = work.refsync_with(&args, &[("PARTNER_CENTER_TOKEN", "not a token")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // A token flag on the command line is still the user's to test against it.
    let flag = [&args[..], &["--token-command", "false"]].concat();
    let out = work.refsync_with(&flag, &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
}

#[test]
fn a_broken_auth_section_is_only_an_error_when_no_other_token_comes_first() {
    // SPEC: the first token source found wins; `[auth]` is the last of them.
    let work = Workdir::new();
    work.write("refsync.toml", "[auth]\nclient_id = \"c\"\n");
    work.write("seed.jsonl", &fixtures::seed_text(&fixtures::referrals(1)));
    work.write(
        "u.csv",
        &format!("id,op,path,value\n{},replace,/name,x\n", id(0)),
    );
    let sync = |env: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec![
            "sync",
            "u.csv",
            "--config",
            "refsync.toml",
            "--report",
            "r.csv",
        ];
        args.extend_from_slice(extra);
        work.refsync_with(&args, env)
    };
    // Nothing comes before `[auth]`: its fault stops the run, naming the missing key.
    let out = sync(&[], &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refresh_token_file"),
        "{}",
        stderr(&out)
    );
    // The in-process emulator's token comes first, and the run works.
    let out = sync(&[], &["--emulator", "--seed", "seed.jsonl"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // So does PARTNER_CENTER_TOKEN, as `config show` says.
    let token = [("PARTNER_CENTER_TOKEN", "t")];
    let shown = work.refsync_with(&["config", "show", "--config", "refsync.toml"], &token);
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(
        shown.contains("# access token: PARTNER_CENTER_TOKEN"),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_waiting_at_the_rate_limiter_send_the_token_renewed_meanwhile() {
    // At 20/s with 8 in flight, most requests wait at the limiter longer than a token
    // lives: one that took its token before the wait would send it already refused, and a
    // 401 on a token fetched after a 401 stops the run.
    let work = Workdir::new();
    let emulator = expiring_emulator(&work).await;
    write_updates(&work);
    work.write(
        "token.sh",
        "n=$(cat runs 2>/dev/null || echo 0); n=$((n+1)); echo $n > runs; echo secret-cmd-$n\n",
    );
    let args = [
        "sync",
        "u.csv",
        "--endpoint",
        &emulator.base_url(),
        "--rate",
        "20/s",
        "--concurrency",
        "8",
        "--report",
        "report.csv",
        "--token-command",
        "sh token.sh",
    ];
    let out = work.refsync(&args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert!(rows.iter().all(|r| r["outcome"] == "updated"));
    let runs: u64 = work.read("runs").trim().parse().unwrap();
    assert!(
        runs >= 3,
        "the tokens expired during the run ({runs} fetches)"
    );
    // Requests 50 ms apart against 20 ms of latency: about one in flight when a token
    // expires, so about one 401 per token; a stale token sent from the queue adds more.
    assert!(
        unauthorized(&emulator) <= 2 * runs,
        "{} 401s for {runs} tokens: only requests in flight when a token expires are refused",
        unauthorized(&emulator)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_command_that_hangs_ends_at_the_deadline() {
    let work = Workdir::new();
    let emulator = expiring_emulator(&work).await;
    write_updates(&work);
    let base = emulator.base_url();
    // Without the deadline ending the wait, the run would end after a minute with exit 1
    // ("gave an empty token").
    let out = sync(
        &work,
        &base,
        &["--token-command", "sleep 60", "--deadline", "1s"],
        &[],
    );
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(rows.len(), DOCUMENTS);
    for row in &rows {
        assert_eq!(row["outcome"], "failed", "{row:?}");
        assert!(
            ["deadline", "not_sent"].contains(&row["error_code"].as_str()),
            "{row:?}"
        );
    }
    assert_eq!(support::requests_served(&emulator), 0);
}

#[test]
fn a_secret_is_never_shown_in_help_or_in_the_refusal_of_it() {
    let work = Workdir::new();
    let secret = "SECRET-4f1c";
    let help = work.refsync_with(&["emulator", "--help"], &[("REFSYNC_TOKEN", secret)]);
    let command = format!("vault read {secret}");
    let sync_help = work.refsync_with(&["sync", "--help"], &[("REFSYNC_TOKEN_COMMAND", &command)]);
    work.write("refsync.toml", &format!("token = \"{secret} x\"\n"));
    let bad = format!("{secret} x");
    let refused = [
        work.refsync(&["emulator", "--token", &bad]),
        work.refsync_with(&["emulator"], &[("REFSYNC_TOKEN", &bad)]),
        work.refsync(&["emulator", "--config", "refsync.toml"]),
    ];
    for out in [&help, &sync_help] {
        assert_eq!(code(out), 0);
        assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
    }
    // A usage error on the command line, a configuration error from a variable or the file.
    for (out, want) in refused.iter().zip([2, 1, 1]) {
        assert_eq!(code(out), want, "{}", stderr(out));
        assert!(
            stderr(out).contains("visible characters"),
            "{}",
            stderr(out)
        );
        assert!(!stderr(out).contains(secret), "{}", stderr(out));
    }
}

#[test]
fn a_token_file_that_is_a_pipe_no_one_writes_to_ends_at_the_deadline() {
    let work = Workdir::new();
    write_updates(&work);
    let fifo = work.path().join("token.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_refsync"))
        .args(["sync", "u.csv", "--endpoint", "http://127.0.0.1:9/v1.0"])
        .args([
            "--token-file",
            "token.fifo",
            "--deadline",
            "1s",
            "--report",
            "r.csv",
        ])
        .current_dir(work.path())
        .env_remove("PARTNER_CENTER_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start refsync");
    // Before, it waited for a writer forever: at start, and again at its exit.
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(30) {
            let _ = child.kill();
            panic!("refsync still waits for the pipe");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_refused_twice_shows_the_401s_code_and_a_resume_sends_it_again() {
    let work = Workdir::new();
    let seed = work.write("seed.jsonl", &fixtures::seed_text(&fixtures::referrals(1)));
    let emulator = Emulator::start(refsync::emulator::EmulatorOptions {
        seed: Seed::File(seed),
        token: Some("right-token".into()),
        ..Default::default()
    })
    .await
    .expect("start emulator");
    work.write(
        "u.csv",
        &format!("id,op,path,value\n{},replace,/details/notes,n\n", id(0)),
    );
    let ledger = ["--ledger", "ledger.db", "--resume"];
    let wrong = [("PARTNER_CENTER_TOKEN", "wrong-token")];
    let out = sync(&work, &emulator.base_url(), &ledger, &wrong);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(
        (
            &*rows[0]["outcome"],
            &*rows[0]["http_status"],
            &*rows[0]["error_code"]
        ),
        ("failed", "401", "Unauthorized"),
        "{rows:?}"
    );
    // Nothing of it applied: the ledger leaves it open, and the resume sends it.
    let right = [("PARTNER_CENTER_TOKEN", "right-token")];
    let out = sync(&work, &emulator.base_url(), &ledger, &right);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("resumed"), "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(rows[0]["outcome"], "updated", "{rows:?}");
}
