//! The emulator's starting referrals: the built-in sample, a JSONL file, or generated.

use std::collections::HashSet;

use serde_json::Value;

use super::{EmulatorError, Seed, generate};

/// The sample referrals built into the binary, so `sync --emulator` works from anywhere.
pub const SAMPLE: &str = include_str!("../../samples/referrals.jsonl");

/// How the built-in sample is named in errors.
const SAMPLE_NAME: &str = "samples/referrals.jsonl (built in)";

/// The referrals `seed` describes; `fault_seed` varies generated IDs.
pub fn load(seed: &Seed, fault_seed: u64) -> Result<Vec<Value>, EmulatorError> {
    match seed {
        Seed::Sample => parse(SAMPLE_NAME, SAMPLE),
        Seed::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| EmulatorError::SeedRead {
                path: path.clone(),
                source,
            })?;
            parse(&path.display().to_string(), &text)
        }
        Seed::Generate(n) => Ok(generate::referrals(*n, fault_seed)),
    }
}

/// Parses JSONL referrals: one object per line with a distinct string `id`; blank lines
/// and a UTF-8 byte-order mark are skipped. `file` names the source in errors.
pub fn parse(file: &str, text: &str) -> Result<Vec<Value>, EmulatorError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut seen = HashSet::new();
    let mut referrals = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| EmulatorError::SeedLine {
            file: file.to_string(),
            line: index + 1,
            reason,
        };
        let referral = parse_line(line).map_err(bad)?;
        let id = referral["id"].as_str().unwrap_or_default().to_string();
        if !seen.insert(id.clone()) {
            return Err(bad(format!("referral {id:?} appears twice")));
        }
        referrals.push(referral);
    }
    Ok(referrals)
}

fn parse_line(line: &str) -> Result<Value, String> {
    let value: Value =
        serde_json::from_str(line).map_err(|e| format!("not a JSON referral: {e}"))?;
    if !value.is_object() {
        return Err("a referral must be a JSON object".into());
    }
    match value.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => {}
        _ => return Err("a referral needs a non-empty string \"id\"".into()),
    }
    for field in ["status", "substatus", "eTag"] {
        if value.get(field).is_some_and(|v| !v.is_string()) {
            return Err(format!("\"{field}\" must be a string"));
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::transitions::pair_allowed;

    #[test]
    fn the_built_in_sample_is_thirty_valid_referrals() {
        let referrals = parse(SAMPLE_NAME, SAMPLE).unwrap();
        assert_eq!(referrals.len(), 30);
        for r in &referrals {
            let (status, sub) = (
                r["status"].as_str().unwrap(),
                r["substatus"].as_str().unwrap(),
            );
            assert!(pair_allowed(status, sub), "{status}/{sub}");
            assert!(r["eTag"].as_str().unwrap().starts_with('"'));
        }
    }

    #[test]
    fn a_bad_line_is_named_with_its_file_and_line() {
        let error = parse("seed.jsonl", "{\"id\":\"a\"}\n\n[1]\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "seed file seed.jsonl, line 3: a referral must be a JSON object"
        );
    }

    #[test]
    fn duplicate_and_missing_ids_are_refused() {
        assert!(parse("f", "{\"id\":\"a\"}\n{\"id\":\"a\"}").is_err());
        assert!(parse("f", "{\"name\":\"x\"}").is_err());
        assert!(parse("f", "{\"id\":\"a\",\"status\":1}").is_err());
    }

    #[test]
    fn a_missing_seed_file_is_an_error_naming_it() {
        let error = load(&Seed::File("/nonexistent/seed.jsonl".into()), 0).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/seed.jsonl"));
    }
}
