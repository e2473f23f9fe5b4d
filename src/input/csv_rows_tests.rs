//! Tests of CSV reading, from bytes in memory.

use super::*;
use crate::input::records::test_support::{read, read_with};
use crate::input::{Format, ReadOptions};

const HEADER: &str = "id,op,path,value,if_match\n";

fn csv(text: &str) -> Vec<InputRecord> {
    read(text.as_bytes(), Format::Csv)
}

/// Every record of `text` read with `--delimiter` set to `delimiter`.
fn delimited(text: &[u8], delimiter: u8) -> Vec<InputRecord> {
    let options = ReadOptions {
        delimiter,
        ..ReadOptions::default()
    };
    read_with(text, Format::Csv, &options, 1024)
}

fn lines(records: &[InputRecord]) -> Vec<u64> {
    records.iter().map(|r| r.row.at.line).collect()
}

fn malformed(record: &InputRecord) -> (Option<&str>, MalformedKind, Option<&str>, &str) {
    match &record.content {
        RecordContent::Malformed {
            id,
            code,
            field,
            message,
        } => (id.as_deref(), *code, field.as_deref(), message.as_str()),
        other => panic!("expected a malformed record, got {other:?}"),
    }
}

fn row(id: &str, op: &str, path: &str, value: &str, if_match: Option<&str>) -> RecordContent {
    RecordContent::CsvRow(RowCells::new(
        id,
        op,
        path,
        value,
        if_match.unwrap_or_default(),
    ))
}

#[test]
fn rows_are_read_with_the_header_on_line_one() {
    let records = csv(&format!(
        "{HEADER}A,replace,/x,1,\"\"\"e1\"\"\"\nB,add,/y,,\n"
    ));
    assert_eq!(lines(&records), [2, 3]);
    assert_eq!(
        records[0].content,
        row("A", "replace", "/x", "1", Some("\"e1\""))
    );
    assert_eq!(records[1].content, row("B", "add", "/y", "", None));
}

#[test]
fn columns_may_come_in_any_order_with_extras_and_without_if_match() {
    let records = csv(" Value ,note,PATH,Op,ID\nv,n,/p,replace,A\n");
    assert_eq!(records[0].content, row("A", "replace", "/p", "v", None));
}

#[test]
fn a_bom_is_accepted_and_spans_count_its_bytes() {
    let text = format!("\u{feff}{HEADER}A,replace,/x,1,\n");
    let records = csv(&text);
    assert_eq!(records[0].row.at.line, 2);
    assert_eq!(records[0].row.span.start, 3 + HEADER.len() as u64);
    assert_eq!(records[0].content, row("A", "replace", "/x", "1", None));
}

#[test]
fn a_multi_line_quoted_field_keeps_the_start_line_and_later_lines_count_it() {
    let records = csv(&format!(
        "{HEADER}A,add,/x,\"one\ntwo\nthree\",\nB,add,/y,2,\n"
    ));
    assert_eq!(lines(&records), [2, 5]);
    assert_eq!(
        records[0].content,
        row("A", "add", "/x", "one\ntwo\nthree", None)
    );
}

#[test]
fn crlf_line_endings_are_not_part_of_any_cell() {
    let records = csv("id,op,path,value\r\nA,replace,/x,1\r\nB,replace,/y,\"a\r\nb\"\r\n");
    assert_eq!(records[0].content, row("A", "replace", "/x", "1", None));
    assert_eq!(
        records[1].content,
        row("B", "replace", "/y", "a\r\nb", None)
    );
    assert_eq!(lines(&records), [2, 3]);
}

#[test]
fn blank_lines_yield_no_record_but_count_as_lines() {
    let records = csv(&format!("\n{HEADER}\n  \r\nA,replace,/x,1,\n"));
    assert_eq!(lines(&records), [5]);
}

#[test]
fn spans_reproduce_each_record_verbatim() {
    let text = format!("\u{feff}{HEADER}A,replace,/x,\"a\r\nb\",\r\n\nB,add,/y,2,");
    let records = csv(&text);
    let bytes = text.as_bytes();
    let slice = |r: &InputRecord| &bytes[r.row.span.start as usize..r.row.span.end as usize];
    assert_eq!(slice(&records[0]), b"A,replace,/x,\"a\r\nb\",\r\n");
    assert_eq!(slice(&records[1]), b"B,add,/y,2,");
}

#[test]
fn a_missing_column_makes_every_row_malformed_under_its_id() {
    let records = csv("id,path,val\nA,/x,1\nB,/y,2\n");
    assert_eq!(records.len(), 2);
    let (id, code, field, message) = malformed(&records[1]);
    assert_eq!(
        (id, code, field),
        (Some("B"), MalformedKind::MissingColumn, Some("op"))
    );
    assert!(message.contains("`op`, `value`"), "{message}");
    assert!(message.contains("found: `id`, `path`, `val`"), "{message}");
}

#[test]
fn a_missing_id_column_gives_id_less_rows() {
    let records = csv("ref,op,path,value\nA,replace,/x,1\n");
    let (id, code, field, _) = malformed(&records[0]);
    assert_eq!(
        (id, code, field),
        (None, MalformedKind::MissingColumn, Some("id"))
    );
}

#[test]
fn a_wrong_field_count_is_malformed_with_the_id_where_readable() {
    let records = csv(&format!("{HEADER}A,replace,/x\n,\n"));
    let (id, code, _, message) = malformed(&records[0]);
    assert_eq!((id, code), (Some("A"), MalformedKind::Record));
    assert_eq!(
        message,
        "record has 3 fields where the header has 5; give every column a cell, an empty one too (a,b,,d)"
    );
    let reordered = csv("op,path,value,id\nreplace,/x\n");
    assert_eq!(malformed(&reordered[0]).0, None);
    let long = csv(&format!("{HEADER}A,replace,/x,1,2,3\n"));
    assert!(
        malformed(&long[0]).3.ends_with("6 fields where the header has 5; quote a value that holds the delimiter (\"a, b\"), or drop the extra cells"),
        "{}",
        malformed(&long[0]).3
    );
}

#[test]
fn a_record_that_took_in_lines_through_a_quote_says_which() {
    let records = csv(&format!(
        "{HEADER}A,replace,/x,\"unclosed,\nB,replace,/y,\"z\",\nC,replace,/x,1,\n"
    ));
    let (id, _, _, message) = malformed(&records[0]);
    assert_eq!(id, Some("A"));
    assert!(
        message.contains("a quoted cell opened on line 2 runs on to line 3"),
        "{message}"
    );
    assert_eq!(records[1].row.at.line, 4);
}

#[test]
fn text_after_a_closing_quote_is_malformed_naming_the_field() {
    let records = csv(&format!(
        "{HEADER}A,replace,/x,\"a\"b\",\nB,replace,/y,\"c\"\"d\",\n"
    ));
    let (id, code, field, message) = malformed(&records[0]);
    assert_eq!(
        (id, code, field),
        (Some("A"), MalformedKind::Record, Some("value"))
    );
    assert!(message.contains("after its closing quote"), "{message}");
    assert_eq!(
        records[1].content,
        row("B", "replace", "/y", "c\"d", Some(""))
    );
}

#[test]
fn unterminated_quote_is_reported_and_later_rows_survive() {
    let text = format!("{HEADER}A,replace,/x,\"oops,\nB,replace,/y,2,\nC,add,/z,3,\n");
    let records = csv(&text);
    assert_eq!(lines(&records), [2, 3, 4]);
    let (id, code, field, message) = malformed(&records[0]);
    assert_eq!(
        (id, code, field),
        (Some("A"), MalformedKind::Record, Some("value"))
    );
    assert!(
        message.starts_with("unterminated quote in field `value`"),
        "{message}"
    );
    let span = records[0].row.span;
    assert_eq!(
        &text.as_bytes()[span.start as usize..span.end as usize],
        b"A,replace,/x,\"oops,\n"
    );
    assert_eq!(records[1].content, row("B", "replace", "/y", "2", None));
    assert_eq!(records[2].content, row("C", "add", "/z", "3", None));
}

#[test]
fn a_stray_quote_closed_by_a_later_quote_joins_the_lines_and_is_malformed_when_text_follows() {
    // A CSV reader joins the lines up to the next quote, as for a multi-line field; the
    // text after that quote shows the field was not meant to span them.
    let records = csv(&format!("{HEADER}A,add,/x,\"oops,\nB,add,/y,\"2\",\n"));
    assert_eq!(lines(&records), [2]);
    let (id, code, field, _) = malformed(&records[0]);
    assert_eq!(
        (id, code, field),
        (Some("A"), MalformedKind::Record, Some("value"))
    );
}

#[test]
fn an_unterminated_quote_in_the_id_column_leaves_the_row_id_less() {
    let records = csv(&format!("{HEADER}\"A,replace,/x,1,\nB,replace,/y,2,\n"));
    assert_eq!(malformed(&records[0]).0, None);
    assert_eq!(malformed(&records[0]).2, Some("id"));
    assert_eq!(records[1].content, row("B", "replace", "/y", "2", None));
}

#[test]
fn invalid_utf8_is_malformed_with_advice_and_the_id() {
    let mut text = format!("{HEADER}A,replace,/x,caf").into_bytes();
    text.extend_from_slice(b"\xe9,\n");
    let records = read(&text, Format::Csv);
    let (id, _, field, message) = malformed(&records[0]);
    assert_eq!((id, field), (Some("A"), Some("value")));
    assert!(message.contains("save it as UTF-8"), "{message}");
    assert!(message.contains("--encoding windows-1252"), "{message}");
}

#[test]
fn of_several_cells_not_utf8_the_first_column_is_named() {
    let mut text = format!("{HEADER}A,replace,/x,v").into_bytes();
    text.extend_from_slice(b"\xe9,e\xe9\n");
    let records = read(&text, Format::Csv);
    let (_, _, field, _) = malformed(&records[0]);
    assert_eq!(field, Some("value"));
}

#[test]
fn a_record_over_the_bound_is_malformed_and_the_next_one_is_read() {
    let long = "x".repeat(200);
    let text = format!("{HEADER}A,replace,/x,{long},\nB,replace,/y,2,\n");
    let records = read_with(text.as_bytes(), Format::Csv, &ReadOptions::default(), 64);
    let (id, code, _, message) = malformed(&records[0]);
    assert_eq!((id, code), (Some("A"), MalformedKind::Record));
    assert!(message.contains("longer than 64 bytes"), "{message}");
    assert_eq!(records[1].content, row("B", "replace", "/y", "2", None));
}

#[test]
fn the_delimiter_option_is_honoured() {
    let records = delimited(b"id;op;path;value\nA;replace;/x;1,5\n", b';');
    assert_eq!(records[0].content, row("A", "replace", "/x", "1,5", None));
}

#[test]
fn an_empty_file_or_a_header_alone_has_no_records() {
    assert!(csv("").is_empty());
    assert!(csv(HEADER).is_empty());
}

#[test]
fn plain_rows_read_the_same_as_the_same_rows_quoted() {
    // Quote-free lines take the plain path, quoted ones the general path.
    let plain = csv(&format!("{HEADER}A,replace,/x,é 1,e1\nB,add,/y,,\n"));
    let quoted = csv(&format!(
        "{HEADER}\"A\",replace,/x,\"é 1\",e1\nB,\"add\",/y,,\"\"\n"
    ));
    assert_eq!(plain.len(), 2);
    assert_eq!(
        plain[0].content,
        row("A", "replace", "/x", "é 1", Some("e1"))
    );
    assert_eq!(plain[1].content, row("B", "add", "/y", "", None));
    let contents = |records: &[InputRecord]| -> Vec<RecordContent> {
        records.iter().map(|r| r.content.clone()).collect()
    };
    assert_eq!(contents(&plain), contents(&quoted));
    assert_eq!(lines(&plain), lines(&quoted));
}

#[test]
fn a_tab_delimited_line_of_tabs_is_a_row_of_empty_cells_not_a_blank_line() {
    let text = b"id\top\tpath\tvalue\n\t\t\t\nA\treplace\t/x\t1\n";
    let records = delimited(text, b'\t');
    assert_eq!(lines(&records), [2, 3]);
    assert_eq!(records[0].content, row("", "", "", "", None));
    assert_eq!(records[1].content, row("A", "replace", "/x", "1", None));
}
