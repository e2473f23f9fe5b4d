//! One wide row's cells turned into operations: empty cells, value maps, number and date
//! formats, then the value rules of the field's type. Every failing cell of the row is
//! reported, each naming its column and the mapping line of its rule.

use super::spec::{Empty, Unmapped};
use super::{CellFormat, ColumnRule, MappedOp, Mapping, Target};
use crate::input::text::quoted;
use crate::schema::from_text;

/// A cell that cannot be converted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellError {
    /// The CSV column.
    pub column: String,
    /// What is wrong, naming the mapping line of the column's rule.
    pub message: String,
}

/// The operations of one row, given each rule's cell (`None`: not UTF-8), in rule order.
pub fn convert_row<'a>(
    mapping: &Mapping,
    cells: impl IntoIterator<Item = Option<&'a str>>,
) -> Result<Vec<MappedOp>, Vec<CellError>> {
    let mut ops = Vec::new();
    let mut errors = Vec::new();
    for (rule, cell) in mapping.columns.iter().zip(cells) {
        let error = |message: String| CellError {
            column: rule.name.clone(),
            message: format!(
                "column {}: {message} ({})",
                quoted(&rule.name),
                mapping.at_line(rule.line)
            ),
        };
        let Some(cell) = cell else {
            errors.push(error("is not valid UTF-8; save the file as UTF-8 or give --encoding, e.g. --encoding windows-1252".into()));
            continue;
        };
        match convert_cell(rule, cell) {
            Ok(cell_ops) => ops.extend(cell_ops),
            Err(message) => errors.push(error(message)),
        }
    }
    if errors.is_empty() {
        Ok(ops)
    } else {
        Err(errors)
    }
}

/// The operations one cell gives under its rule.
fn convert_cell(rule: &ColumnRule, cell: &str) -> Result<Vec<MappedOp>, String> {
    if cell.trim().is_empty() {
        return match rule.empty {
            Empty::Skip => Ok(Vec::new()),
            Empty::Error => Err("is empty, and the mapping says empty = \"error\"".into()),
        };
    }
    let Some(values) = &rule.values else {
        return direct(rule, cell).map(|op| vec![op]);
    };
    if let Some(ops) = values.get(cell) {
        return Ok(ops.to_vec());
    }
    match values.unmapped {
        Unmapped::Skip => Ok(Vec::new()),
        Unmapped::Keep => direct(rule, cell).map(|op| vec![op]),
        Unmapped::Error => Err(format!(
            "{} is not in the value map; it lists {}; add it there, or set unmapped = \"skip\"",
            quoted(cell.trim()),
            values.keys().map(quoted).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// The cell read by the rule's format and converted by its path's value rules.
fn direct(rule: &ColumnRule, cell: &str) -> Result<MappedOp, String> {
    let Some(Target { path, node }) = &rule.target else {
        return Err("the column has no path to convert the cell by".into());
    };
    let text = match &rule.format {
        CellFormat::Plain => cell.to_string(),
        CellFormat::Number(format) => format.normalise(cell).ok_or_else(|| {
            format!(
                "{} is not a number written like {}",
                quoted(cell.trim()),
                format.example()
            )
        })?,
        CellFormat::Date(format) => format.to_utc(cell)?,
    };
    let value = from_text(node, &text).map_err(|e| e.to_string())?;
    Ok(MappedOp {
        op: rule.op,
        path: path.clone(),
        value,
    })
}

#[cfg(test)]
#[path = "cells_tests.rs"]
mod tests;
