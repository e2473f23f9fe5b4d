//! The scenarios of issue 4 and what they share: a work directory, the generated inputs,
//! the emulator and sync children, and the table they fill.

mod memory;
mod plan;
mod rate;
mod unthrottled;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::cli::{BenchOptions, Cli, Command};
use crate::emulator::{EmulatorProcess, EmulatorSpec};
use crate::sync_run::{self, SyncResult, SyncSpec};
use crate::table::{Row, Table, Verdict, mib};
use crate::updates::{self, RowOrder, UpdateFormat, UpdatesSpec};

/// The scenarios in the order `all` runs them.
const ALL: [&str; 7] = [
    "throttled",
    "latency",
    "unknown-limit",
    "stalls",
    "unthrottled",
    "plan",
    "sync-memory",
];

/// Runs the scenarios `cli` asks for and prints the table.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let bench = Bench::new(cli.options)?;
    let mut table = Table::default();
    let selected: Vec<&str> = match cli.command {
        Command::All => ALL.to_vec(),
        Command::Throttled => vec!["throttled"],
        Command::Latency => vec!["latency"],
        Command::UnknownLimit => vec!["unknown-limit"],
        Command::Stalls => vec!["stalls"],
        Command::Unthrottled => vec!["unthrottled"],
        Command::Plan => vec!["plan"],
        Command::SyncMemory => vec!["sync-memory"],
        Command::GenUpdates(_) => vec![],
    };
    for scenario in selected {
        eprintln!("refsync-bench: running {scenario}");
        let result = run_one(&bench, &mut table, scenario).await;
        record(&mut table, scenario, result);
    }
    println!("{}", table.render());
    Ok(())
}

async fn run_one(bench: &Bench, table: &mut Table, scenario: &str) -> anyhow::Result<()> {
    match scenario {
        "throttled" => rate::throttled(bench, table).await,
        "latency" => rate::latency(bench, table).await,
        "unknown-limit" => rate::unknown_limit(bench, table).await,
        "stalls" => rate::stalls(bench, table).await,
        "unthrottled" => unthrottled::run(bench, table).await,
        "plan" => plan::run(bench, table),
        _ => memory::run(bench, table).await,
    }
}

/// A scenario that could not run becomes a row saying why; the others go on.
fn record(table: &mut Table, scenario: &str, result: anyhow::Result<()>) {
    if let Err(error) = result {
        eprintln!("refsync-bench: {scenario}: {error:#}");
        table.row(Row {
            scenario: scenario.into(),
            measured: "-".into(),
            baseline: "-".into(),
            ratio: None,
            target: "-".into(),
            verdict: Verdict::Skipped(format!("{error}")),
        });
    }
}

/// Locks `dir`, given by the option `flag`, for this run, or says that another run holds
/// it: a second benchmark in the same work directory regenerates and overwrites the inputs
/// and reports the first is using (two runs started by mistake in one directory failed
/// with a report read back short and a JSONL input parsed while it was being written), and
/// one writing to the same plots directory overwrites the first's plots with its own. The
/// lock goes with the process.
fn lock_dir(dir: &Path, flag: &str) -> anyhow::Result<std::fs::File> {
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another refsync-bench is running in {}; give this one another {flag}",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// The file [`lock_dir`] locks in a directory.
const LOCK_FILE: &str = ".refsync-bench.lock";

/// Locks the plots directory too, unless it is the work directory, whose lock this run
/// holds already (a second lock on the same file from this process would be refused).
fn lock_plots_dir(plots: &Path, work: &Path) -> anyhow::Result<Option<std::fs::File>> {
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    match same(plots, work) {
        true => Ok(None),
        false => lock_dir(plots, "--plots").map(Some),
    }
}

/// What every scenario uses.
pub struct Bench {
    /// The `refsync` binary measured.
    pub refsync: PathBuf,
    /// Generated inputs, reports and logs.
    pub work: PathBuf,
    /// The options.
    pub options: BenchOptions,
    /// Held while the run lasts (see [`lock_dir`]): the work directory's lock, and the
    /// plots directory's where it is another.
    _locks: (std::fs::File, Option<std::fs::File>),
    _temp: Option<tempfile::TempDir>,
}

impl Bench {
    fn new(options: BenchOptions) -> anyhow::Result<Bench> {
        let refsync = match &options.refsync {
            Some(path) => path.clone(),
            None => std::env::current_exe()?.with_file_name("refsync"),
        };
        anyhow::ensure!(
            refsync.is_file(),
            "{} not found: run `cargo build --release --bins` first, or pass --refsync",
            refsync.display()
        );
        let (work, temp) = match &options.work_dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("refsync-bench-")
                    .tempdir()?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        std::fs::create_dir_all(&work)
            .with_context(|| format!("cannot create {}", work.display()))?;
        let work_lock = lock_dir(&work, "--work-dir")?;
        std::fs::create_dir_all(&options.plots)
            .with_context(|| format!("cannot create {}", options.plots.display()))?;
        let plots_lock = lock_plots_dir(&options.plots, &work)?;
        Ok(Bench {
            refsync,
            work,
            options,
            _locks: (work_lock, plots_lock),
            _temp: temp,
        })
    }

    /// A file in the work directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.work.join(name)
    }

    /// The SVG plot of scenario `name`.
    pub fn plot_path(&self, name: &str) -> PathBuf {
        self.options.plots.join(format!("{name}.svg"))
    }

    /// An update file for `--generate referrals`, in passes, generated once per work
    /// directory.
    pub fn updates(
        &self,
        referrals: usize,
        rows_per_referral: usize,
        format: UpdateFormat,
        team_every: usize,
    ) -> anyhow::Result<PathBuf> {
        let spec = UpdatesSpec {
            referrals,
            rows_per_referral,
            format,
            fault_seed: self.options.fault_seed,
            team_every,
            order: RowOrder::Passes,
        };
        self.updates_file(&spec)
    }

    /// The update file `spec` describes, generated once per work directory (its name does
    /// not say the fault seed, which is this run's for every file).
    pub fn updates_file(&self, spec: &UpdatesSpec) -> anyhow::Result<PathBuf> {
        let order = match spec.order {
            RowOrder::Passes => "",
            RowOrder::Shuffled => "-shuffled",
        };
        let name = format!(
            "updates-{}x{}-team{}{order}.{}",
            spec.referrals,
            spec.rows_per_referral,
            spec.team_every,
            spec.format.extension()
        );
        let path = self.path(&name);
        if !path.is_file() {
            updates::write_file(spec, &path)?;
        }
        Ok(path)
    }

    /// Starts an emulator with this run's fault seed; `name` names its log.
    pub fn emulator(&self, mut spec: EmulatorSpec, name: &str) -> anyhow::Result<EmulatorProcess> {
        spec.fault_seed = self.options.fault_seed;
        EmulatorProcess::start(
            &self.refsync,
            &spec,
            &self.path(&format!("{name}-emulator.log")),
        )
    }

    /// Syncs `input` against `emulator` at `rate`; `name` names its report and log.
    pub async fn sync(
        &self,
        emulator: &EmulatorProcess,
        input: &Path,
        rate: &str,
        name: &str,
        rejects: bool,
        max_run: Duration,
    ) -> anyhow::Result<SyncResult> {
        let spec = SyncSpec {
            input: input.to_path_buf(),
            rate: rate.into(),
            report: self.path(&format!("{name}-report.csv")),
            rejects: rejects.then(|| self.path(&format!("{name}-rejects.csv"))),
            summary: self.path(&format!("{name}-summary.json")),
            log: self.path(&format!("{name}-sync.log")),
            max_run,
        };
        sync_run::run(&self.refsync, emulator, &spec).await
    }

    /// The limit a sync scenario runs under.
    pub fn max_run(&self) -> Duration {
        Duration::from_secs(self.options.max_seconds)
    }
}

/// The run whose figure is the median of all (the upper middle of an even number): the
/// figure the table shows of runs taken in turn.
fn middle_run<T>(runs: &[T], figure: impl Fn(&T) -> f64) -> Option<&T> {
    let mut sorted: Vec<&T> = runs.iter().collect();
    sorted.sort_by(|a, b| figure(a).total_cmp(&figure(b)));
    sorted.get(sorted.len() / 2).copied()
}

/// The figures every sync scenario reports under the table.
pub fn sync_extras(table: &mut Table, scenario: &str, result: &SyncResult) {
    let f = &result.finished;
    let cpu_share = |cpu: Duration| 100.0 * cpu.as_secs_f64() / f.wall.as_secs_f64().max(1e-9);
    table.extra(
        scenario,
        format!(
            "wall {:.2} s{}, exit {}, sending {:.1} s at {:.1} req/s ({:.1} 2xx/s), {} requests, {} × 429, peak in-flight {} (refsync) / {} (sampled at the emulator) / {} (emulator max), refsync peak RSS {}, refsync CPU {:.0} %, emulator CPU {}",
            f.wall.as_secs_f64(),
            if result.cut { " (stopped at the limit)" } else { "" },
            f.code,
            result.series.sending_seconds(),
            result.series.sending_rate().unwrap_or(0.0),
            result.series.success_rate().unwrap_or(0.0),
            result.stats.completed,
            result.stats.throttled,
            result
                .peak_in_flight
                .map_or("n/a".into(), |peak| peak.to_string()),
            result.series.peak_in_flight(),
            result.stats.max_in_flight,
            mib(f.peak_rss),
            cpu_share(f.cpu),
            result.emulator_cpu.map_or("n/a".into(), |c| format!("{:.0} %", cpu_share(c))),
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_middle_run_is_the_median_whatever_the_order_of_the_runs() {
        let runs = [31.0, 12.0, 40.0];
        assert_eq!(middle_run(&runs, |rate| *rate), Some(&31.0));
        assert_eq!(middle_run(&[5.0, 9.0], |rate| *rate), Some(&9.0));
        assert_eq!(middle_run(&[] as &[f64], |rate| *rate), None);
    }

    #[test]
    fn a_work_directory_serves_one_run_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_dir(dir.path(), "--work-dir").unwrap();
        let refused = lock_dir(dir.path(), "--work-dir").unwrap_err().to_string();
        assert!(refused.contains("another refsync-bench"), "{refused}");
        assert!(refused.contains("another --work-dir"), "{refused}");
        drop(held);
        assert!(
            lock_dir(dir.path(), "--work-dir").is_ok(),
            "free again once the first is gone"
        );
    }

    #[test]
    fn a_plots_directory_serves_one_run_at_a_time_unless_it_is_the_work_directory() {
        let (work, plots) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let _work = lock_dir(work.path(), "--work-dir").unwrap();
        // The plots in the work directory: its lock is this run's already.
        assert!(lock_plots_dir(work.path(), work.path()).unwrap().is_none());
        let held = lock_plots_dir(plots.path(), work.path()).unwrap();
        assert!(held.is_some());
        let other_work = tempfile::tempdir().unwrap();
        let refused = lock_plots_dir(plots.path(), other_work.path())
            .unwrap_err()
            .to_string();
        assert!(refused.contains("another --plots"), "{refused}");
    }
}
