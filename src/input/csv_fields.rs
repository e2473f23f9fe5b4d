//! Splitting one CSV record's bytes into fields by the `csv` crate's rules.
//!
//! Building a `csv` reader compiles its parser tables, which costs far more than splitting
//! a typical record; a profile of `plan` on a million rows showed that build taking over
//! four fifths of the run. So one reader is built per input and rewound onto each record.

use std::io::{Cursor, SeekFrom};

use csv::{ByteRecord, Position, Reader, ReaderBuilder, Terminator};

/// Splits records into fields with one reusable `csv` reader.
pub struct FieldSplitter {
    delimiter: u8,
    reader: Reader<Cursor<Vec<u8>>>,
    fields: ByteRecord,
}

impl FieldSplitter {
    /// A splitter for records separated into fields by `delimiter`.
    pub fn new(delimiter: u8) -> Self {
        let reader = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .terminator(Terminator::Any(b'\n'))
            .from_reader(Cursor::new(Vec::new()));
        FieldSplitter {
            delimiter,
            reader,
            fields: ByteRecord::new(),
        }
    }

    /// The fields of one record's bytes (terminator removed).
    ///
    /// Reading bytes in memory without headers or length checks cannot fail; an error
    /// would leave no fields, which the caller reports as a wrong field count.
    pub fn split(&mut self, bytes: &[u8]) -> &ByteRecord {
        if memchr::memchr(b'"', bytes).is_none() {
            // Without quotes the `csv` rules come down to splitting at each delimiter,
            // which is far cheaper than copying the record into the reader.
            self.fields.clear();
            if !bytes.is_empty() {
                for field in bytes.split(|&b| b == self.delimiter) {
                    self.fields.push_field(field);
                }
            }
            return &self.fields;
        }
        let source = self.reader.get_mut().get_mut();
        source.clear();
        source.extend_from_slice(bytes);
        let rewound = self.reader.seek_raw(SeekFrom::Start(0), Position::new());
        let read = rewound.and_then(|()| self.reader.read_byte_record(&mut self.fields));
        if !matches!(read, Ok(true)) {
            self.fields.clear();
        }
        &self.fields
    }
}

/// The index of the first field of `bytes` (one record, terminator removed) that has text
/// after its closing quote, as in `"a"b"`: the `csv` crate reads that as `ab"`, silently
/// changing the value, where the writer most likely meant a quote inside (`"a""b"`).
/// Quotes inside a field that does not start with one (`a"b`) are read as they stand.
pub fn text_after_closing_quote(bytes: &[u8], delimiter: u8) -> Option<usize> {
    match scan_quotes(bytes, delimiter) {
        QuoteScan::TextAfter(field) => Some(field),
        QuoteScan::Clean | QuoteScan::Unclosed => None,
    }
}

/// Whether every quoted field of `bytes` (one record, terminator removed) is closed and
/// followed by a delimiter or the end: the `csv` crate reads a record that is not
/// leniently, and cells re-written from such a reading would read back as a well-formed
/// record with other values.
pub fn quotes_are_well_formed(bytes: &[u8], delimiter: u8) -> bool {
    matches!(scan_quotes(bytes, delimiter), QuoteScan::Clean)
}

/// What [`scan_quotes`] found.
enum QuoteScan {
    /// Every quoted field is closed, with nothing after its closing quote.
    Clean,
    /// The field at this index has text after its closing quote.
    TextAfter(usize),
    /// A quoted field is never closed.
    Unclosed,
}

/// Where field `index` of `bytes` (one record without its terminator) starts, its
/// quotes read as the `csv` crate reads them; `None` past the last field or where the
/// quotes before it are malformed.
pub fn field_start(bytes: &[u8], delimiter: u8, index: usize) -> Option<usize> {
    let mut found = None;
    let scan = walk_fields(bytes, delimiter, &mut |field, start| {
        if field == index {
            found = Some(start);
        }
        field < index
    });
    found.filter(|_| matches!(scan, QuoteScan::Clean))
}

/// The first fault of the quoted fields of `bytes`, one record without its terminator.
fn scan_quotes(bytes: &[u8], delimiter: u8) -> QuoteScan {
    walk_fields(bytes, delimiter, &mut |_, _| true)
}

/// Walks the fields of `bytes`, one record without its terminator, calling `at_field`
/// with each field's index and where it starts until it answers `false`; gives the first
/// fault of the quotes met on the way.
fn walk_fields(
    bytes: &[u8],
    delimiter: u8,
    at_field: &mut dyn FnMut(usize, usize) -> bool,
) -> QuoteScan {
    let mut field = 0;
    let mut at = 0;
    loop {
        if !at_field(field, at) || at >= bytes.len() {
            return QuoteScan::Clean;
        }
        if bytes[at] != b'"' {
            // An unquoted field: skip to the next delimiter.
            match memchr::memchr(delimiter, &bytes[at..]) {
                Some(offset) => at += offset + 1,
                None => return QuoteScan::Clean,
            }
            field += 1;
            continue;
        }
        let Some(closing) = closing_quote(bytes, at + 1) else {
            return QuoteScan::Unclosed;
        };
        at = closing + 1;
        match bytes.get(at) {
            None => return QuoteScan::Clean,
            Some(&b) if b == delimiter => at += 1,
            Some(b'\r') if at + 1 == bytes.len() => return QuoteScan::Clean,
            Some(_) => return QuoteScan::TextAfter(field),
        }
        field += 1;
    }
}

/// The position of the quote that closes a quoted field whose text starts at `from`
/// (doubled quotes are an escaped quote); `None` when it is never closed.
fn closing_quote(bytes: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let quote = from + memchr::memchr(b'"', &bytes[from..])?;
        if bytes.get(quote + 1) == Some(&b'"') {
            from = quote + 2;
        } else {
            return Some(quote);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_well_formed_only_when_every_quoted_field_closes_before_a_delimiter() {
        for good in [
            "a,b",
            "\"a\",b",
            "\"a\"\"b\",c",
            "a\"b,c",
            "\"a,b\"",
            "\"a\"\r",
            "",
        ] {
            assert!(quotes_are_well_formed(good.as_bytes(), b','), "{good}");
        }
        for bad in ["\"a\"b\",c", "x,\"open", "x,\"a\" ,y"] {
            assert!(!quotes_are_well_formed(bad.as_bytes(), b','), "{bad}");
        }
        assert!(!quotes_are_well_formed(b"\"a\"x;b", b';'));
    }

    #[test]
    fn field_start_finds_a_field_after_quoted_ones_and_stops_at_the_last() {
        let record = b"\"a,\"\"b\",c\"d,,\"e\nf\",g";
        let starts: Vec<_> = (0..6).map(|i| field_start(record, b',', i)).collect();
        assert_eq!(
            starts,
            [Some(0), Some(8), Some(12), Some(13), Some(19), None]
        );
        assert_eq!(
            field_start(b"a,", b',', 1),
            Some(2),
            "a trailing empty field"
        );
        assert_eq!(
            field_start(b"\"a\"b,c", b',', 1),
            None,
            "after malformed quotes"
        );
    }

    fn cells(record: &ByteRecord) -> Vec<String> {
        record
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect()
    }

    #[test]
    fn one_splitter_splits_record_after_record() {
        let mut splitter = FieldSplitter::new(b',');
        assert_eq!(cells(splitter.split(b"a,\"b,c\",d")), ["a", "b,c", "d"]);
        assert_eq!(cells(splitter.split(b"x")), ["x"]);
        assert_eq!(
            cells(splitter.split(b"\"q\"\"1\nline\",,")),
            ["q\"1\nline", "", ""]
        );
    }

    #[test]
    fn text_after_a_closing_quote_names_its_field() {
        let after = |bytes: &[u8]| text_after_closing_quote(bytes, b',');
        assert_eq!(after(b"c5,replace,/x,\"a\"b\""), Some(3));
        assert_eq!(after(b"\"a\" ,b"), Some(0));
        assert_eq!(after(b"c5,\"a\"\"b\",\"\",x"), None);
        assert_eq!(after(b"a\"b,\"multi\nline\"\r"), None);
        assert_eq!(after(b"a,\"never closed"), None);
        assert_eq!(after(b""), None);
    }

    #[test]
    fn an_empty_record_has_no_fields() {
        let mut splitter = FieldSplitter::new(b';');
        assert_eq!(cells(splitter.split(b"a;b")), ["a", "b"]);
        assert!(splitter.split(b"").is_empty());
    }
}
