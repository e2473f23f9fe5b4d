//! `--undo FILE`: for every document applied, one document-form line that puts back the
//! values it replaced, so `refsync sync FILE` reverses the run.
//!
//! The API cannot `remove`, so every undo operation is a `replace` of an old value: an
//! appended array is replaced whole by its old content, a member that an `add` created is
//! undone by replacing its parent object. A member created at the top of the referral has
//! no parent that may be replaced (the referral itself holds read-only fields), so it
//! cannot be undone: it is left out, with a warning. The line's `if_match` is the ETag after the
//! PATCH: should anyone change the referral after the run, its undo is a `conflict`
//! rather than an overwrite of their change.

use crate::outcome::{Note, Outcome};
use crate::plan::{Document, PatchOp};
use crate::send::SendResult;
use serde_json::{Value, json};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Why the undo file cannot be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the undo file {path}: {source}")]
pub struct UndoError {
    path: PathBuf,
    source: std::io::Error,
}

/// The undo file, one line per applied document, flushed as each arrives so that a run
/// that is killed still leaves the undo of what it applied.
pub struct UndoWriter {
    path: PathBuf,
    out: BufWriter<File>,
    lines: usize,
    /// The hashes of the lines the file held when opened, read at the first document a
    /// resume verified: an earlier process may have written its line just before it died.
    earlier: Option<std::collections::HashSet<u64>>,
}

impl UndoWriter {
    /// Opens the undo file, creating it or appending to it: an undo file is never cut
    /// short, so the lines of an earlier run (or of the attempt a resume continues) stay.
    pub fn open(path: &Path) -> Result<UndoWriter, UndoError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| UndoError {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(UndoWriter {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
            lines: 0,
            earlier: None,
        })
    }

    /// Writes the undo line of `doc` if `result` applied it and knows what it replaced.
    pub fn record(&mut self, doc: &Document, result: &SendResult) -> Result<(), UndoError> {
        if result.outcome != Outcome::Updated {
            return Ok(());
        }
        let Some(before) = &result.before else {
            if result.note == Some(Note::Verified) {
                tracing::warn!(id = %doc.id, "no undo line: the referral was read only after the lost PATCH had applied");
            }
            return Ok(());
        };
        for path in created_at_top(before, &doc.ops) {
            tracing::warn!(id = %doc.id, path, "the undo line cannot take back this member: the document created it at the top of the referral, and the API cannot remove it");
        }
        let after = applied(before, &doc.ops);
        if let Some((now, then)) = after.and_then(|after| status_with_no_way_back(before, &after)) {
            tracing::warn!(id = %doc.id, "the undo line leaves the status as it is: the transition table has no way back from {now} to {then}; it restores the rest");
        }
        let etag = result.etag_after.as_deref();
        let Some(line) = undo_document(&doc.id, before, &doc.ops, etag) else {
            return Ok(());
        };
        if etag.is_none() {
            tracing::warn!(id = %doc.id, "the undo line carries no if_match: no ETag was known after the PATCH (the answer named none, and reading the referral again did not give it), so sending it would overwrite a later edit");
        }
        if result.note == Some(Note::Verified) && self.written_before(&line) {
            return Ok(());
        }
        self.write_line(&line)
    }

    /// Whether the file held `line` when opened (the same document applied by the same
    /// PATCH, whose ETag after it the line carries).
    fn written_before(&mut self, line: &Value) -> bool {
        let path = &self.path;
        let earlier = self.earlier.get_or_insert_with(|| {
            std::fs::read_to_string(path)
                .unwrap_or_default()
                .lines()
                .map(line_hash)
                .collect()
        });
        earlier.contains(&line_hash(&line.to_string()))
    }

    fn write_line(&mut self, line: &Value) -> Result<(), UndoError> {
        let written = writeln!(self.out, "{line}").and_then(|()| self.out.flush());
        written.map_err(|source| UndoError {
            path: self.path.clone(),
            source,
        })?;
        self.lines += 1;
        Ok(())
    }

    /// Lines written.
    pub fn lines(&self) -> usize {
        self.lines
    }
}

/// A hash of an undo line's text, to tell whether the file holds it already.
fn line_hash(line: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    // The same keys every call (`DefaultHasher::new`), so equal lines hash alike.
    let mut hasher = std::hash::DefaultHasher::new();
    line.hash(&mut hasher);
    hasher.finish()
}

/// The document-form line that restores `before` where `ops` changed it, guarded by
/// `etag_after`; `None` when the operations changed nothing.
pub fn undo_document(
    id: &str,
    before: &Value,
    ops: &[PatchOp],
    etag_after: Option<&str>,
) -> Option<Value> {
    let after = applied(before, ops);
    // A status move the table does not allow back would make the API refuse the whole
    // line, and so restore nothing: the status is left as it is, the rest restored.
    let keep_status = after
        .as_ref()
        .is_some_and(|after| status_with_no_way_back(before, after).is_some());
    let patch: Vec<Value> = restore_targets(before, ops)
        .into_iter()
        .filter(|path| !(keep_status && matches!(path.as_str(), "/status" | "/substatus")))
        .filter_map(|path| {
            let old = before.pointer(&path)?;
            let changed = after.as_ref().is_none_or(|a| a.pointer(&path) != Some(old));
            changed.then(|| json!({"op": "replace", "path": path, "value": old}))
        })
        .collect();
    if patch.is_empty() {
        return None;
    }
    let mut line = json!({"id": id, "patch": patch});
    if let Some(tag) = etag_after {
        line["if_match"] = json!(tag);
    }
    Some(line)
}

/// The status the referral moved to (as `after` has it) and the one it had, where the
/// transition table has no way back between them (Active to New, out of Closed).
fn status_with_no_way_back(before: &Value, after: &Value) -> Option<(String, String)> {
    let then = before.get("status")?.as_str()?;
    let now = after.get("status")?.as_str()?.to_string();
    (now != then && !crate::schema::transitions::move_allowed(&now, then))
        .then(|| (now, then.to_string()))
}

/// The paths of the members that `ops` created at the top of the referral: no undo can
/// take them back.
fn created_at_top<'a>(before: &Value, ops: &'a [PatchOp]) -> Vec<&'a str> {
    ops.iter()
        .filter(|op| restore_target(before, op).is_empty())
        .map(|op| &*op.path)
        .collect()
}

/// The path whose old value restores what `op` changed: an append's (or insert's)
/// array, a created member's parent (empty for the referral itself), else the path itself.
fn restore_target<'a>(before: &Value, op: &'a PatchOp) -> &'a str {
    if let Some(array) = op.inserted_into() {
        return array;
    }
    match op.path.rsplit_once('/') {
        Some((parent, _)) if before.pointer(&op.path).is_none() => parent,
        _ => &op.path,
    }
}

/// The paths whose old values restore what `ops` changed (see [`restore_target`]),
/// never the whole referral; a path inside another one is covered by it.
fn restore_targets(before: &Value, ops: &[PatchOp]) -> Vec<String> {
    let mut targets: Vec<String> = Vec::new();
    for op in ops {
        let target = restore_target(before, op).to_string();
        if !target.is_empty() && !targets.contains(&target) {
            targets.push(target);
        }
    }
    let covered = |path: &String| {
        targets
            .iter()
            .any(|other| other != path && path.starts_with(&format!("{other}/")))
    };
    targets.iter().filter(|p| !covered(p)).cloned().collect()
}

/// `before` with `ops` applied, to leave out what did not change; `None` if they do not
/// apply (then every target is restored, which is never wrong).
fn applied(before: &Value, ops: &[PatchOp]) -> Option<Value> {
    let ops: Value = Value::Array(ops.iter().map(PatchOp::to_json).collect());
    let patch: json_patch::Patch = serde_json::from_value(ops).ok()?;
    let mut after = before.clone();
    json_patch::patch(&mut after, &patch).ok()?;
    Some(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::OpKind;

    fn op(kind: OpKind, path: &str, value: Value) -> PatchOp {
        PatchOp::new(kind, path, &value)
    }

    fn before() -> Value {
        json!({"name": "Old", "details": {"dealValue": 10, "notes": "n"},
               "team": [{"email": "a@x.com"}]})
    }

    #[test]
    fn a_resume_that_verifies_a_document_whose_line_was_written_adds_no_second() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("undo.jsonl");
        let doc = Document {
            id: "r1".into(),
            if_match: None,
            ops: vec![op(OpKind::Replace, "/name", json!("New"))],
            rows: Default::default(),
            merged_duplicates: false,
            by_external_id: false,
        };
        let applied = SendResult {
            entry: 0,
            outcome: Outcome::Updated,
            http_status: Some(204),
            attempts: 1,
            if_match_sent: None,
            etag_after: Some("\"e2\"".into()),
            error_code: None,
            error_message: None,
            note: None,
            resolved_by: None,
            request_id: None,
            duration: Default::default(),
            before: Some(before()),
            changes: None,
        };
        // The process that applied it wrote the line, and died before the ledger knew.
        UndoWriter::open(&path)
            .unwrap()
            .record(&doc, &applied)
            .unwrap();
        let verified = SendResult {
            note: Some(Note::Verified),
            ..applied.clone()
        };
        let mut resumed = UndoWriter::open(&path).unwrap();
        resumed.record(&doc, &verified).unwrap();
        assert_eq!(resumed.lines(), 0);
        // Another document's line is written as usual.
        let other = Document {
            id: "r2".into(),
            ..doc
        };
        resumed.record(&other, &verified).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
    }

    #[test]
    fn a_replace_is_undone_by_replacing_the_old_value_under_the_etag_after() {
        let ops = [op(OpKind::Replace, "/name", json!("New"))];
        let line = undo_document("r1", &before(), &ops, Some("\"e2\"")).expect("line");
        assert_eq!(
            line,
            json!({"id": "r1", "if_match": "\"e2\"",
                   "patch": [{"op": "replace", "path": "/name", "value": "Old"}]})
        );
    }

    #[test]
    fn a_status_move_with_no_way_back_is_left_out_and_the_rest_restored() {
        let before = json!({"status": "Active", "substatus": "Engaged", "name": "Old"});
        let ops = [
            op(OpKind::Replace, "/status", json!("Closed")),
            op(OpKind::Replace, "/substatus", json!("Won")),
            op(OpKind::Replace, "/name", json!("New")),
        ];
        let line = undo_document("r1", &before, &ops, None).expect("line");
        assert_eq!(
            line["patch"],
            json!([{"op": "replace", "path": "/name", "value": "Old"}])
        );
        // Nor from Active back to New: with nothing else to restore, there is no line.
        let new = json!({"status": "New", "substatus": "Pending"});
        let moved = [
            op(OpKind::Replace, "/status", json!("Active")),
            op(OpKind::Replace, "/substatus", json!("Accepted")),
        ];
        assert_eq!(undo_document("r1", &new, &moved, None), None);
        // A substatus change within one status is undone.
        let engaged = [op(OpKind::Replace, "/substatus", json!("Accepted"))];
        let line = undo_document("r1", &before, &engaged, None).expect("line");
        assert_eq!(line["patch"][0]["path"], "/substatus");
    }

    #[test]
    fn an_append_restores_the_whole_array_and_covers_edits_inside_it() {
        let ops = [
            op(OpKind::Replace, "/team/0/email", json!("b@x.com")),
            op(OpKind::Add, "/team/-", json!({"email": "c@x.com"})),
        ];
        let line = undo_document("r1", &before(), &ops, None).expect("line");
        assert_eq!(
            line["patch"],
            json!([{"op": "replace", "path": "/team", "value": [{"email": "a@x.com"}]}])
        );
    }

    #[test]
    fn a_member_created_at_the_top_is_left_out_never_the_whole_referral_replaced() {
        let ops = [
            op(OpKind::Add, "/statusReason", json!("Signed")),
            op(OpKind::Replace, "/name", json!("New")),
        ];
        let line = undo_document("r1", &before(), &ops, None).expect("line");
        assert_eq!(
            line["patch"],
            json!([{"op": "replace", "path": "/name", "value": "Old"}])
        );
        assert_eq!(created_at_top(&before(), &ops), ["/statusReason"]);
        let only_created = &ops[..1];
        assert_eq!(undo_document("r1", &before(), only_created, None), None);
    }

    #[test]
    fn a_created_member_is_undone_through_its_parent_and_no_change_gives_no_line() {
        let ops = [op(OpKind::Add, "/details/currency", json!("EUR"))];
        let line = undo_document("r1", &before(), &ops, None).expect("line");
        assert_eq!(line["patch"][0]["path"], json!("/details"));
        assert_eq!(line["patch"][0]["value"], before()["details"]);
        let same = [op(OpKind::Replace, "/name", json!("Old"))];
        assert_eq!(undo_document("r1", &before(), &same, None), None);
    }
}
