//! From the file as written ([`RawMapping`]) to the checked [`Mapping`]: every path resolved
//! against the referral schema, every value-map entry checked against its field's type,
//! every format built. Mistakes are collected, not returned one by one, so a user fixes
//! the file in one pass.

use super::date::DateFormat;
use super::error::{LineIndex, Located};
use super::number::NumberFormat;
use super::spec::{self, Empty, Op, RawColumn, RawDate, RawDefaults, RawId, RawNumber};
use super::values::compile_values;
use super::{CellFormat, ColumnRule, IdRule, Lookup, Mapping, Target};
use crate::schema::{self, Node, Scalar};
use std::path::Path;
use toml::Spanned;

/// The checked mapping of `text` (the content of `file`), or every mistake in it.
pub fn compile(file: &Path, text: &str) -> Result<Mapping, Vec<Located>> {
    let lines = LineIndex::new(text);
    let (raw, mut errors) = spec::read(text, &lines)?;
    let id = raw
        .id
        .as_ref()
        .and_then(|id| record(id_rule(id, &lines), &mut errors));
    let defaults = Defaults::compile(&raw.defaults, &lines, &mut errors);
    let columns: Vec<ColumnRule> = raw
        .column
        .iter()
        .filter_map(|column| column_rule(column, &defaults, &lines, &mut errors))
        .collect();
    errors.sort_by_key(|e| e.line);
    match id {
        Some(id) if errors.is_empty() => Ok(Mapping {
            file: file.to_path_buf(),
            id,
            columns,
        }),
        _ => Err(errors),
    }
}

fn id_rule(raw: &Spanned<RawId>, lines: &LineIndex) -> Result<IdRule, Located> {
    let line = lines.line(raw.span().start);
    let (column, lookup) = match raw.get_ref() {
        RawId::Column(column) => (column.clone(), None),
        RawId::Table(table) => (table.column.clone(), table.lookup.clone()),
    };
    let lookup = match lookup.as_deref() {
        None => None,
        Some("externalReferenceId") => Some(Lookup::ExternalReferenceId),
        Some(other) => {
            let message = format!(
                "id lookup = {other:?} is not supported; the only field referrals can be \
                 found by is \"externalReferenceId\""
            );
            return Err(Located { line, message });
        }
    };
    if column.trim().is_empty() {
        let message = "id names no column: write id = { column = \"Opportunity ID\" }";
        return Err(Located {
            line,
            message: message.into(),
        });
    }
    Ok(IdRule {
        column: column.trim().to_string(),
        line,
        lookup,
    })
}

/// `[defaults]`, built; each setting with the line it is written on.
struct Defaults {
    empty: Option<(Empty, usize)>,
    number: Option<(NumberFormat, usize)>,
    date: Option<(DateFormat, usize)>,
}

impl Defaults {
    fn compile(raw: &RawDefaults, lines: &LineIndex, errors: &mut Vec<Located>) -> Defaults {
        Defaults {
            empty: raw
                .empty
                .as_ref()
                .map(|e| (*e.get_ref(), lines.line(e.span().start))),
            number: raw
                .number
                .as_ref()
                .and_then(|n| record(number(n, lines), errors)),
            date: raw
                .date
                .as_ref()
                .and_then(|d| record(date(d, lines), errors)),
        }
    }
}

/// Keeps an error for later and goes on without the value.
fn record<T>(result: Result<T, Located>, errors: &mut Vec<Located>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

/// A number format and the line it is written on.
fn number(raw: &Spanned<RawNumber>, lines: &LineIndex) -> Result<(NumberFormat, usize), Located> {
    let spec = raw.get_ref();
    NumberFormat::parse(&spec.decimal, spec.thousands.as_deref())
        .map(|format| (format, lines.line(raw.span().start)))
        .map_err(|m| lines.at(raw.span(), m))
}

/// A date format and the line it is written on.
fn date(raw: &Spanned<RawDate>, lines: &LineIndex) -> Result<(DateFormat, usize), Located> {
    let spec = raw.get_ref();
    DateFormat::new(&spec.format, spec.time_zone.as_deref())
        .map(|format| (format, lines.line(raw.span().start)))
        .map_err(|m| lines.at(raw.span(), m))
}

/// One column's rule; `None` (with its mistakes recorded) when it cannot be built.
fn column_rule(
    column: &RawColumn,
    defaults: &Defaults,
    lines: &LineIndex,
    errors: &mut Vec<Located>,
) -> Option<ColumnRule> {
    let before = errors.len();
    let name_span = column
        .name
        .as_ref()
        .map_or(column.span.clone(), Spanned::span);
    let line = lines.line(name_span.start);
    let name = column
        .name
        .as_ref()
        .map(|n| n.get_ref().trim().to_string())
        .unwrap_or_default();
    if column.name.is_some() && name.is_empty() {
        errors.push(lines.at(name_span, "name is empty: give the CSV column's name"));
    }
    let op = column.op.as_ref().map(|o| *o.get_ref()).unwrap_or_default();
    let target = column
        .path
        .as_ref()
        .and_then(|path| record(target(path, op, lines), errors));
    let (format, format_line) = cell_format(column, target.as_ref(), defaults, lines, errors);
    let values = compile_values(column, op, target.as_ref(), lines, errors);
    if !column.has("path") && !column.has("values") {
        let message = format!("column {name:?} needs a path, or values that name their paths");
        errors.push(Located { line, message });
    }
    let (empty, empty_line) = match &column.empty {
        Some(e) => (*e.get_ref(), lines.line(e.span().start)),
        None => defaults.empty.unwrap_or((Empty::default(), line)),
    };
    (errors.len() == before && column.name.is_some()).then(|| ColumnRule {
        name,
        line,
        empty,
        empty_line,
        op,
        target,
        format,
        format_line: format_line.unwrap_or(line),
        values,
    })
}

/// The column's path, resolved against the referral schema.
fn target(path: &Spanned<String>, op: Op, lines: &LineIndex) -> Result<Target, Located> {
    let text = path.get_ref();
    let resolved = schema::resolve(text).map_err(|e| lines.at(path.span(), e.to_string()))?;
    if resolved.append && op == Op::Replace {
        let message = format!("path {text:?} appends (final -): give op = \"add\"");
        return Err(lines.at(path.span(), message));
    }
    Ok(Target {
        path: text.clone(),
        node: resolved.node,
        line: lines.line(path.span().start),
    })
}

/// The column's number or date format: its own, else the default for its field's type;
/// with the line of the setting that applies (`None` for plain cells: the path's line).
fn cell_format(
    column: &RawColumn,
    target: Option<&Target>,
    defaults: &Defaults,
    lines: &LineIndex,
    errors: &mut Vec<Located>,
) -> (CellFormat, Option<usize>) {
    let node = target.map(|t| t.node);
    let plain = (CellFormat::Plain, target.map(|t| t.line));
    if let (Some(_), Some(raw)) = (&column.number, &column.date) {
        errors.push(lines.at(
            raw.span(),
            "a column takes number = … or date = …, not both: number fits a decimal path, \
             date a date-time path",
        ));
    }
    if let Some(raw) = &column.number {
        if node != Some(&Node::Scalar(Scalar::Decimal)) {
            errors.push(lines.at(
                raw.span(),
                "number = … only fits a decimal path such as /details/dealValue",
            ));
        }
        return record(number(raw, lines), errors)
            .map_or(plain, |(f, line)| (CellFormat::Number(f), Some(line)));
    }
    if let Some(raw) = &column.date {
        if node != Some(&Node::Scalar(Scalar::DateTime)) {
            errors.push(lines.at(
                raw.span(),
                "date = … only fits a date-time path such as /details/closingDateTime",
            ));
        }
        return record(date(raw, lines), errors)
            .map_or(plain, |(f, line)| (CellFormat::Date(f), Some(line)));
    }
    match (node, &defaults.number, &defaults.date) {
        (Some(Node::Scalar(Scalar::Decimal)), Some((f, line)), _) => {
            (CellFormat::Number(*f), Some(*line))
        }
        (Some(Node::Scalar(Scalar::DateTime)), _, Some((f, line))) => {
            (CellFormat::Date(f.clone()), Some(*line))
        }
        _ => plain,
    }
}

#[cfg(test)]
#[path = "compile_tests.rs"]
mod tests;
