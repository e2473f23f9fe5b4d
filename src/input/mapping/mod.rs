//! Column mapping (`--mapping FILE.toml`): reads a wide CRM export — one row per
//! opportunity, one column per field — as one document-form record per row.
//!
//! The mapping says which column holds the referral ID (or the CRM ID to look up by
//! `externalReferenceId`) and, for each other column, the path it sets, with an optional
//! value map, number format, date format and time zone, and what an empty cell means.
//! `docs/mapping.md` documents the file.
//!
//! Cells are converted here all the way to typed JSON ([`crate::input::RawValue::Json`]),
//! not left as text for the planner, because only this stage knows which CSV column a
//! value came from: a cell that fails names its line and column. The planner re-checks the
//! typed values against the schema as it does for JSONL, which costs little and keeps it
//! the one judge of what is sent.

mod bind;
mod cells;
mod compile;
mod date;
mod error;
mod number;
mod reader;
mod spec;
mod table;
mod values;

pub use date::DateFormat;
pub use error::{Located, MappingError};
pub use number::NumberFormat;
pub use reader::MappedRecords;
pub use spec::{Empty, Op, Unmapped};
pub use values::ValueMap;

use crate::schema::Node;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A checked mapping file.
#[derive(Clone, Debug, PartialEq)]
pub struct Mapping {
    /// The mapping file, for messages.
    pub file: PathBuf,
    /// Where the referral ID comes from.
    pub id: IdRule,
    /// The mapped columns, in the file's order (the order their operations are sent).
    pub columns: Vec<ColumnRule>,
}

impl Mapping {
    /// Reads and checks a mapping file.
    pub fn load(file: &Path) -> Result<Mapping, MappingError> {
        let text = std::fs::read_to_string(file).map_err(|source| MappingError::Io {
            file: file.to_path_buf(),
            source,
        })?;
        Mapping::parse(file, &text)
    }

    /// Checks the text of a mapping file; `file` names it in messages.
    pub fn parse(file: &Path, text: &str) -> Result<Mapping, MappingError> {
        compile::compile(file, text).map_err(|errors| MappingError::Invalid {
            file: file.to_path_buf(),
            errors,
        })
    }

    /// Whether the ID column holds CRM IDs to resolve through the API before sending.
    pub fn looks_up_ids(&self) -> bool {
        self.id.lookup.is_some()
    }

    /// `mapping.toml line 12`, for messages about a rule.
    fn at_line(&self, line: usize) -> String {
        let name = self.file.file_name().unwrap_or(self.file.as_os_str());
        format!("{} line {line}", name.to_string_lossy())
    }
}

/// Where the referral ID comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdRule {
    /// The CSV column that holds it.
    pub column: String,
    /// Its line in the mapping file.
    pub line: usize,
    /// How the column's value becomes a referral ID; `None`: it is one.
    pub lookup: Option<Lookup>,
}

/// A referral field the CRM's ID is looked up by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The referral's `externalReferenceId` (the partner's own CRM ID).
    ExternalReferenceId,
}

/// One mapped column.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnRule {
    /// The CSV column's name (matched trimmed and case-insensitively).
    pub name: String,
    /// Its line in the mapping file.
    pub line: usize,
    /// What an empty cell means.
    pub empty: Empty,
    /// The line of the `empty` setting that applies (the column's or `[defaults]`'), cited
    /// when an empty cell is refused.
    pub empty_line: usize,
    /// The operation of its path (and of its value map's entries).
    pub op: Op,
    /// The path a cell sets, where the column has one.
    pub target: Option<Target>,
    /// How a cell is read before the value rules.
    pub format: CellFormat,
    /// The line of the `number` or `date` setting that applies (the column's or
    /// `[defaults]`'), or of the path for a plain cell: cited when a cell fails to convert.
    pub format_line: usize,
    /// The value map, where the column has one.
    pub values: Option<ValueMap>,
}

/// A path checked against the referral schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// The JSON Pointer.
    pub path: String,
    /// The type a value there must have.
    pub node: &'static Node,
    /// The line of `path =` in the mapping file.
    pub line: usize,
}

/// How a cell's text is read.
#[derive(Clone, Debug, PartialEq)]
pub enum CellFormat {
    /// By the value rules of SPEC.md as they stand.
    Plain,
    /// A locale number, for a decimal field.
    Number(NumberFormat),
    /// A date in a pattern and time zone, for a date-time field.
    Date(DateFormat),
}

/// One operation a cell gives.
#[derive(Clone, Debug, PartialEq)]
pub struct MappedOp {
    /// `replace` or `add`.
    pub op: Op,
    /// The JSON Pointer.
    pub path: String,
    /// The value, typed and in the API's form.
    pub value: Value,
}
