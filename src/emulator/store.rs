//! The referrals the emulator serves, with their ETags, write counts and the answers kept
//! for `MS-RequestId` replay.
//!
//! The set of IDs never changes after seeding (the emulator creates nothing), so the map
//! itself needs no lock: each referral has its own mutex, held only for the few
//! microseconds of a check or a write and never across an `.await`. That keeps thousands of
//! requests per second on different referrals from queueing behind each other.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::reply::Reply;

/// One referral and what the emulator remembers about it.
#[derive(Debug)]
pub struct Entry {
    referral: Value,
    replies: HashMap<String, Reply>,
    applied: u64,
}

impl Entry {
    /// The referral as it stands.
    pub fn referral(&self) -> &Value {
        &self.referral
    }

    /// Its current ETag, quotes included.
    pub fn etag(&self) -> &str {
        self.referral
            .get("eTag")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// Its current status, if it has one.
    pub fn status(&self) -> Option<&str> {
        self.referral.get("status").and_then(Value::as_str)
    }

    /// Whether an `If-Match` header value matches: `*`, or one of its listed ETags by
    /// strong comparison (a weak `W/` tag never matches).
    pub fn if_match(&self, header: &str) -> bool {
        let current = self.etag();
        header
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag == current)
    }

    /// The answer already given to `request_id`, if this referral applied it.
    pub fn replay(&self, request_id: &str) -> Option<Reply> {
        self.replies.get(request_id).cloned()
    }

    /// Keeps a 2xx answer for replay; other answers are never kept, so a retry after a
    /// 5xx or 429 is handled afresh.
    pub fn remember(&mut self, request_id: Option<&str>, reply: &Reply) {
        if let Some(id) = request_id.filter(|_| reply.status.is_success()) {
            self.replies.insert(id.to_string(), reply.clone());
        }
    }

    /// Changes the referral in place with `change`; if it succeeds, that is a new version
    /// (as [`Entry::commit`]) with the ETag `etag` gives; if it fails, `change` must have
    /// left the referral as it was.
    pub fn update<E>(
        &mut self,
        change: impl FnOnce(&mut Value) -> Result<(), E>,
        etag: impl FnOnce() -> String,
    ) -> Result<(), E> {
        change(&mut self.referral)?;
        self.applied += 1;
        self.touch(etag());
        Ok(())
    }

    /// Stores a patched referral as a new version: new ETag, new `updatedDateTime`.
    pub fn commit(&mut self, referral: Value, etag: String) {
        self.referral = referral;
        self.applied += 1;
        self.touch(etag);
    }

    /// Gives the referral a new version without counting a patch: another writer's change.
    pub fn touch(&mut self, etag: String) {
        let updated = next_timestamp(self.referral.get("updatedDateTime").and_then(Value::as_str));
        if let Some(fields) = self.referral.as_object_mut() {
            fields.insert("eTag".into(), Value::String(etag));
            fields.insert("updatedDateTime".into(), Value::String(updated));
        }
    }
}

/// A timestamp for a write: now, but always later than the previous one, so that two
/// writes within one clock tick still change `updatedDateTime`.
fn next_timestamp(previous: Option<&str>) -> String {
    let now = Utc::now();
    let previous = previous
        .and_then(|p| DateTime::parse_from_rfc3339(p).ok())
        .map(|p| p.with_timezone(&Utc));
    let at = match previous {
        Some(p) if p >= now => p + chrono::Duration::microseconds(1),
        _ => now,
    };
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The first group of the ETags this run makes: mixed from the seed, and never below
/// `0x10000000`, so that it cannot repeat an ETag of the sample (whose first groups are
/// `0000xxxx`, like Partner Center's).
fn etag_prefix(seed: u64) -> u32 {
    ((seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32) | 0x1000_0000
}

/// All referrals, by ID, in seed order.
#[derive(Debug)]
pub struct Store {
    entries: HashMap<String, Mutex<Entry>>,
    order: Vec<String>,
    salt: u32,
    versions: AtomicU64,
}

impl Store {
    /// A store of `referrals` (objects with distinct string `id`s, as [`super::seed`]
    /// checks); a referral without an `eTag` gets one. `salt` varies the ETags per run.
    pub fn new(referrals: Vec<Value>, salt: u64) -> Store {
        let mut store = Store {
            entries: HashMap::with_capacity(referrals.len()),
            order: Vec::with_capacity(referrals.len()),
            salt: etag_prefix(salt),
            versions: AtomicU64::new(1),
        };
        for referral in referrals {
            store.insert(referral);
        }
        store
    }

    fn insert(&mut self, mut referral: Value) {
        let id = referral.get("id").and_then(Value::as_str).map(String::from);
        let (Some(id), Some(fields)) = (id, referral.as_object_mut()) else {
            return;
        };
        let etag = match fields.get("eTag").and_then(Value::as_str) {
            Some(tag) if tag.starts_with('"') => tag.to_string(),
            Some(tag) => format!("\"{tag}\""),
            None => self.next_etag(),
        };
        fields.insert("eTag".into(), Value::String(etag));
        let entry = Entry {
            referral,
            replies: HashMap::new(),
            applied: 0,
        };
        if self.entries.insert(id.clone(), Mutex::new(entry)).is_none() {
            self.order.push(id);
        }
    }

    /// A fresh strong ETag, quoted, shaped like Partner Center's.
    pub fn next_etag(&self) -> String {
        let version = self.versions.fetch_add(1, Ordering::Relaxed);
        format!("\"{:08x}-0000-0000-0000-{version:012x}\"", self.salt)
    }

    /// The referral `id`, locked; `None` when there is no such referral.
    pub fn lock(&self, id: &str) -> Option<MutexGuard<'_, Entry>> {
        // A poisoned lock only means a panic elsewhere; the entry itself is always whole.
        let entry = self.entries.get(id)?;
        Some(entry.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Every referral by ID (`GET /_emulator/referrals`).
    pub fn snapshot(&self) -> Map<String, Value> {
        self.map_entries(|entry| Some(entry.referral.clone()))
    }

    /// Patches applied per ID, for the IDs that had any.
    pub fn applied(&self) -> Map<String, Value> {
        self.map_entries(|entry| (entry.applied > 0).then(|| Value::from(entry.applied)))
    }

    fn map_entries(&self, mut f: impl FnMut(&Entry) -> Option<Value>) -> Map<String, Value> {
        self.order
            .iter()
            .filter_map(|id| Some((id.clone(), f(&*self.lock(id)?)?)))
            .collect()
    }

    /// One page of the referrals `keep` accepts, in seed order: `top` of them after the
    /// first `skip`, and how many it accepts in all. Only the page is cloned.
    pub fn page(
        &self,
        keep: impl Fn(&Value) -> bool,
        skip: usize,
        top: usize,
    ) -> (Vec<Value>, usize) {
        let mut page = Vec::new();
        let mut total = 0;
        for id in &self.order {
            let Some(entry) = self.lock(id) else { continue };
            if !keep(&entry.referral) {
                continue;
            }
            if total >= skip && page.len() < top {
                page.push(entry.referral.clone());
            }
            total += 1;
        }
        (page, total)
    }

    /// Whether it holds a referral `id`.
    pub fn contains(&self, id: &str) -> bool {
        self.entries.contains_key(id)
    }

    /// How many referrals it holds.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use serde_json::json;

    fn store() -> Store {
        Store::new(
            vec![
                json!({"id": "a", "status": "New", "eTag": "\"e-a\""}),
                json!({"id": "b", "eTag": "unquoted"}),
                json!({"id": "c"}),
            ],
            7,
        )
    }

    #[test]
    fn seed_etags_are_kept_quoted_and_missing_ones_made() {
        let store = store();
        assert_eq!(store.lock("a").unwrap().etag(), "\"e-a\"");
        assert_eq!(store.lock("b").unwrap().etag(), "\"unquoted\"");
        let made = store.lock("c").unwrap().etag().to_string();
        assert!(made.starts_with('"') && made.ends_with('"') && made.len() == 38);
    }

    #[test]
    fn a_commit_changes_etag_and_updated_time_and_counts() {
        let store = store();
        let mut entry = store.lock("a").unwrap();
        let mut patched = entry.referral().clone();
        patched["name"] = json!("x");
        entry.commit(patched.clone(), store.next_etag());
        let first = (
            entry.etag().to_string(),
            entry.referral()["updatedDateTime"].clone(),
        );
        entry.commit(patched, store.next_etag());
        assert_ne!(entry.etag(), first.0);
        assert_ne!(entry.referral()["updatedDateTime"], first.1);
        drop(entry);
        assert_eq!(
            store.applied(),
            json!({"a": 2}).as_object().unwrap().clone()
        );
    }

    #[test]
    fn if_match_accepts_star_and_lists_but_not_weak_tags() {
        let store = store();
        let entry = store.lock("a").unwrap();
        assert!(entry.if_match("*"));
        assert!(entry.if_match("\"x\", \"e-a\""));
        assert!(!entry.if_match("W/\"e-a\""));
        assert!(!entry.if_match("e-a"));
    }

    #[test]
    fn only_successful_answers_are_kept_for_replay() {
        let store = store();
        let mut entry = store.lock("a").unwrap();
        let ok = Reply::success(StatusCode::NO_CONTENT, None, "\"t\"");
        let failed = Reply::from(super::super::reply::ApiError::throttled(Some(1)));
        entry.remember(Some("r1"), &ok);
        entry.remember(Some("r2"), &failed);
        entry.remember(None, &ok);
        assert_eq!(entry.replay("r1"), Some(ok));
        assert_eq!(entry.replay("r2"), None);
    }

    #[test]
    fn unknown_ids_are_not_found_and_snapshot_keeps_every_referral() {
        let store = store();
        assert!(store.lock("zzz").is_none());
        assert_eq!(store.snapshot().len(), 3);
        assert_eq!(store.len(), 3);
    }
}
