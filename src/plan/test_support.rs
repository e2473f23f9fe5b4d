//! Builders of input records for the planner's tests.

use super::{PlanEntry, PlanError};
use crate::input::{
    InputRecord, LineRef, MalformedKind, RawOp, RawValue, RecordContent, RowCells, RowRef, Span,
};
use serde_json::Value;

/// The row reference of `line` in the first input.
pub fn row_at(line: u64) -> RowRef {
    RowRef {
        at: LineRef { input: 0, line },
        span: Span::default(),
    }
}

/// A CSV row: `id,op,path,value` with no `if_match`.
pub fn csv(line: u64, id: &str, op: &str, path: &str, value: &str) -> InputRecord {
    csv_if(line, id, op, path, value, None)
}

/// A CSV row with an `if_match` cell.
pub fn csv_if(
    line: u64,
    id: &str,
    op: &str,
    path: &str,
    value: &str,
    if_match: Option<&str>,
) -> InputRecord {
    InputRecord {
        row: row_at(line),
        content: RecordContent::CsvRow(RowCells::new(
            id,
            op,
            path,
            value,
            if_match.unwrap_or_default(),
        )),
    }
}

/// A document-form JSONL line.
pub fn doc(line: u64, id: &str, if_match: Option<&str>, patch: Vec<RawOp>) -> InputRecord {
    InputRecord {
        row: row_at(line),
        content: RecordContent::Document {
            id: id.into(),
            if_match: if_match.map(str::to_owned),
            patch,
            columns: Vec::new(),
            id_column: None,
            by_external_id: false,
        },
    }
}

/// A malformed record, with its ID where one could be read.
pub fn malformed(line: u64, id: Option<&str>, kind: MalformedKind) -> InputRecord {
    InputRecord {
        row: row_at(line),
        content: RecordContent::Malformed {
            id: id.map(str::to_owned),
            code: kind,
            field: None,
            message: "cannot read this line".into(),
        },
    }
}

/// A raw JSON operation.
pub fn json_op(op: &str, path: &str, value: Value) -> RawOp {
    raw(op, path, RawValue::Json(value))
}

fn raw(op: &str, path: &str, value: RawValue) -> RawOp {
    RawOp {
        op: op.into(),
        path: path.into(),
        value,
    }
}

/// The lines of an entry's rows.
pub fn lines_of(entry: &PlanEntry) -> Vec<u64> {
    entry.rows().iter().map(|r| r.at.line).collect()
}

/// The error codes of an invalid entry, as report names; empty for a document.
pub fn codes_of(entry: &PlanEntry) -> Vec<&'static str> {
    errors_of(entry).iter().map(|e| e.code.as_str()).collect()
}

/// The errors of an invalid entry; empty for a document.
pub fn errors_of(entry: &PlanEntry) -> &[PlanError] {
    match entry {
        PlanEntry::Document(_) => &[],
        PlanEntry::Invalid(invalid) => &invalid.errors,
    }
}
