//! RFC 6901 JSON Pointers resolved against the referral schema.

use super::{Node, referral::REFERRAL};
use std::borrow::Cow;

/// A path that names a patchable place in the referral.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// The type a value at this path must have (for an append, the element's type).
    pub node: &'static Node,
    /// Whether the path ends in `-`: an append to an array.
    pub append: bool,
    /// Where the path names a member its object requires (a Member's `email`): the
    /// object's name and the member's, for the rule that it may not be left blank.
    pub required: Option<(&'static str, &'static str)>,
}

impl Resolved {
    /// An error when `value`, set at this path, leaves a required member blank (empty
    /// text or `null`): a Member whose `email` is set to `""` is a Member without one,
    /// which a whole new Member may not be either.
    pub fn check_required(&self, value: &serde_json::Value) -> Result<(), super::ValueError> {
        let Some((object, member)) = self.required else {
            return Ok(());
        };
        let blank = match value {
            serde_json::Value::Null => true,
            serde_json::Value::String(text) => super::value::is_blank(text),
            _ => false,
        };
        match blank {
            true => Err(super::ValueError(super::value::blank_required_message(
                object, member,
            ))),
            false => Ok(()),
        }
    }
}

/// Why a path is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Not an RFC 6901 JSON Pointer.
    #[error("{path:?} is not a JSON Pointer: {reason}")]
    NotPointer {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A well-formed pointer that names no patchable field.
    #[error("{path:?} is not a field of a referral ({detail})")]
    Unknown {
        /// The path as given.
        path: String,
        /// Where the walk stopped.
        detail: String,
    },
    /// A read-only field.
    #[error("{path:?} is read-only: the API never lets a client change {field}")]
    ReadOnly {
        /// The path as given.
        path: String,
        /// The read-only field.
        field: String,
    },
}

/// Splits a pointer into its unescaped reference tokens (`~1` → `/`, `~0` → `~`),
/// borrowed from `path` where they hold no escape (every path is resolved once per row).
pub fn tokens(path: &str) -> Result<Vec<Cow<'_, str>>, PathError> {
    let not_pointer = |reason| PathError::NotPointer {
        path: path.to_string(),
        reason,
    };
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(not_pointer("it must start with /"));
    };
    rest.split('/')
        .map(|raw| unescape(raw).ok_or_else(|| not_pointer("~ must be followed by 0 or 1")))
        .collect()
}

fn unescape(raw: &str) -> Option<Cow<'_, str>> {
    if !raw.contains('~') {
        return Some(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(Cow::Owned(out))
}

/// Escapes one reference token for use in a pointer.
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Whether `token` is an RFC 6901 array index (`0`, or digits without a leading zero).
pub fn is_index(token: &str) -> bool {
    !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'))
}

/// Resolves `path` against the referral schema.
pub fn resolve(path: &str) -> Result<Resolved, PathError> {
    let tokens = tokens(path)?;
    if tokens.is_empty() {
        return Err(PathError::Unknown {
            path: path.into(),
            detail: "the whole referral cannot be patched; name a field such as /details/notes"
                .into(),
        });
    }
    let mut node: &'static Node = &REFERRAL;
    let mut required = None;
    let last = tokens.len() - 1;
    for (i, token) in tokens.iter().enumerate() {
        let unknown = |detail: String| PathError::Unknown {
            path: path.into(),
            detail,
        };
        node = match node {
            Node::Object(object) => match object.field(token) {
                Some(Node::ReadOnly) => {
                    return Err(PathError::ReadOnly {
                        path: path.into(),
                        field: token.to_string(),
                    });
                }
                Some(child) => {
                    required = object
                        .required
                        .iter()
                        .find(|name| **name == token.as_ref())
                        .map(|name| (object.name, *name))
                        .filter(|_| i == last);
                    child
                }
                None => return Err(unknown(format!("{} has no member {token:?}", object.name))),
            },
            Node::Array(element) if token == "-" && i == last => {
                return Ok(Resolved {
                    node: element,
                    append: true,
                    required: None,
                });
            }
            Node::Array(element) if is_index(token) => element,
            Node::Array(_) => {
                return Err(unknown(format!(
                    "{token:?} is not an array index; use a number, or - as the last token to append"
                )));
            }
            Node::Scalar(_) | Node::ReadOnly => {
                return Err(unknown(format!(
                    "nothing lies below a field that holds {}",
                    node.describe()
                )));
            }
        };
    }
    Ok(Resolved {
        node,
        append: false,
        required,
    })
}

/// What the API says of a JSON Patch operation whose target is missing (a `replace` of a
/// member the referral lacks, an `add` under a parent it lacks): one text for the
/// emulator's 400 and for the dry run that predicts it.
pub fn target_not_found_message(operation: usize, path: &str) -> String {
    format!(
        "operation {operation} ({path}): the target does not exist; replace needs an existing \
         value, and add needs an existing parent"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Scalar;
    use proptest::prelude::*;

    #[test]
    fn deal_value_is_a_decimal() {
        let r = resolve("/details/dealValue").unwrap();
        assert_eq!(r.node, &Node::Scalar(Scalar::Decimal));
        assert!(!r.append);
    }

    #[test]
    fn team_append_resolves_to_a_member() {
        let r = resolve("/team/-").unwrap();
        assert!(r.append);
        assert!(matches!(r.node, Node::Object(o) if o.name == "Member"));
        assert!(resolve("/team/0/email").is_ok());
    }

    #[test]
    fn read_only_and_unknown_paths_are_refused() {
        assert!(matches!(resolve("/eTag"), Err(PathError::ReadOnly { .. })));
        assert!(matches!(resolve("/id"), Err(PathError::ReadOnly { .. })));
        assert!(matches!(
            resolve("/details/nope"),
            Err(PathError::Unknown { .. })
        ));
        assert!(matches!(
            resolve("/team/-/email"),
            Err(PathError::Unknown { .. })
        ));
        assert!(matches!(
            resolve("/team/01"),
            Err(PathError::Unknown { .. })
        ));
        assert!(matches!(resolve(""), Err(PathError::Unknown { .. })));
    }

    #[test]
    fn malformed_pointers_are_refused() {
        assert!(matches!(
            resolve("details"),
            Err(PathError::NotPointer { .. })
        ));
        assert!(matches!(
            resolve("/details/~2"),
            Err(PathError::NotPointer { .. })
        ));
    }

    proptest! {
        #[test]
        fn escaping_round_trips(token in ".*") {
            let path = format!("/{}", escape(&token));
            prop_assert_eq!(tokens(&path).unwrap(), vec![token]);
        }
    }
}
