//! `refsync config show`: the effective configuration of `sync` with the same flags, one
//! `key = value` line per option in the config file's own syntax (so a line can be pasted
//! into the file), each followed by where the value came from. Secrets are masked.

use crate::cli::SyncArgs;
use crate::config::file::is_env_name;
use crate::config::layers::{Effective, Parsed, Source};
use crate::config::{auth, sync};
use crate::send::TokenSource;
use std::fmt::Write;

/// Runs `config show` for `args`, as parsed in `parsed`; prints to stdout. Exits 1 when
/// `sync` would refuse the endpoint, as it would exit.
pub fn run(args: &SyncArgs, parsed: &Parsed) -> anyhow::Result<i32> {
    let printed = super::print_to_stdout(render(args, parsed).as_bytes())?;
    match endpoint_refused(args) {
        Some(error) => Err(anyhow::anyhow!(
            "sync would refuse this configuration: {error}"
        )),
        None => Ok(printed),
    }
}

/// Why `sync` would refuse the endpoint (outside `--emulator`, which ignores it).
fn endpoint_refused(args: &SyncArgs) -> Option<String> {
    if args.emulator {
        return None;
    }
    crate::send::check_endpoint(&args.endpoint)
        .err()
        .map(|e| e.to_string())
}

/// The whole output.
pub fn render(args: &SyncArgs, parsed: &Parsed) -> String {
    let mut out = String::new();
    let file = parsed
        .file
        .as_ref()
        .map_or("none".into(), |f| f.path.display().to_string());
    let _ = writeln!(out, "# config file: {file}");
    let options: Vec<&Effective> = parsed
        .effective
        .iter()
        .filter(|e| e.key != "inputs")
        .collect();
    let auth_layers = auth::layered(parsed.file.as_ref());
    let width = options
        .iter()
        .chain(&auth_layers.iter().collect::<Vec<_>>())
        .map(|e| e.key.len())
        .max()
        .unwrap_or(0);
    for effective in options {
        out.push_str(&line(effective, width));
    }
    let _ = writeln!(out, "\n[auth]");
    for effective in &auth_layers {
        out.push_str(&line(effective, width));
    }
    if let Some(secret) = client_secret(&auth_layers, width) {
        out.push_str(&secret);
    }
    let _ = writeln!(
        out,
        "\n# access token: {}",
        token_source(args, &auth_layers, &parsed.effective)
    );
    out
}

/// `key = value  # source`, or a commented-out key when unset.
fn line(effective: &Effective, width: usize) -> String {
    let source = Source::describe(&effective.source);
    match &effective.value {
        Some(value) if is_secret(&effective.key) || pasted_secret(&effective.key, value) => {
            // A comment, not a key: the line must not read as a value to copy back.
            format!("# {:width$} (set, hidden)  # {source}\n", effective.key)
        }
        Some(value) => format!(
            "{:width$} = {}  # {source}\n",
            effective.key,
            toml_text(&without_password(value))
        ),
        None => format!("# {:width$} (not set)\n", effective.key),
    }
}

/// `value` with the password of a URL masked (`https://user:***@host`), which `sync`
/// refuses but which must not show here either; anything else as it is.
fn without_password(value: &str) -> String {
    match reqwest::Url::parse(value) {
        Ok(mut url) if url.password().is_some() => {
            // Setting a password fails only for a URL that cannot have one.
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => value.to_string(),
    }
}

/// Whether `value` of `key` is a `client_secret_env` that names no variable: most likely
/// the secret itself, pasted there by mistake, so it is masked too.
fn pasted_secret(key: &str, value: &str) -> bool {
    key == "client_secret_env" && !is_env_name(value)
}

/// The client secret's line where `[auth]` names a file or variable holding it: masked
/// when it can be read, else commented out with why it cannot.
fn client_secret(auth_layers: &[Effective], width: usize) -> Option<String> {
    let named = |key: &str| {
        auth_layers
            .iter()
            .find(|e| e.key == key && e.value.is_some())
    };
    let (holder, place) = match (named("client_secret_file"), named("client_secret_env")) {
        (Some(file), _) => (file, "the file"),
        (None, Some(env)) => (env, "env"),
        (None, None) => return None,
    };
    let name = match holder.value.as_deref() {
        Some(name) if !pasted_secret(&holder.key, name) => name,
        _ => "***",
    };
    let source = Source::describe(&holder.source);
    let origin = format!("from {place} {name} ({} set by {source})", holder.key);
    Some(match auth::client_secret(auth_layers) {
        Ok(_) => format!("# {:width$} (set, hidden)  # {origin}\n", "client_secret"),
        Err(error) => format!(
            "# {:width$} (missing: {error})  # {origin}\n",
            "client_secret"
        ),
    })
}

/// Keys whose value is itself a secret (not a file or variable that holds one).
fn is_secret(key: &str) -> bool {
    key.contains("secret") && !key.ends_with("_file") && !key.ends_with("_env")
}

/// A value as TOML writes it: numbers and booleans bare, text quoted and escaped.
fn toml_text(value: &str) -> String {
    if value.parse::<i64>().is_ok() || value == "true" || value == "false" {
        value.to_string()
    } else {
        toml::Value::String(value.to_string()).to_string()
    }
}

/// Which token source `sync` would use with these settings and where it was set, never
/// the token itself.
fn token_source(args: &SyncArgs, auth_layers: &[Effective], effective: &[Effective]) -> String {
    let auth = auth::resolve(auth_layers);
    let set_by = |key: &str, layers: &[Effective]| {
        layers
            .iter()
            .find(|e| e.key == key)
            .map_or_else(|| "default".into(), |e| Source::describe(&e.source))
    };
    match sync::resolve(args, &auth).map(|s| s.token) {
        Ok(TokenSource::Command(command)) => format!(
            "the output of --token-command {command:?}, from {}",
            set_by("token_command", effective)
        ),
        Ok(TokenSource::File(path)) => format!(
            "--token-file {}, from {}",
            path.display(),
            set_by("token_file", effective)
        ),
        Ok(TokenSource::Env(_)) => format!(
            "{} = \"***\", from env {}",
            sync::TOKEN_ENV,
            sync::TOKEN_ENV
        ),
        Ok(TokenSource::Fixed(_)) => format!(
            "the built-in emulator's, from emulator set by {}",
            set_by("emulator", effective)
        ),
        Ok(TokenSource::Refresh(grant)) => format!(
            "the [auth] refresh-token grant ({grant}), from client_id set by {}",
            set_by("client_id", auth_layers)
        ),
        Err(error) => format!("none: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn values_are_written_as_toml_and_secrets_masked() {
        assert_eq!(toml_text("8"), "8");
        assert_eq!(toml_text("5/s"), "\"5/s\"");
        let secret = Effective {
            key: "client_secret".into(),
            value: Some("hush".into()),
            source: Source::Default,
        };
        assert!(!line(&secret, 0).contains("hush"));
        assert!(!is_secret("client_secret_file"));
        let pasted = Effective {
            key: "client_secret_env".into(),
            value: Some("p@ss-word".into()),
            source: Source::Default,
        };
        assert!(!line(&pasted, 0).contains("p@ss"), "{}", line(&pasted, 0));
        let endpoint = Effective {
            key: "endpoint".into(),
            value: Some("https://me:hush@api.example.com/v1.0".into()),
            source: Source::Flag,
        };
        assert_eq!(
            line(&endpoint, 0),
            "endpoint = \"https://me:***@api.example.com/v1.0\"  # flag\n"
        );
    }

    #[test]
    fn a_client_secret_file_that_is_missing_is_shown_missing() {
        let layers = [Effective {
            key: "client_secret_file".into(),
            value: Some("/nonexistent/refsync/secret.txt".into()),
            source: Source::Default,
        }];
        let shown = client_secret(&layers, 0).expect("a line");
        assert!(
            shown.starts_with("# client_secret (missing: ") && shown.contains("cannot read"),
            "{shown}"
        );
    }

    #[test]
    fn sources_read_as_the_contract_names_them() {
        let file = Source::File {
            path: PathBuf::from("r.toml"),
            line: 3,
        };
        assert_eq!(Source::describe(&file), "file r.toml:3");
        assert_eq!(
            Source::describe(&Source::Env("REFSYNC_RATE".into())),
            "env REFSYNC_RATE"
        );
    }
}
