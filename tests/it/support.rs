//! Helpers for the integration tests: a temporary work folder, the emulator in-process on
//! port 0, the real `refsync` binary run against it, and report readers.

use refsync::emulator::{Emulator, EmulatorOptions, Faults, Seed};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary folder that the binary runs in (removed on drop when it owns it).
pub struct Workdir {
    _dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl Workdir {
    /// A fresh, empty folder.
    pub fn new() -> Workdir {
        let dir = tempfile::tempdir().expect("temp dir");
        Workdir {
            path: dir.path().to_path_buf(),
            _dir: Some(dir),
        }
    }

    /// A view of an existing folder, e.g. from another thread; it removes nothing.
    pub fn at(path: PathBuf) -> Workdir {
        Workdir { _dir: None, path }
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `text` to `name` in the folder and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path.join(name);
        std::fs::write(&path, text).expect("write file");
        path
    }

    /// Reads `name` from the folder.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path.join(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    /// Runs `refsync ARGS` in the folder with a token in the environment.
    pub fn refsync(&self, args: &[&str]) -> Output {
        self.refsync_with(args, &[("PARTNER_CENTER_TOKEN", "test-token")])
    }

    /// Runs `refsync ARGS` in the folder with `env` set (and no inherited REFSYNC_* or token).
    pub fn refsync_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = self.refsync_command(args);
        command.envs(env.iter().copied());
        command.output().expect("run refsync")
    }

    /// `refsync ARGS` to be run in the folder, with no inherited REFSYNC_* or token.
    pub fn refsync_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_refsync"));
        command.args(args).current_dir(self.path());
        for (key, _) in std::env::vars() {
            if key.starts_with("REFSYNC_") || key == "PARTNER_CENTER_TOKEN" {
                command.env_remove(key);
            }
        }
        command
    }
}

/// The sample referrals' seed file of the repository.
pub fn sample_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

/// Starts the emulator on 127.0.0.1:0 with `seed` and `faults`.
pub async fn emulator_with(seed: Seed, faults: Faults) -> Emulator {
    Emulator::start(EmulatorOptions {
        listen: ([127, 0, 0, 1], 0).into(),
        seed,
        token: None,
        faults,
    })
    .await
    .expect("start emulator")
}

/// Starts the emulator seeded with `count` fixture referrals (written to `seed.jsonl` in
/// `work`) and `faults`.
pub async fn seeded(work: &Workdir, count: usize, faults: Faults) -> Emulator {
    let text = crate::fixtures::seed_text(&crate::fixtures::referrals(count));
    emulator_with(Seed::File(work.write("seed.jsonl", &text)), faults).await
}

/// A loopback URL where nothing listens: a proxy that no request may use.
pub fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{address}")
}

/// Every request the emulator answered (or dropped), by its stats.
pub fn requests_served(emulator: &Emulator) -> u64 {
    let stats = emulator.stats();
    let counts = stats["requests"].as_object().expect("request counts");
    counts.values().filter_map(|count| count.as_u64()).sum()
}

/// The summary a run wrote with `--summary-json summary.json`.
pub fn summary_json(work: &Workdir) -> serde_json::Value {
    serde_json::from_str(&work.read("summary.json")).expect("summary JSON")
}

/// Exit code of a finished process.
pub fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

/// Stderr as text, for assertions and failure messages.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A CSV report's rows as maps from column to cell.
pub fn read_csv_report(path: &Path) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).expect("open report");
    let headers = reader.headers().expect("report header").clone();
    reader
        .records()
        .map(|r| {
            let record = r.expect("report record");
            headers
                .iter()
                .zip(record.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The report row of referral `id`.
pub fn row_of<'a>(rows: &'a [HashMap<String, String>], id: &str) -> &'a HashMap<String, String> {
    rows.iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no report row for {id}"))
}
