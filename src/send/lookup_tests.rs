//! Tests of the CRM ID lookup against a fake list endpoint: filtering, the fallback to
//! listing with paging, the codes for unknown and ambiguous IDs, and retries.

use super::*;
use crate::send::pacer::NoLimit;
use crate::send::tests::options;
use crate::send::transport::{BoxFuture, Request, Response, TransportError};
use crate::send::{Secret, TokenSource};
use serde_json::json;
use std::sync::Mutex;

/// How the fake list endpoint treats `$filter`.
#[derive(Clone, Copy, PartialEq)]
enum Filter {
    Served,
    Refused,
    Ignored,
}

/// A list endpoint over `(id, externalReferenceId)` pairs, two per page.
struct FakeList {
    referrals: Vec<(String, String)>,
    filter: Filter,
    fail_first: Mutex<u32>,
    urls: Mutex<Vec<String>>,
}

impl FakeList {
    fn new(pairs: &[(&str, &str)], filter: Filter) -> Arc<FakeList> {
        Arc::new(FakeList {
            referrals: pairs
                .iter()
                .map(|(i, e)| (i.to_string(), e.to_string()))
                .collect(),
            filter,
            fail_first: Mutex::new(0),
            urls: Mutex::default(),
        })
    }

    fn answer(&self, url: &str) -> (u16, Value) {
        if std::mem::take(&mut *self.fail_first.lock().unwrap()) > 0 {
            return (503, Value::Null);
        }
        let filtered = url.contains("$filter=");
        if filtered && self.filter == Filter::Refused {
            return (400, json!({"code": "InvalidFilter", "message": "no"}));
        }
        if filtered && self.filter == Filter::Served {
            let filter = url.split("$filter=").nth(1).unwrap_or_default();
            let filter = percent_encoding::percent_decode_str(filter).decode_utf8_lossy();
            let quoted = filter
                .split_once('\'')
                .map(|(_, rest)| rest)
                .unwrap_or_default();
            let wanted = quoted
                .strip_suffix('\'')
                .unwrap_or(quoted)
                .replace("''", "'");
            let found: Vec<Value> = self
                .referrals
                .iter()
                .filter(|(_, e)| *e == wanted)
                .map(|(i, e)| json!({"id": i, "externalReferenceId": e}))
                .collect();
            return (200, json!({ "value": found }));
        }
        let skip: usize = url
            .split("$skip=")
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let page: Vec<Value> = self
            .referrals
            .iter()
            .skip(skip)
            .take(2)
            .map(|(i, e)| json!({"id": i, "externalReferenceId": e}))
            .collect();
        let mut body = json!({ "value": page });
        if skip + 2 < self.referrals.len() {
            body["@odata.nextLink"] = json!(format!(
                "http://127.0.0.1:9/v1.0/engagements/referrals?$skip={}",
                skip + 2
            ));
        }
        (200, body)
    }
}

impl Transport for FakeList {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        self.urls.lock().unwrap().push(request.url.to_string());
        let (status, body) = self.answer(request.url.as_str());
        let body = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        Box::pin(std::future::ready(Ok(Response {
            status,
            body,
            ..Response::default()
        })))
    }
}

async fn resolve(fake: &Arc<FakeList>, keys: &[&str]) -> Result<Lookups, SendError> {
    let tokens = Arc::new(TokenProvider::new(TokenSource::Fixed(Secret::new("t"))));
    let keys = keys.iter().map(|k| k.to_string());
    resolve_external_ids(keys, &options(), fake.clone(), tokens, Arc::new(NoLimit)).await
}

const PAIRS: [(&str, &str); 5] = [
    ("r1", "OPP-1"),
    ("r2", "O'Brien"),
    ("r3", "OPP-3"),
    ("r4", "OPP-3"),
    ("r5", "OPP-5"),
];

fn found(id: &str) -> Resolution {
    Resolution::Found(id.into())
}

#[tokio::test]
async fn each_crm_id_is_filtered_once_with_quotes_doubled() {
    let fake = FakeList::new(&PAIRS, Filter::Served);
    let lookups = resolve(&fake, &["OPP-1", "O'Brien", "OPP-1", "OPP-9", "OPP-3"])
        .await
        .unwrap();
    assert_eq!(lookups.mode, LookupMode::Filter);
    assert_eq!(lookups.resolutions["OPP-1"], found("r1"));
    assert_eq!(lookups.resolutions["O'Brien"], found("r2"));
    assert_eq!(lookups.resolutions["OPP-9"], Resolution::NotFound);
    assert_eq!(
        lookups.resolutions["OPP-3"],
        Resolution::Ambiguous(vec!["r3".into(), "r4".into()])
    );
    let urls = fake.urls.lock().unwrap().clone();
    assert_eq!(urls.len(), 4, "one request per distinct ID: {urls:?}");
    assert!(
        urls.iter().any(|u| u.contains("%27O%27%27Brien%27")),
        "{urls:?}"
    );
    assert_eq!(lookups.stats.requests, 4);
}

#[tokio::test]
async fn a_refused_filter_falls_back_to_listing_every_page() {
    let fake = FakeList::new(&PAIRS, Filter::Refused);
    let lookups = resolve(&fake, &["OPP-5", "OPP-3", "OPP-7"]).await.unwrap();
    assert_eq!(lookups.mode, LookupMode::Listing);
    assert_eq!(lookups.resolutions["OPP-5"], found("r5"));
    assert_eq!(
        lookups.resolutions["OPP-3"],
        Resolution::Ambiguous(vec!["r3".into(), "r4".into()])
    );
    assert_eq!(lookups.resolutions["OPP-7"], Resolution::NotFound);
    let urls = fake.urls.lock().unwrap().clone();
    assert_eq!(
        urls.len(),
        1 + 3,
        "one refused probe, then three pages: {urls:?}"
    );
    assert!(
        urls[1].contains("$select=id,externalReferenceId"),
        "{urls:?}"
    );
}

#[tokio::test]
async fn a_filter_the_server_ignores_is_treated_as_refused() {
    let fake = FakeList::new(&PAIRS, Filter::Ignored);
    let lookups = resolve(&fake, &["OPP-5"]).await.unwrap();
    assert_eq!(lookups.mode, LookupMode::Listing);
    assert_eq!(lookups.resolutions["OPP-5"], found("r5"));
}

#[tokio::test(start_paused = true)]
async fn a_busy_server_is_retried_like_any_request() {
    let fake = FakeList::new(&PAIRS, Filter::Served);
    *fake.fail_first.lock().unwrap() = 1;
    let lookups = resolve(&fake, &["OPP-1"]).await.unwrap();
    assert_eq!(lookups.resolutions["OPP-1"], found("r1"));
    assert_eq!((lookups.stats.requests, lookups.stats.retries), (2, 1));
}

#[test]
fn unresolved_ids_carry_their_codes() {
    let (code, message) = Resolution::NotFound.error("OPP-9").unwrap();
    assert_eq!(code, NOT_FOUND);
    assert!(message.contains("OPP-9"));
    let ambiguous = Resolution::Ambiguous(vec!["a".into(), "b".into()]);
    assert_eq!(ambiguous.error("X").unwrap().0, AMBIGUOUS);
    assert!(found("r1").error("X").is_none());
}

#[test]
fn next_links_off_the_endpoint_are_refused() {
    let first = "https://h/v1.0/engagements/referrals?$top=5";
    let page = Page(json!({"value": [], "@odata.nextLink": "https://evil.example/v1.0/x"}));
    assert!(page.next_link(first, "https://h/v1.0").is_err());
    let page = Page(
        json!({"value": [], "@odata.nextLink": "https://h/v1.0/engagements/referrals?$skip=2"}),
    );
    assert!(page.next_link(first, "https://h/v1.0").unwrap().is_some());
    // A path outside the endpoint's, on its own host.
    let page = Page(json!({"value": [], "@odata.nextLink": "/v2.0/engagements/referrals"}));
    assert!(page.next_link(first, "https://h/v1.0").is_err());
}

#[test]
fn relative_next_links_are_resolved_against_the_page_read() {
    let first = "https://h/v1.0/engagements/referrals?$top=5";
    let next = |link: &str| {
        let page = Page(json!({"value": [], "@odata.nextLink": link}));
        page.next_link(first, "https://h/v1.0").unwrap()
    };
    let want = Some("https://h/v1.0/engagements/referrals?$skip=5".to_string());
    assert_eq!(next("/v1.0/engagements/referrals?$skip=5"), want);
    assert_eq!(next("referrals?$skip=5"), want);
    assert_eq!(next("?$skip=5"), want);
}

/// A list endpoint that answers after a while, counting the requests open at once.
struct Slow {
    list: Arc<FakeList>,
    open: std::sync::atomic::AtomicUsize,
    peak: std::sync::atomic::AtomicUsize,
}

impl Transport for Slow {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        use std::sync::atomic::Ordering::SeqCst;
        Box::pin(async move {
            let open = self.open.fetch_add(1, SeqCst) + 1;
            self.peak.fetch_max(open, SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let answer = self.list.send(request).await;
            self.open.fetch_sub(1, SeqCst);
            answer
        })
    }
}

#[tokio::test(start_paused = true)]
async fn at_most_concurrency_lookups_are_open_at_once() {
    let pairs: Vec<(String, String)> = (0..40)
        .map(|n| (format!("r{n}"), format!("OPP-{n}")))
        .collect();
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(i, e)| (&i[..], &e[..])).collect();
    let slow = Arc::new(Slow {
        list: FakeList::new(&pairs, Filter::Served),
        open: Default::default(),
        peak: Default::default(),
    });
    let options = SendOptions {
        concurrency: 3,
        ..options()
    };
    let tokens = Arc::new(TokenProvider::new(TokenSource::Fixed(Secret::new("t"))));
    let keys = pairs.iter().map(|(_, e)| e.to_string());
    let lookups = resolve_external_ids(keys, &options, slow.clone(), tokens, Arc::new(NoLimit))
        .await
        .expect("lookups");
    assert_eq!(lookups.resolutions.len(), 40);
    assert_eq!(lookups.resolutions["OPP-7"], found("r7"));
    assert_eq!(slow.peak.load(std::sync::atomic::Ordering::SeqCst), 3);
}
