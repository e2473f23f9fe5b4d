//! Bearer-token checks: the `--token` the emulator was started with, tokens its token
//! endpoint issued, and `--token-ttl` expiry. Token values are never logged or echoed.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};
use tokio::time::Instant;

use super::reply::ApiError;

/// Who may call the referrals endpoints.
#[derive(Debug)]
pub struct Auth {
    token: Option<String>,
    ttl: Option<Duration>,
    issued: Mutex<HashSet<String>>,
    first_seen: Mutex<HashMap<String, Instant>>,
    devices: Mutex<HashMap<String, u32>>,
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
        }
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
    pub fn start_device(&self) -> (String, String) {
        let mut devices = self.devices.lock().unwrap_or_else(PoisonError::into_inner);
        let code = format!("device-{}", uuid::Uuid::new_v4().simple());
        let user_code = format!("EMU{:05}", devices.len() + 1);
        devices.insert(code.clone(), 0);
        (code, user_code)
    }

    /// Counts a poll of a device code: how many polls came before, `None` if unknown.
    pub fn poll_device(&self, code: &str) -> Option<u32> {
        let mut devices = self.devices.lock().unwrap_or_else(PoisonError::into_inner);
        let polls = devices.get_mut(code)?;
        *polls += 1;
        Some(*polls - 1)
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
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(token) = presented.filter(|t| self.known(t)) else {
            return Err(unauthorized("a valid bearer token is required"));
        };
        if self.expired(token, now) {
            return Err(unauthorized(
                "the access token has expired; fetch a new one",
            ));
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

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        headers
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
}
