//! Finding the `refsync` command lines of a documentation file: every line of a ```sh,
//! ```bash, ```console or ```shell block (continuations joined, a `$ ` prompt dropped),
//! the command of a ```crontab line, the `ExecStart=` of an ```ini (systemd) block, and
//! the `args: [...]` of a Kubernetes manifest, whose container's entrypoint is refsync.
//!
//! Within a shell line, every command between `&&`, `||`, `|` and `;` is looked at; it is
//! a refsync command when, after `NAME=value` assignments and the wrappers `exec`, `env`,
//! `flock` and `nice`, it starts with `refsync` (or a path ending in `/refsync`) or with
//! `cargo run … --`. The expected exit code comes from an `exits N` in the line's comment
//! (default 0).

use super::shell::{self, Token};

/// One refsync command line found in a doc.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocCommand {
    /// `FILE:LINE` of the line, for failure messages.
    pub source: String,
    /// The arguments after the binary.
    pub args: Vec<String>,
    /// `NAME=value` assignments before the binary.
    pub env: Vec<(String, String)>,
    /// Started with a trailing `&`: run in the background until the block ends.
    pub background: bool,
    /// The exit code the doc promises.
    pub expect: i32,
    /// Which code block of the file the line is in (background commands end with it).
    pub block: usize,
    /// Files to write (name, content) before running it: a config shown in the doc.
    pub files: Vec<(String, String)>,
}

/// What kind of code block a fence opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    Shell,
    Crontab,
    Systemd,
    Toml,
    Other,
}

fn block_kind(info: &str) -> Block {
    match info.split_whitespace().next().unwrap_or("") {
        "sh" | "bash" | "console" | "shell" => Block::Shell,
        "crontab" | "cron" => Block::Crontab,
        "ini" | "systemd" => Block::Systemd,
        "toml" => Block::Toml,
        _ => Block::Other,
    }
}

/// The refsync commands of a Markdown file; `Err` names a line that cannot be read.
pub fn from_markdown(file: &str, text: &str) -> Result<Vec<DocCommand>, String> {
    let mut reader = Reader {
        file,
        block: None,
        blocks: 0,
        pending: None,
        toml: String::new(),
        commands: Vec::new(),
    };
    for (index, raw) in text.lines().enumerate() {
        match raw.trim_start().strip_prefix("```") {
            Some(info) => reader.fence(info, index + 1),
            None => reader.content(raw, index + 1)?,
        }
    }
    Ok(reader.commands)
}

/// Walks a Markdown file line by line.
struct Reader<'a> {
    file: &'a str,
    /// The kind of the code block the walk is in, if any.
    block: Option<Block>,
    /// Code blocks opened so far.
    blocks: usize,
    /// A line continued with `\`, and the number of its first line.
    pending: Option<(String, usize)>,
    /// The text of the TOML block being read.
    toml: String,
    commands: Vec<DocCommand>,
}

impl Reader<'_> {
    /// A fence line: opens a block, or closes one (checking a config it held).
    fn fence(&mut self, info: &str, number: usize) {
        if self.block == Some(Block::Toml) {
            let source = format!("{}:{number}", self.file);
            let check = config_check(&std::mem::take(&mut self.toml));
            self.commands
                .extend(check.map(|c| c.at(&source, self.blocks)));
        }
        self.block = match self.block {
            Some(_) => None,
            None => {
                self.blocks += 1;
                Some(block_kind(info))
            }
        };
    }

    /// A line inside or outside a block.
    fn content(&mut self, raw: &str, number: usize) -> Result<(), String> {
        let Some(kind) = self.block else {
            return Ok(());
        };
        if kind == Block::Toml {
            self.toml.push_str(raw);
            self.toml.push('\n');
            return Ok(());
        }
        let (mut line, first) = self.pending.take().unwrap_or((String::new(), number));
        if let Some(start) = raw.strip_suffix('\\') {
            line.push_str(start);
            line.push(' ');
            self.pending = Some((line, first));
            return Ok(());
        }
        line.push_str(raw);
        let source = format!("{}:{first}", self.file);
        let found = match kind {
            Block::Shell => shell_line(line.trim().strip_prefix("$ ").unwrap_or(line.trim())),
            Block::Crontab => crontab_line(&line),
            Block::Systemd => systemd_line(&line),
            Block::Toml | Block::Other => Ok(vec![]),
        };
        let found = found.map_err(|e| format!("{source}: {e}"))?;
        let blocks = self.blocks;
        self.commands
            .extend(found.into_iter().map(|c| c.at(&source, blocks)));
        Ok(())
    }
}

/// `config show` of a config file shown in a doc; `None` for a column mapping.
fn config_check(toml: &str) -> Option<Found> {
    let mapping = toml.contains("[[column]]") || toml.lines().any(|l| l.starts_with("id ="));
    if mapping {
        return None;
    }
    let name = "doc-config.toml".to_string();
    let args = ["config", "show", "--config", &name]
        .map(String::from)
        .to_vec();
    Some(Found {
        files: vec![(name, toml.to_string())],
        ..Found::new(args)
    })
}

/// The text of a YAML literal block (`key: |`) that starts after line `start`.
fn literal_block(lines: &[&str], start: usize) -> String {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let key_indent = indent(lines[start]);
    let body: Vec<&str> = lines[start + 1..]
        .iter()
        .take_while(|l| l.trim().is_empty() || indent(l) > key_indent)
        .copied()
        .collect();
    let strip = body
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| indent(l))
        .min();
    let strip = strip.unwrap_or(0);
    body.iter()
        .map(|l| format!("{}\n", l.get(strip..).unwrap_or("")))
        .collect()
}

/// The refsync commands of a Kubernetes manifest: each `args: [...]` written as a
/// flow sequence of double-quoted strings (which is JSON), and a `config show` of each
/// `*.toml: |` literal block.
pub fn from_manifest(file: &str, text: &str) -> Result<Vec<DocCommand>, String> {
    let mut commands = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (index, line) in lines.iter().enumerate() {
        let source = format!("{file}:{}", index + 1);
        if line.trim_end().ends_with(".toml: |") {
            let check = config_check(&literal_block(&lines, index));
            commands.extend(check.map(|c| c.at(&source, index)));
            continue;
        }
        let Some(list) = line.trim().strip_prefix("args:") else {
            continue;
        };
        let args: Vec<String> = serde_json::from_str(list.trim())
            .map_err(|e| format!("{source}: write args as [\"…\", …] on one line: {e}"))?;
        commands.push(Found::new(args).at(&source, index));
    }
    Ok(commands)
}

/// A command found on a line, before it knows where.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Found {
    args: Vec<String>,
    env: Vec<(String, String)>,
    background: bool,
    expect: i32,
    files: Vec<(String, String)>,
}

impl Found {
    fn new(args: Vec<String>) -> Found {
        Found {
            args,
            ..Found::default()
        }
    }

    fn at(self, source: &str, block: usize) -> DocCommand {
        DocCommand {
            source: source.to_string(),
            args: self.args,
            env: self.env,
            background: self.background,
            expect: self.expect,
            block,
            files: self.files,
        }
    }
}

/// The refsync commands of one shell line.
fn shell_line(line: &str) -> Result<Vec<Found>, String> {
    let split = shell::split(line)?;
    let expect = expected_exit(split.comment.as_deref())?;
    let mut found = Vec::new();
    let mut command: Vec<Token> = Vec::new();
    for token in split
        .tokens
        .into_iter()
        .chain([Token::Separator(";".into())])
    {
        let Token::Separator(op) = &token else {
            command.push(token);
            continue;
        };
        if let Some(mut one) = refsync_command(&std::mem::take(&mut command)) {
            one.background = op == "&";
            one.expect = expect;
            found.push(one);
        }
    }
    Ok(found)
}

/// The exit code an `exits N` in a comment promises (0 without one).
fn expected_exit(comment: Option<&str>) -> Result<i32, String> {
    let Some(comment) = comment else { return Ok(0) };
    let Some((_, rest)) = comment.split_once("exits ") else {
        return Ok(0);
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .map_err(|_| format!("`exits` in {comment:?} is not followed by a number"))
}

/// The words of one command with redirections dropped, as a refsync command if it is one.
fn refsync_command(tokens: &[Token]) -> Option<Found> {
    let mut words = Vec::new();
    let mut skip_target = false;
    for token in tokens {
        match token {
            Token::Word(_) if skip_target => skip_target = false,
            Token::Word(word) => words.push(word.clone()),
            Token::Redirect { takes_target } => skip_target = *takes_target,
            Token::Separator(_) => {}
        }
    }
    let mut words = words.into_iter().peekable();
    let mut env = Vec::new();
    while let Some(assignment) = words.peek().and_then(|w| env_assignment(w)) {
        env.push(assignment);
        words.next();
    }
    let words: Vec<String> = words.collect();
    let args = after_binary(strip_wrappers(&words))?;
    Some(Found {
        args: args.to_vec(),
        env,
        ..Found::default()
    })
}

fn env_assignment(word: &str) -> Option<(String, String)> {
    let (name, value) = word.split_once('=')?;
    let is_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    is_name.then(|| (name.to_string(), value.to_string()))
}

/// Drops `exec`, `env`, `nice`, `flock [OPTIONS] LOCKFILE` and `sudo [-u USER]` in front
/// of a command.
fn strip_wrappers(mut words: &[String]) -> &[String] {
    loop {
        match words.first().map(String::as_str) {
            Some("exec" | "env" | "nice") => words = &words[1..],
            Some("flock") => {
                let options = words[1..].iter().take_while(|w| w.starts_with('-')).count();
                words = words.get(2 + options..).unwrap_or(&[]);
            }
            Some("sudo") => {
                let mut at = 1;
                while let Some(option) = words.get(at).filter(|w| w.starts_with('-')) {
                    at += if matches!(option.as_str(), "-u" | "-g") {
                        2
                    } else {
                        1
                    };
                }
                words = words.get(at..).unwrap_or(&[]);
            }
            _ => return words,
        }
    }
}

/// The arguments after `refsync` (or `…/refsync`, or `cargo run … --`).
fn after_binary(words: &[String]) -> Option<&[String]> {
    let first = words.first()?;
    if first == "refsync" || first.ends_with("/refsync") {
        return Some(&words[1..]);
    }
    if first == "cargo" && words.get(1).is_some_and(|w| w == "run") {
        let dashes = words.iter().position(|w| w == "--")?;
        return Some(&words[dashes + 1..]);
    }
    None
}

/// A crontab line: five time fields (or an `@daily`-style nickname), then a shell command;
/// `NAME=value` lines and comments are not commands.
fn crontab_line(line: &str) -> Result<Vec<Found>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') || env_assignment(line).is_some() {
        return Ok(vec![]);
    }
    let fields = if line.starts_with('@') { 1 } else { 5 };
    let mut rest = line;
    for _ in 0..fields {
        rest = rest
            .trim_start()
            .split_once(char::is_whitespace)
            .map_or("", |(_, r)| r);
    }
    shell_line(rest.trim())
}

/// A systemd unit line: `ExecStart=` (its `-@:+!` prefixes dropped) is a command; `%d`,
/// the credentials folder, is where systemd puts it, and `%%` is `%`.
fn systemd_line(line: &str) -> Result<Vec<Found>, String> {
    let Some(command) = line.trim().strip_prefix("ExecStart=") else {
        return Ok(vec![]);
    };
    let command = command.trim_start_matches(['-', '@', ':', '+', '!']);
    let command = command
        .replace("%%", "\u{0}")
        .replace("%d", "/run/credentials/refsync.service")
        .replace('\u{0}', "%");
    shell_line(&command)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(found: &DocCommand) -> String {
        found.args.join(" ")
    }

    #[test]
    fn shell_blocks_give_their_refsync_commands_with_continuations_and_env() {
        let doc = "text\n```sh\n$ PARTNER_CENTER_TOKEN=x refsync sync a.csv \\\n    --rate 5/s   # exits 4\ncargo run --release -- plan a.csv\nls -l\nrefsync emulator --listen 127.0.0.1:0 &\n```\n";
        let found = from_markdown("d.md", doc).expect("reads");
        assert_eq!(found.len(), 3);
        assert_eq!(args(&found[0]), "sync a.csv --rate 5/s");
        assert_eq!(found[0].env, [("PARTNER_CENTER_TOKEN".into(), "x".into())]);
        assert_eq!((found[0].expect, found[0].source.as_str()), (4, "d.md:3"));
        assert_eq!(args(&found[1]), "plan a.csv");
        assert!(found[2].background && !found[1].background);
    }

    #[test]
    fn other_blocks_and_prose_are_not_commands() {
        let doc =
            "refsync sync a.csv\n```json\n{\"refsync\": 1}\n```\n```\nrefsync sync b.csv\n```\n";
        assert_eq!(from_markdown("d.md", doc).expect("reads"), vec![]);
    }

    #[test]
    fn cron_and_systemd_lines_give_the_command_they_run() {
        let doc = "```crontab\nMAILTO=ops@x.com\n15 2 * * * cd /srv && flock -n /run/lock/r.lock refsync sync a.csv >> log 2>&1\n```\n```ini\n[Service]\nExecStart=/usr/local/bin/refsync sync a.csv --config %d/r.toml --max-failures 5%%\n```\n```sh\nsudo -u refsync refsync runs\n```\n";
        let found = from_markdown("d.md", doc).expect("reads");
        assert_eq!(found.len(), 3);
        assert_eq!(args(&found[0]), "sync a.csv");
        assert_eq!(
            args(&found[1]),
            "sync a.csv --config /run/credentials/refsync.service/r.toml --max-failures 5%"
        );
        assert_eq!(args(&found[2]), "runs");
    }

    #[test]
    fn manifest_args_are_read_as_a_list_and_its_config_is_checked() {
        let yaml = "data:\n  r.toml: |\n    rate = \"5/s\"\n\n    [auth]\n  other: x\nspec:\n  args: [\"sync\", \"/in/a.csv\", \"--log-format\", \"json\"]\n";
        let found = from_manifest("k.yaml", yaml).expect("reads");
        assert_eq!(args(&found[0]), "config show --config doc-config.toml");
        assert_eq!(found[0].files[0].1, "rate = \"5/s\"\n\n[auth]\n");
        assert_eq!(args(&found[1]), "sync /in/a.csv --log-format json");
    }

    #[test]
    fn a_config_block_is_checked_and_a_mapping_block_is_not() {
        let doc = "```toml\nrate = \"5/s\"\n```\n```toml\nid = \"ID\"\n[[column]]\n```\n";
        let found = from_markdown("d.md", doc).expect("reads");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].files[0].1, "rate = \"5/s\"\n");
    }
}
