//! Whether an object's JSON text, as a CSV cell gives it, is already the text a plan
//! would send: the common form of a `/team/-` Member, written by an export as one compact
//! line. Such a cell need not be read into a `serde_json::Value` and written again; that
//! round trip cost about 5,000 instructions per Member row, 8 % of a `plan` of the
//! benchmark's file (callgrind), for one row in fifteen.

use super::value::is_blank;
use super::{Node, Object, Scalar};

/// Whether `text` is `{"name":"value",…}` with no space, every member one of `object`'s
/// string members, the names in byte order and none twice, no string with an escape or a
/// control character, and every member `object` requires there and not blank: then
/// parsing it, checking it and writing it as compact JSON (members in name order) gives
/// `text` itself. Anything else says `false` and takes that long way, which also says
/// what is wrong.
pub fn is_compact_string_object(object: &Object, text: &str) -> bool {
    let Some(mut rest) = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) else {
        return false;
    };
    let mut required = 0;
    let mut previous: Option<&str> = None;
    while !rest.is_empty() {
        let Some((name, after)) = plain_string(rest) else {
            return false;
        };
        let in_order = previous.is_none_or(|previous| previous < name);
        let a_string = matches!(object.field(name), Some(Node::Scalar(Scalar::String)));
        if !in_order || !a_string {
            return false;
        }
        let Some((value, after)) = after.strip_prefix(':').and_then(plain_string) else {
            return false;
        };
        if object.required.contains(&name) {
            if is_blank(value) {
                return false;
            }
            required += 1;
        }
        previous = Some(name);
        rest = match after.strip_prefix(',') {
            Some(next) if !next.is_empty() => next,
            Some(_) => return false,
            None if after.is_empty() => after,
            None => return false,
        };
    }
    required == object.required.len()
}

/// The JSON string at the start of `text` when it has no escape and no control character:
/// its contents, and the text after its closing quote.
fn plain_string(text: &str) -> Option<(&str, &str)> {
    let body = text.strip_prefix('"')?;
    let end = memchr::memchr(b'"', body.as_bytes())?;
    let contents = body.get(..end)?;
    if contents.bytes().any(|byte| byte == b'\\' || byte < 0x20) {
        return None;
    }
    Some((contents, body.get(end + 1..)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{from_text, resolve};

    fn member() -> &'static Object {
        match resolve("/team/-").map(|resolved| resolved.node) {
            Ok(Node::Object(object)) => object,
            other => panic!("/team/- is not an object: {other:?}"),
        }
    }

    /// What the long way writes for `text`, when it takes it.
    fn written(text: &str) -> Option<String> {
        let node = resolve("/team/-").ok()?.node;
        from_text(node, text).ok().map(|value| value.to_string())
    }

    #[test]
    fn an_exported_member_is_sent_as_it_stands() {
        for text in [
            r#"{"email":"a@b.c","firstName":"Alex","lastName":"Wilber"}"#,
            r#"{"email":"a@b.c"}"#,
            r#"{"email":"zoë@b.c","phoneNumber":"+1 555 0100"}"#,
            r#"{"email":"a@b.c","firstName":""}"#,
        ] {
            assert!(is_compact_string_object(member(), text), "{text}");
            assert_eq!(written(text).as_deref(), Some(text));
        }
    }

    #[test]
    fn any_other_form_takes_the_long_way() {
        for text in [
            r#"{"firstName":"Alex","email":"a@b.c"}"#,
            r#"{"email":"a@b.c", "firstName":"Alex"}"#,
            r#"{"email":"a@b.c","email":"d@e.f"}"#,
            r#"{"email":"a\"b@c.d"}"#,
            r#"{"email":"a@b.c","firstName":"A\u00e9"}"#,
            r#"{"email":" "}"#,
            r#"{"firstName":"Alex"}"#,
            r#"{"email":"a@b.c","age":"3"}"#,
            r#"{"contactPreference":{},"email":"a@b.c"}"#,
            r#"{"email":"a@b.c",}"#,
            r#"{"email":"a@b.c""#,
            r#"{"email":"a@b.c"}}"#,
            r#"{"email":5}"#,
            "{\"email\":\"a\tb\"}",
            "{}",
            "",
        ] {
            assert!(!is_compact_string_object(member(), text), "{text}");
        }
    }

    proptest::proptest! {
        /// Whatever members, order, spacing and strings a cell has: when it is sent as it
        /// stands, that is what reading, checking and writing it would have sent.
        #[test]
        fn a_member_sent_as_it_stands_is_what_the_long_way_writes(
            members in proptest::collection::vec(
                (
                    "email|firstName|lastName|phoneNumber|age",
                    "[a-z@. \"\\\\é\t\u{200B}]{0,6}",
                ),
                0..5,
            ),
            spaced in proptest::bool::ANY,
        ) {
            let separator = if spaced { ", " } else { "," };
            let text = format!(
                "{{{}}}",
                members
                    .iter()
                    .map(|(name, value)| format!("\"{name}\":\"{value}\""))
                    .collect::<Vec<_>>()
                    .join(separator)
            );
            if is_compact_string_object(member(), &text) {
                proptest::prop_assert_eq!(written(&text), Some(text));
            }
        }
    }
}
