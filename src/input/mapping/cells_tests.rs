//! Tests of converting one row's cells.

use super::*;
use serde_json::json;
use std::path::Path;

fn mapping() -> Mapping {
    let text = r#"id = "Id"
[[column]]
name = "Stage"
[column.values]
"Closed Won" = { "/status" = "Closed", "/substatus" = "Won" }
"Prospecting" = {}

[[column]]
name = "Amount"
path = "/details/dealValue"
number = { decimal = ",", thousands = "." }
empty = "error"

[[column]]
name = "Close"
path = "/details/closingDateTime"
date = { format = "%m/%d/%Y", time_zone = "America/New_York" }

[[column]]
name = "Rating"
path = "/qualification"
values = { Hot = "SalesQualified" }
unmapped = "keep"
"#;
    Mapping::parse(Path::new("crm.toml"), text).unwrap()
}

fn ops(cells: &[&str]) -> Vec<(String, serde_json::Value)> {
    convert_row(&mapping(), cells.iter().map(|c| Some(*c)))
        .unwrap()
        .into_iter()
        .map(|(_, op)| (op.path, op.value))
        .collect()
}

#[test]
fn one_stage_cell_gives_status_and_substatus_and_formats_are_applied() {
    let got = ops(&[" closed won ", "10.000,50", "12/31/2026", "hot"]);
    assert_eq!(
        got,
        [
            ("/status".into(), json!("Closed")),
            ("/substatus".into(), json!("Won")),
            ("/details/dealValue".into(), json!(10000.5)),
            (
                "/details/closingDateTime".into(),
                json!("2026-12-31T05:00:00Z")
            ),
            ("/qualification".into(), json!("SalesQualified")),
        ]
    );
}

#[test]
fn empty_cells_and_empty_entries_leave_fields_unchanged() {
    let got = ops(&["Prospecting", "5", "", "direct"]);
    assert_eq!(
        got,
        [
            ("/details/dealValue".into(), json!(5)),
            ("/qualification".into(), json!("Direct")),
        ]
    );
}

#[test]
fn every_failing_cell_names_its_column_and_mapping_line() {
    let cells = ["Negotiation", "", "31.12.2026", "Warm"];
    let errors = convert_row(&mapping(), cells.iter().map(|c| Some(*c))).unwrap_err();
    let columns: Vec<&str> = errors.iter().map(|e| e.column.as_str()).collect();
    assert_eq!(columns, ["Stage", "Amount", "Close", "Rating"]);
    assert!(
        errors[0]
            .message
            .contains("`Negotiation` is not in the value map"),
        "{}",
        errors[0].message
    );
    assert!(
        errors[0].message.contains("crm.toml line 4"),
        "{}",
        errors[0].message
    );
    assert!(
        errors[1].message.contains("empty = \"error\"")
            && errors[1].message.contains("crm.toml line 12"),
        "{}",
        errors[1].message
    );
    assert!(
        errors[2].message.contains("%m/%d/%Y") && errors[2].message.contains("crm.toml line 17"),
        "{}",
        errors[2].message
    );
    assert!(
        errors[3].message.contains("crm.toml line 21"),
        "{}",
        errors[3].message
    );
}

#[test]
fn a_cell_that_is_not_utf8_suggests_encoding() {
    let cells = [Some("Prospecting"), None, Some(""), Some("")];
    let errors = convert_row(&mapping(), cells).unwrap_err();
    assert!(
        errors[0].message.contains("--encoding"),
        "{}",
        errors[0].message
    );
}

#[test]
fn a_cell_cites_the_line_of_the_rule_that_refused_it() {
    let text = r#"id = "Id"
[defaults]
empty = "error"
number = { decimal = ",", thousands = "." }

[[column]]
name = "Amount"
path = "/details/dealValue"

[[column]]
name = "Close Date"
path = "/details/closingDateTime"
empty = "error"

[[column]]
name = "Flag"
path = "/details/notes"
empty = "skip"
"#;
    let mapping = Mapping::parse(Path::new("crm.toml"), text).unwrap();
    let cells = ["1,000.50", " ", "x"];
    let errors = convert_row(&mapping, cells.iter().map(|c| Some(*c))).unwrap_err();
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].ends_with("(crm.toml line 4)"),
        "{}",
        messages[0]
    );
    assert!(
        messages[1].ends_with("(crm.toml line 13)"),
        "{}",
        messages[1]
    );
    let errors = convert_row(&mapping, ["", "2026-12-31", ""].map(Some)).unwrap_err();
    assert!(
        errors[0].message.ends_with("(crm.toml line 3)"),
        "the [defaults] empty line: {}",
        errors[0].message
    );
}
