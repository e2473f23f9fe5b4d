//! Wide CRM exports through `--mapping`, end to end against the in-process emulator: the
//! shipped Dynamics 365 (Windows-1252, `;`) and Salesforce samples, lookup by
//! `externalReferenceId` (filtered and, when the filter is refused, listed page by page),
//! the rejects round trip, and errors that name the mapping's line or the CSV's cell.

mod lookup;

use crate::fixtures;
use crate::support::{self, Workdir, code, read_csv_report, row_of, stderr};
use refsync::emulator::{Faults, Seed};
use serde_json::{Value, json};
use std::path::PathBuf;

fn repo(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

pub(crate) fn sync<'a>(endpoint: &'a str, input: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "sync",
        input,
        "--endpoint",
        endpoint,
        "--rate",
        "unlimited",
        "--report",
        "report.csv",
    ];
    args.extend_from_slice(extra);
    args
}

/// A lookup mapping of `Opp` (CRM ID) and `Amount` (German number format).
pub(crate) const LOOKUP_MAPPING: &str = "id = { column = \"Opp\", lookup = \"externalReferenceId\" }\n\n[[column]]\nname = \"Amount\"\npath = \"/details/dealValue\"\nnumber = { decimal = \",\", thousands = \".\" }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamics_sample_in_windows_1252_updates_referrals_found_by_crm_id() {
    let work = Workdir::new();
    let emulator = support::emulator_with(Seed::Sample, Faults::default()).await;
    let (input, mapping) = (
        repo("samples/dynamics365-export.csv"),
        repo("config/mappings/dynamics365-opportunities.toml"),
    );
    let base = emulator.base_url();
    let extra = [
        "--mapping",
        &mapping,
        "--delimiter",
        ";",
        "--encoding",
        "windows-1252",
        "--summary-json",
        "summary.json",
    ];
    let out = work.refsync(&sync(&base, &input, &extra));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let served = support::requests_served(&emulator);
    let summary = support::summary_json(&work);
    assert_eq!(summary["requests"], json!(served), "the lookups count too");
    let state = emulator.referrals();
    let contoso = &state["fbcf71a8-76dc-4ea0-8a52-2f61cb154456"];
    assert_eq!(
        (&contoso["status"], &contoso["substatus"]),
        (&json!("Active"), &json!("Engaged"))
    );
    assert_eq!(contoso["details"]["dealValue"], json!(165000.5));
    assert_eq!(
        contoso["details"]["closingDateTime"],
        json!("2026-12-30T23:00:00Z")
    );
    assert_eq!(
        contoso["details"]["notes"],
        json!("Kunde möchte die Migration vor Q4 – Budget 165.000 €")
    );
    assert_eq!(contoso["qualification"], json!("SalesQualified"));
    let fabrikam = &state["260839b3-e992-4be5-8d4a-030805b698eb"];
    assert_eq!(
        (&fabrikam["status"], &fabrikam["substatus"]),
        (&json!("Closed"), &json!("Won"))
    );
    assert_eq!(fabrikam["details"]["dealValue"], json!(250000));
    assert_eq!(
        fabrikam["details"]["closingDateTime"],
        json!("2026-07-14T22:00:00Z")
    );
    let northwind = &state["e46c632e-eb76-4781-bffd-fd48fee26fa0"];
    assert_eq!(
        (&northwind["substatus"], &northwind["qualification"]),
        (&json!("Lost"), &json!("None"))
    );
    assert_eq!(
        northwind["details"]["dealValue"],
        json!(56000),
        "an empty cell leaves the field"
    );
    let on_hold = &state["b91bcac0-9359-4b23-ae21-de7df235b7b8"];
    assert_eq!(
        (&on_hold["status"], &on_hold["qualification"]),
        (&json!("Active"), &json!("MarketingQualified"))
    );
    assert_eq!(
        on_hold["details"]["notes"],
        json!("Café-Kette, Rückruf im März")
    );
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(
        row_of(&rows, "fbcf71a8-76dc-4ea0-8a52-2f61cb154456")["source_lines"],
        "2"
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_planned_documents_of_a_lookup_mapping_are_looked_up_when_synced() {
    let work = Workdir::new();
    let emulator = support::emulator_with(Seed::Sample, Faults::default()).await;
    let (input, mapping) = (
        repo("samples/dynamics365-export.csv"),
        repo("config/mappings/dynamics365-opportunities.toml"),
    );
    let mut plan = vec!["plan", &input, "--mapping", &mapping, "--delimiter", ";"];
    plan.extend(["--encoding", "windows-1252", "--out", "planned.jsonl"]);
    let out = work.refsync(&plan);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines: Vec<Value> = work
        .read("planned.jsonl")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert!(
        lines
            .iter()
            .all(|line| line.get("id").is_none() && line["externalReferenceId"].is_string()),
        "the documents name their CRM IDs as such: {lines:?}"
    );
    let base = emulator.base_url();
    let out = work.refsync(&sync(&base, "planned.jsonl", &[]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let state = emulator.referrals();
    let contoso = &state["fbcf71a8-76dc-4ea0-8a52-2f61cb154456"];
    assert_eq!(contoso["details"]["dealValue"], json!(165000.5));
    let fabrikam = &state["260839b3-e992-4be5-8d4a-030805b698eb"];
    assert_eq!(
        (&fabrikam["status"], &fabrikam["substatus"]),
        (&json!("Closed"), &json!("Won"))
    );
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert!(rows.iter().all(|r| r["outcome"] == "updated"), "{rows:?}");
    assert_eq!(
        row_of(&rows, "fbcf71a8-76dc-4ea0-8a52-2f61cb154456")["source_lines"],
        "1",
        "the report names the referral the PATCH went to"
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_salesforce_sample_updates_referrals_by_their_id_column() {
    let work = Workdir::new();
    let emulator = support::emulator_with(Seed::Sample, Faults::default()).await;
    let (input, mapping) = (
        repo("samples/salesforce-export.csv"),
        repo("config/mappings/salesforce-opportunities.toml"),
    );
    let base = emulator.base_url();
    let out = work.refsync(&sync(&base, &input, &["--mapping", &mapping]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let state = emulator.referrals();
    let litware = &state["4e332144-f205-4d9e-8f17-acb83e0e0a88"];
    assert_eq!(
        (&litware["status"], &litware["substatus"]),
        (&json!("Active"), &json!("Engaged"))
    );
    assert_eq!(litware["details"]["dealValue"], json!(82500.0));
    assert_eq!(
        litware["details"]["closingDateTime"],
        json!("2026-12-31T05:00:00Z")
    );
    let adatum = &state["a4cfec9b-5fdb-4263-9871-aa88a4c7e83a"];
    assert_eq!(
        (&adatum["substatus"], &adatum["details"]["dealValue"]),
        (&json!("Won"), &json!(310000.75))
    );
    assert_eq!(
        adatum["details"]["closingDateTime"],
        json!("2026-06-30T04:00:00Z")
    );
    let tailspin = &state["2daaf954-42af-4077-8e85-cde4f11e36f9"];
    assert_eq!(
        (&tailspin["status"], &tailspin["details"]["dealValue"]),
        (&json!("New"), &json!(15000))
    );
    assert_eq!(
        tailspin["details"]["notes"],
        json!("Follow up after the workshop")
    );
    let wingtip = &state["c725f842-1f92-4bb5-a2d6-c96fc8074237"];
    assert_eq!(
        (&wingtip["substatus"], &wingtip["details"]["dealValue"]),
        (&json!("Lost"), &json!(18000))
    );
    assert_eq!(
        wingtip["details"]["notes"],
        json!("Lost on price, \"budget cut\"")
    );
    emulator.shutdown().await;
}

/// `count` test referrals, the last two sharing the CRM ID `OPP-TWIN`.
pub(crate) fn seed_with_twins(work: &Workdir, count: usize) -> PathBuf {
    let mut referrals = fixtures::referrals(count);
    for referral in referrals.iter_mut().rev().take(2) {
        referral["externalReferenceId"] = json!("OPP-TWIN");
    }
    work.write("seed.jsonl", &fixtures::seed_text(&referrals))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_wide_row_is_fixed_in_the_rejects_file_and_fed_back() {
    let work = Workdir::new();
    let emulator =
        support::emulator_with(Seed::File(seed_with_twins(&work, 6)), Faults::default()).await;
    work.write("map.toml", LOOKUP_MAPPING);
    let bad_row = "OPP-2;Ünïcode note;12,5x\r\n";
    let text = format!("Opp;Note;Amount\r\nOPP-1;ok;10\r\n{bad_row}");
    std::fs::write(
        work.path().join("crm.csv"),
        encoding_rs::WINDOWS_1252.encode(&text).0,
    )
    .unwrap();
    let base = emulator.base_url();
    let flags = [
        "--mapping",
        "map.toml",
        "--delimiter",
        ";",
        "--encoding",
        "windows-1252",
        "--rejects",
        "rejects.csv",
    ];
    let out = work.refsync(&sync(&base, "crm.csv", &flags));
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rejects = work.read("rejects.csv");
    let lines: Vec<&str> = rejects.lines().collect();
    assert_eq!(lines[0], "Opp;Note;Amount;outcome;error_message");
    assert!(
        lines[1].starts_with("OPP-2;Ünïcode note;12,5x;invalid;"),
        "{rejects}"
    );
    assert!(
        lines[1].contains("line 3") && lines[1].contains("column `Amount`"),
        "{rejects}"
    );
    assert_eq!(lines.len(), 2, "only the bad row: {rejects}");
    work.write("rejects.csv", &rejects.replace("12,5x", "12,5"));
    let out = work.refsync(&sync(&base, "rejects.csv", &flags[..6]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        emulator.referrals()[&fixtures::id(2)]["details"]["dealValue"],
        json!(12.5)
    );
    emulator.shutdown().await;
}

#[test]
fn a_mapping_mistake_stops_the_run_naming_the_mapping_line() {
    let work = Workdir::new();
    let mapping = "id = \"Referral\"\n\n[[column]]\nname = \"Stage\"\n[column.values]\n\"Won\" = { \"/status\" = \"Closed\", \"/substatus\" = \"Won\" }\n\"Lost\" = { \"/status\" = \"Gone\" }\n\n[[column]]\nname = \"Total\"\npath = \"/details/total\"\n";
    work.write("map.toml", mapping);
    work.write("crm.csv", "Referral,Stage,Total\n");
    let out = work.refsync(&[
        "plan",
        "crm.csv",
        "--mapping",
        "map.toml",
        "--out",
        "planned.jsonl",
    ]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(
        err.contains("map.toml: line 7: value map entry \"Lost\""),
        "{err}"
    );
    assert!(
        err.contains("line 11: \"/details/total\" is not a field of a referral"),
        "{err}"
    );
}

#[test]
fn a_failing_cell_is_invalid_naming_the_csv_line_and_column() {
    let work = Workdir::new();
    work.write(
        "map.toml",
        &LOOKUP_MAPPING.replace("lookup = \"externalReferenceId\"", ""),
    );
    work.write("crm.csv", "Opp;Amount\nA-1;1.000\nA-2;1,000.50\n");
    let out = work.refsync(&[
        "plan",
        "crm.csv",
        "--mapping",
        "map.toml",
        "--delimiter",
        ";",
        "--report",
        "report.csv",
        "--out",
        "planned.jsonl",
    ]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    let bad = row_of(&rows, "A-2");
    assert_eq!(bad["error_code"], "invalid_value");
    assert!(
        bad["error_message"].starts_with("crm.csv line 3: column `Amount`"),
        "{}",
        bad["error_message"]
    );
    assert!(
        bad["error_message"].contains("written like 10.000,50 (map.toml line 6)"),
        "{}",
        bad["error_message"]
    );
    let planned: Value = serde_json::from_str(work.read("planned.jsonl").trim()).unwrap();
    assert_eq!(planned["patch"][0]["value"], json!(1000));
}

/// Runs `plan crm.csv --mapping map.toml --report report.csv --out planned.jsonl`.
fn plan_mapped(work: &Workdir, mapping: &str, csv: &str) -> std::process::Output {
    work.write("map.toml", mapping);
    work.write("crm.csv", csv);
    work.refsync(&[
        "plan",
        "crm.csv",
        "--mapping",
        "map.toml",
        "--report",
        "report.csv",
        "--out",
        "planned.jsonl",
    ])
}

#[test]
fn a_date_format_chrono_cannot_read_is_a_mapping_error_not_a_panic() {
    let work = Workdir::new();
    let mapping = "id = \"Partner Center Referral ID\"\n[[column]]\nname = \"Close Date\"\npath = \"/details/closingDateTime\"\ndate = { format = \"%Q/%d\", time_zone = \"UTC\" }\n";
    let out = plan_mapped(
        &work,
        mapping,
        "Partner Center Referral ID,Close Date\nr-1,12/31\n",
    );
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("map.toml: line 5: format = \"%Q/%d\" is not a chrono strftime pattern"),
        "{err}"
    );
}

#[test]
fn every_mistake_of_a_mapping_file_is_listed_each_with_its_line() {
    let work = Workdir::new();
    let mapping = "id = \"Referral\"\nfoo = 1\nnumbr = { decimal = \",\" }\n\n[[column]]\nname = \"Total\"\npath = \"/details/dealValue\"\nop = \"remove\"\nempty = \"maybe\"\nunmapped = \"drop\"\nnumber = { decimal = \",\", thousands = \"x\" }\n";
    let out = plan_mapped(&work, mapping, "Referral,Total\n");
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "{err}");
    for expected in [
        "line 2: unknown key `foo`",
        "line 3: unknown key `numbr`",
        "line 8: op: unknown variant `remove`",
        "line 9: empty: unknown variant `maybe`",
        "line 10: unmapped: unknown variant `drop`",
        "line 11: thousands = \"x\" is not a separator",
    ] {
        assert!(err.contains(expected), "{expected}: {err}");
    }
}

#[test]
fn a_failing_cell_cites_the_line_of_the_rule_that_was_applied() {
    let work = Workdir::new();
    let mapping = "id = \"Referral\"\n\n[defaults]\nnumber = { decimal = \",\", thousands = \".\" }\n\n[[column]]\nname = \"Amount\"\npath = \"/details/dealValue\"\n\n[[column]]\nname = \"Close Date\"\npath = \"/details/closingDateTime\"\nempty = \"error\"\n";
    let out = plan_mapped(
        &work,
        mapping,
        "Referral,Amount,Close Date\nr-1,\"1,000.50\",\n",
    );
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    let message = &row_of(&rows, "r-1")["error_message"];
    assert!(
        message.contains(
            "column `Amount`: `1,000.50` is not a number written like 10.000,50 (map.toml line 4)"
        ),
        "{message}"
    );
    assert!(
        message.contains("column `Close Date`: is empty, and the mapping says empty = \"error\" (map.toml line 13)"),
        "{message}"
    );
}

#[test]
fn a_repeated_autumn_hour_takes_summer_time_and_a_skipped_spring_hour_is_invalid() {
    let work = Workdir::new();
    let mapping = "id = \"Referral\"\n[[column]]\nname = \"Close\"\npath = \"/details/closingDateTime\"\ndate = { format = \"%d.%m.%Y %H:%M\", time_zone = \"Europe/Berlin\" }\n";
    let out = plan_mapped(
        &work,
        mapping,
        "Referral,Close\nautumn,25.10.2026 02:30\nspring,29.03.2026 02:30\n",
    );
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let planned: Value = serde_json::from_str(work.read("planned.jsonl").trim()).unwrap();
    assert_eq!(planned["id"], json!("autumn"));
    assert_eq!(
        planned["patch"][0]["value"],
        json!("2026-10-25T00:30:00Z"),
        "02:30 CEST, the earlier of the two"
    );
    let rows = read_csv_report(&work.path().join("report.csv"));
    let message = &row_of(&rows, "spring")["error_message"];
    assert!(
        message.contains("\"29.03.2026 02:30\" is not a time in Europe/Berlin")
            && message.contains("daylight saving")
            && message.contains("(map.toml line 5)"),
        "{message}"
    );
}

#[test]
fn a_semicolon_file_read_with_commas_suggests_the_delimiter() {
    let work = Workdir::new();
    work.write("u.csv", "id;op;path;value\na;replace;/name;x\n");
    let out = work.refsync(&[
        "plan",
        "u.csv",
        "--report",
        "report.csv",
        "--out",
        "planned.jsonl",
    ]);
    assert_eq!(code(&out), 4);
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert!(
        rows[0]["error_message"].contains("try --delimiter ';'"),
        "{}",
        rows[0]["error_message"]
    );
}

#[test]
fn a_utf16_file_without_a_byte_order_mark_suggests_the_encoding() {
    let work = Workdir::new();
    let text = "id,op,path,value\na,replace,/name,x\n";
    let utf16: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    std::fs::write(work.path().join("u.csv"), utf16).expect("write");
    let out = work.refsync(&["plan", "u.csv", "--report", "report.csv"]);
    assert_eq!(code(&out), 4);
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert!(
        rows[0]["error_message"].contains("try --encoding utf-16le"),
        "{}",
        rows[0]["error_message"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_that_maps_to_nothing_is_unchanged_and_sends_nothing() {
    let work = Workdir::new();
    let mapping = "id = { column = \"Ref\" }\n\n[[column]]\nname = \"Stage\"\n[column.values]\n\
                   \"Prospecting\" = {}\n\"Won\" = { \"/status\" = \"Closed\", \"/substatus\" = \"Won\" }\n\n\
                   [[column]]\nname = \"Notes\"\npath = \"/details/notes\"\n";
    let csv = format!(
        "Ref,Stage,Notes\n{},Prospecting,\n{},,\n",
        fixtures::id(1),
        fixtures::id(2)
    );
    let out = plan_mapped(&work, mapping, &csv);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    let planned: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["outcome"].as_str(), r["ops"].as_str()))
        .collect();
    assert_eq!(planned, [("planned", "0"), ("planned", "0")]);
    let emulator = support::seeded(&work, 3, Faults::default()).await;
    let base = emulator.base_url();
    let out = work.refsync(&sync(&base, "crm.csv", &["--mapping", "map.toml"]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert!(rows.iter().all(|r| r["outcome"] == "unchanged"), "{rows:?}");
    assert_eq!(support::requests_served(&emulator), 0);
    // The planned documents, fed back, say the same.
    let out = work.refsync(&sync(&base, "planned.jsonl", &[]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(support::requests_served(&emulator), 0);
    emulator.shutdown().await;
}

#[test]
fn an_error_of_a_mapped_operation_names_its_column() {
    let work = Workdir::new();
    let mapping = "id = { column = \"Ref\" }\n\n[[column]]\nname = \"Deal Notes\"\npath = \"/details/notes\"\n";
    let id = fixtures::id(1);
    let out = plan_mapped(
        &work,
        mapping,
        &format!("Ref,Deal Notes\n{id},one\n{id},two\n"),
    );
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(rows[0]["error_code"], "duplicate_path");
    let message = &rows[0]["error_message"];
    assert!(
        message.starts_with("crm.csv line 3, field Deal Notes:"),
        "{message}"
    );
}

#[test]
fn an_unusable_or_empty_mapped_id_names_the_id_column() {
    let work = Workdir::new();
    let mapping = "id = \"Ref\"\n\n[[column]]\nname = \"Deal Notes\"\npath = \"/details/notes\"\n";
    let out = plan_mapped(&work, mapping, "Ref,Deal Notes\nbad id!,one\n,two\n");
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    // An empty ID is invalid_id, as an empty `id` cell of the row form is.
    assert_eq!(rows[0]["error_code"], "invalid_id");
    assert_eq!(rows[1]["error_code"], "invalid_id");
    for (row, line) in rows.iter().zip([2, 3]) {
        let message = &row["error_message"];
        let site = format!("crm.csv line {line}, field Ref:");
        assert!(message.starts_with(&site), "{message}");
    }
}

#[test]
fn a_mapped_column_the_header_names_twice_makes_every_row_malformed() {
    let work = Workdir::new();
    let mapping = "id = \"Ref\"\n\n[[column]]\nname = \"Amount\"\npath = \"/details/dealValue\"\n";
    let out = plan_mapped(&work, mapping, "Ref,Amount,amount\nr1,1,2\n");
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(
        (&*rows[0]["id"], &*rows[0]["error_code"]),
        ("r1", "malformed_record")
    );
    let message = &rows[0]["error_message"];
    assert!(
        message.contains("`Amount` twice (columns 2 and 3)"),
        "{message}"
    );
    let out = plan_mapped(&work, mapping, "Ref,REF,Amount\nr1,r2,2\n");
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(
        (&*rows[0]["id"], &*rows[0]["error_code"]),
        ("", "malformed_record")
    );
}

#[test]
fn a_jsonl_input_beside_a_mapping_is_said_to_be_read_as_it_is() {
    let work = Workdir::new();
    work.write(
        "map.toml",
        "id = \"Ref\"\n\n[[column]]\nname = \"Notes\"\npath = \"/details/notes\"\n",
    );
    let line = format!(
        "{{\"id\":\"{}\",\"op\":\"replace\",\"path\":\"/name\",\"value\":\"x\"}}\n",
        fixtures::id(1)
    );
    work.write("rows.jsonl", &line);
    let out = work.refsync(&[
        "plan",
        "rows.jsonl",
        "--mapping",
        "map.toml",
        "--report",
        "r.csv",
        "--out",
        "o.jsonl",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--mapping reads CSV inputs only"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lookups_and_the_documents_share_one_token() {
    let work = Workdir::new();
    let emulator =
        support::emulator_with(Seed::File(seed_with_twins(&work, 4)), Faults::default()).await;
    work.write("map.toml", LOOKUP_MAPPING);
    work.write("crm.csv", "Opp,Amount\nOPP-0,10\nOPP-1,20\n");
    work.write(
        "token.sh",
        "n=$(cat runs 2>/dev/null || echo 0); echo $((n+1)) > runs; echo secret-$n\n",
    );
    let base = emulator.base_url();
    let flags = ["--mapping", "map.toml", "--token-command", "sh token.sh"];
    let out = work.refsync(&sync(&base, "crm.csv", &flags));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(work.read("runs").trim(), "1", "the token command ran once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crm_id_that_is_a_referral_another_document_updates_is_not_sent_twice() {
    let work = Workdir::new();
    let emulator =
        support::emulator_with(Seed::File(seed_with_twins(&work, 4)), Faults::default()).await;
    work.write("map.toml", LOOKUP_MAPPING);
    let by_id =
        json!({"id": fixtures::id(0), "op": "replace", "path": "/details/notes", "value": "n"});
    work.write("u.jsonl", &format!("{by_id}\n"));
    work.write("crm.csv", "Opp,Amount\nOPP-0,10\nOPP-1,20\n");
    let base = emulator.base_url();
    let mut args = sync(&base, "u.jsonl", &["crm.csv", "--mapping", "map.toml"]);
    args.extend(["--rejects", "rejects.csv"]);
    let out = work.refsync(&args);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    let first = row_of(&rows, &fixtures::id(0));
    assert_eq!(first["outcome"], "updated", "{rows:?}");
    let twice: Vec<_> = rows.iter().filter(|r| r["id"] == fixtures::id(0)).collect();
    assert_eq!(twice.len(), 2, "{rows:?}");
    assert_eq!(twice[1]["error_code"], "duplicate_referral", "{rows:?}");
    assert!(
        twice[1]["error_message"].contains("u.jsonl line 1"),
        "{rows:?}"
    );
    assert_eq!(row_of(&rows, &fixtures::id(1))["outcome"], "updated");
    assert_eq!(emulator.stats()["applied"][fixtures::id(0)], 1);
    assert!(work.read("rejects.csv").contains("OPP-0,10"));
}
