//! Locale number formats (`10.000,50`, `10 000,50`, `10,000.50`): a CRM export writes
//! amounts the way its user's locale does, and the API wants a plain JSON number.
//!
//! Parsing is strict on purpose: a thousands separator must split the integer part into
//! groups of three, so `10,000.50` read with `decimal = ","` is refused instead of becoming
//! ten. A wrong amount sent to Partner Center is worse than a row to fix.

/// The thousands separators a format may use, each with how to write it in a mapping.
pub const THOUSANDS: [(char, &str); 6] = [
    ('.', "\".\""),
    (',', "\",\""),
    ('\'', "\"'\""),
    (' ', "\" \" (space)"),
    ('\u{a0}', "\"\\u00A0\" (no-break space)"),
    ('\u{202f}', "\"\\u202F\" (narrow no-break space)"),
];

/// How a number column writes its numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NumberFormat {
    /// The decimal separator (`.` or `,`).
    pub decimal: char,
    /// The thousands separator, if the export uses one: one of [`THOUSANDS`].
    pub thousands: Option<char>,
}

impl Default for NumberFormat {
    fn default() -> Self {
        NumberFormat {
            decimal: '.',
            thousands: None,
        }
    }
}

impl NumberFormat {
    /// A format; the reason when the separators cannot work together.
    pub fn new(decimal: char, thousands: Option<char>) -> Result<Self, String> {
        if !matches!(decimal, '.' | ',') {
            return Err(format!("decimal = {decimal:?} must be \".\" or \",\""));
        }
        if let Some(t) = thousands {
            if !THOUSANDS.iter().any(|(c, _)| *c == t) {
                return Err(not_a_separator(&t.to_string()));
            }
            if t == decimal {
                return Err("decimal and thousands must be different characters".into());
            }
        }
        Ok(NumberFormat { decimal, thousands })
    }

    /// A format as the mapping file writes it: `decimal` one character, `thousands`
    /// one character, or empty (or absent) for none.
    pub fn parse(decimal: &str, thousands: Option<&str>) -> Result<Self, String> {
        let decimal_char = single(decimal).filter(|c| matches!(c, '.' | ','));
        let thousands_char = match thousands {
            None | Some("") => Ok(None),
            Some(text) => single(text)
                .filter(|c| THOUSANDS.iter().any(|(t, _)| t == c))
                .map(Some)
                .ok_or(text),
        };
        match (decimal_char, thousands_char) {
            (Some(d), Ok(t)) => NumberFormat::new(d, t),
            (d, t) => {
                let mut reasons = Vec::new();
                if d.is_none() {
                    reasons.push(format!("decimal = {decimal:?} must be \".\" or \",\""));
                }
                if let Err(text) = t {
                    reasons.push(not_a_separator(text));
                }
                Err(reasons.join("; "))
            }
        }
    }

    /// An example of the format for messages: `10.000,50`.
    pub fn example(&self) -> String {
        let thousands = self.thousands.map(String::from).unwrap_or_default();
        format!("10{thousands}000{}50", self.decimal)
    }

    /// The number in JSON syntax (`10000.50`), or `None` when `text` is not in this format.
    pub fn normalise(&self, text: &str) -> Option<String> {
        let text = text.trim();
        let (sign, digits) = match text.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", text.strip_prefix('+').unwrap_or(text)),
        };
        let (integer, fraction) = match digits.split_once(self.decimal) {
            Some((i, f)) => (i, Some(f)),
            None => (digits, None),
        };
        let integer = self.integer_digits(integer)?;
        match fraction {
            None => Some(format!("{sign}{integer}")),
            Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
                Some(format!("{sign}{integer}.{f}"))
            }
            Some(_) => None,
        }
    }

    /// The integer part without thousands separators, checked to group by three.
    fn integer_digits(&self, integer: &str) -> Option<String> {
        let groups: Vec<&str> = match self.thousands {
            Some(t) => integer.split(t).collect(),
            None => vec![integer],
        };
        let all_digits = |g: &str| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit());
        if !groups.iter().all(|g| all_digits(g)) {
            return None;
        }
        let grouped = groups.len() > 1;
        let well_grouped = groups[0].len() <= 3 && groups[1..].iter().all(|g| g.len() == 3);
        (!grouped || well_grouped).then(|| groups.concat())
    }
}

/// The only character of `text`, if it has exactly one.
fn single(text: &str) -> Option<char> {
    let mut chars = text.chars();
    chars.next().filter(|_| chars.next().is_none())
}

/// Why `thousands = text` is refused, and what it accepts.
fn not_a_separator(text: &str) -> String {
    let listed: Vec<&str> = THOUSANDS.iter().map(|(_, written)| *written).collect();
    format!(
        "thousands = {text:?} is not a separator: write one of {}, or leave thousands out \
         (or write thousands = \"\") for numbers without one",
        listed.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn german() -> NumberFormat {
        NumberFormat::new(',', Some('.')).unwrap()
    }

    #[test]
    fn european_amounts_become_json_numbers() {
        assert_eq!(german().normalise("10.000,50").as_deref(), Some("10000.50"));
        assert_eq!(
            german().normalise(" 1.234.567 ").as_deref(),
            Some("1234567")
        );
        assert_eq!(german().normalise("-5,5").as_deref(), Some("-5.5"));
        assert_eq!(german().normalise("950").as_deref(), Some("950"));
    }

    #[test]
    fn the_other_locale_and_bad_grouping_are_refused() {
        assert_eq!(german().normalise("10,000.50"), None);
        assert_eq!(german().normalise("10.00,5"), None);
        assert_eq!(german().normalise("1,2,3"), None);
        assert_eq!(german().normalise("12a"), None);
        assert_eq!(german().normalise(""), None);
        assert_eq!(german().normalise("5,"), None);
    }

    #[test]
    fn spaces_and_apostrophes_can_separate_thousands() {
        let swiss = NumberFormat::new('.', Some('\'')).unwrap();
        assert_eq!(swiss.normalise("25'000.75").as_deref(), Some("25000.75"));
        let french = NumberFormat::new(',', Some('\u{a0}')).unwrap();
        assert_eq!(
            french.normalise("25\u{a0}000,75").as_deref(),
            Some("25000.75")
        );
    }

    #[test]
    fn separators_are_read_as_the_mapping_writes_them() {
        assert_eq!(NumberFormat::parse(",", Some(".")), Ok(german()));
        assert_eq!(
            NumberFormat::parse(",", Some("")),
            NumberFormat::new(',', None)
        );
        assert_eq!(NumberFormat::parse(",", None), NumberFormat::new(',', None));
        let none = NumberFormat::parse(",", Some("none")).unwrap_err();
        assert!(none.contains("leave thousands out"), "{none}");
        assert!(NumberFormat::parse(",,", None).is_err());
        assert!(NumberFormat::parse(".", Some("x")).is_err());
        assert!(NumberFormat::parse(".", Some(".")).is_err());
        let both = NumberFormat::parse(";", Some("x")).unwrap_err();
        assert!(
            both.contains("decimal") && both.contains("thousands"),
            "{both}"
        );
    }

    #[test]
    fn separators_that_cannot_work_together_are_refused() {
        assert!(NumberFormat::new(',', Some(',')).is_err());
        assert!(NumberFormat::new(';', None).is_err());
        assert!(NumberFormat::new('.', Some('1')).is_err());
        assert!(NumberFormat::new('.', Some('x')).is_err());
        assert_eq!(german().example(), "10.000,50");
    }
}
