//! Layering the three sources of every option — the config file, `REFSYNC_*` variables,
//! flags — onto clap's own precedence: each file value becomes the argument's default, each
//! argument gets its `REFSYNC_<NAME>` variable, and clap resolves flag > env > default.
//! [`clap::ArgMatches::value_source`] then tells where each value came from.

use super::file::{
    AUTH_KEYS, ConfigFile, FileError, FileValue, Problem, closest_key, locate, not_scalar,
    unknown_key,
};
use super::sync::EmulatorOrEndpoint;
use crate::cli::Cli;
use clap::builder::BoolishValueParser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command, CommandFactory, FromArgMatches};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

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

impl Source {
    /// Where a value came from, as `config show` prints it: `default`, `file PATH:LINE`,
    /// `env NAME`, `flag`.
    pub fn describe(&self) -> String {
        match self {
            Source::Default => "default".into(),
            Source::File { path, line } => format!("file {}:{line}", path.display()),
            Source::Env(name) => format!("env {name}"),
            Source::Flag => "flag".into(),
        }
    }
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
    /// `REFSYNC_*` variables set that no option reads, each with the one it likely means
    /// (`REFSYNC_MAX_ATTEMPS`, `REFSYNC_MAX_ATTEMPTS`): warned of, since they are ignored.
    pub misspelt_variables: Vec<(String, String)>,
    /// Settings that a stronger layer overrode in a way worth a warning (an endpoint on
    /// the command line over `REFSYNC_EMULATOR`), each said once the logs are set up.
    pub notices: Vec<String>,
}

/// Why the command line cannot be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The config file is unreadable or wrong (exit 1).
    #[error(transparent)]
    File(#[from] FileError),
    /// A `REFSYNC_*` variable holds a value its option refuses (exit 1, like the file).
    #[error(transparent)]
    Env(#[from] EnvError),
    /// Clap's own outcome: a usage error (exit 2), or `--help` / `--version` (exit 0).
    #[error(transparent)]
    Clap(#[from] clap::Error),
}

/// A `REFSYNC_*` variable whose value its option refuses.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {var}: {message}")]
pub struct EnvError {
    /// The variable (`REFSYNC_RATE`).
    pub var: String,
    /// What is wrong, and what is accepted.
    pub message: String,
}

/// Variables still read under an older name: (the name, the older one). The older one
/// counts only when the name is not set.
const ENV_ALIASES: [(&str, &str); 1] = [("REFSYNC_LISTEN", "REFSYNC_EMULATOR_LISTEN")];

/// What a boolean variable accepts, in any case.
const BOOLEANS: &str = "true/false, 1/0, yes/no or on/off";

/// Parses `args` (program name first) over the config file they or the environment name.
pub fn parse_from(args: Vec<OsString>) -> Result<Parsed, ParseError> {
    let file = locate(&args).map(|p| ConfigFile::read(&p)).transpose()?;
    let mut command = command(file.as_ref())?;
    let matches = match command.clone().try_get_matches_from(&args) {
        Ok(matches) => matches,
        Err(error) => {
            return Err(env_fault(&command, &args, &error).map_or(error.into(), Into::into));
        }
    };
    let mut cli = Cli::from_arg_matches(&matches)?;
    let mut notices = Vec::new();
    let effective = effective(&command, &matches, file.as_ref());
    if let Some(sync_args) = cli.sync_args_mut() {
        super::sync::keep_strongest_token_sources(sync_args, &effective);
        match super::sync::settle_emulator_or_endpoint(sync_args, &effective) {
            EmulatorOrEndpoint::Settled => {}
            EmulatorOrEndpoint::BothFlags => {
                let message = "--emulator runs against the built-in emulator and --endpoint \
                               names another API: give one of them";
                return Err(command.error(ErrorKind::ArgumentConflict, message).into());
            }
            EmulatorOrEndpoint::EndpointWins(warning) => notices.push(warning),
        }
        // `--resume` or `--skip-unchanged` on the command line with no ledger in any layer
        // is a usage error (exit 2); set in the environment or the file, `sync` reports the
        // same lack as a configuration error (exit 1).
        let from_flag = |key: &str| {
            effective
                .iter()
                .any(|e| e.key == key && e.source == Source::Flag)
        };
        if let Some(flag) = super::sync::switch_without_ledger(sync_args, from_flag) {
            let message =
                format!("{flag} needs --ledger FILE: the runs it reads are recorded there");
            return Err(command
                .error(ErrorKind::MissingRequiredArgument, message)
                .into());
        }
    }
    let misspelt_variables =
        misspelt_variables(&command, std::env::vars_os().map(|(name, _)| name));
    Ok(Parsed {
        cli,
        file,
        effective,
        misspelt_variables,
        notices,
    })
}

/// Of the variables named `set`, the `REFSYNC_*` ones that no option of `command` reads
/// but that are close to one that does, with it. A variable close to none is left alone:
/// it may be the user's own (the client secret's, say).
fn misspelt_variables(
    command: &Command,
    set: impl Iterator<Item = OsString>,
) -> Vec<(String, String)> {
    let mut known = variable_names(command);
    known.extend(AUTH_KEYS.iter().map(|key| super::auth::variable_of(key)));
    known.extend(ENV_ALIASES.iter().map(|(old, _)| (*old).to_string()));
    set.filter_map(|name| name.into_string().ok())
        .filter(|name| name.starts_with("REFSYNC_") && !known.contains(name))
        .filter_map(|name| closest_key(&name, &known).map(|k| (name.clone(), k.to_string())))
        .collect()
}

/// The variables the options of `command` and its subcommands read.
fn variable_names(command: &Command) -> BTreeSet<String> {
    let own = command
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|name| name.to_string_lossy().into_owned());
    let nested = command.get_subcommands().flat_map(variable_names);
    own.chain(nested).collect()
}

/// Whether `args` (program name first), `REFSYNC_LOG_FORMAT` or the config file ask for
/// JSON logs, known before the command line is parsed, so that even a usage error or a
/// broken config file can be a JSON line. The flag beats the variable, which beats the
/// file, as for every option.
pub fn json_logs_requested(args: &[OsString]) -> bool {
    let words = raw_words(args);
    if let Some(format) = flag_value(&words, "--log-format") {
        return format == "json";
    }
    if let Some(format) = env_set("REFSYNC_LOG_FORMAT") {
        return format == "json";
    }
    config_value(&words, "log_format").is_some_and(|format| format == "json")
}

/// The words of a command line after the program's name, up to a `--`.
fn raw_words(args: &[OsString]) -> Vec<String> {
    args.iter()
        .skip(1)
        .map(|w| w.to_string_lossy().into_owned())
        .take_while(|w| w != "--")
        .collect()
}

/// The value of the last `flag` among `words`, as `--flag VALUE` or `--flag=VALUE`.
fn flag_value(words: &[String], flag: &str) -> Option<String> {
    let joined = format!("{flag}=");
    words
        .iter()
        .enumerate()
        .filter_map(|(i, word)| match word {
            word if word == flag => words.get(i + 1).cloned(),
            word => word.strip_prefix(&joined).map(str::to_owned),
        })
        .next_back()
}

/// The value of variable `name`, unless it is unset or empty: a template that writes
/// `REFSYNC_RATE=${RATE}` with nothing in `RATE` means to leave the option alone.
fn env_set(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// The top-level `key` of the config file the raw `words` (or `REFSYNC_CONFIG`) name, read
/// line by line: the file may be the very thing that cannot be parsed.
fn config_value(words: &[String], key: &str) -> Option<String> {
    let path = flag_value(words, "--config").or_else(|| env_set("REFSYNC_CONFIG"))?;
    let text = std::fs::read_to_string(Path::new(&path)).ok()?;
    text.lines()
        .take_while(|line| !line.trim_start().starts_with('['))
        .filter_map(|line| line.split_once('='))
        .find(|(name, _)| name.trim() == key)
        .map(|(_, value)| {
            let value = value.split('#').next().unwrap_or("").trim();
            value.trim_matches(['"', '\'']).to_string()
        })
}

/// Where a `plan` or `sync` command line asks for its summary (`--summary-json`, else
/// `REFSYNC_SUMMARY_JSON`), and the command's name as the summary gives it, read from the
/// raw words: for a command line that cannot be parsed, whose summary must still say so.
pub fn summary_requested(args: &[OsString]) -> Option<(std::path::PathBuf, &'static str)> {
    let words = raw_words(args);
    let command = match words.iter().find(|w| !w.starts_with('-'))?.as_str() {
        "plan" => "plan",
        "sync" if words.iter().any(|w| w == "--dry-run") => "dry-run",
        "sync" => "sync",
        _ => return None,
    };
    let path = flag_value(&words, "--summary-json")
        .or_else(|| env_set("REFSYNC_SUMMARY_JSON"))
        .or_else(|| config_value(&words, "summary_json"))?;
    let path = crate::config::parse::output_path(&path).ok()?;
    Some((path, command))
}

/// The full command, every option layered over `file`; also what completions and the man
/// page are generated from. Fails, listing each by line, on file keys that no command
/// takes and on bad values.
pub fn command(file: Option<&ConfigFile>) -> Result<Command, FileError> {
    let command = Cli::command().mut_subcommand("config", |config| {
        // `config show` takes sync's flags, but inputs are optional there.
        config.mut_subcommand("show", |show| show.mut_arg("inputs", |a| a.required(false)))
    });
    let mut used = BTreeSet::new();
    let mut problems = BTreeSet::new();
    let command = layer(command, file, &mut used, &mut problems);
    let Some(file) = file else {
        return Ok(command);
    };
    problems.extend(file.problems.iter().cloned());
    let known = option_keys(&command);
    for (key, value) in &file.options {
        if !used.contains(key) {
            problems.insert(unknown_key(key, value.line, &known));
        }
    }
    for (key, line) in &file.unusable {
        problems.insert(if known.contains(key) {
            not_scalar(key, *line)
        } else {
            unknown_key(key, *line, &known)
        });
    }
    if problems.is_empty() {
        return Ok(command);
    }
    Err(FileError::Keys {
        path: file.path.clone(),
        problems: problems.into_iter().collect(),
    })
}

/// Every config key that `command` and its subcommands take (what a file may hold at its
/// top level).
pub fn option_keys(command: &Command) -> BTreeSet<String> {
    let own = command.get_arguments().filter_map(key_of);
    let nested = command.get_subcommands().flat_map(option_keys);
    own.chain(nested).collect()
}

/// Layers `command`'s own options, then its subcommands', noting the file keys used and
/// the file values refused.
fn layer(
    mut command: Command,
    file: Option<&ConfigFile>,
    used: &mut BTreeSet<String>,
    problems: &mut BTreeSet<Problem>,
) -> Command {
    let options: Vec<(String, String)> = command
        .get_arguments()
        .filter_map(|a| key_of(a).map(|k| (a.get_id().to_string(), k)))
        .collect();
    for (id, key) in options {
        let value = file.and_then(|f| f.options.get(&key));
        if let Some(value) = value {
            problems.extend(check_value(&command, &id, &key, value));
            used.insert(key.clone());
        }
        command = command.mut_arg(&id, |arg| with_layers(arg, &key, value));
    }
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        command = command.mut_subcommand(&name, |sub| layer(sub, file, used, problems));
    }
    command
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

/// Adds the `REFSYNC_<KEY>` variable where the definition has none, the file's value as
/// the default (or an older variable's, see [`ENV_ALIASES`]), and, for a switch, the
/// usual boolean spellings in its variable.
fn with_layers(arg: Arg, key: &str, value: Option<&FileValue>) -> Arg {
    let mut arg = match arg.get_env() {
        Some(_) => arg,
        None => arg.env(format!("REFSYNC_{}", key.to_ascii_uppercase())),
    };
    if is_switch(&arg) {
        arg = arg.value_parser(BoolishValueParser::new());
    }
    let default = alias_value(&arg)
        .map(|(_, text)| text)
        .or_else(|| value.map(|v| v.text.clone()));
    // A value that may hold a secret, from the environment or the file, is never shown in
    // help; a built-in default is.
    if arg.is_hide_env_values_set() && default.is_some() {
        arg = arg.hide_default_value(true);
    }
    // An empty variable counts as unset (clap would take it for the value "").
    let empty = arg
        .get_env()
        .is_some_and(|name| std::env::var_os(name).is_some_and(|value| value.is_empty()));
    if empty {
        arg = arg.env(None::<&str>);
    }
    match default {
        Some(text) => arg.default_value(text),
        None => arg,
    }
}

/// Whether `arg` is an on/off switch (`--emulator`).
fn is_switch(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse)
}

/// The older variable of `arg` and its value, when only that one is set.
fn alias_value(arg: &Arg) -> Option<(String, String)> {
    let name = arg.get_env()?.to_string_lossy().into_owned();
    let (_, old) = ENV_ALIASES.iter().find(|(new, _)| *new == name)?;
    match env_set(&name) {
        Some(_) => None,
        None => env_set(old).map(|value| (old.to_string(), value)),
    }
}

/// Checks a file value with the option's own parser, so a bad value names its line.
fn check_value(command: &Command, id: &str, key: &str, value: &FileValue) -> Option<Problem> {
    let arg = command.get_arguments().find(|a| a.get_id() == id)?;
    let refused = |message: String| Problem {
        line: value.line,
        message: format!("{key}: {message}"),
    };
    let checked = match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse => match value.text.as_str() {
            "true" | "false" => Ok(()),
            _ => Err("write true or false".to_string()),
        },
        ArgAction::Count => whole_number(&value.text),
        _ => parse_alone(arg, &value.text),
    };
    checked.err().map(refused)
}

/// Whether `text` is a count (`-v` given N times): a whole number.
fn whole_number(text: &str) -> Result<(), String> {
    text.parse::<u8>()
        .map(drop)
        .map_err(|_| "write a whole number".into())
}

/// Runs `arg`'s value parser on `text` in a command of its own; a refusal lists the
/// accepted values where the option has a fixed set.
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
        .map_err(|e| clap_message(&e) + &accepted(arg))
}

/// `; accepted: a, b, c` for an option with a fixed set of values, else nothing.
fn accepted(arg: &Arg) -> String {
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    match values.as_slice() {
        [] => String::new(),
        _ => format!("; accepted: {}", values.join(", ")),
    }
}

/// The first line of a clap error, without its `error: ` prefix, styling or the probe's
/// name.
fn clap_message(error: &clap::Error) -> String {
    let text = error.render().to_string();
    let line = text.lines().next().unwrap_or_default();
    line.trim_start_matches("error: ")
        .replace(" for '--value <value>'", "")
}

/// A `REFSYNC_*` value behind a clap refusal, as an error naming the variable; `None`
/// when the refused value came from the command line.
fn env_fault(command: &Command, args: &[OsString], error: &clap::Error) -> Option<EnvError> {
    if !matches!(
        error.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let context = |kind| match error.get(kind) {
        Some(ContextValue::String(text)) => Some(text.clone()),
        _ => None,
    };
    let (shown, value) = (
        context(ContextKind::InvalidArg)?,
        context(ContextKind::InvalidValue)?,
    );
    // An option shows as clap's error names it (`--rate <RATE>`) only once built.
    let mut built = command.clone();
    built.build();
    // A value that may hold a secret is refused showing it masked (`parse::Masked`): its option alone names it.
    let refused = |arg: &Arg, v: &str| v == value || arg.is_hide_env_values_set();
    let arg = all_args(&built).into_iter().find(|arg| {
        arg.to_string() == shown && env_value(arg).is_some_and(|(_, v)| refused(arg, &v))
    })?;
    if given_on_command_line(args, arg) {
        return None;
    }
    let (var, value) = env_value(arg)?;
    let message = match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse => {
            format!("{value:?} is not a boolean; write {BOOLEANS}")
        }
        ArgAction::Count => whole_number(&value).err().unwrap_or_default(),
        _ => parse_alone(arg, &value).err().unwrap_or_default(),
    };
    Some(EnvError { var, message })
}

/// The options of `command` and of all its subcommands.
fn all_args(command: &Command) -> Vec<&Arg> {
    let nested = command.get_subcommands().flat_map(all_args);
    command.get_arguments().chain(nested).collect()
}

/// The variable that gives `arg` its value, and the value, when one is set.
fn env_value(arg: &Arg) -> Option<(String, String)> {
    let name = arg.get_env()?.to_string_lossy().into_owned();
    match std::env::var(&name) {
        Ok(value) if !value.is_empty() => Some((name, value)),
        _ => alias_value(arg),
    }
}

/// Whether `arg` appears among `args` (before a `--`), long or short.
fn given_on_command_line(args: &[OsString], arg: &Arg) -> bool {
    let long = arg.get_long().map(|l| format!("--{l}"));
    let short = arg.get_short();
    args.iter()
        .skip(1)
        .map(|w| w.to_string_lossy())
        .take_while(|w| w != "--")
        .any(|word| {
            let is_long = long.as_deref().is_some_and(|l| {
                word == l
                    || word
                        .strip_prefix(l)
                        .is_some_and(|rest| rest.starts_with('='))
            });
            let is_short = short.is_some_and(|c| {
                !word.starts_with("--") && word.starts_with('-') && word[1..].contains(c)
            });
            is_long || is_short
        })
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
        ArgAction::SetTrue | ArgAction::SetFalse => Some(matches.get_flag(id).to_string()),
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

    #[test]
    fn a_misspelt_variable_is_named_with_the_one_it_likely_means_and_others_left_alone() {
        let command = command(None).expect("command");
        let set = [
            "REFSYNC_MAX_ATTEMPS",
            "REFSYNC_MAX_ATTEMPTS",
            "REFSYNC_AUTH_TENANT",
            "REFSYNC_LISTEN",
            "REFSYNC_CLIENT_SECRET",
            "HOME",
        ];
        let found = misspelt_variables(&command, set.iter().map(OsString::from));
        assert_eq!(
            found,
            [(
                "REFSYNC_MAX_ATTEMPS".to_string(),
                "REFSYNC_MAX_ATTEMPTS".to_string()
            )]
        );
    }

    #[test]
    fn a_misspelt_key_names_the_key_it_most_likely_means() {
        let text = "skip-unchanged = true\nconcurency = 4\nRate = \"5/s\"\nzzzz = 1\n";
        let error = command(Some(&file(text))).expect_err("refused").to_string();
        for (line, meant) in [(1, "skip_unchanged"), (2, "concurrency"), (3, "rate")] {
            assert!(
                error.contains(&format!("r.toml:{line}: unknown key"))
                    && error.contains(&format!("did you mean {meant}?")),
                "{meant}: {error}"
            );
        }
        assert!(error.contains("\"zzzz\"; keys are flag names"), "{error}");
    }

    #[test]
    fn every_bad_key_and_value_is_reported_in_line_order() {
        let text = "max_attempt = 3\nrate = \"fast\"\nif_match = \"sometimes\"\n";
        let error = command(Some(&file(text))).expect_err("refused");
        let FileError::Keys { problems, .. } = error else {
            panic!("{error}");
        };
        let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [1, 2, 3], "{problems:?}");
        assert!(problems[0].message.contains("unknown key"), "{problems:?}");
        assert!(
            problems[2]
                .message
                .contains("accepted: auto, input, fetch, none"),
            "{problems:?}"
        );
    }

    #[test]
    fn json_logs_are_seen_on_the_command_line_before_it_is_parsed() {
        assert!(json_logs_requested(&args(&[
            "refsync",
            "--log-format",
            "json",
            "--bogus"
        ])));
        assert!(json_logs_requested(&args(&[
            "refsync",
            "sync",
            "--log-format=json"
        ])));
        let after = args(&["refsync", "sync", "--", "--log-format=json"]);
        let text = args(&["refsync", "--log-format", "text"]);
        if std::env::var_os("REFSYNC_LOG_FORMAT").is_none() {
            assert!(!json_logs_requested(&after) && !json_logs_requested(&text));
        }
    }

    #[test]
    fn a_config_file_asking_for_json_logs_is_seen_even_when_it_cannot_be_parsed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "log_format = \"json\"  # for the collector\nfoo = =\n",
        )
        .expect("write");
        let config = file.to_string_lossy().into_owned();
        if std::env::var_os("REFSYNC_LOG_FORMAT").is_none() {
            assert!(json_logs_requested(&args(&[
                "refsync", "--config", &config
            ])));
            assert!(!json_logs_requested(&args(&[
                "refsync",
                "--config",
                &config,
                "--log-format",
                "text"
            ])));
        }
        std::fs::write(&file, "[auth]\nlog_format = \"json\"\n").expect("write");
        let words = [String::from("--config"), config];
        assert_eq!(
            config_value(&words, "log_format"),
            None,
            "not a top-level key"
        );
    }
}
