//! The mapping file as written: serde structures over the TOML, every value kept with its
//! span so that later checks can name the line. Unknown keys are refused here
//! (`deny_unknown_fields`), so a typo such as `emtpy = "error"` is not silently ignored.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMapping {
    /// Where the referral ID comes from.
    pub id: Spanned<RawId>,
    /// Settings every column takes unless it says otherwise.
    #[serde(default)]
    pub defaults: RawDefaults,
    /// The mapped columns, in the order their operations are sent.
    #[serde(default)]
    pub column: Vec<Spanned<RawColumn>>,
}

/// `id = "Column"` or `id = { column = "…", lookup = "externalReferenceId" }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawId {
    /// The column holds the referral ID itself.
    Column(String),
    /// The column, and optionally a lookup through the API.
    Table(RawIdTable),
}

/// The table form of `id`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdTable {
    /// The column's name in the CSV header.
    pub column: String,
    /// The referral field the column's value is found in (`externalReferenceId`).
    pub lookup: Option<String>,
}

/// `[defaults]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    /// What an empty cell means.
    pub empty: Option<Empty>,
    /// The number format of decimal columns.
    pub number: Option<Spanned<RawNumber>>,
    /// The date format of date-time columns.
    pub date: Option<Spanned<RawDate>>,
}

/// One `[[column]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawColumn {
    /// The column's name in the CSV header.
    pub name: Spanned<String>,
    /// The JSON Pointer it sets; absent when `values` entries name their own paths.
    pub path: Option<Spanned<String>>,
    /// `replace` (default) or `add`.
    pub op: Option<Op>,
    /// What an empty cell means, over `[defaults]`.
    pub empty: Option<Empty>,
    /// The number format, over `[defaults]`.
    pub number: Option<Spanned<RawNumber>>,
    /// The date format, over `[defaults]`.
    pub date: Option<Spanned<RawDate>>,
    /// A value map: cell text → value (with `path`) or → table of path → value.
    pub values: Option<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
    /// What a cell missing from `values` does.
    pub unmapped: Option<Unmapped>,
}

/// `number = { decimal = ",", thousands = "." }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNumber {
    /// The decimal separator.
    pub decimal: char,
    /// The thousands separator, if any.
    pub thousands: Option<char>,
}

/// `date = { format = "%m/%d/%Y", time_zone = "America/New_York" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDate {
    /// A chrono strftime pattern.
    pub format: String,
    /// An IANA zone name; UTC when absent.
    pub time_zone: Option<String>,
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
