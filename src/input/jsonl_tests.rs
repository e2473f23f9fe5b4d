//! Tests of JSONL reading, from bytes in memory.

use super::*;
use crate::input::records::test_support::{read, read_with};
use crate::input::{Format, RawOp, RawValue, ReadOptions};

const ROW: &str = r#"{"id":"A","op":"replace","path":"/x","value":1}"#;

fn jsonl(text: &str) -> Vec<InputRecord> {
    read(text.as_bytes(), Format::Jsonl)
}

fn malformed(record: &InputRecord) -> (Option<&str>, &str) {
    match &record.content {
        RecordContent::Malformed { id, message, .. } => (id.as_deref(), message.as_str()),
        other => panic!("expected a malformed record, got {other:?}"),
    }
}

#[test]
fn each_line_is_a_record_and_blank_lines_are_skipped_but_counted() {
    let records = jsonl(&format!("{ROW}\n\n   \r\n{ROW}\r\n{ROW}"));
    let lines: Vec<_> = records.iter().map(|r| r.row.at.line).collect();
    assert_eq!(lines, [1, 4, 5]);
    let want = RecordContent::Row {
        id: "A".into(),
        op: RawOp {
            op: "replace".into(),
            path: "/x".into(),
            value: RawValue::Json(serde_json::json!(1)),
        },
        if_match: None,
    };
    assert!(records.iter().all(|r| r.content == want));
}

#[test]
fn spans_reproduce_lines_verbatim_after_a_bom() {
    let text = format!("\u{feff}{ROW}\r\n\n{ROW}");
    let records = jsonl(&text);
    let bytes = text.as_bytes();
    let slice = |r: &InputRecord| &bytes[r.row.span.start as usize..r.row.span.end as usize];
    assert_eq!(records[0].row.span.start, 3);
    assert_eq!(slice(&records[0]), format!("{ROW}\r\n").as_bytes());
    assert_eq!(slice(&records[1]), ROW.as_bytes());
}

#[test]
fn invalid_json_is_malformed_with_its_column_and_salvaged_id() {
    let records = jsonl("{\"id\": \"A-7\", \"op\": replace}\n");
    let (id, message) = malformed(&records[0]);
    assert_eq!(id, Some("A-7"));
    assert!(
        message.starts_with("invalid JSON at column 21: expected value"),
        "{message}"
    );
}

#[test]
fn a_line_cut_short_is_an_error_at_its_end_whatever_its_line_end() {
    for text in [
        "{\"id\":\"x1\",\"op\":\"replace\"\n",
        "{\"id\":\"x1\",\"op\":\"replace\"\r\n",
    ] {
        let records = jsonl(text);
        let (id, message) = malformed(&records[0]);
        assert_eq!(id, Some("x1"));
        assert!(
            message.starts_with("invalid JSON at column 25: EOF while parsing"),
            "{message}"
        );
    }
}

#[test]
fn deep_nesting_is_malformed_not_a_crash() {
    let deep = format!(
        "{{\"id\":\"A\",\"value\":{}{}}}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let records = jsonl(&deep);
    let (id, message) = malformed(&records[0]);
    assert_eq!(id, Some("A"));
    assert!(message.contains("recursion limit"), "{message}");
}

#[test]
fn a_line_over_the_bound_is_malformed_and_the_next_line_is_read() {
    let long = format!("{{\"id\":\"L\",\"value\":\"{}\"}}", "x".repeat(500));
    let text = format!("{long}\n{ROW}\n");
    let records = read_with(text.as_bytes(), Format::Jsonl, &ReadOptions::default(), 64);
    let (id, message) = malformed(&records[0]);
    assert_eq!(id, Some("L"));
    assert!(message.contains("longer than 64 bytes"), "{message}");
    assert_eq!(records[0].row.span.end as usize, long.len() + 1);
    assert!(matches!(records[1].content, RecordContent::Row { .. }));
    assert_eq!(records[1].row.at.line, 2);
}

#[test]
fn invalid_utf8_is_malformed_with_advice() {
    let records = read(b"{\"id\":\"A\",\"value\":\"caf\xe9\"}\n", Format::Jsonl);
    let (id, message) = malformed(&records[0]);
    assert_eq!(id, Some("A"));
    assert!(message.contains("--encoding windows-1252"), "{message}");
}

#[test]
fn invalid_utf8_in_a_complete_row_is_still_malformed_with_advice() {
    let line = b"{\"id\":\"A\",\"op\":\"replace\",\"path\":\"/x\",\"value\":\"caf\xe9\"}\n";
    let records = read(line, Format::Jsonl);
    let (id, message) = malformed(&records[0]);
    assert_eq!(id, Some("A"));
    assert!(message.contains("--encoding windows-1252"), "{message}");
}

#[test]
fn a_scalar_line_is_malformed() {
    let records = jsonl("42\n");
    assert_eq!(
        malformed(&records[0]),
        (None, "line is a number, not a JSON object")
    );
}

/// Reads `bytes`, then fails.
struct FailingAfter(std::io::Cursor<Vec<u8>>);

impl std::io::Read for FailingAfter {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.0.read(buf)? {
            0 => Err(std::io::Error::other("disk gone")),
            read => Ok(read),
        }
    }
}

#[test]
fn lines_read_before_an_error_are_parsed_and_the_error_comes_after_them() {
    let text = format!("{ROW}\n\n{ROW}\n{ROW}");
    let reader =
        std::io::BufReader::with_capacity(8, FailingAfter(std::io::Cursor::new(text.into())));
    let mut records = JsonlRecords::new(reader, 0, "t.jsonl", 0, 1 << 10);
    let lines: Vec<u64> = records
        .by_ref()
        .map_while(Result::ok)
        .map(|r| r.row.at.line)
        .collect();
    assert_eq!(lines, [1, 3]);
    assert!(records.next().is_none(), "nothing after the error");
    let reader =
        std::io::BufReader::with_capacity(8, FailingAfter(std::io::Cursor::new(ROW.into())));
    let error = JsonlRecords::new(reader, 0, "t.jsonl", 0, 1 << 10).next();
    assert!(
        matches!(&error, Some(Err(InputError::Io { name, source })) if name == "t.jsonl" && source.to_string() == "disk gone"),
        "{error:?}"
    );
}

#[test]
fn a_batch_holds_at_most_the_lines_asked_for_and_leaves_blank_lines_out() {
    let text = format!("{ROW}\n \n{ROW}\n{ROW}\n");
    let mut lines = JsonlSplitter::new(std::io::Cursor::new(text.into_bytes()), 0, 2, 1 << 10);
    let first = lines.next_batch(2, 1 << 10).unwrap().unwrap().records();
    let second = lines.next_batch(2, 1 << 10).unwrap().unwrap().records();
    let places = |records: &[InputRecord]| -> Vec<(u32, u64)> {
        records
            .iter()
            .map(|r| (r.row.at.input, r.row.at.line))
            .collect()
    };
    assert_eq!(places(&first), [(2, 1), (2, 3)]);
    assert_eq!(places(&second), [(2, 4)]);
    assert!(lines.next_batch(2, 1 << 10).unwrap().is_none());
}

#[test]
fn a_batch_ends_once_its_lines_hold_the_bytes_asked_for() {
    let text = format!("{ROW}\n{ROW}\n{ROW}\n");
    let mut lines = JsonlSplitter::new(std::io::Cursor::new(text.into_bytes()), 0, 0, 1 << 10);
    let sizes: Vec<usize> = std::iter::from_fn(|| lines.next_batch(100, ROW.len() + 2).unwrap())
        .map(|batch| batch.records().len())
        .collect();
    assert_eq!(sizes, [2, 1]);
}

#[test]
fn a_key_given_twice_makes_the_line_malformed_under_its_first_id() {
    let records = jsonl(concat!(
        r#"{"id":"A","id":"B","op":"replace","path":"/x","value":1}"#,
        "\n",
        r#"{"id":"C","op":"replace","path":"/x","value":{"email":"a@b.c","email":"d@e.f"}}"#,
        "\n",
        r#"{"id":"D","patch":[{"op":"replace","path":"/x","path":"/y","value":1}]}"#,
        "\n",
    ));
    let found: Vec<_> = records.iter().map(malformed).collect();
    assert_eq!(found[0].0, Some("A"));
    assert!(
        found[0].1.contains("the key \"id\" appears twice"),
        "{:?}",
        found[0]
    );
    assert_eq!(found[1].0, Some("C"));
    assert!(found[1].1.contains("\"email\""), "{:?}", found[1]);
    assert_eq!(found[2].0, Some("D"));
    assert!(found[2].1.contains("\"path\""), "{:?}", found[2]);
}
