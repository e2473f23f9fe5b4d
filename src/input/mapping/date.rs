//! CRM date formats and time zones: `12/31/2026` in `America/New_York` becomes the API's
//! UTC date-time `2026-12-31T05:00:00Z`.
//!
//! A date without a time means local midnight in the column's zone, which is what a user
//! in that zone means by "closes on the 31st". Local times that a DST change skips are
//! refused; ones it repeats take the earlier instant, as calendars do.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;

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
    /// A format; the reason when the pattern or zone is unusable.
    pub fn new(pattern: &str, zone: Option<&str>) -> Result<Self, String> {
        let zone = match zone {
            None => Tz::UTC,
            Some(name) => name.parse::<Tz>().map_err(|_| {
                format!(
                    "time_zone = {name:?} is not an IANA time zone such as \"America/New_York\""
                )
            })?,
        };
        let with_time = ["%H", "%I", "%M", "%T", "%R"]
            .iter()
            .any(|spec| pattern.contains(spec));
        let probe = NaiveDate::from_ymd_opt(2026, 12, 31).and_then(|d| d.and_hms_opt(13, 45, 0));
        let round_trip = probe.map(|p| p.format(pattern).to_string());
        let readable = round_trip.is_some_and(|text| parse(&text, pattern, with_time).is_some());
        if !readable {
            return Err(format!(
                "format = {pattern:?} is not a date pattern that can be read back; write it \
                 with chrono's strftime fields, e.g. \"%m/%d/%Y\" or \"%d.%m.%Y %H:%M\""
            ));
        }
        Ok(DateFormat {
            pattern: pattern.to_string(),
            zone,
            with_time,
        })
    }

    /// The cell as an RFC 3339 UTC date-time, or why it cannot be one.
    pub fn to_utc(&self, text: &str) -> Result<String, String> {
        let local = parse(text.trim(), &self.pattern, self.with_time).ok_or_else(|| {
            format!(
                "{:?} is not a date in the format {:?}",
                text.trim(),
                self.pattern
            )
        })?;
        let instant = self
            .zone
            .from_local_datetime(&local)
            .earliest()
            .ok_or_else(|| {
                format!(
                    "{local} does not exist in {} (a daylight-saving gap)",
                    self.zone
                )
            })?;
        Ok(instant
            .with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
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
    fn a_cell_in_another_format_says_which_format_was_expected() {
        let format = DateFormat::new("%m/%d/%Y", Some("Europe/Berlin")).unwrap();
        let error = format.to_utc("2026-12-31").unwrap_err();
        assert!(error.contains("%m/%d/%Y"), "{error}");
        assert!(format.to_utc("13/01/2026").is_err());
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
}
