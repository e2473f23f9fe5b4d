//! Properties of both readers on arbitrary bytes: they never panic, records come in
//! strictly increasing line order, no record starts on a line that another one covers, and
//! every span is a whole run of lines within the input.

use proptest::prelude::*;

use super::records::test_support::read_with;
use super::{BOM, Format, InputRecord, ReadOptions};

/// Checks the line and span properties of `records` read from `bytes`.
fn check_order(bytes: &[u8], records: &[InputRecord]) -> Result<(), TestCaseError> {
    let mut next_free_line = 1;
    let mut next_free_byte = if bytes.starts_with(BOM) { BOM.len() } else { 0 };
    let first_byte = next_free_byte;
    for record in records {
        let (start, end) = (record.row.span.start as usize, record.row.span.end as usize);
        prop_assert!(start < end && end <= bytes.len(), "span {start}..{end}");
        prop_assert!(start >= next_free_byte, "spans overlap at {start}");
        prop_assert!(
            start == first_byte || bytes[start - 1] == b'\n',
            "span mid-line"
        );
        prop_assert!(
            record.row.at.line >= next_free_line,
            "line {} covered",
            record.row.at.line
        );
        let inner = &bytes[start..end - 1];
        next_free_line =
            record.row.at.line + 1 + inner.iter().filter(|&&b| b == b'\n').count() as u64;
        next_free_byte = end;
    }
    Ok(())
}

/// Bytes rich in the characters that matter to the readers.
fn tricky_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        Just(b'"'),
        Just(b','),
        Just(b'\n'),
        Just(b'\r'),
        Just(b'{'),
        Just(b'}'),
        Just(b':'),
        Just(b'a'),
        any::<u8>(),
    ];
    prop::collection::vec(byte, 0..300)
}

/// A CSV header followed by tricky bytes, so data rows are reached.
fn csv_bytes() -> impl Strategy<Value = Vec<u8>> {
    (any::<bool>(), tricky_bytes()).prop_map(|(bom, body)| {
        let bom: &[u8] = if bom { b"\xEF\xBB\xBF" } else { b"" };
        [bom, b"id,op,path,value\n", &body].concat()
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_as_csv_read_in_line_order(bytes in csv_bytes(), limit in 8usize..200) {
        let records = read_with(&bytes, Format::Csv, &ReadOptions::default(), limit);
        check_order(&bytes, &records)?;
    }

    #[test]
    fn arbitrary_bytes_as_jsonl_read_in_line_order(bytes in tricky_bytes(), limit in 8usize..200) {
        let records = read_with(&bytes, Format::Jsonl, &ReadOptions::default(), limit);
        check_order(&bytes, &records)?;
    }

    #[test]
    fn fully_random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..500)) {
        for format in [Format::Csv, Format::Jsonl] {
            let records = read_with(&bytes, format, &ReadOptions::default(), 1 << 20);
            check_order(&bytes, &records)?;
        }
    }
}
