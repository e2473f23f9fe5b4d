//! The docs cannot rot: every `refsync` command line of README.md, docs/*.md and the
//! Kubernetes manifests in docs/k8s/ is run against the emulator and must exit as the doc
//! says (0, or the `# exits N` written on the line), and never with a usage error.
//!
//! How lines are found: [`extract`]; how they are made to run offline: [`runner`].

mod extract;
mod runner;
mod shell;

use extract::DocCommand;
use std::path::Path;

/// The doc files checked here, relative to the repository. [`every_doc_page_is_checked`]
/// keeps this list complete.
const DOCS: &[&str] = &[
    "README.md",
    "docs/auth.md",
    "docs/benchmarks.md",
    "docs/configuration.md",
    "docs/guarantees.md",
    "docs/ledger.md",
    "docs/mapping.md",
    "docs/scheduling.md",
    "docs/k8s/cronjob.yaml",
];

fn read_doc(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {name}: {e}"))
}

fn commands_of(name: &str, text: &str) -> Vec<DocCommand> {
    let found = if name.ends_with(".yaml") {
        extract::from_manifest(name, text)
    } else {
        extract::from_markdown(name, text)
    };
    found.unwrap_or_else(|e| panic!("{e}"))
}

/// Runs every command of one doc file and fails with the list of those that misbehave.
async fn check_doc(name: &str, at_least: usize) {
    let text = read_doc(name);
    let commands = commands_of(name, &text);
    assert!(
        commands.len() >= at_least,
        "{name}: found only {} refsync command lines, expected at least {at_least}: {commands:#?}",
        commands.len()
    );
    let failures = runner::run_all(&text, &commands).await;
    assert!(
        failures.is_empty(),
        "{} of {} command lines in {name} do not run as documented:\n\n{}",
        failures.len(),
        commands.len(),
        failures.join("\n\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_commands_run_as_documented() {
    check_doc("README.md", 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_and_configuration_commands_run_as_documented() {
    check_doc("docs/auth.md", 2).await;
    check_doc("docs/configuration.md", 1).await;
}

/// The benchmark page runs `refsync-bench`, which starts refsync itself; any `refsync`
/// line it gains is checked like the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn benchmark_page_commands_run_as_documented() {
    check_doc("docs/benchmarks.md", 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_and_mapping_commands_run_as_documented() {
    check_doc("docs/ledger.md", 3).await;
    check_doc("docs/mapping.md", 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarantees_commands_run_as_documented() {
    check_doc("docs/guarantees.md", 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduling_commands_in_cron_systemd_and_kubernetes_run_as_documented() {
    check_doc("docs/scheduling.md", 4).await;
    check_doc("docs/k8s/cronjob.yaml", 1).await;
}

#[test]
fn every_doc_page_is_checked() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    for entry in std::fs::read_dir(folder).expect("read docs/") {
        let name = entry.expect("docs entry").file_name();
        let name = format!("docs/{}", name.to_string_lossy());
        if name.ends_with(".md") {
            assert!(DOCS.contains(&name.as_str()), "{name} is not in DOCS");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mistyped_flag_or_a_wrong_exit_code_in_a_doc_fails_the_check() {
    let doc = "```sh\nrefsync plan updates.csv --reprot plan.csv\nrefsync plan updates.csv --report plan.csv   # exits 4\nrefsync plan updates.csv --report plan.csv\n```\n";
    let commands = commands_of("bad.md", doc);
    let failures = runner::run_all(doc, &commands).await;
    assert_eq!(failures.len(), 2, "{failures:#?}");
    assert!(failures[0].contains("usage error"), "{}", failures[0]);
    assert!(
        failures[1].contains("exit 0, the doc says 4"),
        "{}",
        failures[1]
    );
}
