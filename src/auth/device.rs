//! `refsync auth login`: the OAuth 2.0 device-code grant. Ask for a code, show the user
//! where to enter it, poll the token endpoint at the interval the service asks for
//! (slower after `slow_down`) until it answers or the code expires, then save the
//! refresh token.

use super::oauth::{self, Refusal, TokenAnswer};
use super::{AuthError, AuthSettings, store};
use crate::send::Secret;
use serde::Deserialize;
use std::time::{Duration, Instant};

/// The device-code grant type.
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// What `slow_down` adds to the polling interval (RFC 8628 §3.5).
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// What the user must see: where to go and which code to enter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    /// The page to open.
    pub verification_uri: String,
    /// The code to enter there.
    pub user_code: String,
}

/// The device-code endpoint's answer.
#[derive(Deserialize)]
struct DeviceCode {
    device_code: String,
    user_code: String,
    verification_uri: String,
    expires_in: u64,
    #[serde(default = "default_interval")]
    interval: u64,
}

/// RFC 8628's default when the service names no interval.
fn default_interval() -> u64 {
    5
}

/// What to do after a poll was refused.
#[derive(Debug)]
enum Step {
    /// Poll again after this long.
    Wait(Duration),
    /// Give up.
    Fail(AuthError),
}

/// Runs the device-code sign-in; `show` tells the user where to sign in. Returns once the
/// refresh token is saved in `settings.refresh_token_file`.
pub async fn login(settings: &AuthSettings, show: impl FnOnce(&Prompt)) -> Result<(), AuthError> {
    let client = oauth::client(&settings.authority)?;
    let code = start(&client, settings).await?;
    show(&Prompt {
        verification_uri: code.verification_uri.clone(),
        user_code: code.user_code.clone(),
    });
    let answer = poll(&client, settings, &code).await?;
    let refresh_token = answer.refresh_token.ok_or(AuthError::NoRefreshToken)?;
    store::save(&settings.refresh_token_file, &refresh_token)
}

/// Asks for a device code.
async fn start(client: &reqwest::Client, settings: &AuthSettings) -> Result<DeviceCode, AuthError> {
    let scope = settings.scope_with_offline_access();
    let form = [
        ("client_id", settings.client_id.as_str()),
        ("scope", scope.as_str()),
    ];
    oauth::post_form(client, &settings.device_code_url(), &form)
        .await?
        .map_err(|refusal| oauth::refused(refusal, "check [auth] tenant, client_id and scope, and that the app registration allows public client flows"))
}

/// Polls the token endpoint until it gives tokens, refuses, or the code expires.
async fn poll(
    client: &reqwest::Client,
    settings: &AuthSettings,
    code: &DeviceCode,
) -> Result<TokenAnswer, AuthError> {
    let device_code = Secret::new(code.device_code.clone());
    let form = [
        ("grant_type", DEVICE_GRANT),
        ("client_id", settings.client_id.as_str()),
        ("device_code", device_code.expose()),
    ];
    let lifetime = Duration::from_secs(code.expires_in);
    let deadline = Instant::now() + lifetime;
    let mut interval = Duration::from_secs(code.interval.max(1));
    loop {
        tokio::time::sleep(interval).await;
        if Instant::now() >= deadline {
            return Err(AuthError::CodeExpired {
                minutes: lifetime.as_secs().div_ceil(60),
            });
        }
        match oauth::request_token(client, &settings.token_url(), &form).await? {
            Ok(answer) => return Ok(answer),
            Err(refusal) => match next_step(refusal, interval, lifetime) {
                Step::Wait(next) => interval = next,
                Step::Fail(error) => return Err(error),
            },
        }
    }
}

/// Decides from a refused poll whether to wait (and how long) or give up.
fn next_step(refusal: Refusal, interval: Duration, lifetime: Duration) -> Step {
    match refusal.error.as_str() {
        "authorization_pending" => Step::Wait(interval),
        "slow_down" => Step::Wait(interval + SLOW_DOWN_STEP),
        "expired_token" => Step::Fail(AuthError::CodeExpired {
            minutes: lifetime.as_secs().div_ceil(60),
        }),
        "authorization_declined" | "access_denied" => Step::Fail(oauth::refused(
            refusal,
            "the sign-in was declined; run `refsync auth login` again and approve it",
        )),
        _ => Step::Fail(oauth::refused(
            refusal,
            "check [auth] tenant and client_id, then run `refsync auth login` again",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(error: &str) -> Refusal {
        Refusal {
            error: error.into(),
            error_description: String::new(),
        }
    }

    const SECOND: Duration = Duration::from_secs(1);
    const LIFE: Duration = Duration::from_secs(900);

    #[test]
    fn pending_waits_the_same_and_slow_down_adds_five_seconds() {
        assert!(
            matches!(next_step(refusal("authorization_pending"), SECOND, LIFE), Step::Wait(d) if d == SECOND)
        );
        assert!(
            matches!(next_step(refusal("slow_down"), SECOND, LIFE), Step::Wait(d) if d == Duration::from_secs(6))
        );
    }

    #[test]
    fn an_expired_code_says_to_sign_in_again() {
        match next_step(refusal("expired_token"), SECOND, LIFE) {
            Step::Fail(error) => {
                let message = error.to_string();
                assert!(
                    message.contains("refsync auth login") && message.contains("15 minutes"),
                    "{message}"
                );
            }
            Step::Wait(_) => panic!("an expired code must stop polling"),
        }
    }

    #[test]
    fn other_errors_stop_with_the_service_code() {
        for code in ["access_denied", "invalid_client", "bad_verification_code"] {
            match next_step(refusal(code), SECOND, LIFE) {
                Step::Fail(error) => assert!(error.to_string().contains(code)),
                Step::Wait(_) => panic!("{code} must stop polling"),
            }
        }
    }
}
