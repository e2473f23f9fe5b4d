//! Resolving `sync`'s flags into the send stage's options, the token source and the
//! emulator choice, refusing what cannot work before anything is read or sent.

use super::auth::{AuthConfig, AuthConfigError};
use super::layers::{Effective, Source};
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
    /// `--undo FILE` (`None` in a dry run, which writes no undo file).
    pub undo: Option<std::path::PathBuf>,
    /// Whether each referral is read before its PATCH (`--undo` asks for it); so too in a
    /// dry run given `--undo`, so that it predicts what the real run will find.
    pub read_before: bool,
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
    /// `--resume` or `--skip-unchanged` (from the environment or the file) without a ledger.
    #[error("{0} needs --ledger FILE: the runs it reads are recorded there")]
    NeedsLedger(&'static str),
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
        if args.endpoint != crate::cli::args::DEFAULT_ENDPOINT {
            tracing::warn!(
                "--emulator runs against the in-process emulator: --endpoint {} is ignored",
                args.endpoint
            );
        }
        String::new()
    } else {
        send::check_endpoint(&args.endpoint).map_err(|e| ConfigError::Endpoint(e.to_string()))?
    };
    // Checked here, not by clap, so that a ledger named in the config file counts for a
    // `--resume` on the command line.
    if let Some(flag) = switch_without_ledger(args, |_| true) {
        return Err(ConfigError::NeedsLedger(flag));
    }
    let token = token_source(args, emulator.is_some(), auth)?;
    if args.seed.is_some() && emulator.is_none() {
        tracing::warn!("--seed only seeds the in-process emulator of --emulator: ignored");
    }
    // A dry run applies nothing, so there is nothing to undo; an empty undo file would
    // read as "nothing to undo" after a real run.
    let undo = args.undo.clone().filter(|_| !args.dry_run);
    if args.dry_run && args.undo.is_some() {
        tracing::warn!(
            "a dry run applies nothing: no undo file is written (the referrals are read first, \
             as --undo makes the real run do)"
        );
    }
    Ok(SyncSettings {
        send: send_options(args, endpoint),
        token,
        emulator,
        deadline: args.deadline,
        dry_run: args.dry_run,
        undo,
        read_before: args.undo.is_some(),
    })
}

/// The first of `--resume` and `--skip-unchanged` that is set, where `counts` takes its
/// config key, while no layer names a ledger: its flag.
pub fn switch_without_ledger(
    args: &SyncArgs,
    counts: impl Fn(&str) -> bool,
) -> Option<&'static str> {
    if args.ledger.is_some() {
        return None;
    }
    [
        (args.resume, "resume", "--resume"),
        (args.skip_unchanged, "skip_unchanged", "--skip-unchanged"),
    ]
    .into_iter()
    .find(|&(set, key, _)| set && counts(key))
    .map(|(_, _, flag)| flag)
}

/// Drops from `args` the token option (`token_command`, `token_file`) of a weaker layer
/// than the other's (SPEC.md "Flags": flags override the environment, which overrides the
/// file); within one layer the first found wins, as [`resolve`] picks them. So
/// `--token-file` beats a file's `token_command`. `PARTNER_CENTER_TOKEN`, the third token
/// source, is no option of any layer: either option, from any layer, comes before it, and
/// `[auth]` stays the last resort.
///
/// Under `--emulator` only the command line's own token flags count: a production
/// config's or the environment's token source is not run to reach the in-process
/// emulator, which needs no token.
pub fn keep_strongest_token_sources(args: &mut SyncArgs, effective: &[Effective]) {
    let layer_of = |key: &str| {
        effective
            .iter()
            .find(|e| e.key == key && e.value.is_some())
            .map_or(0, |e| strength(&e.source))
    };
    let (command, file) = (layer_of("token_command"), layer_of("token_file"));
    if args.emulator {
        let from_flag = strength(&Source::Flag);
        if command < from_flag {
            args.token_command = None;
        }
        if file < from_flag {
            args.token_file = None;
        }
        return;
    }
    let strongest = command.max(file);
    if command < strongest {
        args.token_command = None;
    }
    if file < strongest {
        args.token_file = None;
    }
}

/// What `--emulator` and a non-default `--endpoint` set together come to.
#[derive(Debug, PartialEq, Eq)]
pub enum EmulatorOrEndpoint {
    /// Only one of them is set, or the emulator's layer is the stronger (a flag over an
    /// endpoint in the config file): the emulator runs, and `resolve` warns that the
    /// endpoint is ignored.
    Settled,
    /// Both are flags: which one is meant is not for refsync to guess (usage error).
    BothFlags,
    /// The endpoint comes from a stronger layer than the emulator (`--endpoint` over
    /// `REFSYNC_EMULATOR`): the endpoint wins, as a flag wins over the environment; the
    /// text says so, to be warned of.
    EndpointWins(String),
}

/// Settles `--emulator` against `--endpoint` by their layers; with
/// [`EmulatorOrEndpoint::EndpointWins`], `args.emulator` is cleared. A cron job whose
/// environment keeps `REFSYNC_EMULATOR` must not silently send nothing to the endpoint
/// its command line names.
pub fn settle_emulator_or_endpoint(
    args: &mut SyncArgs,
    effective: &[Effective],
) -> EmulatorOrEndpoint {
    let source_of = |key: &str| effective.iter().find(|e| e.key == key).map(|e| &e.source);
    let (Some(emulator), Some(endpoint)) = (source_of("emulator"), source_of("endpoint")) else {
        return EmulatorOrEndpoint::Settled;
    };
    let endpoint_given = args.endpoint != crate::cli::args::DEFAULT_ENDPOINT;
    if !args.emulator || !endpoint_given {
        return EmulatorOrEndpoint::Settled;
    }
    if *emulator == Source::Flag && *endpoint == Source::Flag {
        return EmulatorOrEndpoint::BothFlags;
    }
    if strength(endpoint) <= strength(emulator) {
        return EmulatorOrEndpoint::Settled;
    }
    args.emulator = false;
    EmulatorOrEndpoint::EndpointWins(format!(
        "--emulator ({}) is not used: --endpoint {} ({}) is the stronger setting, and the \
         run goes there",
        emulator.describe(),
        args.endpoint,
        endpoint.describe()
    ))
}

/// How strong a layer is: a flag over the environment over the file over the default.
fn strength(source: &Source) -> u8 {
    match source {
        Source::Flag => 3,
        Source::Env(_) => 2,
        Source::File { .. } => 1,
        Source::Default => 0,
    }
}

/// The access token in `PARTNER_CENTER_TOKEN`, trimmed, when it holds one.
fn token_from_env() -> Option<String> {
    std::env::var(TOKEN_ENV)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// The first token source found (SPEC.md "Sending"); the in-process emulator goes before
/// `PARTNER_CENTER_TOKEN` and `[auth]` so that trying `--emulator` never uses or signs in
/// for a token of the real service (only the command line's token flags are left by
/// then, see [`keep_strongest_token_sources`]).
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
    if emulator {
        return Ok(TokenSource::Fixed(Secret::new("emulator".to_string())));
    }
    if let Some(token) = token_from_env() {
        return Ok(TokenSource::Env(Secret::new(token)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;
    use std::path::PathBuf;

    fn sync_args(words: &[&str]) -> SyncArgs {
        let cli = Cli::try_parse_from(words).expect("parses");
        match cli.command {
            Command::Sync(args) => *args,
            _ => panic!("not sync"),
        }
    }

    fn from(key: &str, source: Source) -> Effective {
        Effective {
            key: key.into(),
            value: Some("x".into()),
            source,
        }
    }

    /// A sync given both token flags, whose effective sources each test sets.
    const BOTH_TOKEN_FLAGS: [&str; 7] = [
        "refsync",
        "sync",
        "u.csv",
        "--token-file",
        "tok.txt",
        "--token-command",
        "cmd",
    ];

    fn in_file() -> Source {
        Source::File {
            path: "c.toml".into(),
            line: 1,
        }
    }

    #[test]
    fn a_token_source_on_the_command_line_beats_one_in_the_file() {
        let mut args = sync_args(&BOTH_TOKEN_FLAGS);
        let effective = [
            from("token_command", in_file()),
            from("token_file", Source::Flag),
        ];
        keep_strongest_token_sources(&mut args, &effective);
        assert_eq!(args.token_command, None);
        assert_eq!(args.token_file, Some(PathBuf::from("tok.txt")));
    }

    #[test]
    fn an_environment_token_source_beats_the_file_and_a_layer_keeps_its_order() {
        let mut args = sync_args(&BOTH_TOKEN_FLAGS);
        let env = Source::Env("REFSYNC_TOKEN_FILE".into());
        let effective = [from("token_command", in_file()), from("token_file", env)];
        keep_strongest_token_sources(&mut args, &effective);
        assert_eq!(args.token_command, None);
        let mut args = sync_args(&BOTH_TOKEN_FLAGS);
        let effective = [
            from("token_command", Source::Flag),
            from("token_file", Source::Flag),
        ];
        keep_strongest_token_sources(&mut args, &effective);
        assert!(args.token_command.is_some() && args.token_file.is_some());
    }

    #[test]
    fn under_the_emulator_only_token_flags_of_the_command_line_count() {
        let mut words = BOTH_TOKEN_FLAGS.to_vec();
        words.push("--emulator");
        let mut args = sync_args(&words);
        let env = Source::Env("REFSYNC_TOKEN_FILE".into());
        let effective = [from("token_command", in_file()), from("token_file", env)];
        keep_strongest_token_sources(&mut args, &effective);
        assert_eq!(
            (args.token_command.as_deref(), args.token_file),
            (None, None)
        );
        let mut args = sync_args(&words);
        let effective = [from("token_file", Source::Flag)];
        keep_strongest_token_sources(&mut args, &effective);
        assert_eq!(args.token_file, Some(PathBuf::from("tok.txt")));
        let settings = resolve(&args, &Ok(None)).expect("resolves");
        assert!(matches!(settings.token, TokenSource::File(_)));
    }
}
