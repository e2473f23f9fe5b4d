//! Running the command lines of one doc file, in order, in a temporary folder that holds
//! copies of `samples/` and `config/` and the small files the docs name ([`FIXTURES`]).
//!
//! How a documented line is made to run offline, and nothing more:
//! - the commands of one doc talk to one in-process emulator (seeded with the sample
//!   referrals), whose state carries from line to line as it would for a reader: `sync`
//!   and `config show` without `--emulator` get `--endpoint http://ADDR/v1.0` appended (an
//!   `https://` endpoint is replaced by it), and the `[auth]` of every config fixture
//!   signs in at that emulator;
//! - `refsync emulator … &` is started on port 0 and its `listening on` line awaited; the
//!   address the doc gave it is replaced by the real one in later lines; it is killed when
//!   its code block ends;
//! - an absolute path (`/etc/refsync/refsync.toml`) is taken inside the temporary folder;
//! - `PARTNER_CENTER_TOKEN` is set unless the line names a config or a token source, and
//!   `REFSYNC_RATE=unlimited` keeps the runs fast (a `--rate` on the line still wins).

use super::extract::DocCommand;
use crate::support::Workdir;
use refsync::emulator::{Emulator, EmulatorOptions, Faults, Seed};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The longest one documented command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// What a fixture file holds.
#[derive(Clone, Copy, Debug)]
enum Fixture {
    /// The valid rows of `samples/updates.csv` but the one with an `if_match` (so that it
    /// can run twice): every document `updated`, then `updated` or `unchanged`.
    Updates,
    /// A copy of a file of the repository.
    Copy(&'static str),
    /// A config file whose `[auth]` signs in at the emulator of the command.
    Config,
    /// This text.
    Text(&'static str),
    /// A ledger with one finished run (run 1) of [`Fixture::Updates`].
    Ledger,
}

/// The files the docs name, relative to the temporary folder. Add a line here when a
/// doc names a new file; a name missing here makes its command fail, as it would for a
/// reader.
const FIXTURES: &[(&str, Fixture)] = &[
    ("updates.csv", Fixture::Updates),
    ("srv/crm-export/referrals.csv", Fixture::Updates),
    ("srv/crm-export/contoso/referrals.csv", Fixture::Updates),
    (
        "export.csv",
        Fixture::Copy("samples/dynamics365-export.csv"),
    ),
    (
        "map.toml",
        Fixture::Copy("config/mappings/dynamics365-opportunities.toml"),
    ),
    ("token.txt", Fixture::Text("doc-test-token\n")),
    ("canary-ids.txt", Fixture::Text("OPP-10001\n")),
    ("refsync.toml", Fixture::Config),
    ("etc/refsync/refsync.toml", Fixture::Config),
    ("etc/refsync/contoso.toml", Fixture::Config),
    (
        "run/credentials/refsync.service/refsync.toml",
        Fixture::Config,
    ),
    ("nightly.db", Fixture::Ledger),
];

/// Runs `commands` from one doc; returns one message per command that did not behave as
/// documented.
pub async fn run_all(doc_text: &str, commands: &[DocCommand]) -> Vec<String> {
    let mut run = DocRun::new(doc_text).await;
    for command in commands {
        run.end_backgrounds_before(command.block).await;
        let failure = run.one(command).await.err();
        run.failures.extend(failure);
    }
    run.end_backgrounds_before(usize::MAX).await;
    run.emulator.shutdown().await;
    run.failures
}

/// The state of one doc's run.
struct DocRun {
    work: Workdir,
    /// The emulator that the doc's API commands talk to.
    emulator: Emulator,
    /// A documented emulator address and the real one it stands for.
    addresses: Vec<(String, String)>,
    /// Background emulators with their code block.
    backgrounds: Vec<(usize, Child)>,
    failures: Vec<String>,
}

impl DocRun {
    async fn new(doc_text: &str) -> DocRun {
        let work = Workdir::new();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        copy_dir(&repo.join("samples"), &work.path().join("samples"));
        copy_dir(&repo.join("config"), &work.path().join("config"));
        let run = DocRun {
            work,
            emulator: start_emulator().await,
            addresses: Vec::new(),
            backgrounds: Vec::new(),
            failures: Vec::new(),
        };
        for (name, fixture) in FIXTURES {
            if doc_text.contains(name.rsplit('/').next().unwrap_or(name)) {
                run.write_fixture(name, *fixture).await;
            }
        }
        run
    }

    async fn write_fixture(&self, name: &str, fixture: Fixture) {
        let path = self.work.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("fixture folder");
        }
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        match fixture {
            Fixture::Updates => write(&path, &valid_updates()),
            Fixture::Copy(from) => {
                std::fs::copy(repo.join(from), &path).expect("copy fixture");
            }
            Fixture::Config => write_config(&path, &self.emulator.addr().to_string()),
            Fixture::Text(text) => write(&path, text),
            Fixture::Ledger => self.make_ledger(name).await,
        }
    }

    async fn make_ledger(&self, name: &str) {
        write(
            &self.work.path().join("ledger-updates.csv"),
            &valid_updates(),
        );
        let args = [
            "sync",
            "ledger-updates.csv",
            "--emulator",
            "--ledger",
            name,
            "--report",
            "ledger-report.csv",
        ];
        let output = self.command(&args.map(String::from), &[]).output().await;
        let output = output.expect("run refsync for the ledger fixture");
        assert!(output.status.success(), "ledger fixture: {output:?}");
    }

    /// The binary, in the folder, with a clean environment plus `env`.
    fn command(&self, args: &[String], env: &[(String, String)]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_refsync"));
        command.args(args).current_dir(self.work.path());
        for (key, _) in std::env::vars() {
            if key.starts_with("REFSYNC_") || key == "PARTNER_CENTER_TOKEN" || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        command.env("REFSYNC_RATE", "unlimited");
        command.envs(env.iter().map(|(k, v)| (k, v)));
        command.kill_on_drop(true);
        command
    }

    async fn one(&mut self, doc: &DocCommand) -> Result<(), String> {
        let fail = |why: String| format!("{}: `refsync {}`: {why}", doc.source, doc.args.join(" "));
        if doc.args.first().is_some_and(|a| a == "emulator") {
            return self.start_background(doc).await.map_err(fail);
        }
        if doc.background {
            return Err(fail(
                "only `refsync emulator` may run in the background".into(),
            ));
        }
        for (name, text) in &doc.files {
            write(&self.work.path().join(name), text);
        }
        let args = self.prepared_args(&doc.args, &self.emulator.base_url());
        let env = self.env_for(doc, &args);
        let (code, stderr) = self.run_to_end(&args, &env).await.map_err(fail)?;
        check_result(doc.expect, code, &stderr).map_err(fail)
    }

    async fn run_to_end(
        &self,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<(i32, String), String> {
        let mut command = self.command(args, env);
        command.stdin(Stdio::null());
        let output = tokio::time::timeout(COMMAND_TIMEOUT, command.output())
            .await
            .map_err(|_| format!("did not end within {COMMAND_TIMEOUT:?}"))?
            .map_err(|e| format!("cannot run refsync: {e}"))?;
        let code = output.status.code().unwrap_or(-1);
        Ok((code, String::from_utf8_lossy(&output.stderr).into_owned()))
    }

    /// The line's arguments made to run here (see the module doc).
    fn prepared_args(&self, args: &[String], base_url: &str) -> Vec<String> {
        let mut args: Vec<String> = args.iter().map(|a| self.localised(a)).collect();
        let talks_to_api = matches!(
            args.iter().map(String::as_str).take(2).collect::<Vec<_>>()[..],
            ["sync", ..] | ["config", "show"]
        );
        if !talks_to_api || args.iter().any(|a| a == "--emulator") {
            return args;
        }
        match args.iter().position(|a| a == "--endpoint") {
            Some(at) if args.get(at + 1).is_some_and(|u| u.starts_with("https://")) => {
                args[at + 1] = base_url.to_string();
            }
            Some(_) => {}
            None => args.extend(["--endpoint".to_string(), base_url.to_string()]),
        }
        args
    }

    /// One argument with documented emulator addresses replaced and absolute paths taken
    /// inside the folder (their parent folders made).
    fn localised(&self, arg: &str) -> String {
        let mut arg = arg.to_string();
        for (documented, real) in &self.addresses {
            arg = arg.replace(documented, real);
        }
        let (flag, value) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (format!("{flag}="), value),
            _ => (String::new(), arg.as_str()),
        };
        let Some(relative) = value.strip_prefix('/') else {
            return arg;
        };
        let path = self.work.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("folder for an absolute path");
        }
        format!("{flag}{}", path.display())
    }

    fn env_for(&self, doc: &DocCommand, args: &[String]) -> Vec<(String, String)> {
        let names_a_source = args.iter().any(|a| {
            ["--config", "--token-file", "--token-command", "--emulator"]
                .iter()
                .any(|flag| a == flag || a.starts_with(&format!("{flag}=")))
        });
        let mut env = Vec::new();
        if !names_a_source {
            env.push((
                "PARTNER_CENTER_TOKEN".to_string(),
                "doc-test-token".to_string(),
            ));
        }
        let doc_env = doc.env.iter().map(|(k, v)| (k.clone(), self.localised(v)));
        env.extend(doc_env);
        env
    }

    /// Starts `refsync emulator … &` on port 0 and learns its address.
    async fn start_background(&mut self, doc: &DocCommand) -> Result<(), String> {
        if !doc.background {
            return Err("the emulator runs until stopped: end the line with `&`".into());
        }
        let mut args = doc.args.clone();
        let documented = match args.iter().position(|a| a == "--listen") {
            Some(at) if at + 1 < args.len() => {
                std::mem::replace(&mut args[at + 1], "127.0.0.1:0".into())
            }
            _ => return Err("give the emulator a --listen address".into()),
        };
        let args: Vec<String> = args.iter().map(|a| self.localised(a)).collect();
        let mut command = self.command(&args, &doc.env);
        command.stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = command.spawn().map_err(|e| format!("cannot start: {e}"))?;
        let real = listening_address(&mut child).await?;
        self.addresses.push((documented, real));
        self.backgrounds.push((doc.block, child));
        Ok(())
    }

    /// Kills the background emulators of code blocks before `block`.
    async fn end_backgrounds_before(&mut self, block: usize) {
        let (ended, kept) = std::mem::take(&mut self.backgrounds)
            .into_iter()
            .partition(|(b, _)| *b < block);
        self.backgrounds = kept;
        for (_, mut child) in ended {
            child.kill().await.expect("stop the background emulator");
        }
    }
}

/// Waits for the emulator's first line, `listening on http://ADDR`.
async fn listening_address(child: &mut Child) -> Result<String, String> {
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    let mut reader = BufReader::new(stdout);
    tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line))
        .await
        .map_err(|_| "no `listening on` line within 10 s".to_string())?
        .map_err(|e| format!("reading its stdout: {e}"))?;
    line.trim()
        .strip_prefix("listening on http://")
        .map(str::to_string)
        .ok_or_else(|| format!("its first line is {line:?}, not `listening on http://ADDR`"))
}

/// Whether a command ended as its doc says: never a usage error, and the promised code.
fn check_result(expect: i32, code: i32, stderr: &str) -> Result<(), String> {
    let usage = code == 2
        || ["unexpected argument", "unrecognized"]
            .iter()
            .any(|s| stderr.contains(s));
    let tail: Vec<&str> = stderr.lines().rev().take(12).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    if usage {
        return Err(format!("a usage error (exit {code}):\n{}", tail.join("\n")));
    }
    if code != expect {
        return Err(format!(
            "exit {code}, the doc says {expect} (annotate other codes with `# exits N`):\n{}",
            tail.join("\n")
        ));
    }
    Ok(())
}

async fn start_emulator() -> Emulator {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/referrals.jsonl");
    Emulator::start(EmulatorOptions {
        listen: ([127, 0, 0, 1], 0).into(),
        seed: Seed::File(seed),
        token: None,
        faults: Faults::default(),
    })
    .await
    .expect("start emulator")
}

/// The header and the valid rows (lines 2–19) of the sample updates, but line 12, whose
/// `if_match` goes stale once it is applied.
fn valid_updates() -> String {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/updates.csv");
    let text = std::fs::read_to_string(sample).expect("read samples/updates.csv");
    let lines = text.lines().take(19).enumerate();
    let kept = lines.filter(|(index, _)| *index != 11);
    kept.map(|(_, line)| format!("{line}\n")).collect()
}

fn write_config(path: &Path, emulator: &str) {
    let text = format!(
        "[auth]\ntenant = \"contoso.onmicrosoft.com\"\nclient_id = \"00000000-0000-0000-0000-000000000000\"\nrefresh_token_file = \"refresh-token\"\nauthority = \"http://{emulator}\"\n"
    );
    write(path, &text);
    let token = path.with_file_name("refresh-token");
    if !token.exists() {
        write(&token, "doc-test-refresh-token\n");
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("make folder");
    for entry in std::fs::read_dir(from).expect("read folder") {
        let entry = entry.expect("folder entry");
        let target: PathBuf = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}
