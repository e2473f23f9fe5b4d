//! Tests of the row checks in `rules.rs`.

use super::*;
use crate::input::{RawOp, RawValue};
use crate::plan::PatchOp;
use serde_json::json;

fn site() -> OpSite<'static> {
    OpSite {
        at: LineRef { input: 0, line: 4 },
        field: SiteField::Row,
    }
}

fn text_op(op: &str, path: &str, value: &str) -> RawOp {
    RawOp {
        op: op.into(),
        path: path.into(),
        value: RawValue::Text(value.into()),
    }
}

/// The row checks of one operation, its value copied out as the planner does on insert.
fn check(
    raw: RawOpRef<'_>,
    site: OpSite,
    paths: &mut PathCache,
) -> Result<PatchOp, Vec<PlanError>> {
    check_op(raw, site, paths, &mut String::new()).map(CheckedOp::into_patch_op)
}

fn codes(errors: &[PlanError]) -> Vec<ErrorCode> {
    errors.iter().map(|e| e.code).collect()
}

#[test]
fn a_csv_decimal_becomes_a_json_number() {
    let op = check(
        text_op("Replace", "/details/dealValue", "10000.50").as_ref(),
        site(),
        &mut PathCache::default(),
    )
    .unwrap();
    assert_eq!(op.op, OpKind::Replace);
    assert_eq!(op.value, json!(10000.5));
}

#[test]
fn op_names_are_case_insensitive() {
    assert_eq!(
        check(
            text_op("ADD", "/team/-", r#"{"email":"a@b.c"}"#).as_ref(),
            site(),
            &mut PathCache::default()
        )
        .unwrap()
        .op,
        OpKind::Add
    );
}

#[test]
fn an_unsupported_op_is_invalid_op() {
    let errors = check(
        text_op("remove", "/details/notes", "x").as_ref(),
        site(),
        &mut PathCache::default(),
    )
    .unwrap_err();
    assert_eq!(codes(&errors), [ErrorCode::InvalidOp]);
    assert_eq!(errors[0].field.as_deref(), Some("op"));
    assert!(errors[0].message.contains("use replace or add"));
}

#[test]
fn a_path_that_is_not_a_pointer_is_invalid_path() {
    let errors = check(
        text_op("replace", "details/notes", "x").as_ref(),
        site(),
        &mut PathCache::default(),
    )
    .unwrap_err();
    assert_eq!(codes(&errors), [ErrorCode::InvalidPath]);
}

#[test]
fn an_unknown_field_is_invalid_path() {
    let errors = check(
        text_op("replace", "/details/dealvalue", "1").as_ref(),
        site(),
        &mut PathCache::default(),
    )
    .unwrap_err();
    assert_eq!(codes(&errors), [ErrorCode::InvalidPath]);
    assert!(errors[0].message.contains("case-sensitive"));
}

#[test]
fn a_read_only_field_is_read_only_path() {
    let errors = check(
        text_op("replace", "/eTag", "x").as_ref(),
        site(),
        &mut PathCache::default(),
    )
    .unwrap_err();
    assert_eq!(codes(&errors), [ErrorCode::ReadOnlyPath]);
    assert!(errors[0].message.contains("if_match column"));
    let errors = check(
        text_op("replace", "/createdDateTime", "x").as_ref(),
        site(),
        &mut PathCache::default(),
    )
    .unwrap_err();
    assert_eq!(codes(&errors), [ErrorCode::ReadOnlyPath]);
}

#[test]
fn replace_with_a_final_dash_says_to_use_add() {
    let errors = check(
        text_op("replace", "/team/-", r#"{"email":"a@b.c"}"#).as_ref(),
        site(),
        &mut PathCache::default(),
    )
    .unwrap_err();
    assert_eq!(codes(&errors), [ErrorCode::InvalidPath]);
    assert!(errors[0].message.contains("use add to append"));
    assert!(errors[0].message.contains("/team/0"));
}

#[test]
fn thousands_separators_are_an_invalid_value_naming_path_and_fix() {
    let errors = check(
        text_op("replace", "/details/dealValue", "10,000.50").as_ref(),
        site(),
        &mut PathCache::default(),
    )
    .unwrap_err();
    assert_eq!(codes(&errors), [ErrorCode::InvalidValue]);
    assert_eq!(errors[0].field.as_deref(), Some("value"));
    assert_eq!(
        errors[0].message,
        "\"10,000.50\" is not a decimal number such as 10000.50 (path /details/dealValue); \
         write it without thousands separators or currency symbols"
    );
}

#[test]
fn a_json_value_of_the_wrong_type_is_invalid_value() {
    let raw = RawOp {
        op: "replace".into(),
        path: "/consent/consentToContact".into(),
        value: RawValue::Json(json!("maybe")),
    };
    assert_eq!(
        codes(&check(raw.as_ref(), site(), &mut PathCache::default()).unwrap_err()),
        [ErrorCode::InvalidValue]
    );
}

#[test]
fn a_member_that_is_not_json_names_the_text_once() {
    let errors = check(
        text_op("add", "/team/-", "bob@example.com").as_ref(),
        site(),
        &mut PathCache::default(),
    )
    .unwrap_err();
    assert_eq!(codes(&errors), [ErrorCode::InvalidValue]);
    let message = &errors[0].message;
    assert!(message.starts_with("/team/- cannot take \"bob@example.com\": it is not JSON"));
    assert_eq!(message.matches("bob@example.com").count(), 1, "{message}");
}

#[test]
fn json_text_that_gives_a_key_twice_is_invalid_value_naming_the_key() {
    for (op, path, text) in [
        ("add", "/team/-", r#"{"email":"a@b.c","email":"d@e.f"}"#),
        ("replace", "/details", r#"{"notes":"a","notes":"b"}"#),
    ] {
        let errors = check(
            text_op(op, path, text).as_ref(),
            site(),
            &mut PathCache::default(),
        )
        .unwrap_err();
        assert_eq!(codes(&errors), [ErrorCode::InvalidValue], "{path}");
        let message = &errors[0].message;
        assert!(message.contains("appears twice"), "{message}");
    }
}

#[test]
fn a_member_without_email_is_invalid_value() {
    let raw = RawOp {
        op: "add".into(),
        path: "/team/-".into(),
        value: RawValue::Json(json!({"firstName": "Ann"})),
    };
    let errors = check(raw.as_ref(), site(), &mut PathCache::default()).unwrap_err();
    assert_eq!(codes(&errors), [ErrorCode::InvalidValue]);
    assert!(errors[0].message.contains("email"));
}

#[test]
fn every_fault_of_a_row_is_reported_at_once() {
    let errors = check(
        text_op("delete", "/nope", "x").as_ref(),
        site(),
        &mut PathCache::default(),
    )
    .unwrap_err();
    assert_eq!(
        codes(&errors),
        [ErrorCode::InvalidOp, ErrorCode::InvalidPath]
    );
}

#[test]
fn document_form_errors_name_the_operation() {
    let site = OpSite {
        field: SiteField::Patch(2),
        ..site()
    };
    let errors = check(
        text_op("replace", "/id", "x").as_ref(),
        site,
        &mut PathCache::default(),
    )
    .unwrap_err();
    assert_eq!(errors[0].field.as_deref(), Some("patch[2].path"));
}

#[test]
fn a_refused_json_member_is_shown_as_json_not_escaped_text() {
    let errors = check(
        text_op("add", "/team/-", r#"{"firstName":"Ann"}"#).as_ref(),
        site(),
        &mut PathCache::default(),
    )
    .unwrap_err();
    assert!(
        errors[0]
            .message
            .starts_with(r#"/team/- cannot take {"firstName":"Ann"}: "#),
        "{}",
        errors[0].message
    );
}

#[test]
fn a_boolean_hint_offers_1_and_0_only_for_csv_text() {
    let path = "/consent/consentToContact";
    let mut paths = PathCache::default();
    let json = RawOp {
        op: "replace".into(),
        path: path.into(),
        value: RawValue::Json(json!(1)),
    };
    let messages = [json, text_op("replace", path, "yes")].map(|raw| {
        let errors = check(raw.as_ref(), site(), &mut paths).unwrap_err();
        errors[0].message.clone()
    });
    assert!(
        messages[0].ends_with("; write true or false"),
        "{}",
        messages[0]
    );
    assert!(messages[1].ends_with("(or 1 or 0)"), "{}", messages[1]);
}

#[test]
fn a_member_an_object_requires_may_not_be_set_blank() {
    let mut paths = PathCache::default();
    for (path, value) in [
        ("/team/0/email", " "),
        ("/customerProfile/team/2/email", ""),
        ("/team/1/email", "\u{200B}"),
    ] {
        let errors = check(text_op("replace", path, value).as_ref(), site(), &mut paths)
            .expect_err("a Member without an email");
        assert_eq!(codes(&errors), [ErrorCode::InvalidValue]);
        assert_eq!(
            errors[0].message,
            format!("the \"email\" of a Member may not be empty (path {path}); fill in the email")
        );
    }
    let null = RawOp {
        op: "add".into(),
        path: "/team/0/email".into(),
        value: RawValue::Json(Value::Null),
    };
    assert!(check(null.as_ref(), site(), &mut paths).is_err());
    // Other members may be emptied, and an e-mail may be changed.
    assert!(
        check(
            text_op("replace", "/team/0/firstName", "").as_ref(),
            site(),
            &mut paths
        )
        .is_ok()
    );
    assert!(
        check(
            text_op("replace", "/team/0/email", "a@b.c").as_ref(),
            site(),
            &mut paths
        )
        .is_ok()
    );
}
