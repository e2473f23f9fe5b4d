//! Lookup by `externalReferenceId` against the emulator: unknown and ambiguous CRM IDs end
//! to end, and the fallback to listing every page when the API refuses `$filter`.

use super::{LOOKUP_MAPPING, seed_with_twins, sync};
use crate::fixtures;
use crate::support::{self, Workdir, code, read_csv_report, row_of, stderr};
use refsync::emulator::{Faults, Seed};
use refsync::send::lookup::{self, LookupMode, Resolution};
use refsync::send::pacer::NoLimit;
use refsync::send::transport::{BoxFuture, Request, Response, TransportError};
use refsync::send::{HttpTransport, Secret, TokenProvider, TokenSource, Transport};
use serde_json::json;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_ids_found_on_no_referral_or_on_two_are_failed_with_their_codes() {
    let work = Workdir::new();
    let emulator =
        support::emulator_with(Seed::File(seed_with_twins(&work, 6)), Faults::default()).await;
    work.write("map.toml", LOOKUP_MAPPING);
    work.write(
        "crm.csv",
        "Opp;Amount\nOPP-1;1.234,5\nOPP-404;7\nOPP-TWIN;9\n",
    );
    let base = emulator.base_url();
    let out = work.refsync(&sync(
        &base,
        "crm.csv",
        &["--mapping", "map.toml", "--delimiter", ";"],
    ));
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(row_of(&rows, &fixtures::id(1))["outcome"], "updated");
    assert_eq!(row_of(&rows, "OPP-404")["error_code"], lookup::NOT_FOUND);
    let twin = row_of(&rows, "OPP-TWIN");
    assert_eq!(
        (twin["outcome"].as_str(), twin["error_code"].as_str()),
        ("failed", lookup::AMBIGUOUS)
    );
    assert!(
        twin["error_message"].contains(&fixtures::id(5)),
        "{}",
        twin["error_message"]
    );
    assert_eq!(
        emulator.referrals()[&fixtures::id(1)]["details"]["dealValue"],
        json!(1234.5)
    );
    assert_eq!(emulator.stats()["requests"]["PATCH 204"], json!(1));
    emulator.shutdown().await;
}

/// Runs `sync` against `base` of `rows` CRM IDs that no referral has, read through the
/// lookup mapping, at `rate` and with `extra` flags.
fn sync_unknown_crm_ids(
    work: &Workdir,
    base: &str,
    rows: usize,
    rate: &'static str,
    extra: &[&str],
) -> std::process::Output {
    let mut text = String::from("Opp;Amount\n");
    for row in 0..rows {
        text.push_str(&format!("OPP-{row};1\n"));
    }
    work.write("crm.csv", &text);
    work.write("map.toml", LOOKUP_MAPPING);
    let mapped = ["--mapping", "map.toml", "--delimiter", ";"];
    let mut args = sync(base, "crm.csv", &mapped);
    let at = args.iter().position(|&a| a == "unlimited").expect("--rate");
    args[at] = rate;
    args.extend_from_slice(extra);
    work.refsync(&args)
}

/// Every row of the report `not_sent`, one per CRM ID.
fn assert_all_not_sent(work: &Workdir, rows: usize) {
    let report = read_csv_report(&work.path().join("report.csv"));
    assert_eq!(report.len(), rows);
    assert!(
        report.iter().all(|r| r["error_code"] == "not_sent"),
        "{report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_ends_the_lookups_and_every_document_is_reported_not_sent() {
    let work = Workdir::new();
    let emulator = support::seeded(&work, 3, Faults::default()).await;
    // 40 lookups at 4/s take ten seconds; the deadline comes after the first few.
    let out = sync_unknown_crm_ids(
        &work,
        &emulator.base_url(),
        40,
        "4/s",
        &["--deadline", "300ms"],
    );
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--deadline passed"),
        "{}",
        stderr(&out)
    );
    assert!(support::requests_served(&emulator) < 10);
    assert_all_not_sent(&work, 40);
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_refused_with_401_twice_stops_the_run_with_every_document_reported() {
    let work = Workdir::new();
    let emulator = refsync::emulator::Emulator::start(refsync::emulator::EmulatorOptions {
        token: Some("right".into()),
        ..Default::default()
    })
    .await
    .expect("start emulator");
    let base = emulator.base_url();
    let out = sync_unknown_crm_ids(&work, &base, 3, "unlimited", &["--ledger", "l.db"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_all_not_sent(&work, 3);
    let runs = work.refsync(&["runs", "--ledger", "l.db"]);
    assert!(String::from_utf8_lossy(&runs.stdout).contains("stopped"));
    emulator.shutdown().await;
}

/// The real transport, except that `$filter` is refused as an API without it would.
struct NoFilter(HttpTransport);

impl Transport for NoFilter {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        if request.url.as_str().contains("$filter=") {
            let body = br#"{"code":"InvalidFilter","message":"not supported"}"#.to_vec();
            return Box::pin(std::future::ready(Ok(Response {
                status: 400,
                body,
                ..Response::default()
            })));
        }
        self.0.send(request)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_filter_support_every_page_is_listed_and_indexed() {
    let work = Workdir::new();
    let emulator =
        support::emulator_with(Seed::File(seed_with_twins(&work, 250)), Faults::default()).await;
    let mut options = refsync_options();
    options.endpoint = emulator.base_url();
    let transport = Arc::new(NoFilter(HttpTransport::new(&options).unwrap()));
    let tokens = Arc::new(TokenProvider::new(TokenSource::Fixed(Secret::new("t"))));
    let keys = ["OPP-3", "OPP-247", "OPP-TWIN", "OPP-999"].map(String::from);
    let lookups =
        lookup::resolve_external_ids(keys, &options, transport, tokens, Arc::new(NoLimit))
            .await
            .unwrap();
    assert_eq!(lookups.mode, LookupMode::Listing);
    assert_eq!(
        lookups.resolutions["OPP-3"],
        Resolution::Found(fixtures::id(3))
    );
    assert_eq!(
        lookups.resolutions["OPP-247"],
        Resolution::Found(fixtures::id(247))
    );
    assert_eq!(
        lookups.resolutions["OPP-TWIN"],
        Resolution::Ambiguous(vec![fixtures::id(248), fixtures::id(249)])
    );
    assert_eq!(lookups.resolutions["OPP-999"], Resolution::NotFound);
    let stats = emulator.stats();
    assert_eq!(
        stats["requests"]["GET 200"],
        json!(3),
        "250 referrals in pages of 100: {stats}"
    );
    emulator.shutdown().await;
}

fn refsync_options() -> refsync::send::SendOptions {
    refsync::send::SendOptions {
        endpoint: String::new(),
        rate: refsync::send::RateLimit::Unlimited,
        burst: 1,
        concurrency: 4,
        max_attempts: 3,
        timeout: std::time::Duration::from_secs(10),
        if_match: Default::default(),
        on_conflict: Default::default(),
        return_representation: false,
        correlation_id: uuid::Uuid::nil(),
        ca_cert: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_and_the_documents_after_them_pass_one_rate_limiter() {
    let work = Workdir::new();
    let emulator =
        support::emulator_with(Seed::File(seed_with_twins(&work, 6)), Faults::default()).await;
    work.write("map.toml", LOOKUP_MAPPING);
    work.write("crm.csv", "Opp;Amount\nOPP-1;1\nOPP-2;2\nOPP-3;3\n");
    let base = emulator.base_url();
    let started = std::time::Instant::now();
    let out = work.refsync(&[
        "sync",
        "crm.csv",
        "--endpoint",
        &base,
        "--mapping",
        "map.toml",
        "--delimiter",
        ";",
        "--rate",
        "2/s",
        "--report",
        "report.csv",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        support::requests_served(&emulator),
        6,
        "3 lookups, 3 PATCHes"
    );
    // One limiter at 2/s spaces six requests over at least 2.5 s; a fresh one for the
    // PATCHes let the first go right after the last lookup, and the run took 2 s.
    let took = started.elapsed();
    assert!(took.as_secs_f64() >= 2.45, "{took:?}: the limit was broken");
}
