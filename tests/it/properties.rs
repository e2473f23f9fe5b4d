//! Properties across stages: arbitrary bytes through the readers and the planner never
//! panic, and every record's line lands in exactly one report row's `source_lines`.

use proptest::prelude::*;
use refsync::input::{CsvRecords, InputRecord, JsonlRecords, MAX_RECORD_BYTES};
use refsync::plan::{PlanOptions, Planner};
use refsync::report::lines::parse_source_lines;
use refsync::report::{LineNames, ReportRow};
use std::collections::HashMap;
use std::io::Cursor;

fn csv_records(bytes: &[u8]) -> Vec<InputRecord> {
    let reader = CsvRecords::new(
        Cursor::new(bytes.to_vec()),
        0,
        "p.csv",
        0,
        b',',
        MAX_RECORD_BYTES,
    );
    reader.map_while(Result::ok).collect()
}

fn jsonl_records(bytes: &[u8]) -> Vec<InputRecord> {
    let reader = JsonlRecords::new(
        Cursor::new(bytes.to_vec()),
        0,
        "p.jsonl",
        0,
        MAX_RECORD_BYTES,
    );
    reader.map_while(Result::ok).collect()
}

/// Plans `records` and checks that each record's line is in exactly one report row.
fn check_every_line_reported_once(records: Vec<InputRecord>) -> Result<(), TestCaseError> {
    let lines: Vec<u64> = records.iter().map(|r| r.row.at.line).collect();
    let mut planner = Planner::new(PlanOptions::default());
    for record in &records {
        planner.push(record);
    }
    let names = LineNames::new(vec!["p".into()]);
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for entry in planner.finish().entries {
        let row = ReportRow::for_entry(&entry, &names);
        for (_, line) in parse_source_lines(&row.source_lines) {
            *seen.entry(line).or_default() += 1;
        }
    }
    for line in &lines {
        prop_assert_eq!(
            seen.get(line).copied(),
            Some(1),
            "line {} reported once",
            line
        );
    }
    prop_assert_eq!(
        seen.len(),
        lines.len(),
        "no row names a line that has no record"
    );
    Ok(())
}

/// CSV-ish bytes: a valid header, then rows made of the characters that matter.
fn csv_bytes() -> impl Strategy<Value = Vec<u8>> {
    let cell = prop_oneof![
        Just("7e570001-0000-4000-8000-000000000000".to_string()),
        Just("replace".to_string()),
        Just("/details/notes".to_string()),
        Just("/status".to_string()),
        "[a-z\",\\n\\r/ ~{}:]{0,8}".prop_map(String::from),
    ];
    let row = proptest::collection::vec(cell, 0..6).prop_map(|cells| cells.join(","));
    proptest::collection::vec(row, 0..12).prop_map(|rows| {
        let mut text = String::from("id,op,path,value\n");
        for row in rows {
            text.push_str(&row);
            text.push('\n');
        }
        text.into_bytes()
    })
}

/// JSONL-ish lines: some valid rows and documents, some broken.
fn jsonl_bytes() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        Just(r#"{"id":"a1","op":"replace","path":"/name","value":"x"}"#.to_string()),
        Just(
            r#"{"id":"a1","patch":[{"op":"add","path":"/team/-","value":{"email":"e@x"}}]}"#
                .to_string()
        ),
        Just(r#"{"id":"a2","op":"replace","path":"/status","value":"Closed"}"#.to_string()),
        "[{}\\[\\]\":,a-z0-9 ]{0,30}".prop_map(String::from),
    ];
    proptest::collection::vec(line, 0..12).prop_map(|lines| (lines.join("\n") + "\n").into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arbitrary_bytes_never_panic_and_every_record_is_reported_once(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        check_every_line_reported_once(csv_records(&bytes))?;
    }

    #[test]
    fn every_csv_line_lands_in_exactly_one_report_row(bytes in csv_bytes()) {
        check_every_line_reported_once(csv_records(&bytes))?;
    }

    #[test]
    fn every_jsonl_line_lands_in_exactly_one_report_row(bytes in jsonl_bytes()) {
        check_every_line_reported_once(jsonl_records(&bytes))?;
    }
}
