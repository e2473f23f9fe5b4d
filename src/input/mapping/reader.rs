//! Reading a wide CSV through a mapping: the header is bound to the mapping's columns,
//! then each data record becomes one document-form record holding its row's operations,
//! with the record's own line and byte span, so the rejects file copies the CRM row
//! itself and the fixed row feeds straight back.

use std::io::{BufRead, Seek};
use std::sync::Arc;

use csv::ByteRecord;

use super::bind::{Bound, Unbound, bind};
use super::cells::{CellError, convert_row};
use super::{MappedOp, Mapping};
use crate::input::csv_fields::{FieldSplitter, text_after_closing_quote};
use crate::input::csv_rows::{cell_before, field_count_message, is_blank, over_lines, record};
use crate::input::csv_split::{CsvSplitter, Ending, RawRecord};
use crate::input::text::{quoted, strip_terminator, too_long};
use crate::input::{InputError, InputRecord, MalformedKind, RawOp, RawValue, RecordContent};

/// The header once read: its width and the mapping bound to it (or what it lacks).
struct Header {
    width: usize,
    /// The columns' names, for messages.
    names: Vec<String>,
    binding: Result<Bound, Unbound>,
}

/// The records of one wide CSV input read through a mapping, in line order.
pub struct MappedRecords<R> {
    splitter: CsvSplitter<R>,
    fields: FieldSplitter,
    mapping: Arc<Mapping>,
    name: String,
    input: u32,
    delimiter: u8,
    limit: usize,
    header: Option<Header>,
    done: bool,
}

impl<R: BufRead + Seek> MappedRecords<R> {
    /// Records of input number `input` (named `name`) read from `reader` at `offset`.
    pub fn new(
        reader: R,
        offset: u64,
        name: &str,
        input: u32,
        mapping: Arc<Mapping>,
        delimiter: u8,
        limit: usize,
    ) -> Self {
        MappedRecords {
            splitter: CsvSplitter::new(reader, offset, delimiter, limit),
            fields: FieldSplitter::new(delimiter),
            mapping,
            name: name.to_string(),
            input,
            delimiter,
            limit,
            header: None,
            done: false,
        }
    }

    /// The next data record, reading the header on the way; `None` at the end.
    fn next_record(&mut self) -> std::io::Result<Option<InputRecord>> {
        while let Some(raw) = self.splitter.next_record()? {
            if is_blank(&raw, self.delimiter) {
                continue;
            }
            // A copy, so the reader's own methods can read the fields: one allocation per
            // wide row is nothing beside converting its cells.
            let fields = self.fields.split(strip_terminator(&raw.bytes)).clone();
            let Some(header) = &self.header else {
                self.header = Some(self.bind_header(&fields));
                continue;
            };
            let content = self.content(header, &raw, &fields);
            return Ok(Some(record(self.input, &raw, content)));
        }
        Ok(None)
    }

    fn bind_header(&self, fields: &ByteRecord) -> Header {
        let names: Vec<String> = fields
            .iter()
            .map(|cell| String::from_utf8_lossy(cell).trim().to_string())
            .collect();
        Header {
            width: names.len(),
            binding: bind(&self.mapping, &names),
            names,
        }
    }

    /// What one data record holds, or why it cannot be read.
    fn content(&self, header: &Header, raw: &RawRecord, fields: &ByteRecord) -> RecordContent {
        let bound = match &header.binding {
            Ok(bound) => bound,
            Err(unbound) => return missing_columns(unbound, fields),
        };
        // A record that cannot be read still counts as a row of its ID, where the ID's
        // cell was read whole (before the field cut short), so that ID's document is
        // invalid rather than sent without it.
        let id = cell(fields, bound.id);
        let whole_id = |bound_at: usize| trimmed(cell_before(fields, bound.id, bound_at));
        if raw.truncated {
            let message = too_long("record", self.limit);
            let id = whole_id(fields.len().saturating_sub(1));
            return malformed(id, MalformedKind::Record, message);
        }
        if let Ending::Unterminated { field } = raw.ending {
            let message = "unterminated quote: the quote opened on this line is never closed; \
                           the lines after it were read as records of their own";
            return malformed(whole_id(field), MalformedKind::Record, message.into());
        }
        if fields.len() != header.width {
            let message = field_count_message(raw, fields.len(), header.width, self.delimiter);
            return malformed(trimmed(id), MalformedKind::Record, message);
        }
        if let Some(field) = text_after_closing_quote(strip_terminator(&raw.bytes), self.delimiter)
        {
            let column = header.names.get(field).map_or("", String::as_str);
            let message = after_quote_message(column, &over_lines(raw));
            return malformed(trimmed(id), MalformedKind::Record, message);
        }
        self.mapped(bound, id, fields)
    }

    /// A well-formed record through the mapping: a document, or what is wrong with it.
    fn mapped(&self, bound: &Bound, id: Option<String>, fields: &ByteRecord) -> RecordContent {
        let id_column = &self.mapping.id.column;
        let id = match id.map(|id| id.trim().to_string()) {
            Some(id) if !id.is_empty() => id,
            Some(_) => {
                let message = format!(
                    "column {} is empty: every row needs the ID",
                    quoted(id_column)
                );
                return empty_id(id_column, message);
            }
            None => {
                let message = format!(
                    "column {} is not valid UTF-8; give --encoding",
                    quoted(id_column)
                );
                return empty_id(id_column, message);
            }
        };
        let cells = bound.columns.iter().map(|&index| cell_str(fields, index));
        match convert_row(&self.mapping, cells) {
            // A row that maps to nothing (empty cells left as they are, a value mapped to
            // `{}`) is a document that changes nothing: reported `unchanged`, not sent.
            Ok(ops) => {
                let (columns, ops): (Vec<_>, Vec<_>) = ops.into_iter().unzip();
                RecordContent::Document {
                    id,
                    if_match: None,
                    patch: ops.into_iter().map(raw_op).collect(),
                    columns,
                    id_column: Some(id_column.clone()),
                    by_external_id: self.mapping.looks_up_ids(),
                }
            }
            Err(errors) => malformed(Some(id), MalformedKind::Value, joined(&errors)),
        }
    }
}

impl<R: BufRead + Seek> Iterator for MappedRecords<R> {
    type Item = Result<InputRecord, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_record().transpose();
        if !matches!(next, Some(Ok(_))) {
            self.done = true;
        }
        next.map(|r| r.map_err(|source| crate::input::open::io_error(&self.name, source)))
    }
}

fn raw_op(op: MappedOp) -> RawOp {
    RawOp {
        op: op.op.as_str().to_string(),
        path: op.path,
        value: RawValue::Json(op.value),
    }
}

fn missing_columns(unbound: &Unbound, fields: &ByteRecord) -> RecordContent {
    RecordContent::Malformed {
        id: unbound
            .id
            .and_then(|index| cell(fields, index))
            .map(|id| id.trim().to_string()),
        code: match unbound.repeated {
            true => MalformedKind::Record,
            false => MalformedKind::MissingColumn,
        },
        field: Some(unbound.first.clone()),
        message: unbound.message.clone(),
    }
}

/// A record whose ID cell cannot be used: the ID column is the field at fault.
fn empty_id(id_column: &str, message: String) -> RecordContent {
    RecordContent::Malformed {
        id: None,
        code: MalformedKind::Id,
        field: Some(id_column.to_string()),
        message,
    }
}

/// An ID cell as a malformed record's ID: trimmed, as a readable row's is; none if empty.
fn trimmed(id: Option<String>) -> Option<String> {
    id.map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty())
}

/// Why a record whose cell in `column` goes on after its closing quote is malformed: read
/// as the `csv` crate reads it, its value would be changed. `over_lines` says which lines
/// the quoted cell took in, if any.
fn after_quote_message(column: &str, over_lines: &str) -> String {
    format!(
        "column {} has text after its closing quote{over_lines}; a quote inside a quoted cell \
         is written twice (\"say \"\"hi\"\"\"), and a cell that starts with a quote must end \
         with one",
        quoted(column)
    )
}

fn malformed(id: Option<String>, code: MalformedKind, message: String) -> RecordContent {
    RecordContent::Malformed {
        id,
        code,
        field: None,
        message,
    }
}

fn joined(errors: &[CellError]) -> String {
    errors
        .iter()
        .map(|e| e.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The cell at `index` as text, where it exists and is UTF-8.
fn cell(fields: &ByteRecord, index: usize) -> Option<String> {
    cell_str(fields, index).map(str::to_string)
}

fn cell_str(fields: &ByteRecord, index: usize) -> Option<&str> {
    std::str::from_utf8(fields.get(index)?).ok()
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
