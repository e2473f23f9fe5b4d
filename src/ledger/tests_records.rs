//! Tests of what a run records: documents in flight and final, run life, history, speed.

use super::*;
use crate::outcome::Outcome;
use serde_json::json;
use std::time::Instant;
use tempfile::TempDir;
use uuid::Uuid;

fn ledger() -> (TempDir, PathBuf, Ledger) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ledger.db");
    let ledger = Ledger::open(&path).expect("open");
    (dir, path, ledger)
}

fn doc<'a>(entry: usize, id: &'a str, hash: &'a str) -> DocumentKey<'a> {
    DocumentKey {
        entry,
        referral_id: Some(id),
        doc_hash: Some(hash),
    }
}

fn meta(inputs: &[&str]) -> RunMeta {
    RunMeta {
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        options: "on_duplicate=error".into(),
        correlation_id: Some(Uuid::new_v4()),
        endpoint: Some(ENDPOINT.into()),
        planned: 3,
    }
}

/// The endpoint the runs of [`meta`] send to.
const ENDPOINT: &str = "https://api.partner.microsoft.com/v1.0";

#[test]
fn a_document_recorded_as_sending_is_in_flight_after_a_reopen() {
    let (_dir, path, ledger) = ledger();
    let run = ledger.start_run("k", &meta(&["a.csv"])).expect("start");
    let request_id = Uuid::new_v4();
    ledger
        .record_sending(
            run,
            doc(0, "r1", "h1"),
            &Sending {
                request_id,
                if_match: Some("\"e1\""),
                undo_before: None,
                sent_before: 2,
            },
        )
        .expect("sending");
    drop(ledger);
    let states = Ledger::open(&path)
        .expect("reopen")
        .documents(run)
        .expect("docs");
    let expected = DocumentState::InFlight {
        request_id,
        if_match: Some("\"e1\"".into()),
        // The two sent before it, and itself.
        sent: 3,
    };
    assert_eq!(states.get(&0), Some(&expected));
}

#[test]
fn a_patch_that_never_left_is_taken_back_but_only_with_its_own_request_id() {
    let (_dir, _path, ledger) = ledger();
    let run = ledger.start_run("k", &meta(&[])).expect("start");
    let (sent, unsent) = (Uuid::new_v4(), Uuid::new_v4());
    ledger
        .record_sending(
            run,
            doc(0, "r1", "h1"),
            &Sending {
                request_id: sent,
                if_match: None,
                undo_before: None,
                sent_before: 0,
            },
        )
        .expect("sending");
    ledger
        .record_sending(
            run,
            doc(1, "r2", "h2"),
            &Sending {
                request_id: unsent,
                if_match: None,
                undo_before: None,
                sent_before: 0,
            },
        )
        .expect("sending");
    ledger.record_not_sent(run, 0, unsent).expect("not sent");
    ledger.record_not_sent(run, 1, unsent).expect("not sent");
    let states = ledger.documents(run).expect("docs");
    assert!(matches!(
        states.get(&0),
        Some(DocumentState::InFlight { .. })
    ));
    assert_eq!(states.get(&1), None);
}

#[test]
fn a_recorded_outcome_is_final_with_its_report_row() {
    let (_dir, _path, ledger) = ledger();
    let run = ledger.start_run("k", &meta(&[])).expect("start");
    ledger
        .record_sending(
            run,
            doc(1, "r1", "h1"),
            &Sending {
                request_id: Uuid::new_v4(),
                if_match: None,
                undo_before: None,
                sent_before: 0,
            },
        )
        .expect("sending");
    let row = json!({"id": "r1", "outcome": "updated"});
    ledger
        .record_outcome(run, doc(1, "r1", "h1"), Outcome::Updated, &row)
        .expect("outcome");
    let expected = DocumentState::Final {
        outcome: Outcome::Updated,
        row,
    };
    assert_eq!(ledger.documents(run).expect("docs"), [(1, expected)].into());
}

#[test]
fn a_final_document_cannot_be_sent_or_finished_again() {
    let (_dir, _path, ledger) = ledger();
    let run = ledger.start_run("k", &meta(&[])).expect("start");
    let key = doc(0, "r1", "h1");
    ledger
        .record_outcome(run, key, Outcome::Conflict, &json!({}))
        .expect("outcome");
    let again = ledger.record_sending(
        run,
        key,
        &Sending {
            request_id: Uuid::new_v4(),
            if_match: None,
            undo_before: None,
            sent_before: 0,
        },
    );
    assert!(matches!(
        again,
        Err(LedgerError::AlreadyFinal { entry: 0, .. })
    ));
    let twice = ledger.record_outcome(run, key, Outcome::Updated, &json!({}));
    assert!(matches!(twice, Err(LedgerError::AlreadyFinal { .. })));
}

#[test]
fn a_refetch_replaces_the_request_id_of_a_document_in_flight() {
    let (_dir, _path, ledger) = ledger();
    let run = ledger.start_run("k", &meta(&[])).expect("start");
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    ledger
        .record_sending(
            run,
            doc(0, "r", "h"),
            &Sending {
                request_id: first,
                if_match: Some("\"1\""),
                undo_before: None,
                sent_before: 0,
            },
        )
        .expect("first");
    ledger
        .record_sending(
            run,
            doc(0, "r", "h"),
            &Sending {
                request_id: second,
                if_match: Some("\"2\""),
                undo_before: None,
                sent_before: 0,
            },
        )
        .expect("second");
    let states = ledger.documents(run).expect("docs");
    assert!(
        matches!(&states[&0], DocumentState::InFlight { request_id, .. } if *request_id == second)
    );
}

#[test]
fn the_referral_read_for_undo_is_kept_while_its_document_is_in_flight() {
    let (_dir, _path, ledger) = ledger();
    let run = ledger.start_run("k", &meta(&[])).expect("start");
    let before = json!({"details": {"notes": "old"}});
    let text = before.to_string();
    ledger
        .record_sending(
            run,
            doc(0, "r", "h"),
            &Sending {
                request_id: Uuid::new_v4(),
                if_match: None,
                undo_before: Some(&text),
                sent_before: 0,
            },
        )
        .expect("in flight");
    ledger
        .record_sending(
            run,
            doc(1, "s", "h"),
            &Sending {
                request_id: Uuid::new_v4(),
                if_match: None,
                undo_before: Some(&text),
                sent_before: 0,
            },
        )
        .expect("in flight");
    ledger
        .record_outcome(run, doc(1, "s", "h"), Outcome::Updated, &json!({}))
        .expect("final");
    let befores = ledger.undo_befores(run).expect("befores");
    assert_eq!(befores.len(), 1, "only documents still in flight");
    assert_eq!(befores[&0], before);
}

#[test]
fn unfinished_run_finds_the_newest_unfinished_run_with_that_key_only() {
    let (_dir, _path, ledger) = ledger();
    let old = ledger.start_run("k", &meta(&[])).expect("start");
    let newer = ledger.start_run("k", &meta(&[])).expect("start");
    let other = ledger.start_run("other", &meta(&[])).expect("start");
    let finished = ledger.start_run("k", &meta(&[])).expect("start");
    let end = RunEnd {
        exit_code: 0,
        summary: json!({}),
    };
    ledger.finish_run(finished, &end).expect("finish");
    assert_eq!(ledger.unfinished_run("k").expect("query"), Some(newer));
    ledger.finish_run(newer, &end).expect("finish");
    assert_eq!(ledger.unfinished_run("k").expect("query"), Some(old));
    assert_eq!(ledger.unfinished_run("other").expect("query"), Some(other));
    assert_eq!(ledger.unfinished_run("none").expect("query"), None);
}

#[test]
fn a_stopped_run_stays_resumable_and_a_finished_one_does_not() {
    let (_dir, _path, ledger) = ledger();
    let run = ledger.start_run("k", &meta(&[])).expect("start");
    ledger.stop_run(run, 130).expect("stop");
    assert_eq!(ledger.unfinished_run("k").expect("query"), Some(run));
    assert_eq!(ledger.runs().expect("runs")[0].status, RunStatus::Stopped);
    ledger.resume_run(run).expect("resume");
    let end = RunEnd {
        exit_code: 0,
        summary: json!({}),
    };
    ledger.finish_run(run, &end).expect("finish");
    let summary = &ledger.runs().expect("runs")[0];
    assert_eq!((summary.status, summary.resumes), (RunStatus::Finished, 1));
    assert!(matches!(
        ledger.resume_run(run),
        Err(LedgerError::NotResumable(_))
    ));
    assert!(matches!(
        ledger.finish_run(RunId(99), &end),
        Err(LedgerError::NoSuchRun(99))
    ));
}

#[test]
fn last_applied_is_the_newest_updated_document_of_that_id_in_any_run() {
    let (_dir, _path, ledger) = ledger();
    let first = ledger.start_run("a", &meta(&[])).expect("start");
    let second = ledger.start_run("b", &meta(&[])).expect("start");
    let row = json!({});
    ledger
        .record_outcome(first, doc(0, "r1", "old"), Outcome::Updated, &row)
        .expect("rec");
    ledger
        .record_outcome(second, doc(5, "r1", "new"), Outcome::Updated, &row)
        .expect("rec");
    ledger
        .record_outcome(second, doc(6, "r2", "x"), Outcome::Failed, &row)
        .expect("rec");
    assert_eq!(
        ledger.last_applied("r1", ENDPOINT).expect("q").as_deref(),
        Some("new")
    );
    assert_eq!(ledger.last_applied("r2", ENDPOINT).expect("q"), None);
    assert_eq!(ledger.last_applied("r3", ENDPOINT).expect("q"), None);
}

#[test]
fn last_applied_counts_only_runs_sent_to_that_endpoint_or_to_an_unknown_one() {
    let (_dir, _path, ledger) = ledger();
    let emulator = RunMeta {
        endpoint: Some("emulator".into()),
        ..meta(&[])
    };
    let unknown = RunMeta {
        endpoint: None,
        ..meta(&[])
    };
    let tried = ledger.start_run("a", &emulator).expect("start");
    let old = ledger.start_run("b", &unknown).expect("start");
    assert_eq!(
        ledger.run_endpoint(tried).expect("read").as_deref(),
        Some("emulator")
    );
    assert_eq!(ledger.run_endpoint(old).expect("read"), None);
    let row = json!({});
    ledger
        .record_outcome(tried, doc(0, "r1", "tried"), Outcome::Updated, &row)
        .expect("rec");
    ledger
        .record_outcome(old, doc(0, "r2", "old"), Outcome::Updated, &row)
        .expect("rec");
    assert_eq!(ledger.last_applied("r1", ENDPOINT).expect("q"), None);
    assert_eq!(
        ledger.last_applied("r1", "emulator").expect("q").as_deref(),
        Some("tried")
    );
    assert_eq!(
        ledger.last_applied("r2", ENDPOINT).expect("q").as_deref(),
        Some("old")
    );
}

#[test]
fn run_detail_counts_outcomes_and_lists_documents_not_updated() {
    let (_dir, _path, ledger) = ledger();
    let run = ledger.start_run("k", &meta(&["a.csv"])).expect("start");
    let row = json!({"id": "r2", "error_code": "http_400", "error_message": "refused"});
    ledger
        .record_outcome(run, doc(0, "r1", "h"), Outcome::Updated, &json!({}))
        .expect("rec");
    ledger
        .record_outcome(run, doc(1, "r2", "h"), Outcome::Failed, &row)
        .expect("rec");
    ledger
        .record_sending(
            run,
            doc(2, "r3", "h"),
            &Sending {
                request_id: Uuid::new_v4(),
                if_match: None,
                undo_before: None,
                sent_before: 0,
            },
        )
        .expect("rec");
    let detail = ledger.run_detail(run).expect("detail");
    assert_eq!(
        detail.run.counts,
        [("failed".into(), 1), ("updated".into(), 1)].into()
    );
    assert_eq!(detail.run.in_flight, 1);
    let listed: Vec<_> = detail
        .not_updated
        .iter()
        .map(|d| (d.entry, d.outcome))
        .collect();
    assert_eq!(listed, [(1, Some(Outcome::Failed)), (2, None)]);
    assert_eq!(detail.not_updated[0].cell("error_code"), Some("http_400"));
    assert!(matches!(
        ledger.run_detail(RunId(7)),
        Err(LedgerError::NoSuchRun(7))
    ));
}

#[test]
fn an_id_less_invalid_row_is_recorded_without_id_or_hash() {
    let (_dir, _path, ledger) = ledger();
    let run = ledger.start_run("k", &meta(&[])).expect("start");
    let key = DocumentKey {
        entry: 3,
        referral_id: None,
        doc_hash: None,
    };
    ledger
        .record_outcome(run, key, Outcome::Invalid, &json!({"id": ""}))
        .expect("rec");
    assert_eq!(
        ledger.run_detail(run).expect("detail").not_updated[0].referral_id,
        None
    );
}

#[test]
fn thousands_of_records_from_concurrent_senders_are_all_kept() {
    // A throughput check, not a timed assertion (machines vary): the figure is printed.
    // Eight threads, as `--concurrency 8` sends, each recording sending then outcome.
    let (_dir, _path, ledger) = ledger();
    let run = ledger.start_run("k", &meta(&[])).expect("start");
    let (workers, each) = (8, 250);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for worker in 0..workers {
            let ledger = &ledger;
            scope.spawn(move || record_many(ledger, run, worker * each..(worker + 1) * each));
        }
    });
    let per_second = (workers * each) as f64 / started.elapsed().as_secs_f64();
    eprintln!(
        "ledger: {} documents, 2 records each, 8 threads: {per_second:.0}/s",
        workers * each
    );
    assert_eq!(ledger.documents(run).expect("docs").len(), workers * each);
}

fn record_many(ledger: &Ledger, run: RunId, entries: std::ops::Range<usize>) {
    for entry in entries {
        let key = doc(entry, "r", "h");
        let row = json!({"id": "r"});
        ledger
            .record_sending(
                run,
                key,
                &Sending {
                    request_id: Uuid::new_v4(),
                    if_match: None,
                    undo_before: None,
                    sent_before: 0,
                },
            )
            .expect("sending");
        ledger
            .record_outcome(run, key, Outcome::Updated, &row)
            .expect("outcome");
    }
}

#[test]
fn a_run_keeps_the_correlation_id_it_started_with() {
    let (_dir, _, ledger) = ledger();
    let started = meta(&["a.csv"]);
    let run = ledger.start_run("k", &started).expect("start");
    assert_eq!(
        ledger.correlation_id(run).expect("read"),
        started.correlation_id
    );
    let without = RunMeta {
        correlation_id: None,
        ..meta(&["a.csv"])
    };
    let run = ledger.start_run("k2", &without).expect("start");
    assert_eq!(ledger.correlation_id(run).expect("read"), None);
}

#[test]
fn outcomes_recorded_together_are_each_final_and_a_final_one_is_refused() {
    let (_dir, _path, ledger) = ledger();
    let run = ledger.start_run("k", &meta(&["a.csv"])).expect("start");
    let row = json!({"id": "r"});
    let outcomes: Vec<_> = (0..3)
        .map(|entry| (doc(entry, "r", "h"), Outcome::Updated, &row))
        .collect();
    ledger.record_outcomes(run, &outcomes).expect("recorded");
    let documents = ledger.documents(run).expect("docs");
    assert_eq!(documents.len(), 3);
    assert!(
        documents
            .values()
            .all(|d| matches!(d, DocumentState::Final { .. }))
    );
    let again = [(doc(1, "r", "h"), Outcome::Failed, &row)];
    assert!(matches!(
        ledger.record_outcomes(run, &again),
        Err(LedgerError::AlreadyFinal { entry: 1, .. })
    ));
}

#[test]
fn a_stopped_run_counts_the_planned_documents_it_holds_no_record_of_as_not_finished() {
    let (_dir, _path, ledger) = ledger();
    let run = ledger.start_run("k", &meta(&["a.csv"])).expect("start");
    ledger
        .record_outcome(run, doc(0, "r1", "h"), Outcome::Updated, &json!({}))
        .expect("rec");
    ledger.stop_run(run, 143).expect("stop");
    let detail = ledger.run_detail(run).expect("detail");
    assert_eq!((detail.run.in_flight, detail.run.not_finished), (0, 2));
    ledger.resume_run(run).expect("resume");
    ledger
        .record_sending(
            run,
            doc(1, "r2", "h"),
            &Sending {
                request_id: Uuid::new_v4(),
                if_match: None,
                undo_before: None,
                sent_before: 0,
            },
        )
        .expect("rec");
    let summary = &ledger.runs().expect("runs")[0];
    assert_eq!((summary.in_flight, summary.not_finished), (1, 1));
    ledger
        .record_outcome(run, doc(1, "r2", "h"), Outcome::Updated, &json!({}))
        .expect("rec");
    ledger
        .record_outcome(run, doc(2, "r3", "h"), Outcome::Failed, &json!({}))
        .expect("rec");
    let summary = &ledger.runs().expect("runs")[0];
    assert_eq!((summary.in_flight, summary.not_finished), (0, 0));
}
