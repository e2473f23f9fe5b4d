//! `refsync sync` end to end against the in-process emulator: outcomes, exit codes, the
//! report's columns and lines, the headers sent, retries and the resulting state.

use crate::fixtures::{self, id};
use crate::support::{Workdir, code, read_csv_report, row_of, seeded, stderr};
use refsync::emulator::Faults;
use serde_json::{Value, json};
use std::collections::HashSet;

fn sync_args<'a>(endpoint: &'a str, input: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "sync",
        input,
        "--endpoint",
        endpoint,
        "--rate",
        "unlimited",
        "--report",
        "report.csv",
    ];
    args.extend_from_slice(extra);
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_valid_document_is_updated_and_the_exit_code_is_zero() {
    let work = Workdir::new();
    let emulator = seeded(&work, 4, Faults::default()).await;
    let csv = format!(
        "id,op,path,value\n{a},replace,/details/dealValue,2500\n{b},replace,/details/notes,hello\n{a},replace,/details/currency,EUR\n",
        a = id(0),
        b = id(1)
    );
    work.write("u.csv", &csv);
    let base = emulator.base_url();
    let out = work.refsync(&sync_args(&base, "u.csv", &[]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(rows.len(), 2);
    let a = row_of(&rows, &id(0));
    assert_eq!(a["outcome"], "updated");
    assert_eq!(a["source_lines"], "2;4");
    assert_eq!(a["ops"], "2");
    assert_eq!(a["attempts"], "1");
    assert_eq!(a["http_status"], "204");
    assert!(!a["etag_after"].is_empty());
    let state = emulator.referrals();
    assert_eq!(state[&id(0)]["details"]["dealValue"], json!(2500));
    assert_eq!(state[&id(0)]["details"]["currency"], json!("EUR"));
    assert_eq!(a["etag_after"], state[&id(0)]["eTag"].as_str().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_has_the_contract_columns_in_order() {
    let work = Workdir::new();
    let emulator = seeded(&work, 2, Faults::default()).await;
    work.write(
        "u.csv",
        &format!("id,op,path,value\n{},replace,/name,X\n", id(0)),
    );
    let out = work.refsync(&sync_args(&emulator.base_url(), "u.csv", &[]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let header = work.read("report.csv").lines().next().unwrap().to_string();
    assert_eq!(
        header,
        "id,outcome,http_status,attempts,if_match_sent,etag_after,ops,source_lines,error_code,error_message,note,request_id,duration_ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_if_match_is_a_conflict_and_exits_three() {
    let work = Workdir::new();
    let emulator = seeded(&work, 2, Faults::default()).await;
    let csv = format!(
        "id,op,path,value,if_match\n{},replace,/name,New name,\"\"\"stale\"\"\"\n{},replace,/name,Fine,\n",
        id(0),
        id(1)
    );
    work.write("u.csv", &csv);
    let out = work.refsync(&sync_args(&emulator.base_url(), "u.csv", &[]));
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    let conflict = row_of(&rows, &id(0));
    assert_eq!(conflict["outcome"], "conflict");
    assert_eq!(conflict["http_status"], "412");
    assert_eq!(conflict["if_match_sent"], "\"stale\"");
    assert_eq!(row_of(&rows, &id(1))["outcome"], "updated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transition_the_server_refuses_is_failed_with_its_code_and_exits_four() {
    let work = Workdir::new();
    let emulator = seeded(&work, 3, Faults::default()).await;
    // Referral 2 is Closed/Won: it cannot move back to Active.
    let csv = format!(
        "id,op,path,value\n{c},replace,/status,Active\n{c},replace,/substatus,Engaged\n",
        c = id(2)
    );
    work.write("u.csv", &csv);
    let out = work.refsync(&sync_args(&emulator.base_url(), "u.csv", &[]));
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    let failed = row_of(&rows, &id(2));
    assert_eq!(failed["outcome"], "failed");
    assert_eq!(failed["http_status"], "400");
    assert!(!failed["error_code"].is_empty());
    assert!(!failed["error_message"].is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_referral_is_failed_with_404() {
    let work = Workdir::new();
    let emulator = seeded(&work, 1, Faults::default()).await;
    work.write(
        "u.csv",
        "id,op,path,value\nno-such-referral,replace,/name,X\n",
    );
    let out = work.refsync(&sync_args(&emulator.base_url(), "u.csv", &[]));
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(row_of(&rows, "no-such-referral")["http_status"], "404");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_receives_the_contract_headers() {
    let work = Workdir::new();
    let emulator = seeded(&work, 2, Faults::default()).await;
    let csv = format!(
        "id,op,path,value,if_match\n{},replace,/name,A,\"seed-0\"\n{},add,/team/-,\"{{\"\"email\"\":\"\"n@x.com\"\"}}\",\n",
        id(0),
        id(1)
    );
    work.write("u.csv", &csv);
    let out = work.refsync(&sync_args(
        &emulator.base_url(),
        "u.csv",
        &["--return-representation"],
    ));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let headers = emulator.stats()["headers"].as_array().unwrap().clone();
    let patches: Vec<&Value> = headers.iter().filter(|h| h["method"] == "PATCH").collect();
    assert_eq!(patches.len(), 2);
    let correlation: HashSet<&str> = headers
        .iter()
        .map(|h| h["correlation_id"].as_str().unwrap())
        .collect();
    assert_eq!(correlation.len(), 1, "one MS-CorrelationId per run");
    for patch in &patches {
        assert_eq!(patch["authorization"], json!(true));
        assert_eq!(patch["prefer"], json!("return=representation"));
        assert!(patch["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    }
    let first = patches.iter().find(|h| h["id"] == id(0)).unwrap();
    assert_eq!(first["if_match"], json!("\"seed-0\""));
    // The append has no ETag in the input: auto fetches one (a GET) and sends it.
    let append = patches.iter().find(|h| h["id"] == id(1)).unwrap();
    assert_eq!(append["if_match"], json!("\"seed-1\""));
    assert!(
        headers
            .iter()
            .any(|h| h["method"] == "GET" && h["id"] == id(1))
    );
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(row_of(&rows, &id(0))["http_status"], "200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_of_one_document_keep_its_request_id() {
    let work = Workdir::new();
    let faults = Faults {
        fail_rate: 0.5,
        fault_seed: 7,
        ..Faults::default()
    };
    let emulator = seeded(&work, 8, faults).await;
    let csv: String = std::iter::once("id,op,path,value\n".to_string())
        .chain((0..8).map(|n| format!("{},replace,/details/notes,note {n}\n", id(n))))
        .collect();
    work.write("u.csv", &csv);
    let out = work.refsync(&sync_args(
        &emulator.base_url(),
        "u.csv",
        &["--max-attempts", "20"],
    ));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let stats = emulator.stats();
    let headers = stats["headers"].as_array().unwrap();
    let rows = read_csv_report(&work.path().join("report.csv"));
    let mut retried = 0;
    for n in 0..8 {
        let ids: HashSet<&str> = headers
            .iter()
            .filter(|h| h["method"] == "PATCH" && h["id"] == id(n))
            .map(|h| h["request_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 1, "one MS-RequestId for {}", id(n));
        let row = row_of(&rows, &id(n));
        assert_eq!(row["request_id"], *ids.iter().next().unwrap());
        retried += usize::from(row["attempts"] != "1");
    }
    assert!(
        retried > 0,
        "the fault seed must have failed some first tries"
    );
    assert!(
        stats["applied"]
            .as_object()
            .unwrap()
            .values()
            .all(|n| n == 1)
    );
}

async fn throttled_run(no_retry_after: bool) {
    let work = Workdir::new();
    let faults = Faults {
        throttle: Some(5),
        no_retry_after,
        ..Faults::default()
    };
    let emulator = seeded(&work, 12, faults).await;
    let csv: String = std::iter::once("id,op,path,value\n".to_string())
        .chain((0..12).map(|n| format!("{},replace,/details/notes,n{n}\n", id(n))))
        .collect();
    work.write("u.csv", &csv);
    let out = work.refsync(&sync_args(
        &emulator.base_url(),
        "u.csv",
        &["--max-attempts", "10", "--summary-json", "summary.json"],
    ));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let stats = emulator.stats();
    let throttled = stats["requests"]["PATCH 429"].as_u64().unwrap_or(0);
    assert!(
        throttled > 0,
        "an unlimited client must meet the 5/s throttle"
    );
    let summary: Value = serde_json::from_str(&work.read("summary.json")).unwrap();
    assert_eq!(summary["throttled"].as_u64().unwrap(), throttled);
    assert_eq!(summary["outcomes"]["updated"], json!(12));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_with_retry_after_is_honoured_until_every_document_is_updated() {
    throttled_run(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_without_retry_after_is_backed_off_until_every_document_is_updated() {
    throttled_run(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_out_fed_back_to_sync_gives_the_same_result() {
    let work = Workdir::new();
    let csv = format!(
        "id,op,path,value\n{a},replace,/details/dealValue,10.5\n{a},add,/team/-,\"{{\"\"email\"\":\"\"z@x.com\"\"}}\"\n{b},replace,/details/closingDateTime,2027-01-31\n",
        a = id(0),
        b = id(1)
    );
    work.write("u.csv", &csv);
    let planned = work.refsync(&[
        "plan",
        "u.csv",
        "--out",
        "planned.jsonl",
        "--report",
        "plan.csv",
    ]);
    assert_eq!(code(&planned), 0, "{}", stderr(&planned));

    let direct = seeded(&work, 2, Faults::default()).await;
    let out = work.refsync(&sync_args(&direct.base_url(), "u.csv", &[]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let replayed = seeded(&work, 2, Faults::default()).await;
    let base = replayed.base_url();
    let mut args = sync_args(&base, "planned.jsonl", &[]);
    args[7] = "report2.csv";
    let out = work.refsync(&args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let strip = |state: serde_json::Map<String, Value>| -> Vec<Value> {
        state.values().map(fixtures::without_write_stamps).collect()
    };
    assert_eq!(strip(direct.referrals()), strip(replayed.referrals()));
    let outcomes = |name: &str| -> Vec<(String, String)> {
        read_csv_report(&work.path().join(name))
            .into_iter()
            .map(|r| (r["id"].clone(), r["outcome"].clone()))
            .collect()
    };
    assert_eq!(outcomes("report.csv"), outcomes("report2.csv"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn final_state_equals_the_patches_applied_independently() {
    let work = Workdir::new();
    let seed = fixtures::referrals(6);
    let emulator = seeded(&work, 6, Faults::default()).await;
    let updates: Vec<(usize, &str, &str, Value)> = vec![
        (0, "replace", "/details/dealValue", json!(12345.5)),
        (
            0,
            "add",
            "/team/-",
            json!({"email": "a@contoso.com", "lastName": "A"}),
        ),
        (1, "replace", "/details/notes", json!("called back")),
        (2, "replace", "/status", json!("Active")),
        (2, "replace", "/substatus", json!("Accepted")),
        (3, "replace", "/name", json!("Renamed ~/ deal")),
        (
            4,
            "add",
            "/details/requirements",
            json!({"products": [{"id": "p1"}]}),
        ),
        (1, "add", "/team/-", json!({"email": "b@contoso.com"})),
    ];
    let jsonl: String = updates
        .iter()
        .map(|(n, op, path, value)| {
            format!(
                "{}\n",
                json!({"id": id(*n), "op": op, "path": path, "value": value})
            )
        })
        .collect();
    work.write("u.jsonl", &jsonl);
    let out = work.refsync(&sync_args(&emulator.base_url(), "u.jsonl", &[]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let mut expected = seed.clone();
    for (n, op, path, value) in &updates {
        fixtures::apply(&mut expected[*n], op, path, value.clone());
    }
    let state = emulator.referrals();
    for referral in &expected {
        let id = referral["id"].as_str().unwrap();
        assert_eq!(
            fixtures::without_write_stamps(&state[id]),
            fixtures::without_write_stamps(referral),
            "state of {id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_path_that_cannot_be_written_stops_the_run_before_any_request() {
    let work = Workdir::new();
    let emulator = seeded(&work, 1, Faults::default()).await;
    work.write(
        "u.csv",
        &format!("id,op,path,value\n{},replace,/name,x\n", id(0)),
    );
    let base = emulator.base_url();
    for flag in ["--rejects", "--summary-json", "--report", "--undo"] {
        let missing = work.path().join("no-such-folder").join("out.csv");
        let missing = missing.to_string_lossy();
        let mut args = vec!["sync", "u.csv", "--endpoint", &base, flag, &missing];
        args.extend(["--ledger", "ledger.db"]);
        if flag != "--report" {
            args.extend(["--report", "report.csv"]);
        }
        let out = work.refsync(&args);
        assert_eq!(code(&out), 1, "{flag}: {}", stderr(&out));
        assert!(stderr(&out).contains("no-such-folder"), "{}", stderr(&out));
        assert_eq!(emulator.stats()["requests"], json!({}), "{flag}");
        assert!(!work.path().join("ledger.db").exists(), "{flag}");
    }
    let out = work.refsync(&sync_args(&base, "u.csv", &["--rejects", "rejects.csv"]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(work.path().join("rejects.csv").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_that_is_an_input_or_another_output_stops_the_run_before_any_request() {
    let work = Workdir::new();
    let emulator = seeded(&work, 1, Faults::default()).await;
    let rows = format!("id,op,path,value\n{},replace,/name,x\n", id(0));
    work.write("u.csv", &rows);
    let base = emulator.base_url();
    let cases: [&[&str]; 4] = [
        &["--rejects", "u.csv"],
        &["--rejects", "./r.csv"],
        &["--undo", "r.csv"],
        &["--summary-json", "l.db", "--ledger", "l.db"],
    ];
    for extra in cases {
        let mut args = vec!["sync", "u.csv", "--endpoint", &base, "--report", "r.csv"];
        args.extend(extra);
        let out = work.refsync(&args);
        assert_eq!(code(&out), 2, "{extra:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("destroy the input") || stderr(&out).contains("both name"),
            "{extra:?}: {}",
            stderr(&out)
        );
        assert_eq!(emulator.stats()["requests"], json!({}), "{extra:?}");
        assert_eq!(work.read("u.csv"), rows, "{extra:?}");
    }
}

#[test]
fn plan_refuses_to_write_its_documents_or_report_over_its_input() {
    let work = Workdir::new();
    let rows = "{\"id\":\"a\",\"op\":\"replace\",\"path\":\"/name\",\"value\":\"x\"}\n";
    work.write("u.jsonl", rows);
    let cases: [&[&str]; 2] = [
        &["--out", "u.jsonl", "--report", "r.csv"],
        &["--report", "u.jsonl"],
    ];
    for extra in cases {
        let mut args = vec!["plan", "u.jsonl"];
        args.extend(extra);
        let out = work.refsync(&args);
        assert_eq!(code(&out), 2, "{extra:?}: {}", stderr(&out));
        assert_eq!(work.read("u.jsonl"), rows, "{extra:?}");
    }
}

#[test]
fn each_rejects_file_is_named_for_the_format_it_holds() {
    let work = Workdir::new();
    work.write(
        "bad.jsonl",
        "{\"id\":\"a\",\"op\":\"remove\",\"path\":\"/name\"}\n",
    );
    work.write("bad.csv", "id,op,path,value\nb,replace,/nope,x\n");
    let out = work.refsync(&[
        "plan",
        "bad.jsonl",
        "--rejects",
        "fix.csv",
        "--report",
        "r.csv",
    ]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(!work.path().join("fix.csv").exists());
    assert!(work.read("fix.jsonl").contains("\"op\":\"remove\""));
    assert!(
        work.read("r.csv").contains("invalid_op"),
        "{}",
        work.read("r.csv")
    );

    let both = ["plan", "bad.jsonl", "bad.csv", "--report", "r2.csv"];
    let out = work.refsync(&[&both[..], &["--rejects", "all.csv"]].concat());
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        work.read("all.csv")
            .starts_with("id,op,path,value,outcome,error_message")
    );
    assert!(work.read("all.jsonl").contains("\"op\":\"remove\""));
    let out = work.refsync(&[&both[..], &["--rejects", "/dev/stdout"]].concat());
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_earlier_runs_rejects_in_the_other_format_go_when_this_run_has_none_of_it() {
    let work = Workdir::new();
    work.write(
        "bad.jsonl",
        "{\"id\":\"a\",\"op\":\"remove\",\"path\":\"/name\"}\n",
    );
    work.write("good.csv", "id,op,path,value\nb,replace,/name,x\n");
    let plan = |input: &str| {
        let out = work.refsync(&["plan", input, "--rejects", "fix.csv", "--report", "r.csv"]);
        assert!([0, 4].contains(&code(&out)), "{}", stderr(&out));
    };
    plan("bad.jsonl");
    assert!(work.read("fix.jsonl").contains("\"op\":\"remove\""));
    // The export turned CSV overnight: yesterday's JSONL rejects must not read as today's.
    plan("good.csv");
    assert!(!work.path().join("fix.jsonl").exists());
    // A file of that name that is no rejects file is the user's, and stays.
    work.write("fix.jsonl", "{\"id\":\"c\"}\n");
    plan("good.csv");
    assert_eq!(work.read("fix.jsonl"), "{\"id\":\"c\"}\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summarys_peak_in_flight_counts_requests_on_the_wire_not_documents_waiting() {
    // At 2/s, permits are 500 ms apart and every answer comes back long before the next:
    // the emulator never sees two requests at once, though 8 documents may wait for turns.
    let work = Workdir::new();
    let emulator = seeded(&work, 4, Faults::default()).await;
    let mut csv = String::from("id,op,path,value\n");
    for n in 0..4 {
        csv += &format!("{},replace,/details/notes,peak {n}\n", id(n));
    }
    work.write("u.csv", &csv);
    let base = emulator.base_url();
    let args = [
        "sync",
        "u.csv",
        "--endpoint",
        &base,
        "--rate",
        "2/s",
        "--concurrency",
        "8",
        "--report",
        "report.csv",
        "--summary-json",
        "summary.json",
    ];
    let out = work.refsync(&args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let seen = emulator.stats()["max_in_flight"].as_u64().unwrap_or(0);
    let summary: Value = serde_json::from_str(&work.read("summary.json")).expect("summary");
    assert_eq!(summary["peak_in_flight"].as_u64(), Some(seen), "{summary}");
    assert_eq!(seen, 1, "{}", emulator.stats());
}

#[test]
fn a_refused_output_path_is_never_written_the_summary_included() {
    let work = Workdir::new();
    let rows = "id,op,path,value\na,replace,/name,x\n";
    work.write("u.csv", rows);
    work.write("ids.txt", "a\n");
    let cases: [&[&str]; 4] = [
        &["--report", "r.csv", "--summary-json", "u.csv"],
        &["--report", "r.csv", "--ids", "ids.txt", "--out", "ids.txt"],
        &["--report", "r.csv", "--summary-json", "-"],
        &[
            "--report",
            "new.csv",
            "--rejects",
            "sub/../new.csv",
            "--out",
            "o.jsonl",
        ],
    ];
    std::fs::create_dir(work.path().join("sub")).unwrap();
    for extra in cases {
        let out = work.refsync(&[&["plan", "u.csv"][..], extra].concat());
        assert_eq!(code(&out), 2, "{extra:?}: {}", stderr(&out));
        assert_eq!(work.read("u.csv"), rows, "{extra:?}");
        assert_eq!(work.read("ids.txt"), "a\n", "{extra:?}");
    }
}

#[test]
fn stdin_jsonl_after_blank_lines_and_a_remove_op_are_read_as_jsonl() {
    let work = Workdir::new();
    let line = r#"{"id":"a","op":"remove","path":"/name"}"#;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_refsync"))
        .args(["plan", "-", "--report", "r.csv", "--out", "/dev/null"])
        .current_dir(work.path())
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, format!("\n\n\n\n    {line}\n").as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("r.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["error_code"], "invalid_op");
    assert!(!rows[0]["error_message"].contains("null"), "{:?}", rows[0]);
}

#[test]
fn plan_of_stdin_leaves_no_spool_file_behind() {
    let work = Workdir::new();
    let tmp = work.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_refsync"))
        .args(["plan", "-", "--report", "r.csv", "--out", "/dev/null"])
        .current_dir(work.path())
        .env("TMPDIR", &tmp)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"id,op,path,value\na,replace,/name,x\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_transcoded_input_is_still_an_input_no_output_may_overwrite() {
    let work = Workdir::new();
    let rows = b"id,op,path,value\na,replace,/name,Caf\xe9\n";
    std::fs::write(work.path().join("legacy.csv"), rows).unwrap();
    let args = ["plan", "legacy.csv", "--encoding", "windows-1252"];
    let out =
        work.refsync(&[&args[..], &["--report", "r.csv", "--rejects", "legacy.csv"]].concat());
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(std::fs::read(work.path().join("legacy.csv")).unwrap(), rows);
}
