//! The mapping file as written: its tables read key by key ([`super::table`]), every value
//! kept with the span of its key so that later checks, and cell errors, can name the line.
//! Unknown keys are refused, so a typo such as `emtpy = "error"` is not silently ignored,
//! and every mistake of the file is listed, not only the first.

use super::error::{LineIndex, Located};
use super::table::{Mistakes, Table};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The whole file, as far as it could be read.
#[derive(Debug)]
pub struct RawMapping {
    /// Where the referral ID comes from; `None` when absent or unreadable (a mistake).
    pub id: Option<Spanned<RawId>>,
    /// Settings every column takes unless it says otherwise.
    pub defaults: RawDefaults,
    /// The mapped columns, in the order their operations are sent.
    pub column: Vec<RawColumn>,
}

/// `id = "Column"` or `id = { column = "…", lookup = "externalReferenceId" }`.
#[derive(Debug)]
pub enum RawId {
    /// The column holds the referral ID itself.
    Column(String),
    /// The column, and optionally a lookup through the API.
    Table(RawIdTable),
}

/// The table form of `id`.
#[derive(Debug)]
pub struct RawIdTable {
    /// The column's name in the CSV header.
    pub column: String,
    /// The referral field the column's value is found in (`externalReferenceId`).
    pub lookup: Option<String>,
}

/// `[defaults]`.
#[derive(Debug, Default)]
pub struct RawDefaults {
    /// What an empty cell means.
    pub empty: Option<Spanned<Empty>>,
    /// The number format of decimal columns.
    pub number: Option<Spanned<RawNumber>>,
    /// The date format of date-time columns.
    pub date: Option<Spanned<RawDate>>,
}

/// One `[[column]]`.
#[derive(Debug)]
pub struct RawColumn {
    /// Where the table starts, for mistakes about the column as a whole.
    pub span: std::ops::Range<usize>,
    /// The column's name in the CSV header.
    pub name: Option<Spanned<String>>,
    /// The JSON Pointer it sets; absent when `values` entries name their own paths.
    pub path: Option<Spanned<String>>,
    /// `replace` (default) or `add`.
    pub op: Option<Spanned<Op>>,
    /// What an empty cell means, over `[defaults]`.
    pub empty: Option<Spanned<Empty>>,
    /// The number format, over `[defaults]`.
    pub number: Option<Spanned<RawNumber>>,
    /// The date format, over `[defaults]`.
    pub date: Option<Spanned<RawDate>>,
    /// A value map: cell text → value (with `path`) or → table of path → value.
    pub values: Option<Spanned<RawValues>>,
    /// What a cell missing from `values` does.
    pub unmapped: Option<Spanned<Unmapped>>,
    /// Every key the table has, readable or not: checks that rely on a key being absent
    /// (such as "needs a path or values") ask here, so that a key written wrong is listed
    /// once, as written wrong, and not again as missing.
    pub keys: Vec<String>,
}

impl RawColumn {
    /// Whether the table has `key`, readable or not.
    pub fn has(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k == key)
    }
}

/// A value map as written: cell text → TOML value, each spanned.
pub type RawValues = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

/// `number = { decimal = ",", thousands = "." }`.
#[derive(Debug)]
pub struct RawNumber {
    /// The decimal separator.
    pub decimal: String,
    /// The thousands separator, if any (`""` also means none).
    pub thousands: Option<String>,
}

/// `date = { format = "%m/%d/%Y", time_zone = "America/New_York" }`.
#[derive(Debug)]
pub struct RawDate {
    /// A chrono strftime pattern.
    pub format: String,
    /// An IANA zone name; UTC when absent.
    pub time_zone: Option<String>,
}

/// Reads the file's tables: the mapping as far as it reads, and every mistake of shape
/// (unknown keys, wrong types, unknown names); `Err` with every syntax error when the
/// text is not TOML at all.
pub fn read(text: &str, lines: &LineIndex) -> Result<(RawMapping, Vec<Located>), Vec<Located>> {
    let (document, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        let mut errors: Vec<Located> = syntax
            .iter()
            .map(|e| {
                let message = e.message().trim().replace('\n', " ");
                lines.at(e.span().unwrap_or(0..0), message)
            })
            .collect();
        errors.sort_by_key(|e| e.line);
        return Err(errors);
    }
    let mut mistakes = Mistakes::new(lines);
    let root = Table::root(&document);
    root.refuse_unknown(&["id", "defaults", "column"], &mut mistakes);
    let mapping = RawMapping {
        id: read_id(&root, &mut mistakes),
        defaults: root
            .raw("defaults")
            .and_then(|(_, value)| read_defaults(value, &mut mistakes))
            .unwrap_or_default(),
        column: read_columns(&root, &mut mistakes),
    };
    Ok((mapping, mistakes.list))
}

fn read_id(root: &Table<'_, '_>, mistakes: &mut Mistakes<'_>) -> Option<Spanned<RawId>> {
    let Some((key, value)) = root.raw("id") else {
        let message = "the file lacks id: write e.g. id = \"Referral ID\" (the column holding it)";
        mistakes.add(root.span().start..root.span().start, message);
        return None;
    };
    let id = match value.get_ref() {
        DeValue::String(column) => RawId::Column(column.to_string()),
        DeValue::Table(_) => {
            let table = Table::of(value, "id", mistakes)?;
            table.refuse_unknown(&["column", "lookup"], mistakes);
            let column = table.require::<String>("column", "column = \"Opportunity ID\"", mistakes);
            let lookup = table.get::<String>("lookup", mistakes);
            RawId::Table(RawIdTable {
                column: column?.into_inner(),
                lookup: lookup.map(Spanned::into_inner),
            })
        }
        other => {
            let message = format!(
                "id must be a column name or {{ column = \"…\", lookup = \"externalReferenceId\" }} (found {})",
                other.type_str()
            );
            mistakes.add(value.span(), message);
            return None;
        }
    };
    Some(Spanned::new(key, id))
}

fn read_defaults(value: &Spanned<DeValue<'_>>, mistakes: &mut Mistakes<'_>) -> Option<RawDefaults> {
    let table = Table::of(value, "[defaults]", mistakes)?;
    table.refuse_unknown(&["empty", "number", "date"], mistakes);
    Some(RawDefaults {
        empty: table.get("empty", mistakes),
        number: read_number(&table, mistakes),
        date: read_date(&table, mistakes),
    })
}

fn read_columns(root: &Table<'_, '_>, mistakes: &mut Mistakes<'_>) -> Vec<RawColumn> {
    let none = "the mapping has no [[column]]: map at least one column";
    let Some((_, value)) = root.raw("column") else {
        mistakes.add(0..0, none);
        return Vec::new();
    };
    let DeValue::Array(columns) = value.get_ref() else {
        let message = "column must be a list of tables: write each as [[column]] (two brackets)";
        mistakes.add(value.span(), message);
        return Vec::new();
    };
    if columns.is_empty() {
        mistakes.add(value.span(), none);
    }
    columns
        .iter()
        .filter_map(|column| read_column(column, mistakes))
        .collect()
}

const COLUMN_KEYS: [&str; 8] = [
    "name", "path", "op", "empty", "number", "date", "values", "unmapped",
];

fn read_column(value: &Spanned<DeValue<'_>>, mistakes: &mut Mistakes<'_>) -> Option<RawColumn> {
    let table = Table::of(value, "[[column]]", mistakes)?;
    table.refuse_unknown(&COLUMN_KEYS, mistakes);
    Some(RawColumn {
        span: table.span(),
        name: table.require("name", "name = \"Est. Revenue\" (the CSV column)", mistakes),
        path: table.get("path", mistakes),
        op: table.get("op", mistakes),
        empty: table.get("empty", mistakes),
        number: read_number(&table, mistakes),
        date: read_date(&table, mistakes),
        values: table.get("values", mistakes),
        unmapped: table.get("unmapped", mistakes),
        keys: table.keys(),
    })
}

fn read_number(parent: &Table<'_, '_>, mistakes: &mut Mistakes<'_>) -> Option<Spanned<RawNumber>> {
    let (key, value) = parent.raw("number")?;
    let table = Table::of(value, "number", mistakes)?;
    table.refuse_unknown(&["decimal", "thousands"], mistakes);
    let decimal = table.require::<String>("decimal", "decimal = \",\"", mistakes);
    let thousands = table.get::<String>("thousands", mistakes);
    Some(Spanned::new(
        key,
        RawNumber {
            decimal: decimal?.into_inner(),
            thousands: thousands.map(Spanned::into_inner),
        },
    ))
}

fn read_date(parent: &Table<'_, '_>, mistakes: &mut Mistakes<'_>) -> Option<Spanned<RawDate>> {
    let (key, value) = parent.raw("date")?;
    let table = Table::of(value, "date", mistakes)?;
    table.refuse_unknown(&["format", "time_zone"], mistakes);
    let format = table.require::<String>("format", "format = \"%m/%d/%Y\"", mistakes);
    let time_zone = table.get::<String>("time_zone", mistakes);
    Some(Spanned::new(
        key,
        RawDate {
            format: format?.into_inner(),
            time_zone: time_zone.map(Spanned::into_inner),
        },
    ))
}

/// The two operations the API accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// `replace`: the target must exist.
    #[default]
    Replace,
    /// `add`: sets a member, or appends with a final `-`.
    Add,
}

impl Op {
    /// The operation's name in a JSON Patch document.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Replace => "replace",
            Op::Add => "add",
        }
    }
}

/// What an empty cell means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Empty {
    /// Leave the field unchanged (no operation).
    #[default]
    Skip,
    /// The row is invalid.
    Error,
}

/// What a cell that the value map does not list does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unmapped {
    /// The row is invalid, naming the values the map knows.
    #[default]
    Error,
    /// Leave the field unchanged.
    Skip,
    /// Convert the cell itself by the column's path (needs `path`).
    Keep,
}
