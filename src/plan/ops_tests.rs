//! Tests of the duplicate rules in `ops.rs`.

use super::*;
use crate::plan::OpKind;
use serde_json::json;

fn at(line: u64) -> LineRef {
    LineRef { input: 0, line }
}

fn op(kind: OpKind, path: &str, value: Value) -> PatchOp {
    PatchOp::new(kind, path, &value)
}

fn replace(path: &str, value: Value) -> PatchOp {
    op(OpKind::Replace, path, value)
}

#[test]
fn identical_replaces_merge_into_one_operation() {
    let mut list = OpList::default();
    let first = list.push(replace("/name", json!("A")), at(2), OnDuplicate::Error);
    let second = list.push(replace("/name", json!("A")), at(3), OnDuplicate::Error);
    assert_eq!((first, second), (Pushed::Added, Pushed::Merged));
    assert_eq!(list.live().count(), 1);
}

#[test]
fn numbers_equal_by_value_are_identical() {
    let mut list = OpList::default();
    list.push(
        replace("/details/dealValue", json!(10000)),
        at(2),
        OnDuplicate::Error,
    );
    let pushed = list.push(
        replace("/details/dealValue", json!(1e4)),
        at(3),
        OnDuplicate::Error,
    );
    assert_eq!(pushed, Pushed::Merged);
}

#[test]
fn identical_appends_merge_but_different_appends_are_kept() {
    let mut list = OpList::default();
    let member = |email: &str| op(OpKind::Add, "/team/-", json!({"email": email}));
    assert_eq!(
        list.push(member("a@x"), at(2), OnDuplicate::Error),
        Pushed::Added
    );
    assert_eq!(
        list.push(member("b@x"), at(3), OnDuplicate::Error),
        Pushed::Added
    );
    assert_eq!(
        list.push(member("a@x"), at(4), OnDuplicate::Error),
        Pushed::Merged
    );
    assert_eq!(list.live().count(), 2);
}

#[test]
fn two_values_for_one_path_conflict_and_both_are_kept() {
    let mut list = OpList::default();
    list.push(replace("/name", json!("A")), at(2), OnDuplicate::Error);
    let pushed = list.push(replace("/name", json!("B")), at(5), OnDuplicate::Error);
    assert_eq!(
        pushed,
        Pushed::Conflict {
            path: "/name".into(),
            earlier: at(2),
            earlier_value: JsonText::of(&json!("A")),
            value: JsonText::of(&json!("B")),
        }
    );
    assert_eq!(list.live().count(), 2);
}

#[test]
fn under_last_wins_the_later_value_stands_at_its_own_position() {
    let mut list = OpList::default();
    list.push(replace("/name", json!("A")), at(2), OnDuplicate::LastWins);
    list.push(
        replace("/details/notes", json!("n")),
        at(3),
        OnDuplicate::LastWins,
    );
    let pushed = list.push(replace("/name", json!("B")), at(4), OnDuplicate::LastWins);
    assert_eq!(pushed, Pushed::Overrode);
    let ops = list.into_live_ops();
    assert_eq!(
        ops,
        [
            replace("/details/notes", json!("n")),
            replace("/name", json!("B"))
        ]
    );
}

#[test]
fn add_and_replace_of_the_same_value_are_both_kept() {
    let mut list = OpList::default();
    list.push(replace("/name", json!("A")), at(2), OnDuplicate::Error);
    let pushed = list.push(
        op(OpKind::Add, "/name", json!("A")),
        at(3),
        OnDuplicate::Error,
    );
    assert_eq!(pushed, Pushed::Added);
    assert_eq!(list.live().count(), 2);
}

#[test]
fn object_values_compare_regardless_of_key_order() {
    let a: Value = serde_json::from_str(r#"{"email":"a@x","firstName":"A"}"#).unwrap();
    let b: Value = serde_json::from_str(r#"{"firstName":"A","email":"a@x"}"#).unwrap();
    assert!(same_value(&a, &b));
    assert!(!same_value(&json!(1.5), &json!(1)));
}

/// A document past the size where the scan gives way to maps, with `/name` set on line 1.
fn large_list(on_duplicate: OnDuplicate) -> OpList {
    let mut list = OpList::default();
    list.push(replace("/name", json!("A")), at(1), on_duplicate);
    for i in 0..2 * INDEX_FROM as u64 {
        let member = op(OpKind::Add, "/team/-", json!({"email": format!("{i}@x")}));
        list.push(member, at(i + 2), on_duplicate);
    }
    list
}

#[test]
fn a_large_document_merges_repeated_appends_like_a_small_one() {
    let mut list = large_list(OnDuplicate::Error);
    let again = op(OpKind::Add, "/team/-", json!({"email": "0@x"}));
    assert_eq!(list.push(again, at(99), OnDuplicate::Error), Pushed::Merged);
    assert_eq!(list.live().count(), 1 + 2 * INDEX_FROM);
}

#[test]
fn a_large_document_finds_a_conflict_with_an_operation_from_before_the_index() {
    let mut list = large_list(OnDuplicate::Error);
    let pushed = list.push(replace("/name", json!("B")), at(99), OnDuplicate::Error);
    assert_eq!(
        pushed,
        Pushed::Conflict {
            path: "/name".into(),
            earlier: at(1),
            earlier_value: JsonText::of(&json!("A")),
            value: JsonText::of(&json!("B")),
        }
    );
    let third = list.push(replace("/name", json!("C")), at(100), OnDuplicate::Error);
    assert!(matches!(third, Pushed::Conflict { earlier, .. } if earlier == at(99)));
}

#[test]
fn a_large_document_under_last_wins_keeps_only_the_last_value() {
    let mut list = large_list(OnDuplicate::LastWins);
    list.push(replace("/name", json!("B")), at(99), OnDuplicate::LastWins);
    let ops = list.into_live_ops();
    let names: Vec<_> = ops.iter().filter(|o| &*o.path == "/name").collect();
    assert_eq!(names, [&replace("/name", json!("B"))]);
    assert_eq!(ops.last(), Some(&replace("/name", json!("B"))));
}

/// Small JSON values whose numbers come in several forms of the same few values.
fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let number = prop_oneof![
        (-3i64..3).prop_map(Value::from),
        (0u64..3).prop_map(Value::from),
        prop_oneof![
            Just(-1.0),
            Just(0.0),
            Just(-0.0),
            Just(1.0),
            Just(1.5),
            Just(2.0)
        ]
        .prop_map(Value::from),
    ];
    let leaf = prop_oneof![
        number,
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        "[ab]{0,2}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            proptest::collection::btree_map("[ab]", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest::proptest! {
    #[test]
    fn same_value_agrees_with_comparing_canonical_texts(a in json_value(), b in json_value()) {
        proptest::prop_assert_eq!(same_value(&a, &b), canonical(&a) == canonical(&b));
    }
}
