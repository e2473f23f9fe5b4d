//! Comparing a document with the referral as it is now: whether its changes are already
//! there (a lost response resolved as `verified`), and whether it still makes sense after a
//! refetch (its paths apply, its status move is allowed from the current status).

use crate::plan::{Document, PatchOp, same_value};
use crate::schema::transitions;
use serde_json::Value;

/// Why a document does not fit the referral it would be applied to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// Which check it fails.
    pub kind: MismatchKind,
    /// What is wrong, without saying how it came about (a refetch, a dry run).
    pub detail: String,
}

/// The check a document fails against a referral.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MismatchKind {
    /// A `replace` target or an `add` parent is missing.
    Path,
    /// The status move is not allowed from the referral's current status.
    Transition,
    /// The document is not a JSON Patch at all (planning should have refused it).
    NotAPatch,
}

impl Mismatch {
    /// refsync's own code, used after a refetch: `invalid_path` or `invalid_transition`.
    pub fn code(&self) -> &'static str {
        match self.kind {
            MismatchKind::Path | MismatchKind::NotAPatch => "invalid_path",
            MismatchKind::Transition => "invalid_transition",
        }
    }

    /// The message after a refetch: the referral changed since the document was written.
    pub fn after_refetch(&self) -> String {
        match self.kind {
            MismatchKind::Path => format!("the referral changed meanwhile: {}", self.detail),
            MismatchKind::Transition => {
                format!("the referral changed meanwhile and now {}", self.detail)
            }
            MismatchKind::NotAPatch => self.detail.clone(),
        }
    }

    /// The code the API answers for the same refusal (the emulator's, since Partner
    /// Center's own are not documented): what a dry run predicts.
    pub fn api_code(&self) -> &'static str {
        match self.kind {
            MismatchKind::Path => "TargetNotFound",
            MismatchKind::Transition => "InvalidTransition",
            MismatchKind::NotAPatch => "InvalidBody",
        }
    }
}

/// Whether every operation's effect is visible in `referral`: a member holding exactly
/// the value (a `replace` of an object replaces the whole object, so one that leaves out
/// members is a change), or an array holding an element equal to an appended value (for a
/// Member, one with the same `email` and fields). Each operation is checked against the referral as
/// it is: where every one is present, none changes what the next one sees.
pub fn changes_present(referral: &Value, ops: &[PatchOp]) -> bool {
    ops.iter().all(|op| op_present(referral, op))
}

fn op_present(referral: &Value, op: &PatchOp) -> bool {
    let Some(parent) = op.inserted_into() else {
        return referral
            .pointer(&op.path)
            .is_some_and(|v| same_value(v, &op.value.to_value()));
    };
    let value = op.value.to_value();
    referral
        .pointer(parent)
        .and_then(Value::as_array)
        .is_some_and(|items| items.iter().any(|item| same_element(item, &value)))
}

/// Whether the array element `have` is the appended `want`. Members are told apart by
/// e-mail (in any case), as the API tells them apart, and hold every other field the
/// append gives with its value (a new phone number is a change); anything else must be
/// equal (numbers by value).
pub fn same_element(have: &Value, want: &Value) -> bool {
    let email = |v: &Value| v.get("email").and_then(Value::as_str).map(str::to_string);
    match (email(have), email(want), want.as_object()) {
        (Some(a), Some(b), Some(fields)) => {
            a.eq_ignore_ascii_case(&b)
                && fields
                    .iter()
                    .filter(|(name, _)| *name != "email")
                    .all(|(name, value)| have.get(name).is_some_and(|h| same_value(h, value)))
        }
        _ => same_value(have, want),
    }
}

/// Re-checks a document against the referral after a refetch: the patch must apply to it
/// (a `replace` target exists, an `add` parent exists) and the status move must be allowed
/// from the referral's current status.
pub fn recheck(referral: &Value, doc: &Document) -> Result<(), Mismatch> {
    check_paths(referral, doc)?;
    let current = referral.get("status").and_then(Value::as_str);
    let set = |path: &str| {
        doc.ops
            .iter()
            .rev()
            .find(|op| &*op.path == path)
            .and_then(|op| op.value.to_str())
    };
    transitions::check(
        current,
        set("/status").as_deref(),
        set("/substatus").as_deref(),
    )
    .map_err(|e| Mismatch {
        kind: MismatchKind::Transition,
        detail: e.to_string(),
    })
}

/// Applies the patch to a copy of the referral, which is exactly the server's path check.
fn check_paths(referral: &Value, doc: &Document) -> Result<(), Mismatch> {
    let mismatch = |kind, detail: String| Mismatch { kind, detail };
    let patch: json_patch::Patch = serde_json::from_value(doc.patch_json()).map_err(|e| {
        mismatch(
            MismatchKind::NotAPatch,
            format!("the document is not a JSON Patch: {e}"),
        )
    })?;
    let mut copy = referral.clone();
    json_patch::patch(&mut copy, &patch).map(drop).map_err(|e| {
        mismatch(
            MismatchKind::Path,
            crate::schema::pointer::target_not_found_message(e.operation, &e.path.to_string()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::OpKind;
    use serde_json::json;

    fn op(kind: OpKind, path: &str, value: Value) -> PatchOp {
        PatchOp::new(kind, path, &value)
    }

    fn doc(ops: Vec<PatchOp>) -> Document {
        Document {
            id: "r1".into(),
            if_match: None,
            ops,
            rows: Default::default(),
            merged_duplicates: false,
            by_external_id: false,
        }
    }

    fn referral() -> Value {
        json!({"status": "Active", "substatus": "Engaged",
               "details": {"dealValue": 10000.0, "notes": "n"},
               "team": [{"email": "A@x.com", "firstName": "A"}]})
    }

    #[test]
    fn a_replaced_value_and_an_appended_member_are_recognised() {
        let ops = vec![
            op(OpKind::Replace, "/details/dealValue", json!(10000)),
            op(OpKind::Add, "/team/-", json!({"email": "a@x.com"})),
        ];
        assert!(changes_present(&referral(), &ops));
    }

    #[test]
    fn a_missing_change_is_not_present() {
        let ops = vec![op(OpKind::Add, "/team/-", json!({"email": "b@x.com"}))];
        assert!(!changes_present(&referral(), &ops));
        let ops = vec![op(OpKind::Replace, "/details/notes", json!("other"))];
        assert!(!changes_present(&referral(), &ops));
    }

    #[test]
    fn an_object_replaced_by_one_with_fewer_members_is_a_change() {
        // A replace sets the whole object: the members it leaves out are removed.
        let ops = vec![op(OpKind::Replace, "/details", json!({"notes": "n"}))];
        assert!(!changes_present(&referral(), &ops));
        let ops = vec![op(OpKind::Replace, "/team/0", json!({"email": "A@x.com"}))];
        assert!(!changes_present(&referral(), &ops));
        let whole = json!({"dealValue": 1e4, "notes": "n"});
        assert!(changes_present(
            &referral(),
            &[op(OpKind::Replace, "/details", whole)]
        ));
        // An element appended to an array of anything but Members must be there as it is.
        let ids = json!({"ids": [{"type": "crm", "id": "1"}]});
        let append = |value| vec![op(OpKind::Add, "/ids/-", value)];
        assert!(!changes_present(&ids, &append(json!({}))));
        assert!(changes_present(
            &ids,
            &append(json!({"id": "1", "type": "crm"}))
        ));
    }

    #[test]
    fn a_move_the_current_status_forbids_is_an_invalid_transition() {
        let closed = json!({"status": "Closed", "substatus": "Won"});
        let doc = doc(vec![
            op(OpKind::Replace, "/status", json!("Active")),
            op(OpKind::Replace, "/substatus", json!("Engaged")),
        ]);
        let mismatch = recheck(&closed, &doc).expect_err("refused");
        assert_eq!(mismatch.code(), "invalid_transition");
        assert_eq!(mismatch.api_code(), "InvalidTransition");
        assert_eq!(
            mismatch.detail,
            "a referral in status Closed cannot move to status Active"
        );
        assert_eq!(
            mismatch.after_refetch(),
            "the referral changed meanwhile and now a referral in status Closed cannot move to status Active"
        );
    }

    #[test]
    fn a_replace_of_a_vanished_path_is_an_invalid_path() {
        let doc = doc(vec![op(
            OpKind::Replace,
            "/inviteContext/notes",
            json!("x"),
        )]);
        let mismatch = recheck(&referral(), &doc).expect_err("refused");
        assert_eq!(
            (mismatch.code(), mismatch.api_code()),
            ("invalid_path", "TargetNotFound")
        );
        assert!(
            !mismatch.detail.contains("meanwhile"),
            "{}",
            mismatch.detail
        );
    }

    #[test]
    fn a_document_that_still_fits_passes() {
        let doc = doc(vec![
            op(OpKind::Replace, "/status", json!("Closed")),
            op(OpKind::Replace, "/substatus", json!("Won")),
            op(OpKind::Add, "/team/-", json!({"email": "c@x.com"})),
        ]);
        assert_eq!(recheck(&referral(), &doc), Ok(()));
    }
}
