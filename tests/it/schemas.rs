//! The JSON a script reads from refsync follows the schemas published in `docs/schemas/`:
//! every line of a JSONL report (plan, sync, dry run, every outcome) and the summary.

use crate::support::{Workdir, code, sample_path, stderr};
use serde_json::{Value, json};
use std::path::Path;

/// The validator of `docs/schemas/NAME`.
fn schema(name: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/schemas")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("schema file");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema is a valid JSON Schema")
}

/// Checks `value` against `validator`, naming what breaks it.
fn assert_valid(validator: &jsonschema::Validator, value: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{value}\n{errors:#?}");
}

/// Runs refsync's command `args[0]` on the sample updates with the rest of `args`, a
/// JSONL report and a summary; checks both against the schemas and gives the report's
/// rows.
fn checked_run(work: &Workdir, args: &[&str], exit: i32) -> Vec<Value> {
    let sample = sample_path("updates.csv");
    let mut all = args.to_vec();
    all.insert(1, sample.to_str().expect("path"));
    all.extend(["--report", "report.jsonl", "--summary-json", "summary.json"]);
    let out = work.refsync_with(&all, &[]);
    assert_eq!(code(&out), exit, "{}", stderr(&out));
    let summary: Value = serde_json::from_str(&work.read("summary.json")).expect("summary");
    assert_valid(&schema("summary.schema.json"), &summary);
    let row_schema = schema("report-row.schema.json");
    let rows: Vec<Value> = work
        .read("report.jsonl")
        .lines()
        .map(|line| serde_json::from_str(line).expect("report line"))
        .collect();
    rows.iter().for_each(|row| assert_valid(&row_schema, row));
    rows
}

fn outcomes(rows: &[Value]) -> Vec<&str> {
    let mut outcomes: Vec<&str> = rows.iter().filter_map(|r| r["outcome"].as_str()).collect();
    outcomes.sort_unstable();
    outcomes.dedup();
    outcomes
}

#[test]
fn every_jsonl_report_and_summary_follows_the_published_schemas() {
    let work = Workdir::new();
    let rows = checked_run(&work, &["plan", "--out", "plan.jsonl"], 4);
    assert_eq!(outcomes(&rows), ["invalid", "planned"]);
    let rows = checked_run(&work, &["sync", "--emulator"], 4);
    assert_eq!(
        outcomes(&rows),
        ["conflict", "failed", "invalid", "updated"]
    );
    let refetch = ["sync", "--emulator", "--on-conflict", "refetch"];
    let rows = checked_run(&work, &refetch, 4);
    assert!(rows.iter().any(|r| r["note"] == "refetched"));
    let ledger = ["sync", "--emulator", "--ledger", "l.db", "--resume"];
    checked_run(&work, &ledger, 4);
    let summary: Value = serde_json::from_str(&work.read("summary.json")).expect("summary");
    assert_eq!(
        summary["ledger"],
        json!({"run": 1, "start": "nothing_to_resume"})
    );
    let rows = checked_run(&work, &["sync", "--emulator", "--dry-run"], 4);
    assert!(rows.iter().any(|r| r["changes"].is_array()));
}

#[test]
fn the_schemas_refuse_what_a_script_could_not_rely_on() {
    let rows = schema("report-row.schema.json");
    let row = json!({"id": "r1", "outcome": "updated", "http_status": 204, "attempts": 1,
        "if_match_sent": null, "etag_after": "\"e2\"", "ops": 1, "source_lines": "2-3;7",
        "error_code": null, "error_message": null, "note": null,
        "request_id": "6746ed56-4723-490f-8631-1df44258c310", "duration_ms": 12});
    assert_valid(&rows, &row);
    let mut unknown = row.clone();
    unknown["outcome"] = json!("done");
    let mut missing = row.clone();
    missing
        .as_object_mut()
        .expect("object")
        .remove("source_lines");
    let mut failed_without_code = row.clone();
    failed_without_code["outcome"] = json!("failed");
    for bad in [unknown, missing, failed_without_code] {
        assert!(!rows.is_valid(&bad), "{bad}");
    }
    let summary = schema("summary.schema.json");
    assert!(!summary.is_valid(&json!({"command": "sync"})));
}

#[test]
fn the_summary_of_a_usage_error_fits_the_schema() {
    let work = Workdir::new();
    let args = [
        "plan",
        "u.csv",
        "--rate",
        "fast",
        "--summary-json",
        "summary.json",
    ];
    let out = work.refsync_with(&args, &[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let summary: Value = serde_json::from_str(&work.read("summary.json")).expect("summary");
    assert_eq!(summary["exit_code"], 2);
    assert_valid(&schema("summary.schema.json"), &summary);
}
