//! CSV records: the header first, then one [`InputRecord`] per data record, each either a
//! row or a [`RecordContent::Malformed`] saying what is wrong with it.

use std::io::{BufRead, Seek};
use std::sync::Arc;

use csv::ByteRecord;

use super::blocks::BlockReader;
use super::csv_fields::{FieldSplitter, text_after_closing_quote};
use super::csv_header::{Columns, Header, HeaderFault};
use super::csv_plain::LineShape;
use super::csv_split::{CsvSplitter, Ending, RawRecord};
use super::text::{not_utf8, quoted, strip_terminator, too_long};
use super::{
    InputError, InputRecord, InputSource, LineRef, MalformedKind, RecordContent, RowCells,
};
use super::{RowRef, Span};

/// The records of one CSV input, in line order.
pub struct CsvRecords<R> {
    splitter: CsvSplitter<R>,
    fields: FieldSplitter,
    name: String,
    input: u32,
    delimiter: u8,
    limit: usize,
    header: Option<Arc<Header>>,
    /// Whether a data record was read.
    any_rows: bool,
    /// What a plain line looks like, once the header is read and has every required
    /// column; `None` before, or when only the general path can read the file.
    shape: Option<Arc<LineShape>>,
    /// Where plain cells with doubled quotes are undone.
    scratch: String,
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
            shape: None,
            scratch: String::new(),
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
                    let header = Header::new(fields);
                    self.shape = header
                        .columns()
                        .ok()
                        .and_then(|columns| {
                            LineShape::new(self.delimiter, header.names.len(), columns)
                        })
                        .map(Arc::new);
                    self.header = Some(Arc::new(header));
                }
                Some(header) => {
                    let content = content(header, &raw, fields, (self.delimiter, self.limit));
                    return Ok(Some(record(self.input, &raw, content)));
                }
            }
        }
        Ok(None)
    }

    /// The next record when it is a plain row, copied into [`RowCells`]; anything else
    /// is left to [`CsvRecords::next_record`]'s general path, which says what is wrong. A
    /// plain row is one line of UTF-8 with as many fields as the header, quotes only
    /// around whole fields (see `csv_plain`), under a header with every required column,
    /// whole in the reader's buffer.
    fn next_plain_row(&mut self) -> std::io::Result<Option<InputRecord>> {
        let Some(shape) = &self.shape else {
            return Ok(None);
        };
        let (buf, offset, line) = self.splitter.buffered()?;
        let mut scan = shape.scan(buf);
        let Some(plain) = scan.next_line().filter(|l| l.end - l.start <= self.limit) else {
            return Ok(None);
        };
        let [id, op, path, value, if_match] = plain.cells(&mut self.scratch);
        let record = InputRecord {
            row: RowRef {
                at: LineRef {
                    input: self.input,
                    line,
                },
                span: Span {
                    start: offset + plain.start as u64,
                    end: offset + plain.end as u64,
                },
            },
            content: RecordContent::CsvRow(RowCells::new(id, op, path, value, if_match)),
        };
        let used = plain.end;
        self.any_rows = true;
        self.splitter.consume_lines(used, 1);
        Ok(Some(record))
    }

    /// A reader of this input's lines into blocks, from where this reader is, for
    /// threads that scan parts of each block at once; `None` while plain lines cannot be
    /// read (before the header, or under one that lacks a column).
    pub fn blocks_from_here(
        &self,
        source: &InputSource,
        block_bytes: usize,
    ) -> Option<std::io::Result<BlockReader>> {
        let shape = self.shape.as_ref()?;
        let general = GeneralReader {
            header: Arc::clone(self.header.as_ref()?),
            delimiter: self.delimiter,
            limit: self.limit,
            input: self.input,
            spare: Default::default(),
        };
        let (offset, line) = self.splitter.position();
        Some(BlockReader::open(
            source,
            (offset, line),
            (Arc::clone(shape), Arc::new(general)),
            block_bytes,
        ))
    }

    /// Goes on from `offset`, the start of line `line`, where a reader of blocks left off.
    pub fn seek_to(&mut self, offset: u64, line: u64) -> std::io::Result<()> {
        self.done = false;
        self.splitter.seek_to(offset, line)
    }
}

/// The general path over bytes in memory, for the records of a block that are not plain
/// lines (see `input::blocks`): each read as [`CsvRecords`] reads it, under the same
/// header.
pub struct GeneralReader {
    header: Arc<Header>,
    delimiter: u8,
    limit: usize,
    input: u32,
    /// Splitters to use again: making one (a `csv` reader and its buffers) cost more
    /// than splitting a record.
    spare: std::sync::Mutex<Vec<FieldSplitter>>,
}

impl std::fmt::Debug for GeneralReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneralReader")
            .field("input", &self.input)
            .finish_non_exhaustive()
    }
}

/// One record [`GeneralReader::record_at`] read.
#[derive(Debug)]
pub struct GeneralRecord {
    /// The record, its span counted from the bytes' start; `None` for a blank line.
    pub record: Option<InputRecord>,
    /// Its bytes, terminator included.
    pub len: usize,
    /// The lines it takes.
    pub lines: u64,
}

impl GeneralReader {
    /// The longest a record may be.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The number of the input it reads.
    pub fn input(&self) -> u32 {
        self.input
    }

    /// A reader under the header `header` (comma-separated) of input `input`.
    #[cfg(test)]
    pub(crate) fn for_tests(header: &str, limit: usize, input: u32) -> Self {
        let mut fields = FieldSplitter::new(b',');
        GeneralReader {
            header: Arc::new(Header::new(fields.split(header.as_bytes()))),
            delimiter: b',',
            limit,
            input,
            spare: Default::default(),
        }
    }

    fn with_spare<T>(&self, with: impl FnOnce(&mut Vec<FieldSplitter>) -> T) -> T {
        with(
            &mut self
                .spare
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// The record at the start of `bytes`, starting on line `line`; `None` when it does not
    /// end within `bytes` (a quoted field still open at their end) or is longer than a
    /// record may be, which only the reader of the whole input can judge.
    pub fn record_at(&self, bytes: &[u8], line: u64) -> Option<GeneralRecord> {
        let mut splitter =
            CsvSplitter::new(std::io::Cursor::new(bytes), 0, self.delimiter, self.limit);
        splitter.seek_to(0, line).ok()?;
        let raw = splitter.next_record().ok()??;
        if raw.truncated || raw.ending != Ending::Complete {
            return None;
        }
        let (_, next_line) = splitter.position();
        let len = usize::try_from(raw.end).ok()?;
        let record = (!is_blank(&raw, self.delimiter)).then(|| {
            let spare = |spare: &mut Vec<FieldSplitter>| spare.pop();
            let mut fields = self
                .with_spare(spare)
                .unwrap_or_else(|| FieldSplitter::new(self.delimiter));
            let split = fields.split(strip_terminator(&raw.bytes));
            let content = content(&self.header, &raw, split, (self.delimiter, self.limit));
            self.with_spare(|spare| spare.push(fields));
            record(self.input, &raw, content)
        });
        Some(GeneralRecord {
            record,
            len,
            lines: next_line - line,
        })
    }
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
        let message = field_count_message(raw, fields.len(), header.names.len(), delimiter);
        return malformed(cell(fields, columns.id), None, message);
    }
    if let Some(field) = text_after_closing_quote(strip_terminator(&raw.bytes), delimiter) {
        let name = header.field_name(field);
        let message = format!(
            "field {} has text after its closing quote{}; a quote inside a quoted field is \
             written twice (\"say \"\"hi\"\"\"), and a field that starts with a quote must end \
             with one",
            quoted(&name),
            over_lines(raw)
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
pub(crate) fn cell_before(fields: &ByteRecord, index: usize, bound: usize) -> Option<String> {
    (index < bound).then(|| cell(fields, index)).flatten()
}

/// Why `raw`, a record of `fields` fields, does not fit a header of `columns`, and what
/// to do; for a record over several lines, which lines a quoted cell took in.
pub(crate) fn field_count_message(
    raw: &RawRecord,
    fields: usize,
    columns: usize,
    delimiter: u8,
) -> String {
    let plural = if fields == 1 { "" } else { "s" };
    let delimiter = char::from(delimiter);
    let hint = match fields < columns {
        true => format!(
            "give every column a cell, an empty one too (a{delimiter}b{delimiter}{delimiter}d)"
        ),
        false => format!(
            "quote a value that holds the delimiter (\"a{delimiter} b\"), or drop the extra cells"
        ),
    };
    let over_lines = over_lines(raw);
    format!("record has {fields} field{plural} where the header has {columns}{over_lines}; {hint}")
}

/// For a malformed record over several lines, which lines a quoted cell took in: a quote
/// never closed reads the lines after it as part of its cell, up to the next quote.
pub(crate) fn over_lines(raw: &RawRecord) -> String {
    let breaks = memchr::memchr_iter(b'\n', strip_terminator(&raw.bytes)).count() as u64;
    match breaks {
        0 => String::new(),
        _ => format!(
            " (a quoted cell opened on line {} runs on to line {}, which this record takes \
             in: if its closing quote is missing, add it)",
            raw.line,
            raw.line + breaks
        ),
    }
}

#[cfg(test)]
#[path = "csv_rows_tests.rs"]
mod tests;
