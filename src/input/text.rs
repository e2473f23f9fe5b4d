//! Small text helpers shared by the readers' messages: values are quoted clipped, so a
//! message never echoes a hostile or huge cell.

/// The most characters of a value that a message repeats.
pub const ECHO_CHARS: usize = 60;

/// `text` in backquotes, cut to [`ECHO_CHARS`] characters with `…` where cut.
pub fn quoted(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(ECHO_CHARS).collect();
    let more = if chars.next().is_some() { "…" } else { "" };
    format!("`{head}{more}`")
}

/// Names in backquotes, comma-separated, the list itself cut after a dozen.
pub fn quoted_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    const MAX_NAMES: usize = 12;
    let names: Vec<&str> = names.into_iter().collect();
    let mut list: Vec<String> = names.iter().take(MAX_NAMES).map(|n| quoted(n)).collect();
    if names.len() > MAX_NAMES {
        list.push(format!("and {} more", names.len() - MAX_NAMES));
    }
    if list.is_empty() {
        return "none".to_string();
    }
    list.join(", ")
}

/// What to tell a user whose file is not UTF-8.
pub fn not_utf8(what: &str) -> String {
    format!(
        "{what} is not valid UTF-8: the file is not UTF-8; save it as UTF-8 or use --encoding windows-1252"
    )
}

/// What to tell a user about a record over the size bound.
pub fn too_long(what: &str, limit: usize) -> String {
    format!(
        "{what} is longer than {limit} bytes, more than any referral update needs; it was skipped"
    )
}

/// `bytes` without its final `\n` or `\r\n`.
pub fn strip_terminator(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_clipped_at_sixty_characters() {
        let long = "é".repeat(100);
        let shown = quoted(&long);
        assert_eq!(shown.chars().count(), ECHO_CHARS + 3);
        assert!(shown.ends_with("…`"));
        assert_eq!(quoted("id"), "`id`");
    }

    #[test]
    fn long_lists_are_cut_with_a_count() {
        let names: Vec<String> = (0..15).map(|i| format!("c{i}")).collect();
        let list = quoted_list(names.iter().map(String::as_str));
        assert!(list.ends_with("and 3 more"), "{list}");
        assert_eq!(quoted_list([]), "none");
    }

    #[test]
    fn terminators_are_stripped_once() {
        assert_eq!(strip_terminator(b"a\r\n"), b"a");
        assert_eq!(strip_terminator(b"a\n\n"), b"a\n");
        assert_eq!(strip_terminator(b"a"), b"a");
    }
}
