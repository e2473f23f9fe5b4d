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

/// Why a cell fails, and the mapping line of the rule that refused it.
struct Refusal {
    message: String,
    line: usize,
}

impl Refusal {
    fn new(message: impl Into<String>, line: usize) -> Self {
        Refusal {
            message: message.into(),
            line,
        }
    }
}

/// The operations of one row, each with the column that gave it, given each rule's cell
/// (`None`: not UTF-8), in rule order.
pub fn convert_row<'a>(
    mapping: &Mapping,
    cells: impl IntoIterator<Item = Option<&'a str>>,
) -> Result<Vec<(String, MappedOp)>, Vec<CellError>> {
    let mut ops = Vec::new();
    let mut errors = Vec::new();
    for (rule, cell) in mapping.columns.iter().zip(cells) {
        let converted = match cell {
            Some(cell) => convert_cell(rule, cell),
            None => Err(Refusal::new(
                "is not valid UTF-8; save the file as UTF-8 or give --encoding, e.g. --encoding windows-1252",
                rule.line,
            )),
        };
        match converted {
            Ok(cell_ops) => ops.extend(cell_ops.into_iter().map(|op| (rule.name.clone(), op))),
            Err(refusal) => errors.push(CellError {
                column: rule.name.clone(),
                message: format!(
                    "column {}: {} ({})",
                    quoted(&rule.name),
                    refusal.message,
                    mapping.at_line(refusal.line)
                ),
            }),
        }
    }
    if errors.is_empty() {
        Ok(ops)
    } else {
        Err(errors)
    }
}

/// The operations one cell gives under its rule.
fn convert_cell(rule: &ColumnRule, cell: &str) -> Result<Vec<MappedOp>, Refusal> {
    if cell.trim().is_empty() {
        return match rule.empty {
            Empty::Skip => Ok(Vec::new()),
            Empty::Error => Err(Refusal::new(
                "is empty, and the mapping says empty = \"error\"",
                rule.empty_line,
            )),
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
        Unmapped::Error => Err(Refusal::new(
            format!(
                "{} is not in the value map; it lists {}; add it there, or set unmapped = \"skip\"",
                quoted(cell.trim()),
                values.keys().map(quoted).collect::<Vec<_>>().join(", ")
            ),
            values.line,
        )),
    }
}

/// The cell read by the rule's format and converted by its path's value rules; a refusal
/// cites the format's line, or the path's for the value rules.
fn direct(rule: &ColumnRule, cell: &str) -> Result<MappedOp, Refusal> {
    let Some(Target { path, node, line }) = &rule.target else {
        return Err(Refusal::new(
            "the column has no path to convert the cell by",
            rule.line,
        ));
    };
    let text = match &rule.format {
        CellFormat::Plain => cell.to_string(),
        CellFormat::Number(format) => format.normalise(cell).ok_or_else(|| {
            let message = format!(
                "{} is not a number written like {}",
                quoted(cell.trim()),
                format.example()
            );
            Refusal::new(message, rule.format_line)
        })?,
        CellFormat::Date(format) => format
            .to_utc(cell)
            .map_err(|message| Refusal::new(message, rule.format_line))?,
    };
    let value = from_text(node, &text).map_err(|e| Refusal::new(e.to_string(), *line))?;
    Ok(MappedOp {
        op: rule.op,
        path: path.clone(),
        value,
    })
}

#[cfg(test)]
#[path = "cells_tests.rs"]
mod tests;
