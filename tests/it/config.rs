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
    // Shown as a comment, so that nobody copies `***` back into a file as the secret.
    let secret = stdout(&out)
        .lines()
        .find(|l| l.starts_with("# client_secret "))
        .unwrap_or_default()
        .to_string();
    assert!(secret.contains("(set, hidden)"), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("PARTNER_CENTER_TOKEN = \"***\""),
        "{}",
        stdout(&out)
    );
    // Without the variable the [auth] grant is used, told in words, not as a struct.
    let out = work.refsync_with(&["config", "show", "--config", "refsync.toml"], &[]);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("refresh-token grant (client_id app at https://login.microsoftonline.com/"),
        "{all}"
    );
    assert!(!all.contains("RefreshGrant"), "{all}");
    assert!(!all.contains("client-secret-value") && !all.contains("refresh-token-value"));
}

#[test]
fn config_show_masks_an_endpoints_password_and_exits_one_where_sync_would_refuse() {
    let work = Workdir::new();
    let env = [(
        "REFSYNC_ENDPOINT",
        "https://me:hush-4c2@api.example.com/v1.0",
    )];
    let out = work.refsync_with(&["config", "show"], &env);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains("hush-4c2"), "{all}");
    assert!(
        shown(&out, "endpoint").contains("https://me:***@api.example.com"),
        "{all}"
    );
    assert!(stderr(&out).contains("must not carry a user name or password"));
    let plain = work.refsync(&["config", "show", "--endpoint", "http://example.com/v1.0"]);
    assert_eq!(code(&plain), 1, "{}", stderr(&plain));
    assert!(stdout(&plain).contains("endpoint"));
    let emulator = work.refsync(&[
        "config",
        "show",
        "--endpoint",
        "http://example.com",
        "--emulator",
    ]);
    // Both as flags: a usage error, as `sync` would refuse them.
    assert_eq!(code(&emulator), 2, "{}", stderr(&emulator));
}

#[test]
fn an_endpoint_refused_as_no_url_never_shows_its_password() {
    let work = Workdir::new();
    work.write("c.toml", "endpoint = \"https://me:hush-77@[::1\"\n");
    let bad = "ftp://me:hush-77@example.com/v1.0";
    let runs = [
        (work.refsync(&["sync", "u.csv", "--endpoint", bad]), 2),
        (
            work.refsync_with(&["config", "show"], &[("REFSYNC_ENDPOINT", bad)]),
            1,
        ),
        (work.refsync(&["config", "show", "--config", "c.toml"]), 1),
        (
            work.refsync_with(&["sync", "--help"], &[("REFSYNC_ENDPOINT", bad)]),
            0,
        ),
    ];
    for (out, want) in runs {
        assert_eq!(code(&out), want, "{}", stderr(&out));
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!all.contains("hush-77"), "{all}");
    }
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

#[test]
fn a_bad_environment_value_exits_1_naming_the_variable_and_what_it_accepts() {
    let work = Workdir::new();
    let out = work.refsync_with(&["config", "show"], &[("REFSYNC_RATE", "fast")]);
    assert_eq!(code(&out), 1, "bad config, not a usage error");
    let err = stderr(&out);
    assert!(
        err.contains("REFSYNC_RATE") && err.contains("N/s") && !err.contains("--rate"),
        "{err}"
    );
    let out = work.refsync_with(&["config", "show"], &[("REFSYNC_IF_MATCH", "sometimes")]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("REFSYNC_IF_MATCH")
            && stderr(&out).contains("auto, input, fetch, none"),
        "{}",
        stderr(&out)
    );
    // The same value given as a flag stays a usage error, and a flag hides a bad variable.
    assert_eq!(
        code(&work.refsync(&["config", "show", "--rate", "fast"])),
        2
    );
    let out = work.refsync_with(
        &["config", "show", "--rate", "5/s"],
        &[("REFSYNC_RATE", "fast")],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn boolean_variables_take_the_usual_spellings_in_any_case() {
    let work = Workdir::new();
    for (value, shown) in [
        ("1", "true"),
        ("yes", "true"),
        ("ON", "true"),
        ("True", "true"),
        ("0", "false"),
        ("no", "false"),
        ("Off", "false"),
    ] {
        let out = work.refsync_with(&["config", "show"], &[("REFSYNC_EMULATOR", value)]);
        assert_eq!(code(&out), 0, "{value}: {}", stderr(&out));
        assert!(
            shown_line(&out, "emulator").contains(&format!("= {shown}  # env REFSYNC_EMULATOR")),
            "{value}: {}",
            stdout(&out)
        );
    }
    let out = work.refsync_with(&["config", "show"], &[("REFSYNC_EMULATOR", "maybe")]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("REFSYNC_EMULATOR") && stderr(&out).contains("yes/no"),
        "{}",
        stderr(&out)
    );
}

fn shown_line(output: &Output, key: &str) -> String {
    shown(output, key)
}

#[test]
fn a_token_option_on_the_command_line_beats_one_from_the_environment_or_the_file() {
    let work = Workdir::new();
    work.write("c.toml", "token_command = \"echo from-file\"\n");
    work.write("tok.txt", "t\n");
    let token_line = |args: &[&str], env: &[(&str, &str)]| {
        let out = work.refsync_with(args, env);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        stdout(&out)
            .lines()
            .find(|l| l.starts_with("# access token:"))
            .unwrap_or_default()
            .to_string()
    };
    let show = ["config", "show", "--config", "c.toml"];
    let flag = [&show[..], &["--token-file", "tok.txt"]].concat();
    let line = token_line(&flag, &[]);
    assert!(line.contains("--token-file tok.txt, from flag"), "{line}");
    let line = token_line(&show, &[]);
    assert!(
        line.contains("--token-command \"echo from-file\", from file c.toml:1"),
        "{line}"
    );
    // PARTNER_CENTER_TOKEN comes after a token command, wherever that was set.
    let line = token_line(&show, &[("PARTNER_CENTER_TOKEN", "secret-token")]);
    assert!(line.contains("from file c.toml:1"), "{line}");
    let bare = ["config", "show"];
    let line = token_line(&bare, &[("PARTNER_CENTER_TOKEN", "secret-token")]);
    assert!(
        line.contains("PARTNER_CENTER_TOKEN = \"***\", from env"),
        "{line}"
    );
    let line = token_line(&show, &[("REFSYNC_TOKEN_FILE", "tok.txt")]);
    assert!(line.contains("from env REFSYNC_TOKEN_FILE"), "{line}");
}

#[test]
fn a_run_takes_its_token_from_the_flag_over_the_file() {
    let work = Workdir::new();
    work.write("c.toml", "token_command = \"exit 3\"\n");
    work.write("tok.txt", "t\n");
    work.write("u.csv", "id,op,path,value\nabc,replace,/name,x\n");
    let args = [
        "sync",
        "u.csv",
        "--emulator",
        "--config",
        "c.toml",
        "--token-file",
        "tok.txt",
        "--report",
        "r.csv",
    ];
    let out = work.refsync_with(&args, &[]);
    let err = stderr(&out);
    assert!(
        !err.contains("--token-command"),
        "the file's command ran: {err}"
    );
}

#[test]
fn every_man_page_the_main_page_names_exists_and_the_main_page_has_environment_and_exit_status() {
    let work = Workdir::new();
    let main = stdout(&work.refsync(&["man"]));
    for section in [".SH ENVIRONMENT", ".SH \"EXIT STATUS\""] {
        assert!(main.contains(section), "{section}:\n{main}");
    }
    for variable in [
        "PARTNER_CENTER_TOKEN",
        "REFSYNC_<NAME>",
        "RUST_LOG",
        "NO_COLOR",
        "HTTPS_PROXY",
    ] {
        assert!(main.contains(variable), "{variable}");
    }
    let pages: Vec<String> = main
        .lines()
        .filter_map(|l| l.strip_prefix("refsync\\-"))
        .filter_map(|l| l.strip_suffix("(1)"))
        .map(str::to_string)
        .collect();
    assert!(pages.contains(&"sync".to_string()), "{pages:?}");
    for page in &pages {
        let out = work.refsync(&["man", page]);
        assert_eq!(code(&out), 0, "{page}: {}", stderr(&out));
        assert!(
            stdout(&out).contains(&format!(".TH refsync-{page} 1")),
            "{page}"
        );
    }
    let nested = stdout(&work.refsync(&["man", "config", "show"]));
    assert!(nested.contains(".TH refsync-config-show 1"), "{nested}");
    let out = work.refsync(&["man", "bogus"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("sync"), "{}", stderr(&out));
}

#[test]
fn sync_help_names_the_token_sources_in_order() {
    let help = stdout(&Workdir::new().refsync(&["sync", "--help"]));
    let start = help
        .find("The access token comes from")
        .unwrap_or_else(|| panic!("no token paragraph:\n{help}"));
    let paragraph = &help[start..];
    let order = [
        "--token-command CMD, --token-file FILE",
        "PARTNER_CENTER_TOKEN",
        "[auth]",
    ];
    let at: Vec<usize> = order
        .iter()
        .map(|s| {
            paragraph
                .find(s)
                .unwrap_or_else(|| panic!("{s} missing:\n{help}"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{help}");
}

#[test]
fn every_config_file_mistake_is_listed_by_line_with_a_hint() {
    let work = Workdir::new();
    let text = "if_match = \"sometimes\"\ninputs = [\"a.csv\"]\ntenant = \"t\"\n\n[foo]\nx = 1\n";
    work.write("c.toml", text);
    let out = work.refsync(&["config", "show", "--config", "c.toml"]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("c.toml:")).collect();
    assert_eq!(lines.len(), 4, "{err}");
    assert!(
        lines[0].contains("c.toml:1") && lines[0].contains("auto, input, fetch, none"),
        "{err}"
    );
    assert!(
        lines[1].contains("c.toml:2") && lines[1].contains("command line"),
        "{err}"
    );
    assert!(
        lines[2].contains("c.toml:3") && lines[2].contains("[auth]"),
        "{err}"
    );
    assert!(
        lines[3].contains("c.toml:5") && lines[3].contains("unknown section [foo]"),
        "{err}"
    );
    assert!(!err.contains("must be a string"), "{err}");
}

#[test]
fn an_unquoted_text_value_is_told_to_take_quotes() {
    let work = Workdir::new();
    work.write("c.toml", "token_file = INLINE\n");
    let out = work.refsync(&["config", "show", "--config", "c.toml"]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(
        err.contains("c.toml:1") && err.contains("quotes") && !err.contains("float"),
        "{err}"
    );
}

#[test]
fn the_emulator_listen_address_comes_from_refsync_listen_or_its_old_name() {
    use std::io::BufRead;
    let work = Workdir::new();
    for var in ["REFSYNC_LISTEN", "REFSYNC_EMULATOR_LISTEN"] {
        let out = work.refsync_with(&["emulator"], &[(var, "nowhere")]);
        assert_eq!(code(&out), 1, "{var}");
        assert!(stderr(&out).contains(var), "{}", stderr(&out));
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_refsync"))
        .arg("emulator")
        .env("REFSYNC_LISTEN", "127.0.0.1:0")
        .env_remove("REFSYNC_EMULATOR_LISTEN")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the emulator");
    let mut first = String::new();
    let stdout = child.stdout.take().expect("stdout");
    std::io::BufReader::new(stdout)
        .read_line(&mut first)
        .expect("first line");
    child.kill().expect("stop the emulator");
    let _ = child.wait();
    assert!(
        first.starts_with("listening on http://127.0.0.1:") && !first.contains(":8080"),
        "{first}"
    );
}

#[test]
fn a_usage_error_under_json_logs_is_one_json_line() {
    let work = Workdir::new();
    let one_json_line = |args: &[&str], env: &[(&str, &str)]| {
        let out = work.refsync_with(args, env);
        assert_eq!(code(&out), 2, "{args:?}");
        let err = stderr(&out);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{err}");
        let line: serde_json::Value = serde_json::from_str(lines[0]).expect("a JSON line");
        assert_eq!(line["level"], "ERROR", "{err}");
        assert!(
            line["message"]
                .as_str()
                .is_some_and(|m| m.contains("--bogus")),
            "{err}"
        );
    };
    one_json_line(&["--log-format", "json", "--bogus"], &[]);
    one_json_line(
        &["config", "show", "--bogus"],
        &[("REFSYNC_LOG_FORMAT", "json")],
    );
    let plain = stderr(&work.refsync(&["--bogus"]));
    assert!(
        plain.starts_with("error:"),
        "text without JSON logs: {plain}"
    );
}

#[test]
fn a_switch_set_off_in_the_environment_asks_for_nothing_and_one_set_on_needs_its_ledger() {
    let work = Workdir::new();
    work.write(
        "ok.csv",
        "id,op,path,value\nfbcf71a8-76dc-4ea0-8a52-2f61cb154456,replace,/details/notes,hi\n",
    );
    let args = ["sync", "ok.csv", "--emulator", "--report", "r.csv"];
    for off in ["REFSYNC_RESUME", "REFSYNC_SKIP_UNCHANGED"] {
        let out = work.refsync_with(&args, &[(off, "0")]);
        assert_eq!(code(&out), 0, "{off}=0: {}", stderr(&out));
        let out = work.refsync_with(&args, &[(off, "1")]);
        assert_eq!(code(&out), 1, "{off}=1: {}", stderr(&out));
        assert!(stderr(&out).contains("needs --ledger"), "{}", stderr(&out));
    }
    let seeded = work.refsync_with(&args, &[("REFSYNC_SEED", "elsewhere.jsonl")]);
    assert_eq!(code(&seeded), 1, "{}", stderr(&seeded));
    let dry = [&args[..], &["--dry-run", "--undo", "u.jsonl"]].concat();
    let out = work.refsync(&dry);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no undo file is written"),
        "{}",
        stderr(&out)
    );
    assert!(!work.path().join("u.jsonl").exists());
}

#[test]
fn a_ledger_named_in_the_config_file_serves_resume_and_skip_unchanged_given_as_flags() {
    let work = Workdir::new();
    work.write(
        "ok.csv",
        "id,op,path,value\nfbcf71a8-76dc-4ea0-8a52-2f61cb154456,replace,/details/notes,hi\n",
    );
    work.write("ledger.toml", "ledger = \"runs.db\"\n");
    let args = ["sync", "ok.csv", "--emulator", "--report", "r.csv"];
    for flag in ["--resume", "--skip-unchanged"] {
        let with_file = [&args[..], &["--config", "ledger.toml", flag]].concat();
        let out = work.refsync(&with_file);
        assert_eq!(code(&out), 0, "{flag}: {}", stderr(&out));
        // With no ledger anywhere, the flag is a usage error.
        let out = work.refsync(&[&args[..], &[flag]].concat());
        assert_eq!(code(&out), 2, "{flag}: {}", stderr(&out));
        assert!(stderr(&out).contains("needs --ledger"), "{}", stderr(&out));
    }
    assert!(work.path().join("runs.db").exists());
}

#[test]
fn a_command_line_or_config_that_cannot_run_still_replaces_the_summary() {
    let work = Workdir::new();
    work.write("ok.csv", "id,op,path,value\na,replace,/name,x\n");
    work.write("bad.toml", "rate = \"fast\"\n");
    let exit_code = |out: &Output| {
        let summary: serde_json::Value =
            serde_json::from_str(&work.read("s.json")).expect("summary JSON");
        assert_eq!(summary["exit_code"], code(out), "{summary}");
        assert!(summary["stopped"].as_str().is_some(), "{summary}");
    };
    let base = ["sync", "ok.csv", "--summary-json", "s.json"];
    let out = work.refsync(&[&base[..], &["--config", "bad.toml"]].concat());
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    exit_code(&out);
    let out = work.refsync(&[&base[..], &["--bogus"]].concat());
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    exit_code(&out);
    let out = work.refsync_with(
        &["plan", "ok.csv"],
        &[
            ("REFSYNC_SUMMARY_JSON", "s.json"),
            ("REFSYNC_ON_DUPLICATE", "maybe"),
        ],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    exit_code(&out);
    // Asked for in the config file, for a command line refused before the file is read.
    work.write("summary.toml", "summary_json = \"s.json\"\n");
    std::fs::write(work.path().join("s.json"), "{\"old\": true}").expect("write");
    let out = work.refsync(&["sync", "ok.csv", "--config", "summary.toml", "--bogus"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    exit_code(&out);
}

#[test]
fn an_empty_variable_counts_as_unset() {
    let work = Workdir::new();
    work.write("ok.csv", "id,op,path,value\na,replace,/name,x\n");
    let empty = [
        ("REFSYNC_RATE", ""),
        ("REFSYNC_DRY_RUN", ""),
        ("REFSYNC_LOG_FORMAT", ""),
        ("REFSYNC_ON_DUPLICATE", ""),
        ("REFSYNC_SUMMARY_JSON", ""),
    ];
    let out = work.refsync_with(&["plan", "ok.csv", "--out", "d.jsonl"], &empty);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = work.refsync_with(&["config", "show"], &empty);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(shown(&out, "rate").contains("10/s"), "{}", stdout(&out));
    let out = work.refsync_with(&["completions", "bash"], &empty);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn json_logs_set_in_the_config_file_cover_usage_and_config_errors() {
    let work = Workdir::new();
    work.write("json.toml", "log_format = \"json\"\n");
    work.write("broken.toml", "log_format = \"json\"\nfoo = 1\n");
    let cases: [(&[&str], i32); 2] = [
        (&["sync", "u.csv", "--config", "json.toml", "--bogus"], 2),
        (&["sync", "u.csv", "--config", "broken.toml"], 1),
    ];
    for (args, exit) in cases {
        let out = work.refsync_with(args, &[]);
        assert_eq!(code(&out), exit, "{args:?}: {}", stderr(&out));
        let line: serde_json::Value =
            serde_json::from_str(stderr(&out).trim()).expect("one JSON line");
        assert_eq!(line["level"], "ERROR");
        assert_eq!(line["exit_code"], exit);
    }
}
