//! From the file as written ([`RawMapping`]) to the checked [`Mapping`]: every path resolved
//! against the referral schema, every value-map entry checked against its field's type,
//! every format built. Mistakes are collected, not returned one by one, so a user fixes
//! the file in one pass.

use super::date::DateFormat;
use super::error::{LineIndex, Located};
use super::number::NumberFormat;
use super::spec::{Empty, Op, RawColumn, RawDate, RawDefaults, RawId, RawMapping, RawNumber};
use super::values::compile_values;
use super::{CellFormat, ColumnRule, IdRule, Lookup, Mapping, Target};
use crate::schema::{self, Node, Scalar};
use std::path::Path;
use toml::Spanned;

/// The checked mapping of `text` (the content of `file`), or every mistake in it.
pub fn compile(file: &Path, text: &str) -> Result<Mapping, Vec<Located>> {
    let lines = LineIndex::new(text);
    let raw: RawMapping = toml::from_str(text).map_err(|e| vec![toml_error(&lines, &e)])?;
    let mut errors = Vec::new();
    let id = id_rule(&raw.id, &lines).map_err(|e| errors.push(e)).ok();
    let defaults = Defaults::compile(&raw.defaults, &lines, &mut errors);
    let columns: Vec<ColumnRule> = raw
        .column
        .iter()
        .filter_map(|column| column_rule(column, &defaults, &lines, &mut errors))
        .collect();
    if raw.column.is_empty() {
        errors.push(lines.at(
            0..0,
            "the mapping has no [[column]]: map at least one column",
        ));
    }
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

/// A TOML syntax or shape error (unknown key, wrong type) at its line.
fn toml_error(lines: &LineIndex, error: &toml::de::Error) -> Located {
    let span = error.span().unwrap_or(0..0);
    lines.at(span, error.message().trim().replace('\n', " "))
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

/// `[defaults]`, built.
struct Defaults {
    empty: Empty,
    number: Option<NumberFormat>,
    date: Option<DateFormat>,
}

impl Defaults {
    fn compile(raw: &RawDefaults, lines: &LineIndex, errors: &mut Vec<Located>) -> Defaults {
        Defaults {
            empty: raw.empty.unwrap_or_default(),
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

fn number(raw: &Spanned<RawNumber>, lines: &LineIndex) -> Result<NumberFormat, Located> {
    let spec = raw.get_ref();
    NumberFormat::new(spec.decimal, spec.thousands).map_err(|m| lines.at(raw.span(), m))
}

fn date(raw: &Spanned<RawDate>, lines: &LineIndex) -> Result<DateFormat, Located> {
    let spec = raw.get_ref();
    DateFormat::new(&spec.format, spec.time_zone.as_deref()).map_err(|m| lines.at(raw.span(), m))
}

/// One column's rule; `None` (with its mistakes recorded) when it cannot be built.
fn column_rule(
    raw: &Spanned<RawColumn>,
    defaults: &Defaults,
    lines: &LineIndex,
    errors: &mut Vec<Located>,
) -> Option<ColumnRule> {
    let column = raw.get_ref();
    let line = lines.line(column.name.span().start);
    let before = errors.len();
    let name = column.name.get_ref().trim().to_string();
    if name.is_empty() {
        errors.push(lines.at(
            column.name.span(),
            "name is empty: give the CSV column's name",
        ));
    }
    let op = column.op.unwrap_or_default();
    let target = column
        .path
        .as_ref()
        .and_then(|path| record(target(path, op, lines), errors));
    let format = cell_format(column, target.as_ref(), defaults, lines, errors);
    let values = compile_values(column, op, target.as_ref(), lines, errors);
    if column.path.is_none() && column.values.is_none() {
        let message = format!("column {name:?} needs a path, or values that name their paths");
        errors.push(Located { line, message });
    }
    (errors.len() == before).then(|| ColumnRule {
        name,
        line,
        empty: column.empty.unwrap_or(defaults.empty),
        op,
        target,
        format,
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
    })
}

/// The column's number or date format: its own, else the default for its field's type.
fn cell_format(
    column: &RawColumn,
    target: Option<&Target>,
    defaults: &Defaults,
    lines: &LineIndex,
    errors: &mut Vec<Located>,
) -> CellFormat {
    let node = target.map(|t| t.node);
    if let Some(raw) = &column.number {
        if node != Some(&Node::Scalar(Scalar::Decimal)) {
            errors.push(lines.at(
                raw.span(),
                "number = … only fits a decimal path such as /details/dealValue",
            ));
        }
        return record(number(raw, lines), errors).map_or(CellFormat::Plain, CellFormat::Number);
    }
    if let Some(raw) = &column.date {
        if node != Some(&Node::Scalar(Scalar::DateTime)) {
            errors.push(lines.at(
                raw.span(),
                "date = … only fits a date-time path such as /details/closingDateTime",
            ));
        }
        return record(date(raw, lines), errors).map_or(CellFormat::Plain, CellFormat::Date);
    }
    match node {
        Some(Node::Scalar(Scalar::Decimal)) => defaults
            .number
            .map_or(CellFormat::Plain, CellFormat::Number),
        Some(Node::Scalar(Scalar::DateTime)) => defaults
            .date
            .clone()
            .map_or(CellFormat::Plain, CellFormat::Date),
        _ => CellFormat::Plain,
    }
}

#[cfg(test)]
#[path = "compile_tests.rs"]
mod tests;
