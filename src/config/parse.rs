//! Parsers for the contract's value syntaxes: rates (`10/s`), durations (`30s`), shares.

use crate::send::RateLimit;
use std::time::Duration;

/// Parses `--rate`: `N/s`, `N/m`, `N/h` with N a whole number ≥ 1, or `unlimited`.
pub fn rate(text: &str) -> Result<RateLimit, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("unlimited") {
        return Ok(RateLimit::Unlimited);
    }
    let usage =
        || format!("{text:?} is not a rate; write N/s, N/m or N/h (e.g. 10/s), or unlimited");
    let (count, unit) = text.split_once('/').ok_or_else(usage)?;
    let count: u64 = count.trim().parse().map_err(|_| usage())?;
    let count = u32::try_from(count).map_err(|_| {
        format!(
            "{text:?}: the rate is too large; at most {} per period, or unlimited",
            u32::MAX
        )
    })?;
    // The unit in any case, as `unlimited` is.
    let period = match unit.trim().to_ascii_lowercase().as_str() {
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        _ => return Err(usage()),
    };
    if count == 0 {
        return Err(format!("{text:?}: the rate must be at least 1 per period"));
    }
    Ok(RateLimit::Every { count, period })
}

/// Parses a duration: `500ms`, `30s`, `5m`, `2h`.
pub fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let usage = || format!("{text:?} is not a duration; write e.g. 500ms, 30s, 5m or 2h");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(usage)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| usage())?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => return Err(usage()),
    };
    if d.is_zero() {
        return Err(format!("{text:?}: the duration must be more than zero"));
    }
    Ok(d)
}

/// Parses a share between 0 and 1 (`0.05`), for the emulator's fault rates.
pub fn share(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!(
            "{text:?} is not a share between 0 and 1 (e.g. 0.05)"
        )),
    }
}

/// The emulator's `--token`: a bearer token is one non-empty run of visible characters
/// (an empty one would be no token at all, and silently leave every request unchecked).
pub fn bearer_token(text: &str) -> Result<String, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("a bearer token is one or more visible characters, without spaces".into());
    }
    Ok(text.to_string())
}

/// What an error shows in place of a secret value it refuses.
pub const MASKED: &str = "***";

/// A value parser whose refusal never shows the value as given, only as `shown` makes
/// it: clap's own error would repeat a token, or a URL's password, that it refuses.
#[derive(Clone, Copy, Debug)]
pub struct Masked {
    parse: fn(&str) -> Result<String, String>,
    shown: fn(&str) -> String,
}

/// [`bearer_token`], its refusal naming the option but never the value.
pub const BEARER_TOKEN: Masked = Masked {
    parse: bearer_token,
    shown: |_| MASKED.to_string(),
};

/// [`endpoint`], its refusal showing the URL with any user name and password, query and
/// fragment masked.
pub const ENDPOINT: Masked = Masked {
    parse: endpoint,
    shown: masked_url,
};

impl clap::builder::TypedValueParser for Masked {
    type Value = String;

    fn parse_ref(
        &self,
        command: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let text = value.to_string_lossy();
        (self.parse)(&text).map_err(|why| refusal(command, arg, &(self.shown)(&text), &why))
    }
}

/// A URL's text, parseable or not, with what may carry a secret masked: what lies between
/// `://` and the host's `@` (a user name and password), and the query and fragment (a
/// signed URL's `?sig=…`).
pub fn masked_url(text: &str) -> String {
    let (text, hidden) = match text.find(['?', '#']) {
        Some(at) => (&text[..at], format!("{}{MASKED}", &text[at..=at])),
        None => (text, String::new()),
    };
    let Some((scheme, rest)) = text.split_once("://") else {
        return format!("{text}{hidden}");
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{MASKED}{}{hidden}", &rest[at..]),
        None => format!("{text}{hidden}"),
    }
}

/// The usage error of a value that may hold a secret: `why`, the option, and the value
/// only as `shown`. Its context names both for the error's source (a variable, the file).
fn refusal(
    command: &clap::Command,
    arg: Option<&clap::Arg>,
    shown: &str,
    why: &str,
) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let option = arg.map_or_else(|| "the option".to_string(), ToString::to_string);
    let message = format!("invalid value {shown} for '{option}': {why}\n");
    let mut error = clap::Error::raw(ErrorKind::ValueValidation, message).with_cmd(command);
    error.insert(ContextKind::InvalidArg, ContextValue::String(option));
    error.insert(
        ContextKind::InvalidValue,
        ContextValue::String(shown.into()),
    );
    error
}

/// Parses a per-second rate `N/s` (the emulator's `--throttle`).
pub fn per_second(text: &str) -> Result<u32, String> {
    // `rate`'s own message offers N/m, N/h and unlimited, which a throttle is not.
    match rate(text) {
        Ok(RateLimit::Every { count, period }) if period == Duration::from_secs(1) => Ok(count),
        _ => Err(format!(
            "{text:?} is not a throttle; write N/s with N a whole number of at least 1, e.g. 200/s"
        )),
    }
}

/// An output file's path; `-` is stdout, as it is stdin for an input. Given as the path of
/// the process's stdout, it is written like any device: once, whole, when the run ends.
pub fn output_path(text: &str) -> Result<std::path::PathBuf, String> {
    match text {
        "" => Err("an empty path; give a file name, or - for stdout".into()),
        "-" => Ok("/dev/stdout".into()),
        path => Ok(path.into()),
    }
}

/// `--token-command`: a command line, which an empty one is not.
pub fn command(text: &str) -> Result<String, String> {
    match text.trim().is_empty() {
        true => Err("an empty command; give the command that prints the access token".into()),
        false => Ok(text.to_string()),
    }
}

/// The report's path ([`output_path`]): its extension names its format (`.csv`,
/// `.jsonl`, in any case), unless it is a device or stdout, which get CSV.
pub fn report_path(text: &str) -> Result<std::path::PathBuf, String> {
    let path = output_path(text)?;
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match matches!(extension.as_deref(), Some("csv" | "jsonl")) || crate::report::is_device(&path) {
        true => Ok(path),
        false => Err(
            "the report needs a file name ending in .csv or .jsonl (its format \
                      comes from its extension), or - for stdout"
                .into(),
        ),
    }
}

/// The API base URL as far as its text goes: an `http://` or `https://` URL. What is
/// refused of a URL that parses (plain http off loopback, a password) is
/// `send::check_endpoint`'s, when a run starts.
pub fn endpoint(text: &str) -> Result<String, String> {
    match reqwest::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(text.to_string()),
        Ok(_) => Err(
            "the endpoint must start with https:// (http:// only to a loopback host, such as the \
             emulator); give e.g. https://api.partner.microsoft.com/v1.0"
                .into(),
        ),
        Err(e) => Err(format!(
            "not a URL ({e}); give e.g. https://api.partner.microsoft.com/v1.0"
        )),
    }
}

/// `--max-failures`: when a run stops early.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MaxFailures {
    /// After this many `failed` documents.
    Count(u64),
    /// When this share (in percent) of at least 20 finished documents failed.
    Percent(f64),
}

/// Parses `--max-failures`: `N` (a whole number ≥ 1) or `P%` (above 0, at most 100).
pub fn max_failures(text: &str) -> Result<MaxFailures, String> {
    let text = text.trim();
    let usage = || format!("{text:?} is not N or P% (e.g. 50 or 5%)");
    if let Some(percent) = text.strip_suffix('%') {
        return match percent.trim().parse::<f64>() {
            Ok(p) if p > 0.0 && p <= 100.0 => Ok(MaxFailures::Percent(p)),
            Ok(_) => Err(format!(
                "{text:?} is out of range: a share is above 0% and at most 100%"
            )),
            _ => Err(usage()),
        };
    }
    match text.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(MaxFailures::Count(n)),
        Ok(_) => Err(format!(
            "{text:?} would stop every run before it began: give at least 1, or leave \
             --max-failures out to never stop early"
        )),
        _ => Err(usage()),
    }
}

/// Parses a one-byte CSV delimiter; `\t` and `tab` mean a tab.
pub fn delimiter(text: &str) -> Result<u8, String> {
    match text {
        "\\t" | "tab" | "\t" => Ok(b'\t'),
        "\"" | "\n" | "\r" => Err(format!(
            "{text:?} cannot be the delimiter: it is the quote character or ends a line in CSV"
        )),
        t if t.len() == 1 && t.is_ascii() => Ok(t.as_bytes()[0]),
        _ => Err(format!(
            "{text:?} is not a one-character delimiter such as , or ;"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delimiter_is_one_character_that_csv_does_not_reserve() {
        assert_eq!(delimiter(";"), Ok(b';'));
        assert_eq!(delimiter("tab"), Ok(b'\t'));
        for refused in ["\"", "\n", "\r", ";;", "é", ""] {
            assert!(delimiter(refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn a_bearer_token_is_visible_characters_only() {
        assert_eq!(bearer_token("s3cr3t"), Ok("s3cr3t".into()));
        for bad in ["", " ", "a b", "a\n"] {
            assert!(bearer_token(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rates_take_every_contract_form() {
        assert_eq!(
            rate("10/s"),
            Ok(RateLimit::Every {
                count: 10,
                period: Duration::from_secs(1)
            })
        );
        assert_eq!(
            rate("600/m"),
            Ok(RateLimit::Every {
                count: 600,
                period: Duration::from_secs(60)
            })
        );
        assert_eq!(rate("unlimited"), Ok(RateLimit::Unlimited));
        assert_eq!(rate("10/S"), rate("10/s"));
        for bad in ["10", "0/s", "1.5/s", "10/d", "x/s"] {
            assert!(rate(bad).is_err(), "{bad}");
        }
        let huge = rate("4294967296/s").expect_err("beyond u32 is refused");
        assert!(huge.contains("too large"), "{huge}");
    }

    #[test]
    fn max_failures_takes_a_count_or_a_percentage() {
        assert_eq!(max_failures("50"), Ok(MaxFailures::Count(50)));
        assert_eq!(max_failures("5%"), Ok(MaxFailures::Percent(5.0)));
        let zero = max_failures("0").expect_err("0 is refused");
        assert!(zero.contains("at least 1"), "{zero}");
        let over = max_failures("150%").expect_err("150% is refused");
        assert!(over.contains("at most 100%"), "{over}");
        for bad in ["0", "0%", "101%", "-1", "x"] {
            assert!(max_failures(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_take_every_contract_form() {
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(duration("2h"), Ok(Duration::from_secs(7200)));
        for bad in ["30", "s", "1.5s", "0s", "3d"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }
}
