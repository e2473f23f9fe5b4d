//! Input: reads CSV and JSONL files (or stdin) into raw records, one per row or document,
//! each with the physical line it starts on and its byte span for the rejects file.
//!
//! This stage only knows the shape of records (columns, JSON keys); what their values mean
//! is the planner's business. A record that cannot be read becomes a
//! [`RecordContent::Malformed`] record, never an `Err`: an `Err` is only for an input that
//! cannot be opened or read at all, which stops the run before anything is sent.

use std::path::PathBuf;

mod background;
mod blocks;
mod csv_fields;
mod csv_header;
mod csv_plain;
mod csv_rows;
mod csv_split;
mod encoding;
mod format;
mod json_form;
mod json_keys;
mod json_salvage;
mod jsonl;
mod line_ends;
mod lines;
pub mod mapping;
mod open;
#[cfg(test)]
mod props;
mod records;
mod row_cells;
mod text;

pub use background::{RecordStream, read_in_background, read_with_parsers};
pub use blocks::{BlockLine, BlockReader, BlockRecord, Found, LineBlock, PartScanned};
pub use csv_fields::{field_start, quotes_are_well_formed};
pub use csv_rows::CsvRecords;
pub use encoding::{EncodingError, parse_encoding};
pub use format::{BOM, file_format, format_from_extension, sniff_format, stdin_format};
pub use json_form::EXTERNAL_ID;
pub use json_keys::{from_str_unique, without_line};
pub use jsonl::JsonlRecords;
pub use line_ends::{FoundReturns, SourceFile};
pub use lines::MAX_RECORD_BYTES;
pub use open::{STDIN_NAME, open_inputs};
pub use records::{Records, read_records};
pub use row_cells::{CellsBuf, CellsRef, RowCells};

/// Which input a line belongs to and the 1-based physical line its record starts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LineRef {
    /// Index of the input in the order given on the command line.
    pub input: u32,
    /// 1-based physical line (a CSV header is line 1; a BOM is not a line).
    pub line: u64,
}

/// Byte range `[start, end)` of a record in its (possibly spooled) input file, terminator
/// included, so the rejects file can copy the row verbatim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    /// Offset of the record's first byte.
    pub start: u64,
    /// Offset just past the record's last byte.
    pub end: u64,
}

/// Where one input row came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowRef {
    /// Its line.
    pub at: LineRef,
    /// Its bytes.
    pub span: Span,
}

/// The two input formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Comma- (or `--delimiter`-) separated values with a header row.
    Csv,
    /// One JSON object per line: the row form or the document form.
    Jsonl,
}

/// One input as given on the command line, opened and ready to read.
#[derive(Clone, Debug)]
pub struct InputSource {
    /// The name as given on the command line (`-` for stdin); used in messages.
    pub name: String,
    /// The file to read; for stdin, the temporary file it was spooled to.
    pub path: PathBuf,
    /// Its format, from `--format`, the extension, or (stdin) its first byte.
    pub format: Format,
    /// Keeps stdin's spool file alive as long as the source is; `None` for real files.
    pub spool: Option<std::sync::Arc<tempfile::TempPath>>,
    /// Its lone carriage returns, once a reader has found them (`input::line_ends`).
    pub found_returns: FoundReturns,
}

/// A value as read: CSV cells are text to be converted by the value rules; JSON is typed.
#[derive(Clone, Debug, PartialEq)]
pub enum RawValue {
    /// A CSV cell.
    Text(String),
    /// A JSON value from a JSONL line.
    Json(serde_json::Value),
    /// A JSONL line's number with more significant digits than a JSON number keeps
    /// exactly, as written: it cannot be sent as written, so planning refuses it.
    InexactNumber(String),
}

/// One operation as read, not yet validated.
#[derive(Clone, Debug, PartialEq)]
pub struct RawOp {
    /// `op` as written (case not yet folded).
    pub op: String,
    /// `path` as written.
    pub path: String,
    /// `value` as read.
    pub value: RawValue,
}

impl RawOp {
    /// The operation, borrowed.
    pub fn as_ref(&self) -> RawOpRef<'_> {
        RawOpRef {
            op: &self.op,
            path: &self.path,
            value: match &self.value {
                RawValue::Text(text) => RawValueRef::Text(text),
                RawValue::Json(value) => RawValueRef::Json(value),
                RawValue::InexactNumber(text) => RawValueRef::InexactNumber(text),
            },
        }
    }
}

/// A value as read, borrowed from its record: what the planner checks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RawValueRef<'a> {
    /// A CSV cell.
    Text(&'a str),
    /// A JSON value from a JSONL line.
    Json(&'a serde_json::Value),
    /// A JSONL line's number that a JSON number cannot keep exactly, as written.
    InexactNumber(&'a str),
}

/// One operation as read, borrowed from its record: what the planner checks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RawOpRef<'a> {
    /// `op` as written (case not yet folded).
    pub op: &'a str,
    /// `path` as written.
    pub path: &'a str,
    /// `value` as read.
    pub value: RawValueRef<'a>,
}

/// What one record holds.
#[derive(Clone, Debug, PartialEq)]
pub enum RecordContent {
    /// Row form read from CSV: one operation on one referral, its cells as text.
    CsvRow(RowCells),
    /// Row form read from JSONL: one operation on one referral.
    Row {
        /// Referral ID as written (may be empty; the planner judges it).
        id: String,
        /// The operation.
        op: RawOp,
        /// `if_match` as written, `None` where absent or empty.
        if_match: Option<String>,
    },
    /// Document form: a whole patch document for one referral.
    Document {
        /// Referral ID as written.
        id: String,
        /// `if_match` as written, `None` where absent or empty.
        if_match: Option<String>,
        /// The operations, in order.
        patch: Vec<RawOp>,
        /// For a row of a wide CSV read through a mapping, the column that gave each
        /// operation, which errors name; empty for a JSONL line, whose fields are
        /// `patch[i].op` and so on.
        columns: Vec<String>,
        /// For a mapped row, the column that gave the ID, which an ID error names; `None`
        /// for a JSONL line, whose field is `id`.
        id_column: Option<String>,
        /// Whether `id` is a CRM ID, to be resolved through the referrals'
        /// `externalReferenceId` before sending (a row read through a lookup mapping, or a
        /// document-form line that names its referral by `externalReferenceId`).
        by_external_id: bool,
    },
    /// A record that could not be read as a row or document.
    Malformed {
        /// The referral ID, where it could still be read.
        id: Option<String>,
        /// `malformed_record` or `missing_column`.
        code: MalformedKind,
        /// The field (column or key) at fault, where one is.
        field: Option<String>,
        /// What is wrong, for a user.
        message: String,
    },
}

impl RecordContent {
    /// The referral ID as written; empty where the record has none (or it cannot be read).
    pub fn referral_id(&self) -> &str {
        match self {
            RecordContent::CsvRow(cells) => cells.borrowed().id(),
            RecordContent::Row { id, .. } | RecordContent::Document { id, .. } => id,
            RecordContent::Malformed { id, .. } => id.as_deref().unwrap_or_default(),
        }
    }
}

/// Why a record is malformed; maps to the report's planning error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MalformedKind {
    /// The CSV record or JSON line cannot be read (`malformed_record`).
    Record,
    /// The CSV file lacks a required column (`missing_column`).
    MissingColumn,
    /// A mapped cell breaks its column's format or its field's value rules (`invalid_value`).
    Value,
    /// A mapped row's ID cell is empty or unreadable (`invalid_id`, as an empty `id` is in
    /// the row form).
    Id,
}

/// One record read from an input.
#[derive(Clone, Debug, PartialEq)]
pub struct InputRecord {
    /// Where it came from.
    pub row: RowRef,
    /// What it holds.
    pub content: RecordContent,
}

/// Options that shape how inputs are read.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Format for inputs whose extension does not say (`--format`).
    pub format: Option<Format>,
    /// CSV delimiter (`--delimiter`), `,` by default.
    pub delimiter: u8,
    /// Input encoding (`--encoding`), UTF-8 by default; other encodings are transcoded to
    /// a UTF-8 spool file when the input is opened.
    pub encoding: &'static encoding_rs::Encoding,
    /// Column mapping (`--mapping`): CSV inputs are wide exports read through it.
    pub mapping: Option<std::sync::Arc<mapping::Mapping>>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            format: None,
            delimiter: b',',
            encoding: encoding_rs::UTF_8,
            mapping: None,
        }
    }
}

/// An input that cannot be read at all: the run stops before anything is sent.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be opened or read.
    #[error("cannot read input {name}: {source}; check the path and its permissions")]
    Io {
        /// The input as given.
        name: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The input is not text in the encoding it was said to be in.
    #[error(transparent)]
    Encoding(#[from] EncodingError),
    /// The format could not be told from the extension.
    #[error(
        "cannot tell the format of input {name} from its extension; use --format csv or --format jsonl"
    )]
    UnknownFormat {
        /// The input as given.
        name: String,
    },
}
