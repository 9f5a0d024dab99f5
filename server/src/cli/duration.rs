//! Durations on the command line (`90s`, `10m`, `500ms`, `7d`; the parser
//! is the server's own, [`server::domain::parse_duration`]) and the end of
//! a `--for` window.

use std::time::Duration;

pub use server::domain::parse_duration;

use super::{CliResult, Failure};

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
    fn a_window_ends_that_long_from_now() {
        let end = time_after(Duration::from_secs(3600)).unwrap();
        let end = chrono::DateTime::parse_from_rfc3339(&end).unwrap();
        let ahead = end.signed_duration_since(chrono::Utc::now()).num_seconds();
        assert!((3595..=3600).contains(&ahead), "{ahead}");
        assert!(time_after(Duration::MAX).is_err());
    }
}
