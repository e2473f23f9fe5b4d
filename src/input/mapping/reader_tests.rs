//! Tests of reading a wide CSV through a mapping: one document per row, with its line and
//! span, and every failure as a malformed record naming line and column.

use super::*;
use crate::input::records::test_support::read_with;
use crate::input::{Format, MAX_RECORD_BYTES, ReadOptions};
use serde_json::json;
use std::path::Path;

fn options() -> ReadOptions {
    let text = "id = { column = \"Opp\", lookup = \"externalReferenceId\" }\n[[column]]\nname = \"Amount\"\npath = \"/details/dealValue\"\nnumber = { decimal = \",\", thousands = \".\" }\n";
    ReadOptions {
        delimiter: b';',
        mapping: Some(Arc::new(Mapping::parse(Path::new("m.toml"), text).unwrap())),
        ..ReadOptions::default()
    }
}

fn read(text: &str) -> Vec<InputRecord> {
    read_with(text.as_bytes(), Format::Csv, &options(), MAX_RECORD_BYTES)
}

#[test]
fn a_wide_row_is_one_document_with_its_own_line_and_span() {
    let text = "Opp;Other;Amount\r\nOPP-1;x;1.500,25\r\n\r\nOPP-2;\"a\nb\";7\r\n";
    let records = read(text);
    assert_eq!(records.len(), 2);
    let second = &records[1];
    assert_eq!(second.row.at.line, 4);
    let span = &text.as_bytes()[second.row.span.start as usize..second.row.span.end as usize];
    assert_eq!(span, b"OPP-2;\"a\nb\";7\r\n");
    match &records[0].content {
        RecordContent::Document { id, patch, .. } => {
            assert_eq!(id, "OPP-1");
            assert_eq!(patch[0].value, RawValue::Json(json!(1500.25)));
            assert_eq!(patch[0].op, "replace");
        }
        other => panic!("expected a document, got {other:?}"),
    }
}

#[test]
fn a_bad_cell_is_an_invalid_value_naming_the_column_and_keeping_the_id() {
    let records = read("Opp;Amount\nOPP-1;12,5x\n");
    match &records[0].content {
        RecordContent::Malformed {
            id, code, message, ..
        } => {
            assert_eq!(
                (id.as_deref(), *code),
                (Some("OPP-1"), MalformedKind::Value)
            );
            assert!(
                message.contains("column `Amount`") && message.contains("m.toml line 5"),
                "{message}"
            );
        }
        other => panic!("expected malformed, got {other:?}"),
    }
}

#[test]
fn missing_columns_and_empty_ids_are_malformed_and_an_empty_row_changes_nothing() {
    let records = read("Opp;Total\nOPP-1;5\n");
    assert!(
        matches!(&records[0].content, RecordContent::Malformed { code: MalformedKind::MissingColumn, id: Some(id), .. } if id == "OPP-1")
    );
    let records = read("Opp;Amount\n;5\nOPP-2;\nOPP-3;1;2\n");
    // A row whose every mapped cell is empty (left as it is) changes nothing.
    assert!(
        matches!(&records[1].content, RecordContent::Document { id, patch, .. } if id == "OPP-2" && patch.is_empty())
    );
    let messages: Vec<String> = [&records[0], &records[2]]
        .iter()
        .map(|r| match &r.content {
            RecordContent::Malformed { message, .. } => message.clone(),
            other => panic!("expected malformed, got {other:?}"),
        })
        .collect();
    assert!(messages[0].contains("`Opp` is empty"), "{}", messages[0]);
    assert!(
        messages[1].contains("3 fields where the header has 2"),
        "{}",
        messages[1]
    );
}

/// The ID and message of a malformed record.
fn malformed(record: &InputRecord) -> (Option<&str>, &str) {
    match &record.content {
        RecordContent::Malformed { id, message, .. } => (id.as_deref(), message.as_str()),
        other => panic!("expected a malformed record, got {other:?}"),
    }
}

#[test]
fn a_record_that_cannot_be_read_keeps_the_id_it_was_read_with() {
    let text = "Opp;Amount\nOPP-1;\"unterminated\nOPP-2;7\nOPP-1;8\n";
    let records = read(text);
    let (id, message) = malformed(&records[0]);
    assert_eq!(id, Some("OPP-1"));
    assert!(message.contains("unterminated quote"), "{message}");
    let long = format!(
        "Opp;Amount\n OPP-3 ;{}\n",
        "9".repeat(MAX_RECORD_BYTES + 10)
    );
    let records = read_with(long.as_bytes(), Format::Csv, &options(), MAX_RECORD_BYTES);
    assert_eq!(malformed(&records[0]).0, Some("OPP-3"));
}

#[test]
fn text_after_a_closing_quote_is_malformed_as_in_the_row_form() {
    let records = read("Opp;Amount\nOPP-1;\"1\"2\n");
    let (id, message) = malformed(&records[0]);
    assert_eq!(id, Some("OPP-1"));
    assert!(
        message.contains("column `Amount` has text after its closing quote"),
        "{message}"
    );
}
