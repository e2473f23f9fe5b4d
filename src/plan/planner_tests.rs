//! Tests of the planning rules, through the planner as the commands use it.

use super::*;
use crate::plan::test_support::*;
use crate::plan::{Document, InvalidEntry, OnDuplicate, PlanEntry};
use serde_json::json;

fn plan(records: Vec<InputRecord>) -> Plan {
    plan_with(OnDuplicate::Error, records)
}

fn plan_with(on_duplicate: OnDuplicate, records: Vec<InputRecord>) -> Plan {
    let mut planner = Planner::new(PlanOptions {
        on_duplicate,
        ..PlanOptions::default()
    });
    records.iter().for_each(|r| planner.push(r));
    planner.finish()
}

fn document(entry: &PlanEntry) -> &Document {
    match entry {
        PlanEntry::Document(d) => d,
        PlanEntry::Invalid(i) => panic!("expected a document, got {i:?}"),
    }
}

fn invalid(entry: &PlanEntry) -> &InvalidEntry {
    match entry {
        PlanEntry::Invalid(i) => i,
        PlanEntry::Document(d) => panic!("expected an invalid entry, got {d:?}"),
    }
}

const NOTES: &str = "/details/notes";

#[test]
fn documents_come_out_in_order_of_first_appearance_with_ops_in_input_order() {
    let plan = plan(vec![
        csv(2, "b", "replace", NOTES, "b1"),
        csv(3, "a", "replace", NOTES, "a1"),
        csv(4, "b", "replace", "/name", "b2"),
    ]);
    let ids: Vec<_> = plan.entries.iter().map(|e| e.id()).collect();
    assert_eq!(ids, [Some("b"), Some("a")]);
    let b = document(&plan.entries[0]);
    assert_eq!(b.patch_json()[1]["path"], "/name");
    assert_eq!(lines_of(&plan.entries[0]), [2, 4]);
}

#[test]
fn rows_in_runs_in_passes_and_breaking_both_patterns_are_grouped_alike() {
    // Runs (a a b b), passes (a b c a b c), then rows that break each pattern: the
    // previous group, one past it, one before it, a new one and an ID-less row.
    let ids = [
        "a", "a", "b", "b", "c", "a", "b", "c", "c", "a", "c", "b", "", "d", "a",
    ];
    let records = ids
        .iter()
        .enumerate()
        .map(|(i, id)| csv(i as u64 + 2, id, "replace", NOTES, "same"))
        .collect();
    let plan = plan(records);
    let groups: Vec<_> = plan
        .entries
        .iter()
        .map(|e| (e.id().unwrap_or(""), lines_of(e)))
        .collect();
    let want: Vec<(&str, Vec<u64>)> = vec![
        ("a", vec![2, 3, 7, 11, 16]),
        ("b", vec![4, 5, 8, 13]),
        ("c", vec![6, 9, 10, 12]),
        ("", vec![14]),
        ("d", vec![15]),
    ];
    assert_eq!(groups, want);
}

#[test]
fn rows_of_thousands_of_ids_in_no_order_find_their_groups_as_the_table_grows() {
    // Every ID twice, the second pass in another order, so no row follows the pattern of
    // the one before and each is looked up in the table, which grows many times over.
    let ids: Vec<String> = (0..5_000).map(|n| format!("id-{n}")).collect();
    let second_pass = (0..ids.len()).map(|n| (n * 7_919) % ids.len());
    let order: Vec<usize> = (0..ids.len()).chain(second_pass).collect();
    let records = order
        .iter()
        .enumerate()
        .map(|(row, &n)| csv(row as u64 + 2, &ids[n], "replace", NOTES, "same"))
        .collect();
    let plan = plan(records);
    assert_eq!(plan.entries.len(), ids.len());
    for (n, entry) in plan.entries.iter().enumerate() {
        let again = order.iter().rposition(|&m| m == n).unwrap() as u64 + 2;
        assert_eq!(entry.id(), Some(ids[n].as_str()));
        assert_eq!(lines_of(entry), [n as u64 + 2, again]);
    }
}

#[test]
fn ids_whose_kept_hashes_agree_still_get_groups_of_their_own() {
    // The ID map keeps 32 bits of each ID's hash: among 400,000 IDs some pairs agree
    // (about 19 expected), and the planner must then tell them apart by the ID itself.
    let mut planner = Planner::new(PlanOptions::default());
    let mut seen = std::collections::HashMap::new();
    let (a, b) = (0..400_000)
        .map(|n| format!("id-{n}"))
        .find_map(|id| {
            let earlier = seen.insert(planner.id_hash(&id), id.clone());
            earlier.map(|earlier| (earlier, id))
        })
        .expect("two of 400,000 IDs share a 32-bit hash");
    let order = [&a, &b, "other", &a, &b, &b, "other", &a];
    // The same planner, whose seed made the two hashes agree.
    for (row, id) in order.iter().enumerate() {
        planner.push(&csv(row as u64 + 2, id, "replace", NOTES, "same"));
    }
    let plan = planner.finish();
    let grouped: Vec<(Option<&str>, Vec<u64>)> = plan
        .entries
        .iter()
        .map(|entry| (entry.id(), lines_of(entry)))
        .collect();
    assert_eq!(
        grouped,
        [
            (Some(a.as_str()), vec![2, 5, 9]),
            (Some(b.as_str()), vec![3, 6, 7]),
            (Some("other"), vec![4, 8]),
        ]
    );
}

#[test]
fn ids_are_grouped_case_sensitively() {
    let plan = plan(vec![
        csv(2, "Abc", "replace", NOTES, "x"),
        csv(3, "abc", "replace", NOTES, "y"),
    ]);
    assert_eq!(plan.entries.len(), 2);
}

#[test]
fn a_well_formed_id_that_is_not_a_guid_is_planned() {
    let plan = plan(vec![csv(2, "crm-lead_42", "replace", NOTES, "x")]);
    assert_eq!(document(&plan.entries[0]).id, "crm-lead_42");
}

#[test]
fn rows_without_an_id_are_each_their_own_entry_at_their_own_place() {
    let plan = plan(vec![
        csv(2, "a", "replace", NOTES, "x"),
        csv(3, "", "replace", NOTES, "y"),
        csv(4, "b", "replace", NOTES, "z"),
        csv(5, "", "replace", NOTES, "w"),
        csv(6, "a", "replace", "/name", "n"),
    ]);
    let ids: Vec<_> = plan.entries.iter().map(|e| e.id()).collect();
    assert_eq!(ids, [Some("a"), None, Some("b"), None]);
    assert_eq!(lines_of(&plan.entries[1]), [3]);
    assert_eq!(codes_of(&plan.entries[3]), ["invalid_id"]);
    assert_eq!(invalid(&plan.entries[3]).ops, 1);
}

#[test]
fn rows_of_an_invalid_id_form_one_invalid_entry_with_one_invalid_id_error() {
    let plan = plan(vec![
        csv(2, "../x", "replace", NOTES, "x"),
        csv(3, "ok", "replace", NOTES, "y"),
        csv(4, "../x", "replace", "/name", "z"),
    ]);
    let bad = invalid(&plan.entries[0]);
    assert_eq!(bad.id.as_deref(), Some("../x"));
    assert_eq!(lines_of(&plan.entries[0]), [2, 4]);
    assert_eq!(codes_of(&plan.entries[0]), ["invalid_id"]);
    assert_eq!(bad.ops, 2);
}

#[test]
fn slashes_percent_signs_and_overlong_ids_are_invalid_id() {
    let long = "a".repeat(129);
    for id in ["a/b", "%2F", ".", "..", long.as_str()] {
        let plan = plan(vec![csv(2, id, "replace", NOTES, "x")]);
        assert_eq!(codes_of(&plan.entries[0]), ["invalid_id"], "{id}");
    }
}

#[test]
fn a_malformed_record_with_an_id_makes_that_document_invalid() {
    let plan = plan(vec![
        csv(2, "a", "replace", NOTES, "x"),
        malformed(3, Some("a"), MalformedKind::Record),
    ]);
    assert_eq!(plan.entries.len(), 1);
    assert_eq!(codes_of(&plan.entries[0]), ["malformed_record"]);
    assert_eq!(lines_of(&plan.entries[0]), [2, 3]);
}

#[test]
fn a_malformed_record_without_an_id_is_an_id_less_entry() {
    let plan = plan(vec![
        malformed(2, None, MalformedKind::MissingColumn),
        malformed(3, Some(""), MalformedKind::Record),
    ]);
    assert_eq!(plan.entries.len(), 2);
    assert_eq!(codes_of(&plan.entries[0]), ["missing_column"]);
    assert_eq!(codes_of(&plan.entries[1]), ["malformed_record"]);
    assert_eq!(plan.entries[0].id(), None);
}

#[test]
fn one_invalid_row_makes_the_whole_document_invalid_with_errors_in_line_order() {
    let plan = plan(vec![
        csv(2, "a", "replace", NOTES, "fine"),
        csv(3, "a", "remove", NOTES, ""),
        csv(4, "a", "replace", "/details/dealValue", "10,000.50"),
    ]);
    let entry = invalid(&plan.entries[0]);
    assert_eq!(codes_of(&plan.entries[0]), ["invalid_op", "invalid_value"]);
    let lines: Vec<_> = entry.errors.iter().map(|e| e.at.unwrap().line).collect();
    assert_eq!(lines, [3, 4]);
    assert_eq!(entry.ops, 3);
}

#[test]
fn if_match_with_and_without_quotes_agree_and_is_sent_quoted() {
    let plan = plan(vec![
        csv_if(2, "a", "replace", NOTES, "x", Some("e1")),
        csv_if(3, "a", "replace", "/name", "y", Some("\"e1\"")),
        csv_if(4, "a", "replace", "/statusReason", "z", Some("")),
    ]);
    assert_eq!(
        document(&plan.entries[0]).if_match.as_deref(),
        Some("\"e1\"")
    );
}

#[test]
fn two_different_if_match_values_make_the_document_invalid() {
    let plan = plan(vec![
        csv_if(2, "a", "replace", NOTES, "x", Some("e1")),
        csv_if(3, "a", "replace", "/name", "y", None),
        csv_if(5, "a", "replace", "/statusReason", "z", Some("e2")),
    ]);
    let error = &errors_of(&plan.entries[0])[0];
    assert_eq!(error.code.as_str(), "if_match_mismatch");
    assert_eq!(error.at.map(|a| a.line), Some(5));
    assert!(error.message.contains("line 2") && error.message.contains("line 5"));
}

#[test]
fn two_rows_replacing_one_path_with_different_values_are_duplicate_path() {
    let plan = plan(vec![
        csv(2, "a", "replace", NOTES, "first"),
        csv(4, "a", "replace", NOTES, "second"),
    ]);
    let error = &errors_of(&plan.entries[0])[0];
    assert_eq!(error.code.as_str(), "duplicate_path");
    assert!(
        error
            .message
            .starts_with("lines 2 and 4 set /details/notes")
    );
    assert!(error.message.contains("--on-duplicate last-wins"));
    assert_eq!(invalid(&plan.entries[0]).ops, 2);
}

#[test]
fn under_last_wins_the_last_row_stands_at_its_own_position_and_keeps_every_line() {
    let plan = plan_with(
        OnDuplicate::LastWins,
        vec![
            csv(2, "a", "replace", NOTES, "first"),
            csv(3, "a", "replace", "/name", "n"),
            csv(4, "a", "replace", NOTES, "second"),
        ],
    );
    let doc = document(&plan.entries[0]);
    let paths: Vec<_> = doc.ops.iter().map(|o| &*o.path).collect();
    assert_eq!(paths, ["/name", NOTES]);
    assert_eq!(doc.ops[1].value, json!("second"));
    assert_eq!(lines_of(&plan.entries[0]), [2, 3, 4]);
}

#[test]
fn identical_rows_merge_into_one_operation_and_keep_every_line() {
    let member = r#"{"email":"a@b.c"}"#;
    let plan = plan(vec![
        csv(2, "a", "replace", NOTES, "x"),
        csv(3, "a", "add", "/team/-", member),
        csv(4, "a", "REPLACE", NOTES, "x"),
        csv(5, "a", "add", "/team/-", member),
    ]);
    let doc = document(&plan.entries[0]);
    assert_eq!(doc.ops.len(), 2);
    assert!(doc.merged_duplicates);
    assert_eq!(lines_of(&plan.entries[0]), [2, 3, 4, 5]);
}

#[test]
fn a_status_without_a_substatus_is_missing_substatus() {
    let plan = plan(vec![csv(2, "a", "replace", "/status", "closed")]);
    assert_eq!(codes_of(&plan.entries[0]), ["missing_substatus"]);
}

#[test]
fn a_status_and_substatus_outside_the_table_are_invalid_transition() {
    let plan = plan(vec![
        csv(2, "a", "replace", "/status", "Closed"),
        csv(3, "a", "replace", "/substatus", "Engaged"),
    ]);
    assert_eq!(codes_of(&plan.entries[0]), ["invalid_transition"]);
    let ok = super::tests::plan(vec![
        csv(2, "a", "replace", "/status", "closed"),
        csv(3, "a", "replace", "/substatus", "won"),
    ]);
    assert_eq!(document(&ok.entries[0]).ops[0].value, json!("Closed"));
}

#[test]
fn an_invalid_transition_names_the_field_of_the_later_operation() {
    let field_of = |plan: &Plan| {
        let error = &errors_of(&plan.entries[0])[0];
        assert_eq!(error.code.as_str(), "invalid_transition");
        error.field.clone()
    };
    let rows = plan(vec![
        csv(2, "a", "replace", "/status", "Closed"),
        csv(3, "a", "replace", "/substatus", "Engaged"),
    ]);
    assert_eq!(field_of(&rows).as_deref(), Some("value"));
    let patch = vec![
        json_op("replace", "/substatus", json!("Engaged")),
        json_op("replace", NOTES, json!("x")),
        json_op("replace", "/status", json!("Closed")),
    ];
    let documents = plan(vec![doc(1, "a", None, patch.clone())]);
    assert_eq!(field_of(&documents).as_deref(), Some("patch[2].value"));
    // A mapped row: each operation from its column; both on one line, the status's named.
    let mut mapped = doc(4, "a", None, patch);
    if let RecordContent::Document { columns, .. } = &mut mapped.content {
        *columns = vec!["Stage".into(), "Notes".into(), "State".into()];
    }
    let mapped = plan(vec![csv(2, "a", "replace", NOTES, "x"), mapped]);
    assert_eq!(field_of(&mapped).as_deref(), Some("State"));
}

#[test]
fn a_document_form_record_joins_the_rows_of_its_id() {
    let plan = plan(vec![
        csv(2, "a", "replace", NOTES, "x"),
        doc(
            3,
            "a",
            Some("\"e\""),
            vec![json_op("replace", "/name", json!("N"))],
        ),
    ]);
    let doc = document(&plan.entries[0]);
    assert_eq!(doc.ops.len(), 2);
    assert_eq!(doc.if_match.as_deref(), Some("\"e\""));
}

#[test]
fn csv_rows_held_back_are_planned_before_the_records_of_other_kinds_after_them() {
    // Rows in no pattern are held back a few places (`plan::ahead`); a record of another
    // kind, or the end, must not overtake them.
    let mut records: Vec<InputRecord> = ["b", "a", "c", "a"]
        .iter()
        .enumerate()
        .map(|(i, id)| csv(i as u64 + 2, id, "replace", NOTES, id))
        .collect();
    records.push(doc(
        6,
        "a",
        None,
        vec![json_op("replace", "/name", json!("N"))],
    ));
    records.push(malformed(7, Some("c"), MalformedKind::Record));
    records.push(csv(8, "a", "replace", "/details/dealValue", "5"));
    records.push(csv(9, "d", "replace", NOTES, "d"));
    let plan = plan(records);
    let ids: Vec<_> = plan.entries.iter().map(|e| e.id()).collect();
    assert_eq!(ids, [Some("b"), Some("a"), Some("c"), Some("d")]);
    let a = document(&plan.entries[1]);
    let paths: Vec<&str> = a.ops.iter().map(|op| &*op.path).collect();
    assert_eq!(paths, [NOTES, "/name", "/details/dealValue"]);
    assert_eq!(lines_of(&plan.entries[1]), [3, 5, 6, 8]);
    assert_eq!(lines_of(&plan.entries[2]), [4, 7]);
    assert_eq!(lines_of(&plan.entries[3]), [9]);
}

#[test]
fn document_form_errors_name_the_operation_by_index() {
    let patch = vec![
        json_op("replace", NOTES, json!("x")),
        json_op("add", "/team/-", json!({"email": "a@b.c"})),
        json_op("replace", "/eTag", json!("x")),
    ];
    let plan = plan(vec![doc(1, "a", None, patch)]);
    let error = &errors_of(&plan.entries[0])[0];
    assert_eq!(error.code.as_str(), "read_only_path");
    assert_eq!(error.field.as_deref(), Some("patch[2].path"));
    assert_eq!(invalid(&plan.entries[0]).ops, 3);
}

#[test]
fn a_document_form_record_with_an_empty_patch_is_a_document_that_changes_nothing() {
    let plan = plan(vec![doc(1, "a", None, Vec::new())]);
    match &plan.entries[0] {
        PlanEntry::Document(document) => assert!(document.ops.is_empty()),
        other => panic!("expected a document, got {other:?}"),
    }
}

#[test]
fn a_document_form_record_without_an_id_is_id_less() {
    let plan = plan(vec![doc(
        1,
        "",
        None,
        vec![json_op("replace", NOTES, json!("x"))],
    )]);
    assert_eq!(plan.entries[0].id(), None);
    assert_eq!(codes_of(&plan.entries[0]), ["invalid_id"]);
}

#[test]
fn planned_documents_round_trip_through_the_document_form() {
    let plan = plan(vec![
        csv_if(2, "a", "add", "/team/-", r#"{"email":"a@b.c"}"#, Some("e1")),
        csv(3, "a", "replace", "/details/dealValue", "10000.50"),
    ]);
    let original = document(&plan.entries[0]);
    let form = original.to_document_form();
    let patch = form["patch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| {
            json_op(
                op["op"].as_str().unwrap(),
                op["path"].as_str().unwrap(),
                op["value"].clone(),
            )
        })
        .collect();
    let again = super::tests::plan(vec![doc(1, "a", form["if_match"].as_str(), patch)]);
    let reread = document(&again.entries[0]);
    assert_eq!(
        (&reread.ops, &reread.if_match),
        (&original.ops, &original.if_match)
    );
}

#[test]
fn a_plan_of_lines_only_has_the_same_entries_and_lines_without_the_rows_places() {
    let records = || {
        vec![
            csv(2, "a", "replace", NOTES, "one"),
            csv(3, "", "replace", NOTES, "no id"),
            csv(4, "b", "replace", "/name", "b"),
            csv(5, "a", "replace", NOTES, "two"),
        ]
    };
    let full = plan(records());
    let mut planner = Planner::new(PlanOptions {
        lines_only: true,
        ..PlanOptions::default()
    });
    records().iter().for_each(|r| planner.push(r));
    let lean = planner.finish();
    assert_eq!(lean.entries.len(), full.entries.len());
    let lines = |entry: &PlanEntry| entry.rows().iter().map(|r| r.at).collect::<Vec<_>>();
    for (lean, full) in lean.entries.iter().zip(&full.entries) {
        assert_eq!(lean.id(), full.id());
        assert_eq!(lines(lean), lines(full));
        assert!(!lean.rows().has_spans() && full.rows().has_spans());
    }
}
