//! Row checks (SPEC.md "Planning rules" 2): one raw operation becomes a validated
//! [`PatchOp`] or the list of everything wrong with it.
//!
//! All of a row's faults are reported at once (op, path, value) so a user fixes a file in
//! one pass instead of one error per run. The value is only judged when the path is
//! known, since the path decides what type the value must have.

use super::messages::{clip_json, clip_quoted};
use super::patch_op::{CheckedOp, write_json, write_json_str};
use super::{ErrorCode, OpKind, PathCache, PlanError};
use crate::input::{LineRef, RawOpRef, RawValueRef, from_str_unique, without_line};
use crate::schema::value::{self, SentAsIs};
use crate::schema::{self, Node, PathError, Resolved, Scalar};
use serde_json::Value;
use std::sync::Arc;

/// Where an operation sits in the input, so errors can point at it.
#[derive(Clone, Copy, Debug)]
pub struct OpSite<'a> {
    /// The line of its record.
    pub at: LineRef,
    /// Which of the record's fields hold it.
    pub field: SiteField<'a>,
}

/// Where in its record an operation is written.
#[derive(Clone, Copy, Debug)]
pub enum SiteField<'a> {
    /// A row: its own `op`, `path` and `value`.
    Row,
    /// Operation `i` of a document-form record's `patch`.
    Patch(usize),
    /// The cell of this column of a wide CSV, read through a mapping.
    Column(&'a str),
}

impl OpSite<'_> {
    /// The field name as the user wrote it: `path` for a row, `patch[2].path` for a
    /// document, the column (`Notes`) for a mapped row, whose cell gave op, path and value.
    pub fn field(&self, name: &str) -> String {
        match self.field {
            SiteField::Row => name.to_string(),
            SiteField::Patch(i) => format!("patch[{i}].{name}"),
            SiteField::Column(column) => column.to_string(),
        }
    }

    /// A planning error at this site.
    pub fn error(&self, name: &str, code: ErrorCode, message: String) -> PlanError {
        PlanError {
            at: Some(self.at),
            field: Some(self.field(name)),
            code,
            message,
        }
    }
}

/// Checks one raw operation: op, path, then value against the path's type; the path of a
/// valid one is shared through `paths`.
pub fn check_op<'b>(
    raw: RawOpRef<'_>,
    site: OpSite<'_>,
    paths: &'b mut PathCache,
    buf: &'b mut String,
) -> Result<CheckedOp<'b>, Vec<PlanError>> {
    let op = parse_op(raw.op, site);
    let resolved = check_path(raw.path, op.as_ref().ok().copied(), site, paths);
    // An op the API refuses (`remove`) comes without a value, read as null: the op is
    // what is wrong, not the missing value.
    let unvalued = op.is_err() && matches!(raw.value, RawValueRef::Json(Value::Null));
    let value = match &resolved {
        Ok(_) if unvalued => Ok(None),
        Ok((_, resolved)) => convert_value(resolved, raw.path, raw.value, site, buf).map(Some),
        Err(_) => Ok(None),
    };
    match (op, resolved, value) {
        (Ok(op), Ok((path, _)), Ok(Some(value))) => Ok(CheckedOp { op, path, value }),
        (op, resolved, value) => Err([op.err(), resolved.err(), value.err()]
            .into_iter()
            .flatten()
            .collect()),
    }
}

/// `replace` or `add` in any case; surrounding blanks from a hand-edited CSV are forgiven.
fn parse_op(text: &str, site: OpSite<'_>) -> Result<OpKind, PlanError> {
    // Most cells say it as it is; the others are trimmed and compared in any case.
    match text {
        "replace" => return Ok(OpKind::Replace),
        "add" => return Ok(OpKind::Add),
        _ => {}
    }
    let word = text.trim();
    if word.eq_ignore_ascii_case("replace") {
        Ok(OpKind::Replace)
    } else if word.eq_ignore_ascii_case("add") {
        Ok(OpKind::Add)
    } else {
        let message = format!(
            "op {} is not supported; use replace or add (the API refuses remove, move, copy \
             and test)",
            clip_quoted(text)
        );
        Err(site.error("op", ErrorCode::InvalidOp, message))
    }
}

/// Resolves the path against the referral schema (through the plan's cache); a `replace`
/// may not end in `-`.
fn check_path<'p>(
    path: &str,
    op: Option<OpKind>,
    site: OpSite<'_>,
    paths: &'p mut PathCache,
) -> Result<(&'p Arc<str>, &'p Resolved), PlanError> {
    let (shared, resolved) = paths.resolve(path).map_err(|e| path_error(&e, site))?;
    if resolved.append && op == Some(OpKind::Replace) {
        let message = format!(
            "replace cannot target {path:?}: a final - means \"append\"; use add to append, or \
             name an element such as {}",
            path.trim_end_matches('-').to_string() + "0"
        );
        return Err(site.error("path", ErrorCode::InvalidPath, message));
    }
    Ok((shared, resolved))
}

fn path_error(error: &PathError, site: OpSite<'_>) -> PlanError {
    let (code, hint) = match error {
        PathError::NotPointer { .. } => (
            ErrorCode::InvalidPath,
            "write a path such as /details/notes",
        ),
        PathError::Unknown { .. } => (
            ErrorCode::InvalidPath,
            "check the spelling (paths are case-sensitive, e.g. /details/dealValue)",
        ),
        PathError::ReadOnly { field, .. } if field == "eTag" => (
            ErrorCode::ReadOnlyPath,
            "drop this row and give the ETag in the if_match column instead",
        ),
        PathError::ReadOnly { .. } => (ErrorCode::ReadOnlyPath, "drop this row"),
    };
    site.error("path", code, format!("{error}; {hint}"))
}

/// Converts the value to the JSON the API wants at the path `resolved`, or says why it
/// cannot; a member its object requires may not be set blank.
fn convert_value<'b>(
    resolved: &Resolved,
    path: &str,
    raw: RawValueRef<'_>,
    site: OpSite<'_>,
    buf: &'b mut String,
) -> Result<&'b str, PlanError> {
    let node = resolved.node;
    let converted = convert_to_node(node, path, raw, site, buf)?;
    if let Some((_, member)) = resolved.required {
        let value = serde_json::from_str(converted).unwrap_or(Value::Null);
        resolved.check_required(&value).map_err(|e| {
            let message = format!("{} (path {path}); fill in the {member}", e.0);
            site.error("value", ErrorCode::InvalidValue, message)
        })?;
    }
    Ok(converted)
}

/// Converts the value to the JSON the API wants for `node`, or says why it cannot.
fn convert_to_node<'b>(
    node: &Node,
    path: &str,
    raw: RawValueRef<'_>,
    site: OpSite<'_>,
    buf: &'b mut String,
) -> Result<&'b str, PlanError> {
    if let RawValueRef::Text(text) = raw {
        // A CSV cell is the string as it stands: write its JSON text straight away; so too
        // a decimal or a date already in the form it is sent in.
        if let Node::Scalar(Scalar::String) = node {
            return Ok(write_json_str(text, buf));
        }
        match value::sent_as_is(node, text) {
            Some(SentAsIs::Bare) => {
                buf.clear();
                buf.push_str(text);
                return Ok(buf);
            }
            Some(SentAsIs::Quoted) => return Ok(write_json_str(text, buf)),
            None => {}
        }
    }
    let converted = match (node, raw) {
        (_, RawValueRef::Json(value)) => schema::check_json(node, value).map_err(|e| e.0),
        (_, RawValueRef::InexactNumber(number)) => Err(value::inexact_number_error(number).0),
        (Node::Object(_) | Node::Array(_), RawValueRef::Text(text)) => from_str_unique(text)
            .map_err(|e| match e.is_data() {
                // The one data error reading any JSON value: a key given twice.
                true => format!(
                    "it is JSON that cannot be read one way: {}",
                    without_line(&e)
                ),
                false => format!("it is not JSON ({e})"),
            })
            .and_then(|value| schema::check_json_owned(node, value).map_err(|e| e.0)),
        (_, RawValueRef::Text(text)) => schema::from_text(node, text).map_err(|e| e.0),
    };
    converted
        .map(|value| write_json(&value, buf))
        .map_err(|reason| {
            site.error(
                "value",
                ErrorCode::InvalidValue,
                value_message(node, path, raw, &reason),
            )
        })
}

/// Scalar checks already name the value; structured ones name a member, so the value is
/// added to the message for them: as compact JSON when it is JSON (quoting JSON text would
/// bury it in backslashes), else quoted.
fn value_message(node: &Node, path: &str, raw: RawValueRef<'_>, reason: &str) -> String {
    let hint = value_hint(node, raw);
    match node {
        Node::Scalar(_) => format!("{reason} (path {path}); {hint}"),
        _ => {
            let shown = match raw {
                RawValueRef::Text(text) => serde_json::from_str(text)
                    .map(|value| clip_json(&value))
                    .unwrap_or_else(|_| clip_quoted(text)),
                RawValueRef::Json(value) => clip_json(value),
                RawValueRef::InexactNumber(number) => clip_quoted(number),
            };
            format!("{path} cannot take {shown}: {reason}; {hint}")
        }
    }
}

fn value_hint(node: &Node, raw: RawValueRef<'_>) -> String {
    match node {
        // In JSON a boolean is a JSON boolean; the 1 and 0 of a CSV cell are text.
        Node::Scalar(Scalar::Boolean) if matches!(raw, RawValueRef::Json(_)) => {
            "write true or false".into()
        }
        Node::Scalar(Scalar::Decimal) => {
            "write it without thousands separators or currency symbols".into()
        }
        Node::Scalar(Scalar::Boolean) => "write true or false (or 1 or 0)".into(),
        Node::Scalar(Scalar::Enum(_)) => "use one of those names (any case)".into(),
        Node::Scalar(Scalar::DateTime) => "write it as 2026-12-31 or 2026-12-31T00:00:00Z".into(),
        Node::Scalar(Scalar::String) => "give it as a JSON string".into(),
        Node::Object(_) | Node::Array(_) => format!("write {} as JSON", node.describe()),
        Node::ReadOnly => "drop this row".into(),
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
