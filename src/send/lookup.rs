//! Finding referrals by the CRM's own ID (`externalReferenceId`) through the list
//! endpoint, for mappings whose ID column holds CRM IDs (API.md "Listing").
//!
//! Each distinct CRM ID is looked up once per run with
//! `$filter=externalReferenceId eq '…'`. Whether the real API accepts that filter is
//! unverified, so when it answers 400 — or answers with referrals the filter should have
//! excluded, i.e. it ignored the filter — every referral is listed instead with
//! `$select=id,externalReferenceId`, following `@odata.nextLink`, and the IDs are indexed.
//! Every request goes through the run's rate gate, retry policy and token provider, as
//! the PATCHes do ([`Shared::exchange`]). Next links are only followed on the endpoint's
//! own origin, so the bearer token never travels elsewhere.

use super::exchange::{Call, Ended, LastTry, Shared};
use super::pacer::RateGate;
use super::transport::{Method, Transport};
use super::{SendError, SendOptions, SendStats, TokenProvider, error_body, workers};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use tokio::task::JoinSet;

/// The report's code for a CRM ID that no referral carries.
pub const NOT_FOUND: &str = "not_found_by_external_id";
/// The report's code for a CRM ID that two or more referrals carry.
pub const AMBIGUOUS: &str = "ambiguous_external_id";

/// A server whose next links never end is not followed past this many pages.
const MAX_PAGES: usize = 100_000;

/// What one CRM ID resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Exactly one referral carries it: its ID.
    Found(String),
    /// No referral carries it.
    NotFound,
    /// Several referrals carry it: their IDs.
    Ambiguous(Vec<String>),
    /// The lookup itself failed (an API refusal, retries exhausted).
    Failed {
        /// The API's error code, `http_<status>` or `retries_exhausted`.
        code: String,
        /// What happened, for a user.
        message: String,
    },
}

impl Resolution {
    /// The report's `error_code` and `error_message` for a CRM ID that did not resolve.
    pub fn error(&self, key: &str) -> Option<(String, String)> {
        let (code, message) = match self {
            Resolution::Found(_) => return None,
            Resolution::NotFound => (
                NOT_FOUND.to_string(),
                format!(
                    "no referral has externalReferenceId {key:?}; check the CRM ID, or map the referral ID column instead"
                ),
            ),
            Resolution::Ambiguous(ids) => (
                AMBIGUOUS.to_string(),
                format!(
                    "{} referrals have externalReferenceId {key:?} ({}); nothing was sent: map the referral ID column for this row",
                    ids.len(),
                    ids.join(", ")
                ),
            ),
            Resolution::Failed { code, message } => (
                code.clone(),
                format!("looking up externalReferenceId {key:?} failed: {message}"),
            ),
        };
        Some((code, message))
    }

    fn from_ids(mut ids: Vec<String>) -> Resolution {
        ids.sort();
        ids.dedup();
        match ids.len() {
            0 => Resolution::NotFound,
            1 => Resolution::Found(ids.remove(0)),
            _ => Resolution::Ambiguous(ids),
        }
    }
}

/// How the IDs were found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupMode {
    /// One filtered request per CRM ID.
    Filter,
    /// The API refused the filter: every referral listed and indexed.
    Listing,
}

/// The lookups of a run.
#[derive(Clone, Debug)]
pub struct Lookups {
    /// Each distinct CRM ID asked for, and what it resolved to.
    pub resolutions: HashMap<String, Resolution>,
    /// How they were found.
    pub mode: LookupMode,
    /// The requests the lookups took (for the run's summary).
    pub stats: SendStats,
}

/// Resolves each distinct key of `keys` (CRM IDs) to a referral ID through the list
/// endpoint, paced by `gate` like every request of the run.
///
/// `Err` only for what stops a run (no token, a second 401, a refused endpoint); a lookup
/// that fails is a [`Resolution::Failed`].
pub async fn resolve_external_ids(
    keys: impl IntoIterator<Item = String>,
    options: &SendOptions,
    transport: Arc<dyn Transport>,
    tokens: Arc<TokenProvider>,
    gate: Arc<dyn RateGate>,
) -> Result<Lookups, SendError> {
    let shared = Arc::new(workers::shared(options, transport, tokens, gate)?);
    let keys: Vec<String> = keys
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let (mut resolutions, refused) = filter_all(&shared, keys).await?;
    let mode = if refused.is_empty() {
        LookupMode::Filter
    } else {
        tracing::info!(
            keys = refused.len(),
            "the API refused $filter on externalReferenceId: listing every referral instead"
        );
        resolutions.extend(listing(&shared, refused).await?);
        LookupMode::Listing
    };
    Ok(Lookups {
        resolutions,
        mode,
        stats: shared.counters.snapshot(),
    })
}

type Resolved = HashMap<String, Resolution>;

/// Filters for each key: the first alone, as a probe of whether the API filters at all,
/// then the rest concurrently, at most `--concurrency` at once. Returns what resolved and
/// the keys the filter did not serve.
async fn filter_all(
    shared: &Arc<Shared>,
    keys: Vec<String>,
) -> Result<(Resolved, Vec<String>), SendError> {
    let mut keys = keys.into_iter();
    let Some(first) = keys.next() else {
        return Ok((HashMap::new(), Vec::new()));
    };
    let Some(resolution) = by_filter(shared, &first).await? else {
        return Ok((HashMap::new(), std::iter::once(first).chain(keys).collect()));
    };
    let mut resolved = HashMap::from([(first, resolution)]);
    let mut refused = Vec::new();
    let mut tasks = JoinSet::new();
    let most = shared.options.concurrency.max(1);
    loop {
        // A task per key at once would put every lookup on the wire together: the rate
        // limit spaces their starts, not how many are open.
        while tasks.len() < most {
            let Some(key) = keys.next() else { break };
            let shared = shared.clone();
            tasks.spawn(async move { (by_filter(&shared, &key).await, key) });
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let (result, key) =
            joined.map_err(|e| SendError::Client(format!("a lookup task failed: {e}")))?;
        match result? {
            Some(resolution) => resolved.insert(key, resolution),
            None => {
                refused.push(key);
                None
            }
        };
    }
    Ok((resolved, refused))
}

/// One key by `$filter`; `None` when the API refused or ignored the filter.
async fn by_filter(shared: &Shared, key: &str) -> Result<Option<Resolution>, SendError> {
    let filter = format!("externalReferenceId eq '{}'", key.replace('\'', "''"));
    let url = format!(
        "{}/engagements/referrals?$filter={}",
        shared.endpoint,
        utf8_percent_encode(&filter, NON_ALPHANUMERIC)
    );
    let mut ids = Vec::new();
    let mut ignored = false;
    let paged = pages(shared, url, &mut |id, external| {
        ignored |= external != Some(key);
        ids.push(id.to_string());
        !ignored
    })
    .await?;
    Ok(match paged {
        Paged::Done if !ignored => Some(Resolution::from_ids(ids)),
        Paged::Done | Paged::Refused => None,
        Paged::Failed { code, message } => Some(Resolution::Failed { code, message }),
    })
}

/// Lists every referral's ID and CRM ID, and resolves `keys` from that index.
async fn listing(shared: &Shared, keys: Vec<String>) -> Result<Resolved, SendError> {
    let wanted: BTreeSet<&str> = keys.iter().map(String::as_str).collect();
    let mut index: HashMap<String, Vec<String>> = HashMap::new();
    let url = format!(
        "{}/engagements/referrals?$select=id,externalReferenceId",
        shared.endpoint
    );
    let paged = pages(shared, url, &mut |id, external| {
        if let Some(external) = external.filter(|e| wanted.contains(e)) {
            index
                .entry(external.to_string())
                .or_default()
                .push(id.to_string());
        }
        true
    })
    .await?;
    let failure = match paged {
        Paged::Done => None,
        Paged::Refused => Some(Resolution::Failed {
            code: "http_400".into(),
            message: "the API refused both $filter and listing referrals".into(),
        }),
        Paged::Failed { code, message } => Some(Resolution::Failed { code, message }),
    };
    Ok(keys
        .into_iter()
        .map(|key| {
            let resolution = failure
                .clone()
                .unwrap_or_else(|| Resolution::from_ids(index.remove(&key).unwrap_or_default()));
            (key, resolution)
        })
        .collect())
}

/// How paging through a list ended.
enum Paged {
    /// Every page read (or the reader stopped early).
    Done,
    /// The first page got 400: the query is not supported.
    Refused,
    /// A page could not be had.
    Failed { code: String, message: String },
}

/// Reads `url` and its next links, handing each referral's `id` and `externalReferenceId`
/// to `each`, which returns `false` to stop.
async fn pages(
    shared: &Shared,
    url: String,
    each: &mut (dyn FnMut(&str, Option<&str>) -> bool + Send),
) -> Result<Paged, SendError> {
    let mut next = Some(url);
    let mut page_count = 0;
    while let Some(url) = next.take() {
        page_count += 1;
        let page = match get_page(shared, url.clone(), page_count == 1).await? {
            Ok(page) => page,
            Err(paged) => return Ok(paged),
        };
        for item in page.items() {
            if !each(item.0, item.1) {
                return Ok(Paged::Done);
            }
        }
        next = page.next_link(&url, shared.endpoint.as_str())?;
        if page_count >= MAX_PAGES {
            return Ok(failed(
                "too_many_pages",
                format!("stopped after {MAX_PAGES} pages of next links"),
            ));
        }
    }
    Ok(Paged::Done)
}

fn failed(code: &str, message: String) -> Paged {
    Paged::Failed {
        code: code.to_string(),
        message,
    }
}

/// One page, or how paging ends here.
async fn get_page(
    shared: &Shared,
    url: String,
    first: bool,
) -> Result<Result<Page, Paged>, SendError> {
    let url = match reqwest::Url::parse(&url) {
        Ok(url) => url,
        Err(e) => {
            let message = format!("the list URL {url:?} is not a URL ({e})");
            return Ok(Err(failed("invalid_list_answer", message)));
        }
    };
    let call = Call {
        method: Method::Get,
        url,
        request_id: uuid::Uuid::new_v4(),
        if_match: None,
        body: None,
        unstarted: false,
    };
    let exchange = shared.exchange(&call).await?;
    Ok(match exchange.ended {
        Ended::Answered(r) if (200..300).contains(&r.status) => {
            serde_json::from_slice(&r.body).map(Page).map_err(|e| {
                failed(
                    "invalid_list_answer",
                    format!("the list answer is not JSON: {e}"),
                )
            })
        }
        Ended::Answered(r) if r.status == 400 && first => Err(Paged::Refused),
        Ended::Answered(r) => {
            let error = error_body::parse(r.status, &r.body);
            Err(failed(&error.code, error.message))
        }
        Ended::GaveUp(LastTry::Status(r)) => {
            Err(failed("retries_exhausted", error_body::reason(r.status)))
        }
        Ended::GaveUp(LastTry::Failed(e)) => Err(failed("retries_exhausted", e.to_string())),
        Ended::Stopped => Err(failed(
            "not_sent",
            "the run stopped before the lookup finished".into(),
        )),
    })
}

/// A list answer: `{"value": [...], "@odata.nextLink": "…"}`.
struct Page(Value);

impl Page {
    /// Each referral's `id` and `externalReferenceId`; entries without an ID are skipped.
    fn items(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.0["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| {
                let id = item.get("id")?.as_str()?;
                Some((id, item.get("externalReferenceId").and_then(Value::as_str)))
            })
    }

    /// The next page's URL, a relative link taken from `page_url` (the URL this page was
    /// read from, as RFC 3986 resolves references); refused unless it is under the
    /// endpoint.
    fn next_link(&self, page_url: &str, endpoint: &str) -> Result<Option<String>, SendError> {
        let Some(link) = self.0.get("@odata.nextLink").and_then(Value::as_str) else {
            return Ok(None);
        };
        let resolved = reqwest::Url::parse(page_url)
            .and_then(|base| base.join(link))
            .map_or_else(|_| link.to_string(), String::from);
        if resolved.starts_with(&format!("{endpoint}/")) {
            Ok(Some(resolved))
        } else {
            Err(SendError::ForeignLink {
                link: link.to_string(),
                endpoint: endpoint.to_string(),
            })
        }
    }
}

#[cfg(test)]
#[path = "lookup_tests.rs"]
mod tests;
