//! Resolving `sync`'s flags into the send stage's options, the token source and the
//! emulator choice, refusing what cannot work before anything is read or sent.

use super::auth::{AuthConfig, AuthConfigError};
use crate::auth::{AuthError, RefreshGrant, store};
use crate::cli::args::{IfMatchArg, OnConflictArg, SyncArgs};
use crate::emulator::Seed;
use crate::send::{self, ConflictPolicy, IfMatchPolicy, Secret, SendOptions, TokenSource};

/// The environment variable that may hold the access token.
pub const TOKEN_ENV: &str = "PARTNER_CENTER_TOKEN";

/// What `sync` runs with.
#[derive(Debug)]
pub struct SyncSettings {
    /// The send stage's options (the endpoint is replaced by the emulator's where one runs).
    pub send: SendOptions,
    /// Where the access token comes from.
    pub token: TokenSource,
    /// `Some` with `--emulator`: the in-process emulator's seed.
    pub emulator: Option<Seed>,
    /// `--deadline`: the bound on the whole run.
    pub deadline: Option<std::time::Duration>,
    /// `--dry-run`: GET only.
    pub dry_run: bool,
    /// `--undo FILE`.
    pub undo: Option<std::path::PathBuf>,
}

/// Why `sync` cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The endpoint is not acceptable.
    #[error("{0}")]
    Endpoint(String),
    /// No token source was given.
    #[error(
        "no access token: give one with --token-command CMD (its output is the token), --token-file FILE, or the {TOKEN_ENV} environment variable; or configure [auth] in a --config file and sign in once with `refsync auth login` (docs/auth.md); or try refsync without one against the built-in emulator with --emulator"
    )]
    NoToken,
    /// The `[auth]` refresh-token grant cannot be used.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// `[auth]` is configured wrongly, and no other token source was given.
    #[error(transparent)]
    AuthConfig(#[from] AuthConfigError),
}

/// Resolves `sync`'s settings; `auth` is the `[auth]` section as resolved: `None` when not
/// configured, an error only when it is needed (no token source comes before it).
pub fn resolve(args: &SyncArgs, auth: &AuthConfig) -> Result<SyncSettings, ConfigError> {
    let emulator = args.emulator.then(|| match &args.seed {
        Some(path) => Seed::File(path.clone()),
        None => Seed::Sample,
    });
    let endpoint = if emulator.is_some() {
        String::new()
    } else {
        send::check_endpoint(&args.endpoint).map_err(|e| ConfigError::Endpoint(e.to_string()))?
    };
    let token = token_source(args, emulator.is_some(), auth)?;
    Ok(SyncSettings {
        send: send_options(args, endpoint),
        token,
        emulator,
        deadline: args.deadline,
        dry_run: args.dry_run,
        undo: args.undo.clone(),
    })
}

/// The first token source found (SPEC.md "Sending"); the in-process emulator goes before
/// `[auth]` so that trying `--emulator` never signs in to the real service.
fn token_source(
    args: &SyncArgs,
    emulator: bool,
    auth: &AuthConfig,
) -> Result<TokenSource, ConfigError> {
    if let Some(command) = &args.token_command {
        return Ok(TokenSource::Command(command.clone()));
    }
    if let Some(path) = &args.token_file {
        return Ok(TokenSource::File(path.clone()));
    }
    if let Some(token) = std::env::var(TOKEN_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        return Ok(TokenSource::Env(Secret::new(token.trim().to_string())));
    }
    if emulator {
        return Ok(TokenSource::Fixed(Secret::new("emulator".to_string())));
    }
    match auth {
        Ok(Some(auth)) => {
            // Fail now, before any input is read, when nobody has signed in yet.
            store::read(&auth.refresh_token_file)?;
            Ok(TokenSource::Refresh(RefreshGrant::new(auth.clone())?))
        }
        Ok(None) => Err(ConfigError::NoToken),
        Err(error) => Err(error.clone().into()),
    }
}

fn send_options(args: &SyncArgs, endpoint: String) -> SendOptions {
    SendOptions {
        endpoint,
        rate: args.rate,
        burst: args.burst,
        concurrency: args.concurrency as usize,
        max_attempts: args.max_attempts,
        timeout: args.timeout,
        if_match: match args.if_match {
            IfMatchArg::Auto => IfMatchPolicy::Auto,
            IfMatchArg::Input => IfMatchPolicy::Input,
            IfMatchArg::Fetch => IfMatchPolicy::Fetch,
            IfMatchArg::None => IfMatchPolicy::None,
        },
        on_conflict: match args.on_conflict {
            OnConflictArg::Report => ConflictPolicy::Report,
            OnConflictArg::Refetch => ConflictPolicy::Refetch,
            OnConflictArg::Overwrite => ConflictPolicy::Overwrite,
        },
        return_representation: args.return_representation,
        correlation_id: uuid::Uuid::new_v4(),
        ca_cert: args.ca_cert.clone(),
    }
}
