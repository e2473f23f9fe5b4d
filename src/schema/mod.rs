//! The referral schema and the status transition table, written down once, as data.
//!
//! The planner uses it to check paths and convert values offline; the emulator uses the same
//! tables to refuse what the real API refuses. [`referral`] holds the field tree,
//! [`transitions`] the status/substatus rules, [`pointer`] the RFC 6901 handling, and
//! [`value`] the type checks and the CSV value rules.

pub mod object_text;
pub mod pointer;
pub mod referral;
pub mod transitions;
pub mod value;

pub use pointer::{PathError, Resolved, resolve};
pub use transitions::TransitionError;
pub use value::{ValueError, check_json, check_json_owned, from_text};

/// "a number", "an array"…: a JSON value's type for messages, never its content (a value
/// may be a secret or a customer's data).
pub fn json_type_name(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The type of a leaf field.
#[derive(Debug, PartialEq, Eq)]
pub enum Scalar {
    /// Any text.
    String,
    /// A decimal number (`/details/dealValue`); sent as a JSON number.
    Decimal,
    /// `true` or `false`.
    Boolean,
    /// A UTC date-time string (RFC 3339).
    DateTime,
    /// One of the API's names, matched case-insensitively, sent in the API's case.
    Enum(&'static [&'static str]),
}

/// A node of the referral schema.
#[derive(Debug, PartialEq, Eq)]
pub enum Node {
    /// A leaf value.
    Scalar(Scalar),
    /// An object with known members.
    Object(&'static Object),
    /// An array of elements of one node type.
    Array(&'static Node),
    /// A field the API never lets a client change.
    ReadOnly,
}

/// An object type: its members and which of them a new value must carry.
#[derive(Debug, PartialEq, Eq)]
pub struct Object {
    /// A name for messages (`Member`, `referral`, `details`, …).
    pub name: &'static str,
    /// Its members, by JSON name.
    pub fields: &'static [(&'static str, Node)],
    /// Members a whole new object of this type must have.
    pub required: &'static [&'static str],
}

impl Object {
    /// The member named `name`, if the type has one.
    pub fn field(&self, name: &str) -> Option<&'static Node> {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, node)| node)
    }
}

impl Node {
    /// A short description of the type for error messages.
    pub fn describe(&self) -> String {
        match self {
            Node::Scalar(Scalar::String) => "a string".into(),
            Node::Scalar(Scalar::Decimal) => "a decimal number such as 10000.50".into(),
            Node::Scalar(Scalar::Boolean) => "true or false".into(),
            Node::Scalar(Scalar::DateTime) => {
                "a UTC date-time such as 2026-12-31T00:00:00Z or a date such as 2026-12-31".into()
            }
            Node::Scalar(Scalar::Enum(names)) => format!("one of {}", names.join(", ")),
            Node::Object(o) => format!("a {} object", o.name),
            Node::Array(element) => match element {
                Node::Object(o) => format!("an array of {} objects", o.name),
                other => format!("an array whose elements are {}", other.describe()),
            },
            Node::ReadOnly => "nothing: the field is read-only".into(),
        }
    }
}
