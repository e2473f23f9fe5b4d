//! The OAuth 2.0 wire format of the Microsoft identity platform: form posts to the token
//! and device-code endpoints, their JSON answers, and their `{error, error_description}`
//! refusals. Secrets go into [`Secret`]s as soon as they are parsed.

use super::AuthError;
use crate::send::Secret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// How long one request to the sign-in service may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Access tokens live about an hour; assumed when an answer has no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// A token endpoint's success answer.
pub struct TokenAnswer {
    /// The access token for the API.
    pub access_token: Secret,
    /// A new refresh token, when the service rotates it.
    pub refresh_token: Option<Secret>,
    /// How long the access token lives.
    pub expires_in: Duration,
}

/// The raw JSON; never `Debug`, since it holds the tokens as plain strings.
#[derive(Deserialize)]
struct RawTokenAnswer {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<u64>,
}

/// An OAuth refusal: `error` and `error_description`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Refusal {
    /// The OAuth error code (`authorization_pending`, `invalid_grant`, …).
    pub error: String,
    /// The service's description.
    #[serde(default)]
    pub error_description: String,
}

impl Refusal {
    /// The refusal with each of `secrets` blotted out of its text: a service (or a proxy
    /// in front of it) may echo what it was sent, and the text ends up in errors and logs.
    pub fn redacted(mut self, secrets: &[&Secret]) -> Refusal {
        for secret in secrets.iter().map(|s| s.expose()).filter(|s| !s.is_empty()) {
            self.error = self.error.replace(secret, "***");
            self.error_description = self.error_description.replace(secret, "***");
        }
        self
    }
}

/// The HTTP client for the sign-in service at `authority`: rustls, proxies from the
/// environment, but none for a loopback authority (the emulator's), which no proxy could
/// reach.
pub fn client(authority: &str) -> Result<reqwest::Client, AuthError> {
    let builder = reqwest::Client::builder().timeout(REQUEST_TIMEOUT);
    crate::send::proxied_unless_loopback(builder, authority)
        .build()
        .map_err(|e| AuthError::Unreachable {
            url: String::new(),
            reason: e.to_string(),
        })
}

/// Posts `form` to the token endpoint `url`: the tokens, or the service's refusal.
pub async fn request_token(
    client: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> Result<Result<TokenAnswer, Refusal>, AuthError> {
    let answer: Result<RawTokenAnswer, Refusal> = post_form(client, url, form).await?;
    Ok(answer.map(|raw| TokenAnswer {
        access_token: Secret::new(raw.access_token),
        refresh_token: raw.refresh_token.filter(|t| !t.is_empty()).map(Secret::new),
        expires_in: raw.expires_in.map_or(DEFAULT_LIFETIME, Duration::from_secs),
    }))
}

/// Tries of one form post when the sign-in service fails in a way that passes: a
/// connection error, no answer in time, 408, 429, 500, 502, 503, 504, or the OAuth error
/// `temporarily_unavailable`. One blip must not fail a nightly run, nor send its operator
/// to sign in again.
const TRIES: u32 = 4;

/// The longest pause between two tries, whatever `Retry-After` asks.
const LONGEST_PAUSE: Duration = Duration::from_secs(30);

/// Posts `form` to `url` and reads a JSON answer of type `T` (2xx) or a [`Refusal`],
/// trying again (up to [`TRIES`] in all, after `Retry-After` or a growing pause) while the
/// service fails in a way that passes.
pub async fn post_form<T: DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> Result<Result<T, Refusal>, AuthError> {
    let mut tries = 1;
    loop {
        let answer = post_once(client, url, form).await;
        let pause = match &answer {
            Posted::Passing { retry_after, .. } => {
                retry_after.unwrap_or(Duration::from_secs(1 << (tries - 1)))
            }
            Posted::Final(_) => return answer.into_result(),
        };
        if tries >= TRIES {
            return answer.into_result();
        }
        tracing::warn!(url, tries, pause_ms = pause.as_millis() as u64, error = %answer.describe(), "the sign-in service failed; trying again");
        tokio::time::sleep(pause.min(LONGEST_PAUSE)).await;
        tries += 1;
    }
}

/// One post's outcome: final, or a failure that may pass.
enum Posted<T> {
    /// The answer, or an error that another try would not change.
    Final(Result<Result<T, Refusal>, AuthError>),
    /// A failure worth another try, after `retry_after` where the service said; what the
    /// caller gets if no try is left.
    Passing {
        outcome: Result<Result<T, Refusal>, AuthError>,
        retry_after: Option<Duration>,
    },
}

impl<T> Posted<T> {
    fn into_result(self) -> Result<Result<T, Refusal>, AuthError> {
        match self {
            Posted::Final(outcome) | Posted::Passing { outcome, .. } => outcome,
        }
    }

    /// What failed, for the log: never the service's description, which the caller
    /// redacts before it shows it.
    fn describe(&self) -> String {
        match self {
            Posted::Passing {
                outcome: Err(error),
                ..
            } => error.to_string(),
            Posted::Passing {
                outcome: Ok(Err(refusal)),
                ..
            } => format!("OAuth error {}", refusal.error),
            _ => String::new(),
        }
    }
}

/// One post of `form` to `url`.
async fn post_once<T: DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> Posted<T> {
    let unreachable = |e: reqwest::Error| {
        let reason = match e.is_timeout() {
            true => format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()),
            false => e.without_url().to_string(),
        };
        Posted::Passing {
            outcome: Err(AuthError::Unreachable {
                url: url.to_string(),
                reason,
            }),
            retry_after: None,
        }
    };
    let response = match client.post(url).form(form).send().await {
        Ok(response) => response,
        Err(error) => return unreachable(error),
    };
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(error) => return unreachable(error),
    };
    let bad = |reason: String| AuthError::BadAnswer {
        url: url.to_string(),
        reason,
    };
    if status.is_success() {
        // Only the position, never serde's message: it may quote a value, i.e. a token.
        return Posted::Final(serde_json::from_slice(&body).map(Ok).map_err(|e| {
            bad(format!(
                "HTTP {status}, not the expected JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        }));
    }
    let refusal = serde_json::from_slice::<Refusal>(&body);
    let passing = matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
        || refusal
            .as_ref()
            .is_ok_and(|r| r.error == "temporarily_unavailable");
    let outcome = refusal
        .map(Err)
        .map_err(|_| bad(format!("HTTP {status} without an OAuth error")));
    match passing {
        true => Posted::Passing {
            outcome,
            retry_after,
        },
        false => Posted::Final(outcome),
    }
}

/// A `Retry-After` header given in seconds.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse().ok().map(Duration::from_secs)
}

/// Turns a refusal into an error with what to do next.
pub fn refused(refusal: Refusal, hint: &'static str) -> AuthError {
    AuthError::Refused {
        code: refusal.error,
        description: refusal.error_description,
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_echoing_what_it_was_sent_has_the_secrets_blotted_out() {
        let refusal = Refusal {
            error: "invalid_grant".into(),
            error_description: "refresh_token=rt-123&client_secret=cs-456 is not valid".into(),
        };
        let secrets = [
            Secret::new("rt-123"),
            Secret::new("cs-456"),
            Secret::new(""),
        ];
        let redacted = refusal.redacted(&secrets.iter().collect::<Vec<_>>());
        assert_eq!(
            redacted.error_description,
            "refresh_token=***&client_secret=*** is not valid"
        );
        assert_eq!(redacted.error, "invalid_grant");
    }
}
