//! One referral's rows as they arrive: their lines, their operations, their `if_match`
//! and everything found wrong so far; [`Group::finish`] turns that into a plan entry.
//!
//! Row errors are kept apart from document errors because the report lists the row
//! errors first (in line order, which is arrival order) and then the document-level ones.

use super::ahead::prefetch;
use super::id::check_id;
use super::messages::{InputNames, clip_json, clip_quoted, lines};
use super::ops::{OpList, Pushed, RowPlace};
use super::rows::RowList;
use super::rules::{OpSite, SiteField, check_op};
use super::status::StatusFields;
use super::{
    Document, ErrorCode, InvalidEntry, OnDuplicate, PathCache, PlanEntry, PlanError, status,
};
use crate::input::{LineRef, RawOp, RawOpRef, RowRef};

/// What every group's operations are checked with: the duplicate rule and the plan's
/// shared paths.
#[derive(Debug, Default)]
pub struct OpRules {
    /// `--on-duplicate`.
    pub on_duplicate: OnDuplicate,
    /// Every valid operation's path, stored once.
    pub paths: PathCache,
    /// Where the row checks write an operation's value, reused from row to row.
    pub value_buf: String,
    /// The inputs' names, for messages that name other lines.
    pub names: InputNames,
}

/// The rows of one referral ID (or a single ID-less row) being planned.
#[derive(Debug)]
pub struct Group {
    id: Option<String>,
    rows: RowList,
    ops: OpList,
    /// Operations refused by the row checks: they still count in the document's size.
    invalid_ops: u32,
    if_match: IfMatch,
    /// Everything found wrong so far; most groups have nothing, so it lives behind a box
    /// that only a faulty group allocates (a hundred thousand groups are held at once).
    faults: Option<Box<Faults>>,
    /// Where the `/status` and `/substatus` operations came from, for the status check:
    /// only a document that sets one allocates it.
    status_fields: Option<Box<StatusFields>>,
    merged_duplicates: bool,
    /// Whether the ID is a CRM ID, looked up before sending.
    by_external_id: bool,
}

impl Group {
    /// A group for `id` (`None` for an ID-less row) whose first row is on line `first`;
    /// an ID that breaks the ID rule is reported there, in the field `id_field`, once for
    /// the whole group.
    pub fn new(id: Option<String>, first: LineRef, id_field: &str) -> Self {
        let id_error = id.as_deref().and_then(|id| check_id(id).err());
        let mut group = Group {
            id,
            rows: RowList::default(),
            ops: OpList::default(),
            invalid_ops: 0,
            faults: None,
            status_fields: None,
            if_match: IfMatch::default(),
            merged_duplicates: false,
            by_external_id: false,
        };
        if let Some(message) = id_error {
            group.add_error(PlanError {
                at: Some(first),
                field: Some(id_field.into()),
                code: ErrorCode::InvalidId,
                message,
            });
        }
        group
    }

    /// Keeps each row's line alone from now on (see [`RowList::lines_only`]); for a group
    /// with no row yet.
    pub fn keep_lines_only(&mut self) {
        if self.rows.is_empty() {
            self.rows = RowList::lines_only();
        }
    }

    /// Marks the ID as a CRM ID, to be resolved through `externalReferenceId` before
    /// sending.
    pub fn mark_by_external_id(&mut self) {
        self.by_external_id = true;
    }

    /// The referral ID, `None` for an ID-less row.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The line of the first row (every group has one once a row is added).
    pub fn first_line(&self) -> Option<LineRef> {
        self.rows.first().map(|row| row.at)
    }

    /// Starts loading what adding a row reads: the ID, the end of the row list and the
    /// operations (see `plan::ahead`).
    pub fn prefetch(&self) {
        if let Some(id) = &self.id {
            prefetch(id.as_ptr());
        }
        self.rows.prefetch_end();
        self.ops.prefetch();
    }

    /// Starts loading what finishing the group reads: its rows and operations.
    pub fn prefetch_for_finish(&self) {
        self.rows.prefetch_all();
        self.ops.prefetch_all();
    }

    /// Starts loading the values of the operations, which a new one is compared with.
    pub fn prefetch_values(&self) {
        self.ops.prefetch_values();
    }

    fn faults(&mut self) -> &mut Faults {
        self.faults.get_or_insert_with(Box::default)
    }

    /// Adds a row-form row: one operation.
    pub fn add_row(
        &mut self,
        row: RowRef,
        op: RawOpRef<'_>,
        if_match: Option<&str>,
        rules: &mut OpRules,
    ) {
        self.add_record(row, if_match, &rules.names);
        self.add_op(
            op,
            OpSite {
                at: row.at,
                field: SiteField::Row,
            },
            rules,
        );
    }

    /// Adds a document-form record: its operations, in order, and for a mapped row the
    /// column of each (see [`crate::input::RecordContent::Document`]).
    pub fn add_document(
        &mut self,
        row: RowRef,
        (patch, columns): (&[RawOp], &[String]),
        if_match: Option<&str>,
        rules: &mut OpRules,
    ) {
        // An empty patch changes nothing: the row is kept, with no operation.
        self.add_record(row, if_match, &rules.names);
        for (index, op) in patch.iter().enumerate() {
            let field = match columns.get(index) {
                Some(column) => SiteField::Column(column),
                None => SiteField::Patch(index),
            };
            let site = OpSite { at: row.at, field };
            self.add_op(op.as_ref(), site, rules);
        }
    }

    /// Adds a record that could not be read; it counts as one operation that failed.
    /// A file without a required column is what is wrong with each of its rows: its
    /// error comes before any other found on the same line (an ID that breaks the ID
    /// rule, say), so that the report gives `missing_column` as SPEC says.
    pub fn add_malformed(&mut self, row: RowRef, error: PlanError) {
        self.rows.push(row);
        self.invalid_ops += 1;
        let errors = &mut self.faults().row_errors;
        let first_on_its_line = match error.code {
            ErrorCode::MissingColumn => errors.iter().position(|e| e.at == error.at),
            _ => None,
        };
        match first_on_its_line {
            Some(index) => errors.insert(index, error),
            None => errors.push(error),
        }
    }

    /// Records a row error that is not about one operation (a missing ID, say).
    pub fn add_error(&mut self, error: PlanError) {
        self.faults().row_errors.push(error);
    }

    fn add_record(&mut self, row: RowRef, if_match: Option<&str>, names: &InputNames) {
        self.rows.push(row);
        match self.if_match.see(if_match, row.at, names) {
            None => {}
            Some(Seen::Unusable(error)) => self.add_error(error),
            Some(Seen::Mismatch(error)) => self.faults().document_errors.push(error),
        }
    }

    fn add_op(&mut self, raw: RawOpRef<'_>, site: OpSite<'_>, rules: &mut OpRules) {
        let op = match check_op(raw, site, &mut rules.paths, &mut rules.value_buf) {
            Ok(op) => op,
            Err(errors) => {
                self.invalid_ops += 1;
                self.faults().row_errors.extend(errors);
                return;
            }
        };
        // The path lives in `rules.paths`, not in the operation, which the list takes.
        let path: &str = op.path;
        let status_path = StatusFields::wants(path).then_some(path);
        // The row of the operation is the last one added (`add_record`).
        let row = RowPlace::new(self.rows.len().saturating_sub(1));
        match self.ops.push(op, row, rules.on_duplicate) {
            Pushed::Added | Pushed::Overrode => {
                if let Some(path) = status_path {
                    let fields = self.status_fields.get_or_insert_with(Box::default);
                    fields.note(path, site.at, site.field("value"));
                }
            }
            Pushed::Merged => self.merged_duplicates = true,
            conflict @ Pushed::Conflict { .. } => {
                let error = duplicate_error(conflict, site, &self.rows, &rules.names);
                self.faults().document_errors.extend(error);
            }
        }
    }

    /// The finished entry: a document when nothing is wrong, else an invalid entry with
    /// the row errors first and the document errors after.
    pub fn finish(mut self, names: &InputNames) -> PlanEntry {
        // The plan is held through the whole send stage: give back what growth over-allocated.
        self.rows.shrink_loose();
        let Faults {
            row_errors: mut errors,
            document_errors,
        } = self.faults.map(|faults| *faults).unwrap_or_default();
        errors.extend(document_errors);
        let noted = StatusFields::default();
        let fields = self.status_fields.as_deref().unwrap_or(&noted);
        errors.extend(status::check(self.ops.live(), &self.rows, fields, names));
        let live = self.ops.live().count();
        match self.id {
            Some(id) if errors.is_empty() => PlanEntry::Document(std::sync::Arc::new(Document {
                id,
                if_match: self.if_match.value(),
                ops: self.ops.into_live_ops(),
                rows: self.rows,
                merged_duplicates: self.merged_duplicates,
                by_external_id: self.by_external_id,
            })),
            id => PlanEntry::Invalid(Box::new(InvalidEntry {
                id,
                rows: self.rows,
                ops: live + self.invalid_ops as usize,
                errors,
            })),
        }
    }
}

/// The errors of a group: row errors (reported first, in line order) and document errors.
#[derive(Debug, Default)]
struct Faults {
    row_errors: Vec<PlanError>,
    document_errors: Vec<PlanError>,
}

/// The `duplicate_path` error for a conflict the op list found (the earlier operation's
/// row among `rows`); `None` for anything else.
fn duplicate_error(
    pushed: Pushed,
    site: OpSite<'_>,
    rows: &RowList,
    names: &InputNames,
) -> Option<PlanError> {
    let Pushed::Conflict {
        path,
        earlier,
        earlier_value,
        value,
    } = pushed
    else {
        return None;
    };
    let earlier = rows.get(earlier.index()).map_or(site.at, |row| row.at);
    // Two operations of one document-form line share the line.
    let who = match earlier == site.at {
        true => format!(
            "{} sets {path} twice, to different values",
            lines(&[earlier], names)
        ),
        false => format!(
            "{} set {path} to different values",
            lines(&[earlier, site.at], names)
        ),
    };
    let message = format!(
        "{who} ({}, then {}); keep one of them, or run with --on-duplicate last-wins to let \
         the later one win",
        clip_json(&earlier_value.to_value()),
        clip_json(&value.to_value()),
    );
    Some(PlanError {
        at: Some(site.at),
        field: Some(site.field("path")),
        code: ErrorCode::DuplicatePath,
        message,
    })
}

/// The `if_match` values one referral's rows give, for the rule that they must agree:
/// nothing until a row gives one (8 bytes in each of a hundred thousand groups).
#[derive(Debug, Default)]
struct IfMatch(Option<Box<FirstIfMatch>>);

/// The first `if_match` value of a referral's rows, and the others reported against it.
#[derive(Debug)]
struct FirstIfMatch {
    /// The value, quoted.
    value: String,
    /// Its line.
    at: LineRef,
    /// Different values already reported, so a value repeated on many rows is named once.
    reported: Vec<String>,
}

/// What a row's `if_match` turned out to be, where it is at fault.
#[derive(Debug, PartialEq)]
enum Seen {
    /// Not an ETag that can be sent: the row's own error.
    Unusable(PlanError),
    /// A different value from the first row's: the document's error.
    Mismatch(PlanError),
}

impl IfMatch {
    /// Notes a row's value; an error when it cannot be sent, or when it disagrees with the
    /// first one for the first time.
    fn see(&mut self, raw: Option<&str>, at: LineRef, names: &InputNames) -> Option<Seen> {
        let value = match raw.map(normalise_if_match)? {
            Ok(value) => value?,
            Err(message) => {
                return Some(Seen::Unusable(PlanError {
                    at: Some(at),
                    field: Some("if_match".into()),
                    code: ErrorCode::InvalidValue,
                    message,
                }));
            }
        };
        let Some(first) = &mut self.0 else {
            self.0 = Some(Box::new(FirstIfMatch {
                value,
                at,
                reported: Vec::new(),
            }));
            return None;
        };
        if first.value == value || first.reported.contains(&value) {
            return None;
        }
        let message = format!(
            "line {} gives if_match {} but line {} gives {value}; all rows of one \
             referral must carry the same ETag (or leave it empty)",
            names.line(first.at),
            first.value,
            names.line(at)
        );
        first.reported.push(value);
        Some(Seen::Mismatch(PlanError {
            at: Some(at),
            field: Some("if_match".into()),
            code: ErrorCode::IfMatchMismatch,
            message,
        }))
    }

    fn value(&self) -> Option<String> {
        self.0.as_ref().map(|first| first.value.clone())
    }
}

/// The ETag in the quoted form the API gives and wants (`"…"`); `None` when empty; a
/// message when it is no ETag that an `If-Match` header can carry.
///
/// Spreadsheets drop the quotes, so one pair is optional on input; comparing the quoted
/// forms makes `abc` and `"abc"` agree. A weak ETag (`W/"…"`) never matches `If-Match`
/// (RFC 9110 compares strongly), and a quote inside, a quote on one side only, or a
/// character outside visible ASCII is no ETag: each would be sent as something the
/// referral's `eTag` never is.
pub fn normalise_if_match(raw: &str) -> Result<Option<String>, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let advice = "give the referral's eTag as Partner Center shows it, e.g. \
                  \"00006d10-0000-0000-0000-5c70aa630000\"";
    if trimmed == "*" {
        return Err(format!(
            "if_match * (any version) is no ETag: refsync sends If-Match only to guard one \
             version; leave the cell empty to send none, or {advice}"
        ));
    }
    if trimmed.starts_with("W/") {
        return Err(format!(
            "if_match {} is a weak ETag (W/…), which never matches If-Match; {advice}",
            clip_quoted(trimmed)
        ));
    }
    let opened = trimmed.starts_with('"');
    let closed = trimmed.len() > 1 && trimmed.ends_with('"');
    let inner = match (opened, closed) {
        (true, true) => &trimmed[1..trimmed.len() - 1],
        (false, false) => trimmed,
        _ => {
            return Err(format!(
                "if_match {} has a quote on one side only; {advice}",
                clip_quoted(trimmed)
            ));
        }
    };
    if inner.bytes().any(|b| b == b'"' || !b.is_ascii_graphic()) {
        return Err(format!(
            "if_match {} has a quote, a space or a character outside ASCII inside it, which \
             no ETag has; {advice}",
            clip_quoted(trimmed)
        ));
    }
    Ok((!inner.is_empty()).then(|| format!("\"{inner}\"")))
}

#[cfg(test)]
#[path = "group_tests.rs"]
mod tests;
