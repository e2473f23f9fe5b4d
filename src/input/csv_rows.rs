//! CSV records: the header first, then one [`InputRecord`] per data record, each either a
//! row or a [`RecordContent::Malformed`] saying what is wrong with it.

use std::io::{BufRead, Seek};

use csv::ByteRecord;

use super::csv_fields::{FieldSplitter, text_after_closing_quote};
use super::csv_header::{Columns, Header, HeaderFault};
use super::csv_split::{CsvSplitter, Ending, RawRecord};
use super::text::{not_utf8, quoted, strip_terminator, too_long};
use super::{InputError, InputRecord, LineRef, MalformedKind, RecordContent, RowCells};
use super::{RowRef, Span};

/// The records of one CSV input, in line order.
pub struct CsvRecords<R> {
    splitter: CsvSplitter<R>,
    fields: FieldSplitter,
    name: String,
    input: u32,
    delimiter: u8,
    limit: usize,
    header: Option<Header>,
    /// Whether a data record was read.
    any_rows: bool,
    done: bool,
}

impl<R: BufRead + Seek> CsvRecords<R> {
    /// Records of input number `input` (named `name`), read from `reader` at `offset`.
    pub fn new(
        reader: R,
        offset: u64,
        name: &str,
        input: u32,
        delimiter: u8,
        limit: usize,
    ) -> Self {
        CsvRecords {
            splitter: CsvSplitter::new(reader, offset, delimiter, limit),
            fields: FieldSplitter::new(delimiter),
            name: name.to_string(),
            input,
            delimiter,
            limit,
            header: None,
            any_rows: false,
            done: false,
        }
    }

    /// At the end of a file with no data records: a header that is not a row-form header
    /// (a JSONL file named `.csv`, say) gets a warning, as no row will report it.
    fn warn_if_unreadable(&self) {
        let Some(header) = self.header.as_ref().filter(|_| !self.any_rows) else {
            return;
        };
        if let Err(fault) = header.columns() {
            tracing::warn!(
                "{}: the file has no data rows, and {}; is it a CSV file of updates?",
                self.name,
                header.fault_message(&fault)
            );
        }
    }

    /// The next data record, reading the header on the way; `None` at the end.
    fn next_record(&mut self) -> std::io::Result<Option<InputRecord>> {
        if let Some(plain) = self.next_plain_row()? {
            return Ok(Some(plain));
        }
        while let Some(raw) = self.splitter.next_record()? {
            if is_blank(&raw, self.delimiter) {
                continue;
            }
            let fields = self.fields.split(strip_terminator(&raw.bytes));
            match &self.header {
                None => {
                    if fields
                        .get(0)
                        .is_some_and(|c| c.trim_ascii_start().starts_with(b"{"))
                    {
                        tracing::warn!(
                            "{} line {}: the header looks like a JSON object; a JSONL file \
                             must be named .jsonl (the extension decides the format), or read \
                             from stdin",
                            self.name,
                            raw.line
                        );
                    }
                    self.header = Some(Header::new(fields));
                }
                Some(header) => {
                    let content = content(header, &raw, fields, (self.delimiter, self.limit));
                    return Ok(Some(record(self.input, &raw, content)));
                }
            }
        }
        Ok(None)
    }

    /// The next record when it is a plain row: one line, no quotes, UTF-8, as many fields
    /// as the header, and the header has every required column. That is nearly every row,
    /// and it is read straight from the reader's buffer into [`RowCells`]; anything else
    /// is left to [`CsvRecords::next_record`]'s general path, which says what is wrong.
    fn next_plain_row(&mut self) -> std::io::Result<Option<InputRecord>> {
        let Some(header) = &self.header else {
            return Ok(None);
        };
        let Ok(columns) = header.columns() else {
            return Ok(None);
        };
        let (width, delimiter, input) = (header.names.len(), self.delimiter, self.input);
        self.splitter.next_plain_line(|bytes, at| {
            let cells = plain_cells(strip_terminator(bytes), delimiter, width, columns)?;
            Some(InputRecord {
                row: RowRef {
                    at: LineRef {
                        input,
                        line: at.line,
                    },
                    span: Span {
                        start: at.start,
                        end: at.end,
                    },
                },
                content: RecordContent::CsvRow(cells),
            })
        })
    }
}

/// The cells of a quote-free line with exactly `width` fields, all UTF-8; `None` for a
/// line the general path must judge (blank, wrong field count, not UTF-8, or a delimiter
/// that is not ASCII and so could split a character).
fn plain_cells(line: &[u8], delimiter: u8, width: usize, columns: Columns) -> Option<RowCells> {
    if !delimiter.is_ascii() || line.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let text = std::str::from_utf8(line).ok()?;
    let mut wanted = [""; 5];
    let mut fields = 0;
    let mut start = 0;
    let ends = memchr::memchr_iter(delimiter, line).chain([line.len()]);
    for (index, end) in ends.enumerate() {
        // An ASCII delimiter always sits between characters, so `get` never fails here.
        let cell = text.get(start..end)?;
        start = end + 1;
        fields += 1;
        let slot = match index {
            i if i == columns.id => 0,
            i if i == columns.op => 1,
            i if i == columns.path => 2,
            i if i == columns.value => 3,
            i if Some(i) == columns.if_match => 4,
            _ => continue,
        };
        wanted[slot] = cell;
    }
    let [id, op, path, value, if_match] = wanted;
    (fields == width).then(|| RowCells::new(id, op, path, value, if_match))
}

/// The record of input number `input` for one raw data record holding `content`.
pub(crate) fn record(input: u32, raw: &RawRecord, content: RecordContent) -> InputRecord {
    InputRecord {
        row: RowRef {
            at: LineRef {
                input,
                line: raw.line,
            },
            span: Span {
                start: raw.start,
                end: raw.end,
            },
        },
        content,
    }
}

impl<R: BufRead + Seek> Iterator for CsvRecords<R> {
    type Item = Result<InputRecord, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_record().transpose();
        match next {
            Some(Ok(_)) => self.any_rows = true,
            None => {
                self.warn_if_unreadable();
                self.done = true;
            }
            Some(Err(_)) => self.done = true,
        }
        next.map(|r| r.map_err(|source| super::open::io_error(&self.name, source)))
    }
}

/// A line of nothing but whitespace is no record (unless the whitespace is the delimiter).
pub(crate) fn is_blank(raw: &RawRecord, delimiter: u8) -> bool {
    !raw.truncated
        && raw
            .bytes
            .iter()
            .all(|&b| b.is_ascii_whitespace() && b != delimiter)
}

/// What a data record holds, or why it is malformed.
fn content(
    header: &Header,
    raw: &RawRecord,
    fields: &ByteRecord,
    (delimiter, limit): (u8, usize),
) -> RecordContent {
    let columns = match header.columns() {
        Ok(columns) => columns,
        Err(fault) => return malformed_column(header, fields, &fault),
    };
    if raw.truncated {
        let id = cell_before(fields, columns.id, fields.len().saturating_sub(1));
        return malformed(id, None, too_long("record", limit));
    }
    if let Ending::Unterminated { field } = raw.ending {
        return unterminated(header, columns, fields, field);
    }
    if fields.len() != header.names.len() {
        let plural = if fields.len() == 1 { "" } else { "s" };
        let message = format!(
            "record has {} field{plural} where the header has {}",
            fields.len(),
            header.names.len()
        );
        return malformed(cell(fields, columns.id), None, message);
    }
    if let Some(field) = text_after_closing_quote(strip_terminator(&raw.bytes), delimiter) {
        let name = header.field_name(field);
        let message = format!(
            "field {} has text after its closing quote; a quote inside a quoted field is \
             written twice (\"say \"\"hi\"\"\"), and a field that starts with a quote must end \
             with one",
            quoted(&name)
        );
        return malformed(cell(fields, columns.id), Some(name), message);
    }
    row(header, columns, fields).unwrap_or_else(|column| {
        let message = not_utf8(&format!("column {}", quoted(&column)));
        malformed(cell(fields, columns.id), Some(column), message)
    })
}

/// A row of a file whose header cannot be read row by row.
fn malformed_column(header: &Header, fields: &ByteRecord, fault: &HeaderFault) -> RecordContent {
    let (code, field) = match fault {
        HeaderFault::Missing(missing) => (MalformedKind::MissingColumn, missing.first()),
        HeaderFault::Repeated { field, .. } => (MalformedKind::Record, Some(field)),
    };
    RecordContent::Malformed {
        id: header.id.and_then(|index| cell(fields, index)),
        code,
        field: field.map(|name| name.to_string()),
        message: header.fault_message(fault),
    }
}

/// A record whose quote in `field` is never closed (cut back to its first line).
fn unterminated(
    header: &Header,
    columns: Columns,
    fields: &ByteRecord,
    field: usize,
) -> RecordContent {
    let name = header.field_name(field);
    let message = format!(
        "unterminated quote in field {}: the quote opened on this line is never closed; \
         the lines after it were read as records of their own",
        quoted(&name)
    );
    malformed(cell_before(fields, columns.id, field), Some(name), message)
}

/// A well-formed row, or the name of a column whose cell is not UTF-8.
fn row(header: &Header, columns: Columns, fields: &ByteRecord) -> Result<RecordContent, String> {
    let text = |index: usize| {
        let bytes = fields.get(index).unwrap_or_default();
        std::str::from_utf8(bytes).map_err(|_| header.field_name(index))
    };
    // Checked in this order so the first column at fault is the one named.
    let (id, op, path, value) = (
        text(columns.id)?,
        text(columns.op)?,
        text(columns.path)?,
        text(columns.value)?,
    );
    let if_match = match columns.if_match {
        Some(index) => text(index)?,
        None => "",
    };
    Ok(RecordContent::CsvRow(RowCells::new(
        id, op, path, value, if_match,
    )))
}

/// A `malformed_record` with what could be read.
fn malformed(id: Option<String>, field: Option<String>, message: String) -> RecordContent {
    RecordContent::Malformed {
        id,
        code: MalformedKind::Record,
        field,
        message,
    }
}

/// The cell at `index` as text, where it exists and is UTF-8.
fn cell(fields: &ByteRecord, index: usize) -> Option<String> {
    String::from_utf8(fields.get(index)?.to_vec()).ok()
}

/// The cell at `index` where it lies before `bound`, the first cell that may be cut short.
fn cell_before(fields: &ByteRecord, index: usize, bound: usize) -> Option<String> {
    (index < bound).then(|| cell(fields, index)).flatten()
}

#[cfg(test)]
#[path = "csv_rows_tests.rs"]
mod tests;
