//! Tests of the JSONL row and document forms.

use serde_json::json;

use super::*;

fn fault(value: Value) -> (Option<String>, Option<String>, String) {
    match content(value) {
        RecordContent::Malformed {
            id, field, message, ..
        } => (id, field, message),
        other => panic!("expected a malformed record, got {other:?}"),
    }
}

#[test]
fn the_row_form_keeps_any_json_value_and_ignores_extra_keys() {
    let got =
        content(json!({"id": "A", "op": "Replace", "path": "/x", "value": {"a": [1]}, "note": 1}));
    let want = RecordContent::Row {
        id: "A".into(),
        op: RawOp {
            op: "Replace".into(),
            path: "/x".into(),
            value: RawValue::Json(json!({"a": [1]})),
        },
        if_match: None,
    };
    assert_eq!(got, want);
}

#[test]
fn a_null_value_is_a_value_but_a_missing_one_is_not() {
    let got = content(json!({"id": "A", "op": "add", "path": "/x", "value": null}));
    assert!(matches!(got, RecordContent::Row { .. }));
    let (id, field, message) = fault(json!({"id": "A", "op": "add", "path": "/x"}));
    assert_eq!(
        (id.as_deref(), field.as_deref()),
        (Some("A"), Some("value"))
    );
    assert!(message.contains("missing"), "{message}");
}

#[test]
fn an_op_the_api_refuses_needs_no_value_so_its_op_is_what_gets_reported() {
    for form in [
        json!({"id": "A", "op": "remove", "path": "/x"}),
        json!({"id": "A", "patch": [{"op": "move", "path": "/x"}]}),
    ] {
        let got = content(form);
        assert!(
            matches!(
                got,
                RecordContent::Row { .. } | RecordContent::Document { .. }
            ),
            "{got:?}"
        );
    }
}

#[test]
fn if_match_may_be_a_string_null_or_absent_and_empty_means_none() {
    let base = json!({"id": "A", "op": "add", "path": "/x", "value": 1});
    for (if_match, want) in [
        (json!("\"e\""), Some("\"e\"")),
        (json!(null), None),
        (json!(""), None),
    ] {
        let mut line = base.clone();
        line["if_match"] = if_match;
        let RecordContent::Row { if_match, .. } = content(line) else {
            panic!()
        };
        assert_eq!(if_match.as_deref(), want);
    }
    let mut bad = base.clone();
    bad["if_match"] = json!(3);
    assert_eq!(fault(bad).1.as_deref(), Some("if_match"));
}

#[test]
fn a_wrong_typed_key_names_the_key_and_its_type_but_not_its_value() {
    let (id, field, message) =
        fault(json!({"id": "A", "op": ["secret"], "path": "/x", "value": 1}));
    assert_eq!((id.as_deref(), field.as_deref()), (Some("A"), Some("op")));
    assert_eq!(message, "`op` must be a string, found an array");
}

#[test]
fn a_non_string_id_is_malformed_and_id_less() {
    let (id, field, _) = fault(json!({"id": 7, "op": "add", "path": "/x", "value": 1}));
    assert_eq!((id, field.as_deref()), (None, Some("id")));
}

#[test]
fn a_line_that_is_not_an_object_is_malformed() {
    let (id, field, message) = fault(json!([1, 2]));
    assert_eq!((id, field), (None, None));
    assert_eq!(message, "line is an array, not a JSON object");
}

#[test]
fn the_document_form_reads_every_operation_in_order() {
    let got = content(json!({"id": "A", "if_match": "e", "patch": [
        {"op": "replace", "path": "/a", "value": 1},
        {"op": "add", "path": "/b", "value": "x", "extra": true}
    ]}));
    let RecordContent::Document {
        id,
        if_match,
        patch,
        ..
    } = got
    else {
        panic!("{got:?}")
    };
    assert_eq!((id.as_str(), if_match.as_deref()), ("A", Some("e")));
    let paths: Vec<_> = patch.iter().map(|op| op.path.as_str()).collect();
    assert_eq!(paths, ["/a", "/b"]);
    assert_eq!(patch[1].value, RawValue::Json(json!("x")));
}

#[test]
fn a_bad_operation_in_a_document_names_its_position() {
    let line = json!({"id": "A", "patch": [{"op": "add", "path": "/a", "value": 1}, {"op": "add", "value": 1}]});
    let (id, field, message) = fault(line);
    assert_eq!(
        (id.as_deref(), field.as_deref()),
        (Some("A"), Some("patch[1].path"))
    );
    assert_eq!(message, "`patch[1].path` is missing");
    let (_, field, _) = fault(json!({"id": "A", "patch": [3]}));
    assert_eq!(field.as_deref(), Some("patch[0]"));
}

#[test]
fn a_patch_that_is_not_an_array_is_malformed() {
    let (id, field, message) = fault(json!({"id": "A", "patch": {"op": "add"}}));
    assert_eq!(
        (id.as_deref(), field.as_deref()),
        (Some("A"), Some("patch"))
    );
    assert!(message.ends_with("found an object"), "{message}");
}

#[test]
fn the_fast_row_reading_agrees_with_the_general_one_or_leaves_the_line_to_it() {
    let lines = [
        r#"{"id":"A","op":"replace","path":"/x","value":{"a":[1]},"note":1}"#,
        r#"{"id":"A\u0042","op":"add","path":"/team/-","value":null,"if_match":"\"e\""}"#,
        r#"{"id":"A","op":"replace","path":"/x","value":1,"if_match":""}"#,
        r#"{"id":"A","op":"replace","path":"/x","value":1,"if_match":null}"#,
    ];
    for line in lines {
        let general = content(serde_json::from_str(line).unwrap());
        assert_eq!(row_content(line.as_bytes()), Some(general), "{line}");
    }
    let left_to_content = [
        r#"{"id":"A","op":"replace","path":"/x"}"#,
        r#"{"id":"A","op":"replace","path":"/x","value":1,"patch":null}"#,
        r#"{"id":"A","id":"B","op":"replace","path":"/x","value":1}"#,
        r#"{"id":7,"op":"replace","path":"/x","value":1}"#,
        r#"{"id":"A","op":"replace","path":"/x","value":1,"if_match":3}"#,
        r#"[1]"#,
    ];
    for line in left_to_content {
        assert_eq!(row_content(line.as_bytes()), None, "{line}");
    }
}

#[test]
fn a_line_of_both_forms_is_malformed_and_names_both() {
    let op = json!({"op": "replace", "path": "/name", "value": "a"});
    for key in ["op", "path", "value"] {
        let mut line = json!({"id": "A", "patch": [op.clone()]});
        line[key] = json!("x");
        let (id, field, message) = fault(line);
        assert_eq!(
            (id.as_deref(), field.as_deref()),
            (Some("A"), Some("patch"))
        );
        assert!(
            message.contains(&format!("`{key}` (the row form)")),
            "{message}"
        );
    }
    assert!(matches!(
        content(json!({"id": "A", "patch": [op], "note": "x"})),
        RecordContent::Document { .. }
    ));
}

#[test]
fn the_fast_document_form_reads_what_the_general_one_reads() {
    let line = br#"{"id":"A","if_match":"\"e\"","patch":[{"op":"add","path":"/team/-","value":{"email":"a@b.c"}},{"op":"replace","path":"/name","value":null}],"extra":1}"#;
    let value: Value = serde_json::from_slice(line).expect("JSON");
    assert_eq!(document_content(line), Some(content(value)));
    // A shape only the general reader judges: an operation without a value.
    assert_eq!(
        document_content(br#"{"id":"A","patch":[{"op":"remove","path":"/x"}]}"#),
        None
    );
}

#[test]
fn a_number_a_json_number_cannot_keep_is_kept_as_written_in_either_form() {
    let inexact = |record: Option<RecordContent>| match record {
        Some(RecordContent::Row { op, .. }) => vec![op.value],
        Some(RecordContent::Document { patch, .. }) => {
            patch.into_iter().map(|op| op.value).collect()
        }
        other => panic!("not read: {other:?}"),
    };
    let row =
        br#"{"id":"A","op":"replace","path":"/details/dealValue","value":1234567.123456789012}"#;
    assert_eq!(
        inexact(row_content(row)),
        [RawValue::InexactNumber("1234567.123456789012".into())]
    );
    let document = br#"{"id":"A","patch":[{"op":"replace","path":"/name","value":"99999999999999999999"},{"op":"replace","path":"/details/dealValue","value":-99999999999999999999e2}]}"#;
    assert_eq!(
        inexact(document_content(document)),
        [
            RawValue::Json(json!("99999999999999999999")),
            RawValue::InexactNumber("-99999999999999999999e2".into())
        ]
    );
    let exact = br#"{"id":"A","op":"replace","path":"/details/dealValue","value":123456789012345}"#;
    assert_eq!(
        inexact(row_content(exact)),
        [RawValue::Json(json!(123456789012345u64))]
    );
}

#[test]
fn a_document_may_name_its_referral_by_externalreferenceid_instead_of_id() {
    let patch = json!([{"op": "replace", "path": "/name", "value": "x"}]);
    let got = content(json!({"externalReferenceId": "OPP-1", "patch": patch}));
    let RecordContent::Document {
        id,
        id_column,
        by_external_id,
        ..
    } = got
    else {
        panic!("expected a document, got {got:?}");
    };
    assert_eq!(
        (id.as_str(), id_column.as_deref(), by_external_id),
        ("OPP-1", Some("externalReferenceId"), true)
    );
    // With an `id` as well, the ID is the referral's and the other key is extra data.
    let got = content(json!({"id": "A", "externalReferenceId": "OPP-1", "patch": patch}));
    assert!(
        matches!(got, RecordContent::Document { ref id, by_external_id: false, .. } if id == "A"),
        "{got:?}"
    );
    // The row form names its referral by `id` only.
    let (_, field, _) =
        fault(json!({"externalReferenceId": "OPP-1", "op": "add", "path": "/x", "value": 1}));
    assert_eq!(field.as_deref(), Some("id"));
}
