//! Tests of the duplicate rules in `ops.rs`.

use super::*;
use crate::plan::OpKind;
use serde_json::json;

/// The place of the document's row whose number is `line`: these tests give each row its
/// own place, numbered as its line.
fn at(line: u64) -> RowPlace {
    RowPlace::new(line as usize)
}

fn op(kind: OpKind, path: &str, value: Value) -> PatchOp {
    PatchOp::new(kind, path, &value)
}

fn replace(path: &str, value: Value) -> PatchOp {
    op(OpKind::Replace, path, value)
}

/// Pushes `op` from line `line` under `rule`, as the row checks hand it over.
fn push_under(rule: OnDuplicate, list: &mut OpList, op: PatchOp, line: u64) -> Pushed {
    let checked = CheckedOp {
        op: op.op,
        path: &op.path,
        value: op.value.as_str(),
    };
    list.push(checked, at(line), rule)
}

/// Pushes `op` from line `line` under the default rule, `--on-duplicate error`.
fn push(list: &mut OpList, op: PatchOp, line: u64) -> Pushed {
    push_under(OnDuplicate::Error, list, op, line)
}

/// The conflict of `/name` set to "A" on line `earlier`, then to "B".
fn name_conflict(earlier: u64) -> Pushed {
    Pushed::Conflict {
        path: "/name".into(),
        earlier: at(earlier),
        earlier_value: JsonText::of(&json!("A")),
        value: JsonText::of(&json!("B")),
    }
}

#[test]
fn identical_replaces_merge_into_one_operation() {
    let mut list = OpList::default();
    let first = push(&mut list, replace("/name", json!("A")), 2);
    let second = push(&mut list, replace("/name", json!("A")), 3);
    assert_eq!((first, second), (Pushed::Added, Pushed::Merged));
    assert_eq!(list.live().count(), 1);
}

#[test]
fn numbers_equal_by_value_are_identical() {
    let mut list = OpList::default();
    push(&mut list, replace("/details/dealValue", json!(10000)), 2);
    let pushed = push(&mut list, replace("/details/dealValue", json!(1e4)), 3);
    assert_eq!(pushed, Pushed::Merged);
}

#[test]
fn identical_appends_merge_but_different_appends_are_kept() {
    let mut list = OpList::default();
    let member = |email: &str| op(OpKind::Add, "/team/-", json!({"email": email}));
    assert_eq!(push(&mut list, member("a@x"), 2), Pushed::Added);
    assert_eq!(push(&mut list, member("b@x"), 3), Pushed::Added);
    assert_eq!(push(&mut list, member("a@x"), 4), Pushed::Merged);
    assert_eq!(list.live().count(), 2);
}

#[test]
fn two_values_for_one_path_conflict_and_both_are_kept() {
    let mut list = OpList::default();
    push(&mut list, replace("/name", json!("A")), 2);
    let pushed = push(&mut list, replace("/name", json!("B")), 5);
    assert_eq!(pushed, name_conflict(2));
    assert_eq!(list.live().count(), 2);
}

#[test]
fn under_last_wins_the_later_value_stands_at_its_own_position() {
    let mut list = OpList::default();
    push_under(
        OnDuplicate::LastWins,
        &mut list,
        replace("/name", json!("A")),
        2,
    );
    push_under(
        OnDuplicate::LastWins,
        &mut list,
        replace("/details/notes", json!("n")),
        3,
    );
    let pushed = push_under(
        OnDuplicate::LastWins,
        &mut list,
        replace("/name", json!("B")),
        4,
    );
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
    push(&mut list, replace("/name", json!("A")), 2);
    let pushed = push(&mut list, op(OpKind::Add, "/name", json!("A")), 3);
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
    push_under(on_duplicate, &mut list, replace("/name", json!("A")), 1);
    for i in 0..2 * INDEX_FROM as u64 {
        let member = op(OpKind::Add, "/team/-", json!({"email": format!("{i}@x")}));
        push_under(on_duplicate, &mut list, member, i + 2);
    }
    list
}

#[test]
fn a_large_document_merges_repeated_appends_like_a_small_one() {
    let mut list = large_list(OnDuplicate::Error);
    let again = op(OpKind::Add, "/team/-", json!({"email": "0@x"}));
    assert_eq!(push(&mut list, again, 99), Pushed::Merged);
    assert_eq!(list.live().count(), 1 + 2 * INDEX_FROM);
}

#[test]
fn a_large_document_finds_a_conflict_with_an_operation_from_before_the_index() {
    let mut list = large_list(OnDuplicate::Error);
    let pushed = push(&mut list, replace("/name", json!("B")), 99);
    assert_eq!(pushed, name_conflict(1));
    let third = push(&mut list, replace("/name", json!("C")), 100);
    assert!(matches!(third, Pushed::Conflict { earlier, .. } if earlier == at(99)));
}

#[test]
fn a_large_document_under_last_wins_keeps_only_the_last_value() {
    let mut list = large_list(OnDuplicate::LastWins);
    push_under(
        OnDuplicate::LastWins,
        &mut list,
        replace("/name", json!("B")),
        99,
    );
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

fn member(email: &str, first_name: &str) -> PatchOp {
    op(
        OpKind::Add,
        "/team/-",
        json!({"email": email, "firstName": first_name}),
    )
}

/// A list already holding `filler` replaces of paths of their own, so that from 16 on its
/// duplicate checks go through its maps.
fn list_of(filler: usize) -> OpList {
    let mut list = OpList::default();
    for n in 0..filler {
        let path = format!("/details/requirements/products/{n}/id");
        push(&mut list, replace(&path, json!(n)), 1);
    }
    list
}

#[test]
fn one_member_appended_twice_in_any_case_is_one_append() {
    for filler in [0, 20] {
        let mut list = list_of(filler);
        assert_eq!(push(&mut list, member("n@x.com", "Ann"), 2), Pushed::Added);
        assert_eq!(push(&mut list, member("N@X.com", "Ann"), 3), Pushed::Merged);
        assert_eq!(push(&mut list, member("m@x.com", "Ann"), 4), Pushed::Added);
        assert_eq!(list.live().count(), filler + 2, "{filler}");
    }
}

#[test]
fn one_member_appended_with_two_names_follows_the_duplicate_rule() {
    for filler in [0, 20] {
        let mut list = list_of(filler);
        push(&mut list, member("n@x.com", "Ann"), 2);
        let pushed = push(&mut list, member("N@x.com", "Anne"), 3);
        assert!(matches!(pushed, Pushed::Conflict { .. }), "{pushed:?}");

        let mut list = list_of(filler);
        push_under(
            OnDuplicate::LastWins,
            &mut list,
            member("n@x.com", "Ann"),
            2,
        );
        let pushed = push_under(
            OnDuplicate::LastWins,
            &mut list,
            member("n@x.com", "Anne"),
            3,
        );
        assert_eq!(pushed, Pushed::Overrode);
        let names: Vec<String> = list
            .live()
            .filter(|p| p.is_append())
            .map(|p| p.value.as_str().to_string())
            .collect();
        assert_eq!(
            names,
            [r#"{"email":"n@x.com","firstName":"Anne"}"#],
            "{filler}"
        );
    }
}

#[test]
fn a_planned_operation_is_no_larger_than_its_operation() {
    // A hundred thousand documents' operations are held at once: with the line beside
    // the operation each took 56 bytes.
    assert!(std::mem::size_of::<PlannedOp>() <= std::mem::size_of::<PatchOp>());
    let op = replace("/name", json!("x"));
    let planned = PlannedOp::new(op.clone(), at(7));
    assert_eq!(planned.row(), at(7));
    assert!(planned.live);
    assert_eq!(planned.into_patch_op(), op);
}

#[test]
fn a_place_past_four_billion_rows_is_the_last_that_fits() {
    assert_eq!(RowPlace::new(7).index(), 7);
    let last = u32::MAX as usize;
    assert_eq!(RowPlace::new(last).index(), last);
    assert_eq!(RowPlace::new(usize::MAX).index(), last);
}
