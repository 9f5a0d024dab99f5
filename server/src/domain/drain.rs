//! Drain estimates, computed once (here) and sent to every client: how
//! far the fleet is toward drained, when it should get there, and when
//! particular workers should be idle.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use wire::{BlockingJob, ControlEvent, DrainMetrics, DrainProgress, Job, RunningSample};

/// The live jobs (queued and running) of the whole queue or of one named
/// queue: what the drain metrics, the queue list and every pause read.
/// Counting them reads only live rows (a partial index), so it costs the
/// same with a million finished jobs in the table as with none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveCounts {
    /// Claimable now.
    pub queued: i64,
    /// Queued, not claimable before their `runAfter`.
    pub scheduled: i64,
    pub running: i64,
    /// Running with an expired lease.
    pub stale_running: i64,
}

impl LiveCounts {
    pub fn drain_metrics(&self) -> DrainMetrics {
        DrainMetrics::new(self.queued, self.running, self.stale_running)
    }
}

/// Job counts by status for `/status` and `/metrics`: the live ones, and
/// the finished ones (which retention bounds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobCounts {
    pub queued: i64,
    pub scheduled: i64,
    pub running: i64,
    pub stale_running: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub cancelled: i64,
}

impl JobCounts {
    pub fn drain_metrics(&self) -> DrainMetrics {
        DrainMetrics::new(self.queued, self.running, self.stale_running)
    }

    /// The live counts with the finished ones `(succeeded, failed,
    /// cancelled)`.
    pub fn new(live: LiveCounts, finished: (i64, i64, i64)) -> JobCounts {
        JobCounts {
            queued: live.queued,
            scheduled: live.scheduled,
            running: live.running,
            stale_running: live.stale_running,
            succeeded: finished.0,
            failed: finished.1,
            cancelled: finished.2,
        }
    }
}

/// Seconds until drained at `per_minute` completions, if it will drain.
pub fn eta_seconds(metrics: &DrainMetrics, per_minute: f64) -> Option<f64> {
    let left = metrics.running + metrics.stale_running;
    if left == 0 || per_minute <= 0.0 {
        None
    } else {
        Some(left as f64 / per_minute * 60.0)
    }
}

/// When a job should end: its start plus the recent mean duration of its
/// type (`None` without a start or a history).
pub fn expected_end(job: &Job, mean_ms: &HashMap<String, f64>) -> Option<DateTime<Utc>> {
    let (start, ms) = (job.started_at?, mean_ms.get(&job.job_type)?);
    Some(start + Duration::milliseconds(*ms as i64))
}

/// A job that keeps the fleet from having drained, as the drain card shows
/// it.
pub fn blocking_job(job: &Job, now: DateTime<Utc>, mean_ms: &HashMap<String, f64>) -> BlockingJob {
    BlockingJob {
        id: job.id,
        job_type: job.job_type.clone(),
        worker_id: job.worker_id.clone(),
        started_at: job.started_at,
        lease_expires_at: job.lease_expires_at,
        stale: job.lease_expires_at.is_some_and(|t| t < now),
        paused_at_checkpoint: job.paused_at_checkpoint,
        expected_end_at: expected_end(job, mean_ms),
    }
}

/// Seconds until `workers` should be idle: the latest expected end of the
/// jobs they run. `Some(0)` when they run nothing; `None` when one of
/// their jobs has no expected end (its type has no recent history).
pub fn workers_idle_in(
    running: &[Job],
    workers: &[String],
    mean_ms: &HashMap<String, f64>,
    now: DateTime<Utc>,
) -> Option<f64> {
    let mut eta: f64 = 0.0;
    let theirs = running
        .iter()
        .filter(|j| j.worker_id.as_ref().is_some_and(|w| workers.contains(w)));
    for job in theirs {
        let end = expected_end(job, mean_ms)?;
        eta = eta.max((end - now).num_milliseconds().max(0) as f64 / 1000.0);
    }
    Some(eta)
}

/// When the current pause began and how many jobs were in flight then: the
/// oldest pause event of the unbroken run of pause events at the top of the
/// audit (a mode switch while paused is a pause event too). `None` while
/// running, or when the audit no longer reaches back to it.
pub fn pause_start(workers_paused: bool, latest: &[ControlEvent]) -> Option<(DateTime<Utc>, i64)> {
    if !workers_paused {
        return None;
    }
    latest
        .iter()
        // Per-worker actions (`worker.pause`, …) are not the global pause.
        .filter(|e| e.action == "pause" || e.action == "resume")
        .take_while(|e| e.action == "pause")
        .last()
        .map(|e| (e.created_at, e.metrics.running + e.metrics.stale_running))
}

/// Progress toward drained, relative to the most jobs in flight since the
/// pause began: the count at the pause, the peak of the history since
/// then, or now.
pub fn progress(
    metrics: &DrainMetrics,
    at_pause: i64,
    history: &[RunningSample],
    since: Option<DateTime<Utc>>,
) -> DrainProgress {
    let left = metrics.running + metrics.stale_running;
    let peak = history
        .iter()
        .filter(|s| since.is_none_or(|t| s.at >= t))
        .map(|s| s.running + s.stale_running)
        .max()
        .unwrap_or(0);
    let total = at_pause.max(peak).max(left);
    let percent = if total == 0 {
        100
    } else {
        (total - left) * 100 / total
    };
    DrainProgress {
        left,
        total,
        percent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;
    use wire::JobStatus;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn job(worker: &str, job_type: &str, started: Option<i64>) -> Job {
        Job {
            id: Uuid::new_v4(),
            job_type: job_type.into(),
            queue: "default".into(),
            payload: serde_json::json!({}),
            priority: 0,
            status: JobStatus::Running,
            attempts: 1,
            max_attempts: 3,
            worker_id: Some(worker.into()),
            lease_token: None,
            lease_expires_at: Some(t(30)),
            run_after: t(0),
            unique_key: None,
            paused_at_checkpoint: false,
            result: None,
            error: None,
            created_at: t(0),
            updated_at: t(0),
            started_at: started.map(t),
            finished_at: None,
        }
    }

    fn ev(action: &str, at: i64, in_flight: i64) -> ControlEvent {
        ControlEvent {
            id: at,
            action: action.into(),
            mode: None,
            reason: "r".into(),
            actor: "a".into(),
            force_resume: false,
            metrics: DrainMetrics::new(0, in_flight, 0),
            version: 1,
            success: true,
            request_id: None,
            created_at: t(at),
            targets: vec![],
            details: None,
            queue: None,
        }
    }

    fn sample(at: i64, running: i64) -> RunningSample {
        RunningSample {
            at: t(at),
            running,
            stale_running: 0,
        }
    }

    #[test]
    fn eta_from_rate() {
        assert_eq!(eta_seconds(&DrainMetrics::new(0, 0, 0), 10.0), None);
        assert_eq!(eta_seconds(&DrainMetrics::new(5, 3, 1), 0.0), None);
        assert_eq!(eta_seconds(&DrainMetrics::new(5, 3, 1), 2.0), Some(120.0));
    }

    #[test]
    fn workers_are_idle_when_their_last_job_should_end() {
        let mean: HashMap<String, f64> = [("a".to_string(), 60_000.0)].into();
        let running = [
            job("w1", "a", Some(0)),
            job("w1", "a", Some(30)),
            job("w2", "b", Some(0)),
        ];
        let w = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            workers_idle_in(&running, &w(&["w1"]), &mean, t(40)),
            Some(50.0)
        );
        assert_eq!(
            workers_idle_in(&running, &w(&["w1"]), &mean, t(200)),
            Some(0.0)
        );
        assert_eq!(
            workers_idle_in(&running, &w(&["w3"]), &mean, t(40)),
            Some(0.0)
        );
        assert_eq!(
            workers_idle_in(&running, &w(&["w2"]), &mean, t(40)),
            None,
            "type b has no history"
        );
        let blocking = blocking_job(&running[0], t(40), &mean);
        assert_eq!(blocking.expected_end_at, Some(t(60)));
        assert!(blocking.stale, "lease expired at t(30)");
    }

    #[test]
    fn the_pause_starts_at_the_oldest_pause_of_the_latest_run() {
        let audit = [
            ev("pause", 50, 2),
            ev("worker.drain", 45, 9),
            ev("pause", 40, 3),
            ev("resume", 30, 0),
            ev("pause", 20, 7),
        ];
        assert_eq!(pause_start(true, &audit), Some((t(40), 3)));
        assert_eq!(pause_start(false, &audit), None);
        assert_eq!(pause_start(true, &[ev("resume", 1, 0)]), None);
    }

    #[test]
    fn progress_counts_from_the_most_in_flight_since_the_pause() {
        let m = DrainMetrics::new(0, 2, 0);
        let p = progress(&m, 4, &[], None);
        assert_eq!((p.left, p.total, p.percent), (2, 4, 50));
        let history = [sample(10, 9), sample(20, 6)];
        assert_eq!(progress(&m, 4, &history, Some(t(20))).total, 6);
        assert_eq!(progress(&m, 4, &history, None).total, 9);
    }

    #[test]
    fn progress_is_complete_when_nothing_was_ever_in_flight() {
        let p = progress(&DrainMetrics::new(3, 0, 0), 0, &[], None);
        assert_eq!((p.left, p.total, p.percent), (0, 0, 100));
    }
}
