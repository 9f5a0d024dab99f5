//! Durations on the command line (`90s`, `10m`, `500ms`) and the end of a
//! `--for` window.

use std::time::Duration;

use super::{CliResult, Failure};

/// `10m`, `30s`, `500ms`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?}: use e.g. 90s, 10m, 500ms"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("bad duration unit in {s:?}: use ms, s, m or h")),
    }
}

/// `--for 30m`: the RFC 3339 time that long from now (this machine's clock).
pub fn time_after(d: Duration) -> CliResult<String> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| chrono::Utc::now().checked_add_signed(d))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .ok_or_else(|| Failure(2, format!("--for {d:?} is too long")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5y").is_err());
    }

    #[test]
    fn a_window_ends_that_long_from_now() {
        let end = time_after(Duration::from_secs(3600)).unwrap();
        let end = chrono::DateTime::parse_from_rfc3339(&end).unwrap();
        let ahead = end.signed_duration_since(chrono::Utc::now()).num_seconds();
        assert!((3595..=3600).contains(&ahead), "{ahead}");
        assert!(time_after(Duration::MAX).is_err());
    }
}
