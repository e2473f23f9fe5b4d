//! Crash and resume with a ledger: the real binary killed with SIGKILL at several moments,
//! resumed until done, applies every document exactly once; plus `--skip-unchanged`, a
//! ledger in use, and `--max-failures`.

use crate::fixtures::{self, id};
use crate::support::{self, Workdir, code, read_csv_report, stderr};
use refsync::emulator::{Emulator, Faults, Seed};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DOCUMENTS: usize = 60;

fn member(n: usize) -> Value {
    json!({"email": format!("crash{n}@contoso.com")})
}

fn write_updates(work: &Workdir) {
    let mut text = String::new();
    for n in 0..DOCUMENTS {
        text.push_str(&format!(
            "{}\n",
            json!({"id": id(n), "op": "add", "path": "/team/-", "value": member(n)})
        ));
        text.push_str(&format!("{}\n", json!({"id": id(n), "op": "replace", "path": "/details/notes", "value": format!("crash {n}")})));
    }
    work.write("u.jsonl", &text);
}

async fn slow_emulator(work: &Workdir, count: usize) -> Emulator {
    let seed = work.write(
        "seed.jsonl",
        &fixtures::seed_text(&fixtures::referrals(count)),
    );
    let faults = Faults {
        latency_ms: 40,
        no_replay: true,
        ..Faults::default()
    };
    support::emulator_with(Seed::File(seed), faults).await
}

fn sync_args(base: &str) -> Vec<String> {
    resumable_sync_args("u.jsonl", base, "100/s")
}

/// A `sync` of `input` at `rate` with four workers, resumed from `ledger.db`, its report
/// in `report.csv`.
fn resumable_sync_args(input: &str, base: &str, rate: &str) -> Vec<String> {
    [
        "sync",
        input,
        "--endpoint",
        base,
        "--rate",
        rate,
        "--concurrency",
        "4",
        "--ledger",
        "ledger.db",
        "--resume",
        "--report",
        "report.csv",
    ]
    .map(String::from)
    .to_vec()
}

/// Report rows written so far (the header excluded); 0 while there is no report.
fn rows_written(work: &Workdir) -> usize {
    std::fs::read_to_string(work.path().join("report.csv"))
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0)
}

/// Starts a run and kills it with SIGKILL once `rows` report rows are out.
fn run_and_kill(work: &Workdir, base: &str, rows: usize) {
    run_with_args_and_kill(work, &sync_args(base), rows);
}

/// Starts a run of `args` (which write `report.csv`) and kills it with SIGKILL once
/// `rows` report rows are out.
fn run_with_args_and_kill(work: &Workdir, args: &[String], rows: usize) {
    let _ = std::fs::remove_file(work.path().join("report.csv"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_refsync"))
        .args(args)
        .current_dir(work.path())
        .env("PARTNER_CENTER_TOKEN", "t")
        .stderr(Stdio::null())
        .spawn()
        .expect("start refsync");
    let started = Instant::now();
    while rows_written(work) < rows && started.elapsed() < Duration::from_secs(30) {
        if child.try_wait().expect("poll refsync").is_some() {
            return;
        }
        std::thread::yield_now();
    }
    child.kill().expect("SIGKILL refsync");
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_at_several_moments_and_resumed_applies_each_document_once() {
    let work = Workdir::new();
    let emulator = slow_emulator(&work, DOCUMENTS).await;
    write_updates(&work);
    let base = emulator.base_url();
    for rows in [1, 12, 30, 45] {
        let (w, b) = (Workdir::at(work.path().to_path_buf()), base.clone());
        tokio::task::spawn_blocking(move || run_and_kill(&w, &b, rows))
            .await
            .unwrap();
    }
    let args = sync_args(&base);
    let out = tokio::task::spawn_blocking({
        let dir = work.path().to_path_buf();
        move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            Workdir::at(dir).refsync(&args)
        }
    })
    .await
    .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let ledger = refsync::ledger::Ledger::open_read_only(&work.path().join("ledger.db")).unwrap();
    let runs = ledger.runs().unwrap();
    assert_eq!(runs.len(), 1, "one run, resumed");
    assert_eq!(runs[0].resumes, 4, "each kill left the run unfinished");
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(rows.len(), DOCUMENTS, "the report covers the whole run");
    let verified = rows.iter().filter(|r| r["note"] == "verified").count();
    eprintln!("crash test: 4 kills, {verified} in-flight documents verified on resume");
    assert!(rows.iter().all(|r| r["outcome"] == "updated"), "{rows:?}");
    let stats = emulator.stats();
    let applied = stats["applied"].as_object().unwrap();
    assert_eq!(applied.len(), DOCUMENTS);
    assert!(
        applied.values().all(|n| n == 1),
        "no document applied twice: {applied:?}"
    );
    let state = emulator.referrals();
    for n in 0..DOCUMENTS {
        let team = state[&id(n)]["team"].as_array().unwrap();
        let copies = team
            .iter()
            .filter(|m| m["email"] == member(n)["email"])
            .count();
        assert_eq!(copies, 1, "member of {} appended once", id(n));
    }
}

/// A work directory with `u.csv`, which sets the notes of five referrals to `notes N`, and
/// an emulator holding them.
async fn five_notes(notes: &str) -> (Workdir, Emulator) {
    let work = Workdir::new();
    let seed = work.write("seed.jsonl", &fixtures::seed_text(&fixtures::referrals(5)));
    let emulator = support::emulator_with(Seed::File(seed), Faults::default()).await;
    let csv: String = std::iter::once("id,op,path,value\n".to_string())
        .chain((0..5).map(|n| format!("{},replace,/details/notes,{notes} {n}\n", id(n))))
        .collect();
    work.write("u.csv", &csv);
    (work, emulator)
}

/// Documents still waiting for the rate limiter when the process is killed never left:
/// the ledger has none of them in flight, so a resume sends each without presuming an
/// earlier PATCH, and the report's `attempts` are the PATCHes the API got.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_waiting_their_turn_when_killed_count_no_attempt_on_resume() {
    let (work, emulator) = five_notes("waiting").await;
    let base = emulator.base_url();
    let args = |rate: &str| resumable_sync_args("u.csv", &base, rate);
    // At one request a second, the first document is done long before the next may go:
    // the kill finds three documents taken by workers and waiting their turn.
    let (dir, slow) = (work.path().to_path_buf(), args("1/s"));
    tokio::task::spawn_blocking(move || run_with_args_and_kill(&Workdir::at(dir), &slow, 1))
        .await
        .unwrap();
    let out = work.refsync(
        &args("unlimited")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(rows.len(), 5);
    let stats = emulator.stats();
    for row in &rows {
        let applied = &stats["applied"][row["id"].as_str()];
        assert_eq!(row["attempts"], applied.to_string(), "{row:?} {stats}");
        assert_eq!(row["note"], "", "{row:?}");
    }
    assert_eq!(stats["requests"]["GET 200"], Value::Null, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_unchanged_sends_nothing_the_second_night() {
    let (work, emulator) = five_notes("nightly").await;
    let base = emulator.base_url();
    let night = |report: &str| {
        work.refsync(&[
            "sync",
            "u.csv",
            "--endpoint",
            &base,
            "--ledger",
            "l.db",
            "--skip-unchanged",
            "--report",
            report,
            "--rate",
            "unlimited",
        ])
    };
    let dry_run = |report: &str| {
        let mut args = vec![
            "sync",
            "u.csv",
            "--endpoint",
            &base,
            "--dry-run",
            "--report",
        ];
        args.extend([
            report,
            "--ledger",
            "l.db",
            "--skip-unchanged",
            "--rate",
            "unlimited",
        ]);
        work.refsync(&args)
    };
    // Before any night: nothing applied, so nothing skipped, and no ledger made.
    assert_eq!(code(&dry_run("dry-first.csv")), 0);
    assert!(!work.path().join("l.db").exists());
    let rows = read_csv_report(&work.path().join("dry-first.csv"));
    assert!(rows.iter().all(|r| r["outcome"] == "planned"), "{rows:?}");
    assert_eq!(code(&night("first.csv")), 0);
    let patches_before = emulator.stats()["requests"]["PATCH 204"].clone();
    // A dry run of the second night reports the skips the real one makes.
    let dry = dry_run("dry-second.csv");
    assert_eq!(code(&dry), 0, "{}", stderr(&dry));
    let rows = read_csv_report(&work.path().join("dry-second.csv"));
    assert!(
        rows.iter()
            .all(|r| r["outcome"] == "unchanged" && r["note"] == "skipped-by-ledger"),
        "{rows:?}"
    );
    let second = night("second.csv");
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    assert_eq!(
        emulator.stats()["requests"]["PATCH 204"],
        patches_before,
        "nothing sent"
    );
    let rows = read_csv_report(&work.path().join("second.csv"));
    assert!(
        rows.iter()
            .all(|r| r["outcome"] == "unchanged" && r["note"] == "skipped-by-ledger")
    );
}

#[test]
fn a_second_run_on_a_ledger_in_use_is_refused() {
    let work = Workdir::new();
    work.write("u.csv", "id,op,path,value\nabc,replace,/name,x\n");
    let sync = || {
        work.refsync(&[
            "sync",
            "u.csv",
            "--emulator",
            "--ledger",
            "l.db",
            "--report",
            "r.csv",
        ])
    };
    let held = refsync::ledger::Ledger::open(&work.path().join("l.db")).unwrap();
    let out = sync();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("l.db"), "{}", stderr(&out));
    drop(held);
    let out = sync();
    assert_ne!(
        code(&out),
        1,
        "free once the first holder is gone: {}",
        stderr(&out)
    );
}

#[test]
fn a_file_that_is_not_a_ledger_is_refused_and_left_alone() {
    let work = Workdir::new();
    work.write("u.csv", "id,op,path,value\nabc,replace,/name,x\n");
    work.write("notes.db", "not a database");
    let out = work.refsync(&[
        "sync",
        "u.csv",
        "--emulator",
        "--ledger",
        "notes.db",
        "--report",
        "r.csv",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(work.read("notes.db"), "not a database");
}

/// Syncs `count` documents for referrals the emulator does not know (each refused with
/// 404) with `--max-failures` and `flags`; the run's output and its report's rows.
async fn sync_unknown_referrals(
    count: usize,
    flags: &[&str],
) -> (std::process::Output, Vec<HashMap<String, String>>) {
    let work = Workdir::new();
    let emulator = slow_emulator(&work, 1).await;
    let csv: String = std::iter::once("id,op,path,value\n".to_string())
        .chain((0..count).map(|n| format!("missing-{n},replace,/name,x\n")))
        .collect();
    work.write("u.csv", &csv);
    let base = emulator.base_url();
    let mut args = vec!["sync", "u.csv", "--endpoint", &base, "--report", "r.csv"];
    args.extend(flags);
    let out = work.refsync(&args);
    let rows = read_csv_report(&work.path().join("r.csv"));
    (out, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_failures_stops_the_run_early_with_exit_five() {
    let flags = [
        "--max-failures",
        "5",
        "--concurrency",
        "2",
        "--rate",
        "unlimited",
    ];
    let (out, rows) = sync_unknown_referrals(40, &flags).await;
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(stderr(&out).contains("--max-failures"), "{}", stderr(&out));
    assert_eq!(rows.len(), 40, "every document still in the report");
    assert!(rows.iter().any(|r| r["error_code"] == "not_sent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_failures_reached_by_the_last_documents_is_exit_five_though_it_stops_nothing() {
    // SPEC.md: the limit reached is exit 5, whether or not documents were left to stop.
    let flags = ["--max-failures", "3", "--rate", "unlimited"];
    let (out, rows) = sync_unknown_referrals(3, &flags).await;
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--max-failures reached: 3 of 3"),
        "{}",
        stderr(&out)
    );
    assert!(rows.iter().all(|r| r["http_status"] == "404"), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_by_max_failures_ends_with_an_error_line_for_alerting() {
    let flags = ["--max-failures", "2", "--log-format", "json"];
    let (out, _) = sync_unknown_referrals(10, &flags).await;
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    let last = stderr(&out).lines().last().unwrap_or_default().to_string();
    let last: serde_json::Value = serde_json::from_str(&last).expect("a JSON line");
    assert_eq!(last["message"], "run finished");
    assert_eq!(last["level"], "ERROR", "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_failures_under_a_rate_sends_no_document_that_was_still_waiting() {
    // At 2/s several documents wait for the rate limiter at once; once the third has
    // failed, none of them is sent (a request already on the wire may still add a
    // failure; the next permit is 500 ms away, room for a loaded CI machine).
    let (out, rows) = sync_unknown_referrals(30, &["--max-failures", "3", "--rate", "2/s"]).await;
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert_eq!(rows.len(), 30, "every document still in the report");
    let refused = rows.iter().filter(|r| r["http_status"] == "404").count();
    let not_sent = rows
        .iter()
        .filter(|r| r["error_code"] == "not_sent")
        .count();
    assert!(
        (3..=5).contains(&refused),
        "{refused} documents sent and refused"
    );
    assert_eq!(refused + not_sent, 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_by_its_deadline_is_finished_by_resume_applying_each_document_once() {
    let work = Workdir::new();
    let emulator = slow_emulator(&work, DOCUMENTS).await;
    write_updates(&work);
    let base = emulator.base_url();
    let undo = ["--undo", "undo.jsonl"].map(String::from);
    // The first run is slowed to 10/s (6 s for the whole plan) and stopped after 1.5 s:
    // time enough to apply some documents even on a loaded 2-core CI machine, where
    // starting up and planning may take a good part of a second, and far from all of them.
    let mut first: Vec<String> = sync_args(&base)
        .into_iter()
        .map(|arg| if arg == "100/s" { "10/s".into() } else { arg })
        .collect();
    first.extend(undo.clone());
    first.extend(["--deadline", "1500ms"].map(String::from));
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let out = work.refsync(&first);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--deadline passed"),
        "{}",
        stderr(&out)
    );
    let undo_before = work.read("undo.jsonl");
    assert!(
        !undo_before.is_empty(),
        "some documents were applied in time"
    );
    let mut resumed = sync_args(&base);
    resumed.extend(undo);
    let resumed: Vec<&str> = resumed.iter().map(String::as_str).collect();
    let out = work.refsync(&resumed);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("resuming"), "{}", stderr(&out));
    let undo_after = work.read("undo.jsonl");
    assert!(
        undo_after.starts_with(&undo_before) && undo_after.len() > undo_before.len(),
        "the resumed run adds its undo lines after the first attempt's"
    );
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(rows.len(), DOCUMENTS);
    assert!(rows.iter().all(|r| r["outcome"] == "updated"), "{rows:?}");
    let stats = emulator.stats();
    let applied = stats["applied"].as_object().expect("applied counts");
    assert_eq!(applied.len(), DOCUMENTS);
    assert!(applied.values().all(|n| n == 1), "{stats}");
    let headers = stats["headers"].as_array().expect("request headers");
    let correlation: std::collections::HashSet<&str> = headers
        .iter()
        .filter_map(|h| h["correlation_id"].as_str())
        .collect();
    assert_eq!(
        correlation.len(),
        1,
        "one MS-CorrelationId for the run: {correlation:?}"
    );
    let shown = work.refsync(&["runs", "--ledger", "ledger.db", "show", "1"]);
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    let id = correlation.iter().next().copied().unwrap_or_default();
    assert!(
        shown.contains(id),
        "runs show names the run's correlation ID: {shown}"
    );
}

#[test]
fn the_run_key_follows_the_ids_file_s_content_not_its_name() {
    let work = Workdir::new();
    let sample = crate::support::sample_path("updates.csv");
    let sample = sample.to_str().expect("a UTF-8 path");
    let key_of_run = |ids: &str, run: &str| {
        let args = [
            "sync",
            sample,
            "--emulator",
            "--ledger",
            "l.db",
            "--ids",
            ids,
        ];
        let out = work.refsync(&[&args[..], &["--report", "r.csv", "-q"]].concat());
        assert!([0, 3, 4].contains(&code(&out)), "{}", stderr(&out));
        let shown = work.refsync(&["runs", "show", run, "--ledger", "l.db", "--json"]);
        let shown: Value = serde_json::from_slice(&shown.stdout).expect("JSON");
        shown["run"]["key"].as_str().expect("a key").to_string()
    };
    work.write("ids.txt", "2daaf954-19a2-4b6e-a9a0-0e5cd3a1f1d2\n");
    let first = key_of_run("ids.txt", "1");
    assert_eq!(
        key_of_run("./ids.txt", "2"),
        first,
        "one file, two spellings"
    );
    work.write("ids.txt", "61256092-f66b-4d91-af4e-06e3e6de5084\n");
    assert_ne!(
        key_of_run("ids.txt", "3"),
        first,
        "an edited list is another plan"
    );
}

/// `sync u.jsonl` against `base` with `ledger.db` and `report.csv`, plus `flags`.
fn sync_once(work: &Workdir, base: &str, flags: &[&str]) -> std::process::Output {
    let mut args = vec![
        "sync",
        "u.jsonl",
        "--endpoint",
        base,
        "--rate",
        "unlimited",
        "--ledger",
        "ledger.db",
        "--report",
        "report.csv",
    ];
    args.extend(flags);
    work.refsync(&args)
}

/// Adds to `ledger.db` an unfinished run with the key of its first run, as a process killed
/// with the PATCH of entry 0 (referral `id(0)`) in flight leaves it; gives its request ID.
fn killed_with_the_first_patch_in_flight(work: &Workdir, if_match: Option<&str>) -> uuid::Uuid {
    killed_while_sending_to(work, if_match, None)
}

/// [`killed_with_the_first_patch_in_flight`], the run recorded as sent to `endpoint`.
fn killed_while_sending_to(
    work: &Workdir,
    if_match: Option<&str>,
    endpoint: Option<&str>,
) -> uuid::Uuid {
    use refsync::ledger::{DocumentKey, Ledger, RunMeta, Sending};
    let ledger = Ledger::open(&work.path().join("ledger.db")).expect("open ledger");
    let key = ledger.runs().expect("runs")[0].key.clone();
    let meta = RunMeta {
        inputs: vec!["u.jsonl".into()],
        endpoint: endpoint.map(str::to_owned),
        planned: 1,
        ..RunMeta::default()
    };
    let run = ledger.start_run(&key, &meta).expect("start");
    let referral = id(0);
    let doc = DocumentKey {
        entry: 0,
        referral_id: Some(&referral),
        doc_hash: None,
    };
    let request_id = uuid::Uuid::new_v4();
    ledger
        .record_sending(
            run,
            doc,
            &Sending {
                request_id,
                if_match,
                undo_before: None,
                sent_before: 0,
            },
        )
        .expect("in flight");
    request_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_of_edited_inputs_warns_that_the_unfinished_run_stays_unfinished() {
    let work = Workdir::new();
    let emulator = support::seeded(&work, 2, Faults::default()).await;
    let notes = |n: usize, text: &str| json!({"id": id(n), "op": "replace", "path": "/details/notes", "value": text});
    work.write("u.jsonl", &format!("{}\n", notes(0, "a")));
    let base = emulator.base_url();
    assert_eq!(code(&sync_once(&work, &base, &[])), 0);
    // Nothing unfinished: a nightly --resume says so at INFO only.
    let out = sync_once(&work, &base, &["--resume"]);
    assert!(!stderr(&out).contains("WARN"), "{}", stderr(&out));
    killed_with_the_first_patch_in_flight(&work, None);
    work.write("u.jsonl", &format!("{}\n", notes(1, "b")));
    let out = sync_once(&work, &base, &["--resume"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains("WARN") && text.contains("stays unfinished"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_stopped_before_checking_a_document_left_in_flight_says_it_may_be_applied() {
    let work = Workdir::new();
    let emulator = support::seeded(&work, 1, Faults::default()).await;
    let append = json!({"id": id(0), "op": "add", "path": "/team/-", "value": member(0)});
    work.write("u.jsonl", &format!("{append}\n"));
    let base = emulator.base_url();
    assert_eq!(code(&sync_once(&work, &base, &[])), 0);
    killed_with_the_first_patch_in_flight(&work, Some("\"e-sent\""));
    // The deadline has passed before any document is taken: the check is not made.
    let out = sync_once(&work, &base, &["--resume", "--deadline", "1ms"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(rows[0]["error_code"], "outcome_unknown", "{rows:?}");
    assert!(rows[0]["error_message"].contains("--resume"), "{rows:?}");
    // Still in flight in the ledger: the next resume reads the referral and verifies it.
    let out = sync_once(&work, &base, &["--resume"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(
        (&*rows[0]["outcome"], &*rows[0]["note"]),
        ("updated", "verified")
    );
    assert_eq!(emulator.stats()["applied"][id(0)], 1, "applied once");
}

/// `sync --resume` against `base`, which must resume run 2 and exit 0; its report rows.
fn resumed_run_two(work: &Workdir, base: &str) -> Vec<HashMap<String, String>> {
    let out = sync_once(work, base, &["--resume"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("ledger: run 2, resumed"), "{text}");
    read_csv_report(&work.path().join("report.csv"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_left_in_flight_whose_referral_cannot_be_read_stays_open_for_the_next_resume() {
    let work = Workdir::new();
    let healthy = support::seeded(&work, 1, Faults::default()).await;
    let replace = json!({"id": id(0), "op": "replace", "path": "/details/notes", "value": "x"});
    work.write("u.jsonl", &format!("{replace}\n"));
    assert_eq!(code(&sync_once(&work, &healthy.base_url(), &[])), 0);
    let request_id = killed_with_the_first_patch_in_flight(&work, None);
    // The API answers every request 5xx while the run resumes: the referral cannot be
    // read, so whether the earlier PATCH landed is unknown, whatever the document is.
    let failing = Faults {
        fail_rate: 1.0,
        ..Faults::default()
    };
    let down = support::seeded(&work, 1, failing).await;
    let out = sync_once(
        &work,
        &down.base_url(),
        &["--resume", "--max-attempts", "2"],
    );
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    let row = &rows[0];
    assert_eq!(
        (&*row["outcome"], &*row["error_code"]),
        ("failed", "outcome_unknown"),
        "{row:?}"
    );
    assert!(row["error_message"].contains("--resume"), "{row:?}");
    assert_eq!(
        row["request_id"],
        request_id.to_string(),
        "the earlier PATCH: {row:?}"
    );
    assert!(
        stderr(&out).contains("left open in the ledger"),
        "{}",
        stderr(&out)
    );
    assert!(
        down.stats()["applied"]
            .as_object()
            .is_none_or(|a| a.is_empty()),
        "nothing sent"
    );
    // Still in flight, in a run still unfinished: the next resume reads and settles it.
    let rows = resumed_run_two(&work, &healthy.base_url());
    assert_eq!(
        (&*rows[0]["outcome"], &*rows[0]["note"]),
        ("updated", "verified")
    );
    assert_eq!(healthy.stats()["applied"][id(0)], 1, "applied once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_verified_on_resume_reports_the_patch_that_applied_it() {
    let work = Workdir::new();
    let emulator = support::seeded(&work, 1, Faults::default()).await;
    let append = json!({"id": id(0), "op": "add", "path": "/team/-", "value": member(0)});
    work.write("u.jsonl", &format!("{append}\n"));
    let base = emulator.base_url();
    let out = sync_once(&work, &base, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // The append is applied; a run of the same inputs then dies with its PATCH in flight.
    let request_id = killed_with_the_first_patch_in_flight(&work, Some("\"e-sent\""));
    let rows = resumed_run_two(&work, &base);
    let row = &rows[0];
    assert_eq!((&*row["outcome"], &*row["note"]), ("updated", "verified"));
    assert_eq!(row["request_id"], request_id.to_string(), "{row:?}");
    assert_eq!(row["if_match_sent"], "\"e-sent\"", "{row:?}");
    assert_eq!(row["attempts"], "1", "the PATCH that applied it: {row:?}");
    assert_eq!(emulator.stats()["applied"][id(0)], 1, "applied once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_run_names_the_unfinished_run_of_the_same_inputs_and_how_to_resume_it() {
    let work = Workdir::new();
    let emulator = support::seeded(&work, 1, Faults::default()).await;
    let replace = json!({"id": id(0), "op": "replace", "path": "/details/notes", "value": "x"});
    work.write("u.jsonl", &format!("{replace}\n"));
    let base = emulator.base_url();
    let out = sync_once(&work, &base, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stderr(&out).contains("--resume"), "{}", stderr(&out));
    killed_with_the_first_patch_in_flight(&work, None);
    let out = sync_once(&work, &base, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains("run 2 of these inputs") && text.contains("--resume continues run 2"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_refused_with_401_only_are_not_left_in_flight_by_the_aborted_run() {
    let work = Workdir::new();
    let seed = work.write("seed.jsonl", &fixtures::seed_text(&fixtures::referrals(3)));
    let emulator = refsync::emulator::Emulator::start(refsync::emulator::EmulatorOptions {
        listen: ([127, 0, 0, 1], 0).into(),
        seed: Seed::File(seed),
        token: Some("the-right-token".into()),
        faults: Faults::default(),
    })
    .await
    .expect("start emulator");
    let text: String = (0..3)
        .map(|n| {
            let op = json!({"id": id(n), "op": "replace", "path": "/details/notes", "value": "y"});
            format!("{op}\n")
        })
        .collect();
    work.write("u.jsonl", &text);
    let base = emulator.base_url();
    // One at a time, so that no PATCH is on the wire when the second 401 stops the run.
    let out = sync_once(&work, &base, &["--concurrency", "1"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let ledger = refsync::ledger::Ledger::open_read_only(&work.path().join("ledger.db"))
        .expect("open ledger");
    let run = ledger.runs().expect("runs").remove(0);
    assert_eq!((run.in_flight, run.not_finished), (0, 3), "{run:?}");
    drop(ledger);
    let args = [
        "sync",
        "u.jsonl",
        "--endpoint",
        &base,
        "--ledger",
        "ledger.db",
        "--report",
        "report.csv",
        "--resume",
    ];
    let out = work.refsync_with(&args, &[("PARTNER_CENTER_TOKEN", "the-right-token")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let stats = emulator.stats();
    let requests = stats["requests"].as_object().expect("request counts");
    assert!(
        requests.keys().all(|key| !key.starts_with("GET")),
        "nothing to verify after 401s: {requests:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_resumed_and_skipped_by_only_against_the_endpoint_it_was_sent_to() {
    let work = Workdir::new();
    let first = support::seeded(&work, 1, Faults::default()).await;
    let other = support::seeded(&work, 1, Faults::default()).await;
    let replace = json!({"id": id(0), "op": "replace", "path": "/details/notes", "value": "x"});
    work.write("u.jsonl", &format!("{replace}\n"));
    let (base, other_base) = (first.base_url(), other.base_url());
    let out = sync_once(&work, &base, &["--skip-unchanged"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Applied at the first endpoint only: the other one still needs it.
    let out = sync_once(&work, &other_base, &["--skip-unchanged"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!((&*rows[0]["outcome"], &*rows[0]["note"]), ("updated", ""));
    assert_eq!(
        other.stats()["applied"][id(0)],
        1,
        "sent to the other endpoint"
    );

    killed_while_sending_to(&work, None, Some(&base));
    let out = sync_once(&work, &other_base, &["--resume"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains(&format!("was sent to {base}, not to {other_base}")),
        "{text}"
    );
    assert_eq!(other.stats()["applied"][id(0)], 1, "nothing more sent");
    let out = sync_once(&work, &base, &["--resume"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        first.stats()["applied"][id(0)],
        1,
        "verified, not sent again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nightly_resume_with_nothing_to_resume_says_so_without_a_warning() {
    let work = Workdir::new();
    let emulator = support::seeded(&work, 1, Faults::default()).await;
    let replace = json!({"id": id(0), "op": "replace", "path": "/details/notes", "value": "x"});
    work.write("u.jsonl", &format!("{replace}\n"));
    let out = sync_once(
        &work,
        &emulator.base_url(),
        &["--resume", "--log-format", "json"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("\"start\":\"nothing_to_resume\""), "{text}");
    assert!(!text.contains("\"level\":\"WARN\""), "{text}");
    // Said at the default level, in the summary people read, once the run is in the ledger.
    let out = sync_once(&work, &emulator.base_url(), &["--resume"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains("ledger: run 2, new: --resume found no unfinished run"),
        "{text}"
    );
    let out = sync_once(&work, &emulator.base_url(), &[]);
    assert!(
        stderr(&out).contains("ledger: run 3, new\n"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_the_api_was_down_for_stay_open_and_a_resume_sends_them() {
    let work = Workdir::new();
    let text = (0..3)
        .map(|n| format!("{},replace,/details/notes,back {n}\n", id(n)))
        .collect::<String>();
    work.write("u.csv", &format!("id,op,path,value\n{text}"));
    let down = support::closed_port();
    let base = format!("{down}/v1.0");
    let args = |resume: bool| {
        let mut args = vec!["sync", "u.csv", "--endpoint", &base, "--ledger", "l.db"];
        args.extend([
            "--max-attempts",
            "1",
            "--report",
            "r.csv",
            "--rate",
            "unlimited",
        ]);
        if resume {
            args.push("--resume");
        }
        args.iter().map(|a| a.to_string()).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        work.refsync_with(&args, &[("PARTNER_CENTER_TOKEN", "t")])
    };
    let out = run(args(false));
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("r.csv"));
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|r| r["error_code"] == "not_sent" && r["attempts"] == "0"),
        "{rows:?}"
    );
    // The API is back, where it was: the resume sends the three, nothing else.
    let seed = work.write("seed.jsonl", &fixtures::seed_text(&fixtures::referrals(3)));
    let emulator = Emulator::start(refsync::emulator::EmulatorOptions {
        listen: down.trim_start_matches("http://").parse().expect("address"),
        seed: Seed::File(seed),
        token: None,
        faults: Faults::default(),
    })
    .await
    .expect("start the emulator where the API was down");
    let out = run(args(true));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("r.csv"));
    assert!(rows.iter().all(|r| r["outcome"] == "updated"), "{rows:?}");
    assert_eq!(support::requests_served(&emulator), 3);
}
