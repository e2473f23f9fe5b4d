//! Opening inputs before anything is read: every file is checked to be readable, and stdin
//! and streams given by path (a pipe such as `<(command)`) are spooled to a temporary file,
//! so that an unreadable input stops the run before anything is sent, and offsets and
//! spans work the same for every input.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;

use super::encoding::transcode;
use super::format::{file_format, format_from_extension, stdin_format};
use super::{Format, InputError, InputSource, ReadOptions, line_ends};

/// The name that stands for stdin on the command line.
pub const STDIN_NAME: &str = "-";

/// Opens every input (spooling stdin `-` to a temporary file) and tells each one's format.
///
/// Fails on the first input that cannot be opened, is a directory, or whose format cannot
/// be told, so that the run stops before anything is sent.
pub fn open_inputs(
    names: &[String],
    options: &ReadOptions,
) -> Result<Vec<InputSource>, InputError> {
    names.iter().map(|name| open_input(name, options)).collect()
}

/// Opens one input as given on the command line.
fn open_input(name: &str, options: &ReadOptions) -> Result<InputSource, InputError> {
    let source = if name == STDIN_NAME {
        let stdin = io::stdin().lock();
        spool(stdin, options).map_err(|source| io_error(name, source))?
    } else {
        let file = File::open(name).map_err(|source| io_error(name, source))?;
        if !is_regular(&file).map_err(|source| io_error(name, source))? {
            return as_read(spool_stream(name, file, options)?, options);
        }
        InputSource {
            name: name.to_string(),
            path: PathBuf::from(name),
            format: file_format(name, options.format)?,
            spool: None,
            found_returns: Default::default(),
        }
    };
    as_read(source, options)
}

/// A stream given by path, such as a shell's `<(command)`, spooled like stdin: it can be
/// read only once, and a run reads its inputs more than once (each planning thread, then
/// the rejects). Its extension, if any, says its format; else its first byte does.
fn spool_stream(name: &str, file: File, options: &ReadOptions) -> Result<InputSource, InputError> {
    let spooled = spool(file, options).map_err(|source| io_error(name, source))?;
    Ok(InputSource {
        name: name.to_string(),
        format: format_from_extension(std::path::Path::new(name)).unwrap_or(spooled.format),
        ..spooled
    })
}

/// The source as UTF-8 with its lines ending in line feeds: under `--encoding`, its text
/// transcoded into a spool file that takes the place of the original, and a CSV file whose
/// lines end in a lone CR read through a copy in which each is a line feed (line numbers
/// stay the original's either way).
fn as_read(source: InputSource, options: &ReadOptions) -> Result<InputSource, InputError> {
    warn_if_empty(&source);
    let source = match transcode(&source.path, &source.name, options.encoding)? {
        None => source,
        Some(spool) => spooled_as(source, spool),
    };
    if source.format != Format::Csv {
        return Ok(source);
    }
    let io = |error| io_error(&source.name, error);
    if line_ends::ends_lines_with_cr(&source.path).map_err(io)? {
        tracing::info!(
            input = source.name.as_str(),
            "the input's lines end in a lone carriage return (CR, as classic Mac files do): \
             each is read as a line end"
        );
        let spool = line_ends::spool_with_line_feeds(&source.path).map_err(io)?;
        return Ok(spooled_as(source, spool));
    }
    // A CR ending a line here and there is found, and read as a line end, as the file is
    // read (`line_ends::SourceFile`).
    Ok(source)
}

/// An input of no bytes at all (a CRM export that failed, say) plans nothing without
/// any error of its own: a nightly run says so rather than pass quietly.
fn warn_if_empty(source: &InputSource) {
    if std::fs::metadata(&source.path).is_ok_and(|meta| meta.len() == 0) {
        tracing::warn!(
            input = source.name.as_str(),
            "{} is empty: no header and no rows; is it the file you meant?",
            source.name
        );
    }
}

/// `source` read from `spool` instead, which lives as long as the source does.
fn spooled_as(source: InputSource, spool: tempfile::TempPath) -> InputSource {
    InputSource {
        path: spool.to_path_buf(),
        spool: Some(Arc::new(spool)),
        ..source
    }
}

/// Whether an opened input is a regular file (false for a stream such as a pipe, which
/// must be spooled); a directory opens on Unix but cannot be read, so it is refused here
/// rather than on its first read.
fn is_regular(file: &File) -> io::Result<bool> {
    let kind = file.metadata()?.file_type();
    if kind.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "it is a directory",
        ));
    }
    Ok(kind.is_file())
}

/// Copies `input` (stdin) into a temporary file kept alive by the returned source, and
/// tells its format from `--format` or its first byte.
fn spool(mut input: impl Read, options: &ReadOptions) -> io::Result<InputSource> {
    let mut spool = tempfile::NamedTempFile::new()?;
    io::copy(&mut input, spool.as_file_mut())?;
    let path = spool.into_temp_path();
    let format = stdin_format(&read_head(&path)?, options.format);
    Ok(InputSource {
        name: STDIN_NAME.to_string(),
        path: path.to_path_buf(),
        format,
        spool: Some(Arc::new(path)),
        found_returns: Default::default(),
    })
}

/// The first few bytes of a file: enough for a BOM and the byte after it.
fn read_head(path: &std::path::Path) -> io::Result<Vec<u8>> {
    // Enough to see past blank lines and indentation before the first `{`.
    let mut head = Vec::with_capacity(4096);
    File::open(path)?.take(4096).read_to_end(&mut head)?;
    Ok(head)
}

/// Wraps an I/O failure with the input's name as given.
pub(crate) fn io_error(name: &str, source: io::Error) -> InputError {
    InputError::Io {
        name: name.to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Format;

    fn names(paths: &[&std::path::Path]) -> Vec<String> {
        paths.iter().map(|p| p.display().to_string()).collect()
    }

    #[test]
    fn files_open_with_the_format_of_their_extension() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("a.csv");
        let jsonl = dir.path().join("b.ndjson");
        std::fs::write(&csv, "id,op,path,value\n").unwrap();
        std::fs::write(&jsonl, "").unwrap();
        let sources = open_inputs(&names(&[&csv, &jsonl]), &ReadOptions::default()).unwrap();
        assert_eq!(sources[0].format, Format::Csv);
        assert_eq!(sources[1].format, Format::Jsonl);
        assert!(sources[0].spool.is_none());
    }

    #[test]
    fn a_missing_file_is_an_io_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.csv");
        let err = open_inputs(&names(&[&missing]), &ReadOptions::default()).unwrap_err();
        assert!(matches!(&err, InputError::Io { name, .. } if name.ends_with("missing.csv")));
    }

    #[test]
    fn a_directory_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("inputs.csv");
        std::fs::create_dir(&sub).unwrap();
        let err = open_inputs(&names(&[&sub]), &ReadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("directory"), "{err}");
    }

    #[test]
    fn stdin_is_spooled_to_a_file_that_lives_as_long_as_the_source() {
        let source = spool(&b"{\"id\":\"A\"}\n"[..], &ReadOptions::default()).unwrap();
        assert_eq!((source.name.as_str(), source.format), ("-", Format::Jsonl));
        assert_eq!(std::fs::read(&source.path).unwrap(), b"{\"id\":\"A\"}\n");
        let path = source.path.clone();
        drop(source);
        assert!(!path.exists());
    }

    #[test]
    fn a_pipe_given_by_path_is_spooled_and_its_format_told_from_its_first_byte() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("updates");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::write(fifo, "{\"id\":\"A\"}\n").unwrap())
        };
        let sources = open_inputs(&names(&[&fifo]), &ReadOptions::default()).unwrap();
        writer.join().unwrap();
        assert_eq!(sources[0].name, fifo.display().to_string());
        assert_eq!(sources[0].format, Format::Jsonl);
        assert!(sources[0].spool.is_some());
        assert_eq!(
            std::fs::read(&sources[0].path).unwrap(),
            b"{\"id\":\"A\"}\n"
        );
    }

    #[test]
    fn spooled_stdin_follows_the_format_flag_over_its_first_byte() {
        let options = ReadOptions {
            format: Some(Format::Csv),
            ..ReadOptions::default()
        };
        assert_eq!(spool(&b"{"[..], &options).unwrap().format, Format::Csv);
        let csv = spool(&b"id,op"[..], &ReadOptions::default()).unwrap();
        assert_eq!(csv.format, Format::Csv);
    }

    #[test]
    fn a_missing_file_is_an_io_error_even_when_its_format_is_unknown() {
        let err = open_inputs(
            &["/nonexistent/refsync.txt".into()],
            &ReadOptions::default(),
        );
        assert!(matches!(err, Err(InputError::Io { .. })));
    }

    #[test]
    fn a_windows_1252_file_is_read_from_a_utf8_spool() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("crm.csv");
        std::fs::write(&csv, b"Name\nCaf\xe9\n").unwrap();
        let options = ReadOptions {
            encoding: encoding_rs::WINDOWS_1252,
            ..ReadOptions::default()
        };
        let sources = open_inputs(&names(&[&csv]), &options).unwrap();
        assert!(sources[0].spool.is_some());
        assert_eq!(sources[0].format, Format::Csv);
        assert_eq!(
            std::fs::read_to_string(&sources[0].path).unwrap(),
            "Name\nCafé\n"
        );
    }

    #[test]
    fn an_unknown_extension_without_format_flag_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let txt = dir.path().join("a.txt");
        std::fs::write(&txt, "").unwrap();
        let err = open_inputs(&names(&[&txt]), &ReadOptions::default()).unwrap_err();
        assert!(matches!(err, InputError::UnknownFormat { .. }));
    }
}
