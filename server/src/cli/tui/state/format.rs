//! How the TUI writes ages, ETAs and times: short, for narrow columns.

use chrono::{DateTime, Utc};

/// `4s`, `3m`, `2h`, `5d`.
pub fn age(seconds: i64) -> String {
    match seconds.max(0) {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// `about 40 s`, `about 3 min`, `about 1 h 20 min`.
pub fn eta(seconds: f64) -> String {
    let s = if seconds.is_finite() {
        seconds.round().max(1.0) as i64
    } else {
        1
    };
    match s {
        s if s < 90 => format!("about {s} s"),
        s if s < 3600 => format!("about {} min", (s + 30) / 60),
        s => format!("about {} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// `14:03:09` (UTC, as the server's times are).
pub fn clock(t: DateTime<Utc>) -> String {
    t.format("%H:%M:%S").to_string()
}

/// `1 worker`, `3 workers`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The first eight characters of an id (a UUID's first group).
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_etas_and_counts_read_short() {
        assert_eq!(age(-3), "0s");
        assert_eq!(age(59), "59s");
        assert_eq!(age(61), "1m");
        assert_eq!(age(7200), "2h");
        assert_eq!(age(200_000), "2d");
        assert_eq!(eta(40.2), "about 40 s");
        assert_eq!(eta(190.0), "about 3 min");
        assert_eq!(eta(4800.0), "about 1 h 20 min");
        assert_eq!(eta(f64::NAN), "about 1 s");
        assert_eq!(count(1, "worker", "workers"), "1 worker");
        assert_eq!(count(0, "worker", "workers"), "0 workers");
        assert_eq!(short("3f2a9c1b-0000"), "3f2a9c1b");
        assert_eq!(short("w1"), "w1");
    }
}
