//! Text for times and durations, as the dashboard shows them. Pure functions
//! of an explicit `now`, so they are tested on the host.
//!
//! Times are written out by hand rather than with chrono's `format`, which
//! would add its whole formatting machinery to the WASM bundle.

use chrono::{DateTime, Datelike, Timelike, Utc};

/// `2026-11-22 19:47:28 UTC`: unambiguous for operators in any time zone.
pub fn absolute(t: DateTime<Utc>) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `19:47:28`: for lists where the date is rarely needed.
pub fn clock(t: DateTime<Utc>) -> String {
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

/// The machine-readable form for `<time datetime=…>`.
pub fn iso(t: DateTime<Utc>) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `just now`, `45 s ago`, `3 min ago`, `2 h 5 min ago`, `3 d ago`, or
/// `in 25 s` for a time still to come (a lease expiry, an expected end).
pub fn relative(t: DateTime<Utc>, now_ms: i64) -> String {
    relative_ms(t.timestamp_millis(), now_ms)
}

/// [`relative`] for a time in ms since the epoch.
pub fn relative_ms(t_ms: i64, now_ms: i64) -> String {
    let delta_s = (now_ms - t_ms) / 1000;
    if delta_s.abs() < 5 {
        return "just now".to_string();
    }
    let span = span(delta_s.unsigned_abs());
    if delta_s > 0 {
        format!("{span} ago")
    } else {
        format!("in {span}")
    }
}

/// An ETA: `about 40 s`, `about 3 min`, `about 1 h 20 min`.
pub fn eta(seconds: f64) -> String {
    let s = if seconds.is_finite() && seconds > 0.0 {
        seconds.round() as u64
    } else {
        0
    };
    format!("about {}", span(s.max(1)))
}

/// `45 s`, `3 min`, `2 h 5 min`, `3 d`.
fn span(s: u64) -> String {
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => {
            let (h, m) = (s / 3600, (s % 3600) / 60);
            if m == 0 {
                format!("{h} h")
            } else {
                format!("{h} h {m} min")
            }
        }
        _ => format!("{} d", s / 86_400),
    }
}

/// `3.0`, `0.5`: one decimal without the float formatter (which would add
/// ~10 KB to the WASM bundle).
pub fn tenths(x: f64) -> String {
    let t = if x.is_finite() {
        (x * 10.0).round() as i64
    } else {
        0
    };
    let sign = if t < 0 { "-" } else { "" };
    format!("{sign}{}.{}", t.abs() / 10, t.abs() % 10)
}

/// Milliseconds as seconds: `2`, `1.5`.
pub fn seconds(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        (ms / 1000).to_string()
    } else {
        tenths(ms as f64 / 1000.0)
    }
}

/// The first block of a UUID: enough to tell jobs apart on screen (the full
/// id is in the element's title).
pub fn short_id(id: &str) -> &str {
    id.split('-').next().unwrap_or(id)
}

/// `1 job`, `3 jobs`.
pub fn count(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    const NOW: i64 = 1_795_000_000;

    fn rel(then: i64) -> String {
        relative(t(then), NOW * 1000)
    }

    #[test]
    fn absolute_is_zero_padded_utc() {
        assert_eq!(absolute(t(0)), "1970-01-01 00:00:00 UTC");
        assert_eq!(absolute(t(1_795_376_848)), "2026-11-22 19:47:28 UTC");
        assert_eq!(clock(t(1_795_376_848)), "19:47:28");
        assert_eq!(iso(t(1_795_376_848)), "2026-11-22T19:47:28Z");
    }

    #[test]
    fn relative_rounds_to_the_largest_useful_unit() {
        assert_eq!(rel(NOW), "just now");
        assert_eq!(rel(NOW - 4), "just now");
        assert_eq!(rel(NOW - 45), "45 s ago");
        assert_eq!(rel(NOW - 3 * 60 - 10), "3 min ago");
        assert_eq!(rel(NOW - 2 * 3600 - 5 * 60), "2 h 5 min ago");
        assert_eq!(rel(NOW - 2 * 3600), "2 h ago");
        assert_eq!(rel(NOW - 3 * 86_400), "3 d ago");
    }

    #[test]
    fn relative_speaks_of_the_future_for_times_to_come() {
        assert_eq!(rel(NOW + 25), "in 25 s");
        assert_eq!(rel(NOW + 120), "in 2 min");
    }

    #[test]
    fn eta_is_approximate_and_never_zero_or_negative() {
        assert_eq!(eta(40.2), "about 40 s");
        assert_eq!(eta(190.0), "about 3 min");
        assert_eq!(eta(4800.0), "about 1 h 20 min");
        assert_eq!(eta(0.0), "about 1 s");
        assert_eq!(eta(f64::NAN), "about 1 s");
    }

    #[test]
    fn decimals_without_the_float_formatter() {
        assert_eq!(tenths(3.0), "3.0");
        assert_eq!(tenths(0.46), "0.5");
        assert_eq!(tenths(12.34), "12.3");
        assert_eq!(tenths(-1.25), "-1.3");
        assert_eq!(tenths(f64::NAN), "0.0");
        assert_eq!(seconds(2000), "2");
        assert_eq!(seconds(1500), "1.5");
    }

    #[test]
    fn short_id_and_counts() {
        assert_eq!(short_id("67e55044-10b1-426f-9247-bb680e5fe0c8"), "67e55044");
        assert_eq!(short_id("plain"), "plain");
        assert_eq!(count(1, "job", "jobs"), "1 job");
        assert_eq!(count(0, "job", "jobs"), "0 jobs");
    }
}
