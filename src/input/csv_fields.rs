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
    let mut field = 0;
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] != b'"' {
            // An unquoted field: skip to the next delimiter.
            match memchr::memchr(delimiter, &bytes[at..]) {
                Some(offset) => at += offset + 1,
                None => return None,
            }
            field += 1;
            continue;
        }
        at = closing_quote(bytes, at + 1)? + 1;
        match bytes.get(at) {
            None => return None,
            Some(&b) if b == delimiter => at += 1,
            Some(b'\r') if at + 1 == bytes.len() => return None,
            Some(_) => return Some(field),
        }
        field += 1;
    }
    None
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
