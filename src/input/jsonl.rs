//! JSONL records: one JSON object per physical line, blank lines skipped. A line that is
//! too long, not UTF-8 or not JSON is a malformed record, counted under its `id` where a
//! cheap scan can still find one.

use std::io::BufRead;

use super::json_form::{content, document_content, row_content, salvage_id};
use super::json_keys::repeated_key;
use super::lines::{LineAt, LineReader};
use super::text::{not_utf8, too_long};
use super::{InputError, InputRecord, LineRef, MalformedKind, RecordContent, RowRef, Span};

/// Lines, and bytes of them, handed out per batch by [`JsonlRecords`], which parses them at
/// once.
const RECORDS_BATCH: (usize, usize) = (64, 64 * 1024);

/// A batch of one JSONL input's non-blank lines, split off but not parsed yet: parsing is
/// most of the cost of reading JSONL, and a batch can be parsed on any thread.
#[derive(Debug)]
pub struct JsonlLines {
    input: u32,
    limit: usize,
    /// The lines' bytes, one after another.
    bytes: Vec<u8>,
    /// Each line, with where its bytes end in `bytes`.
    lines: Vec<(LineAt, usize)>,
}

impl JsonlLines {
    /// Parses every line, in order.
    pub fn records(&self) -> Vec<InputRecord> {
        let mut from = 0;
        let mut records = Vec::with_capacity(self.lines.len());
        for &(at, to) in &self.lines {
            records.push(self.record(at, &self.bytes[from..to]));
            from = to;
        }
        records
    }

    /// The record for one non-blank line.
    fn record(&self, at: LineAt, bytes: &[u8]) -> InputRecord {
        InputRecord {
            row: RowRef {
                at: LineRef {
                    input: self.input,
                    line: at.line,
                },
                span: Span {
                    start: at.start,
                    end: at.end,
                },
            },
            content: line_content(bytes, at.truncated, self.limit),
        }
    }
}

/// Splits one JSONL input into batches of lines, blank lines left out.
pub struct JsonlSplitter<R> {
    lines: LineReader<R>,
    input: u32,
    limit: usize,
    /// The error met after the lines of the batch last handed out, for the next call.
    pending: Option<std::io::Error>,
}

impl<R: BufRead> JsonlSplitter<R> {
    /// Lines of input number `input`, read from `reader` at `offset`, each held up to
    /// `limit` bytes.
    pub fn new(reader: R, offset: u64, input: u32, limit: usize) -> Self {
        JsonlSplitter {
            lines: LineReader::new(reader, offset, limit),
            input,
            limit,
            pending: None,
        }
    }

    /// The next batch of non-blank lines, up to `most_lines` of them and until they hold
    /// `most_bytes` (so a file of long lines is not held a thousand lines at a time);
    /// `None` at the end. The lines read before an error are handed out first, the error at
    /// the next call.
    pub fn next_batch(
        &mut self,
        most_lines: usize,
        most_bytes: usize,
    ) -> std::io::Result<Option<JsonlLines>> {
        if let Some(error) = self.pending.take() {
            return Err(error);
        }
        let mut batch = JsonlLines {
            input: self.input,
            limit: self.limit,
            bytes: Vec::new(),
            lines: Vec::new(),
        };
        while batch.lines.len() < most_lines && batch.bytes.len() < most_bytes {
            let held = batch.bytes.len();
            match self.lines.next_line_into(&mut batch.bytes) {
                Ok(Some(at)) if at.truncated || !is_blank(&batch.bytes[held..]) => {
                    batch.lines.push((at, batch.bytes.len()));
                }
                Ok(Some(_)) => batch.bytes.truncate(held),
                Ok(None) => break,
                Err(error) if batch.lines.is_empty() => return Err(error),
                Err(error) => {
                    self.pending = Some(error);
                    break;
                }
            }
        }
        Ok((!batch.lines.is_empty()).then_some(batch))
    }
}

/// Whether a line holds nothing but white space (its terminator included).
fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// The records of one JSONL input, in line order.
pub struct JsonlRecords<R> {
    lines: JsonlSplitter<R>,
    name: String,
    parsed: std::vec::IntoIter<InputRecord>,
    done: bool,
}

impl<R: BufRead> JsonlRecords<R> {
    /// Records of input number `input` (named `name`), read from `reader` at `offset`.
    pub fn new(reader: R, offset: u64, name: &str, input: u32, limit: usize) -> Self {
        JsonlRecords {
            lines: JsonlSplitter::new(reader, offset, input, limit),
            name: name.to_string(),
            parsed: Vec::new().into_iter(),
            done: false,
        }
    }
}

impl<R: BufRead> Iterator for JsonlRecords<R> {
    type Item = Result<InputRecord, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(record) = self.parsed.next() {
                return Some(Ok(record));
            }
            if self.done {
                return None;
            }
            let (most_lines, most_bytes) = RECORDS_BATCH;
            match self.lines.next_batch(most_lines, most_bytes) {
                Ok(Some(batch)) => self.parsed = batch.records().into_iter(),
                Ok(None) => self.done = true,
                Err(source) => {
                    self.done = true;
                    return Some(Err(super::open::io_error(&self.name, source)));
                }
            }
        }
    }
}

/// What one line holds, or why it is malformed.
fn line_content(bytes: &[u8], truncated: bool, limit: usize) -> RecordContent {
    if truncated {
        return malformed(bytes, too_long("line", limit));
    }
    // A line read as a row is UTF-8: serde_json checks every string, and any other
    // non-ASCII byte is a syntax error. So the check is only needed on the slower path.
    if let Some(record) = row_content(bytes).or_else(|| document_content(bytes)) {
        return record;
    }
    if std::str::from_utf8(bytes).is_err() {
        return malformed(bytes, not_utf8("line"));
    }
    // Without its line end, so that a line cut short is an error at its end, not at
    // column 0 of the line after.
    let line = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match serde_json::from_slice(line) {
        Ok(value) => match repeated_key(line) {
            None => content(value),
            Some(why) => malformed(bytes, format!("invalid JSON: {why}")),
        },
        Err(error) => malformed(bytes, json_message(&error)),
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
