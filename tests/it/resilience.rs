//! Runs that must not lose or double an update: `--deadline`, SIGTERM mid-run, lost
//! responses, concurrent writers, and a nightly file sent twice.

use crate::fixtures::id;
use crate::support::{Workdir, code, read_csv_report, row_of, seeded, stderr};
use refsync::emulator::{Emulator, Faults};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// `count` documents, each appending a new member and replacing the notes.
fn appends(work: &Workdir, count: usize) {
    let mut csv = String::from("id,op,path,value\n");
    for n in 0..count {
        csv += &format!(
            "{i},add,/team/-,\"{{\"\"email\"\":\"\"m{n}@x.com\"\"}}\"\n{i},replace,/details/notes,night {n}\n",
            i = id(n)
        );
    }
    work.write("u.csv", &csv);
}

fn args<'a>(base: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "sync",
        "u.csv",
        "--endpoint",
        base,
        "--report",
        "report.csv",
    ];
    args.extend_from_slice(extra);
    args
}

/// How many requests the emulator answered with `key` (`"PATCH 204"`, …).
fn answered(stats: &Value, key: &str) -> u64 {
    stats["requests"][key].as_u64().unwrap_or(0)
}

/// The report of 8 appending documents sent with `extra` (a `--deadline` that passes) to
/// an emulator answering after `latency_ms`; the run exits 4 and reports every document.
async fn past_a_deadline(
    latency_ms: u64,
    extra: &[&str],
) -> Vec<std::collections::HashMap<String, String>> {
    let work = Workdir::new();
    let faults = Faults {
        latency_ms,
        ..Faults::default()
    };
    let emulator = seeded(&work, 8, faults).await;
    appends(&work, 8);
    let base = emulator.base_url();
    let out = work.refsync(&args(&base, extra));
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(rows.len(), 8, "every document is in the report");
    rows
}

fn count(rows: &[std::collections::HashMap<String, String>], column: &str, value: &str) -> usize {
    rows.iter().filter(|r| r[column] == value).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_reports_every_unfinished_document_as_deadline_or_not_sent() {
    // 8 documents one at a time take 4 s; the 2 s deadline leaves room for a slow start on
    // a loaded CI machine while one document is still surely in flight when it passes.
    let extra = [
        "--concurrency",
        "1",
        "--rate",
        "unlimited",
        "--deadline",
        "2s",
    ];
    let rows = past_a_deadline(500, &extra).await;
    assert!(count(&rows, "error_code", "deadline") >= 1, "{rows:?}");
    assert!(count(&rows, "error_code", "not_sent") >= 1, "{rows:?}");
    let accounted = count(&rows, "outcome", "updated")
        + count(&rows, "error_code", "deadline")
        + count(&rows, "error_code", "not_sent");
    assert_eq!(accounted, 8, "{rows:?}");
}

/// Waits (without blind sleeps) until the report at `path` has at least one result row.
async fn first_row_written(path: &Path) {
    loop {
        let lines = std::fs::read_to_string(path).map_or(0, |t| t.lines().count());
        if lines >= 2 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A run of `count` appending documents against a slow emulator (200 ms a request),
/// started with `extra` flags and left once its report has a first row.
async fn slow_run_under_way(
    work: &Workdir,
    count: usize,
    extra: &[&str],
) -> (Emulator, std::process::Child) {
    let faults = Faults {
        latency_ms: 200,
        ..Faults::default()
    };
    let emulator = seeded(work, count, faults).await;
    appends(work, count);
    let base = emulator.base_url();
    let child = Command::new(env!("CARGO_BIN_EXE_refsync"))
        .args(args(&base, extra))
        .current_dir(work.path())
        .env("PARTNER_CENTER_TOKEN", "test-token")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start refsync");
    let report = work.path().join("report.csv");
    tokio::time::timeout(Duration::from_secs(30), first_row_written(&report))
        .await
        .expect("a first row within 30 s");
    (emulator, child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_outright_leaves_no_summary_or_rejects_of_an_earlier_run() {
    let work = Workdir::new();
    work.write("summary.json", "{\"exit_code\": 0}\n");
    work.write("rejects.csv", "id,op,path,value,outcome,error_message\n");
    let extra = [
        "--concurrency",
        "1",
        "--summary-json",
        "summary.json",
        "--rejects",
        "rejects.csv",
    ];
    let (_emulator, mut child) = slow_run_under_way(&work, 6, &extra).await;
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    for stale in ["summary.json", "rejects.csv"] {
        assert!(
            !work.path().join(stale).exists(),
            "{stale} of the earlier run"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_run_exits_143_with_a_report_of_the_whole_plan() {
    let work = Workdir::new();
    let extra = ["--concurrency", "1", "--rate", "unlimited"];
    let (emulator, child) = slow_run_under_way(&work, 12, &extra).await;
    let report = work.path().join("report.csv");
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(killed.expect("run kill").success());
    let status = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("wait");
    assert_eq!(status.status.code(), Some(143), "{}", stderr(&status));
    let rows = read_csv_report(&report);
    assert_eq!(rows.len(), 12, "the whole plan is reported");
    let updated = count(&rows, "outcome", "updated");
    assert!((1..12).contains(&updated), "{rows:?}");
    assert_eq!(count(&rows, "error_code", "not_sent"), 12 - updated);
    let applied = &emulator.stats()["applied"];
    assert_eq!(applied.as_object().map_or(0, |m| m.len()), updated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_responses_are_applied_exactly_once() {
    let work = Workdir::new();
    let faults = Faults {
        drop_rate: 0.3,
        fault_seed: 11,
        ..Faults::default()
    };
    let emulator = seeded(&work, 20, faults).await;
    appends(&work, 20);
    let base = emulator.base_url();
    let extra = [
        "--if-match",
        "fetch",
        "--rate",
        "unlimited",
        "--max-attempts",
        "10",
    ];
    let out = work.refsync(&args(&base, &extra));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(count(&rows, "outcome", "updated"), 20, "{rows:?}");
    let stats = emulator.stats();
    assert!(answered(&stats, "PATCH dropped") > 0, "{stats}");
    for n in 0..20 {
        assert_eq!(
            stats["applied"][id(n)],
            1,
            "{} applied once: {stats}",
            id(n)
        );
        let team = &emulator.referrals()[&id(n)]["team"];
        assert_eq!(team.as_array().map(Vec::len), Some(2), "no member twice");
    }
    // The emulator replays a lost PATCH by its MS-RequestId before it looks at If-Match,
    // so here the retries are answered by replay; `verified` is the path of a server
    // without replay (unit tests) and of a resumed run.
    let resolved =
        stats["replays"].as_u64().unwrap_or(0) as usize + count(&rows, "note", "verified");
    assert!(
        resolved as u64 >= answered(&stats, "PATCH dropped"),
        "{stats}"
    );
}

/// An `add` at an array index inserts there, moving the rest along: sent again after a
/// lost response it would insert a second time, so it is guarded like an append.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insert_at_an_index_is_applied_once_when_responses_are_lost() {
    let work = Workdir::new();
    let faults = Faults {
        drop_rate: 0.5,
        fault_seed: 1,
        no_replay: true,
        ..Faults::default()
    };
    let emulator = seeded(&work, 12, faults).await;
    let mut csv = String::from("id,op,path,value\n");
    for n in 0..12 {
        csv += &format!(
            "{},add,/team/0,\"{{\"\"email\"\":\"\"first{n}@x.com\"\"}}\"\n",
            id(n)
        );
    }
    work.write("u.csv", &csv);
    let base = emulator.base_url();
    let out = work.refsync(&args(
        &base,
        &["--rate", "unlimited", "--max-attempts", "10"],
    ));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let stats = emulator.stats();
    assert!(answered(&stats, "PATCH dropped") > 0, "{stats}");
    for n in 0..12 {
        let team = &emulator.referrals()[&id(n)]["team"];
        assert_eq!(
            team.as_array().map(Vec::len),
            Some(2),
            "no insert twice: {team}"
        );
        assert_eq!(team[0]["email"], format!("first{n}@x.com"), "{team}");
    }
}

async fn with_conflicts(
    policy: &str,
) -> (Emulator, Vec<std::collections::HashMap<String, String>>) {
    let work = Workdir::new();
    let faults = Faults {
        conflict_rate: 0.25,
        fault_seed: 5,
        ..Faults::default()
    };
    let emulator = seeded(&work, 12, faults).await;
    appends(&work, 12);
    let base = emulator.base_url();
    let extra = [
        "--if-match",
        "fetch",
        "--on-conflict",
        policy,
        "--concurrency",
        "1",
        "--rate",
        "unlimited",
    ];
    let out = work.refsync(&args(&base, &extra));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    (emulator, read_csv_report(&work.path().join("report.csv")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_are_refetched_and_every_document_updated() {
    let (emulator, rows) = with_conflicts("refetch").await;
    assert_eq!(count(&rows, "outcome", "updated"), 12, "{rows:?}");
    assert!(count(&rows, "note", "refetched") >= 1, "{rows:?}");
    let refetched = rows.iter().find(|r| r["note"] == "refetched").expect("one");
    assert!(refetched["attempts"].parse::<u32>().expect("n") >= 2);
    assert!(answered(&emulator.stats(), "PATCH 412") >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_are_overwritten_under_overwrite() {
    let (_emulator, rows) = with_conflicts("overwrite").await;
    assert_eq!(count(&rows, "outcome", "updated"), 12, "{rows:?}");
    let overwritten = rows
        .iter()
        .find(|r| r["note"] == "overwritten")
        .expect("one");
    assert_eq!(
        overwritten["if_match_sent"], "",
        "the retry went without If-Match"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nightly_file_sent_twice_appends_no_member_the_second_time() {
    let work = Workdir::new();
    let emulator = seeded(&work, 4, Faults::default()).await;
    appends(&work, 4);
    let base = emulator.base_url();
    let out = work.refsync(&args(&base, &["--rate", "unlimited"]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let patches = answered(&emulator.stats(), "PATCH 204");
    assert_eq!(patches, 4);
    let again = work.refsync(&args(&base, &["--rate", "unlimited"]));
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    assert_eq!(
        answered(&emulator.stats(), "PATCH 204"),
        patches,
        "nothing sent again"
    );
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(row_of(&rows, &id(0))["outcome"], "unchanged");
    for n in 0..4 {
        let team = &emulator.referrals()[&id(n)]["team"];
        assert_eq!(team.as_array().map(Vec::len), Some(2));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_reports_documents_still_waiting_at_the_rate_limiter_not_sent() {
    // At 1/s with 8 documents allowed at once, most wait for a permit when the 1.5 s
    // deadline passes: none of those sent a PATCH, so each is `not_sent`, attempts 0; a
    // `deadline` row is one whose PATCH had left, and says so.
    let extra = [
        "--concurrency",
        "8",
        "--rate",
        "1/s",
        "--deadline",
        "1500ms",
    ];
    let rows = past_a_deadline(800, &extra).await;
    for row in &rows {
        match row["error_code"].as_str() {
            "deadline" => {
                assert_ne!(row["attempts"], "0", "{row:?}");
                assert!(
                    row["error_message"].contains("its PATCH had left"),
                    "{row:?}"
                );
            }
            "not_sent" => assert_eq!(row["attempts"], "0", "{row:?}"),
            "" => assert_eq!(row["outcome"], "updated", "{row:?}"),
            other => panic!("unexpected {other}: {row:?}"),
        }
    }
    assert!(count(&rows, "error_code", "not_sent") >= 4, "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_the_input_is_read_exits_143_with_a_report_and_a_summary() {
    use std::io::{BufRead, BufReader, Write};
    let work = Workdir::new();
    let emulator = seeded(&work, 3, Faults::default()).await;
    work.write("summary.json", "{\"exit_code\": 0}\n");
    let base = emulator.base_url();
    let mut child = Command::new(env!("CARGO_BIN_EXE_refsync"))
        .args(["sync", "-", "--endpoint", &base, "--report", "report.csv"])
        .args(["--summary-json", "summary.json", "-vv"])
        .current_dir(work.path())
        .env("PARTNER_CENTER_TOKEN", "test-token")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start refsync");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "id,op,path,value\n{},replace,/name,x", id(0)).expect("write a row");
    // Once the signals are watched, the run reads stdin until it closes: still planning.
    let mut stderr_lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let watching = stderr_lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.contains("watching for SIGINT and SIGTERM"));
    assert!(watching, "the run says when it watches for signals");
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(killed.expect("run kill").success());
    writeln!(stdin, "{},replace,/name,y", id(1)).expect("write another row");
    drop(stdin);
    let rest: Vec<String> = stderr_lines.map_while(Result::ok).collect();
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(143), "{}", rest.join("\n"));
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(
        rows.len(),
        2,
        "every document is reported: {rows:?} {}",
        rest.join("\n")
    );
    assert_eq!(count(&rows, "error_code", "not_sent"), 2, "{rows:?}");
    let summary: Value = serde_json::from_str(&work.read("summary.json")).expect("JSON");
    assert_eq!(summary["exit_code"], 143);
    assert_eq!(
        support_requests(&emulator),
        0,
        "nothing sent after the signal"
    );
}

fn support_requests(emulator: &Emulator) -> u64 {
    crate::support::requests_served(emulator)
}
