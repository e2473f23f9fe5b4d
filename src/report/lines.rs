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
    pub fn source_lines(&self, lines: impl IntoIterator<Item = LineRef>) -> String {
        let mut sorted: Vec<LineRef> = lines.into_iter().collect();
        sorted.sort_unstable();
        sorted.dedup();
        // Room for typical lines up front, then given back: the report keeps every row's
        // text for the whole run, and growing it push by push left the heap fragmented.
        let mut text = String::with_capacity(sorted.len() * 12);
        let mut i = 0;
        while i < sorted.len() {
            let start = sorted[i];
            let mut end = start;
            while i + 1 < sorted.len()
                && sorted[i + 1].input == end.input
                && sorted[i + 1].line == end.line + 1
            {
                i += 1;
                end = sorted[i];
            }
            self.push_run(&mut text, start, end);
            i += 1;
        }
        text.shrink_to_fit();
        text
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
    }
}
