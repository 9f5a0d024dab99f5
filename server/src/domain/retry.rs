//! Retry backoff for failed jobs.

use chrono::{DateTime, Duration, Utc};

/// When a job that failed on attempt `attempts` (1-based) may run again:
/// exponential from 1 s, doubling, capped at 10 minutes. Deterministic (no
/// jitter) so tests and operators can predict it.
pub fn next_run_after(attempts: i32, now: DateTime<Utc>) -> DateTime<Utc> {
    let exp = attempts.clamp(1, 20) - 1;
    let secs = (1i64 << exp).min(600);
    now + Duration::seconds(secs)
}

/// What happens to a job that failed: retried later, or failed for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    RetryAt(DateTime<Utc>),
    Final,
}

pub fn on_failure(
    attempts: i32,
    max_attempts: i32,
    retryable: bool,
    now: DateTime<Utc>,
) -> FailureOutcome {
    if retryable && attempts < max_attempts {
        FailureOutcome::RetryAt(next_run_after(attempts, now))
    } else {
        FailureOutcome::Final
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(next_run_after(1, t0()) - t0(), Duration::seconds(1));
        assert_eq!(next_run_after(2, t0()) - t0(), Duration::seconds(2));
        assert_eq!(next_run_after(5, t0()) - t0(), Duration::seconds(16));
        assert_eq!(next_run_after(30, t0()) - t0(), Duration::seconds(600));
    }

    #[test]
    fn retry_while_attempts_remain_and_retryable() {
        assert!(matches!(
            on_failure(1, 3, true, t0()),
            FailureOutcome::RetryAt(_)
        ));
        assert_eq!(on_failure(3, 3, true, t0()), FailureOutcome::Final);
        assert_eq!(on_failure(1, 3, false, t0()), FailureOutcome::Final);
    }
}
