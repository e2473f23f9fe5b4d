//! Binding a mapping to one CSV header: the column index of every rule. A column the
//! mapping names but the header lacks is reported with the mapping file's line, on every
//! row (as SPEC.md has it for a missing required column), so the other inputs go on.

use super::Mapping;
use crate::input::csv_header::header_hint;
use crate::input::text::{quoted, quoted_list};

/// Where each rule's column is in one CSV file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bound {
    /// The ID column.
    pub id: usize,
    /// One index per [`Mapping::columns`] rule, in order.
    pub columns: Vec<usize>,
}

/// A header that lacks mapped columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unbound {
    /// The ID column, where the header has it (so rows still report under their ID).
    pub id: Option<usize>,
    /// The first missing column, for the report's field.
    pub first: String,
    /// Every missing column with its mapping line, and the columns found; or the column
    /// the header names twice.
    pub message: String,
    /// Whether a mapped column is named twice in the header (`malformed_record`, as in the
    /// row form), rather than missing (`missing_column`).
    pub repeated: bool,
}

/// Whether a header's column name and a mapped one are the same name in any case, for
/// every alphabet (a German export's `Größe` is the mapping's `GRÖßE`).
fn same_name(header: &str, mapped: &str) -> bool {
    header == mapped || header.to_lowercase() == mapped.to_lowercase()
}

/// The columns of `mapping` in a header of `names` (trimmed, matched case-insensitively).
pub fn bind(mapping: &Mapping, names: &[String]) -> Result<Bound, Unbound> {
    let find = |column: &str| names.iter().position(|n| same_name(n, column));
    let id = find(&mapping.id.column);
    if let Some(repeated) = repeated(mapping, names, id) {
        return Err(repeated);
    }
    let mut missing: Vec<(String, usize)> = Vec::new();
    if id.is_none() {
        missing.push((mapping.id.column.clone(), mapping.id.line));
    }
    let columns: Vec<Option<usize>> = mapping.columns.iter().map(|r| find(&r.name)).collect();
    for (rule, index) in mapping.columns.iter().zip(&columns) {
        if index.is_none() && !missing.iter().any(|(name, _)| same_name(name, &rule.name)) {
            missing.push((rule.name.clone(), rule.line));
        }
    }
    match (id, columns.into_iter().collect::<Option<Vec<_>>>()) {
        (Some(id), Some(columns)) if missing.is_empty() => Ok(Bound { id, columns }),
        _ => Err(Unbound {
            id,
            first: missing.first().map(|(n, _)| n.clone()).unwrap_or_default(),
            message: message(mapping, &missing, names),
            repeated: false,
        }),
    }
}

/// The first mapped column that the header names twice (in any case): which of the two
/// holds its values cannot be told. Rows keep their ID where its column is found once.
fn repeated(mapping: &Mapping, names: &[String], id: Option<usize>) -> Option<Unbound> {
    let mapped = std::iter::once(&mapping.id.column).chain(mapping.columns.iter().map(|c| &c.name));
    mapped.into_iter().find_map(|column| {
        let mut at = names
            .iter()
            .enumerate()
            .filter(|(_, name)| same_name(name, column))
            .map(|(index, _)| index);
        let (first, second) = (at.next()?, at.next()?);
        let unique_id = id.filter(|_| !same_name(column, &mapping.id.column));
        Some(Unbound {
            id: unique_id,
            first: column.clone(),
            message: format!(
                "the header names the mapped column {} twice (columns {} and {}), so which \
                 one holds its values cannot be told; keep one of them",
                quoted(column),
                first + 1,
                second + 1
            ),
            repeated: true,
        })
    })
}

fn message(mapping: &Mapping, missing: &[(String, usize)], names: &[String]) -> String {
    let listed: Vec<String> = missing
        .iter()
        .map(|(name, line)| format!("{} ({})", quoted(name), mapping.at_line(*line)))
        .collect();
    let mut text = format!(
        "the header lacks the mapped column{} {}; columns found: {}",
        if missing.len() == 1 { "" } else { "s" },
        listed.join(", "),
        quoted_list(names.iter().map(String::as_str)),
    );
    if let Some(hint) = header_hint(names) {
        text.push_str("; ");
        text.push_str(&hint);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn mapping() -> Mapping {
        let text = "id = \"Opportunity ID\"\n\n[[column]]\nname = \"Amount\"\npath = \"/details/dealValue\"\n\n[[column]]\nname = \"Notes\"\npath = \"/details/notes\"\n";
        Mapping::parse(Path::new("crm.toml"), text).unwrap()
    }

    fn names(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn columns_are_found_in_any_order_and_case() {
        let bound = bind(
            &mapping(),
            &names(&["notes", "OPPORTUNITY ID", "x", "Amount"]),
        )
        .unwrap();
        assert_eq!(
            bound,
            Bound {
                id: 1,
                columns: vec![3, 0]
            }
        );
    }

    #[test]
    fn column_names_match_in_any_case_in_every_alphabet() {
        let text = "id = \"ID\"\n\n[[column]]\nname = \"GRÖßE\"\npath = \"/details/notes\"\n";
        let mapping = Mapping::parse(Path::new("crm.toml"), text).unwrap();
        let bound = bind(&mapping, &names(&["id", "Größe"])).unwrap();
        assert_eq!(bound.columns, vec![1]);
    }

    #[test]
    fn a_missing_column_names_the_mapping_line() {
        let unbound = bind(&mapping(), &names(&["Opportunity ID", "Amount"])).unwrap_err();
        assert_eq!((unbound.id, unbound.first.as_str()), (Some(0), "Notes"));
        assert!(
            unbound.message.contains("`Notes` (crm.toml line 8)"),
            "{}",
            unbound.message
        );
    }

    #[test]
    fn a_one_column_header_with_semicolons_suggests_the_delimiter() {
        let unbound = bind(&mapping(), &names(&["Opportunity ID;Amount;Notes"])).unwrap_err();
        assert_eq!(unbound.id, None);
        assert!(
            unbound.message.contains("--delimiter ';'"),
            "{}",
            unbound.message
        );
    }
}
