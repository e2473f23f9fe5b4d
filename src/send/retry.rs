//! The retry policy: which answers are worth another try, how long to wait (exponential
//! backoff with full jitter, never less than the server's `Retry-After`), and parsing
//! `Retry-After` in both of its forms.
//!
//! 412 is deliberately not a retry: it is a conflict, decided by the conflict policy.

use super::transport::{Response, TransportError};
use std::time::{Duration, SystemTime};

/// A `Retry-After` longer than this is cut down to it: a nightly run should not sleep for
/// a day because one answer said so; the pause is still run-wide and the retry still waits.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// When a 429 comes without `Retry-After`, every worker still pauses at least this long:
/// a near-zero jittered wait would just earn another 429.
pub const MIN_THROTTLE_PAUSE: Duration = Duration::from_secs(1);

/// What one exchange's result means for the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Class {
    /// An answer that another try would not change (2xx, 412, other 4xx, …).
    Final,
    /// 401: fetch the token again and repeat.
    Unauthorized,
    /// Worth another try.
    Retry {
        /// The server's `Retry-After`, as a minimum wait.
        retry_after: Option<Duration>,
        /// A 429: every worker pauses.
        throttled: bool,
        /// The request may have been applied (timeout or connection lost after sending).
        maybe_applied: bool,
    },
}

/// The statuses worth another try: timeouts, throttling and server trouble.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// Classifies one exchange's result; `now` dates an HTTP-date `Retry-After`.
pub fn classify(result: &Result<Response, TransportError>, now: SystemTime) -> Class {
    match result {
        Ok(response) if response.status == 401 => Class::Unauthorized,
        Ok(response) if is_retryable_status(response.status) => Class::Retry {
            retry_after: response
                .retry_after
                .as_deref()
                .and_then(|value| parse_retry_after(value, now)),
            throttled: response.status == 429,
            maybe_applied: false,
        },
        Ok(_) => Class::Final,
        Err(TransportError::Connect(_)) => retry(false),
        Err(TransportError::Timeout | TransportError::Lost(_)) => retry(true),
        // Neither is helped by another try; a certificate failure also stops the run.
        Err(TransportError::Invalid(_) | TransportError::Certificate(_)) => Class::Final,
    }
}

fn retry(maybe_applied: bool) -> Class {
    Class::Retry {
        retry_after: None,
        throttled: false,
        maybe_applied,
    }
}

/// Parses `Retry-After`: delta-seconds or an HTTP date (a date in the past means now).
/// Capped at [`MAX_RETRY_AFTER`]; anything unreadable is ignored, as if absent.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(now)
            .unwrap_or(Duration::ZERO),
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Exponential backoff with full jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first retry's wait.
    pub base: Duration,
    /// The ceiling never grows beyond this.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(250),
            cap: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The most the `retry`-th retry (1-based) waits before jitter: base·2^(retry-1), capped.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32 << retry.saturating_sub(1).min(20);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The wait before the `retry`-th retry: uniform in [0, ceiling] (full jitter spreads
    /// workers that failed together), and never less than `at_least`.
    pub fn delay(&self, retry: u32, at_least: Option<Duration>) -> Duration {
        let ceiling = self.ceiling(retry).as_millis() as u64;
        let jittered = Duration::from_millis(rand::random_range(0..=ceiling));
        jittered.max(at_least.unwrap_or(Duration::ZERO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, retry_after: Option<&str>) -> Result<Response, TransportError> {
        Ok(Response {
            status,
            retry_after: retry_after.map(str::to_string),
            ..Response::default()
        })
    }

    #[test]
    fn server_trouble_and_throttling_are_retried_and_other_4xx_are_not() {
        let now = SystemTime::now();
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(matches!(
                classify(&answer(status, None), now),
                Class::Retry { .. }
            ));
        }
        for status in [200, 204, 400, 403, 404, 409, 412, 501] {
            assert_eq!(classify(&answer(status, None), now), Class::Final);
        }
        assert_eq!(classify(&answer(401, None), now), Class::Unauthorized);
    }

    #[test]
    fn a_lost_response_may_have_been_applied_and_a_refused_connection_not() {
        let now = SystemTime::now();
        assert_eq!(classify(&Err(TransportError::Timeout), now), retry(true));
        assert_eq!(
            classify(&Err(TransportError::Lost("eof".into())), now),
            retry(true)
        );
        assert_eq!(
            classify(&Err(TransportError::Connect("refused".into())), now),
            retry(false)
        );
    }

    #[test]
    fn a_certificate_that_is_not_trusted_is_not_retried() {
        let untrusted = TransportError::Certificate("UnknownIssuer".into());
        assert_eq!(classify(&Err(untrusted), SystemTime::now()), Class::Final);
    }

    #[test]
    fn retry_after_seconds_and_http_date_are_both_read() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").expect("date");
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:49 GMT", now),
            Some(Duration::from_secs(12))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("86400", now), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn a_429_carries_its_retry_after_and_says_it_throttled() {
        let class = classify(&answer(429, Some("3")), SystemTime::now());
        assert_eq!(
            class,
            Class::Retry {
                retry_after: Some(Duration::from_secs(3)),
                throttled: true,
                maybe_applied: false
            }
        );
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_jitter_stays_below_the_ceiling() {
        let backoff = Backoff::default();
        assert_eq!(backoff.ceiling(1), Duration::from_millis(250));
        assert_eq!(backoff.ceiling(3), Duration::from_secs(1));
        assert_eq!(backoff.ceiling(40), Duration::from_secs(30));
        for retry in 1..10 {
            assert!(backoff.delay(retry, None) <= backoff.ceiling(retry));
        }
    }

    #[test]
    fn retry_after_is_a_minimum_wait() {
        let wait = Backoff::default().delay(1, Some(Duration::from_secs(9)));
        assert_eq!(wait, Duration::from_secs(9));
    }
}
