//! `--undo FILE`: applying a file and then its undo file leaves the referrals as they were.

use crate::fixtures::{self, id, without_write_stamps};
use crate::support::{self, Workdir, code, read_csv_report, stderr};
use refsync::emulator::{Faults, Seed};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_the_undo_file_restores_the_seed_state() {
    let work = Workdir::new();
    let seed = work.write("seed.jsonl", &fixtures::seed_text(&fixtures::referrals(4)));
    let emulator = support::emulator_with(Seed::File(seed), Faults::default()).await;
    let before = emulator.referrals();
    let csv = format!(
        "id,op,path,value\n\
         {a},replace,/details/dealValue,2500\n\
         {a},replace,/name,Renamed\n\
         {b},add,/team/-,\"{{\"\"email\"\":\"\"new@x.com\"\"}}\"\n\
         {b},replace,/team/0/firstName,Boss\n\
         {c},replace,/details/notes,changed\n",
        a = id(0),
        b = id(1),
        c = id(2),
    );
    work.write("u.csv", &csv);
    let base = emulator.base_url();
    let apply = [
        "sync",
        "u.csv",
        "--endpoint",
        &base,
        "--rate",
        "unlimited",
        "--undo",
        "undo.jsonl",
        "--report",
        "r1.csv",
    ];
    let out = work.refsync(&apply);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_ne!(emulator.referrals(), before);
    let undo = work.read("undo.jsonl");
    assert_eq!(undo.lines().count(), 3, "{undo}");
    let first: Value = serde_json::from_str(undo.lines().next().expect("line")).expect("json");
    let r1 = read_csv_report(&work.path().join("r1.csv"));
    let etag_after = &r1.iter().find(|r| r["id"] == first["id"]).expect("row")["etag_after"];
    assert_eq!(first["if_match"].as_str(), Some(etag_after.as_str()));

    let revert = [
        "sync",
        "undo.jsonl",
        "--endpoint",
        &base,
        "--rate",
        "unlimited",
        "--report",
        "r2.csv",
    ];
    let out = work.refsync(&revert);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let after = emulator.referrals();
    for (key, referral) in &before {
        assert_eq!(
            without_write_stamps(&after[key]),
            without_write_stamps(referral),
            "{key}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_created_at_the_top_is_left_out_of_the_undo_with_a_warning() {
    let work = Workdir::new();
    let seed = work.write("seed.jsonl", &fixtures::seed_text(&fixtures::referrals(1)));
    let emulator = support::emulator_with(Seed::File(seed), Faults::default()).await;
    let before = emulator.referrals();
    assert!(before[&id(0)].get("statusReason").is_none());
    let csv = format!(
        "id,op,path,value\n{a},add,/statusReason,Signed\n{a},replace,/name,Renamed\n",
        a = id(0)
    );
    work.write("u.csv", &csv);
    let base = emulator.base_url();
    let sync = |input: &str, report: &str| {
        let mut args = vec!["sync", input, "--endpoint", &base, "--report", report];
        if input == "u.csv" {
            args.extend(["--undo", "undo.jsonl"]);
        }
        work.refsync(&args)
    };
    let out = sync("u.csv", "r1.csv");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("/statusReason"), "{}", stderr(&out));
    let undo: Value = serde_json::from_str(work.read("undo.jsonl").trim()).expect("json");
    assert_eq!(
        undo["patch"],
        serde_json::json!([{"op": "replace", "path": "/name", "value": before[&id(0)]["name"]}])
    );

    let out = sync("undo.jsonl", "r2.csv");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let after = &emulator.referrals()[&id(0)];
    assert_eq!(after["name"], before[&id(0)]["name"]);
    assert_eq!(after["statusReason"], "Signed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_undo_a_patch_changes_only_the_version_it_read() {
    let work = Workdir::new();
    let seed = work.write("seed.jsonl", &fixtures::seed_text(&fixtures::referrals(1)));
    // Another writer changes the referral between refsync's read and its PATCH.
    let faults = Faults {
        conflict_rate: 1.0,
        ..Faults::default()
    };
    let emulator = support::emulator_with(Seed::File(seed), faults).await;
    work.write(
        "u.csv",
        &format!("id,op,path,value\n{},replace,/details/notes,mine\n", id(0)),
    );
    let base = emulator.base_url();
    let out = work.refsync(&[
        "sync",
        "u.csv",
        "--endpoint",
        &base,
        "--undo",
        "undo.jsonl",
        "--report",
        "r.csv",
    ]);
    // Without If-Match it would overwrite that change and the undo line would revert it.
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("r.csv"));
    assert_eq!(rows[0]["outcome"], "conflict", "{rows:?}");
    assert!(rows[0]["if_match_sent"].starts_with('"'), "{rows:?}");
    assert_eq!(
        work.read("undo.jsonl"),
        "",
        "nothing applied, nothing to undo"
    );
    assert_eq!(
        emulator.stats()["applied"][id(0)],
        Value::Null,
        "never applied"
    );
}
