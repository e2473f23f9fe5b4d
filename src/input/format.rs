//! Telling an input's format: from its extension, from `--format`, or (stdin only) from
//! its first byte. Kept apart from any I/O so every rule is testable on plain values.

use std::path::Path;

use super::{Format, InputError};

/// The UTF-8 byte-order mark; accepted at the start of any input and never part of a line.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// `bytes` without a leading UTF-8 byte-order mark.
pub fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(BOM).unwrap_or(bytes)
}

/// The format an extension names (`.csv`, `.jsonl`, `.ndjson`, any case), if it names one.
pub fn format_from_extension(path: &Path) -> Option<Format> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "csv" => Some(Format::Csv),
        "jsonl" | "ndjson" => Some(Format::Jsonl),
        _ => None,
    }
}

/// A file's format: its extension wins, then `--format`; neither is an error the user
/// fixes with `--format`.
pub fn file_format(name: &str, forced: Option<Format>) -> Result<Format, InputError> {
    format_from_extension(Path::new(name))
        .or(forced)
        .ok_or_else(|| InputError::UnknownFormat {
            name: name.to_string(),
        })
}

/// Stdin's format: `--format` if given, else JSONL when its first byte after any BOM (and
/// white space) is `{`, else CSV (the contract's rule; `head` is the first few bytes of the stream).
pub fn stdin_format(head: &[u8], forced: Option<Format>) -> Format {
    forced.unwrap_or_else(|| sniff_format(head))
}

/// JSONL when the first byte after any BOM and white space is `{`, else CSV.
pub fn sniff_format(head: &[u8]) -> Format {
    match strip_bom(head).iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Format::Jsonl,
        _ => Format::Csv,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_recognised_in_any_case() {
        assert_eq!(format_from_extension(Path::new("a.CSV")), Some(Format::Csv));
        assert_eq!(
            format_from_extension(Path::new("a.Jsonl")),
            Some(Format::Jsonl)
        );
        assert_eq!(
            format_from_extension(Path::new("d/a.NDJSON")),
            Some(Format::Jsonl)
        );
        assert_eq!(format_from_extension(Path::new("a.txt")), None);
        assert_eq!(format_from_extension(Path::new("csv")), None);
    }

    #[test]
    fn extension_wins_over_the_format_flag() {
        let format = file_format("a.csv", Some(Format::Jsonl));
        assert!(matches!(format, Ok(Format::Csv)));
    }

    #[test]
    fn format_flag_applies_when_the_extension_says_nothing() {
        let format = file_format("updates.txt", Some(Format::Jsonl));
        assert!(matches!(format, Ok(Format::Jsonl)));
    }

    #[test]
    fn unknown_extension_without_flag_is_an_error_naming_the_input() {
        let err = file_format("updates.txt", None).unwrap_err();
        assert!(matches!(&err, InputError::UnknownFormat { name } if name == "updates.txt"));
        assert!(err.to_string().contains("--format"));
    }

    #[test]
    fn stdin_starting_with_a_brace_is_jsonl_even_after_a_bom() {
        assert_eq!(sniff_format(b"{\"id\":1}"), Format::Jsonl);
        assert_eq!(sniff_format(b"\xEF\xBB\xBF{"), Format::Jsonl);
        assert_eq!(sniff_format(b" \r\n {"), Format::Jsonl);
    }

    #[test]
    fn stdin_starting_otherwise_or_empty_is_csv() {
        assert_eq!(sniff_format(b"id,op,path,value\n"), Format::Csv);
        assert_eq!(sniff_format(b""), Format::Csv);
        assert_eq!(sniff_format(b"\xEF\xBB\xBF"), Format::Csv);
    }

    #[test]
    fn format_flag_overrides_the_stdin_sniff() {
        assert_eq!(stdin_format(b"{", Some(Format::Csv)), Format::Csv);
        assert_eq!(stdin_format(b"id", Some(Format::Jsonl)), Format::Jsonl);
        assert_eq!(stdin_format(b"{", None), Format::Jsonl);
    }
}
