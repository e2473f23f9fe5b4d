//! Property tests of the planner: whatever stream of records arrives, every row lands in
//! exactly one entry, entries follow first appearance, and nothing panics.

use super::*;
use crate::input::{RawOp, RawValue, RowRef};
use crate::plan::test_support::{csv_if, doc, json_op, malformed};
use crate::plan::{OnDuplicate, PlanEntry};
use proptest::prelude::*;
use serde_json::json;
use std::collections::HashSet;

/// A few IDs, valid and not, so streams repeat them often.
const IDS: &[&str] = &["a", "B", "r-1", "", "../x", "a/b", "%2F", "."];
/// Paths that pass, fail, or collide.
const PATHS: &[&str] = &[
    "/details/notes",
    "/name",
    "/status",
    "/substatus",
    "/team/-",
    "/eTag",
    "nope",
];
const VALUES: &[&str] = &["x", "y", "Closed", "Won", r#"{"email":"a@b.c"}"#, "10,000"];
const OPS: &[&str] = &["replace", "add", "remove"];

/// One record of the stream, before its line is known.
#[derive(Clone, Debug)]
enum Shape {
    Row {
        id: usize,
        op: usize,
        path: usize,
        value: usize,
        if_match: Option<u8>,
    },
    Document {
        id: usize,
        ops: Vec<(usize, usize, usize)>,
    },
    Malformed {
        id: Option<usize>,
    },
}

fn shape() -> impl Strategy<Value = Shape> {
    let index = |n: usize| 0..n;
    let op = (index(OPS.len()), index(PATHS.len()), index(VALUES.len()));
    prop_oneof![
        6 => (index(IDS.len()), op.clone(), proptest::option::of(0u8..3)).prop_map(
            |(id, (op, path, value), if_match)| Shape::Row { id, op, path, value, if_match }
        ),
        1 => (index(IDS.len()), proptest::collection::vec(op, 0..4))
            .prop_map(|(id, ops)| Shape::Document { id, ops }),
        1 => proptest::option::of(index(IDS.len())).prop_map(|id| Shape::Malformed { id }),
    ]
}

fn record(line: u64, shape: &Shape) -> InputRecord {
    match shape {
        Shape::Row {
            id,
            op,
            path,
            value,
            if_match,
        } => {
            let tag = if_match.map(|n| format!("e{n}"));
            let cells = (IDS[*id], OPS[*op], PATHS[*path], VALUES[*value]);
            csv_if(line, cells.0, cells.1, cells.2, cells.3, tag.as_deref())
        }
        Shape::Document { id, ops } => doc(line, IDS[*id], None, ops.iter().map(raw_op).collect()),
        Shape::Malformed { id } => malformed(line, id.map(|i| IDS[i]), MalformedKind::Record),
    }
}

fn raw_op(&(op, path, value): &(usize, usize, usize)) -> RawOp {
    let parsed = serde_json::from_str(VALUES[value]).unwrap_or(json!(VALUES[value]));
    RawOp {
        value: RawValue::Json(parsed),
        ..json_op(OPS[op], PATHS[path], json!(null))
    }
}

fn plan_of(shapes: &[Shape], on_duplicate: OnDuplicate) -> (Vec<InputRecord>, Plan) {
    let records: Vec<_> = shapes
        .iter()
        .zip(2u64..)
        .map(|(s, line)| record(line, s))
        .collect();
    let mut planner = Planner::new(PlanOptions {
        on_duplicate,
        ..PlanOptions::default()
    });
    records.iter().for_each(|r| planner.push(r));
    (records, planner.finish())
}

fn key(row: RowRef) -> u64 {
    row.at.line
}

proptest! {
    #[test]
    fn every_row_lands_in_exactly_one_entry(shapes in proptest::collection::vec(shape(), 0..60), last_wins: bool) {
        let dup = if last_wins { OnDuplicate::LastWins } else { OnDuplicate::Error };
        let (records, plan) = plan_of(&shapes, dup);
        let mut planned: Vec<u64> = plan.entries.iter().flat_map(|e| e.rows().iter().map(key)).collect();
        planned.sort_unstable();
        let input: Vec<u64> = records.iter().map(|r| key(r.row)).collect();
        prop_assert_eq!(planned, input);
    }

    #[test]
    fn entries_follow_the_order_of_first_appearance(shapes in proptest::collection::vec(shape(), 0..60)) {
        let (_, plan) = plan_of(&shapes, OnDuplicate::Error);
        prop_assert!(plan.entries.iter().all(|e| !e.rows().is_empty()));
        let firsts: Vec<u64> = plan.entries.iter().filter_map(|e| e.rows().first().map(key)).collect();
        prop_assert!(firsts.windows(2).all(|w| w[0] < w[1]));
        let ids: Vec<&str> = plan.entries.iter().filter_map(PlanEntry::id).collect();
        prop_assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    }

    #[test]
    fn valid_documents_have_valid_ids_and_invalid_entries_say_why(shapes in proptest::collection::vec(shape(), 0..60)) {
        let (_, plan) = plan_of(&shapes, OnDuplicate::Error);
        // Line 2 is the first shape's.
        let empty_document = |line: u64| {
            matches!(&shapes[line as usize - 2], Shape::Document { ops, .. } if ops.is_empty())
        };
        for entry in &plan.entries {
            match entry {
                PlanEntry::Document(d) => {
                    prop_assert!(crate::plan::check_id(&d.id).is_ok());
                    // Only documents with empty patches change nothing.
                    prop_assert!(!d.ops.is_empty() || d.rows.iter().all(|r| empty_document(key(r))));
                }
                PlanEntry::Invalid(i) => prop_assert!(!i.errors.is_empty()),
            }
        }
    }
}
