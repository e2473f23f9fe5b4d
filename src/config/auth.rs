//! Resolving the `[auth]` section: each key from `REFSYNC_AUTH_<KEY>`, else the config
//! file, else its default; then the client secret read from its file or variable, and
//! the whole checked into [`AuthSettings`] (or `None` when `[auth]` is not configured).
//!
//! Paths written in the file are relative to the file's folder, not to the working
//! directory, because cron and systemd start jobs in a directory nobody chose.

use super::file::{AUTH_KEYS, ConfigFile, is_env_name};
use super::layers::{Effective, Source};
use crate::auth::{AuthSettings, DEFAULT_AUTHORITY, DEFAULT_SCOPE, DEFAULT_TENANT};
use crate::send::{self, Secret};
use std::path::{Path, PathBuf};

/// Why `[auth]` cannot be used.
#[derive(Clone, Debug, thiserror::Error)]
pub enum AuthConfigError {
    /// A required key is missing.
    #[error("[auth] is incomplete: set {missing} in the config file (or REFSYNC_AUTH_{upper}); see docs/auth.md", upper = missing.to_ascii_uppercase())]
    Missing {
        /// The key.
        missing: &'static str,
    },
    /// Both places for the client secret were given.
    #[error("[auth] gives both client_secret_file and client_secret_env; keep one")]
    TwoSecrets,
    /// The client secret cannot be read.
    #[error("[auth] client secret: {0}")]
    Secret(String),
    /// The authority is not an acceptable URL.
    #[error("[auth] authority: {0}")]
    Authority(String),
    /// The tenant is no directory name that can stand in the token endpoint's URL.
    #[error(
        "[auth] tenant {0:?} is not a tenant: give the directory's ID (a GUID), its domain \
         (contoso.onmicrosoft.com) or organizations / common"
    )]
    Tenant(String),
    /// A bad value, with where it was set: `file:line`, or the variable.
    #[error("{at}: {error}")]
    At {
        /// `file:line` or the variable's name.
        at: String,
        /// What is wrong with the value.
        error: Box<AuthConfigError>,
    },
}

/// The `[auth]` section as resolved: `None` when it is not configured, an error when it is
/// configured wrongly (reported only if the run needs it).
pub type AuthConfig = Result<Option<AuthSettings>, AuthConfigError>;

/// Every `[auth]` key with its value and origin (`config show`).
pub fn layered(file: Option<&ConfigFile>) -> Vec<Effective> {
    AUTH_KEYS.iter().map(|key| one(key, file)).collect()
}

/// One key: the environment, else the file (paths made relative to it), else the default.
fn one(key: &str, file: Option<&ConfigFile>) -> Effective {
    let env = variable_of(key);
    let (value, source) = if let Some(value) = std::env::var(&env).ok().filter(|v| !v.is_empty()) {
        (Some(value), Source::Env(env))
    } else if let Some((file, value)) = file.and_then(|f| f.auth.get(key).map(|v| (f, v))) {
        let text = if key.ends_with("_file") {
            beside(&file.path, &value.text)
        } else {
            value.text.clone()
        };
        let source = Source::File {
            path: file.path.clone(),
            line: value.line,
        };
        (Some(text), source)
    } else {
        (default_of(key).map(str::to_string), Source::Default)
    };
    Effective {
        key: key.to_string(),
        value,
        source,
    }
}

/// The variable that sets `[auth]` key `key`: `REFSYNC_AUTH_<KEY>`.
pub fn variable_of(key: &str) -> String {
    format!("REFSYNC_AUTH_{}", key.to_ascii_uppercase())
}

/// The built-in default of a key.
fn default_of(key: &str) -> Option<&'static str> {
    match key {
        "tenant" => Some(DEFAULT_TENANT),
        "authority" => Some(DEFAULT_AUTHORITY),
        "scope" => Some(DEFAULT_SCOPE),
        _ => None,
    }
}

/// `path` as written in the config file at `config`, relative to the file's folder.
fn beside(config: &Path, path: &str) -> String {
    let folder = config.parent().unwrap_or(Path::new(""));
    folder.join(path).to_string_lossy().into_owned()
}

/// The `[auth]` settings, `None` when no key of it is set (in the file or the
/// environment); an error naming the first required key missing when some are.
pub fn resolve(layered: &[Effective]) -> AuthConfig {
    let get = |key: &str| value_of(layered, key);
    if layered.iter().all(|e| e.source == Source::Default) {
        return Ok(None);
    }
    let client_id = get("client_id").ok_or(AuthConfigError::Missing {
        missing: "client_id",
    })?;
    let token_file = get("refresh_token_file").ok_or(AuthConfigError::Missing {
        missing: "refresh_token_file",
    })?;
    let authority = get("authority").unwrap_or_else(|| DEFAULT_AUTHORITY.into());
    let authority = send::check_endpoint(&authority).map_err(|e| {
        let error =
            AuthConfigError::Authority(e.to_string().replace("--endpoint", "the authority"));
        located(layered, "authority", error)
    })?;
    let tenant = get("tenant").unwrap_or_else(|| DEFAULT_TENANT.into());
    if !is_tenant(&tenant) {
        return Err(located(layered, "tenant", AuthConfigError::Tenant(tenant)));
    }
    let secret_key = match get("client_secret_file") {
        Some(_) => "client_secret_file",
        None => "client_secret_env",
    };
    Ok(Some(AuthSettings {
        authority,
        tenant,
        client_id,
        client_secret: client_secret(layered).map_err(|e| located(layered, secret_key, e))?,
        refresh_token_file: PathBuf::from(token_file),
        scope: get("scope").unwrap_or_else(|| DEFAULT_SCOPE.into()),
    }))
}

/// `error` with where `key` was set (`file:line` or the variable), as other bad values in
/// the config file or environment are reported; as it is for a key left at its default.
fn located(layered: &[Effective], key: &str, error: AuthConfigError) -> AuthConfigError {
    let at = match layered.iter().find(|e| e.key == key).map(|e| &e.source) {
        Some(Source::File { path, line }) => format!("{}:{line}", path.display()),
        Some(Source::Env(name)) => name.clone(),
        _ => return error,
    };
    AuthConfigError::At {
        at,
        error: Box::new(error),
    }
}

/// Whether `tenant` can be the one path segment of the token endpoint that names the
/// directory: a GUID, a domain, `organizations` or `common` are letters, digits, `-` and
/// `.`; anything else (a `/`, `?` or `#`, an empty name) would change the URL itself.
fn is_tenant(tenant: &str) -> bool {
    !tenant.is_empty()
        && !tenant.starts_with('.')
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// The value of `key` among `layered`, if set.
fn value_of(layered: &[Effective], key: &str) -> Option<String> {
    layered
        .iter()
        .find(|e| e.key == key)
        .and_then(|e| e.value.clone())
}

/// The client secret of a confidential app, read from the file or the variable that
/// `layered` names, if any; an error when it is named but cannot be had. A
/// `client_secret_env` that is no variable name (a secret pasted there by mistake) is
/// refused without being repeated.
pub fn client_secret(layered: &[Effective]) -> Result<Option<Secret>, AuthConfigError> {
    let file = value_of(layered, "client_secret_file");
    let env = value_of(layered, "client_secret_env");
    let text = match (file, env) {
        (Some(_), Some(_)) => return Err(AuthConfigError::TwoSecrets),
        (Some(path), None) => std::fs::read_to_string(&path).map_err(|e| {
            AuthConfigError::Secret(format!("cannot read client_secret_file {path}: {e}"))
        })?,
        (None, Some(name)) if !is_env_name(&name) => {
            return Err(AuthConfigError::Secret(
                "client_secret_env must be the name of an environment variable holding the secret (letters, digits and _), not the secret itself; its value is not shown".into(),
            ));
        }
        (None, Some(name)) => std::env::var(&name).map_err(|_| {
            AuthConfigError::Secret(format!(
                "client_secret_env names {name}, which is not set; export it or remove the key"
            ))
        })?,
        (None, None) => return Ok(None),
    };
    match text.trim() {
        "" => Err(AuthConfigError::Secret("the client secret is empty".into())),
        secret => Ok(Some(Secret::new(secret))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> ConfigFile {
        ConfigFile::parse(Path::new("/etc/refsync/r.toml"), text).expect("parses")
    }

    #[test]
    fn a_tenant_that_would_change_the_token_url_is_refused() {
        for bad in ["", "../evil", "contoso?x=1", "contoso#frag", "a/b", ".."] {
            let text = format!(
                "[auth]\nclient_id = \"c\"\nrefresh_token_file = \"rt\"\ntenant = {bad:?}\n"
            );
            let error = resolve(&layered(Some(&file(&text)))).expect_err(bad);
            assert!(
                matches!(&error, AuthConfigError::At { at, error }
                    if at == "/etc/refsync/r.toml:4" && matches!(**error, AuthConfigError::Tenant(_))),
                "{bad}: {error}"
            );
        }
        for good in [
            "contoso.onmicrosoft.com",
            "organizations",
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
        ] {
            let text = format!(
                "[auth]\nclient_id = \"c\"\nrefresh_token_file = \"rt\"\ntenant = {good:?}\n"
            );
            assert!(resolve(&layered(Some(&file(&text)))).is_ok(), "{good}");
        }
    }

    #[test]
    fn no_auth_section_means_no_auth_source() {
        assert!(
            resolve(&layered(Some(&file("rate = \"1/s\"\n"))))
                .expect("ok")
                .is_none()
        );
        assert!(resolve(&layered(None)).expect("ok").is_none());
    }

    #[test]
    fn file_paths_are_relative_to_the_config_file_and_defaults_fill_in() {
        let auth = resolve(&layered(Some(&file(
            "[auth]\nclient_id = \"c\"\nrefresh_token_file = \"rt\"\n",
        ))))
        .expect("ok")
        .expect("configured");
        assert_eq!(auth.refresh_token_file, PathBuf::from("/etc/refsync/rt"));
        assert_eq!(
            (auth.tenant.as_str(), auth.authority.as_str()),
            (DEFAULT_TENANT, DEFAULT_AUTHORITY)
        );
        assert!(auth.client_secret.is_none());
    }

    #[test]
    fn a_half_configured_section_names_the_missing_key() {
        let error =
            resolve(&layered(Some(&file("[auth]\nclient_id = \"c\"\n")))).expect_err("incomplete");
        assert!(error.to_string().contains("refresh_token_file"), "{error}");
        let error = resolve(&layered(Some(&file("[auth]\ntenant = \"t\"\n"))))
            .expect_err("a tenant alone is incomplete");
        assert!(error.to_string().contains("client_id"), "{error}");
    }

    #[test]
    fn a_secret_pasted_as_client_secret_env_is_refused_unseen() {
        let layers = [Effective {
            key: "client_secret_env".into(),
            value: Some("abc~def=secret".into()),
            source: Source::Env("REFSYNC_AUTH_CLIENT_SECRET_ENV".into()),
        }];
        let error = client_secret(&layers).expect_err("refused");
        let message = error.to_string();
        assert!(
            message.contains("client_secret_env") && !message.contains("abc~def"),
            "{message}"
        );
    }

    #[test]
    fn a_plain_http_authority_off_loopback_is_refused() {
        let text = "[auth]\nclient_id = \"c\"\nrefresh_token_file = \"rt\"\nauthority = \"http://login.example\"\n";
        let error = resolve(&layered(Some(&file(text)))).expect_err("refused");
        assert!(
            matches!(&error, AuthConfigError::At { error, .. }
                if matches!(**error, AuthConfigError::Authority(_))),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .starts_with("/etc/refsync/r.toml:4: [auth] authority"),
            "{error}"
        );
    }
}
