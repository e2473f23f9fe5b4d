//! Just enough of POSIX shell syntax to read the command lines of the docs: words with
//! single and double quotes and backslash escapes, `#` comments, and the operators that
//! separate commands (`&&`, `||`, `|`, `;`, `&`) or redirect them (`>`, `>>`, `<`, `2>&1`).

/// One token of a shell line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// A word, quotes removed.
    Word(String),
    /// `&&`, `||`, `|`, `;` or `&`: the end of one command.
    Separator(String),
    /// A redirection; `takes_target` when the next word is its file (`> out`, not `2>&1`).
    Redirect { takes_target: bool },
}

/// A line split into tokens, and its trailing comment (without the `#`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Line {
    /// The tokens before the comment.
    pub tokens: Vec<Token>,
    /// The text after an unquoted `#`, trimmed.
    pub comment: Option<String>,
}

/// Splits one logical line (continuations already joined) into tokens.
pub fn split(text: &str) -> Result<Line, String> {
    let mut lexer = Lexer {
        chars: text.chars().collect(),
        at: 0,
        line: Line::default(),
        word: None,
    };
    lexer.run()?;
    Ok(lexer.line)
}

struct Lexer {
    chars: Vec<char>,
    at: usize,
    line: Line,
    /// The word being read; `Some("")` after `''`, so an empty quoted word is kept.
    word: Option<String>,
}

impl Lexer {
    fn run(&mut self) -> Result<(), String> {
        while let Some(c) = self.next() {
            match c {
                ' ' | '\t' => self.end_word(),
                '#' if self.word.is_none() => {
                    let rest: String = self.chars[self.at..].iter().collect();
                    self.line.comment = Some(rest.trim().to_string());
                    return Ok(());
                }
                '\'' => self.quoted('\'')?,
                '"' => self.quoted('"')?,
                '\\' => {
                    let escaped = self.next().ok_or("a line ends in a lone backslash")?;
                    self.push(escaped);
                }
                '&' | '|' | ';' => self.separator(c),
                '>' | '<' => self.redirect(c),
                _ => self.push(c),
            }
        }
        self.end_word();
        Ok(())
    }

    fn next(&mut self) -> Option<char> {
        let c = self.chars.get(self.at).copied();
        self.at += 1;
        c
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn push(&mut self, c: char) {
        self.word.get_or_insert_with(String::new).push(c);
    }

    fn end_word(&mut self) {
        if let Some(word) = self.word.take() {
            self.line.tokens.push(Token::Word(word));
        }
    }

    fn quoted(&mut self, quote: char) -> Result<(), String> {
        self.word.get_or_insert_with(String::new);
        loop {
            match self.next() {
                None => return Err(format!("an unclosed {quote} quote")),
                Some(c) if c == quote => return Ok(()),
                Some('\\') if quote == '"' && matches!(self.peek(), Some('"' | '\\' | '$')) => {
                    let escaped = self.next().unwrap_or('\\');
                    self.push(escaped);
                }
                Some(c) => self.push(c),
            }
        }
    }

    fn separator(&mut self, c: char) {
        self.end_word();
        let mut op = c.to_string();
        if c != ';' && self.peek() == Some(c) {
            self.at += 1;
            op.push(c);
        } else if c == '&' && self.peek() == Some('>') {
            // `&> file`: both streams to a file.
            self.at += 1;
            self.line
                .tokens
                .push(Token::Redirect { takes_target: true });
            return;
        }
        self.line.tokens.push(Token::Separator(op));
    }

    fn redirect(&mut self, c: char) {
        // A file-descriptor number right before `>` belongs to the operator (`2>`).
        if self
            .word
            .as_deref()
            .is_some_and(|w| !w.is_empty() && w.chars().all(|d| d.is_ascii_digit()))
        {
            self.word = None;
        }
        self.end_word();
        if self.peek() == Some(c) {
            self.at += 1;
        }
        let duplicates = self.peek() == Some('&');
        if duplicates {
            self.at += 1;
            while self.peek().is_some_and(|d| d.is_ascii_digit() || d == '-') {
                self.at += 1;
            }
        }
        self.line.tokens.push(Token::Redirect {
            takes_target: !duplicates,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        split(text)
            .expect("splits")
            .tokens
            .into_iter()
            .filter_map(|t| match t {
                Token::Word(w) => Some(w),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn quotes_and_escapes_are_removed_from_words() {
        assert_eq!(
            words(r#"refsync sync a.csv --delimiter ';' --token-command "cat \"t\"" x\ y"#),
            [
                "refsync",
                "sync",
                "a.csv",
                "--delimiter",
                ";",
                "--token-command",
                "cat \"t\"",
                "x y"
            ]
        );
    }

    #[test]
    fn a_comment_is_kept_apart_and_a_hash_inside_a_word_is_not_one() {
        let line = split("refsync man a#b # exits 4").expect("splits");
        assert_eq!(line.comment.as_deref(), Some("exits 4"));
        assert_eq!(line.tokens.len(), 3);
    }

    #[test]
    fn redirections_and_separators_become_operators() {
        let line = split("a 2>&1 > out && b | c &").expect("splits");
        assert_eq!(
            line.tokens,
            vec![
                Token::Word("a".into()),
                Token::Redirect {
                    takes_target: false
                },
                Token::Redirect { takes_target: true },
                Token::Word("out".into()),
                Token::Separator("&&".into()),
                Token::Word("b".into()),
                Token::Separator("|".into()),
                Token::Word("c".into()),
                Token::Separator("&".into()),
            ]
        );
    }
}
