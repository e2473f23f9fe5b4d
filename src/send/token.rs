//! Bearer tokens: a [`Secret`] wrapper that never prints its value, the places a token
//! comes from, and a [`TokenProvider`] that fetches it once and again after a 401.
//!
//! Refreshing is generation-counted so that a wave of 401s (every worker holding the same
//! expired token) re-runs `--token-command` once, not once per worker.

use super::SendError;
use std::fmt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::sync::Mutex;

/// How long `--token-command` may run: a hung `az` login must not hang the nightly run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// A secret string (token, refresh token, client secret). `Debug` and `Display` print
/// `***`; [`Secret::expose`] is the only way to the value, so every use is greppable.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value itself; only for the place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where the access token comes from, first found wins (SPEC.md "Sending").
#[derive(Clone, Debug)]
pub enum TokenSource {
    /// `--token-command CMD`: run with `sh -c`, its trimmed stdout; re-run on 401.
    Command(String),
    /// `--token-file FILE`: its trimmed content; re-read on 401.
    File(PathBuf),
    /// `PARTNER_CENTER_TOKEN`: fixed for the run.
    Env(Secret),
    /// A fixed token, e.g. the in-process emulator's.
    Fixed(Secret),
    /// The `[auth]` refresh-token grant: a new access token per fetch, renewed before expiry.
    Refresh(crate::auth::RefreshGrant),
}

impl TokenSource {
    /// Whether the current token should be replaced before it is used again.
    fn renewal_due(&self) -> bool {
        matches!(self, TokenSource::Refresh(grant) if grant.renewal_due())
    }
}

/// The token currently in use and how many times it has been fetched.
struct Current {
    generation: u64,
    token: Option<Secret>,
}

/// Hands out the current token and refreshes it at most once per wave of 401s.
pub struct TokenProvider {
    source: TokenSource,
    current: Mutex<Current>,
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProvider")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    /// A provider that fetches from `source` on first use.
    pub fn new(source: TokenSource) -> Self {
        TokenProvider {
            source,
            current: Mutex::new(Current {
                generation: 0,
                token: None,
            }),
        }
    }

    /// The token to send and its generation, fetching it the first time.
    pub async fn current(&self) -> Result<(u64, Secret), SendError> {
        let mut current = self.current.lock().await;
        if let Some(token) = &current.token
            && !self.source.renewal_due()
        {
            return Ok((current.generation, token.clone()));
        }
        self.fetch_into(&mut current).await
    }

    /// A fresh token after a 401 on a request sent with generation `seen_generation`.
    /// When another worker already refreshed past it, its newer token is returned as is.
    pub async fn refresh(&self, seen_generation: u64) -> Result<(u64, Secret), SendError> {
        let (generation, token, _) = self.renew(seen_generation).await?;
        Ok((generation, token))
    }

    /// Like [`TokenProvider::refresh`], and also says whether this call fetched the token
    /// itself (`true`) or found one that another worker had fetched since (`false`): only
    /// a token a request fetched for itself proves the source bad when it is refused again.
    pub async fn renew(&self, seen_generation: u64) -> Result<(u64, Secret, bool), SendError> {
        let mut current = self.current.lock().await;
        match &current.token {
            Some(token) if current.generation > seen_generation => {
                Ok((current.generation, token.clone(), false))
            }
            _ => {
                let (generation, token) = self.fetch_into(&mut current).await?;
                Ok((generation, token, true))
            }
        }
    }

    /// Fetches while holding the lock, so concurrent callers wait for this one fetch.
    async fn fetch_into(&self, current: &mut Current) -> Result<(u64, Secret), SendError> {
        let token = fetch(&self.source).await?;
        current.generation += 1;
        current.token = Some(token.clone());
        tracing::debug!(generation = current.generation, "access token fetched");
        Ok((current.generation, token))
    }
}

/// Reads the token from its source, checked to be usable as a header value.
async fn fetch(source: &TokenSource) -> Result<Secret, SendError> {
    let (raw, origin) = match source {
        TokenSource::Command(cmd) => (run_command(cmd).await?, "--token-command"),
        TokenSource::File(path) => (read_file(path).await?, "--token-file"),
        TokenSource::Env(token) => (token.expose().to_string(), "PARTNER_CENTER_TOKEN"),
        TokenSource::Fixed(token) => (token.expose().to_string(), "the configured token"),
        TokenSource::Refresh(grant) => {
            let token = grant
                .fetch()
                .await
                .map_err(|e| SendError::Token(e.to_string()))?;
            (token.expose().to_string(), "the [auth] refresh-token grant")
        }
    };
    checked(raw.trim(), origin)
}

/// Refuses an empty token or one that cannot travel in an `Authorization` header.
fn checked(token: &str, origin: &str) -> Result<Secret, SendError> {
    if token.is_empty() {
        return Err(SendError::Token(format!(
            "{origin} gave an empty token; check that it prints an access token for https://api.partner.microsoft.com"
        )));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SendError::Token(format!(
            "{origin} gave a token with spaces or non-ASCII characters; it must print only the access token"
        )));
    }
    Ok(Secret::new(token))
}

/// Runs `sh -c CMD`; its stderr goes straight to the user's terminal, never into our
/// messages, in case a failing command echoes something secret.
async fn run_command(cmd: &str) -> Result<String, SendError> {
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(COMMAND_TIMEOUT, child)
        .await
        .map_err(|_| {
            SendError::Token(format!(
                "--token-command did not finish within {}s; check that it runs without prompting",
                COMMAND_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| SendError::Token(format!("cannot run --token-command with sh: {e}")))?;
    if !output.status.success() {
        return Err(SendError::Token(format!(
            "--token-command failed ({}); run it by hand to see why, e.g. sign in again",
            output.status
        )));
    }
    String::from_utf8(output.stdout).map_err(|_| {
        SendError::Token("--token-command printed something that is not UTF-8 text".into())
    })
}

/// Reads `--token-file` afresh (another process may have rotated it).
async fn read_file(path: &PathBuf) -> Result<String, SendError> {
    tokio::fs::read_to_string(path).await.map_err(|e| {
        SendError::Token(format!(
            "cannot read --token-file {}: {e}; check the path and its permissions",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn secret_debug_and_display_hide_the_value() {
        let secret = Secret::new("eyJhbGciOi.top.secret");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{secret}"), "***");
        let source = TokenSource::Env(secret.clone());
        assert!(!format!("{source:?}").contains("top.secret"));
        assert_eq!(secret.expose(), "eyJhbGciOi.top.secret");
    }

    #[tokio::test]
    async fn command_output_is_trimmed_and_refresh_reruns_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let counter = dir.path().join("n");
        let cmd = format!(
            "echo x >> {0}; printf ' tok%s \\n' $(wc -l < {0})",
            counter.display()
        );
        let provider = TokenProvider::new(TokenSource::Command(cmd));
        let (generation, token) = provider.current().await.expect("token");
        assert_eq!((generation, token.expose()), (1, "tok1"));
        let (generation, token) = provider.refresh(1).await.expect("token");
        assert_eq!((generation, token.expose()), (2, "tok2"));
    }

    #[tokio::test]
    async fn a_stale_refresh_returns_the_newer_token_without_refetching() {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        writeln!(file, "first").expect("write");
        let provider = TokenProvider::new(TokenSource::File(file.path().into()));
        provider.current().await.expect("token");
        std::fs::write(file.path(), "second").expect("write");
        assert_eq!(
            provider.refresh(1).await.expect("token").1.expose(),
            "second"
        );
        std::fs::write(file.path(), "third").expect("write");
        let (generation, token) = provider.refresh(1).await.expect("token");
        assert_eq!((generation, token.expose()), (2, "second"));
    }

    #[tokio::test]
    async fn a_failing_or_silent_command_is_a_token_error_that_says_what_to_do() {
        for cmd in ["exit 3", "true"] {
            let provider = TokenProvider::new(TokenSource::Command(cmd.into()));
            match provider.current().await {
                Err(SendError::Token(message)) => assert!(message.contains("--token-command")),
                other => panic!("expected a token error, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_token_error_never_contains_the_token() {
        let provider = TokenProvider::new(TokenSource::Fixed(Secret::new("has space")));
        let message = provider.current().await.expect_err("refused").to_string();
        assert!(!message.contains("has space"));
    }
}
