//! Small helpers that keep planning messages short and consistent: clipped values and
//! line lists.
//!
//! The report prefixes each error with its own line (`FILE line N`); a message that names
//! other lines names them by number, or as `FILE:LINE` when there are several inputs
//! ([`InputNames`]), as SPEC.md "Line numbers" writes them.

use crate::input::LineRef;
use serde_json::Value;
use std::sync::Arc;

/// The inputs' names as given on the command line, for messages that name lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputNames(Arc<[String]>);

impl InputNames {
    /// The names of the inputs, in the order given.
    pub fn new(names: Vec<String>) -> Self {
        InputNames(names.into())
    }

    /// Line `at` as a message names it: `7`, or `FILE:7` when there are several inputs.
    pub fn line(&self, at: LineRef) -> String {
        match self.0.get(at.input as usize) {
            Some(name) if self.0.len() > 1 => format!("{name}:{}", at.line),
            _ => at.line.to_string(),
        }
    }
}

/// How many characters of a user's value a message repeats; enough to recognise it,
/// short enough that a 10 kB notes cell does not flood the report.
const CLIP_CHARS: usize = 60;

/// `text` in double quotes, clipped to a readable length with `…`.
pub fn clip_quoted(text: &str) -> String {
    if text.chars().count() > CLIP_CHARS {
        let head: String = text.chars().take(CLIP_CHARS).collect();
        format!("{:?}", format!("{head}…"))
    } else {
        format!("{text:?}")
    }
}

/// A JSON value as compact JSON, clipped like [`clip_quoted`] but without extra quotes.
pub fn clip_json(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > CLIP_CHARS {
        let head: String = text.chars().take(CLIP_CHARS).collect();
        format!("{head}…")
    } else {
        text
    }
}

/// `line 3` or `lines 3 and 7` or `lines 3, 7 and 9` (`a.csv:3`, with several inputs).
pub fn lines(at: &[LineRef], names: &InputNames) -> String {
    let numbers: Vec<String> = at.iter().map(|l| names.line(*l)).collect();
    match numbers.as_slice() {
        [] => "no line".to_string(),
        [one] => format!("line {one}"),
        [init @ .., last] => format!("lines {} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(line: u64) -> LineRef {
        LineRef { input: 0, line }
    }

    #[test]
    fn long_values_are_clipped_with_an_ellipsis() {
        let clipped = clip_quoted(&"x".repeat(100));
        assert_eq!(clipped.chars().count(), CLIP_CHARS + 3);
        assert!(clipped.ends_with("…\""));
        assert_eq!(clip_quoted("short"), "\"short\"");
        assert!(clip_json(&json!("y".repeat(100))).ends_with('…'));
    }

    #[test]
    fn line_lists_read_as_english() {
        assert_eq!(lines(&[at(3)], &InputNames::default()), "line 3");
        assert_eq!(
            lines(&[at(3), at(7)], &InputNames::default()),
            "lines 3 and 7"
        );
        assert_eq!(
            lines(&[at(3), at(7), at(9)], &InputNames::default()),
            "lines 3, 7 and 9"
        );
        let two = InputNames::new(vec!["a.csv".into(), "b.jsonl".into()]);
        let other = LineRef { input: 1, line: 1 };
        assert_eq!(
            lines(&[at(23), other], &two),
            "lines a.csv:23 and b.jsonl:1"
        );
        let one = InputNames::new(vec!["a.csv".into()]);
        assert_eq!(lines(&[at(23)], &one), "line 23");
    }
}
