//! Keeping spreadsheet programs from running report cells as formulas.

use std::borrow::Cow;

/// Prefixes `'` to text a spreadsheet would run as a formula (starting with `=`, `+`, `-`,
/// `@`, tab or CR), as OWASP advises for CSV exports.
pub fn neutralise(text: &str) -> Cow<'_, str> {
    match text.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{text}")),
        _ => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_are_neutralised() {
        for text in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(text), format!("'{text}"));
        }
    }

    #[test]
    fn plain_text_is_left_alone() {
        assert_eq!(neutralise("value is 1"), "value is 1");
        assert_eq!(neutralise(""), "");
    }
}
