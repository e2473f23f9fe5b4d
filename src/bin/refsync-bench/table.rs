//! The one table the benchmark prints, and the extra figures under it.

use std::fmt::Write as _;

/// Whether a figure meets its target.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// It does.
    Ok,
    /// It does not.
    Miss,
    /// Not measured, and why.
    Skipped(String),
}

impl Verdict {
    /// `Ok` when `met`, else `Miss`.
    pub fn of(met: bool) -> Verdict {
        if met { Verdict::Ok } else { Verdict::Miss }
    }

    fn cell(&self) -> String {
        match self {
            Verdict::Ok => "ok".into(),
            Verdict::Miss => "MISS".into(),
            Verdict::Skipped(why) => format!("skipped: {why}"),
        }
    }
}

/// One figure next to its limit or baseline.
#[derive(Debug, Clone)]
pub struct Row {
    /// The scenario (and variant).
    pub scenario: String,
    /// What was measured, with its unit.
    pub measured: String,
    /// The limit or baseline, measured in the same run where it is one.
    pub baseline: String,
    /// measured / baseline.
    pub ratio: Option<f64>,
    /// The target, e.g. `≤ 1.03`.
    pub target: String,
    /// Whether the target is met.
    pub verdict: Verdict,
}

/// The rows and the per-scenario extra figures.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Row>,
    extras: Vec<(String, String)>,
}

impl Table {
    /// Adds a row.
    pub fn row(&mut self, row: Row) {
        self.rows.push(row);
    }

    /// Adds an extra figure line under `scenario`.
    pub fn extra(&mut self, scenario: &str, text: String) {
        self.extras.push((scenario.to_string(), text));
    }

    /// The table as a Markdown table, then the extra figures.
    pub fn render(&self) -> String {
        let header = [
            "scenario",
            "measured",
            "limit/baseline",
            "ratio",
            "target",
            "ok?",
        ];
        let cells: Vec<[String; 6]> = self.rows.iter().map(row_cells).collect();
        let widths: Vec<usize> = (0..6)
            .map(|c| {
                cells
                    .iter()
                    .map(|r| r[c].chars().count())
                    .chain([header[c].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        line(&mut out, &header.map(String::from), &widths);
        line(
            &mut out,
            &widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>(),
            &widths,
        );
        for row in &cells {
            line(&mut out, row, &widths);
        }
        out.push('\n');
        for (scenario, text) in &self.extras {
            let _ = writeln!(out, "- {scenario}: {text}");
        }
        out
    }
}

fn row_cells(row: &Row) -> [String; 6] {
    [
        row.scenario.clone(),
        row.measured.clone(),
        row.baseline.clone(),
        row.ratio.map_or("-".into(), |r| format!("{r:.3}")),
        row.target.clone(),
        row.verdict.cell(),
    ]
}

fn line(out: &mut String, cells: &[String], widths: &[usize]) {
    out.push('|');
    for (cell, width) in cells.iter().zip(widths) {
        let pad = width.saturating_sub(cell.chars().count());
        let _ = write!(out, " {cell}{} |", " ".repeat(pad));
    }
    out.push('\n');
}

/// Bytes as MiB with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
