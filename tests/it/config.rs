//! Configuration layering end to end: the config file, `REFSYNC_*` variables and flags in
//! that order of precedence, as `config show` reports them and as a run uses them; errors
//! that point at the file's line; secrets masked; and the generated CLI material
//! (completions, man page, version, help examples).

use crate::support::{Workdir, code, stderr};
use std::process::Output;

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The line of `config show` output for `key`.
fn shown(output: &Output, key: &str) -> String {
    stdout(output)
        .lines()
        .find(|l| l.split_whitespace().next() == Some(key))
        .unwrap_or_else(|| panic!("no line for {key} in:\n{}", stdout(output)))
        .to_string()
}

const FILE: &str =
    "# nightly\nrate = \"2/s\"\nmax_attempts = 3\nreport = \"from-file.csv\"\nconcurrency = 4\n";

#[test]
fn the_file_is_overridden_by_the_environment_which_is_overridden_by_flags() {
    let work = Workdir::new();
    work.write("refsync.toml", FILE);
    let env = [
        ("REFSYNC_MAX_ATTEMPTS", "5"),
        ("REFSYNC_REPORT", "from-env.csv"),
        ("REFSYNC_TIMEOUT", "5s"),
    ];
    let args = [
        "config",
        "show",
        "--config",
        "refsync.toml",
        "--report",
        "from-flag.csv",
    ];
    let out = work.refsync_with(&args, &env);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        shown(&out, "rate").contains("\"2/s\"  # file refsync.toml:2"),
        "{}",
        stdout(&out)
    );
    assert!(shown(&out, "concurrency").contains("4  # file refsync.toml:5"));
    assert!(shown(&out, "max_attempts").contains("5  # env REFSYNC_MAX_ATTEMPTS"));
    assert!(shown(&out, "timeout").contains("\"5s\"  # env REFSYNC_TIMEOUT"));
    assert!(shown(&out, "report").contains("\"from-flag.csv\"  # flag"));
    assert!(shown(&out, "burst").contains("1  # default"));
}

#[test]
fn refsync_config_names_the_file_when_no_flag_does() {
    let work = Workdir::new();
    work.write("refsync.toml", FILE);
    let out = work.refsync_with(&["config", "show"], &[("REFSYNC_CONFIG", "refsync.toml")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        shown(&out, "rate").contains("file refsync.toml:2"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn file_values_take_effect_in_a_run() {
    let work = Workdir::new();
    work.write(
        "refsync.toml",
        "report = \"from-file.csv\"\non_duplicate = \"last-wins\"\n",
    );
    work.write(
        "u.csv",
        "id,op,path,value\nabc,replace,/name,x\nabc,replace,/name,y\n",
    );
    let out = work.refsync(&[
        "plan",
        "u.csv",
        "--config",
        "refsync.toml",
        "--out",
        "planned.jsonl",
    ]);
    assert_eq!(code(&out), 0, "last-wins from the file: {}", stderr(&out));
    assert!(work.read("from-file.csv").contains("abc"));
}

#[test]
fn an_unknown_key_is_an_error_naming_the_key_and_its_line() {
    let work = Workdir::new();
    work.write("refsync.toml", "rate = \"2/s\"\n\nmax_attempt = 3\n");
    let out = work.refsync(&["config", "show", "--config", "refsync.toml"]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(
        err.contains("refsync.toml:3") && err.contains("max_attempt"),
        "{err}"
    );
}

#[test]
fn an_unknown_auth_key_and_a_bad_value_name_their_lines() {
    let work = Workdir::new();
    work.write("a.toml", "[auth]\ntenant = \"t\"\nclient = \"c\"\n");
    let err = stderr(&work.refsync(&["config", "show", "--config", "a.toml"]));
    assert!(err.contains("a.toml:3") && err.contains("client"), "{err}");
    work.write("b.toml", "\nrate = \"fast\"\n");
    let out = work.refsync(&["config", "show", "--config", "b.toml"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("b.toml:2") && stderr(&out).contains("rate"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_config_file_says_which_path() {
    let work = Workdir::new();
    let out = work.refsync(&["config", "show", "--config", "nowhere.toml"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("nowhere.toml"), "{}", stderr(&out));
}

#[test]
fn config_show_masks_every_secret() {
    let work = Workdir::new();
    work.write("secret.txt", "client-secret-value\n");
    work.write("rt", "refresh-token-value\n");
    let file = "[auth]\nclient_id = \"app\"\nrefresh_token_file = \"rt\"\nclient_secret_file = \"secret.txt\"\n";
    work.write("refsync.toml", file);
    let env = [("PARTNER_CENTER_TOKEN", "access-token-value")];
    let out = work.refsync_with(
        &["config", "show", "--config", "refsync.toml", "-vvv"],
        &env,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    for secret in [
        "client-secret-value",
        "refresh-token-value",
        "access-token-value",
    ] {
        assert!(!all.contains(secret), "{secret} leaked:\n{all}");
    }
    assert!(
        shown(&out, "client_secret").contains("\"***\""),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("PARTNER_CENTER_TOKEN = \"***\""),
        "{}",
        stdout(&out)
    );
}

#[test]
fn completions_are_generated_for_every_shell() {
    let work = Workdir::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = work.refsync(&["completions", shell]);
        assert_eq!(code(&out), 0, "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        assert!(
            script.contains("refsync") && script.contains("max-attempts"),
            "{shell}"
        );
    }
}

#[test]
fn the_man_page_is_generated() {
    let out = Workdir::new().refsync(&["man"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let page = stdout(&out);
    assert!(
        page.starts_with(".ie") || page.contains(".TH refsync"),
        "{page}"
    );
    assert!(page.contains("sync"));
}

#[test]
fn the_version_names_the_commit() {
    let out = Workdir::new().refsync(&["--version"]);
    let version = stdout(&out);
    assert!(
        version.starts_with("refsync 0.") && version.contains('('),
        "{version}"
    );
}

#[test]
fn every_command_help_shows_examples() {
    let work = Workdir::new();
    let commands: [&[&str]; 8] = [
        &["plan"],
        &["sync"],
        &["emulator"],
        &["auth", "login"],
        &["config", "show"],
        &["completions"],
        &["man"],
        &[],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let help = stdout(&work.refsync(&args));
        assert!(
            help.contains("refsync ") && (help.contains("Example") || help.contains("Try it")),
            "{command:?}:\n{help}"
        );
    }
}

/// `config/refsync.toml` with every `# key = value` line of it uncommented.
fn uncommented_sample() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/refsync.toml");
    let text = std::fs::read_to_string(path).expect("config/refsync.toml");
    let mut seen = std::collections::HashSet::new();
    let mut out = String::new();
    for line in text.lines() {
        let setting = line
            .strip_prefix("# ")
            .filter(|rest| rest.split_once(" = ").is_some_and(|(key, _)| is_key(key)));
        match setting {
            Some(rest) if seen.insert(rest.split(' ').next().unwrap_or_default().to_string()) => {
                out.push_str(rest)
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

fn is_key(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

#[test]
fn the_sample_config_documents_every_key_with_a_value_refsync_accepts() {
    let sample = uncommented_sample();
    let command = refsync::config::layers::command(None).expect("command");
    for key in refsync::config::layers::option_keys(&command) {
        assert!(
            sample.contains(&format!("\n{key} = ")),
            "config/refsync.toml lacks {key}"
        );
    }
    for key in refsync::config::file::AUTH_KEYS {
        assert!(
            sample.contains(&format!("\n{key} = ")),
            "config/refsync.toml lacks [auth] {key}"
        );
    }
    let work = Workdir::new();
    // Two client-secret sources at once is refused by design; keep the file one.
    work.write(
        "all.toml",
        &sample.replace("client_secret_env = ", "# client_secret_env = "),
    );
    let out = work.refsync(&["config", "show", "--config", "all.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}
