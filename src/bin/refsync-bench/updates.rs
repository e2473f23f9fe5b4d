//! The updates generator (`gen-updates`, issue 2): update rows whose IDs are exactly those
//! of `refsync emulator --generate N --fault-seed S`, all valid, so every document of a run
//! against that emulator ends `updated`.
//!
//! Row `r` goes to referral `r % N`, so the rows of one referral are spread through the
//! file as in a real export. A referral's rows cycle through its own list of fields, and a
//! field's value depends only on the referral, so a repeated field is an identical
//! duplicate (merged), never a `duplicate_path`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};

/// The format of a generated file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UpdateFormat {
    /// `id,op,path,value` with a header.
    Csv,
    /// One `{"id","op","path","value"}` object per line.
    Jsonl,
}

impl UpdateFormat {
    /// The file extension refsync reads the format from.
    pub fn extension(self) -> &'static str {
        match self {
            UpdateFormat::Csv => "csv",
            UpdateFormat::Jsonl => "jsonl",
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct UpdatesSpec {
    /// N: the emulator's `--generate N`.
    pub referrals: usize,
    /// K: rows per referral.
    pub rows_per_referral: usize,
    /// CSV or JSONL.
    pub format: UpdateFormat,
    /// The emulator's `--fault-seed`.
    pub fault_seed: u64,
    /// Every M-th referral also appends a team member (0: none).
    pub team_every: usize,
    /// The order of the rows.
    pub order: RowOrder,
}

/// The order of a generated file's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RowOrder {
    /// In passes: every referral's first field in referral order, then every referral's
    /// second, and so on (as a CRM exports one column's changes after another).
    #[default]
    Passes,
    /// The same rows in a random order drawn from the fault seed (an export in no
    /// particular order): no row's referral is next to the previous row's.
    Shuffled,
}

/// A field a generated row changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    DealValue,
    Notes,
    ClosingDate,
    Name,
    TeamMember,
}

const REPLACED: [Field; 4] = [
    Field::DealValue,
    Field::Notes,
    Field::ClosingDate,
    Field::Name,
];

/// One update row.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateRow<'a> {
    /// The referral ID.
    pub id: &'a str,
    /// `replace` or `add`.
    pub op: &'static str,
    /// The JSON Pointer.
    pub path: &'static str,
    /// The value.
    pub value: Value,
}

/// The fields referral `index` gets, in the order its rows take them.
fn fields_of(index: usize, team_every: usize) -> Vec<Field> {
    let mut fields = REPLACED.to_vec();
    fields.rotate_left(index % REPLACED.len());
    if team_every > 0 && index.is_multiple_of(team_every) {
        fields.push(Field::TeamMember);
    }
    fields
}

/// The row of `field` for referral `index`: its value depends on the referral alone.
fn row_for(id: &str, index: usize, field: Field) -> UpdateRow<'_> {
    let (op, path, value) = match field {
        Field::DealValue => (
            "replace",
            "/details/dealValue",
            json!(1000 * (5 + (index * 37) % 495)),
        ),
        Field::Notes => (
            "replace",
            "/details/notes",
            json!(format!("Benchmark note for referral {index}")),
        ),
        Field::ClosingDate => (
            "replace",
            "/details/closingDateTime",
            json!(format!(
                "2027-{:02}-{:02}T00:00:00Z",
                1 + index % 12,
                1 + index % 28
            )),
        ),
        Field::Name => (
            "replace",
            "/name",
            json!(format!("Referral {index} - benchmark")),
        ),
        Field::TeamMember => (
            "add",
            "/team/-",
            json!({"firstName": "Alex", "lastName": "Wilber",
                   "email": format!("alex.wilber+{}@adventure-works.com", index % 100)}),
        ),
    };
    UpdateRow {
        id,
        op,
        path,
        value,
    }
}

/// Row `r` of the file over `ids`: referral `r % N`, its `r / N`-th field (cycling).
pub fn row<'a>(ids: &'a [String], r: usize, team_every: usize) -> UpdateRow<'a> {
    let index = r % ids.len();
    let fields = fields_of(index, team_every);
    let field = fields[(r / ids.len()) % fields.len()];
    row_for(&ids[index], index, field)
}

/// The IDs of `refsync emulator --generate N --fault-seed S`, from the emulator's own
/// derivation.
pub fn emulator_ids(referrals: usize, fault_seed: u64) -> Vec<String> {
    refsync::emulator::generate::ids(referrals, fault_seed).collect()
}

/// Writes the file `spec` describes to `out`.
pub fn write_file(spec: &UpdatesSpec, out: &Path) -> anyhow::Result<()> {
    let file = File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut writer = BufWriter::new(file);
    write(spec, &mut writer).with_context(|| format!("cannot write {}", out.display()))?;
    writer
        .flush()
        .with_context(|| format!("cannot write {}", out.display()))
}

/// Writes the rows `spec` describes to `out`.
pub fn write(spec: &UpdatesSpec, out: &mut impl Write) -> anyhow::Result<()> {
    anyhow::ensure!(spec.referrals > 0, "--referrals must be at least 1");
    let ids = emulator_ids(spec.referrals, spec.fault_seed);
    let mut order: Vec<usize> = (0..spec.referrals * spec.rows_per_referral).collect();
    if spec.order == RowOrder::Shuffled {
        order.shuffle(&mut StdRng::seed_from_u64(spec.fault_seed));
    }
    let rows = order.into_iter().map(|r| row(&ids, r, spec.team_every));
    match spec.format {
        UpdateFormat::Csv => write_csv(rows, out),
        UpdateFormat::Jsonl => write_jsonl(rows, out),
    }
}

fn write_csv<'a>(
    rows: impl Iterator<Item = UpdateRow<'a>>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(["id", "op", "path", "value"])?;
    for row in rows {
        let value = match &row.value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        writer.write_record([row.id, row.op, row.path, &value])?;
    }
    writer.flush()?;
    Ok(())
}

fn write_jsonl<'a>(
    rows: impl Iterator<Item = UpdateRow<'a>>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    for row in rows {
        let line = json!({"id": row.id, "op": row.op, "path": row.path, "value": row.value});
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use refsync::input::{ReadOptions, open_inputs, read_records};
    use refsync::plan::{PlanEntry, PlanOptions, Planner};

    fn spec(format: UpdateFormat) -> UpdatesSpec {
        UpdatesSpec {
            referrals: 40,
            rows_per_referral: 7,
            format,
            fault_seed: 5,
            team_every: 3,
            order: RowOrder::Passes,
        }
    }

    fn generated(spec: &UpdatesSpec) -> tempfile::NamedTempFile {
        let file = tempfile::Builder::new()
            .suffix(&format!(".{}", spec.format.extension()))
            .tempfile()
            .unwrap();
        write_file(spec, file.path()).unwrap();
        file
    }

    fn plan(path: &Path) -> Vec<PlanEntry> {
        let options = ReadOptions::default();
        let names = [path.display().to_string()];
        let sources = open_inputs(&names, &options).unwrap();
        let mut planner = Planner::new(PlanOptions::default());
        for record in read_records(&sources[0], 0, &options).unwrap() {
            planner.push(&record.unwrap());
        }
        planner.finish().entries
    }

    #[test]
    fn generated_ids_are_the_emulators_generated_ids() {
        let expected: Vec<String> = refsync::emulator::generate::referrals(40, 5)
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        for format in [UpdateFormat::Csv, UpdateFormat::Jsonl] {
            let entries = plan(generated(&spec(format)).path());
            let ids: Vec<&str> = entries.iter().filter_map(PlanEntry::id).collect();
            assert_eq!(ids, expected);
        }
    }

    #[test]
    fn a_generated_file_plans_with_no_invalid_row() {
        for format in [UpdateFormat::Csv, UpdateFormat::Jsonl] {
            let entries = plan(generated(&spec(format)).path());
            assert_eq!(entries.len(), 40);
            for entry in &entries {
                let PlanEntry::Document(document) = entry else {
                    panic!("not a document: {entry:?}");
                };
                assert_eq!(document.rows.len(), 7);
            }
        }
    }

    #[test]
    fn a_shuffled_file_holds_the_same_rows_in_another_order_that_the_seed_repeats() {
        let lines = |spec: &UpdatesSpec| {
            let text = std::fs::read_to_string(generated(spec).path()).unwrap();
            text.lines().map(str::to_owned).collect::<Vec<_>>()
        };
        let passes = lines(&spec(UpdateFormat::Csv));
        let shuffled_spec = UpdatesSpec {
            order: RowOrder::Shuffled,
            ..spec(UpdateFormat::Csv)
        };
        let shuffled = lines(&shuffled_spec);
        assert_eq!(shuffled, lines(&shuffled_spec));
        assert_eq!(shuffled[0], passes[0], "the header first");
        assert_ne!(shuffled, passes);
        let sorted = |mut lines: Vec<String>| {
            lines.sort();
            lines
        };
        assert_eq!(sorted(shuffled.clone()), sorted(passes));
        let entries = plan(generated(&shuffled_spec).path());
        assert_eq!(entries.len(), 40);
        assert!(entries.iter().all(|e| matches!(e, PlanEntry::Document(_))));
    }

    #[test]
    fn rows_interleave_referrals_and_some_append_a_team_member() {
        let ids: Vec<String> = (0..4).map(|i| format!("id-{i}")).collect();
        let firsts: Vec<&str> = (0..8).map(|r| row(&ids, r, 3).id).collect();
        assert_eq!(
            firsts,
            [
                "id-0", "id-1", "id-2", "id-3", "id-0", "id-1", "id-2", "id-3"
            ]
        );
        let paths: Vec<&str> = (0..5).map(|k| row(&ids, 4 * k, 3).path).collect();
        assert!(paths.contains(&"/team/-"));
    }
}
