//! Locale number formats (`10.000,50`, `10 000,50`, `10,000.50`): a CRM export writes
//! amounts the way its user's locale does, and the API wants a plain JSON number.
//!
//! Parsing is strict on purpose: a thousands separator must split the integer part into
//! groups of three, so `10,000.50` read with `decimal = ","` is refused instead of becoming
//! ten. A wrong amount sent to Partner Center is worse than a row to fix.

/// How a number column writes its numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NumberFormat {
    /// The decimal separator (`.` or `,`).
    pub decimal: char,
    /// The thousands separator, if the export uses one (`.`, `,`, `'`, space, no-break space).
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
    /// A format; `None` with the reason when the separators cannot work together.
    pub fn new(decimal: char, thousands: Option<char>) -> Result<Self, String> {
        if !matches!(decimal, '.' | ',') {
            return Err(format!("decimal = {decimal:?} must be \".\" or \",\""));
        }
        if let Some(t) = thousands {
            if t == decimal {
                return Err("decimal and thousands must be different characters".into());
            }
            if t.is_ascii_digit() || t == '-' || t == '+' {
                return Err(format!("thousands = {t:?} cannot be a digit or a sign"));
            }
        }
        Ok(NumberFormat { decimal, thousands })
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
    fn separators_that_cannot_work_together_are_refused() {
        assert!(NumberFormat::new(',', Some(',')).is_err());
        assert!(NumberFormat::new(';', None).is_err());
        assert!(NumberFormat::new('.', Some('1')).is_err());
        assert_eq!(german().example(), "10.000,50");
    }
}
