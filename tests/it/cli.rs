//! Exit codes and messages for runs that cannot start, and usage errors.

use crate::support::{Workdir, code, stderr};

#[test]
fn an_unreadable_input_stops_the_run_with_exit_one() {
    let work = Workdir::new();
    let out = work.refsync(&["plan", "missing.csv", "--report", "r.csv"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("missing.csv"), "{}", stderr(&out));
}

#[test]
fn plan_with_an_out_file_it_cannot_write_stops_before_writing_a_report() {
    let work = Workdir::new();
    work.write("u.csv", "id,op,path,value\nabc,replace,/name,x\n");
    let args = [
        "plan",
        "u.csv",
        "--out",
        "no-such-folder/d.jsonl",
        "--report",
        "r.csv",
    ];
    let out = work.refsync(&args);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("no-such-folder"), "{}", stderr(&out));
    assert!(!work.path().join("r.csv").exists());
}

#[test]
fn plan_whose_stdout_reader_stops_early_says_which_output_it_could_not_write() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let work = Workdir::new();
    // Far more documents than a pipe and refsync's output buffer hold, so writing blocks
    // until the reader is gone.
    let mut rows = String::from("id,op,path,value\n");
    for n in 0..20_000 {
        rows.push_str(&format!(
            "referral-{n:05},replace,/details/notes,note {n}\n"
        ));
    }
    work.write("u.csv", &rows);
    let mut child = work
        .refsync_command(&["plan", "u.csv", "--report", "r.csv", "--progress", "never"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start refsync");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("read the first document");
    assert!(first.starts_with(r#"{"id":"referral-00000""#), "{first}");
    // The reader is dropped here: refsync's next write finds the pipe closed.
    let out = child.wait_with_output().expect("wait for refsync");
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(
        err.contains("cannot write the planned documents to stdout"),
        "{err}"
    );
}

#[test]
fn a_missing_token_stops_sync_with_exit_one_and_says_what_to_do() {
    let work = Workdir::new();
    work.write("u.csv", "id,op,path,value\nabc,replace,/name,x\n");
    let out = work.refsync_with(&["sync", "u.csv", "--report", "r.csv"], &[]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(
        err.contains("--token-file") && err.contains("--emulator"),
        "{err}"
    );
    assert!(
        !work.path().join("r.csv").exists(),
        "nothing is written before the run starts"
    );
}

#[test]
fn plain_http_to_a_remote_host_is_refused_before_any_connection() {
    let work = Workdir::new();
    work.write("u.csv", "id,op,path,value\nabc,replace,/name,x\n");
    let out = work.refsync(&["sync", "u.csv", "--endpoint", "http://example.com/v1.0"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("https"), "{}", stderr(&out));
}

#[test]
fn a_bad_flag_is_a_usage_error() {
    let work = Workdir::new();
    assert_eq!(code(&work.refsync(&["sync", "u.csv", "--rate", "fast"])), 2);
    assert_eq!(code(&work.refsync(&["sync", "u.csv", "--no-such-flag"])), 2);
    assert_eq!(code(&work.refsync(&["plan"])), 2);
    // Values that cannot be parsed at all, as a flag (2) and as a variable (1).
    for (flag, value) in [
        ("--endpoint", "htps//typo"),
        ("--endpoint", "ftp://example.com/v1.0"),
        ("--report", "r.txt"),
    ] {
        let out = work.refsync(&["sync", "u.csv", flag, value]);
        assert_eq!(code(&out), 2, "{flag} {value}: {}", stderr(&out));
        let var = format!("REFSYNC_{}", flag[2..].to_uppercase());
        let out = work.refsync_with(&["sync", "u.csv"], &[(&var, value)]);
        assert_eq!(code(&out), 1, "{var}={value}: {}", stderr(&out));
        assert!(stderr(&out).contains(&var), "{}", stderr(&out));
    }
}

#[test]
fn the_token_never_reaches_stderr_or_the_report() {
    let work = Workdir::new();
    work.write("u.csv", "id,op,path,value\nabc,replace,/name,x\n");
    let secret = "s3cr3t-token-value";
    let out = work.refsync_with(
        &[
            "sync",
            "u.csv",
            "--endpoint",
            "http://127.0.0.1:9/v1.0",
            "--report",
            "r.csv",
            "--max-attempts",
            "1",
            "-vvv",
        ],
        &[("PARTNER_CENTER_TOKEN", secret)],
    );
    assert!(!stderr(&out).contains(secret));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
    assert!(!work.read("r.csv").contains(secret));
}

#[tokio::test]
async fn the_emulator_command_prints_its_address_first_and_serves_it() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_refsync"))
        .args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--generate",
            "3",
            "--fault-seed",
            "9",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the emulator");
    let stdout = child.stdout.take().expect("stdout");
    let first = BufReader::new(stdout)
        .lines()
        .next_line()
        .await
        .unwrap()
        .unwrap();
    let base = first
        .strip_prefix("listening on ")
        .expect("listening line first");
    let state: serde_json::Value = reqwest::get(format!("{base}/_emulator/referrals"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state.as_object().unwrap().len(), 3);
    child.kill().await.unwrap();
}

#[test]
fn no_progress_bar_under_cron_unless_asked_for() {
    let work = Workdir::new();
    let sample = crate::support::sample_path("updates.csv");
    let sample = sample.to_str().unwrap();
    let quiet = work.refsync(&["sync", sample, "--emulator", "--report", "a.csv"]);
    assert!(!stderr(&quiet).contains(" docs "), "{}", stderr(&quiet));
    let always = work.refsync(&[
        "sync",
        sample,
        "--emulator",
        "--report",
        "b.csv",
        "--progress",
        "always",
    ]);
    assert!(stderr(&always).contains("/19 docs"), "{}", stderr(&always));
}

#[test]
fn under_json_logs_every_stderr_line_is_json_the_summary_and_a_fatal_error_included() {
    let work = Workdir::new();
    let sample = crate::support::sample_path("updates.csv");
    let sample = sample.to_str().expect("a UTF-8 path");
    let args = [
        "sync",
        sample,
        "--emulator",
        "--rate",
        "unlimited",
        "--report",
        "r.csv",
        "--log-format",
        "json",
        "-v",
    ];
    let out = work.refsync(&args);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stderr(&out)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let last = lines.last().expect("a summary line");
    assert_eq!(last["message"], "run finished");
    assert_eq!(
        last["level"], "INFO",
        "a run that finished is no alert by itself"
    );
    assert_eq!(last["summary"]["exit_code"], 4);
    assert_eq!(last["summary"]["outcomes"]["updated"], 9);

    let failed = work.refsync(&["plan", "missing.csv", "--log-format", "json"]);
    assert_eq!(code(&failed), 1);
    let error: serde_json::Value =
        serde_json::from_str(stderr(&failed).trim()).expect("the error is one JSON line");
    assert_eq!(error["level"], "ERROR");
    assert_eq!(
        error["exit_code"], 1,
        "alerting reads the exit code from the line"
    );
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("missing.csv"))
    );
}

#[test]
fn usage_errors_found_after_parsing_are_json_lines_under_json_logs() {
    let work = Workdir::new();
    for (args, names) in [
        (&["runs", "--log-format", "json"][..], "--ledger"),
        (&["man", "nosuch", "--log-format", "json"][..], "nosuch"),
    ] {
        let out = work.refsync(args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        let error: serde_json::Value = serde_json::from_str(stderr(&out).trim())
            .unwrap_or_else(|_| panic!("{args:?}: not one JSON line: {}", stderr(&out)));
        assert_eq!(
            (&error["level"], &error["exit_code"]),
            (&"ERROR".into(), &2.into())
        );
        assert!(
            error["message"].as_str().is_some_and(|m| m.contains(names)),
            "{error}"
        );
    }
}

/// The README's first command is `cargo run --release -- sync …`: with the benchmark
/// binary beside refsync, cargo needs to be told which one `cargo run` means.
#[test]
fn cargo_run_means_refsync_although_the_package_has_two_binaries() {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("read Cargo.toml");
    let manifest: toml::Table = manifest.parse().expect("Cargo.toml parses");
    assert_eq!(manifest["package"]["default-run"].as_str(), Some("refsync"));
}

#[test]
fn a_run_that_cannot_start_replaces_the_summary_an_earlier_run_left() {
    let work = Workdir::new();
    let sample = crate::support::sample_path("updates.csv");
    let sample = sample.to_str().expect("a UTF-8 path");
    let args = [
        "sync",
        sample,
        "--report",
        "r.csv",
        "--summary-json",
        "summary.json",
    ];
    let ok = work.refsync(&[&args[..], &["--emulator"]].concat());
    assert_eq!(code(&ok), 4, "{}", stderr(&ok));
    let endpoint = "--endpoint=http://127.0.0.1:9/v1.0";
    let failed = work.refsync_with(&[&args[..], &[endpoint]].concat(), &[]);
    assert_eq!(code(&failed), 1, "{}", stderr(&failed));
    let summary = crate::support::summary_json(&work);
    assert_eq!(summary["exit_code"], 1, "{summary}");
    assert!(
        summary["stopped"]
            .as_str()
            .is_some_and(|s| s.contains("token")),
        "{summary}"
    );
}

#[test]
fn a_refused_output_path_replaces_the_summary_unless_it_is_the_summary_itself() {
    let work = Workdir::new();
    let input = "id,op,path,value\na,replace,/name,x\n";
    work.write("u.csv", input);
    let stale = "{\"stale\":true}\n";
    // The outputs, whether the summary is replaced, and the exit code: paths that clash,
    // like a report that names no format, are a usage error.
    let refusals: [(&[&str], bool, i32); 5] = [
        (&["--summary-json", "s.json", "--report", "r.txt"], true, 2),
        (&["--summary-json", "s.json", "--rejects", "u.csv"], true, 2),
        (
            &[
                "--summary-json",
                "s.json",
                "--report",
                "x.csv",
                "--rejects",
                "x.csv",
            ],
            true,
            2,
        ),
        (&["--summary-json", "u.csv"], false, 2),
        (
            &["--summary-json", "s.json", "--rejects", "s.json"],
            false,
            2,
        ),
    ];
    for (outputs, replaced, exit_code) in refusals {
        work.write("s.json", stale);
        let out = work.refsync(&[&["plan", "u.csv", "--out", "o.jsonl"][..], outputs].concat());
        assert_eq!(code(&out), exit_code, "{}", stderr(&out));
        assert_eq!(work.read("u.csv"), input);
        let summary = work.read("s.json");
        assert_eq!(summary != stale, replaced, "{outputs:?}: {summary}");
        if replaced {
            let summary: serde_json::Value = serde_json::from_str(&summary).expect("JSON");
            assert_eq!(summary["exit_code"], exit_code, "{outputs:?}: {summary}");
        }
    }
}

#[test]
fn the_emulator_and_an_endpoint_settle_by_layer_and_clash_as_two_flags() {
    let work = Workdir::new();
    let row = "fbcf71a8-76dc-4ea0-8a52-2f61cb154456,replace,/details/notes,x";
    work.write("u.csv", &format!("id,op,path,value\n{row}\n"));
    let args = ["sync", "u.csv", "--report", "r.csv", "--max-attempts", "1"];
    let endpoint = format!("{}/v1.0", crate::support::closed_port());
    // Two flags: which one is meant is not guessed.
    let both = [&args[..], &["--emulator", "--endpoint", &endpoint]].concat();
    let out = work.refsync(&both);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("give one of them"),
        "{}",
        stderr(&out)
    );
    // The flag wins over the environment, either way round, and the loser is warned of.
    let env = [("REFSYNC_ENDPOINT", endpoint.as_str())];
    let out = work.refsync_with(&[&args[..], &["--emulator"]].concat(), &env);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("is ignored"), "{}", stderr(&out));
    let flag = [&args[..], &["--endpoint", &endpoint]].concat();
    let env = [("REFSYNC_EMULATOR", "1"), ("PARTNER_CENTER_TOKEN", "t")];
    let out = work.refsync_with(&flag, &env);
    // Sent to the endpoint given, where nothing listens: not the emulator's success.
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--emulator (env REFSYNC_EMULATOR) is not used"),
        "{}",
        stderr(&out)
    );
    // Without an endpoint, no word of one.
    let out = work.refsync(&[&args[..], &["--emulator"]].concat());
    assert!(!stderr(&out).contains("is ignored"), "{}", stderr(&out));
}

#[test]
fn quiet_prints_the_summary_only_when_something_is_wrong() {
    let work = Workdir::new();
    work.write(
        "good.csv",
        "id,op,path,value\nfbcf71a8-76dc-4ea0-8a52-2f61cb154456,replace,/details/notes,x\n",
    );
    let good = work.refsync(&["sync", "good.csv", "--emulator", "--report", "a.csv", "-q"]);
    assert_eq!(code(&good), 0, "{}", stderr(&good));
    assert_eq!(stderr(&good), "");
    let sample = crate::support::sample_path("updates.csv");
    let sample = sample.to_str().expect("a UTF-8 path");
    let bad = work.refsync(&["sync", sample, "--emulator", "--report", "b.csv", "-q"]);
    assert_eq!(code(&bad), 4, "{}", stderr(&bad));
    assert!(stderr(&bad).contains("invalid 7"), "{}", stderr(&bad));
}

#[test]
fn a_ca_cert_or_token_file_that_cannot_be_used_stops_the_run_before_planning() {
    let work = Workdir::new();
    let sample = crate::support::sample_path("updates.csv");
    let sample = sample.to_str().expect("a UTF-8 path");
    work.write("not-a-cert.pem", "id,op,path,value\n");
    let endpoint = "--endpoint=http://127.0.0.1:9/v1.0";
    let cases: [(&[&str], &str); 2] = [
        (
            &["--ca-cert", "not-a-cert.pem"],
            "no -----BEGIN CERTIFICATE",
        ),
        (
            &["--token-file", "missing-token.txt"],
            "cannot read --token-file",
        ),
    ];
    for (flags, said) in cases {
        let args = ["sync", sample, endpoint, "--report", "r.csv"];
        let out = work.refsync_with(
            &[&args[..], flags].concat(),
            &[("PARTNER_CENTER_TOKEN", "x")],
        );
        assert_eq!(code(&out), 1, "{flags:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(said), "{flags:?}: {}", stderr(&out));
        assert!(
            !work.path().join("r.csv").exists(),
            "{flags:?}: no report of a run that never started"
        );
    }
}

#[test]
fn a_dash_sends_the_documents_the_report_or_the_summary_to_stdout() {
    let work = Workdir::new();
    work.write("u.csv", "id,op,path,value\na,replace,/name,x\n");
    let out = work.refsync(&["plan", "u.csv", "--out", "-", "--report", "r.csv"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(stdout.starts_with("{\"id\":\"a\",\"patch\":"), "{stdout}");
    let out = work.refsync(&["plan", "u.csv", "--out", "p.jsonl", "--report", "-"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(stdout.starts_with("id,outcome,http_status"), "{stdout}");
    assert!(!work.path().join("-").exists());
    let args = ["plan", "u.csv", "--out", "p.jsonl", "--report", "r.csv"];
    let out = work.refsync(&[&args[..], &["--summary-json", "-"]].concat());
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(summary["outcomes"]["planned"], 1);
}

/// Runs `refsync ARGS` in `work` with its stdout the file `name`, which holds `before`
/// and is written `after` once the run ends, through the shell's own descriptor (as in
/// `{ echo before; refsync …; echo after; } > name`, or `>>` with `append`); returns the
/// exit code and the file's text.
fn stdout_to_file_between(
    work: &Workdir,
    args: &[&str],
    name: &str,
    append: bool,
) -> (i32, String) {
    use std::io::Write;
    let path = work.path().join(name);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(&path)
        .expect("open stdout file");
    file.write_all(b"before\n").expect("write before");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_refsync"))
        .args(args)
        .current_dir(work.path())
        .stdout(file.try_clone().expect("clone"))
        .output()
        .expect("run refsync");
    file.write_all(b"after\n").expect("write after");
    let text = std::fs::read_to_string(&path).expect("read stdout file");
    (code(&out), text)
}

#[test]
fn a_dash_writes_after_what_stdout_already_holds_and_before_what_follows() {
    let work = Workdir::new();
    work.write("u.csv", "id,op,path,value\na,replace,/name,x\n");
    work.write("bad.csv", "id,op,path,value\nb,replace,/nope,x\n");
    let plan = ["plan", "u.csv", "--report", "r.csv"];
    let documents = r#"{"id":"a","patch":[{"op":"replace","path":"/name","value":"x"}]}"#;
    for append in [false, true] {
        let args = [&plan[..], &["--out", "-"]].concat();
        let (code, text) = stdout_to_file_between(&work, &args, &format!("{append}.txt"), append);
        assert_eq!(code, 0);
        assert_eq!(
            text,
            format!("before\n{documents}\nafter\n"),
            "append {append}"
        );
    }
    let args = ["plan", "u.csv", "--out", "p.jsonl", "--report", "-"];
    let (_, text) = stdout_to_file_between(&work, &args, "report.txt", true);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[1].starts_with("id,outcome,") && lines[2].starts_with("a,planned,"));
    assert_eq!((lines[0], lines[3]), ("before", "after"));
    let args = [&plan[..], &["--out", "p.jsonl", "--summary-json", "-"]].concat();
    let (_, text) = stdout_to_file_between(&work, &args, "summary.txt", false);
    let summary = text
        .strip_prefix("before\n")
        .and_then(|rest| rest.strip_suffix("after\n"))
        .unwrap_or_else(|| panic!("{text}"));
    let summary: serde_json::Value = serde_json::from_str(summary).expect("summary JSON");
    assert_eq!(summary["outcomes"]["planned"], 1);
    let args = [
        "plan",
        "bad.csv",
        "--out",
        "p.jsonl",
        "--report",
        "r.csv",
        "--rejects",
        "-",
    ];
    let (code, text) = stdout_to_file_between(&work, &args, "rejects.txt", true);
    assert_eq!(code, 4);
    let rejects = "id,op,path,value,outcome,error_message\nb,replace,/nope,x,invalid,";
    assert!(text.starts_with(&format!("before\n{rejects}")), "{text}");
    assert!(text.ends_with("\nafter\n"), "{text}");
}

#[test]
fn two_runs_in_one_second_get_a_default_report_each() {
    let work = Workdir::new();
    work.write("u.csv", "id,op,path,value\na,replace,/name,x\n");
    for _ in 0..2 {
        let out = work.refsync(&["plan", "u.csv", "--out", "/dev/null"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let reports = std::fs::read_dir(work.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("refsync-report-")
        })
        .count();
    assert_eq!(reports, 2);
}

#[test]
fn a_reader_that_stops_early_is_no_error_for_the_printing_commands() {
    let work = Workdir::new();
    for args in [&["man"][..], &["config", "show"], &["completions", "bash"]] {
        // The reader end is closed before refsync writes: every write meets EPIPE. The
        // test harness ignores SIGPIPE, as the Rust runtime does in refsync.
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_refsync"))
            .args(args)
            .current_dir(work.path())
            .stdout(writer)
            .output()
            .expect("run refsync");
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}

#[test]
fn a_deadline_beyond_what_the_clock_holds_is_no_deadline() {
    let work = Workdir::new();
    let sample = crate::support::sample_path("updates.csv");
    let sample = sample.to_str().expect("a UTF-8 path");
    let far = "--deadline=9223372036854775807s";
    let out = work.refsync(&["sync", sample, "--emulator", "--report", "r.csv", far]);
    // The sample's deliberately bad rows: exit 4, as without a deadline.
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("--deadline passed"),
        "{}",
        stderr(&out)
    );
}
