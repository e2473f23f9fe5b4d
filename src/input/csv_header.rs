//! The CSV header: which column holds which field. Names are matched trimmed and
//! case-insensitively, extra columns are ignored, and a missing required column is kept as
//! a finding rather than an error, because the contract reports it on every data row.

use super::text::quoted_list;

/// The columns a row-form CSV must have.
pub const REQUIRED: [&str; 4] = ["id", "op", "path", "value"];

/// Where each field's column is in a CSV file.
#[derive(Debug, Default)]
pub struct Header {
    /// The column names as found (trimmed).
    pub names: Vec<String>,
    /// Index of `id`.
    pub id: Option<usize>,
    /// Index of `op`.
    pub op: Option<usize>,
    /// Index of `path`.
    pub path: Option<usize>,
    /// Index of `value`.
    pub value: Option<usize>,
    /// Index of `if_match`.
    pub if_match: Option<usize>,
    /// A row-form field named by two columns, and the second column's index.
    pub repeated: Option<(&'static str, usize)>,
}

/// Why a header cannot be read row by row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderFault {
    /// Required columns it lacks, in the contract's order.
    Missing(Vec<&'static str>),
    /// A row-form field named by two columns (the first and the second one's index): which
    /// one holds the value cannot be told.
    Repeated {
        /// The field.
        field: &'static str,
        /// The two columns' indices.
        columns: (usize, usize),
    },
}

/// The row-form fields a header may name, required ones first.
const FIELDS: [&str; 5] = ["id", "op", "path", "value", "if_match"];

/// The columns of a header that has every required one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Columns {
    /// Index of `id`.
    pub id: usize,
    /// Index of `op`.
    pub op: usize,
    /// Index of `path`.
    pub path: usize,
    /// Index of `value`.
    pub value: usize,
    /// Index of `if_match`, an optional column.
    pub if_match: Option<usize>,
}

impl Header {
    /// Maps header cells to fields; a field named twice is kept as a fault.
    pub fn new(cells: &csv::ByteRecord) -> Self {
        let names: Vec<String> = cells
            .iter()
            .map(|cell| String::from_utf8_lossy(cell).trim().to_string())
            .collect();
        let find = |field: &str| names.iter().position(|n| n.eq_ignore_ascii_case(field));
        let repeated = FIELDS.into_iter().find_map(|field| {
            let mut at = names
                .iter()
                .enumerate()
                .filter(|(_, n)| n.eq_ignore_ascii_case(field));
            at.nth(1).map(|(second, _)| (field, second))
        });
        Header {
            id: find("id"),
            op: find("op"),
            path: find("path"),
            value: find("value"),
            if_match: find("if_match"),
            repeated,
            names,
        }
    }

    /// The indices of the row form's columns, or why the header cannot be read row by row.
    pub fn columns(&self) -> Result<Columns, HeaderFault> {
        match (self.id, self.op, self.path, self.value) {
            (Some(id), Some(op), Some(path), Some(value)) => match self.repeated {
                Some((field, second)) => Err(HeaderFault::Repeated {
                    field,
                    columns: (self.index_of(field).unwrap_or(second), second),
                }),
                None => Ok(Columns {
                    id,
                    op,
                    path,
                    value,
                    if_match: self.if_match,
                }),
            },
            _ => Err(HeaderFault::Missing(self.missing())),
        }
    }

    /// The column of a row-form field (the first one, where two name it).
    fn index_of(&self, field: &str) -> Option<usize> {
        let known = [self.id, self.op, self.path, self.value, self.if_match];
        FIELDS
            .iter()
            .position(|f| *f == field)
            .and_then(|at| known[at])
    }

    /// What to tell the user about `fault`.
    pub fn fault_message(&self, fault: &HeaderFault) -> String {
        match fault {
            HeaderFault::Missing(missing) => self.missing_message(missing),
            HeaderFault::Repeated { field, columns } => format!(
                "the header names the column {} twice (columns {} and {}), so which one \
                 holds the {field} cannot be told; keep one of them",
                quoted_list([*field]),
                columns.0 + 1,
                columns.1 + 1,
            ),
        }
    }

    /// The required columns it lacks, in the contract's order.
    pub fn missing(&self) -> Vec<&'static str> {
        let found = [self.id, self.op, self.path, self.value];
        REQUIRED
            .into_iter()
            .zip(found)
            .filter_map(|(name, index)| index.is_none().then_some(name))
            .collect()
    }

    /// The message for a file lacking `missing` columns, naming the columns it has.
    pub fn missing_message(&self, missing: &[&str]) -> String {
        let plural = if missing.len() == 1 {
            "column"
        } else {
            "columns"
        };
        let mut message = format!(
            "the header lacks the required {plural} {}; columns found: {}",
            quoted_list(missing.iter().copied()),
            quoted_list(self.names.iter().map(String::as_str)),
        );
        if let Some(hint) = header_hint(&self.names) {
            message.push_str("; ");
            message.push_str(&hint);
        }
        message
    }

    /// A column's name for messages: its header name, or `#N` where it has none.
    pub fn column_name(&self, index: usize) -> String {
        match self.names.get(index) {
            Some(name) if !name.is_empty() => name.clone(),
            _ => format!("#{}", index + 1),
        }
    }

    /// A column's field name for records: the contract's name for a row-form column (as
    /// the planner knows it, whatever the header's case), else [`Header::column_name`].
    pub fn field_name(&self, index: usize) -> String {
        let known = [self.id, self.op, self.path, self.value, self.if_match];
        match known.iter().position(|&column| column == Some(index)) {
            Some(at) => FIELDS[at].to_string(),
            None => self.column_name(index),
        }
    }
}

/// Advice for a header read as one column that another delimiter would split: Excel
/// writes `;` where the locale's decimal separator is `,`, and such a file read with `,`
/// has exactly one column.
pub fn delimiter_hint(names: &[String]) -> Option<String> {
    let [only] = names else {
        return None;
    };
    let (shown, flag) = [(';', "';'"), ('\t', "tab"), ('|', "'|'"), (',', "','")]
        .into_iter()
        .find(|(c, _)| only.contains(*c))?;
    Some(format!(
        "the header is one column that contains {shown:?}: the file looks {}-separated; \
         try --delimiter {flag}",
        flag.trim_matches('\'')
    ))
}

/// Advice for a header that lacks required columns because the file was read wrongly: as
/// UTF-8 where it is UTF-16 ([`utf16_hint`]), or split at the wrong delimiter
/// ([`delimiter_hint`]).
pub fn header_hint(names: &[String]) -> Option<String> {
    utf16_hint(names).or_else(|| delimiter_hint(names))
}

/// Advice for a header holding NUL bytes: UTF-16 text without a byte-order mark (as some
/// exports write it) reads as ASCII with a NUL beside every letter, the NUL after it in
/// little-endian order and before it in big-endian.
pub fn utf16_hint(names: &[String]) -> Option<String> {
    let first = names.iter().find(|name| name.contains('\0'))?;
    let encoding = match first.starts_with('\0') {
        true => "utf-16be",
        false => "utf-16le",
    };
    Some(format!(
        "the header holds NUL bytes: the file looks like UTF-16 without a byte-order mark; \
         try --encoding {encoding}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cells: &[&str]) -> Header {
        Header::new(&csv::ByteRecord::from(cells.to_vec()))
    }

    #[test]
    fn columns_match_trimmed_case_insensitively_in_any_order() {
        let h = header(&[" Value", "PATH ", "note", "Id", "If_Match", "op"]);
        assert_eq!(
            (h.id, h.op, h.path, h.value),
            (Some(3), Some(5), Some(1), Some(0))
        );
        assert_eq!(h.if_match, Some(4));
        let columns = h.columns().unwrap();
        assert_eq!((columns.id, columns.if_match), (3, Some(4)));
    }

    #[test]
    fn missing_columns_are_listed_with_the_columns_found() {
        let h = header(&["id", "operation", "path"]);
        assert_eq!(
            h.columns().unwrap_err(),
            HeaderFault::Missing(vec!["op", "value"])
        );
        let message = h.missing_message(&h.missing());
        assert!(message.contains("columns `op`, `value`"), "{message}");
        assert!(
            message.contains("found: `id`, `operation`, `path`"),
            "{message}"
        );
    }

    #[test]
    fn a_field_named_by_two_columns_is_a_fault_naming_both() {
        let h = header(&["id", "op", "path", "value", "note", "Value"]);
        let fault = h.columns().unwrap_err();
        assert_eq!(
            fault,
            HeaderFault::Repeated {
                field: "value",
                columns: (3, 5)
            }
        );
        let message = h.fault_message(&fault);
        assert!(
            message.contains("`value` twice (columns 4 and 6)"),
            "{message}"
        );
        assert!(
            header(&["id", "op", "path", "value", "x", "x"])
                .columns()
                .is_ok()
        );
    }

    #[test]
    fn unnamed_columns_are_named_by_number() {
        let h = header(&["id", ""]);
        assert_eq!(h.column_name(0), "id");
        assert_eq!(h.column_name(1), "#2");
        assert_eq!(h.column_name(2), "#3");
    }

    #[test]
    fn row_form_columns_take_their_contract_names_as_fields() {
        let h = header(&["ID", "Note", "VALUE"]);
        assert_eq!(
            (h.field_name(0), h.field_name(2)),
            ("id".into(), "value".into())
        );
        assert_eq!(h.field_name(1), "Note");
    }

    #[test]
    fn a_one_column_header_split_by_semicolons_suggests_the_delimiter() {
        let h = header(&["id;op;path;value"]);
        let message = h.missing_message(&h.missing());
        assert!(message.contains("try --delimiter ';'"), "{message}");
        assert!(delimiter_hint(&["id".into()]).is_none());
        let little: Vec<String> = ["i\0d\0", "\0o\0p\0"].map(String::from).to_vec();
        assert!(utf16_hint(&little).is_some_and(|h| h.ends_with("--encoding utf-16le")));
        let big: Vec<String> = ["\0i\0d", "\0o\0p"].map(String::from).to_vec();
        assert!(utf16_hint(&big).is_some_and(|h| h.ends_with("--encoding utf-16be")));
        assert!(utf16_hint(&["id".into()]).is_none());
        assert!(delimiter_hint(&["a".into(), "b;c".into()]).is_none());
    }
}
