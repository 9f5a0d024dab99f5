//! Retention of finished jobs (and, when asked for, of control events):
//! how old each kind may grow before the background pruner deletes it.

use chrono::{DateTime, Duration, Utc};

use super::input::parse_duration;

/// Finished jobs kept this long by default: a week of succeeded and
/// cancelled ones, a month of failed ones (they are the ones looked into).
pub const DEFAULT_SUCCEEDED: &str = "7d";
pub const DEFAULT_CANCELLED: &str = "7d";
pub const DEFAULT_FAILED: &str = "30d";

/// How long each finished status (and the audit log) is kept; `None`
/// keeps it forever (configured as `0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub succeeded: Option<Duration>,
    pub cancelled: Option<Duration>,
    pub failed: Option<Duration>,
    /// Control events are never pruned unless this is set.
    pub events: Option<Duration>,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        let days = Duration::days;
        RetentionPolicy {
            succeeded: Some(days(7)),
            cancelled: Some(days(7)),
            failed: Some(days(30)),
            events: None,
        }
    }
}

/// A retention age: a duration (`7d`, `12h`), `0` for "keep forever".
pub fn parse_age(field: &str, raw: &str) -> Result<Option<Duration>, String> {
    let d = parse_duration(raw).map_err(|e| format!("{field}: {e}"))?;
    if d.is_zero() {
        return Ok(None);
    }
    if d < std::time::Duration::from_secs(1) {
        return Err(format!(
            "{field}: {raw:?} is under a second; use 0 to keep forever"
        ));
    }
    Duration::from_std(d)
        .map(Some)
        .map_err(|_| format!("{field}: {raw:?} is too long"))
}

impl RetentionPolicy {
    /// The finished statuses to prune at `now`, each with the time before
    /// which its jobs (by `finished_at`) go.
    pub fn job_cutoffs(&self, now: DateTime<Utc>) -> Vec<(&'static str, DateTime<Utc>)> {
        [
            ("succeeded", self.succeeded),
            ("cancelled", self.cancelled),
            ("failed", self.failed),
        ]
        .into_iter()
        .filter_map(|(status, age)| Some((status, now - age?)))
        .collect()
    }

    /// Worker result records (the idempotency record of each submitted
    /// result) that finished before this go: they are kept as long as the
    /// longest-kept finished job, so a replayed submission of any job still
    /// on record is answered from its record; kept forever when any
    /// finished status is.
    pub fn results_cutoff(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let longest = [self.succeeded, self.cancelled, self.failed]
            .into_iter()
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .max()?;
        Some(now - longest)
    }

    /// Control events created before this go, when configured.
    pub fn events_cutoff(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.events.map(|age| now - age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_parse_and_zero_keeps_forever() {
        assert_eq!(parse_age("x", "7d"), Ok(Some(Duration::days(7))));
        assert_eq!(parse_age("x", "0"), Ok(None));
        assert!(parse_age("retain_failed", "soon")
            .unwrap_err()
            .starts_with("retain_failed"));
        assert!(parse_age("x", "500ms").is_err());
    }

    #[test]
    fn cutoffs_follow_the_policy() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let p = RetentionPolicy::default();
        assert_eq!(
            p.job_cutoffs(now),
            vec![
                ("succeeded", now - Duration::days(7)),
                ("cancelled", now - Duration::days(7)),
                ("failed", now - Duration::days(30)),
            ]
        );
        assert_eq!(p.events_cutoff(now), None, "events kept unless configured");
        assert_eq!(
            p.results_cutoff(now),
            Some(now - Duration::days(30)),
            "result records live as long as the longest-kept finished job"
        );
        let keep_failed = RetentionPolicy {
            failed: None,
            events: Some(Duration::days(90)),
            ..p
        };
        assert_eq!(keep_failed.job_cutoffs(now).len(), 2);
        assert_eq!(
            keep_failed.results_cutoff(now),
            None,
            "a status kept forever keeps the result records too"
        );
        assert_eq!(
            keep_failed.events_cutoff(now),
            Some(now - Duration::days(90))
        );
        assert_eq!(parse_age("x", DEFAULT_SUCCEEDED).unwrap(), p.succeeded);
        assert_eq!(parse_age("x", DEFAULT_CANCELLED).unwrap(), p.cancelled);
        assert_eq!(parse_age("x", DEFAULT_FAILED).unwrap(), p.failed);
    }
}
