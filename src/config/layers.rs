//! Layering the three sources of every option — the config file, `REFSYNC_*` variables,
//! flags — onto clap's own precedence: each file value becomes the argument's default, each
//! argument gets its `REFSYNC_<NAME>` variable, and clap resolves flag > env > default.
//! [`clap::ArgMatches::value_source`] then tells where each value came from.

use super::file::{ConfigFile, FileError, FileValue, locate};
use crate::cli::Cli;
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command, CommandFactory, FromArgMatches};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;

/// Where an effective value came from, for `config show`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Built in.
    Default,
    /// The config file, at this line.
    File {
        /// The file.
        path: PathBuf,
        /// The line of the key.
        line: usize,
    },
    /// An environment variable.
    Env(String),
    /// The command line.
    Flag,
}

/// One option of the command that runs: its config key, value and origin.
#[derive(Clone, Debug)]
pub struct Effective {
    /// The key, as the config file writes it (`max_attempts`).
    pub key: String,
    /// The value as text, `None` when unset.
    pub value: Option<String>,
    /// Where it came from.
    pub source: Source,
}

/// The command line parsed over the config file and environment.
#[derive(Debug)]
pub struct Parsed {
    /// The typed command line.
    pub cli: Cli,
    /// The config file, when one was given.
    pub file: Option<ConfigFile>,
    /// Every option of the command that runs, with its origin.
    pub effective: Vec<Effective>,
}

/// Why the command line cannot be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The config file is unreadable or wrong (exit 1).
    #[error(transparent)]
    File(#[from] FileError),
    /// Clap's own outcome: a usage error (exit 2), or `--help` / `--version` (exit 0).
    #[error(transparent)]
    Clap(#[from] clap::Error),
}

/// Parses `args` (program name first) over the config file they or the environment name.
pub fn parse_from(args: Vec<OsString>) -> Result<Parsed, ParseError> {
    let file = locate(&args).map(|p| ConfigFile::read(&p)).transpose()?;
    let command = command(file.as_ref())?;
    let matches = command.clone().try_get_matches_from(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    let effective = effective(&command, &matches, file.as_ref());
    Ok(Parsed {
        cli,
        file,
        effective,
    })
}

/// The full command, every option layered over `file`; also what completions and the man
/// page are generated from. Fails on a file key that no command takes or a bad value.
pub fn command(file: Option<&ConfigFile>) -> Result<Command, FileError> {
    let command = Cli::command().mut_subcommand("config", |config| {
        // `config show` takes sync's flags, but inputs are optional there.
        config.mut_subcommand("show", |show| show.mut_arg("inputs", |a| a.required(false)))
    });
    let mut used = BTreeSet::new();
    let command = layer(command, file, &mut used)?;
    if let Some(file) = file
        && let Some((key, value)) = file.options.iter().find(|(k, _)| !used.contains(*k))
    {
        return Err(file.unknown_key(key, value));
    }
    Ok(command)
}

/// Every config key that `command` and its subcommands take (what a file may hold at its
/// top level).
pub fn option_keys(command: &Command) -> BTreeSet<String> {
    let own = command.get_arguments().filter_map(key_of);
    let nested = command.get_subcommands().flat_map(option_keys);
    own.chain(nested).collect()
}

/// Layers `command`'s own options, then its subcommands', noting the file keys used.
fn layer(
    mut command: Command,
    file: Option<&ConfigFile>,
    used: &mut BTreeSet<String>,
) -> Result<Command, FileError> {
    let options: Vec<(String, String)> = command
        .get_arguments()
        .filter_map(|a| key_of(a).map(|k| (a.get_id().to_string(), k)))
        .collect();
    for (id, key) in options {
        let value = file.and_then(|f| f.options.get(&key));
        if let (Some(file), Some(value)) = (file, value) {
            check_value(&command, &id, &key, value, file)?;
            used.insert(key.clone());
        }
        command = command.mut_arg(&id, |arg| with_layers(arg, &key, value));
    }
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        let mut failed = None;
        command = command.mut_subcommand(&name, |sub| match layer(sub.clone(), file, used) {
            Ok(layered) => layered,
            Err(error) => {
                failed = Some(error);
                sub
            }
        });
        if let Some(error) = failed {
            return Err(error);
        }
    }
    Ok(command)
}

/// The config key of an option (`max-attempts` → `max_attempts`); `None` for what is not
/// configurable: positionals, `--help`, `--version`, and `--config` itself.
fn key_of(arg: &Arg) -> Option<String> {
    let long = arg.get_long()?;
    let skipped = matches!(
        arg.get_action(),
        ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
    );
    (!skipped && long != "config").then(|| long.replace('-', "_"))
}

/// Adds the `REFSYNC_<KEY>` variable where the definition has none, and the file's value
/// as the default.
fn with_layers(arg: Arg, key: &str, value: Option<&FileValue>) -> Arg {
    let arg = match arg.get_env() {
        Some(_) => arg,
        None => arg.env(format!("REFSYNC_{}", key.to_ascii_uppercase())),
    };
    match value {
        Some(value) => arg.default_value(value.text.clone()),
        None => arg,
    }
}

/// Checks a file value with the option's own parser, so a bad value names its line.
fn check_value(
    command: &Command,
    id: &str,
    key: &str,
    value: &FileValue,
    file: &ConfigFile,
) -> Result<(), FileError> {
    let Some(arg) = command.get_arguments().find(|a| a.get_id() == id) else {
        return Ok(());
    };
    let refused = |message: String| FileError::Key {
        path: file.path.clone(),
        line: value.line,
        message: format!("{key}: {message}"),
    };
    match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse => match value.text.as_str() {
            "true" | "false" => Ok(()),
            _ => Err(refused("write true or false".into())),
        },
        ArgAction::Count => value
            .text
            .parse::<u8>()
            .map(drop)
            .map_err(|_| refused("write a whole number".into())),
        _ => parse_alone(arg, &value.text).map_err(refused),
    }
}

/// Runs `arg`'s value parser on `text` in a command of its own.
fn parse_alone(arg: &Arg, text: &str) -> Result<(), String> {
    let probe = Arg::new("value")
        .long("value")
        .value_parser(arg.get_value_parser().clone())
        .allow_hyphen_values(true);
    Command::new("check")
        .no_binary_name(true)
        .arg(probe)
        .try_get_matches_from([format!("--value={text}")])
        .map(drop)
        .map_err(|e| clap_message(&e))
}

/// The first line of a clap error, without its `error: ` prefix or styling.
fn clap_message(error: &clap::Error) -> String {
    let text = error.render().to_string();
    let line = text.lines().next().unwrap_or_default();
    line.trim_start_matches("error: ")
        .replace("'--value <value>'", "this key")
}

/// Every option of the command that runs, with its value and origin.
fn effective(command: &Command, matches: &ArgMatches, file: Option<&ConfigFile>) -> Vec<Effective> {
    let (mut leaf, mut leaf_matches) = (command, matches);
    while let Some((name, sub)) = leaf_matches.subcommand() {
        match leaf.find_subcommand(name) {
            Some(found) => (leaf, leaf_matches) = (found, sub),
            None => break,
        }
    }
    let mut seen = BTreeSet::new();
    let globals = command.get_arguments().map(|a| (a, matches));
    let own = leaf.get_arguments().map(|a| (a, leaf_matches));
    own.chain(globals)
        .filter_map(|(arg, m)| Some((key_of(arg)?, arg, m)))
        .filter(|(key, _, _)| seen.insert(key.clone()))
        .map(|(key, arg, m)| one_effective(key, arg, m, file))
        .collect()
}

/// One option's value and origin.
fn one_effective(
    key: String,
    arg: &Arg,
    matches: &ArgMatches,
    file: Option<&ConfigFile>,
) -> Effective {
    let id = arg.get_id().as_str();
    let value = match arg.get_action() {
        ArgAction::Count => Some(matches.get_count(id).to_string()),
        _ => matches.get_raw(id).map(|raw| {
            raw.map(|v| v.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(",")
        }),
    };
    let from_file = file.and_then(|f| f.options.get(&key).map(|v| (f.path.clone(), v.line)));
    let source = match (matches.value_source(id), from_file) {
        (Some(ValueSource::CommandLine), _) => Source::Flag,
        (Some(ValueSource::EnvVariable), _) => Source::Env(env_name(arg)),
        (Some(ValueSource::DefaultValue), Some((path, line))) => Source::File { path, line },
        _ => Source::Default,
    };
    Effective { key, value, source }
}

/// The environment variable of an option.
fn env_name(arg: &Arg) -> String {
    arg.get_env()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn file(text: &str) -> ConfigFile {
        ConfigFile::parse(Path::new("r.toml"), text).expect("parses")
    }

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn keys_are_long_names_without_help_version_or_config() {
        let keys = option_keys(&command(None).expect("command"));
        assert!(
            keys.contains("max_attempts") && keys.contains("log_format") && keys.contains("out")
        );
        assert!(!keys.contains("help") && !keys.contains("version") && !keys.contains("config"));
    }

    #[test]
    fn a_file_value_is_the_default_and_a_flag_beats_it() {
        let layered = command(Some(&file("max_attempts = 9\nrate = \"2/s\"\n"))).expect("command");
        let matches = layered
            .clone()
            .try_get_matches_from(args(&["refsync", "config", "show", "--rate", "3/s"]))
            .expect("parses");
        let file = file("max_attempts = 9\nrate = \"2/s\"\n");
        let shown = effective(&layered, &matches, Some(&file));
        let of = |key: &str| shown.iter().find(|e| e.key == key).expect("key").clone();
        assert_eq!(of("max_attempts").value.as_deref(), Some("9"));
        assert_eq!(
            of("max_attempts").source,
            Source::File {
                path: "r.toml".into(),
                line: 1
            }
        );
        assert_eq!(
            (of("rate").value.as_deref(), of("rate").source),
            (Some("3/s"), Source::Flag)
        );
    }

    #[test]
    fn a_bad_value_for_a_switch_names_the_key() {
        let error = command(Some(&file("\nemulator = \"yes\"\n"))).expect_err("refused");
        assert!(error.to_string().contains("r.toml:2: emulator"), "{error}");
    }
}
