//! CSV files whose lines end in a lone carriage return, as Excel for Mac's "CSV
//! (Macintosh)" and other classic Mac tools write them: read as if each CR were a line
//! feed, through a spool file in which it is one.
//!
//! The readers split lines at line feeds, so such a file would read as one long header
//! line and none of its rows would be planned, with nothing but a warning to say so.
//! Replacing each CR by an LF keeps every byte where it was: line numbers are the lines an
//! editor shows (one per CR), and spans into the spool are spans into the original. A
//! line break inside a quoted cell becomes a line feed too, and the rejects file, copied
//! from the spool, ends its lines with line feeds.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

/// How much of a file is looked at to tell its line ends.
const HEAD: u64 = 64 * 1024;

/// Read and write buffer size for the copy.
const CHUNK: usize = 64 * 1024;

/// Whether the file's lines end in a lone CR: its first [`HEAD`] bytes hold a CR and no
/// line feed.
pub fn ends_lines_with_cr(path: &Path) -> io::Result<bool> {
    let mut head = Vec::new();
    File::open(path)?.take(HEAD).read_to_end(&mut head)?;
    Ok(memchr::memchr(b'\r', &head).is_some() && memchr::memchr(b'\n', &head).is_none())
}

/// Copies the file into a new temporary file with every CR replaced by a line feed.
pub fn spool_with_line_feeds(path: &Path) -> io::Result<tempfile::TempPath> {
    let mut spool = tempfile::NamedTempFile::new()?;
    let mut input = File::open(path)?;
    let mut out = BufWriter::new(spool.as_file_mut());
    let mut buf = vec![0u8; CHUNK];
    loop {
        let read = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        let chunk = &mut buf[..read];
        for byte in chunk.iter_mut().filter(|byte| **byte == b'\r') {
            *byte = b'\n';
        }
        out.write_all(chunk)?;
    }
    out.flush()?;
    drop(out);
    Ok(spool.into_temp_path())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary file holding `bytes`.
    fn holding(bytes: &[u8]) -> tempfile::TempPath {
        let path = tempfile::NamedTempFile::new().unwrap().into_temp_path();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn only_a_file_with_carriage_returns_and_no_line_feed_ends_its_lines_with_cr() {
        let cases: [(&[u8], bool); 5] = [
            (b"id,op\rA,replace\r", true),
            (b"id,op\r\nA,replace\r\n", false),
            (b"id,op\nA,replace\n", false),
            (b"id,op", false),
            (b"", false),
        ];
        for (text, cr) in cases {
            let input = holding(text);
            assert_eq!(ends_lines_with_cr(&input).unwrap(), cr, "{text:?}");
        }
    }

    #[test]
    fn every_carriage_return_becomes_a_line_feed_and_nothing_else_moves() {
        let mut text = b"id,op,path,value\rA,replace,/details/notes,\"two\rlines\"\r".to_vec();
        // Past one buffer, so the copy is checked across its chunks.
        text.extend(b"B,replace,/name,x\r".repeat(CHUNK / 10));
        let input = holding(&text);
        let spool = spool_with_line_feeds(&input).unwrap();
        let copied = std::fs::read(&spool).unwrap();
        let expected: Vec<u8> = text
            .iter()
            .map(|&b| if b == b'\r' { b'\n' } else { b })
            .collect();
        assert_eq!(copied, expected);
    }
}
