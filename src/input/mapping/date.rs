//! CRM date formats and time zones: `12/31/2026` in `America/New_York` becomes the API's
//! UTC date-time `2026-12-31T05:00:00Z`.
//!
//! A date without a time means local midnight in the column's zone, which is what a user
//! in that zone means by "closes on the 31st"; where a daylight-saving change skips
//! midnight (Santiago, Havana), it means the day's first time instead. A local time that a
//! change skips is refused; one it repeats (the autumn hour, `25.10.2026 02:30` in Berlin)
//! takes the earlier instant, the summer-time one: the export cannot say which was meant,
//! calendars choose the same, and a closing date an hour off is harmless where a refused
//! row could not be fixed without changing the CRM's export. `docs/mapping.md` says so.
//!
//! The pattern is checked with chrono's own parser of patterns ([`StrftimeItems`]) before
//! it is ever used: formatting with an invalid pattern fails inside `Display`.

use chrono::format::{Item, Numeric, StrftimeItems};
use chrono::{
    Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeDelta, TimeZone,
    Utc,
};
use chrono_tz::Tz;
use std::fmt::Write as _;

/// How a date column writes its dates.
#[derive(Clone, Debug, PartialEq)]
pub struct DateFormat {
    /// A chrono `strftime` pattern (`%m/%d/%Y`, `%d.%m.%Y %H:%M`).
    pub pattern: String,
    /// The zone the dates are local to (`UTC` when not given).
    pub zone: Tz,
    /// Whether the pattern carries a time of day; without one a date means midnight.
    with_time: bool,
}

impl DateFormat {
    /// A format; the reason when the pattern or zone is unusable. Both are checked, and a
    /// mistake in each is told at once.
    pub fn new(pattern: &str, zone: Option<&str>) -> Result<Self, String> {
        let zone = match zone {
            None => Ok(Tz::UTC),
            Some(name) => name.parse::<Tz>().map_err(|_| {
                format!(
                    "time_zone = {name:?} is not an IANA time zone such as \"America/New_York\""
                )
            }),
        };
        match (zone, with_time(pattern)) {
            (Ok(zone), Ok(with_time)) => Ok(DateFormat {
                pattern: pattern.to_string(),
                zone,
                with_time,
            }),
            (Err(zone), Err(format)) => Err(format!("{zone}; {format}")),
            (Err(message), _) | (_, Err(message)) => Err(message),
        }
    }

    /// The cell as an RFC 3339 UTC date-time, or why it cannot be one.
    pub fn to_utc(&self, text: &str) -> Result<String, String> {
        let text = text.trim();
        let local = parse(text, &self.pattern, self.with_time)
            .ok_or_else(|| format!("{text:?} is not a date in the format {:?}", self.pattern))?;
        // chrono reads `%Y` from as few digits as there are: `12/31/26` would be the year 26.
        if local.year() < EARLIEST_YEAR {
            return Err(format!(
                "{text:?} is in the year {}: write the year with four digits, as the format {:?} \
                 reads it (%y reads two)",
                local.year(),
                self.pattern
            ));
        }
        let instant = match self.zone.from_local_datetime(&local) {
            LocalResult::Single(instant) => instant,
            // The repeated autumn hour: the earlier (summer-time) instant, as documented.
            LocalResult::Ambiguous(earlier, _) => earlier,
            LocalResult::None if !self.with_time => self.first_of_day(local).ok_or_else(|| {
                format!("{text:?} has no midnight or first hour in {}", self.zone)
            })?,
            LocalResult::None => {
                return Err(format!(
                    "{text:?} is not a time in {}: the clocks skip it when daylight saving \
                     time starts (a daylight-saving gap); write the time as the clocks showed it",
                    self.zone
                ));
            }
        };
        Ok(instant
            .with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }

    /// The first instant of the day of `midnight` where a daylight-saving change skips
    /// midnight itself: the first quarter hour after it that exists.
    fn first_of_day(&self, midnight: NaiveDateTime) -> Option<chrono::DateTime<Tz>> {
        (1..=4 * 24).find_map(|quarter| {
            let local = midnight.checked_add_signed(TimeDelta::minutes(15 * quarter))?;
            self.zone.from_local_datetime(&local).earliest()
        })
    }
}

/// Years before this are refused: a CRM's closing date is never that old, and such a year
/// is a short year read by `%Y`.
const EARLIEST_YEAR: i32 = 1000;

/// Example patterns, for messages.
const EXAMPLES: &str =
    "write it with chrono's strftime fields, e.g. \"%m/%d/%Y\" or \"%d.%m.%Y %H:%M\"";

/// Whether `pattern` carries a time of day; why not, when it is no pattern that can be
/// read back.
fn with_time(pattern: &str) -> Result<bool, String> {
    let items = pattern_items(pattern)?;
    let with_time = items.iter().any(|item| {
        matches!(
            item,
            Item::Numeric(Numeric::Hour | Numeric::Hour12 | Numeric::Minute, _)
        )
    });
    if !reads_back(pattern, &items, with_time) {
        return Err(format!(
            "format = {pattern:?} is not a date pattern that can be read back (it needs \
             the year, month and day, and minutes with an hour); {EXAMPLES}"
        ));
    }
    Ok(with_time)
}

/// The pattern's fields as chrono reads them, or why it is not a chrono pattern.
fn pattern_items(pattern: &str) -> Result<Vec<Item<'_>>, String> {
    let items: Vec<Item<'_>> = StrftimeItems::new(pattern).collect();
    if items.iter().any(|item| matches!(item, Item::Error)) {
        return Err(format!(
            "format = {pattern:?} is not a chrono strftime pattern: it has an unknown or \
             incomplete % field{}; {EXAMPLES} (write %% for a literal %)",
            first_bad_field(pattern)
                .map(|field| format!(" ({field:?})"))
                .unwrap_or_default()
        ));
    }
    Ok(items)
}

/// The first `%` field of `pattern` that chrono refuses, for messages.
fn first_bad_field(pattern: &str) -> Option<&str> {
    let mut rest = pattern;
    while let Some(start) = rest.find('%') {
        let from = &rest[start..];
        // A field runs from `%` to its letter (or second `%`), past flags and widths.
        let end = from
            .char_indices()
            .skip(1)
            .find(|(_, c)| c.is_ascii_alphabetic() || *c == '%')
            .map_or(from.len(), |(i, c)| i + c.len_utf8());
        let field = &from[..end];
        if StrftimeItems::new(field).any(|item| matches!(item, Item::Error)) {
            return Some(field);
        }
        rest = &from[end..];
    }
    None
}

/// Whether a sample date written by `items` reads back: the pattern holds a whole date.
fn reads_back(pattern: &str, items: &[Item<'_>], with_time: bool) -> bool {
    let Some(probe) = NaiveDate::from_ymd_opt(2026, 12, 31).and_then(|d| d.and_hms_opt(13, 45, 0))
    else {
        return false;
    };
    let mut text = String::new();
    // `write!`, not `to_string()`: a field chrono cannot format is an error, not a panic.
    let written = write!(text, "{}", probe.format_with_items(items.iter()));
    written.is_ok() && parse(&text, pattern, with_time).is_some()
}

/// Reads `text` by `pattern`: a date-time, or a date at midnight.
fn parse(text: &str, pattern: &str, with_time: bool) -> Option<NaiveDateTime> {
    if with_time {
        NaiveDateTime::parse_from_str(text, pattern).ok()
    } else {
        NaiveDate::parse_from_str(text, pattern)
            .ok()
            .map(|d| d.and_time(NaiveTime::MIN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_us_date_in_new_york_becomes_utc_midnight_plus_five_hours() {
        let format = DateFormat::new("%m/%d/%Y", Some("America/New_York")).unwrap();
        assert_eq!(format.to_utc("12/31/2026").unwrap(), "2026-12-31T05:00:00Z");
        assert_eq!(format.to_utc("07/01/2026").unwrap(), "2026-07-01T04:00:00Z");
    }

    #[test]
    fn a_date_with_time_keeps_its_time_and_utc_is_the_default_zone() {
        let format = DateFormat::new("%d.%m.%Y %H:%M", None).unwrap();
        assert_eq!(
            format.to_utc("31.12.2026 13:30").unwrap(),
            "2026-12-31T13:30:00Z"
        );
    }

    #[test]
    fn a_bad_zone_and_a_bad_pattern_are_both_told() {
        let error = DateFormat::new("%m/%Y", Some("Mars/Olympus")).unwrap_err();
        assert!(error.contains("Mars/Olympus"), "{error}");
        assert!(error.contains("format = \"%m/%Y\""), "{error}");
        let error = DateFormat::new("%m/%d/%Y", Some("Mars/Olympus")).unwrap_err();
        assert!(!error.contains("format"), "{error}");
    }

    #[test]
    fn a_cell_in_another_format_says_which_format_was_expected() {
        let format = DateFormat::new("%m/%d/%Y", Some("Europe/Berlin")).unwrap();
        let error = format.to_utc("2026-12-31").unwrap_err();
        assert!(error.contains("%m/%d/%Y"), "{error}");
        assert!(format.to_utc("13/01/2026").is_err());
    }

    #[test]
    fn a_two_digit_year_read_by_a_four_digit_field_is_refused() {
        let format = DateFormat::new("%m/%d/%Y", Some("America/New_York")).unwrap();
        let error = format.to_utc("12/31/26").unwrap_err();
        assert!(
            error.contains("year 26") && error.contains("four digits"),
            "{error}"
        );
        let short = DateFormat::new("%m/%d/%y", None).unwrap();
        assert_eq!(short.to_utc("12/31/26").unwrap(), "2026-12-31T00:00:00Z");
    }

    #[test]
    fn a_local_time_skipped_by_daylight_saving_is_refused() {
        let format = DateFormat::new("%Y-%m-%d %H:%M", Some("Europe/Berlin")).unwrap();
        let error = format.to_utc("2026-03-29 02:30").unwrap_err();
        assert!(error.contains("daylight-saving"), "{error}");
    }

    #[test]
    fn unknown_zones_and_unreadable_patterns_are_refused() {
        assert!(DateFormat::new("%m/%d/%Y", Some("Mars/Olympus")).is_err());
        assert!(DateFormat::new("%m/%Y", None).is_err());
    }

    #[test]
    fn a_pattern_with_a_field_chrono_does_not_know_is_refused_naming_it() {
        let error = DateFormat::new("%Q/%d", Some("UTC")).unwrap_err();
        assert!(error.contains("(\"%Q\")"), "{error}");
        for pattern in ["%", "%d.%m.%Y %", "%-", "%:", "%.", "%#z", "%Y-%m-%d %3"] {
            assert!(DateFormat::new(pattern, None).is_err(), "{pattern}");
        }
        assert!(DateFormat::new("%d%%%m%%%Y", None).is_ok());
    }

    #[test]
    fn the_bad_field_is_found_past_literal_percents_and_flags() {
        assert_eq!(first_bad_field("%%Q %-d %Q"), Some("%Q"));
        assert_eq!(first_bad_field("%d.%m.%Y %"), Some("%"));
        assert_eq!(first_bad_field("%-d"), None);
    }

    #[test]
    fn every_hour_and_minute_field_counts_as_a_time_of_day() {
        for pattern in [
            "%d.%m.%Y %T",
            "%d.%m.%Y %k:%M",
            "%m/%d/%Y %l:%M %p",
            "%F %R",
        ] {
            let format = DateFormat::new(pattern, None).unwrap();
            assert!(format.with_time, "{pattern}");
        }
        let format = DateFormat::new("%d.%m.%Y %T", None).unwrap();
        assert_eq!(
            format.to_utc("31.12.2026 13:30:15").unwrap(),
            "2026-12-31T13:30:15Z"
        );
        assert!(!DateFormat::new("%d.%m.%Y", None).unwrap().with_time);
    }

    #[test]
    fn a_local_time_repeated_in_autumn_takes_the_earlier_summer_time_instant() {
        let format = DateFormat::new("%d.%m.%Y %H:%M", Some("Europe/Berlin")).unwrap();
        assert_eq!(
            format.to_utc("25.10.2026 02:30").unwrap(),
            "2026-10-25T00:30:00Z"
        );
        assert_eq!(
            format.to_utc("25.10.2026 03:30").unwrap(),
            "2026-10-25T02:30:00Z"
        );
    }

    #[test]
    fn the_spring_gap_names_the_cell_and_the_zone() {
        let format = DateFormat::new("%d.%m.%Y %H:%M", Some("Europe/Berlin")).unwrap();
        let error = format.to_utc("29.03.2026 02:30").unwrap_err();
        assert!(
            error.contains("\"29.03.2026 02:30\" is not a time in Europe/Berlin"),
            "{error}"
        );
        assert!(error.contains("daylight saving"), "{error}");
        assert_eq!(
            format.to_utc("29.03.2026 03:00").unwrap(),
            "2026-03-29T01:00:00Z"
        );
    }

    #[test]
    fn a_date_whose_midnight_is_skipped_means_the_first_time_of_that_day() {
        // Chile moves its clocks from 00:00 to 01:00 on the first Sunday of September.
        let format = DateFormat::new("%d/%m/%Y", Some("America/Santiago")).unwrap();
        assert_eq!(format.to_utc("06/09/2026").unwrap(), "2026-09-06T04:00:00Z");
        assert_eq!(format.to_utc("05/09/2026").unwrap(), "2026-09-05T04:00:00Z");
    }
}
