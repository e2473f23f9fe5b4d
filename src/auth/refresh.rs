//! The refresh-token grant of unattended runs: trade the stored refresh token for an
//! access token, know when that token is due for renewal, and save a rotated refresh
//! token at once so the old one is never used again.
//!
//! The refresh token is read from its file before every exchange rather than kept in
//! memory: the file is the one place that always holds the newest token, also when
//! another process (a `refsync auth login`) has replaced it since.

use super::oauth::{self, TokenAnswer};
use super::{AuthError, AuthSettings, store};
use crate::send::Secret;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Renew at most this long before expiry: long enough for a slow sign-in service, short
/// enough not to waste a token's life.
const MAX_RENEWAL_MARGIN: Duration = Duration::from_secs(300);

/// The `[auth]` refresh-token grant, shared by every worker of a run.
#[derive(Clone)]
pub struct RefreshGrant {
    inner: Arc<Inner>,
}

struct Inner {
    settings: AuthSettings,
    client: reqwest::Client,
    /// When the access token last fetched should be replaced; `None` before the first.
    renew_at: Mutex<Option<Instant>>,
}

impl fmt::Debug for RefreshGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings = &self.inner.settings;
        f.debug_struct("RefreshGrant")
            .field("token_url", &settings.token_url())
            .field("client_id", &settings.client_id)
            .field("refresh_token_file", &settings.refresh_token_file)
            .finish_non_exhaustive()
    }
}

/// What `config show` says of the grant: the app, where tokens come from and where the
/// refresh token is kept; never a secret.
impl fmt::Display for RefreshGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings = &self.inner.settings;
        write!(
            f,
            "client_id {} at {}, refresh token kept in {}",
            settings.client_id,
            settings.token_url(),
            settings.refresh_token_file.display()
        )
    }
}

impl RefreshGrant {
    /// A grant for `settings`; nothing is fetched yet.
    pub fn new(settings: AuthSettings) -> Result<RefreshGrant, AuthError> {
        let client = oauth::client(&settings.authority)?;
        Ok(RefreshGrant {
            inner: Arc::new(Inner {
                settings,
                client,
                renew_at: Mutex::new(None),
            }),
        })
    }

    /// Exchanges the stored refresh token for a fresh access token, saving the rotated
    /// refresh token (if the service sent one) before the access token is used.
    pub async fn fetch(&self) -> Result<Secret, AuthError> {
        let settings = &self.inner.settings;
        let refresh_token = store::read(&settings.refresh_token_file)?;
        store::check_writable(&settings.refresh_token_file)?;
        let answer = self.exchange(&refresh_token).await?;
        if let Some(rotated) = answer.refresh_token.filter(|t| *t != refresh_token) {
            store::save(&settings.refresh_token_file, &rotated)?;
            tracing::info!(file = %settings.refresh_token_file.display(), "saved the rotated refresh token");
        }
        let renew_at = Instant::now() + renew_after(answer.expires_in);
        *self
            .inner
            .renew_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(renew_at);
        Ok(answer.access_token)
    }

    /// Whether the access token last fetched is near its expiry and should be replaced.
    pub fn renewal_due(&self) -> bool {
        let renew_at = *self
            .inner
            .renew_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        renew_at.is_some_and(|at| Instant::now() >= at)
    }

    /// One `grant_type=refresh_token` request.
    async fn exchange(&self, refresh_token: &Secret) -> Result<TokenAnswer, AuthError> {
        let settings = &self.inner.settings;
        let scope = settings.scope_with_offline_access();
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("client_id", settings.client_id.as_str()),
            ("refresh_token", refresh_token.expose()),
            ("scope", scope.as_str()),
        ];
        if let Some(secret) = &settings.client_secret {
            form.push(("client_secret", secret.expose()));
        }
        oauth::request_token(&self.inner.client, &settings.token_url(), &form)
            .await?
            .map_err(|refusal| {
                let sent: Vec<&Secret> = std::iter::once(refresh_token)
                    .chain(&settings.client_secret)
                    .collect();
                let hint = refusal_hint(&refusal.error);
                oauth::refused(refusal.redacted(&sent), hint)
            })
    }
}

/// What to do about a refusal of the refresh-token grant, by its OAuth error code: only
/// a token that expired or was revoked needs a new sign-in.
fn refusal_hint(code: &str) -> &'static str {
    match code {
        "invalid_grant" | "interaction_required" => {
            "the stored refresh token may have expired or been revoked: sign in again with `refsync auth login`"
        }
        "invalid_client" | "unauthorized_client" => {
            "check [auth] client_id and the client secret (client_secret_file or client_secret_env)"
        }
        "temporarily_unavailable" | "server_error" => {
            "the sign-in service kept failing; run again later"
        }
        _ => {
            "check [auth] tenant, client_id and authority; if they are right, sign in again with `refsync auth login`"
        }
    }
}

/// How long after issue a token of `lifetime` is renewed: a tenth of its life early, at
/// most [`MAX_RENEWAL_MARGIN`].
fn renew_after(lifetime: Duration) -> Duration {
    lifetime.saturating_sub((lifetime / 10).min(MAX_RENEWAL_MARGIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_shortly_before_they_expire() {
        assert_eq!(
            renew_after(Duration::from_secs(3600)),
            Duration::from_secs(3300)
        );
        assert_eq!(
            renew_after(Duration::from_secs(100)),
            Duration::from_secs(90)
        );
        assert_eq!(renew_after(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn debug_shows_no_secret() {
        let grant = RefreshGrant::new(AuthSettings {
            authority: "https://login.example".into(),
            tenant: "t".into(),
            client_id: "c".into(),
            client_secret: Some(Secret::new("very-secret")),
            refresh_token_file: "rt".into(),
            scope: "s".into(),
        })
        .expect("grant");
        let text = format!("{grant:?}");
        assert!(
            text.contains("login.example") && !text.contains("very-secret"),
            "{text}"
        );
        assert!(!grant.renewal_due(), "nothing fetched, nothing to renew");
    }
}
