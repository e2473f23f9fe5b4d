//! Cheap scans of a JSONL line's text that serde_json's reading cannot do: finding the
//! `id` of a line that does not parse, so that its malformed record counts under that
//! referral (its document is then `invalid`, not silently sent without it), with a single
//! pass that only looks at keys of the outermost object; and finding a number that
//! serde_json would read rounded.

use crate::schema::value::is_inexact;

/// The string value of a top-level `"id"` key in `bytes`, if a cheap scan finds one.
pub fn salvage_id(bytes: &[u8]) -> Option<String> {
    let mut depth = 0usize;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' => {
                let end = string_end(bytes, at)?;
                let is_id_key = depth == 1 && &bytes[at..=end] == b"\"id\"";
                if let Some(id) = is_id_key.then(|| id_value(bytes, end + 1)).flatten() {
                    return Some(id);
                }
                at = end;
            }
            _ => {}
        }
        at += 1;
    }
    None
}

/// The first number in the JSON text `json` (strings skipped) with more significant
/// digits than a JSON number keeps exactly, as written.
pub fn inexact_number(json: &str) -> Option<&str> {
    let bytes = json.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => at = string_end(bytes, at).map_or(bytes.len(), |end| end + 1),
            b'-' | b'0'..=b'9' => {
                let end = bytes[at..]
                    .iter()
                    .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .map_or(bytes.len(), |n| at + n);
                let number = &json[at..end];
                if is_inexact(number) {
                    return Some(number);
                }
                at = end;
            }
            _ => at += 1,
        }
    }
    None
}

/// The index of the quote closing the string that opens at `open`.
fn string_end(bytes: &[u8], open: usize) -> Option<usize> {
    let mut at = open + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return Some(at),
            _ => at += 1,
        }
    }
    None
}

/// The string value after the `:` that follows a key ending just before `after_key`,
/// decoded by serde_json so that escapes come out right.
fn id_value(bytes: &[u8], after_key: usize) -> Option<String> {
    let colon = skip_space(bytes, after_key);
    if bytes.get(colon) != Some(&b':') {
        return None;
    }
    let open = skip_space(bytes, colon + 1);
    if bytes.get(open) != Some(&b'"') {
        return None;
    }
    let end = string_end(bytes, open)?;
    serde_json::from_slice(&bytes[open..=end]).ok()
}

/// The first index at or after `at` that is not JSON whitespace.
fn skip_space(bytes: &[u8], at: usize) -> usize {
    let spaces = bytes.get(at..).unwrap_or_default();
    at + spaces.iter().take_while(|b| b" \t\r\n".contains(b)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_of_a_line_broken_after_it_is_found() {
        assert_eq!(
            salvage_id(br#"{"id": "A-1", "op": replace}"#),
            Some("A-1".into())
        );
        assert_eq!(
            salvage_id(br#"{"op":"x","id":"B\u0032", oops"#),
            Some("B2".into())
        );
    }

    #[test]
    fn ids_inside_nested_values_are_not_taken() {
        assert_eq!(salvage_id(br#"{"value":{"id":"inner"}, oops"#), None);
        assert_eq!(salvage_id(br#"{"note":"\"id\":\"x\"", oops"#), None);
    }

    #[test]
    fn an_inexact_number_is_found_outside_strings_only() {
        assert_eq!(inexact_number("1234567890.12345"), None);
        assert_eq!(inexact_number("0.000001234567890123450"), None);
        assert_eq!(
            inexact_number(r#"{"a":"1234567890123456789","b\"":[1, -1234567890.123456e-3]}"#),
            Some("-1234567890.123456e-3")
        );
        assert_eq!(
            inexact_number("99999999999999999999"),
            Some("99999999999999999999")
        );
    }

    #[test]
    fn an_id_that_is_not_a_string_or_is_cut_short_is_not_taken() {
        assert_eq!(salvage_id(br#"{"id": 12, oops"#), None);
        assert_eq!(salvage_id(br#"{"id": "unterminated"#), None);
        assert_eq!(salvage_id(br#"{"id" "x"}"#), None);
        assert_eq!(
            salvage_id(br#"{"op":"id", "id":"C", oops"#),
            Some("C".into())
        );
        assert_eq!(salvage_id(b""), None);
    }
}
