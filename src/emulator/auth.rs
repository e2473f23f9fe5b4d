//! Bearer-token checks: the `--token` the emulator was started with, tokens its token
//! endpoint issued, and `--token-ttl` expiry. Token values are never logged or echoed.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::http::{HeaderMap, header};
use tokio::time::Instant;

use super::reply::ApiError;

/// What a poll of a device code finds.
#[derive(Debug, PartialEq)]
pub enum DevicePoll {
    /// The user has not signed in yet.
    Pending,
    /// Signed in: tokens for the scope the device code asked for.
    SignedIn(String),
}

/// Who may call the referrals endpoints.
#[derive(Debug)]
pub struct Auth {
    token: Option<String>,
    ttl: Option<Duration>,
    issued: Mutex<HashSet<String>>,
    first_seen: Mutex<HashMap<String, Instant>>,
    /// Device codes not yet exchanged: the polls each had and the scope it asked for.
    devices: Mutex<HashMap<String, (u32, String)>>,
    /// Refresh tokens already exchanged: rotation replaced them, so they are spent.
    spent_refresh_tokens: Mutex<HashSet<String>>,
}

impl Auth {
    /// Requires `token` (or one the token endpoint issued) when given; with only a `ttl`,
    /// any bearer token works until it expires; with neither, nothing is checked.
    pub fn new(token: Option<String>, ttl: Option<Duration>) -> Auth {
        Auth {
            token,
            ttl,
            issued: Mutex::default(),
            first_seen: Mutex::default(),
            devices: Mutex::default(),
            spent_refresh_tokens: Mutex::default(),
        }
    }

    /// Exchanges `refresh_token` once: `true` the first time, `false` when it was already
    /// exchanged (rotation gave its holder a new one, so a client that reuses the old one
    /// did not save the rotated token). Any other non-empty token is taken as valid, so a
    /// test can start from a refresh token file it wrote itself.
    pub fn spend_refresh_token(&self, refresh_token: &str) -> bool {
        self.spent_refresh_tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(refresh_token.to_string())
    }

    /// Mints a fresh access token that this emulator accepts.
    pub fn issue(&self) -> String {
        let token = format!("emu-{}", uuid::Uuid::new_v4().simple());
        self.issued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token.clone());
        token
    }

    /// Starts a device-code sign-in: its device code and the user code to show.
    pub fn start_device(&self, scope: &str) -> (String, String) {
        let mut devices = self.devices.lock().unwrap_or_else(PoisonError::into_inner);
        let code = format!("device-{}", uuid::Uuid::new_v4().simple());
        let user_code = format!("EMU{:05}", devices.len() + 1);
        devices.insert(code.clone(), (0, scope.to_string()));
        (code, user_code)
    }

    /// Counts a poll of a device code: `Pending` the first time, then its scope once (a
    /// device code signs in once, as the real service's does), `None` if unknown or used.
    pub fn poll_device(&self, code: &str) -> Option<DevicePoll> {
        let mut devices = self.devices.lock().unwrap_or_else(PoisonError::into_inner);
        let (polls, _) = devices.get_mut(code)?;
        *polls += 1;
        if *polls == 1 {
            return Some(DevicePoll::Pending);
        }
        devices
            .remove(code)
            .map(|(_, scope)| DevicePoll::SignedIn(scope))
    }

    /// How long issued tokens live, for the token endpoint's `expires_in`.
    pub fn lifetime(&self) -> Duration {
        self.ttl.unwrap_or(Duration::from_secs(3600))
    }

    /// Checks a request's `Authorization` header; 401 `Unauthorized` when it fails.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        self.check_at(headers, Instant::now())
    }

    fn check_at(&self, headers: &HeaderMap, now: Instant) -> Result<(), ApiError> {
        if self.token.is_none() && self.ttl.is_none() {
            return Ok(());
        }
        let token = bearer_token(headers)?;
        if !self.known(token) {
            return Err(Refusal::Invalid.into());
        }
        if self.expired(token, now) {
            return Err(Refusal::Expired.into());
        }
        Ok(())
    }

    fn known(&self, token: &str) -> bool {
        match &self.token {
            Some(expected) => {
                expected == token
                    || self
                        .issued
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .contains(token)
            }
            None => true,
        }
    }

    /// Whether `token` was first seen longer than the TTL ago (noting it if new).
    fn expired(&self, token: &str, now: Instant) -> bool {
        let Some(ttl) = self.ttl else {
            return false;
        };
        let mut seen = self
            .first_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let first = *seen.entry(token.to_string()).or_insert(now);
        now.duration_since(first) >= ttl
    }
}

/// Why a request's credentials were refused; each says so in its own words, and only the
/// ones where a token was presented name an RFC 6750 error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// No `Authorization` header, or `Bearer` with nothing after it.
    Missing,
    /// An `Authorization` header of another scheme (`Basic …`).
    OtherScheme,
    /// A bearer token this emulator does not know (or one that is not readable text).
    Invalid,
    /// A known token past its `--token-ttl`.
    Expired,
}

impl Refusal {
    fn message(self) -> &'static str {
        match self {
            Refusal::Missing => "no access token: send the header Authorization: Bearer <token>",
            Refusal::OtherScheme => {
                "the Authorization header must use the Bearer scheme: Authorization: Bearer <token>"
            }
            Refusal::Invalid => "the bearer token is not valid",
            Refusal::Expired => "the access token has expired; fetch a new one",
        }
    }

    /// The `WWW-Authenticate` value: a bare `Bearer` challenge when no bearer token came
    /// (RFC 6750, section 3.1, names no error then), `invalid_token` when one did.
    fn challenge(self) -> String {
        match self {
            Refusal::Missing | Refusal::OtherScheme => "Bearer".into(),
            Refusal::Invalid | Refusal::Expired => format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\"",
                self.message()
            ),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> ApiError {
        ApiError::unauthorized(refusal.message(), refusal.challenge())
    }
}

/// The token of an `Authorization: Bearer <token>` header; the scheme is matched in any
/// case (RFC 9110, section 11.1).
fn bearer_token(headers: &HeaderMap) -> Result<&str, Refusal> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(Refusal::Missing)?
        .to_str()
        .map_err(|_| Refusal::Invalid)?
        .trim();
    if value.is_empty() {
        return Err(Refusal::Missing);
    }
    let (scheme, token) = value
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Refusal::OtherScheme);
    }
    match token.trim() {
        "" => Err(Refusal::Missing),
        token => Ok(token),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    fn bearer(token: &str) -> HeaderMap {
        authorization(&format!("Bearer {token}"))
    }

    #[test]
    fn without_a_token_nothing_is_checked() {
        assert!(Auth::new(None, None).check(&HeaderMap::new()).is_ok());
    }

    #[test]
    fn the_configured_and_issued_tokens_pass_and_others_do_not() {
        let auth = Auth::new(Some("T".into()), None);
        assert!(auth.check(&bearer("T")).is_ok());
        assert_eq!(auth.check(&bearer("U")).unwrap_err().code, "Unauthorized");
        assert!(auth.check(&HeaderMap::new()).is_err());
        let issued = auth.issue();
        assert!(auth.check(&bearer(&issued)).is_ok());
    }

    #[test]
    fn an_error_never_echoes_the_token() {
        let auth = Auth::new(Some("T".into()), None);
        let error = auth.check(&bearer("secret-value")).unwrap_err();
        assert!(!error.message.contains("secret-value"));
    }

    #[test]
    fn a_token_expires_its_ttl_after_first_use() {
        let auth = Auth::new(None, Some(Duration::from_secs(10)));
        let start = Instant::now();
        let at = |s| start + Duration::from_secs(s);
        assert!(auth.check_at(&bearer("A"), at(0)).is_ok());
        assert!(auth.check_at(&bearer("A"), at(9)).is_ok());
        assert!(auth.check_at(&bearer("B"), at(9)).is_ok());
        assert!(auth.check_at(&bearer("A"), at(10)).is_err());
        assert!(auth.check_at(&bearer("B"), at(10)).is_ok());
    }

    #[test]
    fn the_scheme_is_matched_in_any_case() {
        let auth = Auth::new(Some("T".into()), None);
        assert!(auth.check(&authorization("bearer T")).is_ok());
        assert!(auth.check(&authorization("BEARER  T ")).is_ok());
        assert!(auth.check(&authorization("Basic T")).is_err());
    }

    #[test]
    fn a_missing_token_and_a_wrong_one_are_told_apart_in_message_and_challenge() {
        let auth = Auth::new(Some("T".into()), None);
        let refused = |headers: &HeaderMap| {
            let e = auth.check(headers).unwrap_err();
            (e.status.as_u16(), e.message, e.challenge.unwrap())
        };
        let missing = refused(&HeaderMap::new());
        assert_eq!(missing.0, 401);
        assert!(missing.1.contains("no access token"), "{}", missing.1);
        assert_eq!(missing.2, "Bearer");
        assert_eq!(refused(&authorization("Bearer ")).1, missing.1);
        let wrong = refused(&bearer("U"));
        assert_eq!(wrong.1, "the bearer token is not valid");
        assert!(
            wrong.2.starts_with("Bearer error=\"invalid_token\""),
            "{}",
            wrong.2
        );
        let other = refused(&authorization("Basic dTpw"));
        assert!(other.1.contains("Bearer scheme"), "{}", other.1);
        assert_eq!(other.2, "Bearer");
    }

    #[test]
    fn an_expired_token_is_an_invalid_token_saying_it_expired() {
        let auth = Auth::new(None, Some(Duration::from_secs(1)));
        let start = Instant::now();
        assert!(auth.check_at(&bearer("A"), start).is_ok());
        let error = auth
            .check_at(&bearer("A"), start + Duration::from_secs(1))
            .unwrap_err();
        assert!(error.message.contains("expired"));
        assert!(error.challenge.unwrap().contains("invalid_token"));
    }

    #[test]
    fn a_refresh_token_is_exchanged_once() {
        let auth = Auth::new(None, None);
        assert!(auth.spend_refresh_token("written-by-hand"));
        assert!(!auth.spend_refresh_token("written-by-hand"));
        assert!(auth.spend_refresh_token("another"));
    }
}
