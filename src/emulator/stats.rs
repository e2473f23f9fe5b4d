//! Counters behind `GET /_emulator/stats`: answers by method and status, replays, the
//! peak request rate, the requests in flight now and at most, and each request's headers
//! (whether `Authorization` was there, never its value); `?summary=1` leaves out the
//! per-request and per-ID parts. Only API requests count: the
//! introspection and token endpoints are left out, so polling the stats does not move them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use axum::http::HeaderMap;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

/// Header records kept at most; past this a long benchmark stops recording them (the
/// counters go on) rather than growing without bound.
const MAX_HEADER_RECORDS: usize = 1_000_000;

/// The headers of one request, as the stats show them.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct HeaderRecord {
    /// `GET` or `PATCH`.
    pub method: String,
    /// The referral ID of the URL (empty for a list).
    pub id: String,
    /// `204`, `412`, …, or `dropped` / `stalled`.
    pub status: String,
    /// `MS-RequestId`.
    pub request_id: Option<String>,
    /// `MS-CorrelationId`.
    pub correlation_id: Option<String>,
    /// `If-Match`.
    pub if_match: Option<String>,
    /// `Prefer`.
    pub prefer: Option<String>,
    /// Whether an `Authorization` header was sent.
    pub authorization: bool,
}

impl HeaderRecord {
    /// Captures what the stats show of a request's headers.
    pub fn capture(method: &str, id: &str, headers: &HeaderMap) -> HeaderRecord {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        };
        HeaderRecord {
            method: method.into(),
            id: id.into(),
            status: String::new(),
            request_id: text("ms-requestid"),
            correlation_id: text("ms-correlationid"),
            if_match: text("if-match"),
            prefer: text("prefer"),
            authorization: headers.contains_key("authorization"),
        }
    }
}

#[derive(Debug, Default)]
struct Window {
    second: u64,
    count: u64,
    peak: u64,
}

/// The counters of one emulator.
#[derive(Debug)]
pub struct Stats {
    started: Instant,
    requests: Mutex<BTreeMap<String, u64>>,
    window: Mutex<Window>,
    headers: Mutex<Vec<HeaderRecord>>,
    replays: AtomicU64,
    conflicts: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            started: Instant::now(),
            requests: Mutex::default(),
            window: Mutex::default(),
            headers: Mutex::default(),
            replays: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
        }
    }
}

/// Counts a request as in flight until dropped.
pub struct InFlight<'a>(&'a Stats);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Stats {
    /// Notes a request's start (for `peak_rps` and `max_in_flight`); it stays in flight
    /// while the guard lives.
    pub fn begin(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_in_flight.fetch_max(now, Ordering::Relaxed);
        let second = self.started.elapsed().as_secs();
        let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        if window.second != second {
            window.second = second;
            window.count = 0;
        }
        window.count += 1;
        window.peak = window.peak.max(window.count);
        InFlight(self)
    }

    /// Counts an answer under `key` (`"PATCH 204"`, `"stalled"`) and keeps its headers.
    pub fn finish(&self, key: String, record: HeaderRecord) {
        *self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default() += 1;
        let mut headers = self.headers.lock().unwrap_or_else(PoisonError::into_inner);
        if headers.len() < MAX_HEADER_RECORDS {
            headers.push(record);
        }
    }

    /// Counts a PATCH answered from the replay store.
    pub fn replayed(&self) {
        self.replays.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a change made by the injected "other writer".
    pub fn conflict_injected(&self) {
        self.conflicts.fetch_add(1, Ordering::Relaxed);
    }

    /// The stats document, with `applied` (patches per ID) from the store.
    pub fn to_json(&self, applied: Map<String, Value>) -> Value {
        let headers = self
            .headers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut json = self.summary_json();
        json["applied"] = Value::Object(applied);
        json["headers"] = json!(headers);
        json
    }

    /// The counters alone, without the per-ID `applied` map and the per-request
    /// `headers` (`GET /_emulator/stats?summary=1`): cheap enough to poll during a
    /// benchmark, whatever the run's length.
    pub fn summary_json(&self) -> Value {
        let requests = self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let peak = self
            .window
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .peak;
        json!({
            "requests": requests,
            "replays": self.replays.load(Ordering::Relaxed),
            "conflicts_injected": self.conflicts.load(Ordering::Relaxed),
            "peak_rps": peak,
            "in_flight": self.in_flight.load(Ordering::Relaxed),
            "max_in_flight": self.max_in_flight.load(Ordering::Relaxed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_peaks_are_kept_after_requests_end() {
        let stats = Stats::default();
        let a = stats.begin();
        let b = stats.begin();
        drop((a, b));
        let _c = stats.begin();
        let json = stats.to_json(Map::new());
        assert_eq!(json["max_in_flight"], 2);
        assert_eq!(json["in_flight"], 1);
        assert_eq!(json["peak_rps"], 3);
    }

    #[test]
    fn the_summary_has_the_counters_without_headers_or_applied() {
        let stats = Stats::default();
        let _a = stats.begin();
        stats.finish("PATCH 429".into(), HeaderRecord::default());
        let json = stats.summary_json();
        assert_eq!(json["requests"]["PATCH 429"], 1);
        assert_eq!(json["in_flight"], 1);
        assert!(json.get("headers").is_none() && json.get("applied").is_none());
    }

    #[test]
    fn answers_are_counted_by_key_and_authorization_is_only_a_flag() {
        let stats = Stats::default();
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer secret".parse().unwrap());
        headers.insert("ms-requestid", "r-1".parse().unwrap());
        let mut record = HeaderRecord::capture("PATCH", "id-1", &headers);
        record.status = "204".into();
        stats.finish("PATCH 204".into(), record.clone());
        stats.finish("PATCH 204".into(), record);
        let json = stats.to_json(Map::new());
        assert_eq!(json["requests"]["PATCH 204"], 2);
        assert_eq!(json["headers"][0]["authorization"], true);
        assert_eq!(json["headers"][0]["request_id"], "r-1");
        assert!(!json.to_string().contains("secret"));
    }
}
