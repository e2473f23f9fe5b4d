//! The report row, and how plan entries and send results become rows.

use super::lines::LineNames;
use crate::outcome::{Note, Outcome};
use crate::plan::{Document, InvalidEntry, PlanEntry, PlanError};
use crate::send::SendResult;
use serde::{Deserialize, Serialize};

/// The report's columns, in order (SPEC.md "Outcomes and report").
pub const COLUMNS: [&str; 13] = [
    "id",
    "outcome",
    "http_status",
    "attempts",
    "if_match_sent",
    "etag_after",
    "ops",
    "source_lines",
    "error_code",
    "error_message",
    "note",
    "request_id",
    "duration_ms",
];

/// The extra column of a dry run's report.
pub const CHANGES_COLUMN: &str = "changes";

/// One report row: one referral document, or one invalid row with no usable ID.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    /// The referral ID; empty for an ID-less row.
    pub id: String,
    /// The outcome.
    pub outcome: Outcome,
    /// The last HTTP status received, if any.
    pub http_status: Option<u16>,
    /// PATCH requests sent.
    pub attempts: u32,
    /// The `If-Match` value of the last PATCH.
    pub if_match_sent: Option<String>,
    /// The ETag the API returned for the applied document.
    pub etag_after: Option<String>,
    /// Operations in the document.
    pub ops: usize,
    /// The document's input lines.
    pub source_lines: String,
    /// Why it is not `updated`, as a code.
    pub error_code: Option<String>,
    /// Why it is not `updated`, for a user.
    pub error_message: Option<String>,
    /// How the outcome was reached where that is not plain.
    pub note: Option<String>,
    /// The `MS-RequestId` of the last PATCH.
    pub request_id: Option<String>,
    /// Wall time spent on the document.
    pub duration_ms: Option<u64>,
    /// Dry run only: the field-level diff as a JSON array of `{path, from, to}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<serde_json::Value>,
}

/// The report's `note` for a document, joining the send notes (a conflict policy's, then
/// `verified`) and merged duplicates with `;`.
fn note_text(send_notes: [Option<Note>; 2], merged: bool) -> Option<String> {
    note_text_in(None, send_notes, merged)
}

/// [`note_text`] written into `reused`'s memory, where there is some.
fn note_text_in(
    reused: Option<String>,
    send_notes: [Option<Note>; 2],
    merged: bool,
) -> Option<String> {
    let merged = merged.then_some(Note::MergedDuplicates);
    let mut notes = send_notes
        .into_iter()
        .chain([merged])
        .flatten()
        .map(Note::as_str);
    // Grown in place rather than collected and joined: a plan makes a row for every
    // document, and the list to join was a tenth of making one (callgrind).
    let mut text = reused.unwrap_or_default();
    text.clear();
    text.push_str(notes.next()?);
    for note in notes {
        text.push(';');
        text.push_str(note);
    }
    Some(text)
}

/// Renders planning errors as one message naming file, line and field for each.
pub fn plan_errors_message(errors: &[PlanError], names: &LineNames) -> String {
    errors
        .iter()
        .map(|e| {
            let place = match (e.at, &e.field) {
                (Some(at), Some(field)) => format!("{}, field {field}: ", names.in_message(at)),
                (Some(at), None) => format!("{}: ", names.in_message(at)),
                (None, Some(field)) => format!("field {field}: "),
                (None, None) => String::new(),
            };
            format!("{place}{}", e.message)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl ReportRow {
    /// An empty row with `outcome`, to fill in.
    pub fn new(outcome: Outcome) -> ReportRow {
        ReportRow {
            id: String::new(),
            outcome,
            http_status: None,
            attempts: 0,
            if_match_sent: None,
            etag_after: None,
            ops: 0,
            source_lines: String::new(),
            error_code: None,
            error_message: None,
            note: None,
            request_id: None,
            duration_ms: None,
            changes: None,
        }
    }

    /// The row of a plan entry before anything is sent: `planned` for a valid document
    /// (as `plan` reports it), `invalid` for a refused one.
    pub fn for_entry(entry: &PlanEntry, names: &LineNames) -> ReportRow {
        match entry {
            PlanEntry::Document(doc) => ReportRow::for_planned(doc, names),
            PlanEntry::Invalid(invalid) => ReportRow::for_invalid(invalid, names),
        }
    }

    /// Makes this row [`ReportRow::for_entry`] of `entry`, its ID, lines and note written
    /// into the memory this row held: for a pass that makes the row of every entry and
    /// lets each go once encoded, where three allocations per row showed in the profile of
    /// `plan`.
    pub fn refill_for_entry(&mut self, entry: &PlanEntry, names: &LineNames) {
        let PlanEntry::Document(doc) = entry else {
            *self = ReportRow::for_entry(entry, names);
            return;
        };
        let mut id = std::mem::take(&mut self.id);
        id.clear();
        id.push_str(&doc.id);
        let mut source_lines = std::mem::take(&mut self.source_lines);
        source_lines.clear();
        names.push_source_lines(&mut source_lines, doc.rows.iter().map(|r| r.at));
        let note = note_text_in(self.note.take(), [None, None], doc.merged_duplicates);
        *self = ReportRow::planned(doc, id, source_lines, note);
    }

    fn for_planned(doc: &Document, names: &LineNames) -> ReportRow {
        let source_lines = names.source_lines(doc.rows.iter().map(|r| r.at));
        let note = note_text([None, None], doc.merged_duplicates);
        ReportRow::planned(doc, doc.id.clone(), source_lines, note)
    }

    /// The `planned` row of `doc`, given its ID, lines and note as text (made afresh or
    /// in reused memory).
    fn planned(doc: &Document, id: String, source_lines: String, note: Option<String>) -> Self {
        ReportRow {
            id,
            outcome: Outcome::Planned,
            ops: doc.ops.len(),
            source_lines,
            note,
            ..ReportRow::new(Outcome::Planned)
        }
    }

    fn for_invalid(invalid: &InvalidEntry, names: &LineNames) -> ReportRow {
        ReportRow {
            id: invalid.id.clone().unwrap_or_default(),
            outcome: Outcome::Invalid,
            ops: invalid.ops,
            source_lines: names.source_lines(invalid.rows.iter().map(|r| r.at)),
            error_code: invalid.errors.first().map(|e| e.code.as_str().to_string()),
            error_message: Some(plan_errors_message(&invalid.errors, names)),
            ..ReportRow::new(Outcome::Planned)
        }
    }

    /// The row of a document once the send stage has decided its outcome.
    pub fn for_result(doc: &Document, result: &SendResult, names: &LineNames) -> ReportRow {
        ReportRow {
            id: doc.id.clone(),
            outcome: result.outcome,
            http_status: result.http_status,
            attempts: result.attempts,
            if_match_sent: result.if_match_sent.clone(),
            etag_after: result.etag_after.clone(),
            ops: doc.ops.len(),
            source_lines: names.source_lines(doc.rows.iter().map(|r| r.at)),
            error_code: result.error_code.clone(),
            error_message: result.error_message.clone(),
            note: note_text([result.resolved_by, result.note], doc.merged_duplicates),
            request_id: result.request_id.map(|id| id.to_string()),
            duration_ms: Some(result.duration.as_millis() as u64),
            changes: result.changes.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_joined_in_order_and_no_note_is_none() {
        let note = |send, merged| note_text(send, merged);
        assert_eq!(note([None, None], false), None);
        assert_eq!(
            note([None, None], true).as_deref(),
            Some("merged-duplicates")
        );
        assert_eq!(
            note([Some(Note::Refetched), None], true).as_deref(),
            Some("refetched;merged-duplicates")
        );
        assert_eq!(
            note([Some(Note::Overwritten), Some(Note::Verified)], false).as_deref(),
            Some("overwritten;verified")
        );
        assert_eq!(
            note([None, Some(Note::Verified)], true).as_deref(),
            Some("verified;merged-duplicates")
        );
    }

    #[test]
    fn a_refilled_row_is_the_row_made_afresh_whatever_it_held_before() {
        use crate::plan::test_support::csv;
        use crate::plan::{PlanOptions, Planner};
        let mut planner = Planner::new(PlanOptions::default());
        let id = |n: u32| format!("{n:08x}-0000-0000-0000-000000000000");
        let rows = [
            csv(2, &id(1), "replace", "/name", "one"),
            csv(3, &id(2), "replace", "/details/dealValue", "12x"),
            csv(4, &id(1), "replace", "/name", "one"),
            csv(5, "", "replace", "/name", "no id"),
            csv(6, &id(3), "replace", "/details/notes", "a"),
            csv(7, &id(1), "replace", "/details/notes", "b"),
        ];
        for row in &rows {
            planner.push(row);
        }
        let entries = planner.finish().entries;
        assert_eq!(entries.len(), 4);
        let names = LineNames::new(vec!["in.csv".into()]);
        let mut refilled = ReportRow::new(Outcome::Failed);
        refilled.error_message = Some("left over".into());
        refilled.http_status = Some(500);
        // Each entry after each other, so every kind follows every kind.
        for first in &entries {
            for second in &entries {
                for entry in [first, second] {
                    refilled.refill_for_entry(entry, &names);
                    assert_eq!(refilled, ReportRow::for_entry(entry, &names));
                }
            }
        }
    }
}
