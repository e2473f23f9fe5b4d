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
    fn an_empty_record_has_no_fields() {
        let mut splitter = FieldSplitter::new(b';');
        assert_eq!(cells(splitter.split(b"a;b")), ["a", "b"]);
        assert!(splitter.split(b"").is_empty());
    }
}
