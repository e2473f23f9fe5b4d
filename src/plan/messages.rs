//! Small helpers that keep planning messages short and consistent: clipped values and
//! line lists.
//!
//! Messages name lines by number only; the report knows the file names and adds them.

use crate::input::LineRef;
use serde_json::Value;

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

/// `line 3` or `lines 3 and 7` or `lines 3, 7 and 9`.
pub fn lines(at: &[LineRef]) -> String {
    let numbers: Vec<String> = at.iter().map(|l| l.line.to_string()).collect();
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
        assert_eq!(lines(&[at(3)]), "line 3");
        assert_eq!(lines(&[at(3), at(7)]), "lines 3 and 7");
        assert_eq!(lines(&[at(3), at(7), at(9)]), "lines 3, 7 and 9");
    }
}
