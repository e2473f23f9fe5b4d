//! JSON Patch documents as the API takes them: `replace` and `add` only, every path and
//! value checked against the shared referral schema, applied all-or-nothing, and the status
//! transition table enforced against the status the referral had before.

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, PatchOperation, ReplaceOperation};
use serde_json::{Map, Value};

use super::reply::ApiError;
use crate::schema::{self, PathError, json_type_name, transitions};

/// A patch document whose every operation passed the schema checks.
#[derive(Debug)]
pub struct Document {
    ops: Vec<PatchOperation>,
    touches_status: bool,
}

/// Parses and checks a PATCH body. Nothing here needs the referral, so it runs before any
/// lock is taken.
pub fn parse(body: &[u8]) -> Result<Document, ApiError> {
    let ops = operations(body)?;
    if ops.is_empty() {
        return Err(ApiError::bad_request(
            "InvalidBody",
            "the patch has no operations",
        ));
    }
    let ops = ops
        .into_iter()
        .enumerate()
        .map(|(i, op)| parse_op(i, op))
        .collect::<Result<Vec<_>, _>>()?;
    let sets = |path: &str| ops.iter().any(|op| op.path().as_str() == path);
    let (status, substatus) = (sets("/status"), sets("/substatus"));
    if status && !substatus {
        return Err(missing_substatus(&ops));
    }
    Ok(Document {
        touches_status: status || substatus,
        ops,
    })
}

/// The body as a JSON array, or why it is not one.
fn operations(body: &[u8]) -> Result<Vec<Value>, ApiError> {
    if body.trim_ascii().is_empty() {
        return Err(ApiError::bad_request(
            "InvalidBody",
            "the body is empty; it must be a JSON array of patch operations",
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "InvalidBody",
            format!("the body is not JSON ({e}); it must be a JSON array of patch operations"),
        )
    })?;
    match value {
        Value::Array(ops) => Ok(ops),
        Value::Object(_) => Err(ApiError::bad_request(
            "InvalidBody",
            "the body is a JSON object; it must be a JSON array of patch operations \
             (put a single operation in [ ])",
        )),
        other => Err(ApiError::bad_request(
            "InvalidBody",
            format!(
                "the body is {}; it must be a JSON array of patch operations",
                json_type_name(&other)
            ),
        )),
    }
}

/// A document that sets `/status` but no `/substatus` (API.md: it must set one that goes
/// with the new status), whatever the referral's status is now.
fn missing_substatus(ops: &[PatchOperation]) -> ApiError {
    let status = ops
        .iter()
        .rev()
        .find_map(|op| match op {
            PatchOperation::Add(AddOperation { path, value })
            | PatchOperation::Replace(ReplaceOperation { path, value })
                if path.as_str() == "/status" =>
            {
                value.as_str()
            }
            _ => None,
        })
        .unwrap_or_default();
    ApiError::bad_request(
        "InvalidTransition",
        format!(
            "the patch sets /status to {status} but no /substatus: a document that sets \
             /status must also set a /substatus that goes with it ({})",
            transitions::substatuses_of(status).join(", ")
        ),
    )
}

fn parse_op(i: usize, op: Value) -> Result<PatchOperation, ApiError> {
    let Value::Object(mut fields) = op else {
        return Err(invalid_body(i, "is not an object"));
    };
    let name = text_member(&fields, "op").ok_or_else(|| invalid_body(i, "has no \"op\""))?;
    let path = text_member(&fields, "path").ok_or_else(|| invalid_body(i, "has no \"path\""))?;
    if name != "replace" && name != "add" {
        return Err(ApiError::bad_request(
            "UnsupportedOperation",
            format!("operation {i}: {name:?} is not supported; only replace and add are"),
        ));
    }
    let resolved = schema::resolve(&path).map_err(|e| path_error(i, e))?;
    if resolved.append && name == "replace" {
        return Err(ApiError::bad_request(
            "InvalidPath",
            format!("operation {i}: replace cannot append to {path}; use add"),
        ));
    }
    let raw = fields
        .remove("value")
        .ok_or_else(|| invalid_body(i, "has no \"value\""))?;
    let value = schema::value::check_sent(resolved.node, &raw)
        .and_then(|value| resolved.check_required(&value).map(|()| value))
        .map_err(|e| {
            ApiError::bad_request("InvalidValue", format!("operation {i} ({path}): {e}"))
        })?;
    let path = PointerBuf::parse(path.as_str())
        .map_err(|e| ApiError::bad_request("InvalidPath", format!("operation {i}: {e}")))?;
    Ok(match name.as_str() {
        "add" => PatchOperation::Add(AddOperation { path, value }),
        _ => PatchOperation::Replace(ReplaceOperation { path, value }),
    })
}

fn text_member(fields: &Map<String, Value>, name: &str) -> Option<String> {
    fields.get(name).and_then(Value::as_str).map(String::from)
}

fn invalid_body(i: usize, what: &str) -> ApiError {
    ApiError::bad_request("InvalidBody", format!("operation {i} {what}"))
}

fn path_error(i: usize, error: PathError) -> ApiError {
    let code = match error {
        PathError::ReadOnly { .. } => "ReadOnlyField",
        PathError::NotPointer { .. } | PathError::Unknown { .. } => "InvalidPath",
    };
    ApiError::bad_request(code, format!("operation {i}: {error}"))
}

/// Applies `document` to a copy of `referral` and checks the result's status against the
/// transition table; the stored referral is untouched unless this returns `Ok`.
pub fn apply(referral: &Value, document: &Document) -> Result<Value, ApiError> {
    let mut next = referral.clone();
    // `patch_unsafe` on a copy: a failure leaves only the copy half-patched, and it is
    // thrown away, which is all-or-nothing without `patch`'s undo step.
    json_patch::patch_unsafe(&mut next, &document.ops).map_err(target_not_found)?;
    if document.touches_status {
        check_status(referral, &next)?;
    }
    Ok(next)
}

/// Applies `document` to `referral` in place, all or nothing: what [`apply`] does, without
/// copying the referral for the common document that leaves the status alone (the copy
/// was most of the emulator's CPU per PATCH). `json_patch::patch` undoes its own partial
/// work on failure; a document that sets the status, which must be checked against the
/// referral before and after, still goes through a copy.
pub fn apply_in_place(referral: &mut Value, document: &Document) -> Result<(), ApiError> {
    if document.touches_status {
        *referral = apply(referral, document)?;
        return Ok(());
    }
    json_patch::patch(referral, &document.ops).map_err(target_not_found)
}

fn target_not_found(e: json_patch::PatchError) -> ApiError {
    ApiError::bad_request(
        "TargetNotFound",
        crate::schema::pointer::target_not_found_message(e.operation, &e.path.to_string()),
    )
}

fn check_status(before: &Value, after: &Value) -> Result<(), ApiError> {
    let text = |v: &Value, name: &str| v.get(name).and_then(Value::as_str).map(String::from);
    let current = text(before, "status");
    let (Some(status), Some(substatus)) = (text(after, "status"), text(after, "substatus")) else {
        return Err(ApiError::bad_request(
            "InvalidTransition",
            "a referral needs both a status and a substatus",
        ));
    };
    transitions::check(current.as_deref(), Some(&status), Some(&substatus))
        .map_err(|e| ApiError::bad_request("InvalidTransition", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn referral() -> Value {
        json!({"id": "r", "status": "Active", "substatus": "Accepted",
               "details": {"dealValue": 1}, "team": []})
    }

    fn code_of(body: Value) -> &'static str {
        let bytes = serde_json::to_vec(&body).unwrap();
        match parse(&bytes).and_then(|doc| apply(&referral(), &doc)) {
            Ok(_) => "ok",
            Err(e) => e.code,
        }
    }

    #[test]
    fn replace_and_append_apply_and_numeric_strings_become_numbers() {
        let doc = parse(
            br#"[{"op":"replace","path":"/details/dealValue","value":"10000"},
                 {"op":"add","path":"/team/-","value":{"email":"a@b.c"}}]"#,
        )
        .unwrap();
        let next = apply(&referral(), &doc).unwrap();
        assert_eq!(next["details"]["dealValue"], json!(10000));
        assert_eq!(next["team"][0]["email"], "a@b.c");
    }

    #[test]
    fn in_place_is_all_or_nothing_and_agrees_with_the_copy() {
        let failing = parse(
            br#"[{"op":"replace","path":"/details/dealValue","value":5},
                 {"op":"add","path":"/team/-","value":{"email":"a@b.c"}},
                 {"op":"replace","path":"/details/notes","value":"x"}]"#,
        )
        .unwrap();
        let mut stored = referral();
        let error = apply_in_place(&mut stored, &failing).unwrap_err();
        assert_eq!(error.code, "TargetNotFound");
        assert_eq!(stored, referral());
        let fine = parse(
            br#"[{"op":"replace","path":"/details/dealValue","value":5},
                 {"op":"add","path":"/team/-","value":{"email":"a@b.c"}}]"#,
        )
        .unwrap();
        apply_in_place(&mut stored, &fine).unwrap();
        assert_eq!(stored, apply(&referral(), &fine).unwrap());
    }

    #[test]
    fn a_members_email_set_blank_is_an_invalid_value() {
        let op =
            |path: &str, value: Value| json!([{"op": "replace", "path": path, "value": value}]);
        assert_eq!(code_of(op("/team/0/email", json!(""))), "InvalidValue");
        assert_eq!(code_of(op("/team/0/email", json!(null))), "InvalidValue");
        // Another member of a Member may be emptied; the path check comes first.
        assert_eq!(
            code_of(op("/team/0/firstName", json!(""))),
            "TargetNotFound"
        );
    }

    #[test]
    fn each_kind_of_bad_operation_has_its_own_code() {
        let op =
            |op: &str, path: &str, value: Value| json!([{"op": op, "path": path, "value": value}]);
        assert_eq!(
            code_of(op("remove", "/name", json!(1))),
            "UnsupportedOperation"
        );
        assert_eq!(code_of(op("replace", "/eTag", json!("x"))), "ReadOnlyField");
        assert_eq!(code_of(op("replace", "/nope", json!("x"))), "InvalidPath");
        assert_eq!(
            code_of(op("replace", "/team/-", json!({"email": "x"}))),
            "InvalidPath"
        );
        assert_eq!(
            code_of(op("replace", "/details/dealValue", json!(true))),
            "InvalidValue"
        );
        assert_eq!(
            code_of(op("replace", "/details/notes", json!("x"))),
            "TargetNotFound"
        );
        assert_eq!(code_of(json!({"op": "add"})), "InvalidBody");
        assert_eq!(code_of(json!([])), "InvalidBody");
        assert_eq!(
            code_of(json!([{"op": "add", "path": "/name"}])),
            "InvalidBody"
        );
    }

    #[test]
    fn transitions_are_checked_against_the_status_before_the_patch() {
        let set = |status: &str, sub: &str| {
            json!([{"op": "replace", "path": "/status", "value": status},
                   {"op": "replace", "path": "/substatus", "value": sub}])
        };
        assert_eq!(code_of(set("Closed", "Won")), "ok");
        assert_eq!(code_of(set("New", "Pending")), "InvalidTransition");
        assert_eq!(code_of(set("Closed", "Engaged")), "InvalidTransition");
        let status_only = json!([{"op": "replace", "path": "/status", "value": "Closed"}]);
        assert_eq!(code_of(status_only), "InvalidTransition");
        let same_status = json!([{"op": "replace", "path": "/status", "value": "Active"}]);
        assert_eq!(code_of(same_status), "InvalidTransition");
        let sub_only = json!([{"op": "replace", "path": "/substatus", "value": "Engaged"}]);
        assert_eq!(code_of(sub_only), "ok");
    }

    fn message_of(body: Value) -> String {
        let bytes = serde_json::to_vec(&body).unwrap();
        parse(&bytes).unwrap_err().message
    }

    #[test]
    fn a_status_without_a_substatus_is_refused_saying_the_substatus_is_missing() {
        let message = message_of(json!([{"op": "add", "path": "/status", "value": "Active"}]));
        assert!(
            message.contains("sets /status to Active but no /substatus")
                && message.contains("(Accepted, Engaged)"),
            "{message}"
        );
        let with_other_ops = json!([{"op": "replace", "path": "/status", "value": "New"},
                                    {"op": "replace", "path": "/name", "value": "x"}]);
        assert!(message_of(with_other_ops).contains("no /substatus"));
    }

    #[test]
    fn a_body_that_is_not_an_array_says_what_it_is_instead() {
        let message = parse(b"{}").unwrap_err().message;
        assert!(
            message.contains("is a JSON object") && !message.contains("column"),
            "{message}"
        );
        assert!(parse(b"\"x\"").unwrap_err().message.contains("is a string"));
        assert!(
            parse(b" \n")
                .unwrap_err()
                .message
                .starts_with("the body is empty")
        );
        let garbage = parse(b"[{").unwrap_err();
        assert_eq!(garbage.code, "InvalidBody");
        assert!(
            garbage.message.starts_with("the body is not JSON"),
            "{}",
            garbage.message
        );
    }
}
