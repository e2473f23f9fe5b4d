//! Input encodings (`--encoding`): Excel saves CSV in the system's legacy code page
//! (Windows-1252 in western Europe and the Americas), so such a file is transcoded to a
//! UTF-8 spool file when it is opened, and everything after reads UTF-8 as before.
//!
//! Transcoding keeps every line break where it was, so line numbers are the original
//! file's; spans then point into the spool, which is what the rejects file copies from —
//! the rejects of a transcoded input are UTF-8. A file that already is valid UTF-8 is read
//! as UTF-8 even under `--encoding windows-1252` (for encodings that share ASCII): text in
//! a legacy code page is almost never valid UTF-8 by accident, and this lets a rejects
//! file be fed back with the same command line.

use encoding_rs::{DecoderResult, Encoding, UTF_8};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

/// Read and write buffer size for transcoding.
const CHUNK: usize = 64 * 1024;

/// A file that is not text in the encoding given.
#[derive(Debug, thiserror::Error)]
pub enum EncodingError {
    /// A byte sequence the encoding does not define.
    #[error(
        "input {name} is not valid {encoding} (line {line}); check the file's encoding and give \
         it with --encoding, e.g. --encoding utf-16le or --encoding windows-1252"
    )]
    Malformed {
        /// The input as given.
        name: String,
        /// The encoding's name.
        encoding: &'static str,
        /// The line of the first bad sequence.
        line: u64,
    },
    /// A byte-order mark chose the encoding, which is not the one given, and the text
    /// after it is not in that encoding (a UTF-8 mark on a windows-1252 body, say).
    #[error(
        "input {name} starts with a {marked} byte-order mark, which decides its encoding \
         whatever --encoding says, but line {line} is not valid {marked}: save the file in \
         one encoding (without the mark if its text is not {marked})"
    )]
    MarkedMalformed {
        /// The input as given.
        name: String,
        /// The encoding the mark names.
        marked: &'static str,
        /// The line of the first bad sequence.
        line: u64,
    },
}

/// `--encoding NAME`: a WHATWG label (`utf-8`, `windows-1252`, `latin1`, `utf-16le`, …).
pub fn parse_encoding(label: &str) -> Result<&'static Encoding, String> {
    match Encoding::for_label(label.trim().as_bytes()) {
        Some(encoding) if encoding != encoding_rs::REPLACEMENT => Ok(encoding),
        _ => Err(format!(
            "unknown encoding {label:?}; give e.g. utf-8, windows-1252, iso-8859-15 or utf-16le"
        )),
    }
}

/// Why a decode stopped.
enum Stop {
    Io(io::Error),
    /// At `line`, decoding as `used` (which a byte-order mark may have chosen).
    Malformed {
        line: u64,
        used: &'static Encoding,
    },
}

/// Transcodes `source` (the input `name`) to UTF-8 in a new temporary file; `None` when it
/// is to be read as it is (the encoding is UTF-8, or the file already is valid UTF-8).
pub fn transcode(
    source: &Path,
    name: &str,
    encoding: &'static Encoding,
) -> Result<Option<tempfile::TempPath>, super::InputError> {
    let io = |e| super::open::io_error(name, e);
    // Excel's "Unicode text" is UTF-16 with a byte-order mark: the mark says so whatever
    // --encoding says, and the decoder below follows it.
    let utf16 = starts_with_utf16_bom(source).map_err(io)?;
    if utf16 {
        tracing::info!(
            input = name,
            "the input starts with a UTF-16 byte-order mark: read as UTF-16"
        );
    } else if encoding == UTF_8 {
        return Ok(None);
    }
    if !utf16 && encoding.is_ascii_compatible() && is_utf8(source).map_err(io)? {
        tracing::info!(
            input = name,
            encoding = encoding.name(),
            "the input is valid UTF-8: read as UTF-8"
        );
        return Ok(None);
    }
    let mut spool = tempfile::NamedTempFile::new().map_err(io)?;
    let input = File::open(source).map_err(io)?;
    let mut out = BufWriter::new(spool.as_file_mut());
    match decode(input, &mut out, encoding) {
        Ok(()) => out.flush().map_err(io)?,
        Err(Stop::Io(e)) => return Err(io(e)),
        Err(Stop::Malformed { line, used }) => {
            let name = name.to_string();
            let error = match used == encoding {
                true => EncodingError::Malformed {
                    name,
                    encoding: encoding.name(),
                    line,
                },
                false => EncodingError::MarkedMalformed {
                    name,
                    marked: used.name(),
                    line,
                },
            };
            return Err(error.into());
        }
    }
    drop(out);
    Ok(Some(spool.into_temp_path()))
}

/// Whether the file starts with a UTF-16 byte-order mark (either byte order).
fn starts_with_utf16_bom(path: &Path) -> io::Result<bool> {
    let mut head = [0u8; 2];
    let mut file = File::open(path)?;
    let mut read = 0;
    while read < head.len() {
        match file.read(&mut head[read..])? {
            0 => return Ok(false),
            n => read += n,
        }
    }
    Ok(head == [0xFF, 0xFE] || head == [0xFE, 0xFF])
}

/// Whether the whole file is valid UTF-8.
fn is_utf8(path: &Path) -> io::Result<bool> {
    match decode(File::open(path)?, &mut io::sink(), UTF_8) {
        Ok(()) => Ok(true),
        Err(Stop::Malformed { .. }) => Ok(false),
        Err(Stop::Io(e)) => Err(e),
    }
}

/// Decodes all of `input` into `out` as UTF-8 (a byte-order mark picks the encoding and is
/// dropped), stopping at the first malformed sequence with its line.
fn decode(
    mut input: impl Read,
    out: &mut impl Write,
    encoding: &'static Encoding,
) -> Result<(), Stop> {
    let mut decoder = encoding.new_decoder();
    let mut read_buf = vec![0u8; CHUNK];
    let mut write_buf = vec![0u8; CHUNK * 3 + 16];
    let mut line = 1;
    loop {
        let n = input.read(&mut read_buf).map_err(Stop::Io)?;
        let last = n == 0;
        let mut pending = &read_buf[..n];
        loop {
            let (result, read, written) =
                decoder.decode_to_utf8_without_replacement(pending, &mut write_buf, last);
            let text = &write_buf[..written];
            line += text.iter().filter(|&&b| b == b'\n').count() as u64;
            out.write_all(text).map_err(Stop::Io)?;
            pending = &pending[read..];
            match result {
                DecoderResult::InputEmpty => break,
                DecoderResult::OutputFull => continue,
                DecoderResult::Malformed(..) => {
                    let used = decoder.encoding();
                    return Err(Stop::Malformed { line, used });
                }
            }
        }
        if last {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(bytes).unwrap();
        file
    }

    fn windows_1252() -> &'static Encoding {
        parse_encoding("windows-1252").unwrap()
    }

    #[test]
    fn windows_1252_becomes_utf8_with_lines_kept() {
        let input = file(b"Name;Notes\r\nCaf\xe9;\"two\nlines \x80\"\r\n");
        let spool = transcode(input.path(), "x.csv", windows_1252())
            .unwrap()
            .unwrap();
        let text = std::fs::read_to_string(&spool).unwrap();
        assert_eq!(text, "Name;Notes\r\nCafé;\"two\nlines €\"\r\n");
    }

    #[test]
    fn a_file_already_in_utf8_is_read_as_it_is() {
        let input = file("Café\n".as_bytes());
        assert!(
            transcode(input.path(), "x.csv", windows_1252())
                .unwrap()
                .is_none()
        );
        assert!(transcode(input.path(), "x.csv", UTF_8).unwrap().is_none());
    }

    #[test]
    fn a_utf8_mark_on_text_in_another_encoding_is_named_as_the_cause() {
        let input = file(b"\xef\xbb\xbfid,value\r\nx,caf\xe9\r\n");
        let error = transcode(input.path(), "x.csv", windows_1252())
            .expect_err("the mark says UTF-8")
            .to_string();
        assert!(
            error.contains("starts with a UTF-8 byte-order mark") && error.contains("line 2"),
            "{error}"
        );
    }

    #[test]
    fn utf16_with_a_byte_order_mark_is_decoded() {
        let input = file(b"\xff\xfei\x00d\x00\n\x00");
        let utf16 = parse_encoding("utf-16le").unwrap();
        let spool = transcode(input.path(), "x.csv", utf16).unwrap().unwrap();
        assert_eq!(std::fs::read_to_string(&spool).unwrap(), "id\n");
    }

    #[test]
    fn a_utf16_byte_order_mark_wins_over_the_default_utf8_and_a_legacy_code_page() {
        for bytes in [
            &b"\xff\xfei\x00d\x00\n\x00"[..],
            &b"\xfe\xff\x00i\x00d\x00\n"[..],
        ] {
            let input = file(bytes);
            for encoding in [UTF_8, windows_1252()] {
                let spool = transcode(input.path(), "x.csv", encoding).unwrap().unwrap();
                assert_eq!(std::fs::read_to_string(&spool).unwrap(), "id\n");
            }
        }
    }

    #[test]
    fn a_bad_sequence_names_its_line_and_suggests_encoding() {
        let input = file(b"a\nb\n\x81\x20\n");
        let shift_jis = parse_encoding("shift_jis").unwrap();
        let error = transcode(input.path(), "x.csv", shift_jis)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("line 3") && error.contains("--encoding"),
            "{error}"
        );
    }

    #[test]
    fn labels_are_whatwg_names_and_unknown_ones_are_refused() {
        assert_eq!(parse_encoding("latin1").unwrap(), windows_1252());
        assert_eq!(parse_encoding(" UTF-8 ").unwrap(), UTF_8);
        assert!(parse_encoding("klingon").is_err());
        assert!(parse_encoding("replacement").is_err());
    }
}
