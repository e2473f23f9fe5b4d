//! Fuzzes the row parsers and the planner: any bytes, read as CSV and as JSONL, must never
//! panic, and every record must land in exactly one plan entry.

#![no_main]

use libfuzzer_sys::fuzz_target;
use refsync::input::{CsvRecords, InputRecord, JsonlRecords, MAX_RECORD_BYTES};
use refsync::plan::{PlanOptions, Planner};
use std::io::Cursor;

fn plan_and_check(records: Vec<InputRecord>) {
    let lines: Vec<_> = records.iter().map(|r| r.row.at).collect();
    let mut planner = Planner::new(PlanOptions::default());
    records.into_iter().for_each(|r| planner.push(r));
    let mut planned: Vec<_> = planner
        .finish()
        .entries
        .iter()
        .flat_map(|e| e.rows().iter().map(|r| r.at).collect::<Vec<_>>())
        .collect();
    planned.sort_unstable();
    let mut expected = lines;
    expected.sort_unstable();
    assert_eq!(planned, expected, "every record in exactly one entry");
}

fuzz_target!(|data: &[u8]| {
    let csv = CsvRecords::new(Cursor::new(data.to_vec()), 0, "f.csv", 0, b',', MAX_RECORD_BYTES);
    plan_and_check(csv.map_while(Result::ok).collect());
    let jsonl = JsonlRecords::new(Cursor::new(data.to_vec()), 0, "f.jsonl", 0, MAX_RECORD_BYTES);
    plan_and_check(jsonl.map_while(Result::ok).collect());
});
