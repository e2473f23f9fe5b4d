//! The plan scenario's baseline: a bare parse of the same file, in this process, with no
//! grouping — the `csv` crate's `StringRecord`s, or one `serde_json::Value` per line.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::updates::UpdateFormat;

/// Parses `path` bare; returns the records read and the time taken.
pub fn bare_parse(path: &Path, format: UpdateFormat) -> anyhow::Result<(u64, Duration)> {
    let started = Instant::now();
    let records = match format {
        UpdateFormat::Csv => csv_records(path)?,
        UpdateFormat::Jsonl => json_lines(path)?,
    };
    Ok((records, started.elapsed()))
}

fn csv_records(path: &Path) -> anyhow::Result<u64> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot open {}", path.display()))?;
    // Text records, as refsync needs: UTF-8 is checked, as it must be by any reader of it.
    let mut record = csv::StringRecord::new();
    let mut count = 0;
    while reader.read_record(&mut record)? {
        count += 1;
    }
    Ok(count)
}

fn json_lines(path: &Path) -> anyhow::Result<u64> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut count = 0;
    while reader.read_until(b'\n', &mut line)? > 0 {
        let _: serde_json::Value = serde_json::from_slice(&line)?;
        count += 1;
        line.clear();
    }
    Ok(count)
}
