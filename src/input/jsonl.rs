//! JSONL records: one JSON object per physical line, blank lines skipped. A line that is
//! too long, not UTF-8 or not JSON is a malformed record, counted under its `id` where a
//! cheap scan can still find one.

use std::io::BufRead;

use super::json_form::{content, row_content, salvage_id};
use super::lines::{LineReader, PhysicalLine};
use super::text::{not_utf8, too_long};
use super::{InputError, InputRecord, LineRef, MalformedKind, RecordContent, RowRef, Span};

/// The records of one JSONL input, in line order.
pub struct JsonlRecords<R> {
    lines: LineReader<R>,
    name: String,
    input: u32,
    limit: usize,
    done: bool,
}

impl<R: BufRead> JsonlRecords<R> {
    /// Records of input number `input` (named `name`), read from `reader` at `offset`.
    pub fn new(reader: R, offset: u64, name: &str, input: u32, limit: usize) -> Self {
        JsonlRecords {
            lines: LineReader::new(reader, offset, limit),
            name: name.to_string(),
            input,
            limit,
            done: false,
        }
    }

    /// The next non-blank line's record; `None` at the end.
    fn next_record(&mut self) -> std::io::Result<Option<InputRecord>> {
        while let Some(line) = self.lines.next_line()? {
            if line.truncated || !line.bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(Some(self.record(&line)));
            }
        }
        Ok(None)
    }

    /// The record for one non-blank line.
    fn record(&self, line: &PhysicalLine) -> InputRecord {
        InputRecord {
            row: RowRef {
                at: LineRef {
                    input: self.input,
                    line: line.line,
                },
                span: Span {
                    start: line.start,
                    end: line.end,
                },
            },
            content: line_content(line, self.limit),
        }
    }
}

impl<R: BufRead> Iterator for JsonlRecords<R> {
    type Item = Result<InputRecord, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_record().transpose();
        if !matches!(next, Some(Ok(_))) {
            self.done = true;
        }
        next.map(|r| r.map_err(|source| super::open::io_error(&self.name, source)))
    }
}

/// What one line holds, or why it is malformed.
fn line_content(line: &PhysicalLine, limit: usize) -> RecordContent {
    if line.truncated {
        return malformed(&line.bytes, too_long("line", limit));
    }
    // A line read as a row is UTF-8: serde_json checks every string, and any other
    // non-ASCII byte is a syntax error. So the check is only needed on the slower path.
    if let Some(row) = row_content(&line.bytes) {
        return row;
    }
    if std::str::from_utf8(&line.bytes).is_err() {
        return malformed(&line.bytes, not_utf8("line"));
    }
    match serde_json::from_slice(&line.bytes) {
        Ok(value) => content(value),
        Err(error) => malformed(&line.bytes, json_message(&error)),
    }
}

/// A `malformed_record` for a line that is not JSON, under its `id` if one can be found.
fn malformed(bytes: &[u8], message: String) -> RecordContent {
    RecordContent::Malformed {
        id: salvage_id(bytes),
        code: MalformedKind::Record,
        field: None,
        message,
    }
}

/// serde_json's message with the column it points at; the line is already known.
fn json_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let what = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(what, _)| what);
    format!("invalid JSON at column {}: {what}", error.column())
}

#[cfg(test)]
#[path = "jsonl_tests.rs"]
mod tests;
