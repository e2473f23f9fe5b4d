//! Writing input lines the way SPEC.md "Line numbers" says: `LINE`, or `FILE:LINE` when a
//! run has several inputs, with runs of consecutive lines as `START-END`.

use crate::input::LineRef;

/// The names of a run's inputs, as given on the command line, for writing lines.
#[derive(Clone, Debug, Default)]
pub struct LineNames {
    names: Vec<String>,
}

impl LineNames {
    /// Names for inputs given in this order.
    pub fn new(names: Vec<String>) -> Self {
        LineNames { names }
    }

    fn name(&self, input: u32) -> &str {
        self.names
            .get(input as usize)
            .map(String::as_str)
            .unwrap_or("?")
    }

    fn prefix(&self, input: u32) -> String {
        if self.names.len() > 1 {
            format!("{}:", self.name(input))
        } else {
            String::new()
        }
    }

    /// One line: `7`, or `b.csv:7` with several inputs.
    pub fn line(&self, at: LineRef) -> String {
        format!("{}{}", self.prefix(at.input), at.line)
    }

    /// A line for a message, always naming the file: `updates.csv line 7`, or `stdin line 7`
    /// for `-` (a message starting with `-` would also read as a formula to a spreadsheet,
    /// and the report would have to neutralise it).
    pub fn in_message(&self, at: LineRef) -> String {
        let name = match self.name(at.input) {
            crate::input::STDIN_NAME => "stdin",
            name => name,
        };
        format!("{name} line {}", at.line)
    }

    /// The report's `source_lines`: lines sorted, joined by `;`, consecutive runs as `START-END`.
    pub fn source_lines<I>(&self, lines: I) -> String
    where
        I: IntoIterator<Item = LineRef>,
        I::IntoIter: Clone,
    {
        let lines = lines.into_iter();
        // Room for typical lines up front, then given back: the report keeps every row's
        // text for the whole run, and growing it push by push left the heap fragmented.
        let mut text = String::with_capacity(lines.clone().count() * 12);
        self.push_source_lines(&mut text, lines);
        text.shrink_to_fit();
        text
    }

    /// [`LineNames::source_lines`] appended to `text`: for a row whose text is reused.
    pub fn push_source_lines<I>(&self, text: &mut String, lines: I)
    where
        I: IntoIterator<Item = LineRef>,
        I::IntoIter: Clone,
    {
        let lines = lines.into_iter();
        // A document's rows come in input order: sorted already, nearly always, so only
        // the others are copied and sorted (a copy per report row showed in callgrind).
        if lines.clone().is_sorted_by(|a, b| a < b) {
            self.push_runs(text, lines);
        } else {
            let mut sorted: Vec<LineRef> = lines.collect();
            sorted.sort_unstable();
            sorted.dedup();
            self.push_runs(text, sorted.into_iter());
        }
    }

    /// Appends `lines` (sorted, none twice) to `text`, consecutive ones as one run.
    fn push_runs(&self, text: &mut String, mut lines: impl Iterator<Item = LineRef>) {
        let Some(mut start) = lines.next() else {
            return;
        };
        let mut end = start;
        for line in lines {
            if line.input != end.input || line.line != end.line + 1 {
                self.push_run(text, start, end);
                start = line;
            }
            end = line;
        }
        self.push_run(text, start, end);
    }

    /// Appends one run of lines to `text`, written straight into it: the report writes a
    /// run for every document, so building each part as a string of its own showed in the
    /// profile of `plan`.
    fn push_run(&self, text: &mut String, start: LineRef, end: LineRef) {
        if !text.is_empty() {
            text.push(';');
        }
        if self.names.len() > 1 {
            text.push_str(self.name(start.input));
            text.push(':');
        }
        // `itoa` rather than `write!`: the formatting machinery cost more than the digits.
        let mut digits = itoa::Buffer::new();
        text.push_str(digits.format(start.line));
        if end != start {
            text.push('-');
            text.push_str(digits.format(end.line));
        }
    }
}

/// Reads `source_lines` back into lines (for tests and tools): the inverse of
/// [`LineNames::source_lines`], with file names left as written.
pub fn parse_source_lines(text: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for part in text.split(';').filter(|p| !p.is_empty()) {
        let (file, range) = match part.rsplit_once(':') {
            Some((file, range)) => (file.to_string(), range),
            None => (String::new(), part),
        };
        let (start, end) = match range.split_once('-') {
            Some((a, b)) => (a.parse().unwrap_or(0), b.parse().unwrap_or(0)),
            None => {
                let n = range.parse().unwrap_or(0);
                (n, n)
            }
        };
        out.extend((start..=end).map(|line| (file.clone(), line)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(input: u32, line: u64) -> LineRef {
        LineRef { input, line }
    }

    #[test]
    fn consecutive_lines_become_ranges() {
        let names = LineNames::new(vec!["u.csv".into()]);
        let lines = [at(0, 2), at(0, 3), at(0, 4), at(0, 7), at(0, 9), at(0, 10)];
        assert_eq!(names.source_lines(lines), "2-4;7;9-10");
    }

    #[test]
    fn a_message_calls_standard_input_stdin() {
        let names = LineNames::new(vec!["-".into(), "b.csv".into()]);
        assert_eq!(names.in_message(at(0, 3)), "stdin line 3");
        assert_eq!(names.in_message(at(1, 4)), "b.csv line 4");
        assert_eq!(names.source_lines([at(0, 3)]), "-:3");
    }

    #[test]
    fn several_inputs_name_the_file() {
        let names = LineNames::new(vec!["a.csv".into(), "b.jsonl".into()]);
        assert_eq!(
            names.source_lines([at(1, 3), at(0, 2), at(0, 3)]),
            "a.csv:2-3;b.jsonl:3"
        );
    }

    proptest! {
        #[test]
        fn source_lines_round_trip(lines in proptest::collection::btree_set(1u64..200, 0..40)) {
            let names = LineNames::new(vec!["x.csv".into()]);
            let text = names.source_lines(lines.iter().map(|&l| at(0, l)));
            let back: Vec<u64> = parse_source_lines(&text).into_iter().map(|(_, l)| l).collect();
            prop_assert_eq!(back, lines.into_iter().collect::<Vec<_>>());
        }

        /// Lines in any order, some twice, over two inputs: each line once, in order.
        #[test]
        fn lines_in_any_order_are_written_sorted_and_once(
            lines in proptest::collection::vec((0u32..2, 1u64..30), 0..30),
        ) {
            let names = LineNames::new(vec!["a.csv".into(), "b.csv".into()]);
            let given: Vec<LineRef> = lines.iter().map(|&(input, line)| at(input, line)).collect();
            let mut sorted = given.clone();
            sorted.sort_unstable();
            sorted.dedup();
            let text = names.source_lines(given);
            let want: Vec<(String, u64)> = sorted
                .iter()
                .map(|at| (names.name(at.input).to_string(), at.line))
                .collect();
            prop_assert_eq!(parse_source_lines(&text), want);
            prop_assert_eq!(text, names.source_lines(sorted));
        }
    }
}
