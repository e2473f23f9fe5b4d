//! Tests of opening a ledger: creation, recognition, refusal of other files, the lock.

use super::*;
use rusqlite::Connection;
use tempfile::TempDir;

fn temp() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ledger.db");
    (dir, path)
}

#[test]
fn a_new_ledger_is_created_and_reopened_with_its_runs() {
    let (_dir, path) = temp();
    let run = {
        let ledger = Ledger::open(&path).expect("create");
        ledger.start_run("k", &RunMeta::default()).expect("start")
    };
    let ledger = Ledger::open(&path).expect("reopen");
    assert_eq!(ledger.unfinished_run("k").expect("query"), Some(run));
}

#[test]
fn the_file_is_stamped_as_a_refsync_ledger_in_wal_mode() {
    let (_dir, path) = temp();
    drop(Ledger::open(&path).expect("create"));
    let conn = Connection::open(&path).expect("sqlite");
    let id: i64 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .expect("application_id");
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("journal_mode");
    assert_eq!((id, mode.as_str()), (schema::APPLICATION_ID, "wal"));
}

#[test]
fn a_foreign_sqlite_file_is_refused_and_left_untouched() {
    let (_dir, path) = temp();
    let conn = Connection::open(&path).expect("sqlite");
    conn.execute_batch("CREATE TABLE crm (id TEXT); INSERT INTO crm VALUES ('x');")
        .expect("foreign schema");
    drop(conn);
    let before = std::fs::read(&path).expect("read");
    let error = Ledger::open(&path).expect_err("must refuse");
    assert!(matches!(error, LedgerError::Foreign { .. }), "{error}");
    assert!(
        error.to_string().contains("not a refsync ledger"),
        "{error}"
    );
    assert_eq!(std::fs::read(&path).expect("read"), before);
}

#[test]
fn a_garbage_file_is_a_clear_error_and_left_untouched() {
    let (_dir, path) = temp();
    let garbage = b"id,op,path,value\nthis is a CSV file, not a ledger\n".repeat(200);
    std::fs::write(&path, &garbage).expect("write");
    let error = Ledger::open(&path).expect_err("must refuse");
    assert!(matches!(error, LedgerError::Corrupt { .. }), "{error}");
    assert!(error.to_string().contains("left untouched"), "{error}");
    assert_eq!(std::fs::read(&path).expect("read"), garbage);
}

#[test]
fn a_ledger_of_a_newer_schema_is_refused() {
    let (_dir, path) = temp();
    drop(Ledger::open(&path).expect("create"));
    let conn = Connection::open(&path).expect("sqlite");
    conn.pragma_update(None, "user_version", schema::SCHEMA_VERSION + 1)
        .expect("bump");
    drop(conn);
    let error = Ledger::open(&path).expect_err("must refuse");
    assert!(matches!(error, LedgerError::NewerSchema { .. }), "{error}");
}

#[test]
fn a_second_open_while_the_first_holds_the_ledger_is_in_use() {
    let (_dir, path) = temp();
    let _first = Ledger::open(&path).expect("first");
    let error = Ledger::open(&path).expect_err("second must be refused");
    assert!(matches!(error, LedgerError::InUse { .. }), "{error}");
}

#[cfg(unix)]
#[test]
fn another_name_of_a_ledger_in_use_is_refused_too() {
    let (dir, path) = temp();
    let _first = Ledger::open(&path).expect("first");
    let symlink = dir.path().join("alias.db");
    std::os::unix::fs::symlink(&path, &symlink).expect("symlink");
    let hard_link = dir.path().join("hard.db");
    std::fs::hard_link(&path, &hard_link).expect("hard link");
    for other in [&symlink, &hard_link] {
        let error = Ledger::open(other).expect_err("another name of the same file");
        assert!(matches!(error, LedgerError::InUse { .. }), "{error}");
    }
    // Deleting the sidecar mid-run does not let a second run in either.
    std::fs::remove_file(lock::lock_path(&path)).expect("remove the sidecar");
    let error = Ledger::open(&path).expect_err("the database itself is locked");
    assert!(matches!(error, LedgerError::InUse { .. }), "{error}");
}

#[test]
fn a_lock_whose_holder_is_gone_does_not_block() {
    // Dropping the handle closes the lock file: the OS releases the lock exactly as it
    // does when a process is killed, and the sidecar file left behind means nothing.
    let (_dir, path) = temp();
    drop(Ledger::open(&path).expect("first"));
    assert!(lock::lock_path(&path).exists());
    Ledger::open(&path).expect("reopen after the holder went away");
}

#[test]
fn history_can_be_read_while_a_run_holds_the_ledger() {
    let (_dir, path) = temp();
    let writer = Ledger::open(&path).expect("open");
    writer.start_run("k", &RunMeta::default()).expect("start");
    let reader = Ledger::open_read_only(&path).expect("read-only open");
    assert_eq!(reader.runs().expect("runs").len(), 1);
}

#[test]
fn reading_history_of_a_missing_file_creates_nothing() {
    let (_dir, path) = temp();
    let error = Ledger::open_read_only(&path).expect_err("no file");
    assert!(matches!(error, LedgerError::NotFound { .. }), "{error}");
    assert!(!path.exists());
}

#[test]
fn a_read_only_ledger_refuses_writes() {
    let (_dir, path) = temp();
    drop(Ledger::open(&path).expect("create"));
    let reader = Ledger::open_read_only(&path).expect("read-only open");
    assert!(reader.start_run("k", &RunMeta::default()).is_err());
}

#[test]
fn a_ledger_sqlite_cannot_write_names_the_file_and_what_to_check() {
    let (_dir, path) = temp();
    let read_only = rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_READONLY),
        Some("attempt to write a readonly database".into()),
    );
    let error = LedgerError::unwritable_or(LedgerError::Sqlite(read_only), &path);
    let message = error.to_string();
    assert!(matches!(error, LedgerError::Unwritable { .. }), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("folder are writable"), "{message}");
    // A path SQLite cannot open at all (a folder) says the same, naming it.
    std::fs::create_dir(&path).expect("folder");
    match Ledger::open(&path) {
        Err(error) => assert!(matches!(error, LedgerError::Unwritable { .. }), "{error}"),
        Ok(_) => panic!("a folder opened as a ledger"),
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_lock_held_by_a_killed_process_does_not_block() {
    // util-linux `flock --no-fork` holds the same kind of lock (flock(2)) in one process,
    // which is then killed with SIGKILL: no clean-up code runs, the OS alone releases it.
    let (_dir, path) = temp();
    let holder = std::process::Command::new("flock")
        .arg("--no-fork")
        .arg(lock::lock_path(&path))
        .args(["sleep", "60"])
        .spawn();
    let Ok(mut holder) = holder else {
        eprintln!("flock(1) is not installed: skipped");
        return;
    };
    let held = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        matches!(Ledger::open(&path), Err(LedgerError::InUse { .. }))
    });
    holder.kill().expect("SIGKILL");
    holder.wait().expect("reap");
    assert!(held, "the other process never held the lock");
    Ledger::open(&path).expect("open after the holder was killed");
}

#[test]
fn a_ledger_made_before_runs_recorded_their_endpoint_gets_the_column_and_keeps_its_runs() {
    let (_dir, path) = temp();
    let run = {
        let ledger = Ledger::open(&path).expect("create");
        ledger.start_run("k", &RunMeta::default()).expect("start")
    };
    // As an earlier build left it: the same schema version, no `endpoint` column (and no
    // `undo_before`, added later still).
    let conn = Connection::open(&path).expect("sqlite");
    conn.execute_batch(
        "ALTER TABLE runs DROP COLUMN endpoint; ALTER TABLE runs DROP COLUMN undo_files;
         ALTER TABLE documents DROP COLUMN undo_before",
    )
    .expect("drop the columns");
    drop(conn);
    let read_only = Ledger::open_read_only(&path).expect("read as it is");
    assert_eq!(read_only.unfinished_run("k").expect("query"), Some(run));
    drop(read_only);
    let ledger = Ledger::open(&path).expect("upgrade");
    assert_eq!(ledger.run_endpoint(run).expect("read"), None);
    let meta = RunMeta {
        endpoint: Some("emulator".into()),
        ..RunMeta::default()
    };
    let next = ledger.start_run("k", &meta).expect("start");
    assert_eq!(
        ledger.run_endpoint(next).expect("read").as_deref(),
        Some("emulator")
    );
    let key = DocumentKey {
        entry: 0,
        referral_id: Some("r"),
        doc_hash: None,
    };
    let before = Some("{}");
    let request = uuid::Uuid::new_v4();
    ledger
        .record_sending(
            next,
            key,
            &Sending {
                request_id: request,
                if_match: None,
                undo_before: before,
                sent_before: 0,
            },
        )
        .expect("the undo column is there");
    // Each attempt's undo file, the earlier ones returned.
    let undo = ledger
        .record_undo_file(next, Some("u.jsonl"))
        .expect("record");
    assert!(undo.is_empty());
    let undo = ledger.record_undo_file(next, None).expect("record again");
    assert_eq!(undo, [Some("u.jsonl".to_string())]);
}
