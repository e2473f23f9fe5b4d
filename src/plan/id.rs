//! The referral ID rule (SPEC.md "Referral IDs"): 1 to 128 characters of
//! `A-Z a-z 0-9 - _ . ~`, and not `.` or `..`.
//!
//! The rule is checked before any request is built because the ID becomes a URL path
//! segment: `..` or `/` would make `PATCH …/referrals/{id}` address another resource.
//! GUIDs are what Partner Center issues, but any well-formed ID is accepted so that test
//! tenants and emulators with other ID schemes work.

/// The longest ID accepted.
pub const MAX_ID_CHARS: usize = 128;

/// Checks `id` against the ID rule; the error says why it fails and what an ID looks like.
///
/// An empty ID is not judged here: the planner treats it as "no ID" (an ID-less row).
pub fn check_id(id: &str) -> Result<(), String> {
    if is_plain_id(id) {
        return Ok(());
    }
    // No more bytes than the limit means no more characters: only a longer ID is counted.
    let reason = if id == "." || id == ".." {
        Some(format!("{id:?} names a directory, not a referral"))
    } else if id.len() > MAX_ID_CHARS && id.chars().count() > MAX_ID_CHARS {
        Some(format!("it is {} characters long", id.chars().count()))
    } else {
        id.chars()
            .find(|c| !is_id_char(*c))
            .map(|c| format!("it contains {}", shown_char(c)))
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(format!(
            "referral ID {} is not usable: {reason}; an ID is 1 to {MAX_ID_CHARS} characters of \
             A-Z a-z 0-9 - _ . ~: copy it from the referral (Partner Center IDs are GUIDs), or, \
             for a CRM ID looked up through --mapping, fix it in the CRM",
            super::messages::clip_quoted(id)
        )),
    }
}

/// A character as a message shows it: between quotes, an apostrophe named, a blank or
/// control character escaped (`' '`, `'\t'`).
fn shown_char(c: char) -> String {
    match c {
        '\'' => "an apostrophe (')".into(),
        c if c.is_whitespace() || c.is_control() => format!("{c:?}"),
        c => format!("'{c}'"),
    }
}

/// The unreserved characters of RFC 3986: safe in a path segment without encoding.
const fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~')
}

/// Whether `id` keeps the ID rule, answered without a branch per character: a GUID's
/// digits, letters and dashes come in no order a branch predictor could learn, and the
/// character-by-character check of 100,000 new IDs was a fifth of the reading thread's
/// time while a million-row `plan` met them (`perf`). `check_id` says what is wrong.
fn is_plain_id(id: &str) -> bool {
    /// Which bytes are ID characters.
    static ID_BYTES: [bool; 256] = {
        let mut table = [false; 256];
        let mut byte = 0;
        while byte < 256 {
            table[byte] = is_id_char(byte as u8 as char);
            byte += 1;
        }
        table
    };
    let bytes = id.as_bytes();
    let all_id_bytes = bytes
        .iter()
        .fold(true, |all, &byte| all & ID_BYTES[usize::from(byte)]);
    all_id_bytes && bytes.len() <= MAX_ID_CHARS && id != "." && id != ".."
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_character_at_fault_is_shown_as_written() {
        let reason = |id: &str| check_id(id).unwrap_err();
        assert!(reason("a/b").contains("it contains '/'"));
        assert!(reason("O'Brien").contains("it contains an apostrophe (')"));
        assert!(reason("a b").contains("it contains ' '"));
        assert!(reason("a\tb").contains("it contains '\\t'"));
    }

    #[test]
    fn the_quick_check_agrees_with_the_rule_on_every_byte_and_length() {
        let by_rule = |id: &str| {
            id != "."
                && id != ".."
                && id.chars().count() <= MAX_ID_CHARS
                && id.chars().all(is_id_char)
        };
        let mut ids: Vec<String> = (0..=255u8)
            .map(|byte| format!("ab{}", byte as char))
            .collect();
        ids.extend(["a".repeat(MAX_ID_CHARS), "a".repeat(MAX_ID_CHARS + 1)]);
        ids.extend([
            "é".repeat(10),
            ".".into(),
            "..".into(),
            "...".into(),
            "a b".into(),
        ]);
        for id in &ids {
            assert_eq!(is_plain_id(id), by_rule(id), "{id:?}");
            assert_eq!(check_id(id).is_ok(), by_rule(id), "{id:?}");
        }
    }

    #[test]
    fn a_guid_is_accepted() {
        assert_eq!(check_id("0a1b2c3d-4e5f-6789-abcd-ef0123456789"), Ok(()));
    }

    #[test]
    fn a_well_formed_id_that_is_not_a_guid_is_accepted() {
        assert_eq!(check_id("lead_42.v2~x"), Ok(()));
        assert_eq!(check_id("..."), Ok(()));
    }

    #[test]
    fn path_traversal_and_slashes_are_refused() {
        assert!(check_id("../x").is_err());
        assert!(check_id("a/b").is_err());
        assert!(check_id(".").is_err());
        assert!(check_id("..").is_err());
    }

    #[test]
    fn percent_encoded_slashes_are_refused() {
        let message = check_id("%2F").unwrap_err();
        assert!(message.contains("'%'"), "{message}");
    }

    #[test]
    fn an_id_of_128_characters_is_accepted_and_129_is_refused() {
        assert_eq!(check_id(&"a".repeat(128)), Ok(()));
        let message = check_id(&"a".repeat(129)).unwrap_err();
        assert!(message.contains("129 characters"), "{message}");
    }

    #[test]
    fn spaces_and_non_ascii_letters_are_refused() {
        assert!(check_id(" abc").is_err());
        assert!(check_id("café").is_err());
    }
}
