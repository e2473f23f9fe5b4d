//! Reading the TOML of a mapping file key by key, so that every mistake is listed at once.
//!
//! serde's derived `Deserialize` stops at the first unknown key or wrong value; a mapping
//! file is fixed by hand, so it is read here table by table instead: each known key is
//! deserialized on its own (its mistake is kept and reading goes on), and each unknown key
//! is a mistake of its own. Values keep the span of their *key*, which is the line a user
//! looks for ("the `empty = …` line").

use super::error::{LineIndex, Located};
use serde::de::DeserializeOwned;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

/// Where the mistakes of one mapping file are collected.
pub struct Mistakes<'a> {
    lines: &'a LineIndex,
    /// Every mistake so far, in the order found.
    pub list: Vec<Located>,
}

impl<'a> Mistakes<'a> {
    /// An empty list for a file indexed by `lines`.
    pub fn new(lines: &'a LineIndex) -> Self {
        Mistakes {
            lines,
            list: Vec::new(),
        }
    }

    /// Records a mistake at the start of `span`.
    pub fn add(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.list.push(self.lines.at(span, message));
    }
}

/// One TOML table of the mapping file, read key by key.
pub struct Table<'a, 'i> {
    entries: &'a DeTable<'i>,
    span: Range<usize>,
    /// How the table is named in messages: `[defaults]`, `[[column]]`, `the file`.
    what: &'static str,
}

impl<'a, 'i> Table<'a, 'i> {
    /// The table `value` is, or `None` (with a mistake) when it is something else.
    pub fn of(
        value: &'a Spanned<DeValue<'i>>,
        what: &'static str,
        mistakes: &mut Mistakes<'_>,
    ) -> Option<Self> {
        match value.get_ref() {
            DeValue::Table(entries) => Some(Table {
                entries,
                span: value.span(),
                what,
            }),
            other => {
                let message = format!("{what} must be a table (found {})", other.type_str());
                mistakes.add(value.span(), message);
                None
            }
        }
    }

    /// The whole document as a table.
    pub fn root(document: &'a Spanned<DeTable<'i>>) -> Self {
        Table {
            entries: document.get_ref(),
            span: document.span(),
            what: "the file",
        }
    }

    /// Where the table starts, for mistakes about the table as a whole.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The table's keys, in the file's order.
    pub fn keys(&self) -> Vec<String> {
        self.entries
            .keys()
            .map(|k| k.get_ref().to_string())
            .collect()
    }

    /// The key `key` with its raw value, where the table has it.
    pub fn raw(&self, key: &str) -> Option<(Range<usize>, &'a Spanned<DeValue<'i>>)> {
        self.entries
            .iter()
            .find(|(k, _)| k.get_ref() == key)
            .map(|(k, v)| (k.span(), v))
    }

    /// The value of `key`, spanned by its key; `None` when absent or (with a mistake) when
    /// it does not read as a `T`.
    pub fn get<T: DeserializeOwned>(
        &self,
        key: &str,
        mistakes: &mut Mistakes<'_>,
    ) -> Option<Spanned<T>> {
        let (key_span, value) = self.raw(key)?;
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(read) => Some(Spanned::new(key_span, read)),
            Err(error) => {
                let span = error.span().unwrap_or_else(|| value.span());
                let reason = error.message().trim().replace('\n', " ");
                mistakes.add(span, format!("{key}: {reason}"));
                None
            }
        }
    }

    /// Like [`Table::get`], and a mistake when the key is absent: `example` shows it.
    pub fn require<T: DeserializeOwned>(
        &self,
        key: &str,
        example: &str,
        mistakes: &mut Mistakes<'_>,
    ) -> Option<Spanned<T>> {
        if self.raw(key).is_none() {
            let message = format!("{} lacks {key}: write e.g. {example}", self.what);
            mistakes.add(self.span(), message);
            return None;
        }
        self.get(key, mistakes)
    }

    /// A mistake for every key that is not in `known`, each at its own line.
    pub fn refuse_unknown(&self, known: &[&str], mistakes: &mut Mistakes<'_>) {
        let expected = known
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        for (key, _) in self.entries.iter() {
            if !known.contains(&key.get_ref().as_ref()) {
                let message = format!(
                    "unknown key `{}` in {}; expected one of {expected}",
                    key.get_ref(),
                    self.what
                );
                mistakes.add(key.span(), message);
            }
        }
    }
}
