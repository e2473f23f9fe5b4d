//! Type checks for JSON values and the CSV value rules (SPEC.md "Value rules").

use super::object_text::is_compact_string_object;
use super::{Node, Object, Scalar};
use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Timelike, Utc};
use serde_json::{Map, Number, Value};

/// Why a value does not fit its field; the message says what would.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

fn expected(node: &Node, got: &str) -> ValueError {
    ValueError(format!("{got} is not {}", node.describe()))
}

fn show(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

/// Checks a JSON value against `node` and returns it in the API's form (enum names in the
/// API's case, dates as UTC date-times, numeric strings as numbers).
pub fn check_json(node: &Node, value: &Value) -> Result<Value, ValueError> {
    check_in(node, value, Form::User)
}

/// [`check_json`] as the API itself checks what it is sent: without what a user's input
/// is forgiven (a boolean as text, an enum name in another case, a decimal as text with
/// spaces around it). The emulator checks a PATCH's values with this, so that a client
/// that sends values other than in the API's own form is caught.
pub fn check_sent(node: &Node, value: &Value) -> Result<Value, ValueError> {
    check_in(node, value, Form::Api)
}

/// Whose value is checked: a user's input, or a request to the API.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    User,
    Api,
}

fn check_in(node: &Node, value: &Value, form: Form) -> Result<Value, ValueError> {
    match (node, value) {
        (Node::Scalar(Scalar::String), Value::String(_)) => Ok(value.clone()),
        (Node::Scalar(scalar), Value::String(text)) => {
            if form == Form::Api {
                api_text(node, scalar, text)?;
            }
            scalar_from_text(node, scalar, text)
        }
        (Node::Scalar(Scalar::Decimal), Value::Number(_)) => Ok(value.clone()),
        (Node::Scalar(Scalar::Boolean), Value::Bool(_)) => Ok(value.clone()),
        // A user's string for an object or an array is its JSON text, as a CSV cell is
        // (an export that quotes every value writes a Member so).
        (Node::Object(_) | Node::Array(_), Value::String(text)) if form == Form::User => {
            let parsed: Value = serde_json::from_str(text).map_err(|e| {
                ValueError(format!(
                    "{} is not JSON text of {} ({e})",
                    show(value),
                    node.describe()
                ))
            })?;
            check_in(node, &parsed, form)
        }
        (Node::Object(object), Value::Object(members)) => check_object(object, members, form),
        (Node::Array(element), Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                check_in(element, item, form).map_err(|e| ValueError(format!("element {i}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        _ => Err(expected(node, &show(value))),
    }
}

/// Refuses the text the API does not take for `scalar`, where a user's input is forgiven.
fn api_text(node: &Node, scalar: &Scalar, text: &str) -> Result<(), ValueError> {
    let refused = match scalar {
        Scalar::Boolean => true,
        Scalar::Enum(names) if !names.contains(&text) => {
            return Err(ValueError(format!(
                "{text:?} is not {} (names are case-sensitive)",
                node.describe()
            )));
        }
        Scalar::Decimal => text.trim() != text,
        _ => false,
    };
    match refused {
        true => Err(expected(node, &format!("{text:?}"))),
        false => Ok(()),
    }
}

fn check_object(
    object: &Object,
    members: &Map<String, Value>,
    form: Form,
) -> Result<Value, ValueError> {
    let mut out = Map::with_capacity(members.len());
    for (name, value) in members {
        let node = member_node(object, name)?;
        let checked =
            check_in(node, value, form).map_err(|e| ValueError(format!("member {name:?}: {e}")))?;
        out.insert(name.clone(), checked);
    }
    check_required(object, &out)?;
    Ok(Value::Object(out))
}

/// [`check_json`] of a value the caller gives up: objects and arrays are checked member by
/// member in place instead of rebuilt, which saves a map per CSV `/team/-` row.
pub fn check_json_owned(node: &Node, value: Value) -> Result<Value, ValueError> {
    match (node, value) {
        (Node::Scalar(Scalar::String), value @ Value::String(_)) => Ok(value),
        (Node::Object(object), Value::Object(mut members)) => {
            for (name, member) in members.iter_mut() {
                let node = member_node(object, name)?;
                *member = check_json_owned(node, member.take())
                    .map_err(|e| ValueError(format!("member {name:?}: {e}")))?;
            }
            check_required(object, &members)?;
            Ok(Value::Object(members))
        }
        (Node::Array(element), Value::Array(mut items)) => {
            for (i, item) in items.iter_mut().enumerate() {
                *item = check_json_owned(element, item.take())
                    .map_err(|e| ValueError(format!("element {i}: {e}")))?;
            }
            Ok(Value::Array(items))
        }
        (node, value) => check_json(node, &value),
    }
}

/// The schema node of member `name` of `object`; an error for a read-only or unknown one.
fn member_node<'a>(object: &'a Object, name: &str) -> Result<&'a Node, ValueError> {
    match object.field(name) {
        Some(Node::ReadOnly) => Err(ValueError(format!(
            "member {name:?} of {} is read-only",
            object.name
        ))),
        Some(node) => Ok(node),
        None => {
            let known: Vec<&str> = object.fields.iter().map(|(n, _)| *n).collect();
            Err(ValueError(format!(
                "{} has no member {name:?} (it has {})",
                object.name,
                known.join(", ")
            )))
        }
    }
}

/// An error when `members` lacks a member `object` requires.
/// Every required member is there, and not blank: a Member with `"email": ""` is a
/// Member without an email.
fn check_required(object: &Object, members: &Map<String, Value>) -> Result<(), ValueError> {
    for required in object.required {
        match members.get(*required) {
            None => {
                return Err(ValueError(format!(
                    "a {} needs the member {required:?}",
                    object.name
                )));
            }
            Some(Value::String(text)) if is_blank(text) => {
                return Err(ValueError(blank_required_message(object.name, required)));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Whether `text` shows nothing: spaces and the invisible characters a copy from a web
/// page brings along (zero-width space and joiners, word joiner, byte-order mark).
pub fn is_blank(text: &str) -> bool {
    text.chars().all(|c| {
        c.is_whitespace() || matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
    })
}

/// Why member `member` of an `object` may not be blank.
pub fn blank_required_message(object: &str, member: &str) -> String {
    format!("the {member:?} of a {object} may not be empty")
}

/// Converts CSV text to the JSON value `node` needs, by the value rules.
pub fn from_text(node: &Node, text: &str) -> Result<Value, ValueError> {
    match node {
        Node::Scalar(Scalar::String) => Ok(Value::String(text.to_string())),
        Node::Scalar(scalar) => scalar_from_text(node, scalar, text),
        Node::Object(_) | Node::Array(_) => {
            let parsed: Value = serde_json::from_str(text).map_err(|e| {
                ValueError(format!(
                    "{:?} is not JSON ({e}); expected {}",
                    clip(text),
                    node.describe()
                ))
            })?;
            check_json_owned(node, parsed)
        }
        Node::ReadOnly => Err(expected(node, &format!("{:?}", clip(text)))),
    }
}

/// How a CSV cell that is already in the form the value rules give it goes into JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SentAsIs {
    /// The cell is its own JSON text: a plain integer for a decimal (`5000`), or an
    /// object in compact JSON with its members in order (`{"email":"a@b.c"}`).
    Bare,
    /// The cell between quotes is its JSON text: a UTC date-time to the second
    /// (`2027-01-01T00:00:00Z`), which needs no escape.
    Quoted,
}

/// Whether `text`, a CSV cell for `node`, is sent exactly as it stands, so that
/// [`from_text`] need not parse it and write it again: what it would give is the cell
/// itself (bare or quoted). The common forms only; anything else says `None` and takes
/// [`from_text`]. (Parsing and rewriting decimals and dates was a fifth of planning a row
/// in a profile of `plan` on a million rows.)
pub fn sent_as_is(node: &Node, text: &str) -> Option<SentAsIs> {
    match node {
        Node::Scalar(Scalar::Decimal) if is_plain_integer(text) => Some(SentAsIs::Bare),
        Node::Scalar(Scalar::DateTime) if is_utc_second(text) => Some(SentAsIs::Quoted),
        Node::Object(object) if is_compact_string_object(object, text) => Some(SentAsIs::Bare),
        _ => None,
    }
}

/// An integer in JSON's own syntax with at most [`MAX_DIGITS`] digits (`5000`, `-42`,
/// `0`): `serde_json` reads it as an integer and writes it back unchanged.
fn is_plain_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text).as_bytes();
    let leading = match digits.first() {
        Some(b'0') => digits.len() == 1 && digits.len() == text.len(),
        Some(first) => first.is_ascii_digit(),
        None => false,
    };
    leading && digits.len() <= MAX_DIGITS && digits.iter().all(u8::is_ascii_digit)
}

/// `YYYY-MM-DDTHH:MM:SSZ` naming a real instant (no leap second): RFC 3339 in UTC to the
/// second, which [`parse_date_time`] writes back unchanged.
fn is_utc_second(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() != 20 || b[19] != b'Z' {
        return false;
    }
    let number = |from: usize, to: usize| {
        b[from..to].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(at, sep)| b[at] != sep) {
        return false;
    }
    let fields = (
        number(0, 4),
        number(5, 7),
        number(8, 10),
        number(11, 13),
        number(14, 16),
        number(17, 19),
    );
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = fields
    else {
        return false;
    };
    hour < 24
        && minute < 60
        && second < 60
        && i32::try_from(year)
            .ok()
            .and_then(|year| NaiveDate::from_ymd_opt(year, month, day))
            .is_some()
}

fn clip(text: &str) -> String {
    text.chars().take(60).collect()
}

fn scalar_from_text(node: &Node, scalar: &Scalar, raw: &str) -> Result<Value, ValueError> {
    let text = raw.trim();
    let fail = || expected(node, &format!("{:?}", clip(raw)));
    match scalar {
        Scalar::String => Ok(Value::String(raw.to_string())),
        Scalar::Decimal => match parse_decimal(text) {
            Ok(number) => Ok(Value::Number(number)),
            Err(DecimalFault::NotANumber) => Err(fail()),
            Err(DecimalFault::TooPrecise { digits }) => {
                Err(too_precise(&format!("{:?}", clip(raw)), digits))
            }
            Err(DecimalFault::TooSmall) => Err(too_small(&format!("{:?}", clip(raw)))),
        },
        Scalar::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Value::Bool(true)),
            "false" | "0" => Ok(Value::Bool(false)),
            _ => Err(fail()),
        },
        Scalar::Enum(names) => names
            .iter()
            .find(|n| n.eq_ignore_ascii_case(text))
            .map(|n| Value::String((*n).to_string()))
            .ok_or_else(fail),
        Scalar::DateTime => match parse_date_time(text) {
            Some(Ok(utc)) => Ok(Value::String(utc)),
            Some(Err(DateFault::Year(year))) => Err(ValueError(format!(
                "{:?} falls in the year {year} in UTC, which an RFC 3339 date-time (years \
                 0000 to 9999) cannot carry; give a date in that range",
                clip(raw)
            ))),
            Some(Err(DateFault::BelowNanosecond)) => Err(ValueError(format!(
                "{:?} gives a fraction of a second below a nanosecond, which would be cut \
                 off rather than sent; give at most 9 digits after the seconds' point",
                clip(raw)
            ))),
            None => Err(fail()),
        },
    }
}

/// The most significant digits a decimal may have: an IEEE double, which JSON numbers
/// are read into on both ends, keeps 15 exactly.
const MAX_DIGITS: usize = 15;

/// Why text is not a decimal refsync can send.
enum DecimalFault {
    /// Not a number at all (`10,000.50`, `$5`).
    NotANumber,
    /// A number with more significant digits than a JSON number keeps.
    TooPrecise {
        /// How many it has.
        digits: usize,
    },
    /// A number other than zero too close to it for a JSON number, which reads it as 0.
    TooSmall,
}

/// A decimal: an optional sign, digits with at most one decimal point (`10000`, `10000.50`,
/// `-5`, `+5`, `.5`, `5.`, `007`), an optional exponent (`1e5`); no thousands separators.
/// It is sent as the JSON number it names, so it may have at most [`MAX_DIGITS`]
/// significant digits.
fn parse_decimal(text: &str) -> Result<Number, DecimalFault> {
    let DecimalParts {
        negative,
        mantissa,
        whole,
        fraction,
        exponent,
    } = DecimalParts::of(text);
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    if whole.len() + fraction.len() == 0 || !digits(whole) || !digits(fraction) || !exponent_ok {
        return Err(DecimalFault::NotANumber);
    }
    let significant = significant_digits(whole, fraction);
    if significant > MAX_DIGITS {
        return Err(DecimalFault::TooPrecise {
            digits: significant,
        });
    }
    // Most cells are JSON number syntax already and are parsed as they are.
    let plain = !text.starts_with('+')
        && !mantissa.ends_with('.')
        && (whole == "0" || !(whole.is_empty() || whole.starts_with('0')));
    let json = match plain {
        true => std::borrow::Cow::Borrowed(text),
        false => std::borrow::Cow::Owned(json_number(negative, whole, fraction, exponent)),
    };
    let number: Number = serde_json::from_str(&json).map_err(|_| DecimalFault::NotANumber)?;
    match number.as_f64() {
        Some(value) if value == 0.0 && significant > 0 => Err(DecimalFault::TooSmall),
        Some(value) if value.is_finite() => Ok(number),
        _ => Err(DecimalFault::NotANumber),
    }
}

/// Why a number written `shown`, not zero, cannot be sent: it would arrive as 0.
fn too_small(shown: &str) -> ValueError {
    ValueError(format!(
        "{shown} is closer to zero than a JSON number can hold, so it would arrive as 0; \
         write 0, or a number of a size the field means"
    ))
}

/// Why a number written `shown` (as a message quotes it), of `digits` significant digits,
/// cannot be sent as written.
fn too_precise(shown: &str, digits: usize) -> ValueError {
    ValueError(format!(
        "{shown} has {digits} significant digits, more than the {MAX_DIGITS} a JSON number \
         keeps exactly, so it would not arrive as written; round it"
    ))
}

/// Why the number `number`, as a JSONL line wrote it, cannot be sent as written.
pub fn inexact_number_error(number: &str) -> ValueError {
    let digits = DecimalParts::of(number).significant();
    match digits > MAX_DIGITS {
        true => too_precise(&clip(number), digits),
        false => too_small(&clip(number)),
    }
}

/// Whether a JSON number written `number` would be sent changed: it has more significant
/// digits than a JSON number keeps exactly (serde_json reads it rounded), or it is not
/// zero and so close to it that it is read as 0.
pub fn is_inexact(number: &str) -> bool {
    let digits = DecimalParts::of(number).significant();
    digits > MAX_DIGITS || (digits > 0 && number.parse::<f64>().is_ok_and(|v| v == 0.0))
}

/// A decimal's text split at its sign, exponent and point; the parts are not checked.
struct DecimalParts<'a> {
    negative: bool,
    /// The digits and point before the exponent, unsigned.
    mantissa: &'a str,
    whole: &'a str,
    fraction: &'a str,
    exponent: Option<&'a str>,
}

impl<'a> DecimalParts<'a> {
    fn of(text: &'a str) -> Self {
        let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
        let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
            Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
            None => (unsigned, None),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        DecimalParts {
            negative: text.starts_with('-'),
            mantissa,
            whole,
            fraction,
            exponent,
        }
    }

    fn significant(&self) -> usize {
        significant_digits(self.whole, self.fraction)
    }
}

/// The significant digits of a decimal's digits before and after its point: leading and
/// trailing zeros do not count.
fn significant_digits(whole: &str, fraction: &str) -> usize {
    let digits = || whole.bytes().chain(fraction.bytes());
    let leading = digits().take_while(|&b| b == b'0').count();
    let total = whole.len() + fraction.len();
    if leading == total {
        return 0;
    }
    let trailing = digits().rev().take_while(|&b| b == b'0').count();
    total - leading - trailing
}

/// The decimal in JSON number syntax: no `+`, no leading zeros, digits on both sides of
/// the point.
fn json_number(negative: bool, whole: &str, fraction: &str, exponent: Option<&str>) -> String {
    let trimmed = whole.trim_start_matches('0');
    let whole = if trimmed.is_empty() { "0" } else { trimmed };
    let mut json = String::from(if negative { "-" } else { "" });
    json.push_str(whole);
    if !fraction.is_empty() {
        json.push('.');
        json.push_str(fraction);
    }
    if let Some(exponent) = exponent {
        json.push('e');
        json.push_str(exponent);
    }
    json
}

/// Why a well-formed date-time cannot be sent as given.
enum DateFault {
    /// The UTC year lies outside RFC 3339's four digits.
    Year(i32),
    /// A digit of the fraction below a nanosecond is not zero: chrono, like the API's
    /// .NET, keeps nanoseconds at most, so it would be cut off silently.
    BelowNanosecond,
}

/// An RFC 3339 date-time (any offset, stored as UTC) or a date (midnight UTC); `None`
/// when the text is neither; a fault when its UTC year lies outside RFC 3339's four
/// digits (an offset can carry `9999-12-31T23:00:00-02:00` past them, and chrono reads
/// `+12026-01-01` as a date), which the API refuses, or its fraction goes below a
/// nanosecond.
fn parse_date_time(text: &str) -> Option<Result<String, DateFault>> {
    let utc = match DateTime::parse_from_rfc3339(text) {
        Ok(at) => at.with_timezone(&Utc),
        Err(_) => {
            // RFC 3339's full-date: four digits of year, two of month and of day (chrono
            // would read `26-12-31` as the year 26, and `2026-1-5` too).
            let shape = text.len() == 10
                && text.bytes().enumerate().all(|(at, b)| match at {
                    4 | 7 => b == b'-',
                    _ => b.is_ascii_digit(),
                });
            if !shape {
                return None;
            }
            let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
            date.and_hms_opt(0, 0, 0)?.and_utc()
        }
    };
    // A leap second (`23:59:60`), which chrono keeps as a second of more than a billion
    // nanoseconds, is no instant the API stores.
    let nanos = utc.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    if !(0..=9999).contains(&utc.year()) {
        return Some(Err(DateFault::Year(utc.year())));
    }
    if below_nanosecond(text) {
        return Some(Err(DateFault::BelowNanosecond));
    }
    // The fraction as given, without trailing zeros (`.1234567` stays seven digits, as
    // .NET keeps them, where chrono's own forms would pad it to nine).
    let whole = utc.to_rfc3339_opts(SecondsFormat::Secs, true);
    let fraction = format!("{nanos:09}");
    let fraction = fraction.trim_end_matches('0');
    match fraction.is_empty() {
        true => Some(Ok(whole)),
        false => Some(Ok(format!("{}.{fraction}Z", whole.trim_end_matches('Z')))),
    }
}

/// Whether the fraction of the seconds in `text` has a digit other than 0 past the ninth.
fn below_nanosecond(text: &str) -> bool {
    let Some((_, after_point)) = text.split_once('.') else {
        return false;
    };
    let digits = after_point.bytes().take_while(u8::is_ascii_digit);
    digits.skip(9).any(|digit| digit != b'0')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::resolve;
    use serde_json::json;

    fn text(path: &str, cell: &str) -> Result<Value, ValueError> {
        from_text(resolve(path).unwrap().node, cell)
    }

    #[test]
    fn the_api_form_is_stricter_than_a_users_input() {
        let api = |path: &str, value: Value| check_sent(resolve(path).unwrap().node, &value);
        assert!(api("/consent/consentToContact", json!(false)).is_ok());
        assert!(api("/consent/consentToContact", json!("false")).is_err());
        assert!(api("/qualification", json!("Direct")).is_ok());
        assert!(api("/qualification", json!("direct")).is_err());
        assert!(api("/details/dealValue", json!("10000")).is_ok());
        assert!(api("/details/dealValue", json!(" 5 ")).is_err());
        assert!(api("/target/-", json!({"type": "solutionprofile", "id": "X"})).is_err());
        // Members are checked in the same walk, nested ones included.
        let member = |off: Value| json!([{"email": "a@b.c", "contactPreference": {"disableNotifications": off}}]);
        assert!(api("/team", member(json!(true))).is_ok());
        assert!(api("/team", member(json!("true"))).is_err());
    }

    #[test]
    fn an_inexact_number_is_one_of_more_than_15_significant_digits() {
        assert!(!is_inexact("1234567890.12345"));
        assert!(!is_inexact("0.000001234567890123450"));
        assert!(is_inexact("-1234567890.123456e-3"));
        assert!(is_inexact("99999999999999999999"));
        let message = inexact_number_error("12345678901234567.89").0;
        assert!(message.contains("19 significant digits"), "{message}");
    }

    #[test]
    fn checking_in_place_gives_what_checking_a_copy_gives() {
        let cases = [
            ("/team/-", json!({"email": "a@b.c", "firstName": "A"})),
            ("/team/-", json!({"firstName": "A"})),
            ("/team/-", json!({"email": "a@b.c", "eTag": "x"})),
            ("/team/-", json!({"email": 5})),
            ("/team", json!([{"email": "a@b.c"}, {"email": "d@e.f"}])),
            ("/team", json!([{"email": "a@b.c"}, {"nope": 1}])),
            ("/team", json!({"email": "a@b.c"})),
            ("/details", json!({"dealValue": "10000", "notes": "n"})),
            ("/details", json!({"dealValue": "ten"})),
            ("/details/dealValue", json!("1e4")),
        ];
        for (path, value) in cases {
            let node = resolve(path).unwrap().node;
            let by_copy = check_json(node, &value);
            assert_eq!(check_json_owned(node, value), by_copy, "{path}");
        }
    }

    #[test]
    fn decimals_follow_the_value_rules() {
        assert_eq!(text("/details/dealValue", "10000").unwrap(), json!(10000));
        assert_eq!(
            text("/details/dealValue", "10000.50").unwrap(),
            json!(10000.5)
        );
        assert_eq!(text("/details/dealValue", "-5").unwrap(), json!(-5));
        assert_eq!(text("/details/dealValue", "1e5").unwrap(), json!(100000.0));
        assert!(text("/details/dealValue", "10,000.50").is_err());
        assert!(text("/details/dealValue", "").is_err());
        assert!(text("/details/dealValue", "abc").is_err());
        for bad in [".", "-", "1e", "1.2.3", "--5", "5-", "$5", "1e400", "0x10"] {
            assert!(text("/details/dealValue", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn decimals_in_other_plain_spellings_are_sent_as_json_numbers() {
        let deal = |cell| text("/details/dealValue", cell).unwrap();
        assert_eq!(deal("+5"), json!(5));
        assert_eq!(deal("007"), json!(7));
        assert_eq!(deal(".5"), json!(0.5));
        assert_eq!(deal("-.5"), json!(-0.5));
        assert_eq!(deal("5."), json!(5));
        assert_eq!(deal("1E+3"), json!(1000.0));
        assert_eq!(deal("123456789012345.00"), json!(123456789012345.0));
    }

    #[test]
    fn a_required_member_may_not_be_blank() {
        let error = text("/team/-", r#"{"email": " "}"#).unwrap_err();
        assert_eq!(error.0, "the \"email\" of a Member may not be empty");
        assert!(text("/team/-", r#"{"email": "a@b.c"}"#).is_ok());
    }

    #[test]
    fn a_decimal_a_json_number_cannot_keep_exactly_is_refused_saying_so() {
        for cell in ["1234567890123456.78", "12345678901234567890.123456789"] {
            let error = text("/details/dealValue", cell).unwrap_err();
            assert!(error.0.contains("significant digits"), "{error}");
            assert!(error.0.contains("round it"), "{error}");
        }
        let long = "9".repeat(100_000);
        assert!(
            text("/details/dealValue", &long)
                .unwrap_err()
                .0
                .contains("100000")
        );
    }

    #[test]
    fn booleans_enums_and_dates_are_normalised() {
        assert_eq!(
            text("/consent/consentToContact", "TRUE").unwrap(),
            json!(true)
        );
        assert_eq!(
            text("/consent/consentToContact", "0").unwrap(),
            json!(false)
        );
        assert!(text("/consent/consentToContact", "yes").is_err());
        assert_eq!(text("/status", "closed").unwrap(), json!("Closed"));
        assert!(text("/status", "Open").is_err());
        assert_eq!(
            text("/details/closingDateTime", "2026-12-31").unwrap(),
            json!("2026-12-31T00:00:00Z")
        );
        assert_eq!(
            text("/details/closingDateTime", "2026-12-31T02:00:00+02:00").unwrap(),
            json!("2026-12-31T00:00:00Z")
        );
        assert!(text("/details/closingDateTime", "31/12/2026").is_err());
        // A fraction keeps its digits, trailing zeros dropped; a leap second is refused.
        let date = |t| text("/details/closingDateTime", t);
        assert_eq!(
            date("2026-12-31T10:00:00.1234567+02:00").unwrap(),
            json!("2026-12-31T08:00:00.1234567Z")
        );
        assert_eq!(
            date("2026-12-31T10:00:00.500Z").unwrap(),
            json!("2026-12-31T10:00:00.5Z")
        );
        assert_eq!(
            date("2026-12-31T10:00:00.000Z").unwrap(),
            json!("2026-12-31T10:00:00Z")
        );
        assert!(date("2026-12-31T23:59:60Z").is_err());
        // Below a nanosecond it would be cut off: refused, unless those digits are zeros.
        let error = date("2026-12-31T00:00:00.000000000001Z").expect_err("below a ns");
        assert!(error.0.contains("at most 9 digits"), "{error:?}");
        assert_eq!(
            date("2026-12-31T00:00:00.1234567890Z").unwrap(),
            json!("2026-12-31T00:00:00.123456789Z")
        );
        for outside in ["9999-12-31T23:00:00-02:00", "0000-01-01T00:00:00+01:00"] {
            let error = text("/details/closingDateTime", outside).expect_err(outside);
            assert!(
                error.0.contains("years 0000 to 9999"),
                "{outside}: {error:?}"
            );
        }
    }

    #[test]
    fn a_date_has_four_digits_of_year_and_two_of_month_and_day() {
        for loose in [
            "26-12-31",
            "+2026-12-31",
            "+12026-01-01",
            "2026-12-1",
            "2026-1-05",
        ] {
            let error = text("/details/closingDateTime", loose).expect_err(loose);
            assert!(error.0.contains("UTC date-time"), "{loose}: {error:?}");
        }
        assert!(text("/details/closingDateTime", "0999-12-31").is_ok());
    }

    #[test]
    fn a_number_too_close_to_zero_to_arrive_is_refused() {
        for tiny in ["1e-400", "-0.5e-330"] {
            let error = text("/details/dealValue", tiny).expect_err(tiny);
            assert!(error.0.contains("would arrive as 0"), "{tiny}: {error:?}");
            assert!(is_inexact(tiny), "{tiny}");
            assert!(inexact_number_error(tiny).0.contains("arrive as 0"));
        }
        for zero in ["0e-400", "0.000", "1e-300"] {
            assert!(text("/details/dealValue", zero).is_ok(), "{zero}");
            assert!(!is_inexact(zero), "{zero}");
        }
    }

    #[test]
    fn empty_cell_clears_a_string() {
        assert_eq!(text("/details/notes", "").unwrap(), json!(""));
    }

    #[test]
    fn members_are_checked_member_by_member() {
        assert!(text("/team/-", r#"{"email":"a@b.c","firstName":"A"}"#).is_ok());
        assert!(text("/team/-", r#"{"firstName":"A"}"#).is_err());
        assert!(text("/team/-", r#"{"email":"a@b.c","age":3}"#).is_err());
        assert!(text("/team/-", "not json").is_err());
        let members =
            json!([{"email": "x@y.z", "contactPreference": {"disableNotifications": "true"}}]);
        assert_eq!(
            check_json(resolve("/team").unwrap().node, &members).unwrap(),
            json!([{"email": "x@y.z", "contactPreference": {"disableNotifications": true}}])
        );
    }

    #[test]
    fn json_values_must_have_the_right_type() {
        let deal = resolve("/details/dealValue").unwrap().node;
        assert_eq!(check_json(deal, &json!("10000")).unwrap(), json!(10000));
        assert!(check_json(deal, &json!(true)).is_err());
        assert!(check_json(resolve("/name").unwrap().node, &json!(5)).is_err());
    }

    #[test]
    fn a_users_string_for_an_object_or_array_is_read_as_its_json_text() {
        let member = resolve("/team/-").unwrap().node;
        let quoted = json!(r#"{"email":"a@b.c","firstName":"A"}"#);
        assert_eq!(
            check_json(member, &quoted).unwrap(),
            json!({"email": "a@b.c", "firstName": "A"})
        );
        let team = resolve("/team").unwrap().node;
        assert_eq!(
            check_json(team, &json!(r#"[{"email":"a@b.c"}]"#)).unwrap(),
            json!([{"email": "a@b.c"}])
        );
        let refused = check_json(member, &json!("not json")).unwrap_err().0;
        assert!(refused.contains("is not JSON text"), "{refused}");
        // The API takes no such string: the emulator refuses it.
        assert!(check_sent(member, &quoted).is_err());
    }

    /// What [`from_text`] makes of `text`, as JSON text.
    fn converted(node: &Node, text: &str) -> Option<String> {
        from_text(node, text).ok().map(|value| value.to_string())
    }

    /// The JSON text [`sent_as_is`] promises for `text`.
    fn as_is(form: SentAsIs, text: &str) -> String {
        match form {
            SentAsIs::Bare => text.to_string(),
            SentAsIs::Quoted => format!("\"{text}\""),
        }
    }

    proptest::proptest! {
        #[test]
        fn a_decimal_sent_as_is_is_what_parsing_it_gives(
            text in "(-|\\+)?[0-9]{0,17}(\\.[0-9]{0,2})?( )?",
        ) {
            let node = resolve("/details/dealValue").unwrap().node;
            if let Some(form) = sent_as_is(node, &text) {
                proptest::prop_assert_eq!(Some(as_is(form, &text)), converted(node, &text));
            }
        }

        #[test]
        fn a_date_sent_as_is_is_what_parsing_it_gives(
            year in 0u32..10_000,
            month in 0u32..14,
            day in 0u32..33,
            hour in 0u32..26,
            minute in 0u32..61,
            second in 0u32..62,
            form in "[Tt ][Zz]",
        ) {
            let node = resolve("/details/closingDateTime").unwrap().node;
            let (t, z) = form.split_at(1);
            let text = format!("{year:04}-{month:02}-{day:02}{t}{hour:02}:{minute:02}:{second:02}{z}");
            if let Some(form) = sent_as_is(node, &text) {
                proptest::prop_assert_eq!(Some(as_is(form, &text)), converted(node, &text));
            }
        }
    }

    #[test]
    fn the_common_forms_are_sent_as_is_and_the_others_parsed() {
        let deal = resolve("/details/dealValue").unwrap().node;
        let date = resolve("/details/closingDateTime").unwrap().node;
        for text in ["5000", "0", "-42", "123456789012345"] {
            assert_eq!(sent_as_is(deal, text), Some(SentAsIs::Bare), "{text}");
        }
        for text in [
            "007",
            "-0",
            "+5",
            "5.0",
            "1e4",
            " 5",
            "1234567890123456",
            "",
            "-",
        ] {
            assert_eq!(sent_as_is(deal, text), None, "{text}");
        }
        for text in [
            "2027-01-01T00:00:00Z",
            "2028-02-29T23:59:59Z",
            "0001-12-31T12:00:00Z",
        ] {
            assert_eq!(sent_as_is(date, text), Some(SentAsIs::Quoted), "{text}");
        }
        let others = [
            "2027-02-29T00:00:00Z",
            "2027-01-01T24:00:00Z",
            "2027-01-01T23:59:60Z",
            "2027-01-01t00:00:00Z",
            "2027-01-01T00:00:00z",
            "2027-01-01T00:00:00+00:00",
            "2027-01-01",
            "2027-1-01T00:00:00Z",
        ];
        for text in others {
            assert_eq!(sent_as_is(date, text), None, "{text}");
        }
        assert_eq!(sent_as_is(resolve("/name").unwrap().node, "5000"), None);
    }
}
