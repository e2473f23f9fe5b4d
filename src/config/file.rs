//! The TOML config file (`--config FILE`, `REFSYNC_CONFIG`): top-level keys named after
//! the flags (`max_attempts = 8`) and an `[auth]` table, each value kept as text with the
//! line it sits on, so later errors and `config show` can point at it.
//!
//! The file is read before clap parses the command line (its values become clap's
//! defaults), so the path is found by a small scan of the arguments rather than by clap.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The environment variable naming the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "REFSYNC_CONFIG";

/// The keys the `[auth]` table may hold.
pub const AUTH_KEYS: [&str; 7] = [
    "tenant",
    "client_id",
    "client_secret_file",
    "client_secret_env",
    "refresh_token_file",
    "authority",
    "scope",
];

/// One value of the file, as text, with its 1-based line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileValue {
    /// The value as a flag would take it (`5/s`, `8`, `true`).
    pub text: String,
    /// The line it is written on.
    pub line: usize,
}

/// A parsed config file.
#[derive(Clone, Debug, Default)]
pub struct ConfigFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Top-level keys: one per flag, `-` written `_`.
    pub options: BTreeMap<String, FileValue>,
    /// The `[auth]` table.
    pub auth: BTreeMap<String, FileValue>,
}

/// Why the config file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file cannot be read.
    #[error("cannot read config file {path}: {source}; check the --config path (or {CONFIG_ENV})")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("config file {path}:{line}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Where the parser stopped.
        line: usize,
        /// What the parser said.
        message: String,
    },
    /// A key no command knows, or a value of the wrong kind.
    #[error("config file {path}:{line}: {message}")]
    Key {
        /// The file.
        path: PathBuf,
        /// The key's line.
        line: usize,
        /// What is wrong, naming the key.
        message: String,
    },
}

/// The config file's path: `--config FILE` / `--config=FILE` among `args` (before a
/// `--`), else `REFSYNC_CONFIG`, else none.
pub fn locate(args: &[OsString]) -> Option<PathBuf> {
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        let text = word.to_string_lossy();
        if text == "--" {
            break;
        }
        if text == "--config" {
            return words.next().map(PathBuf::from);
        }
        if let Some(path) = text.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os(CONFIG_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

impl ConfigFile {
    /// Reads and parses the file at `path`.
    pub fn read(path: &Path) -> Result<ConfigFile, FileError> {
        let text = std::fs::read_to_string(path).map_err(|source| FileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        ConfigFile::parse(path, &text)
    }

    /// Parses `text`, read from `path`; keys are checked against commands later.
    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, FileError> {
        let table = DeTable::parse(text).map_err(|e| FileError::Syntax {
            path: path.to_path_buf(),
            line: line_of(text, e.span().map_or(0, |s| s.start)),
            message: e.message().trim().to_string(),
        })?;
        let mut file = ConfigFile {
            path: path.to_path_buf(),
            ..ConfigFile::default()
        };
        for (key, value) in table.get_ref() {
            let line = line_of(text, key.span().start);
            match value.get_ref() {
                DeValue::Table(auth) if key.get_ref() == "auth" => file.read_auth(text, auth)?,
                other => {
                    let text_value = scalar(other).map_err(|m| file.key_error(line, key, m))?;
                    file.options.insert(
                        key.get_ref().to_string(),
                        FileValue {
                            text: text_value,
                            line,
                        },
                    );
                }
            }
        }
        Ok(file)
    }

    /// Reads the `[auth]` table, refusing keys it does not know.
    fn read_auth(&mut self, text: &str, auth: &DeTable<'_>) -> Result<(), FileError> {
        for (key, value) in auth {
            let line = line_of(text, key.span().start);
            if !AUTH_KEYS.contains(&key.get_ref().as_ref()) {
                let known = AUTH_KEYS.join(", ");
                return Err(self.key_error(
                    line,
                    key,
                    format!("unknown key in [auth]; the keys are {known}"),
                ));
            }
            let value = scalar(value.get_ref()).map_err(|m| self.key_error(line, key, m))?;
            self.auth
                .insert(key.get_ref().to_string(), FileValue { text: value, line });
        }
        Ok(())
    }

    /// An error about `key` on `line`.
    fn key_error(&self, line: usize, key: &Spanned<impl AsRef<str>>, message: String) -> FileError {
        FileError::Key {
            path: self.path.clone(),
            line,
            message: format!("{}: {message}", key.get_ref().as_ref()),
        }
    }

    /// The error for a top-level key that no command takes.
    pub fn unknown_key(&self, key: &str, value: &FileValue) -> FileError {
        FileError::Key {
            path: self.path.clone(),
            line: value.line,
            message: format!(
                "unknown key {key:?}; keys are flag names with - written _ (e.g. max_attempts), and [auth]; see config/refsync.toml"
            ),
        }
    }
}

/// A scalar value as the text a flag would take.
fn scalar(value: &DeValue<'_>) -> Result<String, String> {
    match value {
        DeValue::String(s) => Ok(s.to_string()),
        DeValue::Integer(i) if i.radix() == 10 => Ok(i.as_str().replace('_', "")),
        DeValue::Float(f) => Ok(f.as_str().replace('_', "")),
        DeValue::Boolean(b) => Ok(b.to_string()),
        _ => Err("the value must be a string, a decimal number or true/false".into()),
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConfigFile, FileError> {
        ConfigFile::parse(Path::new("r.toml"), text)
    }

    #[test]
    fn values_become_flag_text_with_their_lines() {
        let file = parse(
            "# c\nrate = \"5/s\"\nmax_attempts = 8\nemulator = true\n\n[auth]\ntenant = \"t\"\n",
        )
        .expect("parses");
        let text = |k: &str| file.options[k].text.clone();
        assert_eq!(
            (text("rate"), text("max_attempts"), text("emulator")),
            ("5/s".into(), "8".into(), "true".into())
        );
        assert_eq!(file.options["max_attempts"].line, 3);
        assert_eq!(
            file.auth["tenant"],
            FileValue {
                text: "t".into(),
                line: 7
            }
        );
    }

    #[test]
    fn an_unknown_auth_key_names_the_key_and_line() {
        let error = parse("[auth]\ntenant = \"t\"\nclient_secret = \"x\"\n").expect_err("refused");
        let message = error.to_string();
        assert!(
            message.contains("r.toml:3") && message.contains("client_secret"),
            "{message}"
        );
        assert!(
            !message.contains("\"x\""),
            "the value may be a secret: {message}"
        );
    }

    #[test]
    fn a_syntax_error_names_the_line() {
        let message = parse("rate = \"5/s\"\nmax_attempts = = 8\n")
            .expect_err("refused")
            .to_string();
        assert!(message.contains("r.toml:2"), "{message}");
    }

    #[test]
    fn arrays_are_refused() {
        assert!(parse("inputs = [\"a.csv\"]\n").is_err());
    }

    #[test]
    fn the_config_flag_wins_over_the_environment_and_stops_at_double_dash() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            locate(&args(&["refsync", "sync", "--config", "a.toml"])),
            Some("a.toml".into())
        );
        assert_eq!(
            locate(&args(&["refsync", "--config=b.toml", "sync"])),
            Some("b.toml".into())
        );
        let after = locate(&args(&["refsync", "sync", "--", "--config", "c.toml"]));
        assert_ne!(after, Some("c.toml".into()));
    }
}
