//! Reading the timestamps the server writes, without chrono's general
//! parser.
//!
//! Every timestamp in a response is written by chrono's `Serialize` as RFC
//! 3339 (`2026-11-22T19:47:28.123Z`). chrono's `Deserialize` reads them with
//! its general format-driven parser, which is ~9 KB of WASM the dashboard
//! pays for on every page load; this reader covers exactly RFC 3339 in a
//! few hundred bytes. Response fields use it (`deserialize_with`); request
//! fields keep chrono's more lenient reader.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::de::{Deserialize, Deserializer, Error};

/// Reads `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (RFC 3339: `T`/`Z`
/// in either case, any number of fraction digits, nanosecond precision).
pub fn parse_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<u32> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let sep = |at: usize, c: u8| b.get(at).is_some_and(|x| x.eq_ignore_ascii_case(&c));
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 2)?, num(8, 2)?)?;
    let (h, m, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let mut at = 19;
    let mut nanos = 0u32;
    if sep(at, b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            // Digits past nanoseconds are read and dropped.
            if at - start < 9 {
                nanos = nanos * 10 + u32::from(b[at] - b'0');
            }
            at += 1;
        }
        let read = at - start;
        if read == 0 {
            return None;
        }
        nanos *= 10u32.pow(9u32.saturating_sub(read as u32));
    }
    let offset_s = if sep(at, b'Z') && at + 1 == b.len() {
        0
    } else {
        let sign = match b.get(at) {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return None,
        };
        if !sep(at + 3, b':') || at + 6 != b.len() {
            return None;
        }
        let (oh, om) = (num(at + 1, 2)?, num(at + 4, 2)?);
        if oh > 23 || om > 59 {
            return None;
        }
        sign * i64::from(oh * 3600 + om * 60)
    };
    // A leap second (`:60`) is kept as chrono keeps it: 59 s + 1 s of nanos.
    let (sec, nanos) = if sec == 60 {
        (59, nanos.checked_add(1_000_000_000)?)
    } else {
        (sec, nanos)
    };
    let local = date.and_hms_nano_opt(h, m, sec, nanos)?;
    let utc = local.checked_sub_signed(TimeDelta::seconds(offset_s))?;
    Some(utc.and_utc())
}

/// `#[serde(deserialize_with = "crate::time::rfc3339")]`.
pub fn rfc3339<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    parse_rfc3339(&s).ok_or_else(|| D::Error::custom(format_args!("not an RFC 3339 time: {s}")))
}

/// [`rfc3339`] for an optional field (`null` or absent is `None`; pair it
/// with `#[serde(default)]`).
pub fn rfc3339_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    match <Option<std::borrow::Cow<'de, str>>>::deserialize(d)? {
        None => Ok(None),
        Some(s) => parse_rfc3339(&s)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format_args!("not an RFC 3339 time: {s}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What chrono's own reader makes of it.
    fn chrono(s: &str) -> Option<DateTime<Utc>> {
        s.parse::<DateTime<Utc>>().ok()
    }

    #[test]
    fn reads_what_chrono_writes() {
        // Whole seconds, ms, µs, ns: chrono's Serialize picks the shortest.
        for ms in [
            0i64,
            1,
            999,
            1_795_376_848_000,
            1_795_376_848_123,
            -86_400_001,
        ] {
            for extra_ns in [0u32, 456_000, 456_789] {
                let t = DateTime::from_timestamp_millis(ms).unwrap()
                    + TimeDelta::nanoseconds(i64::from(extra_ns));
                let json = serde_json::to_string(&t).unwrap();
                let text: String = serde_json::from_str(&json).unwrap();
                assert_eq!(parse_rfc3339(&text), Some(t), "{text}");
            }
        }
    }

    #[test]
    fn agrees_with_chrono_on_rfc3339_forms() {
        for s in [
            "2026-11-22T19:47:28Z",
            "2026-11-22t19:47:28z",
            "2026-11-22T19:47:28.5Z",
            "2026-11-22T19:47:28.123456789Z",
            "2026-11-22T19:47:28.1234567891Z",
            "2026-11-22T19:47:28+02:00",
            "2026-11-22T01:47:28.25-05:30",
            "2026-01-01T00:30:00+01:00",
            "2024-02-29T12:00:00Z",
            "2016-12-31T23:59:60Z",
        ] {
            assert_eq!(parse_rfc3339(s), chrono(s), "{s}");
            assert!(parse_rfc3339(s).is_some(), "{s}");
        }
    }

    #[test]
    fn refuses_what_is_not_rfc3339() {
        for s in [
            "",
            "2026-11-22",
            "2026-11-22T19:47:28",
            "2026-11-22T19:47:28.Z",
            "2026-11-22T19:47Z",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-11-22T24:00:00Z",
            "2026-11-22T19:47:28+2:00",
            "2026-11-22T19:47:28+24:00",
            "2026-11-22T19:47:28Zx",
            "2026-11-22T19:47:28+02:00x",
            "2026-11-2xT19:47:28Z",
            "+2026-11-22T19:47:28Z",
            "2026-11-22T19:47:28 Z",
        ] {
            assert_eq!(parse_rfc3339(s), None, "{s:?}");
        }
    }

    #[test]
    fn serde_helpers_read_fields_and_nulls() {
        #[derive(serde::Deserialize)]
        struct T {
            #[serde(deserialize_with = "rfc3339")]
            at: DateTime<Utc>,
            #[serde(default, deserialize_with = "rfc3339_opt")]
            maybe: Option<DateTime<Utc>>,
            #[serde(default, deserialize_with = "rfc3339_opt")]
            absent: Option<DateTime<Utc>>,
        }
        let t: T = serde_json::from_str(r#"{"at":"1970-01-01T00:00:01Z","maybe":null}"#).unwrap();
        assert_eq!(t.at.timestamp(), 1);
        assert_eq!((t.maybe, t.absent), (None, None));
        let t: T =
            serde_json::from_str(r#"{"at":"1970-01-01T00:00:01Z","maybe":"1970-01-01T00:00:02Z"}"#)
                .unwrap();
        assert_eq!(t.maybe.map(|m| m.timestamp()), Some(2));
        let err = serde_json::from_str::<T>(r#"{"at":"yesterday"}"#)
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("not an RFC 3339 time: yesterday")));
    }
}
