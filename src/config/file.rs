//! The TOML config file (`--config FILE`, `REFSYNC_CONFIG`): top-level keys named after
//! the flags (`max_attempts = 8`) and an `[auth]` table, each value kept as text with the
//! line it sits on, so later errors and `config show` can point at it.
//!
//! The file is read before clap parses the command line (its values become clap's
//! defaults), so the path is found by a small scan of the arguments rather than by clap.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
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
    /// Top-level keys whose value is a list or a table, with their lines: each is either a
    /// key no command takes or a value of the wrong kind, which only the commands can tell.
    pub unusable: BTreeMap<String, usize>,
    /// The `[auth]` table.
    pub auth: BTreeMap<String, FileValue>,
    /// What parsing alone found wrong (unknown sections, `[auth]` keys); reported with
    /// the keys no command takes by [`crate::config::layers::command`].
    pub problems: Vec<Problem>,
}

/// One thing wrong in the config file: its line and what is wrong, naming the key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// The 1-based line.
    pub line: usize,
    /// What is wrong, naming the key; never the value of a key that may hold a secret.
    pub message: String,
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
    /// Keys no command knows, values of the wrong kind: every one found, by line.
    #[error("{}", keys_message(path, problems))]
    Keys {
        /// The file.
        path: PathBuf,
        /// What is wrong, in line order.
        problems: Vec<Problem>,
    },
}

/// One problem as `config file PATH:LINE: message`; several as a count, then one
/// `PATH:LINE: message` line each.
fn keys_message(path: &Path, problems: &[Problem]) -> String {
    let path = path.display();
    match problems {
        [one] => format!("config file {path}:{}: {}", one.line, one.message),
        many => {
            let lines: Vec<String> = many
                .iter()
                .map(|p| format!("\n  {path}:{}: {}", p.line, p.message))
                .collect();
            format!(
                "config file {path} has {} problems:{}",
                many.len(),
                lines.concat()
            )
        }
    }
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

    /// Parses `text`, read from `path`. Only a syntax error fails here; what is wrong with
    /// keys and values is collected in [`ConfigFile::problems`] and checked against the
    /// commands later, so that every mistake is reported at once.
    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, FileError> {
        let table = DeTable::parse(text).map_err(|e| syntax_error(path, text, &e))?;
        let mut file = ConfigFile {
            path: path.to_path_buf(),
            ..ConfigFile::default()
        };
        for (key, value) in table.get_ref() {
            let line = line_of(text, key.span().start);
            let name = key.get_ref().to_string();
            match value.get_ref() {
                DeValue::Table(auth) if name == "auth" => file.read_auth(text, auth),
                DeValue::Table(_) => file.problems.push(Problem {
                    line,
                    message: format!(
                        "unknown section [{name}]; the only section is [auth], and every other key goes at the top of the file, above [auth]"
                    ),
                }),
                other => match scalar(other) {
                    Ok(text) => {
                        file.options.insert(name, FileValue { text, line });
                    }
                    Err(_) => {
                        file.unusable.insert(name, line);
                    }
                },
            }
        }
        Ok(file)
    }

    /// Reads the `[auth]` table, noting keys it does not know and unusable values.
    fn read_auth(&mut self, text: &str, auth: &DeTable<'_>) {
        for (key, value) in auth {
            let line = line_of(text, key.span().start);
            let name = key.get_ref().to_string();
            match auth_value(&name, value.get_ref()) {
                Ok(text) => {
                    self.auth.insert(name, FileValue { text, line });
                }
                Err(message) => self.problems.push(Problem {
                    line,
                    message: format!("{name}: {message}"),
                }),
            }
        }
    }
}

/// The problem of a top-level key that no command takes, with a hint where one helps: the
/// `known` key it most likely means, where one is close.
pub fn unknown_key(key: &str, line: usize, known: &BTreeSet<String>) -> Problem {
    let message = if AUTH_KEYS.contains(&key) {
        format!(
            "{key:?} belongs in the [auth] section: move it below the [auth] line (a top-level key goes above [auth])"
        )
    } else if key == "inputs" {
        "inputs are given on the command line, not in the config file".to_string()
    } else if let Some(meant) = closest_key(key, known) {
        format!("unknown key {key:?}; did you mean {meant}? (keys are flag names with - written _)")
    } else {
        format!(
            "unknown key {key:?}; keys are flag names with - written _ (e.g. max_attempts), and [auth]; `refsync config show` lists them"
        )
    };
    Problem { line, message }
}

/// The `known` name that `name` most likely means: the same in another case or with `-`
/// for `_` (`skip-unchanged`, `Rate`), or one at most two edits away (`concurency`).
pub fn closest_key<'k>(name: &str, known: &'k BTreeSet<String>) -> Option<&'k str> {
    let written = name.to_ascii_lowercase().replace('-', "_");
    known
        .iter()
        .map(|k| {
            (
                strsim::damerau_levenshtein(&written, &k.to_ascii_lowercase()),
                k,
            )
        })
        .filter(|(edits, _)| *edits <= 2)
        .min()
        .map(|(_, k)| k.as_str())
}

/// The problem of a key that a command takes, holding a list or a table.
pub fn not_scalar(key: &str, line: usize) -> Problem {
    Problem {
        line,
        message: format!(
            "{key}: the value must be a string, a decimal number or true/false (lists are not accepted)"
        ),
    }
}

/// Whether `name` can be an environment variable's name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// One `[auth]` value as text, or what is wrong with it. Values of unknown keys and bad
/// `client_secret_env` values are never quoted: they may be a secret pasted by mistake.
fn auth_value(key: &str, value: &DeValue<'_>) -> Result<String, String> {
    if !AUTH_KEYS.contains(&key) {
        let known = AUTH_KEYS.join(", ");
        return Err(format!(
            "unknown key in [auth]; the keys are {known} (a key below the [auth] line belongs to it: top-level keys go above it)"
        ));
    }
    let text = scalar(value)?;
    if key == "client_secret_env" && !is_env_name(&text) {
        return Err(
            "must be the name of an environment variable (letters, digits and _, not starting with a digit) that holds the secret, not the secret itself; the value is not shown"
                .into(),
        );
    }
    Ok(text)
}

/// The error for a file that is not valid TOML, with a hint for an unquoted text value.
fn syntax_error(path: &Path, text: &str, error: &toml::de::Error) -> FileError {
    let line = line_of(text, error.span().map_or(0, |s| s.start));
    let message = text
        .lines()
        .nth(line - 1)
        .and_then(unquoted_hint)
        .unwrap_or_else(|| error.message().trim().to_string());
    FileError::Syntax {
        path: path.to_path_buf(),
        line,
        message,
    }
}

/// For `key = bare words` (text without quotes, the usual slip), what to write instead;
/// the value itself is not repeated, as it may be a secret.
fn unquoted_hint(line: &str) -> Option<String> {
    let (key, value) = line.split_once('=')?;
    let key = key.trim();
    let value = value.trim();
    let is_key = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let bare = value
        .chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() || "_./~$-+".contains(c));
    (is_key && bare).then(|| {
        format!(
            "{key}: the value is not valid TOML; text needs quotes (write {key} = \"…\"), and true/false are written in lower case"
        )
    })
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
        let file = parse("[auth]\ntenant = \"t\"\nclient_secret = \"x\"\n").expect("parses");
        let [problem] = file.problems.as_slice() else {
            panic!("one problem: {:?}", file.problems);
        };
        assert_eq!(problem.line, 3);
        assert!(problem.message.contains("client_secret"), "{problem:?}");
        assert!(
            !problem.message.contains("\"x\""),
            "the value may be a secret: {problem:?}"
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
    fn an_unquoted_text_value_is_told_to_take_quotes_without_repeating_it() {
        let message = parse("rate = \"5/s\"\ntoken_file = INLINE\n")
            .expect_err("refused")
            .to_string();
        assert!(
            message.contains("r.toml:2") && message.contains("token_file = \"…\""),
            "{message}"
        );
        assert!(
            !message.contains("INLINE") && !message.contains("float"),
            "{message}"
        );
    }

    #[test]
    fn lists_and_sections_are_kept_aside_for_the_commands_to_judge() {
        let file = parse("inputs = [\"a.csv\"]\n\n[foo]\nx = 1\n").expect("parses");
        assert_eq!(file.unusable.get("inputs"), Some(&1));
        let [problem] = file.problems.as_slice() else {
            panic!("one problem: {:?}", file.problems);
        };
        assert_eq!(problem.line, 3);
        assert!(
            problem.message.contains("unknown section [foo]"),
            "{problem:?}"
        );
    }

    #[test]
    fn a_client_secret_env_that_is_no_variable_name_is_refused_unseen() {
        let file = parse("[auth]\nclient_secret_env = \"s3cr3t~value\"\n").expect("parses");
        let text = format!("{:?}", file.problems);
        assert!(
            text.contains("client_secret_env") && !text.contains("s3cr3t"),
            "{text}"
        );
        assert!(is_env_name("REFSYNC_CLIENT_SECRET") && is_env_name("_x1"));
        assert!(!is_env_name("1X") && !is_env_name("") && !is_env_name("a-b"));
    }

    #[test]
    fn several_problems_are_listed_one_a_line() {
        let problems = vec![
            Problem {
                line: 2,
                message: "a".into(),
            },
            Problem {
                line: 5,
                message: "b".into(),
            },
        ];
        let error = FileError::Keys {
            path: "r.toml".into(),
            problems,
        };
        assert_eq!(
            error.to_string(),
            "config file r.toml has 2 problems:\n  r.toml:2: a\n  r.toml:5: b"
        );
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
