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
//!
//! A file whose lines end otherwise but where a CR ends a line here and there is read as
//! it is ([`SourceFile`]): each chunk read is searched for a CR not followed by a line
//! feed (a `memchr` in bytes just read), and once one turns up the file is searched
//! carefully (quotes followed) and every such CR is made a line feed in the chunks as they
//! are read, in place, by every reader of the input (the rejects file's too, so its copies
//! end in line feeds); the warning comes then, once. Bytes keep their places, as in a
//! spool, so the rows read before it stay as they were, and a file without one (nearly
//! all) costs no pass of its own: a separate pass over a million-row file before planning
//! was about 5 % of `plan`'s time (side by side).

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

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

/// Carriage returns of a file with line feeds that end a line by themselves (a CR not
/// followed by a line feed, outside quoted cells), as spreadsheet programs and the `csv`
/// crate read them: where a file was edited on two systems, say. Read as they are, each
/// would glue the row after it to the row before.
#[derive(Debug, PartialEq, Eq)]
pub struct LoneReturns {
    /// Their offsets in the file.
    pub offsets: Vec<u64>,
    /// The line the first of them ends (from 1, each of them ending one).
    pub first_line: u64,
}

/// The lone carriage returns of the file (see [`LoneReturns`]), the file read byte by byte
/// with quotes followed; `None` when it has none.
pub fn lone_returns(path: &Path) -> io::Result<Option<LoneReturns>> {
    let mut offsets = Vec::new();
    let (mut line, mut first_line) = (1u64, None);
    let (mut quoted, mut pending) = (false, false);
    let mut offset = 0u64;
    for_each_chunk(path, |chunk| {
        for &byte in chunk {
            if pending && byte != b'\n' {
                offsets.push(offset - 1);
                first_line.get_or_insert(line);
                line += 1;
            }
            pending = false;
            match byte {
                b'"' => quoted = !quoted,
                b'\r' if !quoted => pending = true,
                b'\n' => line += 1,
                _ => {}
            }
            offset += 1;
        }
    })?;
    if pending {
        offsets.push(offset - 1);
        first_line.get_or_insert(line);
    }
    Ok(first_line.map(|first_line| LoneReturns {
        offsets,
        first_line,
    }))
}

/// The offsets of an input's lone carriage returns, once a reader of it has found them:
/// shared by every reader of the input and its clones, so that the file is searched and
/// the warning given once.
#[derive(Clone, Debug, Default)]
pub struct FoundReturns(Arc<OnceLock<Arc<[u64]>>>);

/// A CSV input's file as its readers read it: each lone carriage return a line feed (see
/// the module's documentation).
#[derive(Debug)]
pub struct SourceFile {
    file: File,
    /// The offset of the next byte read.
    position: u64,
    /// Whether the file may hold lone carriage returns still to be found: a CSV input
    /// not yet searched.
    check: bool,
    path: PathBuf,
    name: String,
    found: FoundReturns,
    /// The offsets to make line feeds, once known.
    offsets: Option<Arc<[u64]>>,
}

impl SourceFile {
    /// Opens `source` to be read from its start.
    pub fn open(source: &super::InputSource) -> io::Result<SourceFile> {
        let offsets = source.found_returns.0.get().cloned();
        Ok(SourceFile {
            file: File::open(&source.path)?,
            position: 0,
            check: source.format == super::Format::Csv && offsets.is_none(),
            path: source.path.clone(),
            name: source.name.clone(),
            found: source.found_returns.clone(),
            offsets,
        })
    }

    /// Whether `chunk`, read from `start`, holds a carriage return followed by anything
    /// but a line feed, or at the file's end.
    fn has_lone_return(&self, chunk: &[u8], start: u64) -> io::Result<bool> {
        for at in memchr::memchr_iter(b'\r', chunk) {
            let next = match chunk.get(at + 1) {
                Some(&next) => Some(next),
                None => {
                    let mut next = [0u8];
                    let read = read_at_most(&self.file, &mut next, start + at as u64 + 1)?;
                    (read == 1).then_some(next[0])
                }
            };
            if next != Some(b'\n') {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The offsets of the file's lone carriage returns: found by another reader, or now,
    /// saying so.
    fn find_offsets(&self) -> io::Result<Arc<[u64]>> {
        if let Some(offsets) = self.found.0.get() {
            return Ok(offsets.clone());
        }
        let lone = lone_returns(&self.path)?;
        let offsets: Arc<[u64]> = lone
            .as_ref()
            .map_or(Arc::new([]), |l| l.offsets.clone().into());
        // Another reader may have searched meanwhile: only the one that sets them warns.
        if self.found.0.set(offsets.clone()).is_ok()
            && let Some(lone) = lone
        {
            warn_of_lone_returns(&self.name, &lone);
        }
        Ok(offsets)
    }
}

impl SourceFile {
    /// Reads up to `most` bytes onto the end of `bytes`, as [`Read::read`] gives them:
    /// into the room after its end as it is, where `read` must have it zeroed first
    /// (which cost a `memset` of every block `plan` read).
    pub fn read_onto(&mut self, bytes: &mut Vec<u8>, most: usize) -> io::Result<usize> {
        let from = bytes.len();
        // Room for all of it at once: `read_to_end` would grow the vector by doubling,
        // reading a little more each time.
        bytes.reserve(most);
        let read = (&self.file).take(most as u64).read_to_end(bytes);
        let start = self.position;
        self.position += (bytes.len() - from) as u64;
        read?;
        self.make_line_feeds(&mut bytes[from..], start)?;
        Ok(bytes.len() - from)
    }

    /// Makes each lone carriage return of `chunk`, read from `start`, a line feed.
    fn make_line_feeds(&mut self, chunk: &mut [u8], start: u64) -> io::Result<()> {
        let read = chunk.len();
        if self.check && self.offsets.is_none() && self.has_lone_return(chunk, start)? {
            self.offsets = Some(self.find_offsets()?);
        }
        if let Some(offsets) = &self.offsets {
            let end = start + read as u64;
            let first = offsets.partition_point(|&at| at < start);
            for &at in offsets[first..].iter().take_while(|&&at| at < end) {
                chunk[(at - start) as usize] = b'\n';
            }
        }
        Ok(())
    }
}

impl Read for SourceFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.file.read(buf)?;
        let start = self.position;
        self.position += read as u64;
        self.make_line_feeds(&mut buf[..read], start)?;
        Ok(read)
    }
}

impl Seek for SourceFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.position = self.file.seek(to)?;
        Ok(self.position)
    }
}

/// Warns that the input `name` has lone carriage returns, which are read as line ends.
fn warn_of_lone_returns(name: &str, lone: &LoneReturns) {
    let others = match lone.offsets.len().saturating_sub(1) {
        0 => String::new(),
        1 => " (and 1 more line)".into(),
        more => format!(" (and {more} more lines)"),
    };
    tracing::warn!(
        input = name,
        "line {} of {name}{others} ends in a carriage return (CR) with no line feed after it, \
         where its other lines end otherwise: each such CR is read as a line end, as \
         spreadsheet programs read it; save the file with one kind of line end to be sure",
        lone.first_line,
    );
}

/// Reads from `offset` into `buf` until it is full or the file ends; the bytes read.
fn read_at_most(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match read_at(file, &mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

/// Calls `each` with the file's bytes, `size` at a time (less at the end), each chunk
/// its own to change; stops at `each`'s first error.
fn each_chunk(
    path: &Path,
    size: usize,
    mut each: impl FnMut(&mut [u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut input = File::open(path)?;
    let mut buf = vec![0u8; size];
    loop {
        match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(read) => each(&mut buf[..read])?,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

/// [`each_chunk`] for a scan that only reads.
fn for_each_chunk(path: &Path, mut each: impl FnMut(&[u8])) -> io::Result<()> {
    each_chunk(path, SCAN_CHUNK, |chunk| {
        each(chunk);
        Ok(())
    })
}

/// Read buffer size for the scan for lone carriage returns.
const SCAN_CHUNK: usize = 1 << 20;

/// Copies the file into a new temporary file with every carriage return made a line feed.
pub fn spool_with_line_feeds(path: &Path) -> io::Result<tempfile::TempPath> {
    let mut spool = tempfile::NamedTempFile::new()?;
    let mut out = BufWriter::new(spool.as_file_mut());
    each_chunk(path, CHUNK, |chunk| {
        for byte in chunk.iter_mut().filter(|byte| **byte == b'\r') {
            *byte = b'\n';
        }
        out.write_all(chunk)
    })?;
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

    #[test]
    fn a_lone_carriage_return_outside_quotes_is_found_with_its_line() {
        let text = b"id,op\r\nA,\"x\ry\"\r\nB,b\rC,c\r\nD,d\r";
        let input = holding(text);
        let found = lone_returns(&input).unwrap().expect("lone returns");
        let first = text.iter().rposition(|&b| b == b'b').unwrap() + 1;
        assert_eq!(found.offsets, [first as u64, text.len() as u64 - 1]);
        assert_eq!(found.first_line, 3);
        assert_eq!(
            read_through(&input, 4),
            b"id,op\r\nA,\"x\ry\"\r\nB,b\nC,c\r\nD,d\n"
        );
        for plain in [&b"id\r\nA\r\n"[..], b"id\nA\n", b"id,\"a\rb\"\n", b""] {
            let input = holding(plain);
            let found = lone_returns(&input).unwrap();
            assert!(found.is_none_or(|f| f.offsets.is_empty()), "{plain:?}");
        }
    }

    /// Whether `text` has a CR followed by anything but a line feed, or at its end.
    fn has_lone_return_by_hand(text: &[u8]) -> bool {
        (0..text.len()).any(|at| text[at] == b'\r' && text.get(at + 1) != Some(&b'\n'))
    }

    /// A CSV source reading the file at `path`.
    fn csv_source(path: &Path) -> super::super::InputSource {
        super::super::InputSource {
            name: "t.csv".into(),
            path: path.to_path_buf(),
            format: super::super::Format::Csv,
            spool: None,
            found_returns: FoundReturns::default(),
        }
    }

    /// Everything a [`SourceFile`] of the file at `path` reads, `chunk` bytes at a time.
    fn read_through(path: &Path, chunk: usize) -> Vec<u8> {
        let mut file = SourceFile::open(&csv_source(path)).unwrap();
        let (mut all, mut buf) = (Vec::new(), vec![0u8; chunk]);
        loop {
            match file.read(&mut buf).unwrap() {
                0 => return all,
                read => all.extend(&buf[..read]),
            }
        }
    }

    /// `text` with each lone CR outside quotes a line feed, byte by byte.
    fn fixed_by_hand(text: &[u8]) -> Vec<u8> {
        let mut quoted = false;
        let mut fixed = text.to_vec();
        for at in 0..text.len() {
            match text[at] {
                b'"' => quoted = !quoted,
                b'\r' if !quoted && text.get(at + 1) != Some(&b'\n') => fixed[at] = b'\n',
                _ => {}
            }
        }
        fixed
    }

    #[test]
    fn a_reader_makes_each_lone_cr_a_line_feed_wherever_its_chunks_are_cut() {
        let base = b"id,op\r\nA,a\r\n".repeat(3);
        // A CRLF, a lone CR and a CR before a letter, each moved over every offset, read in
        // chunks of 1 to 7 bytes, so that some fall on a chunk's last byte and some on the
        // first; a CR at the very end; a CR inside quotes, which stays.
        let mut texts = vec![b"id,op\r\nA,\"a\rb\"\r\nB,b\rC,c\r\n".to_vec()];
        for at in 0..base.len() {
            for insert in [&b"\r\n"[..], b"\r", b"\rx"] {
                let mut text = base.clone();
                text.splice(at..at, insert.iter().copied());
                texts.push(text);
            }
        }
        texts.push([&base[..], b"\r"].concat());
        for text in &texts {
            let input = holding(text);
            for chunk in 1..=7 {
                let read = read_through(&input, chunk);
                assert_eq!(read, fixed_by_hand(text), "{text:?} in chunks of {chunk}");
            }
        }
    }

    #[test]
    fn a_file_without_lone_returns_is_read_as_it_is_and_never_searched() {
        let text = b"id,op\r\nA,\"a\rb\"\r\n";
        assert!(
            has_lone_return_by_hand(text),
            "the CR inside quotes counts for the check"
        );
        let input = holding(b"id,op\r\nA,a\r\nB,b\n");
        let source = csv_source(&input);
        let mut file = SourceFile::open(&source).unwrap();
        let mut all = Vec::new();
        file.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"id,op\r\nA,a\r\nB,b\n");
        assert!(source.found_returns.0.get().is_none());
    }

    #[test]
    fn what_one_reader_found_every_reader_of_the_input_uses_and_seeks_keep_it() {
        let text = b"id,op\nA,a\rB,b\nC,c\r";
        let input = holding(text);
        let source = csv_source(&input);
        let mut first = SourceFile::open(&source).unwrap();
        let mut all = Vec::new();
        first.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"id,op\nA,a\nB,b\nC,c\n");
        let offsets = source.found_returns.0.get().cloned().unwrap();
        assert_eq!(&offsets[..], [9, 17]);
        // A later reader (the rejects file's, say) starts from what was found.
        let mut later = SourceFile::open(&source.clone()).unwrap();
        assert!(!later.check);
        later.seek(SeekFrom::Start(6)).unwrap();
        let mut row = [0u8; 6];
        later.read_exact(&mut row).unwrap();
        assert_eq!(&row, b"A,a\nB,");
    }
}
