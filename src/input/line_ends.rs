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
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

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

/// The lone carriage returns of the file (see [`LoneReturns`]); `None` when it has none,
/// found by one quick pass over it.
pub fn lone_returns(path: &Path) -> io::Result<Option<LoneReturns>> {
    if !has_lone_return(path)? {
        return Ok(None);
    }
    // Rare: the file is read again byte by byte, quotes followed.
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

/// Whether some carriage return of the file is not followed by a line feed (or ends the
/// file). Planning waits for the answer, so a large file is scanned in parts, one thread
/// each: on one thread the scan of a million-row file was a fifteenth of `plan`'s time
/// while the other core sat idle.
fn has_lone_return(path: &Path) -> io::Result<bool> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    lone_return_in_parts(&file, len, parts_for(len, threads))
}

/// How many parts a scan of `len` bytes on up to `threads` threads is cut into: one per
/// thread, none shorter than two read buffers.
fn parts_for(len: u64, threads: usize) -> usize {
    let most = len / (2 * SCAN_CHUNK as u64);
    threads.clamp(1, most.clamp(1, 64) as usize)
}

/// [`has_lone_return`] of the first `len` bytes of `file`, in `parts` parts scanned side
/// by side (this thread takes the first); all stop once one finds a lone CR.
fn lone_return_in_parts(file: &File, len: u64, parts: usize) -> io::Result<bool> {
    let found = AtomicBool::new(false);
    let part_len = len.div_ceil(parts.max(1) as u64);
    let part = |index: u64| index * part_len..((index + 1) * part_len).min(len);
    let scan = |index: u64| part_has_lone_return(file, part(index), &found);
    std::thread::scope(|scope| {
        let others: Vec<_> = (1..parts as u64)
            .map(|index| {
                std::thread::Builder::new()
                    .name("refsync-scan".into())
                    .spawn_scoped(scope, move || scan(index))
                    .map_err(|_| index)
            })
            .collect();
        let mut any = scan(0)?;
        for other in others {
            any |= match other {
                Ok(thread) => thread
                    .join()
                    .map_err(|_| io::Error::other("a scanning thread stopped unexpectedly"))??,
                // A part whose thread could not start is scanned here.
                Err(index) => scan(index)?,
            };
        }
        Ok(any)
    })
}

/// Whether a carriage return at an offset in `range` of `file` is followed by anything
/// but a line feed, or ends the file; gives up once `found` says another part found one.
fn part_has_lone_return(file: &File, range: Range<u64>, found: &AtomicBool) -> io::Result<bool> {
    let longest = (range.end - range.start).min(SCAN_CHUNK as u64) as usize;
    let mut buf = vec![0u8; longest + 1];
    let mut at = range.start;
    while at < range.end && !found.load(Ordering::Relaxed) {
        let want = (range.end - at).min(SCAN_CHUNK as u64) as usize;
        // One byte past the chunk, which judges a CR at its end.
        let read = read_at_most(file, &mut buf[..want + 1], at)?;
        if read == 0 {
            // The file is shorter than it was: what there is has been scanned.
            break;
        }
        let chunk = &buf[..read];
        let lone = memchr::memchr_iter(b'\r', &chunk[..read.min(want)])
            .any(|at| chunk.get(at + 1).is_none_or(|&next| next != b'\n'));
        if lone {
            found.store(true, Ordering::Relaxed);
            return Ok(true);
        }
        at += read.min(want) as u64;
    }
    Ok(false)
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

/// Which carriage returns a spool turns into line feeds.
pub enum Replace<'a> {
    /// Every one (a file whose lines end in a lone CR).
    Every,
    /// Those at these offsets, in order (see [`lone_returns`]).
    At(&'a [u64]),
}

/// Copies the file into a new temporary file with carriage returns replaced by line feeds
/// as `replace` says.
pub fn spool_with_line_feeds(path: &Path, replace: Replace<'_>) -> io::Result<tempfile::TempPath> {
    let mut spool = tempfile::NamedTempFile::new()?;
    let mut out = BufWriter::new(spool.as_file_mut());
    let mut start = 0u64;
    let mut next = 0usize;
    each_chunk(path, CHUNK, |chunk| {
        let read = chunk.len();
        match replace {
            Replace::Every => {
                for byte in chunk.iter_mut().filter(|byte| **byte == b'\r') {
                    *byte = b'\n';
                }
            }
            Replace::At(offsets) => {
                let end = start + read as u64;
                while let Some(&at) = offsets.get(next).filter(|&&at| at < end) {
                    chunk[(at - start) as usize] = b'\n';
                    next += 1;
                }
            }
        }
        start += read as u64;
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
        let spool = spool_with_line_feeds(&input, Replace::Every).unwrap();
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
        let spool = spool_with_line_feeds(&input, Replace::At(&found.offsets)).unwrap();
        assert_eq!(
            std::fs::read(&spool).unwrap(),
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

    #[test]
    fn a_scan_in_parts_finds_what_one_pass_finds_wherever_the_parts_are_cut() {
        let base = b"id,op\r\nA,a\r\n".repeat(7);
        // A CRLF, a lone CR and a CR at the very end, each moved over every offset, so
        // that some fall on the last byte of a part and some on the first.
        let mut texts = Vec::new();
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
            let file = File::open(&input).unwrap();
            for parts in 1..=5 {
                let found = lone_return_in_parts(&file, text.len() as u64, parts).unwrap();
                assert_eq!(found, has_lone_return_by_hand(text), "{text:?} in {parts}");
            }
        }
    }

    #[test]
    fn a_large_file_is_cut_in_parts_of_two_buffers_at_least() {
        let chunk = SCAN_CHUNK as u64;
        assert_eq!(parts_for(0, 4), 1);
        assert_eq!(parts_for(3 * chunk, 4), 1);
        assert_eq!(parts_for(4 * chunk, 4), 2);
        assert_eq!(parts_for(100 * chunk, 2), 2);
        assert_eq!(parts_for(100 * chunk, 1), 1);
    }

    #[test]
    fn a_carriage_return_at_the_end_of_a_scan_chunk_is_judged_by_the_next_byte() {
        let mut text = vec![b'a'; SCAN_CHUNK - 1];
        text.extend(b"\r\nb\n");
        assert!(!has_lone_return(&holding(&text)).unwrap());
        let len = text.len();
        text[len - 3] = b'x';
        assert!(has_lone_return(&holding(&text)).unwrap());
    }
}
