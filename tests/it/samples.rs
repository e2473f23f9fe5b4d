//! The README's first command: the sample updates against the built-in emulator show every
//! outcome, in CSV and JSONL alike.

use crate::support::{Workdir, code, read_csv_report, row_of, sample_path, stderr};
use std::collections::BTreeMap;

fn outcomes(work: &Workdir, input: &str) -> BTreeMap<String, String> {
    let sample = sample_path(input);
    let out = work.refsync_with(
        &[
            "sync",
            sample.to_str().unwrap(),
            "--emulator",
            "--report",
            "report.csv",
            "--rejects",
            "rejects.csv",
        ],
        &[],
    );
    assert_eq!(
        code(&out),
        4,
        "failed and invalid documents exit 4: {}",
        stderr(&out)
    );
    read_csv_report(&work.path().join("report.csv"))
        .into_iter()
        .map(|r| (r["id"].clone(), r["outcome"].clone()))
        .collect()
}

#[test]
fn the_sample_run_shows_every_outcome() {
    let work = Workdir::new();
    let by_id = outcomes(&work, "updates.csv");
    let rows = read_csv_report(&work.path().join("report.csv"));
    for outcome in ["updated", "conflict", "failed", "invalid"] {
        assert!(
            by_id.values().any(|o| o == outcome),
            "no {outcome} in {by_id:?}"
        );
    }
    assert_eq!(
        row_of(&rows, "61256092-f66b-4d91-af4e-06e3e6de5084")["outcome"],
        "conflict"
    );
    let refused = row_of(&rows, "d0ef119d-f19e-4462-b81f-5c8100d7a488");
    assert_eq!(
        (refused["outcome"].as_str(), refused["http_status"].as_str()),
        ("failed", "400")
    );
    assert_eq!(
        row_of(&rows, "1239b441-f9c9-44f4-af81-cca71d48599e")["note"],
        "merged-duplicates"
    );
    let rejects = work.read("rejects.csv");
    assert!(rejects.starts_with("id,op,path,value,if_match,outcome,error_message"));
    assert!(rejects.contains("OPP/10099"));
    assert!(
        !rejects.contains("fbcf71a8"),
        "updated rows are not rejected"
    );
}

#[test]
fn csv_and_jsonl_samples_give_the_same_outcomes() {
    let (csv, jsonl) = (Workdir::new(), Workdir::new());
    assert_eq!(
        outcomes(&csv, "updates.csv"),
        outcomes(&jsonl, "updates.jsonl")
    );
}

#[test]
fn every_sample_line_is_in_exactly_one_report_row() {
    let work = Workdir::new();
    outcomes(&work, "updates.csv");
    let rows = read_csv_report(&work.path().join("report.csv"));
    let mut lines: Vec<u64> = rows
        .iter()
        .flat_map(|r| refsync::report::lines::parse_source_lines(&r["source_lines"]))
        .map(|(_, line)| line)
        .collect();
    lines.sort_unstable();
    let data_lines = std::fs::read_to_string(sample_path("updates.csv"))
        .unwrap()
        .lines()
        .count() as u64;
    assert_eq!(lines, (2..=data_lines).collect::<Vec<_>>());
}
