//! Every class of bad input gets an `invalid` report row naming file, line and field, with
//! the contract's error code, and never stops the other rows.

use crate::fixtures::{self, id};
use crate::support::{self, Workdir, code, read_csv_report, stderr};
use refsync::emulator::{Faults, Seed};
use std::collections::HashMap;

/// A good row that must survive next to every bad one.
fn good_row() -> String {
    format!("{},replace,/details/notes,still sent\n", id(1))
}

/// Plans `bad` (CSV lines after the header, the good row last) and returns the report.
fn plan_csv(bad: &str) -> (Workdir, Vec<HashMap<String, String>>, i32) {
    let work = Workdir::new();
    let text = format!(
        "id,op,path,value,if_match\n{bad}{},\n",
        good_row().trim_end()
    );
    work.write("u.csv", &text);
    let out = work.refsync(&[
        "plan",
        "u.csv",
        "--report",
        "report.csv",
        "--out",
        "out.jsonl",
    ]);
    let rows = read_csv_report(&work.path().join("report.csv"));
    (work, rows, code(&out))
}

fn assert_invalid(bad: &str, error_code: &str, line: u64, field: &str) {
    let (_work, rows, exit) = plan_csv(bad);
    assert_eq!(exit, 4, "bad input exits 4: {bad}");
    let invalid = rows
        .iter()
        .find(|r| r["outcome"] == "invalid")
        .unwrap_or_else(|| panic!("no invalid row for {bad:?}: {rows:?}"));
    assert_eq!(invalid["error_code"], error_code, "{bad:?}: {invalid:?}");
    let message = &invalid["error_message"];
    assert!(message.contains(&format!("u.csv line {line}")), "{message}");
    assert!(message.contains(field), "{message} should name {field}");
    let good = rows
        .iter()
        .find(|r| r["id"] == id(1))
        .expect("good row reported");
    assert_eq!(good["outcome"], "planned", "the good row survives {bad:?}");
}

#[test]
fn an_invalid_op_is_reported() {
    assert_invalid(
        &format!("{},remove,/name,x,\n", id(0)),
        "invalid_op",
        2,
        "op",
    );
}

#[test]
fn a_path_that_is_not_a_pointer_is_reported() {
    assert_invalid(
        &format!("{},replace,details/notes,x,\n", id(0)),
        "invalid_path",
        2,
        "path",
    );
}

#[test]
fn a_path_outside_the_schema_is_reported() {
    assert_invalid(
        &format!("{},replace,/details/colour,x,\n", id(0)),
        "invalid_path",
        2,
        "path",
    );
}

#[test]
fn a_read_only_path_is_reported() {
    assert_invalid(
        &format!("{},replace,/createdDateTime,x,\n", id(0)),
        "read_only_path",
        2,
        "path",
    );
}

#[test]
fn a_value_of_the_wrong_type_is_reported() {
    assert_invalid(
        &format!("{},replace,/details/dealValue,\"10,000.50\",\n", id(0)),
        "invalid_value",
        2,
        "value",
    );
}

#[test]
fn an_empty_id_is_reported() {
    assert_invalid(",replace,/name,x,\n", "invalid_id", 2, "id");
}

#[test]
fn ids_that_could_alter_the_url_path_are_reported() {
    for bad in ["../x", "a/b", "%2F", ".."] {
        assert_invalid(&format!("{bad},replace,/name,x,\n"), "invalid_id", 2, "id");
    }
}

#[test]
fn two_different_if_match_values_are_reported() {
    let bad = format!(
        "{a},replace,/name,x,\"e1\"\n{a},replace,/details/notes,y,\"e2\"\n",
        a = id(0)
    );
    assert_invalid(&bad, "if_match_mismatch", 3, "if_match");
}

#[test]
fn contradicting_replaces_are_reported() {
    let bad = format!("{a},replace,/name,x,\n{a},replace,/name,y,\n", a = id(0));
    assert_invalid(&bad, "duplicate_path", 3, "path");
}

#[test]
fn status_without_substatus_is_reported() {
    let (_work, rows, exit) = plan_csv(&format!("{},replace,/status,Closed,\n", id(0)));
    assert_eq!(exit, 4);
    assert_eq!(rows[0]["error_code"], "missing_substatus");
    assert!(rows[0]["error_message"].contains("/substatus"));
}

#[test]
fn an_illegal_status_substatus_pair_is_reported() {
    let bad = format!(
        "{a},replace,/status,Closed,\n{a},replace,/substatus,Engaged,\n",
        a = id(0)
    );
    let (_work, rows, exit) = plan_csv(&bad);
    assert_eq!(exit, 4);
    assert_eq!(rows[0]["error_code"], "invalid_transition");
}

#[test]
fn a_row_with_the_wrong_field_count_is_reported() {
    assert_invalid(
        &format!("{},replace,/name\n", id(0)),
        "malformed_record",
        2,
        "field",
    );
}

#[test]
fn an_unterminated_quote_is_reported_and_later_rows_survive() {
    let work = Workdir::new();
    let text = format!(
        "id,op,path,value\n{},replace,/name,\"unterminated\n{}",
        id(0),
        good_row()
    );
    work.write("u.csv", &text);
    let out = work.refsync(&[
        "plan",
        "u.csv",
        "--report",
        "report.csv",
        "--out",
        "out.jsonl",
    ]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    let bad = rows
        .iter()
        .find(|r| r["outcome"] == "invalid")
        .expect("invalid row");
    assert_eq!(bad["error_code"], "malformed_record");
    assert!(
        bad["error_message"].contains("u.csv line 2"),
        "{}",
        bad["error_message"]
    );
    let good = rows
        .iter()
        .find(|r| r["id"] == id(1))
        .expect("the row after survives");
    assert_eq!(good["outcome"], "planned");
    assert_eq!(good["source_lines"], "3");
}

#[test]
fn a_file_missing_a_required_column_makes_each_row_invalid() {
    let work = Workdir::new();
    work.write(
        "bad.csv",
        &format!("id,op,value\n{},replace,x\na/b,replace,y\n", id(0)),
    );
    work.write("good.csv", &format!("id,op,path,value\n{}", good_row()));
    let out = work.refsync(&[
        "plan",
        "bad.csv",
        "good.csv",
        "--report",
        "report.csv",
        "--out",
        "o.jsonl",
    ]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    let bad = rows
        .iter()
        .find(|r| r["id"] == id(0))
        .expect("row under its ID");
    assert_eq!(bad["error_code"], "missing_column");
    assert!(bad["error_message"].contains("path"));
    assert_eq!(bad["source_lines"], "bad.csv:2");
    // An ID that breaks the ID rule too: the missing column is still the row's error.
    let bad_id = rows
        .iter()
        .find(|r| r["id"] == "a/b")
        .expect("row under its ID");
    assert_eq!(bad_id["error_code"], "missing_column", "{bad_id:?}");
    assert_eq!(
        rows.iter().find(|r| r["id"] == id(1)).unwrap()["source_lines"],
        "good.csv:2"
    );
}

#[test]
fn an_invalid_json_line_is_reported_and_other_lines_run() {
    let work = Workdir::new();
    let text = format!(
        "{{\"id\":\"{}\",\"op\":\"replace\",\"path\":\"/name\",\"value\":\n{{\"id\":\"{}\",\"op\":\"replace\",\"path\":\"/name\",\"value\":\"ok\"}}\n",
        id(0),
        id(1)
    );
    work.write("u.jsonl", &text);
    let out = work.refsync(&[
        "plan",
        "u.jsonl",
        "--report",
        "report.csv",
        "--out",
        "o.jsonl",
    ]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    let bad = rows.iter().find(|r| r["outcome"] == "invalid").unwrap();
    assert_eq!(bad["error_code"], "malformed_record");
    assert!(bad["error_message"].contains("u.jsonl line 1"));
    assert_eq!(rows.iter().filter(|r| r["outcome"] == "planned").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_do_not_stop_the_good_ones_from_being_sent() {
    let work = Workdir::new();
    let seed = work.write("seed.jsonl", &fixtures::seed_text(&fixtures::referrals(2)));
    let emulator = support::emulator_with(Seed::File(seed), Faults::default()).await;
    let text = format!(
        "id,op,path,value\n{},replace,/eTag,x\n{}",
        id(0),
        good_row()
    );
    work.write("u.csv", &text);
    let base = emulator.base_url();
    let out = work.refsync(&[
        "sync",
        "u.csv",
        "--endpoint",
        &base,
        "--report",
        "report.csv",
    ]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(
        rows.iter().find(|r| r["id"] == id(1)).unwrap()["outcome"],
        "updated"
    );
    assert_eq!(
        emulator.referrals()[&id(1)]["details"]["notes"],
        "still sent"
    );
}

#[test]
fn a_header_naming_a_field_twice_makes_every_row_invalid_and_says_which_columns() {
    let work = Workdir::new();
    work.write("u.csv", "id,op,path,value,Value\na,replace,/name,x,y\n");
    let out = work.refsync(&["plan", "u.csv", "--report", "r.csv"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let report = work.read("r.csv");
    assert!(report.contains("malformed_record"), "{report}");
    assert!(report.contains("twice (columns 4 and 5)"), "{report}");
}

#[test]
fn a_csv_file_with_no_rows_and_no_row_form_header_is_warned_about() {
    let work = Workdir::new();
    work.write(
        "u.csv",
        "{\"id\":\"a\",\"op\":\"replace\",\"path\":\"/name\",\"value\":\"x\"}\n",
    );
    let out = work.refsync(&["plan", "u.csv", "--report", "r.csv"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("has no data rows"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_empty_input_of_either_format_is_warned_about_and_plans_nothing() {
    let work = Workdir::new();
    work.write("u.csv", "");
    work.write("u.jsonl", "");
    for name in ["u.csv", "u.jsonl"] {
        let out = work.refsync(&["plan", name, "--report", "r.csv"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("{name} is empty")),
            "{}",
            stderr(&out)
        );
    }
}

/// Each report row's ID, outcome and source lines.
fn ids_outcomes_and_lines(rows: &[HashMap<String, String>]) -> Vec<(&str, &str, &str)> {
    rows.iter()
        .map(|r| {
            (
                r["id"].as_str(),
                r["outcome"].as_str(),
                r["source_lines"].as_str(),
            )
        })
        .collect()
}

#[test]
fn a_stray_lone_cr_in_a_crlf_file_ends_its_line_and_hides_no_row() {
    let work = Workdir::new();
    let (a, b) = (id(1), id(2));
    let text = format!(
        "id,op,path,value\r\n{a},replace,/details/notes,\"one\rstill one\"\r\n\
         {b},replace,/details/dealValue,q\r{a},replace,/name,three\r\n"
    );
    work.write("mixed.csv", &text);
    let args = ["plan", "mixed.csv", "--report", "r.csv", "--out", "o.jsonl"];
    let out = work.refsync(&[&args[..], &["--rejects", "rejects.csv"]].concat());
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("line 3 of mixed.csv ends in a carriage return"),
        "{}",
        stderr(&out)
    );
    let rows = read_csv_report(&work.path().join("r.csv"));
    let found = ids_outcomes_and_lines(&rows);
    assert_eq!(
        found,
        [(a.as_str(), "planned", "2;4"), (b.as_str(), "invalid", "3")]
    );
    // The CR inside the quoted cell is the value's own.
    assert!(work.read("o.jsonl").contains(r#""value":"one\rstill one""#));
    assert!(work.read("o.jsonl").contains(r#""value":"three""#));
    let rejects = work.read("rejects.csv");
    assert_eq!(rejects.lines().count(), 2, "{rejects:?}");
}

#[test]
fn a_stray_lone_cr_far_into_a_large_file_ends_its_line_there_and_rows_before_it_stay() {
    // Rows read and planned before the CR turns up (it lies past several read buffers)
    // must come out as they were, and the rows after it on their own lines.
    let work = Workdir::new();
    let rows = 12_000;
    let stray = 9_000;
    let mut text = String::from("id,op,path,value\r\n");
    for row in 0..rows {
        let end = if row == stray { "\r" } else { "\r\n" };
        text.push_str(&format!(
            "{},replace,/details/notes,note {row} of a long file{end}",
            id(row % 400)
        ));
    }
    work.write("long.csv", &text);
    let out = work.refsync(&["plan", "long.csv", "--report", "r.csv", "--out", "o.jsonl"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    // The stray CR ends data row `stray` (file line stray + 2): the next row is line + 1.
    let line = stray + 2;
    assert!(
        stderr(&out).contains(&format!(
            "line {line} of long.csv ends in a carriage return"
        )),
        "{}",
        stderr(&out)
    );
    let report = read_csv_report(&work.path().join("r.csv"));
    let lines_of = |n: usize| -> String {
        let id = id(n);
        let row = report.iter().find(|r| r["id"] == id).expect("a report row");
        row["source_lines"].clone()
    };
    // Every referral's rows are 400 apart: line 2 + n, 402 + n, ... up to the last.
    let want = |n: usize| -> String {
        (0..rows)
            .filter(|row| row % 400 == n)
            .map(|row| (row + 2).to_string())
            .collect::<Vec<_>>()
            .join(";")
    };
    // The row the CR ends, the row after it (read on its own, not glued to it), and
    // referrals whose rows all lie before or around it.
    for n in [stray % 400, (stray + 1) % 400, 0, 399] {
        assert_eq!(lines_of(n), want(n), "referral {n}");
    }
}

#[test]
fn a_csv_file_whose_lines_end_in_a_lone_cr_is_read_line_by_line() {
    let work = Workdir::new();
    let (a, b, c) = (id(1), id(2), id(3));
    let text = format!(
        "id,op,path,value\r{a},replace,/name,x\r{b},replace,/details/dealValue,q\r\
         {c},replace,/details/notes,\"two\rlines\"\r{a},replace,/details/notes,n\r"
    );
    work.write("mac.csv", &text);
    let args = ["plan", "mac.csv", "--report", "r.csv", "--out", "o.jsonl"];
    let out = work.refsync(&[&args[..], &["--rejects", "rejects.csv"]].concat());
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("r.csv"));
    let lines = ids_outcomes_and_lines(&rows);
    let expected = [
        (a.as_str(), "planned", "2;6"),
        (b.as_str(), "invalid", "3"),
        (c.as_str(), "planned", "4"),
    ];
    assert_eq!(lines, expected);
    assert!(rows[1]["error_message"].contains("mac.csv line 3, field value"));
    assert!(work.read("o.jsonl").contains(r#""value":"two\nlines""#));
    let rejects = work.read("rejects.csv");
    assert_eq!(
        rejects
            .lines()
            .nth(1)
            .map(|line| line.split(',').take(5).collect::<Vec<_>>()),
        Some(vec![
            b.as_str(),
            "replace",
            "/details/dealValue",
            "q",
            "invalid"
        ])
    );
}

#[test]
fn ids_listed_but_in_no_input_and_an_empty_list_are_warned_about() {
    let work = Workdir::new();
    work.write("u.csv", "id,op,path,value\na,replace,/name,x\n");
    work.write("ids.txt", "a\nno-such-referral\n");
    let out = work.refsync(&["plan", "u.csv", "--ids", "ids.txt", "--report", "r.csv"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 of the 2 IDs in --ids ids.txt are in no input: no-such-referral"),
        "{}",
        stderr(&out)
    );
    work.write("empty.txt", "# nothing yet\n");
    let out = work.refsync(&["plan", "u.csv", "--ids", "empty.txt", "--report", "r.csv"]);
    assert!(stderr(&out).contains("lists no IDs"), "{}", stderr(&out));
    // Saved by Notepad: a byte-order mark and CRLF line ends.
    work.write("notepad.txt", "\u{feff}a\r\n");
    let out = work.refsync(&["plan", "u.csv", "--ids", "notepad.txt", "--report", "r.csv"]);
    assert!(!stderr(&out).contains("in no input"), "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("r.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["outcome"], "planned");
}

#[test]
fn a_quote_closing_a_field_early_and_a_weak_etag_are_invalid_rows_naming_their_field() {
    let work = Workdir::new();
    work.write(
        "u.csv",
        "id,op,path,value,if_match\na,replace,/name,\"x\"y\",\nb,replace,/name,z,W/\"e1\"\n",
    );
    let out = work.refsync(&["plan", "u.csv", "--report", "r.csv"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("r.csv"));
    let a = support::row_of(&rows, "a");
    assert_eq!(a["error_code"], "malformed_record");
    assert!(a["error_message"].contains("field value"), "{a:?}");
    let b = support::row_of(&rows, "b");
    assert_eq!(b["error_code"], "invalid_value");
    assert!(b["error_message"].contains("weak ETag"), "{b:?}");
}

/// A plan of thousands of referrals, many of them invalid: the report has every referral
/// once, in the order of their first rows, each invalid one with its message, and the
/// rejects file every row of the invalid ones (the report's rows are made on two threads,
/// from both ends of the plan).
#[test]
fn a_large_plan_reports_every_referral_once_in_plan_order() {
    let work = Workdir::new();
    let referrals = 5_000;
    let mut text = String::from("id,op,path,value\n");
    for pass in 0..2 {
        for n in 0..referrals {
            let value = match (n % 7, pass) {
                (0, 1) => "12x".to_string(),
                _ => format!("{}", 1000 + n),
            };
            text.push_str(&format!(
                "{},replace,/details/dealValue,{value}\n",
                id(n + 1)
            ));
        }
    }
    work.write("u.csv", &text);
    let out = work.refsync(&[
        "plan",
        "u.csv",
        "--out",
        "d.jsonl",
        "--report",
        "r.csv",
        "--rejects",
        "x.csv",
    ]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("r.csv"));
    let ids: Vec<&str> = rows.iter().map(|row| row["id"].as_str()).collect();
    let want: Vec<String> = (0..referrals).map(|n| id(n + 1)).collect();
    assert_eq!(ids, want);
    for (n, row) in rows.iter().enumerate() {
        let invalid = n % 7 == 0;
        assert_eq!(row["outcome"], if invalid { "invalid" } else { "planned" });
        assert_eq!(row["error_message"].contains("12x"), invalid, "{row:?}");
        assert_eq!(
            row["source_lines"],
            format!("{};{}", n + 2, referrals + n + 2)
        );
    }
    let invalid = referrals.div_ceil(7);
    assert_eq!(work.read("d.jsonl").lines().count(), referrals - invalid);
    assert_eq!(work.read("x.csv").lines().count(), 1 + 2 * invalid);
}

#[test]
fn a_message_naming_lines_of_several_inputs_writes_them_file_colon_line() {
    let work = Workdir::new();
    let csv = format!(
        "id,op,path,value,if_match\n{a},replace,/details/notes,one,\n{a},replace,/status,Closed,e1\n",
        a = id(0)
    );
    work.write("a.csv", &csv);
    let jsonl = [
        serde_json::json!({"id": id(0), "op": "replace", "path": "/details/notes", "value": "two", "if_match": "e2"}),
        serde_json::json!({"id": id(0), "op": "replace", "path": "/substatus", "value": "Engaged"}),
    ]
    .map(|row| format!("{row}\n"))
    .concat();
    work.write("b.jsonl", &jsonl);
    let out = work.refsync(&["plan", "a.csv", "b.jsonl", "--report", "r.csv"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("r.csv"));
    let message = &rows[0]["error_message"];
    for expected in [
        "lines a.csv:2 and b.jsonl:1 set /details/notes",
        "line a.csv:3 gives if_match \"e1\" but line b.jsonl:1 gives \"e2\"",
        "/status on line a.csv:3, /substatus on line b.jsonl:2",
    ] {
        assert!(message.contains(expected), "{expected:?} not in {message}");
    }
}
