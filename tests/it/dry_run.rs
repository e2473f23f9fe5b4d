//! `sync --dry-run`: GET only, the outcomes the real run then gives, and the `changes`
//! column.

use crate::fixtures::{self, id};
use crate::support::{self, Workdir, code, read_csv_report, row_of, stderr};
use refsync::emulator::{Faults, Seed};
use serde_json::{Value, json};

/// One document per outcome: a rename, a member already in the team, a stale ETag, a
/// move back from Closed, an unknown ID, an invalid row, and a name set to the one it has
/// (`unchanged` in the dry run; the real run does not read that referral first, so it
/// sends it and the API accepts it: `updated`).
fn updates() -> String {
    format!(
        "id,op,path,value,if_match\n\
         {a},replace,/name,Renamed,\n\
         {b},add,/team/-,\"{{\"\"email\"\":\"\"OWNER@contoso.com\"\"}}\",\n\
         {c},replace,/details/notes,late,\"\"\"stale\"\"\"\n\
         {d},replace,/status,Active,\n\
         {d},replace,/substatus,Engaged,\n\
         7e57ffff-0000-4000-8000-000000000000,replace,/name,Ghost,\n\
         {a2},replace,/details/dealValue,\"10,5\",\n\
         {e},replace,/name,Deal 5,\n",
        a = id(0),
        b = id(1),
        c = id(2),
        d = id(3),
        a2 = id(4),
        e = id(5),
    )
}

/// Each document's outcome (a dry run's `planned` read as `updated`), error code, and
/// status where the document was refused; the one that changes nothing is left out.
fn outcomes(rows: &[std::collections::HashMap<String, String>]) -> Vec<[String; 4]> {
    let mut rows: Vec<[String; 4]> = rows
        .iter()
        .filter(|r| r["id"] != id(5))
        .map(|r| {
            let outcome = r["outcome"].replace("planned", "updated");
            let status = match outcome.as_str() {
                "updated" | "unchanged" => String::new(),
                _ => r["http_status"].clone(),
            };
            [r["id"].clone(), outcome, r["error_code"].clone(), status]
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_predicts_the_real_runs_outcomes_and_sends_no_patch() {
    let work = Workdir::new();
    // Five referrals: the last (4) is Closed/Won, so move the Closed one to index 3.
    let mut referrals = fixtures::referrals(6);
    referrals[3]["status"] = json!("Closed");
    referrals[3]["substatus"] = json!("Won");
    let seed = work.write("seed.jsonl", &fixtures::seed_text(&referrals));
    let emulator = support::emulator_with(Seed::File(seed), Faults::default()).await;
    work.write("u.csv", &updates());
    let base = emulator.base_url();
    let common = ["sync", "u.csv", "--endpoint", &base, "--rate", "unlimited"];
    let dry: Vec<&str> = common
        .iter()
        .copied()
        .chain(["--dry-run", "--report", "dry.csv"])
        .collect();
    let out = work.refsync(&dry);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("refsync dry-run"), "{}", stderr(&out));
    let stats = emulator.stats();
    let patches = stats["requests"]
        .as_object()
        .expect("map")
        .keys()
        .filter(|k| k.starts_with("PATCH"))
        .count();
    assert_eq!(patches, 0, "{stats}");
    let dry_rows = read_csv_report(&work.path().join("dry.csv"));
    // Every row's `changes` is a JSON array, `[]` where nothing would change (the
    // refused documents, the invalid one and the unchanged one among them).
    for row in &dry_rows {
        let changes: Value = serde_json::from_str(&row["changes"]).expect("changes json");
        assert!(changes.is_array(), "{row:?}");
    }
    let unchanged = row_of(&dry_rows, &id(1));
    assert_eq!(unchanged["changes"], "[]");
    let as_jsonl: Vec<&str> = common
        .iter()
        .copied()
        .chain(["--dry-run", "--report", "dry.jsonl"])
        .collect();
    assert_eq!(code(&work.refsync(&as_jsonl)), 4);
    let jsonl = std::fs::read_to_string(work.path().join("dry.jsonl")).expect("report");
    let jsonl_rows: Vec<Value> = jsonl
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(jsonl_rows.len(), dry_rows.len());
    for row in &jsonl_rows {
        assert!(row["changes"].is_array(), "{row}");
    }
    let renamed = row_of(&dry_rows, &id(0));
    assert_eq!(renamed["outcome"], "planned");
    let changes: Value = serde_json::from_str(&renamed["changes"]).expect("changes json");
    assert_eq!(
        changes,
        json!([{"path": "/name", "from": "Deal 0", "to": "Renamed"}])
    );
    assert_eq!(row_of(&dry_rows, &id(1))["outcome"], "unchanged");
    assert_eq!(row_of(&dry_rows, &id(2))["outcome"], "conflict");
    assert_eq!(
        row_of(&dry_rows, &id(2))["error_code"],
        "PreconditionFailed"
    );
    assert_eq!(row_of(&dry_rows, &id(2))["http_status"], "412");
    let refused = row_of(&dry_rows, &id(3));
    assert_eq!(refused["error_code"], "InvalidTransition");
    assert_eq!(refused["http_status"], "400");
    assert!(
        !refused["error_message"].contains("meanwhile"),
        "{}",
        refused["error_message"]
    );
    // A real run sends a replace without reading first, so the dry run says it would be
    // sent (and `updated`), with nothing to change.
    let same = row_of(&dry_rows, &id(5));
    assert_eq!(
        (same["outcome"].as_str(), same["changes"].as_str()),
        ("planned", "[]")
    );

    let real: Vec<&str> = common
        .iter()
        .copied()
        .chain(["--report", "real.csv"])
        .collect();
    let out = work.refsync(&real);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let real_rows = read_csv_report(&work.path().join("real.csv"));
    assert_eq!(outcomes(&dry_rows), outcomes(&real_rows));
    assert_eq!(row_of(&real_rows, &id(5))["outcome"], "updated");
    assert_eq!(emulator.referrals()[&id(0)]["name"], json!("Renamed"));

    // With --undo the real run reads each referral first and finds that one unchanged:
    // a dry run given --undo says so too, and writes no undo file.
    let with_undo = |report: &'static str, dry_run: bool| -> Vec<&str> {
        let extra: &[&str] = if dry_run { &["--dry-run"] } else { &[] };
        [
            &common[..],
            &["--undo", "undo.jsonl", "--report", report],
            extra,
        ]
        .concat()
    };
    let out = work.refsync(&with_undo("dry-undo.csv", true));
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(!work.path().join("undo.jsonl").exists());
    let out = work.refsync(&with_undo("real-undo.csv", false));
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let dry_rows = read_csv_report(&work.path().join("dry-undo.csv"));
    let real_rows = read_csv_report(&work.path().join("real-undo.csv"));
    assert_eq!(row_of(&dry_rows, &id(5))["outcome"], "unchanged");
    assert_eq!(outcomes(&dry_rows), outcomes(&real_rows));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_refetch_a_dry_run_predicts_what_the_re_read_after_a_stale_etag_finds() {
    let work = Workdir::new();
    let mut referrals = fixtures::referrals(3);
    referrals[2]["status"] = json!("Closed");
    referrals[2]["substatus"] = json!("Won");
    let seed = work.write("seed.jsonl", &fixtures::seed_text(&referrals));
    let emulator = support::emulator_with(Seed::File(seed), Faults::default()).await;
    // Every row's ETag is stale: the real run's PATCH gets 412, and it reads again.
    let csv = format!(
        "id,op,path,value,if_match\n\
         {a},replace,/name,Deal 0,stale\n\
         {b},replace,/details/notes,late,stale\n\
         {c},replace,/status,Active,stale\n\
         {c},replace,/substatus,Engaged,stale\n",
        a = id(0),
        b = id(1),
        c = id(2),
    );
    work.write("u.csv", &csv);
    let base = emulator.base_url();
    let run = |extra: &[&str]| {
        let common = [
            "sync",
            "u.csv",
            "--endpoint",
            &base,
            "--on-conflict",
            "refetch",
        ];
        work.refsync(&[&common[..], extra].concat())
    };
    let out = run(&["--dry-run", "--report", "dry.csv"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let out = run(&["--report", "real.csv"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let seen = |report: &str| {
        let mut rows: Vec<[String; 5]> = read_csv_report(&work.path().join(report))
            .iter()
            .map(|r| {
                let outcome = r["outcome"].replace("planned", "updated");
                let status = match outcome.as_str() {
                    "updated" => String::new(),
                    _ => r["http_status"].clone(),
                };
                let (code, note) = (r["error_code"].clone(), r["note"].clone());
                [r["id"].clone(), outcome, code, status, note]
            })
            .collect();
        rows.sort();
        rows
    };
    let real = seen("real.csv");
    assert_eq!(seen("dry.csv"), real);
    let outcomes: Vec<&str> = real.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(outcomes, ["unchanged", "updated", "failed"], "{real:?}");
}
