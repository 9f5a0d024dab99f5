//! How far the drain has come and when it should end: ONE pure function,
//! [`drain_estimate`], that everything on the page asks.
//!
//! The server is taking this computation over (`domain`, with fields on the
//! wire types the dashboard already receives); when it lands,
//! [`drain_estimate`] reads those fields instead and nothing else changes.

use chrono::{DateTime, Utc};
use wire::{DrainMetrics, DrainView, RunningSample, WorkerPauseStatus};

use crate::format;

/// Progress toward drained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Jobs still in flight (running + stale).
    pub left: i64,
    /// The most that were in flight since the pause began.
    pub total: i64,
    pub percent: i64,
}

/// The drain's progress and ETA.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DrainEstimate {
    pub progress: Progress,
    /// Seconds until drained at the recent completion rate; `None` when
    /// drained or when nothing has completed recently.
    pub eta_seconds: Option<f64>,
    /// Jobs finished per minute over the last five minutes.
    pub completions_per_minute: f64,
}

/// The estimate for a paused fleet (`None` while it runs: nothing drains).
pub fn drain_estimate(
    status: &WorkerPauseStatus,
    metrics: &DrainMetrics,
    view: Option<&DrainView>,
) -> Option<DrainEstimate> {
    if !status.workers_paused {
        return None;
    }
    let (since, at_pause) = pause_start(status).map_or((None, 0), |(t, n)| (Some(t), n));
    let history = view.map(|d| d.history.as_slice()).unwrap_or(&[]);
    Some(DrainEstimate {
        progress: drain_progress(metrics, at_pause, history, since),
        eta_seconds: view.and_then(|d| d.eta_seconds),
        completions_per_minute: view.map_or(0.0, |d| d.completions_per_minute),
    })
}

/// When the current pause began and how many jobs were in flight then: the
/// oldest pause event of the unbroken run of pause events at the top of the
/// audit (a mode switch while paused is a pause event too).
fn pause_start(status: &WorkerPauseStatus) -> Option<(DateTime<Utc>, i64)> {
    status
        .audit
        .latest
        .iter()
        // Per-worker actions (`worker.pause`, …) are not the global pause.
        .filter(|e| e.action == "pause" || e.action == "resume")
        .take_while(|e| e.action == "pause")
        .last()
        .map(|e| (e.created_at, e.metrics.running + e.metrics.stale_running))
}

/// Progress relative to the most jobs in flight since the pause began: the
/// count at the pause, the peak of the chart since then, or now.
fn drain_progress(
    metrics: &DrainMetrics,
    at_pause: i64,
    history: &[RunningSample],
    since: Option<DateTime<Utc>>,
) -> Progress {
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
    Progress {
        left,
        total,
        percent,
    }
}

/// The text under the progress bar: the ETA, or why there is none.
pub fn eta_text(metrics: &DrainMetrics, estimate: &DrainEstimate) -> String {
    if metrics.is_drained {
        return "The fleet has drained: nothing is running.".to_string();
    }
    match estimate.eta_seconds {
        Some(eta) => format!(
            "Drained in {} at {} jobs/min (last 5 min).",
            format::eta(eta),
            format::tenths(estimate.completions_per_minute)
        ),
        None => "No estimate yet: no job finished in the last 5 minutes.".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{event, status};
    use wire::{AuditBlock, ControlEvent, PauseMode};

    fn ev(action: &str, at: i64, running: i64) -> ControlEvent {
        ControlEvent {
            metrics: DrainMetrics::new(0, running, 0),
            ..event(at, action)
        }
    }

    fn paused(audit: Vec<ControlEvent>) -> WorkerPauseStatus {
        WorkerPauseStatus {
            version: 5,
            audit: AuditBlock { latest: audit },
            ..status(true, Some(PauseMode::Drain))
        }
    }

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    fn sample(at: i64, running: i64) -> RunningSample {
        RunningSample {
            at: t(at),
            running,
            stale_running: 0,
        }
    }

    fn view(history: Vec<RunningSample>, eta: Option<f64>) -> DrainView {
        DrainView {
            metrics: DrainMetrics::default(),
            blocking: vec![],
            history,
            completions_per_minute: 1.0,
            eta_seconds: eta,
        }
    }

    #[test]
    fn progress_counts_from_the_most_in_flight_since_the_pause() {
        let m = DrainMetrics::new(7, 1, 1);
        let p = drain_progress(&m, 4, &[], None);
        assert_eq!((p.left, p.total, p.percent), (2, 4, 50));
        // A peak after the pause raises the total; one before it does not.
        let history = [sample(10, 9), sample(30, 6)];
        assert_eq!(drain_progress(&m, 4, &history, Some(t(20))).total, 6);
        assert_eq!(drain_progress(&m, 4, &history, None).total, 9);
    }

    #[test]
    fn progress_is_complete_when_nothing_was_ever_in_flight() {
        let p = drain_progress(&DrainMetrics::new(3, 0, 0), 0, &[], None);
        assert_eq!(p.percent, 100);
        let p = drain_progress(&DrainMetrics::new(0, 2, 0), 0, &[], None);
        assert_eq!((p.total, p.percent), (2, 0), "never more done than started");
    }

    #[test]
    fn the_pause_starts_at_the_oldest_pause_event_of_the_current_run() {
        // Newest first: a mode switch, a worker action, the pause, an older resume.
        let s = paused(vec![
            ev("pause", 50, 1),
            ev("worker.drain", 45, 2),
            ev("pause", 40, 3),
            ev("resume", 30, 0),
        ]);
        assert_eq!(pause_start(&s), Some((t(40), 3)));
    }

    #[test]
    fn the_estimate_of_a_paused_fleet_and_none_while_running() {
        let mut s = paused(vec![ev("pause", 40, 3)]);
        let m = DrainMetrics::new(4, 2, 0);
        let v = view(vec![sample(50, 3), sample(110, 2)], Some(120.0));
        let e = drain_estimate(&s, &m, Some(&v)).expect("paused");
        assert_eq!(
            e.progress,
            Progress {
                left: 2,
                total: 3,
                percent: 33
            }
        );
        assert_eq!(
            eta_text(&m, &e),
            "Drained in about 2 min at 1.0 jobs/min (last 5 min)."
        );
        let e = drain_estimate(&s, &m, None).expect("paused");
        assert_eq!(
            eta_text(&m, &e),
            "No estimate yet: no job finished in the last 5 minutes."
        );
        assert_eq!(
            eta_text(&DrainMetrics::new(0, 0, 0), &e),
            "The fleet has drained: nothing is running."
        );
        s.workers_paused = false;
        assert_eq!(drain_estimate(&s, &m, Some(&v)), None);
    }
}
