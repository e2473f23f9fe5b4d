//! Mapping-file errors, each pinned to the line of the mapping file it is about.
//!
//! A mapping file is written by hand once and used for months, so a mistake in it must
//! point at its own line (toml spans give byte ranges; they are turned into lines here),
//! and every mistake is reported at once rather than one per run.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// One mistake in a mapping file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    /// The 1-based line of the mapping file it is about.
    pub line: usize,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// A mapping file that cannot be used: the run stops before anything is read or sent.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// The file could not be read.
    #[error("cannot read the mapping file {}: {source}", file.display())]
    Io {
        /// The mapping file.
        file: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is read but wrong: every mistake found, by line.
    #[error("mapping file {}: {}; see docs/mapping.md", file.display(), list(errors))]
    Invalid {
        /// The mapping file.
        file: PathBuf,
        /// Its mistakes, in line order.
        errors: Vec<Located>,
    },
}

fn list(errors: &[Located]) -> String {
    errors
        .iter()
        .map(Located::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Turns byte offsets of the mapping text into 1-based line numbers.
#[derive(Clone, Debug)]
pub struct LineIndex {
    /// Offset of the first byte of every line after the first.
    starts: Vec<usize>,
}

impl LineIndex {
    /// The index of `text`'s lines.
    pub fn new(text: &str) -> Self {
        let starts = text
            .bytes()
            .enumerate()
            .filter(|(_, b)| *b == b'\n')
            .map(|(i, _)| i + 1)
            .collect();
        LineIndex { starts }
    }

    /// The line that byte `offset` is on.
    pub fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset) + 1
    }

    /// A mistake at the start of `span`.
    pub fn at(&self, span: Range<usize>, message: impl Into<String>) -> Located {
        Located {
            line: self.line(span.start),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_one_based_lines() {
        let index = LineIndex::new("a = 1\nb = 2\n\nc = 3");
        assert_eq!(index.line(0), 1);
        assert_eq!(index.line(5), 1);
        assert_eq!(index.line(6), 2);
        assert_eq!(index.line(13), 4);
    }

    #[test]
    fn every_mistake_is_listed_with_its_line() {
        let error = MappingError::Invalid {
            file: "m.toml".into(),
            errors: vec![
                Located {
                    line: 3,
                    message: "bad".into(),
                },
                Located {
                    line: 9,
                    message: "worse".into(),
                },
            ],
        };
        let text = error.to_string();
        assert!(
            text.contains("m.toml: line 3: bad; line 9: worse"),
            "{text}"
        );
    }
}
