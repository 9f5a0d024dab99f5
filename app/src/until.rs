//! The timed pause in the form: "resume automatically after N minutes" or
//! "at" an end time (UTC, like every time on the page), turned into the
//! request's `until`. Whether it lies in the future is the server's call
//! (its clock), not the browser's.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};

use crate::format;

/// The longest timed pause the form offers: a week.
pub const MAX_MINUTES: u32 = 7 * 24 * 60;

/// `until` for a pause: `None` when neither field is filled in.
pub fn until_of(minutes: &str, at: &str, now_ms: i64) -> Result<Option<String>, String> {
    let (minutes, at) = (minutes.trim(), at.trim());
    match (minutes.is_empty(), at.is_empty()) {
        (true, true) => Ok(None),
        (false, false) => Err("Give either minutes or an end time, not both.".into()),
        (false, true) => {
            let m: u32 = minutes
                .parse()
                .ok()
                .filter(|m| (1..=MAX_MINUTES).contains(m))
                .ok_or_else(|| {
                    format!("Minutes must be a whole number from 1 to {MAX_MINUTES}.")
                })?;
            let now = DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
            Ok(Some(format::iso(now + TimeDelta::minutes(i64::from(m)))))
        }
        (true, false) => parse_utc(at)
            .map(|t| Some(format::iso(t)))
            .ok_or_else(|| "The end time must be a date and time (UTC).".into()),
    }
}

/// `2026-11-22T19:47` or `2026-11-22T19:47:28` (a `datetime-local` value),
/// read as UTC.
fn parse_utc(s: &str) -> Option<DateTime<Utc>> {
    let full = if s.len() == 16 {
        format!("{s}:00")
    } else {
        s.to_string()
    };
    full.parse::<NaiveDateTime>().ok().map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_376_848_000; // 2026-11-22T19:47:28Z

    #[test]
    fn minutes_count_from_now() {
        assert_eq!(
            until_of("30", "", NOW),
            Ok(Some("2026-11-22T20:17:28Z".into()))
        );
        assert_eq!(until_of(" ", "", NOW), Ok(None));
        for bad in ["0", "-5", "1.5", "ten", "10081"] {
            assert!(until_of(bad, "", NOW).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_end_time_is_read_as_utc() {
        assert_eq!(
            until_of("", "2026-11-22T21:00", NOW),
            Ok(Some("2026-11-22T21:00:00Z".into()))
        );
        assert_eq!(
            until_of("", "2026-11-22T21:00:05", NOW),
            Ok(Some("2026-11-22T21:00:05Z".into()))
        );
        assert!(until_of("", "tomorrow", NOW).is_err());
    }

    #[test]
    fn both_at_once_is_refused() {
        assert!(until_of("5", "2026-11-22T21:00", NOW).is_err());
    }
}
