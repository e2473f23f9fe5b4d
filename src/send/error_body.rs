//! Reading an error answer into the report's `error_code` and `error_message`.
//!
//! The API's error body shape is unverified (API.md "Responses"), so several shapes are
//! tried in turn and the raw text is the last resort; what is kept is capped so a proxy's
//! HTML error page cannot swamp a report cell.

use serde_json::Value;

/// The most characters of an error message kept for the report.
pub const MESSAGE_CAP: usize = 500;

/// An error answer, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The API's own code, else `http_<status>`.
    pub code: String,
    /// The API's message, else the body's text, else the status's reason; capped.
    pub message: String,
}

/// Reads an error answer's code and message.
pub fn parse(status: u16, body: &[u8]) -> ApiError {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let field = |keys: &[&[&str]]| json.as_ref().and_then(|j| first_text(j, keys));
    let code = field(&[&["code"], &["errorName"], &["error", "code"]])
        .unwrap_or_else(|| format!("http_{status}"));
    let message = field(&[&["message"], &["description"], &["error", "message"]])
        .or_else(|| raw_text(body))
        .unwrap_or_else(|| reason(status));
    ApiError {
        code: printable(&code),
        message: cap(&printable(&message)),
    }
}

/// `text` with each control character (an escape sequence's ESC, a NUL, a line break) as
/// a space: the server's text goes into report cells and logs, which a terminal shows.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The first of `paths` that leads to a non-empty string (or a number, for codes).
fn first_text(json: &Value, paths: &[&[&str]]) -> Option<String> {
    paths.iter().find_map(|path| {
        let value = path.iter().try_fold(json, |node, key| node.get(key))?;
        match value {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    })
}

fn raw_text(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

/// `"<status> <reason>"`, for an answer with no body worth quoting.
pub fn reason(status: u16) -> String {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    format!("{status} {reason}").trim_end().to_string()
}

/// Cuts `text` to [`MESSAGE_CAP`] characters, marking the cut.
pub fn cap(text: &str) -> String {
    match text.char_indices().nth(MESSAGE_CAP) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_of_the_server_become_spaces() {
        let error = parse(
            400,
            b"{\"code\":\"bad\\u0007\",\"message\":\"red \\u001b[31m\\u0000 text\"}",
        );
        assert_eq!(error.code, "bad ");
        assert_eq!(error.message, "red  [31m  text");
        let raw = parse(500, b"plain \x1b[2J text");
        assert_eq!(raw.message, "plain  [2J text");
    }

    #[test]
    fn code_and_message_come_from_the_emulators_shape() {
        let error = parse(
            400,
            br#"{"code":"invalid_transition","message":"Closed cannot move"}"#,
        );
        assert_eq!(error.code, "invalid_transition");
        assert_eq!(error.message, "Closed cannot move");
    }

    #[test]
    fn other_documented_shapes_are_read_too() {
        let named = parse(
            400,
            br#"{"errorName":"BadValue","description":"dealValue"}"#,
        );
        assert_eq!(
            (named.code.as_str(), named.message.as_str()),
            ("BadValue", "dealValue")
        );
        let nested = parse(409, br#"{"error":{"code":"Conflict","message":"busy"}}"#);
        assert_eq!(
            (nested.code.as_str(), nested.message.as_str()),
            ("Conflict", "busy")
        );
        let numeric = parse(400, br#"{"code":600012,"message":"m"}"#);
        assert_eq!(numeric.code, "600012");
    }

    #[test]
    fn a_body_without_a_code_gives_http_status_and_its_raw_text() {
        let error = parse(404, b"<html>\n  no such\treferral </html>");
        assert_eq!(error.code, "http_404");
        assert_eq!(error.message, "<html> no such referral </html>");
        assert_eq!(parse(403, b"").message, "403 Forbidden");
    }

    #[test]
    fn a_long_message_is_capped() {
        let body = "é".repeat(2000);
        let error = parse(500, body.as_bytes());
        assert_eq!(error.message.chars().count(), MESSAGE_CAP + 1);
    }
}
