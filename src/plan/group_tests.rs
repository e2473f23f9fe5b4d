//! Tests of one referral's accumulation in `group.rs`.

use super::*;
use crate::input::{RawValue, Span};

fn row(line: u64) -> RowRef {
    RowRef {
        at: LineRef { input: 0, line },
        span: Span::default(),
    }
}

fn notes(value: &str) -> RawOp {
    RawOp {
        op: "replace".into(),
        path: "/details/notes".into(),
        value: RawValue::Text(value.into()),
    }
}

/// The error of a record on `line` that could not be read.
fn unreadable(line: u64) -> PlanError {
    PlanError {
        at: Some(row(line).at),
        field: None,
        code: ErrorCode::MalformedRecord,
        message: "unreadable".into(),
    }
}

fn invalid(entry: PlanEntry) -> InvalidEntry {
    match entry {
        PlanEntry::Invalid(invalid) => *invalid,
        PlanEntry::Document(d) => panic!("expected an invalid entry, got {d:?}"),
    }
}

#[test]
fn if_match_is_quoted_once_whatever_the_input_gives() {
    let quoted = |raw| normalise_if_match(raw).expect("an ETag");
    assert_eq!(quoted("abc").as_deref(), Some("\"abc\""));
    assert_eq!(quoted("\"abc\"").as_deref(), Some("\"abc\""));
    assert_eq!(quoted(" \"abc\" ").as_deref(), Some("\"abc\""));
    assert_eq!(quoted(""), None);
    assert_eq!(quoted("\"\""), None);
}

#[test]
fn an_if_match_that_is_no_strong_etag_is_the_row_s_invalid_value() {
    for raw in [
        "W/\"abc\"",
        "\"a\"b\"",
        "\"abc",
        "abc\"",
        "\"",
        "a b",
        "\"é\"",
        "*",
    ] {
        assert!(normalise_if_match(raw).is_err(), "{raw}");
    }
    let mut group = Group::new(Some("r".into()), row(2).at, "id");
    group.add_row(
        row(2),
        notes("x").as_ref(),
        Some("W/\"e1\""),
        &mut OpRules::default(),
    );
    let invalid = invalid(group.finish(&InputNames::default()));
    assert_eq!(invalid.errors[0].code, ErrorCode::InvalidValue);
    assert_eq!(invalid.errors[0].field.as_deref(), Some("if_match"));
    assert!(invalid.errors[0].message.contains("weak ETag"));
}

#[test]
fn an_empty_if_match_agrees_with_any() {
    let mut seen = IfMatch::default();
    assert_eq!(
        seen.see(Some("e1"), row(2).at, &InputNames::default()),
        None
    );
    assert_eq!(seen.see(Some(""), row(3).at, &InputNames::default()), None);
    assert_eq!(seen.see(None, row(4).at, &InputNames::default()), None);
    assert_eq!(seen.value().as_deref(), Some("\"e1\""));
}

#[test]
fn a_different_if_match_repeated_on_many_rows_is_reported_once() {
    let mut seen = IfMatch::default();
    seen.see(Some("e1"), row(2).at, &InputNames::default());
    let Some(Seen::Mismatch(first)) = seen.see(Some("e2"), row(3).at, &InputNames::default())
    else {
        panic!("expected a mismatch");
    };
    assert_eq!(first.code, ErrorCode::IfMatchMismatch);
    assert_eq!(first.field.as_deref(), Some("if_match"));
    assert_eq!(
        seen.see(Some("\"e2\""), row(4).at, &InputNames::default()),
        None
    );
    assert!(
        seen.see(Some("e3"), row(5).at, &InputNames::default())
            .is_some()
    );
}

#[test]
fn row_errors_come_before_document_errors() {
    let mut group = Group::new(Some("r".into()), row(2).at, "id");
    group.add_row(
        row(2),
        notes("a").as_ref(),
        Some("e1"),
        &mut OpRules::default(),
    );
    group.add_row(
        row(3),
        notes("b").as_ref(),
        Some("e2"),
        &mut OpRules::default(),
    );
    let mut bad = notes("c");
    bad.op = "move".into();
    group.add_row(row(4), bad.as_ref(), None, &mut OpRules::default());
    let codes: Vec<_> = invalid(group.finish(&InputNames::default()))
        .errors
        .iter()
        .map(|e| e.code)
        .collect();
    assert_eq!(
        codes,
        [
            ErrorCode::InvalidOp,
            ErrorCode::IfMatchMismatch,
            ErrorCode::DuplicatePath
        ]
    );
}

#[test]
fn a_malformed_record_counts_as_one_operation() {
    let mut group = Group::new(Some("r".into()), row(2).at, "id");
    group.add_row(row(2), notes("a").as_ref(), None, &mut OpRules::default());
    group.add_malformed(row(3), unreadable(3));
    let entry = invalid(group.finish(&InputNames::default()));
    assert_eq!(entry.ops, 2);
    assert_eq!(entry.rows.len(), 2);
}

#[test]
fn an_id_less_group_is_never_a_document() {
    let mut group = Group::new(None, row(2).at, "id");
    group.add_row(row(2), notes("a").as_ref(), None, &mut OpRules::default());
    let entry = invalid(group.finish(&InputNames::default()));
    assert_eq!(entry.id, None);
    assert_eq!(entry.ops, 1);
}

#[test]
fn a_group_with_nothing_wrong_and_no_if_match_is_at_most_two_cache_lines() {
    // A hundred thousand groups are held at once; what most of them never use (errors,
    // ETags, status fields) sits behind boxes.
    assert!(
        std::mem::size_of::<Group>() <= 128,
        "{}",
        std::mem::size_of::<Group>()
    );
}

/// One row's replace of `path` with `value`.
fn set(path: &str, value: &str) -> RawOp {
    RawOp {
        op: "replace".into(),
        path: path.into(),
        value: RawValue::Text(value.into()),
    }
}

#[test]
fn messages_name_each_operation_s_own_line_when_rows_without_one_come_between() {
    // Rows with no operation (unreadable, or refused by the row checks) still take a place
    // among the document's rows; each operation's line is read from its own place.
    let names = InputNames::default();
    let mut rules = OpRules::default();
    let mut group = Group::new(Some("r".into()), row(2).at, "id");
    group.add_row(row(2), set("/status", "Closed").as_ref(), None, &mut rules);
    group.add_malformed(row(3), unreadable(3));
    let mut refused = notes("x");
    refused.op = "move".into();
    group.add_row(row(4), refused.as_ref(), None, &mut rules);
    group.add_row(row(5), notes("a").as_ref(), None, &mut rules);
    group.add_row(
        row(6),
        set("/substatus", "Engaged").as_ref(),
        None,
        &mut rules,
    );
    group.add_row(row(7), notes("b").as_ref(), None, &mut rules);
    let errors = invalid(group.finish(&names)).errors;
    let duplicate = errors
        .iter()
        .find(|e| e.code == ErrorCode::DuplicatePath)
        .expect("a duplicate_path error");
    assert!(
        duplicate
            .message
            .starts_with("lines 5 and 7 set /details/notes"),
        "{}",
        duplicate.message
    );
    let transition = errors
        .iter()
        .find(|e| e.code == ErrorCode::InvalidTransition)
        .expect("an invalid_transition error");
    assert_eq!(transition.at, Some(row(6).at));
    assert!(
        transition
            .message
            .contains("/status on line 2, /substatus on line 6"),
        "{}",
        transition.message
    );
}

#[test]
fn a_document_form_record_setting_one_path_twice_is_named_once() {
    let mut rules = OpRules::default();
    let mut group = Group::new(Some("r".into()), row(2).at, "id");
    group.add_row(row(2), set("/name", "n").as_ref(), None, &mut rules);
    let patch = [notes("a"), notes("b")];
    group.add_document(row(3), (&patch, &[]), None, &mut rules);
    let errors = invalid(group.finish(&InputNames::default())).errors;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]
            .message
            .starts_with("line 3 sets /details/notes twice"),
        "{}",
        errors[0].message
    );
}
