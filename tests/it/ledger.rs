//! `refsync runs` and `refsync runs show` against a ledger filled through the library API,
//! as `sync --ledger` will fill it.

use crate::support::{Workdir, code};
use refsync::ledger::{DocumentKey, Ledger, RunEnd, RunMeta, Sending};
use refsync::outcome::Outcome;
use serde_json::json;
use std::path::Path;
use uuid::Uuid;

/// Two runs: the first finished (exit 4) with one updated, one failed and one conflict;
/// the second killed with one document in flight.
fn fill(path: &Path) -> (Ledger, Uuid) {
    let ledger = Ledger::open(path).expect("open ledger");
    let meta = RunMeta {
        inputs: vec!["updates.csv".into()],
        options: "on_duplicate=error".into(),
        correlation_id: Some(Uuid::new_v4()),
        endpoint: None,
        planned: 3,
    };
    let first = ledger.start_run("key-a", &meta).expect("start");
    let outcomes = [
        ("r-updated", Outcome::Updated, json!({"id": "r-updated"})),
        (
            "r-failed",
            Outcome::Failed,
            json!({"id": "r-failed", "error_code": "http_400", "error_message": "Closed is final"}),
        ),
        (
            "r-conflict",
            Outcome::Conflict,
            json!({"id": "r-conflict", "error_code": "http_412"}),
        ),
    ];
    for (entry, (id, outcome, row)) in outcomes.into_iter().enumerate() {
        let key = DocumentKey {
            entry,
            referral_id: Some(id),
            doc_hash: Some("h"),
        };
        ledger
            .record_outcome(first, key, outcome, &row)
            .expect("outcome");
    }
    let end = RunEnd {
        exit_code: 4,
        summary: json!({"updated": 1}),
    };
    ledger.finish_run(first, &end).expect("finish");
    let second = ledger.start_run("key-b", &meta).expect("start");
    let request_id = Uuid::new_v4();
    let key = DocumentKey {
        entry: 0,
        referral_id: Some("r-in-flight"),
        doc_hash: Some("h"),
    };
    ledger
        .record_sending(
            second,
            key,
            &Sending {
                request_id,
                if_match: None,
                undo_before: None,
                sent_before: 0,
            },
        )
        .expect("sending");
    (ledger, request_id)
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn runs_lists_every_run_with_its_counts_while_a_run_holds_the_ledger() {
    let work = Workdir::new();
    let (_held, _) = fill(&work.path().join("ledger.db"));
    let output = work.refsync(&["runs", "--ledger", "ledger.db"]);
    let text = stdout(&output);
    assert_eq!(code(&output), 0, "{output:?}");
    assert!(text.contains("finished"), "{text}");
    assert!(text.contains("updated 1, conflict 1, failed 1"), "{text}");
    assert!(
        text.contains("unfinished") && text.contains("in flight 1"),
        "{text}"
    );
    assert!(text.contains("updates.csv"), "{text}");
}

#[test]
fn runs_show_lists_the_documents_not_updated_and_the_request_id_in_flight() {
    let work = Workdir::new();
    let (held, request_id) = fill(&work.path().join("ledger.db"));
    drop(held);
    let first = stdout(&work.refsync(&["runs", "show", "1", "--ledger", "ledger.db"]));
    assert!(first.contains("run 1: finished, exit 4"), "{first}");
    assert!(
        first.contains("r-failed") && first.contains("Closed is final"),
        "{first}"
    );
    assert!(
        first.contains("r-conflict") && !first.contains("r-updated"),
        "{first}"
    );
    let second = stdout(&work.refsync(&["runs", "show", "2", "--ledger", "ledger.db"]));
    assert!(second.contains(&request_id.to_string()), "{second}");
}

#[test]
fn runs_json_is_machine_readable() {
    let work = Workdir::new();
    drop(fill(&work.path().join("ledger.db")));
    let output = work.refsync(&["runs", "--ledger", "ledger.db", "--json"]);
    let runs: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        runs[0]["counts"],
        json!({"conflict": 1, "failed": 1, "updated": 1})
    );
    assert_eq!(runs[1]["status"], "unfinished");
    let output = work.refsync(&["runs", "show", "1", "--json", "--ledger", "ledger.db"]);
    let detail: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(detail["not_updated"].as_array().map(Vec::len), Some(2));
}

#[test]
fn runs_show_of_an_unknown_run_exits_one_and_says_how_to_list_them() {
    let work = Workdir::new();
    drop(fill(&work.path().join("ledger.db")));
    let output = work.refsync(&["runs", "show", "99", "--ledger", "ledger.db"]);
    assert_eq!(code(&output), 1);
    assert!(String::from_utf8_lossy(&output.stderr).contains("refsync runs"));
}

#[test]
fn runs_on_a_missing_or_foreign_file_exits_one_and_creates_nothing() {
    let work = Workdir::new();
    let output = work.refsync(&["runs", "--ledger", "missing.db"]);
    assert_eq!(code(&output), 1);
    assert!(String::from_utf8_lossy(&output.stderr).contains("no ledger at"));
    assert!(!work.path().join("missing.db").exists());
    work.write("updates.csv", "id,op,path,value\n");
    let output = work.refsync(&["runs", "--ledger", "updates.csv"]);
    assert_eq!(code(&output), 1);
    assert_eq!(work.read("updates.csv"), "id,op,path,value\n");
}

#[test]
fn runs_without_a_ledger_is_a_usage_error() {
    let output = Workdir::new().refsync(&["runs"]);
    assert_eq!(code(&output), 2);
    assert!(String::from_utf8_lossy(&output.stderr).contains("--ledger FILE"));
}

#[test]
fn runs_of_a_stopped_run_show_the_documents_not_finished() {
    let work = Workdir::new();
    let ledger = Ledger::open(&work.path().join("ledger.db")).expect("open ledger");
    let meta = RunMeta {
        inputs: vec!["updates.csv".into()],
        planned: 20,
        ..RunMeta::default()
    };
    let run = ledger.start_run("key", &meta).expect("start");
    let key = DocumentKey {
        entry: 0,
        referral_id: Some("r-updated"),
        doc_hash: Some("h"),
    };
    ledger
        .record_outcome(run, key, Outcome::Updated, &json!({"id": "r-updated"}))
        .expect("outcome");
    ledger.stop_run(run, 143).expect("stop");
    drop(ledger);
    let list = stdout(&work.refsync(&["runs", "--ledger", "ledger.db"]));
    assert!(list.contains("updated 1, not finished 19"), "{list}");
    let shown = stdout(&work.refsync(&["runs", "show", "1", "--ledger", "ledger.db"]));
    assert!(shown.contains("19 document(s) not finished"), "{shown}");
    assert!(!shown.contains("every document was updated"), "{shown}");
    let json = work.refsync(&["runs", "--ledger", "ledger.db", "--json"]);
    let runs: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(runs[0]["not_finished"], 19);
}

#[test]
fn a_dry_run_with_a_ledger_says_it_records_nothing_there() {
    let work = Workdir::new();
    work.write("u.csv", "id,op,path,value\nabc,replace,/name,x\n");
    let output = work.refsync(&[
        "sync",
        "u.csv",
        "--emulator",
        "--dry-run",
        "--ledger",
        "l.db",
        "--report",
        "r.csv",
    ]);
    let text = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(![1, 2].contains(&code(&output)), "{text}");
    assert!(text.contains("records nothing in the ledger"), "{text}");
    assert!(!work.path().join("l.db").exists());
}
