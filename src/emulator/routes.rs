//! The HTTP surface: the router, the shared state, and the handlers for one referral.
//!
//! Every API request goes the same way: count it, draw its faults, wait out the latency,
//! stall if drawn, then the gates (token, throttle, injected 5xx) before the referral is
//! touched, so a refused request never changes anything. A PATCH then checks, in order:
//! the body (outside any lock), the replay store (before If-Match, because a retry of an
//! applied request carries the old ETag), `--closed-is-final`, the injected other writer,
//! If-Match, and finally applies the patch.

use std::sync::Arc;

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::auth::Auth;
use super::faults::{Draws, Injector};
use super::listener::ConnHandle;
use super::reply::{ApiError, Reply};
use super::stats::{HeaderRecord, Stats};
use super::store::{Entry, Store};
use super::{EmulatorOptions, list, patch, token};

/// Request bodies above this are refused with 413: a patch document is a few kilobytes.
const BODY_LIMIT: usize = 1024 * 1024;

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// The referrals.
    pub store: Store,
    /// The seeded fault draws and the throttle.
    pub faults: Injector,
    /// The counters.
    pub stats: Stats,
    /// The bearer-token check.
    pub auth: Auth,
    /// `--closed-is-final`.
    pub closed_is_final: bool,
    /// `--no-replay`: behave like a server that ignores `MS-RequestId`.
    pub no_replay: bool,
    /// `http://ADDR/v1.0`, for `@odata.nextLink`.
    pub base_url: String,
    /// Fires when the emulator stops; stalled requests wait for it.
    pub cancel: CancellationToken,
}

impl AppState {
    /// The state for `options`, holding `referrals`.
    pub fn new(
        options: &EmulatorOptions,
        referrals: Vec<Value>,
        base_url: String,
        cancel: CancellationToken,
    ) -> AppState {
        let faults = &options.faults;
        AppState {
            store: Store::new(referrals, faults.fault_seed),
            faults: Injector::new(faults),
            stats: Stats::default(),
            auth: Auth::new(options.token.clone(), faults.token_ttl),
            closed_is_final: faults.closed_is_final,
            no_replay: faults.no_replay,
            base_url,
            cancel,
        }
    }

    /// The stats document (`GET /_emulator/stats`).
    pub fn stats_json(&self) -> Value {
        self.stats.to_json(self.store.applied())
    }

    /// The faults, latency and gates every API request goes through (a PATCH or not, for
    /// referral `id`, empty for a listing); `Err` is the answer that ends the request there.
    pub async fn admit(
        &self,
        is_patch: bool,
        id: &str,
        headers: &HeaderMap,
    ) -> Result<Draws, Outcome> {
        let draws = self.faults.draw(is_patch, id);
        let before = draws.latency - answer_delay(is_patch, &draws);
        if !before.is_zero() {
            tokio::time::sleep(before).await;
        }
        if draws.stall {
            return Err(Outcome::Stalled);
        }
        self.auth.check(headers).map_err(Outcome::from)?;
        self.faults
            .throttle()
            .map_err(|retry_after| Outcome::from(ApiError::throttled(retry_after)))?;
        match draws.fail {
            Some(status) => Err(ApiError::server_fault(status).into()),
            None => Ok(draws),
        }
    }
}

/// The part of a request's latency spent after the work, before the answer: half of it for
/// a PATCH, so that a client that gives up (or dies) then has its patch applied but never
/// hears so — the lost response that exactly-once handling must resolve.
pub fn answer_delay(is_patch: bool, draws: &Draws) -> Duration {
    if is_patch {
        draws.latency / 2
    } else {
        Duration::ZERO
    }
}

/// How a request ended.
#[derive(Debug)]
pub enum Outcome {
    /// Answered.
    Reply(Reply),
    /// Applied, then the connection was dropped unanswered.
    Dropped,
    /// Never answered.
    Stalled,
}

impl From<ApiError> for Outcome {
    fn from(error: ApiError) -> Outcome {
        Outcome::Reply(error.into())
    }
}

impl From<Result<Reply, ApiError>> for Outcome {
    fn from(result: Result<Reply, ApiError>) -> Outcome {
        Outcome::Reply(result.unwrap_or_else(Reply::from))
    }
}

/// Counts `outcome` and turns it into what the connection gets: the answer, or nothing.
pub async fn finish(
    app: &AppState,
    conn: &ConnHandle,
    mut record: HeaderRecord,
    outcome: Outcome,
    delay: Duration,
) -> Response {
    let (key, status) = match &outcome {
        Outcome::Reply(reply) => {
            let code = reply.status.as_u16().to_string();
            (format!("{} {code}", record.method), code)
        }
        Outcome::Dropped => (format!("{} dropped", record.method), "dropped".into()),
        Outcome::Stalled => ("stalled".into(), "stalled".into()),
    };
    record.status = status;
    app.stats.finish(key, record);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match outcome {
        Outcome::Reply(reply) => reply.into_response(),
        Outcome::Dropped => cut(conn),
        Outcome::Stalled => {
            // Hold the request until the emulator stops, then cut it so shutdown can end.
            app.cancel.cancelled().await;
            cut(conn)
        }
    }
}

fn cut(conn: &ConnHandle) -> Response {
    conn.kill();
    StatusCode::NO_CONTENT.into_response()
}

/// The emulator's routes, with `state` shared by all.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/v1.0/engagements/referrals/{id}",
            get(get_referral)
                .patch(patch_referral)
                .fallback(method_not_allowed),
        )
        .route(
            "/v1.0/engagements/referrals",
            get(list::list_referrals).fallback(method_not_allowed),
        )
        .route("/_emulator/stats", get(stats))
        .route("/_emulator/referrals", get(referrals))
        .route("/{tenant}/oauth2/v2.0/token", post(token::token))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(token::device_code))
        .route("/devicelogin", get(token::device_login))
        .fallback(no_route)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

async fn no_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NotFound", "no such endpoint")
}

/// A method the path does not take: 405 with a JSON body like every other refusal (the
/// router adds the `Allow` header).
async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::method_not_allowed(method.as_str(), uri.path())
}

/// The query of `GET /_emulator/stats`: `?summary=1` (or `true`) asks for the counters
/// alone.
#[derive(Debug, Default, serde::Deserialize)]
pub struct StatsQuery {
    /// `1` or `true`: leave out `applied` and `headers`.
    pub summary: Option<String>,
}

impl StatsQuery {
    fn wants_summary(&self) -> bool {
        matches!(self.summary.as_deref(), Some("1" | "true"))
    }
}

async fn stats(State(app): State<Arc<AppState>>, Query(query): Query<StatsQuery>) -> Reply {
    match query.wants_summary() {
        true => Reply::json(&app.stats.summary_json()),
        false => Reply::json(&app.stats_json()),
    }
}

async fn referrals(State(app): State<Arc<AppState>>) -> Reply {
    Reply::json(&Value::Object(app.store.snapshot()))
}

type Id = Result<Path<String>, PathRejection>;

async fn get_referral(
    State(app): State<Arc<AppState>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    id: Id,
    headers: HeaderMap,
) -> Response {
    let _in_flight = app.stats.begin();
    let id = id.map(|Path(id)| id).unwrap_or_default();
    let record = HeaderRecord::capture("GET", &id, &headers);
    let outcome = match app.admit(false, &id, &headers).await {
        Ok(_) => read(&app, &id).into(),
        Err(outcome) => outcome,
    };
    finish(&app, &conn, record, outcome, Duration::ZERO).await
}

fn read(app: &AppState, id: &str) -> Result<Reply, ApiError> {
    let entry = app.store.lock(id).ok_or_else(|| ApiError::not_found(id))?;
    Ok(Reply::success(
        StatusCode::OK,
        Some(entry.referral()),
        entry.etag(),
    ))
}

async fn patch_referral(
    State(app): State<Arc<AppState>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    id: Id,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let _in_flight = app.stats.begin();
    let id = id.map(|Path(id)| id).unwrap_or_default();
    let record = HeaderRecord::capture("PATCH", &id, &headers);
    let admitted = app.admit(true, &id, &headers).await;
    let delay = admitted
        .as_ref()
        .map_or(Duration::ZERO, |d| answer_delay(true, d));
    let outcome = match admitted {
        Ok(draws) => match write(&app, &id, &headers, body, draws) {
            Ok(_) if draws.drop => Outcome::Dropped,
            result => result.into(),
        },
        Err(outcome) => outcome,
    };
    finish(&app, &conn, record, outcome, delay).await
}

fn write(
    app: &AppState,
    id: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    draws: Draws,
) -> Result<Reply, ApiError> {
    if !app.store.contains(id) {
        return Err(ApiError::not_found(id));
    }
    let body = body.map_err(|e| ApiError::new(e.status(), body_code(e.status()), e.body_text()))?;
    let document = patch::parse(&body)?;
    let request_id = replay_key(headers).filter(|_| !app.no_replay);
    let mut entry = app.store.lock(id).ok_or_else(|| ApiError::not_found(id))?;
    if let Some(reply) = request_id.and_then(|r| entry.replay(r)) {
        app.stats.replayed();
        return Ok(reply);
    }
    let reply = apply(app, &mut entry, headers, &document, draws)?;
    entry.remember(request_id, &reply);
    Ok(reply)
}

/// The checks that need the referral as it stands, then the write itself.
fn apply(
    app: &AppState,
    entry: &mut Entry,
    headers: &HeaderMap,
    document: &patch::Document,
    draws: Draws,
) -> Result<Reply, ApiError> {
    if draws.conflict {
        entry.touch(app.store.next_etag());
        app.stats.conflict_injected();
    }
    // Preconditions first (RFC 9110 13.2.2): a stale If-Match is a 412 whatever the
    // referral's state.
    if let Some(if_match) = header(headers, "if-match").filter(|tag| !entry.if_match(tag)) {
        return Err(precondition_failed(if_match, entry.etag()));
    }
    if app.closed_is_final && entry.status() == Some("Closed") {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "ReferralClosed",
            "the referral is Closed; nothing can be changed any more",
        ));
    }
    entry.update(
        |referral| patch::apply_in_place(referral, document),
        || app.store.next_etag(),
    )?;
    Ok(match wants_representation(headers) {
        true => Reply::success(StatusCode::OK, Some(entry.referral()), entry.etag()),
        false => Reply::success(StatusCode::NO_CONTENT, None, entry.etag()),
    })
}

fn body_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => "PayloadTooLarge",
        _ => "InvalidBody",
    }
}

fn precondition_failed(sent: &str, current: &str) -> ApiError {
    ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        "PreconditionFailed",
        format!("If-Match {sent} does not match the referral's current eTag {current}"),
    )
}

/// The `MS-RequestId` a PATCH's answer is kept under for replay. A blank value is no
/// request ID at all: were it a key, every later PATCH that sends it empty would be taken
/// for a retry of the first and silently skipped.
pub fn replay_key(headers: &HeaderMap) -> Option<&str> {
    header(headers, "ms-requestid")
        .map(str::trim)
        .filter(|id| !id.is_empty())
}

/// A header's value as text, if present and readable.
pub fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether `Prefer` asks for `return=representation` (RFC 7240: a list, any case, the
/// value as a token or quoted, spaces around `=`).
fn wants_representation(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']))
        .filter_map(|p| p.split_once('='))
        .any(|(name, value)| {
            name.trim().eq_ignore_ascii_case("return")
                && value
                    .trim()
                    .trim_matches('"')
                    .eq_ignore_ascii_case("representation")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_id(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("ms-requestid", value.parse().unwrap());
        headers
    }

    #[test]
    fn a_blank_request_id_is_no_replay_key() {
        assert_eq!(replay_key(&HeaderMap::new()), None);
        assert_eq!(replay_key(&request_id("")), None);
        assert_eq!(replay_key(&request_id("   ")), None);
        assert_eq!(replay_key(&request_id(" abc ")), Some("abc"));
    }

    #[test]
    fn prefer_asks_for_the_representation_in_any_of_rfc_7240_forms() {
        let prefer = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("prefer", value.parse().unwrap());
            wants_representation(&headers)
        };
        for asks in [
            "return=representation",
            "Return=Representation",
            "return=\"representation\"",
            "return = representation",
            "respond-async, wait=10; return=representation",
        ] {
            assert!(prefer(asks), "{asks}");
        }
        for not in [
            "return=minimal",
            "representation",
            "x-return=representation",
        ] {
            assert!(!prefer(not), "{not}");
        }
    }
}
