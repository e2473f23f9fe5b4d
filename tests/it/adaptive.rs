//! Adaptive pacing end to end: `--concurrency` is a cap that is never passed, a slow
//! server gets more documents in flight without being asked, and a server throttling
//! below `--rate` makes the run lower its own rate and still finish every document.

use crate::fixtures::id;
use crate::support::{Workdir, code, read_csv_report, seeded, stderr};
use refsync::emulator::{Emulator, Faults};
use serde_json::Value;

/// One note replaced on each of `count` referrals.
fn notes(work: &Workdir, count: usize) {
    let mut csv = String::from("id,op,path,value\n");
    for n in 0..count {
        csv.push_str(&format!("{},replace,/details/notes,note {n}\n", id(n)));
    }
    work.write("u.csv", &csv);
}

fn sync(work: &Workdir, emulator: &Emulator, extra: &[&str]) -> std::process::Output {
    let base = emulator.base_url();
    let mut args = vec![
        "sync",
        "u.csv",
        "--endpoint",
        &base,
        "--report",
        "report.csv",
        "--summary-json",
        "summary.json",
    ];
    args.extend_from_slice(extra);
    work.refsync(&args)
}

fn max_in_flight(emulator: &Emulator) -> u64 {
    emulator.stats()["max_in_flight"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_a_cap_the_server_never_sees_exceeded() {
    let work = Workdir::new();
    let faults = Faults {
        latency_ms: 50,
        ..Faults::default()
    };
    let emulator = seeded(&work, 40, faults).await;
    notes(&work, 40);
    let out = sync(
        &work,
        &emulator,
        &["--rate", "unlimited", "--concurrency", "3"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(max_in_flight(&emulator) <= 3, "{}", emulator.stats());
    let summary: Value = serde_json::from_str(&work.read("summary.json")).expect("summary");
    assert!(summary["peak_in_flight"].as_u64().is_some_and(|n| n <= 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_server_gets_more_in_flight_than_any_fixed_default_without_being_asked() {
    let work = Workdir::new();
    let faults = Faults {
        latency_ms: 300,
        ..Faults::default()
    };
    let emulator = seeded(&work, 120, faults).await;
    notes(&work, 120);
    // 200/s × 0.3 s: Little's law wants 60 in flight; the old fixed default was 8.
    let out = sync(&work, &emulator, &["--rate", "200/s"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(max_in_flight(&emulator) > 16, "{}", emulator.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_throttling_below_the_rate_lowers_it_and_every_document_is_updated() {
    let work = Workdir::new();
    let faults = Faults {
        throttle: Some(40),
        ..Faults::default()
    };
    let emulator = seeded(&work, 80, faults).await;
    notes(&work, 80);
    let out = sync(&work, &emulator, &["--rate", "1000/s"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert!(rows.iter().all(|row| row["outcome"] == "updated"));
    let summary: Value = serde_json::from_str(&work.read("summary.json")).expect("summary");
    assert!(summary["throttled"].as_u64().is_some_and(|n| n > 0));
    let lowered = summary["adapted_rate"].as_f64().expect("an adapted rate");
    assert!(lowered < 1000.0, "{summary}");
    assert!(stderr(&out).contains("rate lowered to"), "{}", stderr(&out));
}
