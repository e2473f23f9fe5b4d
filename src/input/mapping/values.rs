//! Value maps: a CRM's own vocabulary turned into the API's, one cell into one or several
//! operations (`Closed Won` → `/status` `Closed` and `/substatus` `Won`).
//!
//! Entries are checked against their fields' types when the mapping is loaded, so a typo
//! such as `"/status" = "Closd"` stops the run at the mapping file's line instead of
//! failing every row that uses it. Cells match entries trimmed and case-insensitively:
//! exports differ in case and padding more often than in words.

use super::error::{LineIndex, Located};
use super::spec::{Op, RawColumn, Unmapped};
use super::{MappedOp, Target};
use crate::schema::{self, check_json};
use serde_json::Value;
use toml::Spanned;

/// One column's value map.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueMap {
    entries: Vec<Entry>,
    /// The line of `values` in the mapping file, cited for a cell the map does not list.
    pub line: usize,
    /// What a cell the map does not list does.
    pub unmapped: Unmapped,
}

/// One entry: the cell text it matches and the operations it gives.
#[derive(Clone, Debug, PartialEq)]
struct Entry {
    key: String,
    folded: String,
    ops: Vec<MappedOp>,
}

impl ValueMap {
    /// The operations for `cell`, if the map lists it.
    pub fn get(&self, cell: &str) -> Option<&[MappedOp]> {
        let folded = fold(cell);
        self.entries
            .iter()
            .find(|e| e.folded == folded)
            .map(|e| e.ops.as_slice())
    }

    /// The cell texts the map lists, as written in the mapping.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.key.as_str())
    }
}

fn fold(text: &str) -> String {
    text.trim().to_lowercase()
}

/// The column's value map, if it has one; mistakes go to `errors`.
pub fn compile_values(
    column: &RawColumn,
    op: Op,
    target: Option<&Target>,
    lines: &LineIndex,
    errors: &mut Vec<Located>,
) -> Option<ValueMap> {
    let spanned = column.values.as_ref()?;
    let raw = spanned.get_ref();
    let unmapped = column
        .unmapped
        .as_ref()
        .map(|u| *u.get_ref())
        .unwrap_or_default();
    if unmapped == Unmapped::Keep && !column.has("path") {
        let message = "unmapped = \"keep\" needs the column's own path to convert the cell by";
        let span = column
            .unmapped
            .as_ref()
            .map_or(spanned.span(), Spanned::span);
        errors.push(lines.at(span, message));
    }
    if column.has("path") && target.is_none() {
        // The path is wrong (a mistake already listed): its entries cannot be checked.
        return None;
    }
    let mut entries: Vec<Entry> = Vec::with_capacity(raw.len());
    for (key, value) in raw {
        let at = |message: String| lines.at(key.span(), message);
        let folded = fold(key.get_ref());
        if folded.is_empty() {
            errors.push(at(
                "an empty key never matches: empty cells follow `empty`".into()
            ));
            continue;
        }
        if entries.iter().any(|e| e.folded == folded) {
            let message = format!(
                "{:?} is listed twice (keys match case-insensitively)",
                key.get_ref()
            );
            errors.push(at(message));
            continue;
        }
        match entry_ops(key.get_ref(), value, op, target, lines) {
            Ok(ops) => entries.push(Entry {
                key: key.get_ref().trim().to_string(),
                folded,
                ops,
            }),
            Err(e) => errors.extend(e),
        }
    }
    Some(ValueMap {
        entries,
        line: lines.line(spanned.span().start),
        unmapped,
    })
}

/// The operations one entry gives: its value for the column's path, or, without a path,
/// one operation per `"/path" = value` of its table.
fn entry_ops(
    key: &str,
    value: &Spanned<toml::Value>,
    op: Op,
    target: Option<&Target>,
    lines: &LineIndex,
) -> Result<Vec<MappedOp>, Vec<Located>> {
    let line = lines.line(value.span().start);
    let at = |message: String| Located {
        line,
        message: format!("value map entry {key:?}: {message}"),
    };
    if let Some(target) = target {
        return typed(target, value.get_ref(), op)
            .map(|o| vec![o])
            .map_err(|m| vec![at(m)]);
    }
    let Some(table) = value.get_ref().as_table() else {
        return Err(vec![at(
            "without a column path, an entry is a table of paths: { \"/status\" = \"Closed\", \"/substatus\" = \"Won\" }".into(),
        )]);
    };
    let (ops, mistakes): (Vec<_>, Vec<_>) = table
        .iter()
        .map(|(path, value)| table_op(path, value, op, line))
        .partition(Result::is_ok);
    if mistakes.is_empty() {
        Ok(ops.into_iter().filter_map(Result::ok).collect())
    } else {
        Err(mistakes
            .into_iter()
            .filter_map(Result::err)
            .map(at)
            .collect())
    }
}

/// The operation of one `"/path" = value` of an entry's table.
fn table_op(path: &str, value: &toml::Value, op: Op, line: usize) -> Result<MappedOp, String> {
    let resolved = schema::resolve(path).map_err(|e| e.to_string())?;
    if resolved.append && op == Op::Replace {
        return Err(format!(
            "{path:?} appends (final -): give the column op = \"add\""
        ));
    }
    let target = Target {
        path: path.to_string(),
        node: resolved.node,
        line,
    };
    typed(&target, value, op)
}

/// `value` as JSON checked against `target`'s type, in the API's form.
fn typed(target: &Target, value: &toml::Value, op: Op) -> Result<MappedOp, String> {
    let json: Value = serde_json::to_value(value).map_err(|e| e.to_string())?;
    let value = check_json(target.node, &json).map_err(|e| format!("{}: {e}", target.path))?;
    Ok(MappedOp {
        op,
        path: target.path.clone(),
        value,
    })
}
