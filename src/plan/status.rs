//! The offline status check (SPEC.md "Planning rules" 3): a document that sets `/status`
//! must set a `/substatus` that goes with it, by the table in API.md.
//!
//! Offline the referral's current status is unknown, so only the pair is checked; the move
//! from the current status is checked online (dry run, refetch).

use super::messages::InputNames;
use super::ops::PlannedOp;
use super::rows::RowList;
use super::{ErrorCode, PlanError};
use crate::input::LineRef;
use crate::schema::{TransitionError, transitions};

/// The two paths the check reads.
const STATUS: &str = "/status";
const SUBSTATUS: &str = "/substatus";

/// The field each `/status` and `/substatus` operation of a document came from (`value`,
/// `patch[2].value`, a mapped column's name), for the error to name: an operation keeps
/// only its line.
#[derive(Debug, Default)]
pub struct StatusFields(Vec<(LineRef, bool, String)>);

impl StatusFields {
    /// Whether `path` is one the check reads, whose field is worth noting.
    pub fn wants(path: &str) -> bool {
        path == STATUS || path == SUBSTATUS
    }

    /// Notes that the operation on `path` from line `at` came from `field`.
    pub fn note(&mut self, path: &str, at: LineRef, field: String) {
        self.0.push((at, path == STATUS, field));
    }

    /// The field `planned` (from line `line`) came from; `value` where none was noted.
    fn of(&self, planned: &PlannedOp, line: Option<LineRef>) -> String {
        let status = &*planned.path == STATUS;
        self.0
            .iter()
            .rev()
            .find(|(at, is_status, _)| Some(*at) == line && *is_status == status)
            .map_or_else(|| "value".into(), |(_, _, field)| field.clone())
    }
}

/// Checks the final `/status` and `/substatus` among `ops` (the operations to be sent, of
/// the document whose rows are `rows`), `fields` saying where each came from.
pub fn check<'a>(
    ops: impl Iterator<Item = &'a PlannedOp>,
    rows: &RowList,
    fields: &StatusFields,
    names: &InputNames,
) -> Option<PlanError> {
    let (mut status, mut substatus) = (None, None);
    for planned in ops {
        match &*planned.path {
            STATUS => status = Some(planned),
            SUBSTATUS => substatus = Some(planned),
            _ => {}
        }
    }
    let error =
        transitions::check(None, text(status).as_deref(), text(substatus).as_deref()).err()?;
    Some(to_plan_error(
        &error,
        (status, substatus),
        rows,
        fields,
        names,
    ))
}

/// The enum name an operation sets; the row checks already made it a string in API case.
fn text(planned: Option<&PlannedOp>) -> Option<String> {
    planned.and_then(|p| p.value.to_str())
}

fn to_plan_error(
    error: &TransitionError,
    (status, substatus): (Option<&PlannedOp>, Option<&PlannedOp>),
    rows: &RowList,
    fields: &StatusFields,
    names: &InputNames,
) -> PlanError {
    let line = |planned: Option<&PlannedOp>| {
        planned.and_then(|p| rows.get(p.row().index()).map(|row| row.at))
    };
    // The later of the two is where the pair went wrong.
    let later = match line(substatus) > line(status) {
        true => substatus,
        false => status,
    };
    match error {
        TransitionError::MissingSubstatus { .. } => PlanError {
            at: line(status),
            field: None,
            code: ErrorCode::MissingSubstatus,
            message: format!("the document {error}"),
        },
        _ => PlanError {
            at: line(later),
            field: later.map(|planned| fields.of(planned, line(later))),
            code: ErrorCode::InvalidTransition,
            message: format!(
                "{error} (/status on line {}, /substatus on line {}); change one of them",
                line_number(line(status), names),
                line_number(line(substatus), names)
            ),
        },
    }
}

fn line_number(line: Option<LineRef>, names: &InputNames) -> String {
    line.map_or_else(|| "?".into(), |line| names.line(line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{RowRef, Span};
    use crate::plan::ops::RowPlace;
    use crate::plan::{OpKind, PatchOp};
    use serde_json::json;

    /// The check of `ops` from the row form of one input, whose document's rows are lines
    /// 0 to 9, each at the place of its number.
    fn checked(ops: &[PlannedOp]) -> Option<PlanError> {
        let rows = (0..10)
            .map(|line| RowRef {
                at: LineRef { input: 0, line },
                span: Span { start: 0, end: 0 },
            })
            .collect();
        check(
            ops.iter(),
            &rows,
            &StatusFields::default(),
            &InputNames::default(),
        )
    }

    fn set(path: &str, value: &str, line: u64) -> PlannedOp {
        let op = PatchOp::new(OpKind::Replace, path, &json!(value));
        PlannedOp::new(op, RowPlace::new(line as usize))
    }

    #[test]
    fn a_status_without_a_substatus_is_missing_substatus() {
        let ops = [set("/status", "Closed", 3)];
        let error = checked(&ops).unwrap();
        assert_eq!(error.code, ErrorCode::MissingSubstatus);
        assert_eq!(error.at, Some(LineRef { input: 0, line: 3 }));
        assert!(
            error
                .message
                .starts_with("the document sets /status to Closed")
        );
        assert!(error.message.contains("Won"));
    }

    #[test]
    fn a_pair_outside_the_table_is_invalid_transition_at_the_later_line() {
        let ops = [set("/substatus", "Engaged", 2), set("/status", "Closed", 5)];
        let error = checked(&ops).unwrap();
        assert_eq!(error.code, ErrorCode::InvalidTransition);
        assert_eq!(error.at, Some(LineRef { input: 0, line: 5 }));
        assert!(
            error
                .message
                .contains("/status on line 5, /substatus on line 2")
        );
    }

    #[test]
    fn an_allowed_pair_or_a_substatus_alone_passes() {
        let pair = [set("/status", "Active", 2), set("/substatus", "Engaged", 3)];
        assert_eq!(checked(&pair), None);
        let alone = [set("/substatus", "Won", 2)];
        assert_eq!(checked(&alone), None);
    }

    #[test]
    fn the_last_status_row_is_the_one_checked() {
        let ops = [
            set("/status", "Active", 2),
            set("/status", "Closed", 3),
            set("/substatus", "Won", 4),
        ];
        assert_eq!(checked(&ops), None);
    }
}
