//! Bearer tokens: a [`Secret`] wrapper that never prints its value, the places a token
//! comes from, and a [`TokenProvider`] that fetches it once and again after a 401.
//!
//! Refreshing is generation-counted so that a wave of 401s (every worker holding the same
//! expired token) re-runs `--token-command` once, not once per worker. A token fetched
//! because of a 401 that is refused before it ever worked proves the source gives tokens
//! the API does not take: that stops the run (SPEC.md "Sending"). One that worked and is
//! refused later has expired: that starts a new wave.

use super::SendError;
use std::fmt;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::AsyncReadExt;
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
    /// What the second 401 of a run means for this source, as its message says it: a
    /// source that gives one token for the whole run had none fresher to give.
    fn second_refusal(&self) -> &'static str {
        match self {
            TokenSource::Env(_) => {
                "and PARTNER_CENTER_TOKEN holds one token, which refsync cannot renew (set a \
                 fresh one, or use --token-command or [auth] for runs that outlast a token)"
            }
            TokenSource::Fixed(_) => "and the configured token is one refsync cannot renew",
            _ => "the second time just after fetching a fresh one",
        }
    }

    /// Checks, before a run starts, what can be checked without fetching a token: that a
    /// `--token-file` can be opened (its content may still be renewed before first use).
    pub fn check_start(&self) -> Result<(), SendError> {
        let TokenSource::File(path) = self else {
            return Ok(());
        };
        let cannot = |e: std::io::Error| {
            SendError::Token(format!(
                "cannot read --token-file {}: {e}; check the path and its permissions",
                path.display()
            ))
        };
        // A pipe (`<(vault read …)`) is only looked at: opening one whose writer has not
        // come blocks, before a signal or --deadline could end the wait.
        match std::fs::metadata(path).map_err(cannot)?.is_file() {
            true => std::fs::File::open(path).map(drop).map_err(cannot),
            false => Ok(()),
        }
    }

    /// Whether the current token should be replaced before it is used again.
    fn renewal_due(&self) -> bool {
        matches!(self, TokenSource::Refresh(grant) if grant.renewal_due())
    }
}

/// The token currently in use and how many times it has been fetched.
struct Current {
    generation: u64,
    token: Option<Secret>,
    /// Whether this generation was fetched because the one before it got a 401.
    after_401: bool,
    /// Why the last fetch failed: the run stops on it, and the workers still waiting for
    /// the lock get the same error instead of asking the source again each (an `[auth]`
    /// grant refused as `invalid_grant` is refused every time, and each try sends the
    /// refresh token).
    failure: Option<String>,
}

/// Hands out the current token and refreshes it at most once per wave of 401s.
pub struct TokenProvider {
    source: TokenSource,
    current: Mutex<Current>,
    /// The newest generation the API answered with anything but 401.
    worked: AtomicU64,
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
                after_401: false,
                failure: None,
            }),
            worked: AtomicU64::new(0),
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

    /// Notes that the API answered a request sent with `generation` with something other
    /// than 401: that token works.
    pub fn worked(&self, generation: u64) {
        self.worked.fetch_max(generation, Ordering::Relaxed);
    }

    /// After a 401 on a request sent with generation `seen`: `Ok` when the request is to be
    /// repeated with the token current then (fetched now, or already by another worker);
    /// [`SendError::Unauthorized`] when the refused token was itself fetched after a 401
    /// and never worked, so fetching again would only give another refused token.
    pub async fn after_401(&self, seen: u64) -> Result<(), SendError> {
        let mut current = self.current.lock().await;
        if current.generation > seen {
            return Ok(());
        }
        if current.after_401 && self.worked.load(Ordering::Relaxed) < seen {
            return Err(SendError::Unauthorized(self.source.second_refusal()));
        }
        self.fetch_into(&mut current).await?;
        current.after_401 = true;
        Ok(())
    }

    /// Fetches while holding the lock, so concurrent callers wait for this one fetch.
    async fn fetch_into(&self, current: &mut Current) -> Result<(u64, Secret), SendError> {
        if let Some(failure) = &current.failure {
            return Err(SendError::Token(failure.clone()));
        }
        let token = match fetch(&self.source).await {
            Ok(token) => token,
            Err(SendError::Token(message)) => {
                current.failure = Some(message.clone());
                return Err(SendError::Token(message));
            }
            Err(other) => return Err(other),
        };
        current.generation += 1;
        current.token = Some(token.clone());
        current.after_401 = false;
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
    if raw.len() > TOKEN_LIMIT {
        return Err(too_long(&format!("{origin} gave")));
    }
    checked(raw.trim(), origin)
}

/// Refuses an empty token or one that cannot travel in an `Authorization` header.
fn checked(token: &str, origin: &str) -> Result<Secret, SendError> {
    // A command prints its token; a file or a variable holds it.
    let (verb, verbs) = match origin == "--token-command" {
        true => ("print", "prints"),
        false => ("hold", "holds"),
    };
    if token.is_empty() {
        return Err(SendError::Token(format!(
            "{origin} gave an empty token; check that it {verbs} an access token for https://api.partner.microsoft.com"
        )));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SendError::Token(format!(
            "{origin} gave a token with spaces or non-ASCII characters; it must {verb} only the access token"
        )));
    }
    Ok(Secret::new(token))
}

/// The most a token source may give: an access token is a few kilobytes. More is some
/// other output (a command stuck printing), refused before it fills the memory.
const TOKEN_LIMIT: usize = 64 * 1024;

/// Runs `sh -c CMD`; its stderr goes straight to the user's terminal, never into our
/// messages, in case a failing command echoes something secret. Where refsync's stderr is
/// no terminal (a nightly job's log file), the command's is dropped: a command traced with
/// `set -x` would write its token there, and its lines would break a JSON log. The command runs in a
/// process group of its own, which is killed whole when refsync stops waiting for it (the
/// timeout, `--deadline`, a signal, too much output): killing `sh` alone would leave what
/// it started running.
async fn run_command(cmd: &str) -> Result<String, SendError> {
    let stderr_shown = std::io::stderr().is_terminal();
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(match stderr_shown {
            true => Stdio::inherit(),
            false => Stdio::null(),
        })
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| SendError::Token(format!("cannot run --token-command with sh: {e}")))?;
    let group = ProcessGroup(child.id());
    let run = async {
        let mut out = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            let limit = TOKEN_LIMIT as u64 + 1;
            stdout.take(limit).read_to_end(&mut out).await?;
        }
        if out.len() > TOKEN_LIMIT {
            return Ok((out, None));
        }
        Ok::<_, std::io::Error>((out, Some(child.wait().await?)))
    };
    let (out, status) = tokio::time::timeout(COMMAND_TIMEOUT, run)
        .await
        .map_err(|_| {
            SendError::Token(format!(
                "--token-command did not finish within {}s; check that it runs without prompting",
                COMMAND_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| SendError::Token(format!("cannot run --token-command with sh: {e}")))?;
    let Some(status) = status else {
        return Err(too_long("--token-command printed"));
    };
    group.finished();
    if !status.success() {
        let hidden = match stderr_shown {
            true => "",
            false => {
                " (what it wrote to stderr is not shown where refsync's stderr is no terminal, as it may hold a secret)"
            }
        };
        return Err(SendError::Token(format!(
            "--token-command failed ({status}); run it by hand to see why, e.g. sign in again{hidden}"
        )));
    }
    String::from_utf8(out).map_err(|_| {
        SendError::Token("--token-command printed something that is not UTF-8 text".into())
    })
}

/// The process group of a token command, killed when dropped before the command finished.
struct ProcessGroup(Option<u32>);

impl ProcessGroup {
    /// The command finished: what it left running is its own business.
    fn finished(mut self) {
        self.0 = None;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let Some(id) = self.0.and_then(|id| libc::pid_t::try_from(id).ok()) else {
            return;
        };
        // SAFETY: kill(2) with a negated process group ID and a signal number; it reads
        // and writes no memory of ours. The group is the command's own (process_group(0)),
        // not yet reaped while its leader's `Child` lives, so the ID names no other group.
        unsafe {
            libc::kill(-id, libc::SIGKILL);
        }
    }
}

/// The error of a token source that gave more than [`TOKEN_LIMIT`].
fn too_long(what: &str) -> SendError {
    SendError::Token(format!(
        "{what} more than {} KiB, which is no access token; check that it gives only the token",
        TOKEN_LIMIT / 1024
    ))
}

/// Reads `--token-file` afresh (another process may have rotated it), at most
/// [`TOKEN_LIMIT`] of it.
async fn read_file(path: &PathBuf) -> Result<String, SendError> {
    let cannot = |e: std::io::Error| {
        SendError::Token(format!(
            "cannot read --token-file {}: {e}; check the path and its permissions",
            path.display()
        ))
    };
    let file = tokio::fs::File::open(path).await.map_err(cannot)?;
    let mut text = Vec::new();
    let limit = TOKEN_LIMIT as u64 + 1;
    file.take(limit)
        .read_to_end(&mut text)
        .await
        .map_err(cannot)?;
    if text.len() > TOKEN_LIMIT {
        return Err(too_long("--token-file holds"));
    }
    String::from_utf8(text).map_err(|_| {
        cannot(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "it is not UTF-8 text",
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
        provider.after_401(1).await.expect("a fresh token");
        let (generation, token) = provider.current().await.expect("token");
        assert_eq!((generation, token.expose()), (2, "tok2"));
    }

    #[tokio::test]
    async fn a_401_on_an_older_token_repeats_with_the_newer_one_without_refetching() {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        writeln!(file, "first").expect("write");
        let provider = TokenProvider::new(TokenSource::File(file.path().into()));
        provider.current().await.expect("token");
        std::fs::write(file.path(), "second").expect("write");
        provider.after_401(1).await.expect("a fresh token");
        std::fs::write(file.path(), "third").expect("write");
        provider.after_401(1).await.expect("the newer token");
        let (generation, token) = provider.current().await.expect("token");
        assert_eq!((generation, token.expose()), (2, "second"));
    }

    #[tokio::test]
    async fn a_second_refusal_of_a_token_that_cannot_be_renewed_says_so() {
        let provider = TokenProvider::new(TokenSource::Env(Secret::new("tok")));
        provider.current().await.expect("token");
        provider.after_401(1).await.expect("read again");
        let error = provider.after_401(2).await.expect_err("refused twice");
        let message = error.to_string();
        assert!(
            message.contains("PARTNER_CENTER_TOKEN holds one token"),
            "{message}"
        );
        assert!(!message.contains("fetching a fresh one"), "{message}");
    }

    #[tokio::test]
    async fn a_fresh_token_refused_before_it_worked_stops_but_one_that_worked_is_renewed() {
        let provider = TokenProvider::new(TokenSource::Command("echo tok".into()));
        provider.current().await.expect("token");
        provider
            .after_401(1)
            .await
            .expect("the first 401 fetches again");
        assert!(matches!(
            provider.after_401(2).await,
            Err(SendError::Unauthorized(_))
        ));
        provider.worked(2);
        provider
            .after_401(2)
            .await
            .expect("an expired token is renewed");
        assert_eq!(provider.current().await.expect("token").0, 3);
    }

    #[tokio::test]
    async fn a_source_that_failed_is_not_asked_again_by_the_workers_waiting_for_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let counter = dir.path().join("n");
        let cmd = format!("echo x >> {}; exit 3", counter.display());
        let provider = TokenProvider::new(TokenSource::Command(cmd));
        for _ in 0..3 {
            assert!(matches!(provider.current().await, Err(SendError::Token(_))));
        }
        let runs = std::fs::read_to_string(&counter).expect("the command ran");
        assert_eq!(runs.lines().count(), 1);
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

    /// Whether process `pid` has ended (gone, or a zombie left for its new parent).
    fn ended(pid: &str) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
            stat.split(") ").nth(1).is_some_and(|s| s.starts_with('Z'))
        })
    }

    #[tokio::test]
    async fn a_token_command_given_up_is_killed_with_what_it_started() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pid_file = dir.path().join("pid");
        let cmd = format!("sleep 60 & echo $! > {}; wait", pid_file.display());
        let started = async {
            while std::fs::read_to_string(&pid_file).map_or(true, |t| !t.ends_with('\n')) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::select! {
            _ = run_command(&cmd) => panic!("the command ended on its own"),
            () = started => {}
        }
        let pid = std::fs::read_to_string(&pid_file).expect("pid");
        let pid = pid.trim();
        for _ in 0..500 {
            if ended(pid) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the command's child {pid} outlived it");
    }

    #[tokio::test]
    async fn a_source_that_gives_more_than_any_token_is_refused() {
        let provider = TokenProvider::new(TokenSource::Command("yes".into()));
        let message = provider.current().await.expect_err("refused").to_string();
        assert!(message.contains("more than 64 KiB"), "{message}");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("token");
        std::fs::write(&path, vec![b'x'; TOKEN_LIMIT + 1]).expect("write");
        let provider = TokenProvider::new(TokenSource::File(path));
        let message = provider.current().await.expect_err("refused").to_string();
        assert!(
            message.contains("--token-file holds more than"),
            "{message}"
        );
    }
}
