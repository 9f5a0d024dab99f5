//! Live data for the dashboard: a metrics ticker shared by every stream
//! subscriber (one database query per tick, however many pages are open),
//! the running-jobs history for the chart, and the drain view (what blocks
//! the drain, and an ETA from recent completion rates).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::watch;
use wire::{BlockingJob, DrainMetrics, DrainView, Job, RunningSample};

use crate::service::{now, Service, ServiceResult};

/// Samples kept for the chart (at the default 2 s tick: ten minutes).
const HISTORY_LEN: usize = 300;
/// The window of the completion rate behind the ETA.
const RATE_WINDOW_MINUTES: i64 = 5;

/// One metrics tick, as published to stream subscribers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsTick {
    pub version: i64,
    pub metrics: DrainMetrics,
    pub at: DateTime<Utc>,
}

pub struct Live {
    tick: watch::Sender<Option<MetricsTick>>,
    history: Mutex<VecDeque<RunningSample>>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            tick: watch::channel(None).0,
            history: Mutex::new(VecDeque::with_capacity(HISTORY_LEN)),
        }
    }
}

impl Live {
    pub fn subscribe(&self) -> watch::Receiver<Option<MetricsTick>> {
        self.tick.subscribe()
    }

    /// Records a sample and wakes subscribers only when something changed.
    pub fn record(&self, tick: MetricsTick) {
        if let Ok(mut h) = self.history.lock() {
            if h.len() == HISTORY_LEN {
                h.pop_front();
            }
            h.push_back(RunningSample {
                at: tick.at,
                running: tick.metrics.running,
                stale_running: tick.metrics.stale_running,
            });
        }
        self.tick.send_if_modified(|cur| {
            let changed =
                cur.is_none_or(|c| c.version != tick.version || c.metrics != tick.metrics);
            *cur = Some(tick);
            changed
        });
    }

    pub fn history(&self) -> Vec<RunningSample> {
        self.history
            .lock()
            .map(|h| h.iter().copied().collect())
            .unwrap_or_default()
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

/// A blocking job, with its expected end from the mean duration of its type.
pub fn blocking_job(job: &Job, now: DateTime<Utc>, mean_ms: &HashMap<String, f64>) -> BlockingJob {
    BlockingJob {
        id: job.id,
        job_type: job.job_type.clone(),
        worker_id: job.worker_id.clone(),
        started_at: job.started_at,
        lease_expires_at: job.lease_expires_at,
        stale: job.lease_expires_at.is_some_and(|t| t < now),
        paused_at_checkpoint: job.paused_at_checkpoint,
        expected_end_at: match (job.started_at, mean_ms.get(&job.job_type)) {
            (Some(start), Some(ms)) => Some(start + Duration::milliseconds(*ms as i64)),
            _ => None,
        },
    }
}

impl Service {
    /// One tick: read the metrics, record them, wake subscribers.
    pub async fn tick_metrics(&self) {
        let t = now();
        match self.store().job_counts(t).await {
            Ok(counts) => self.live().record(MetricsTick {
                version: self.cache().version(),
                metrics: counts.drain_metrics(),
                at: t,
            }),
            Err(e) => tracing::warn!(error = %e, "metrics tick failed"),
        }
    }

    /// The drain card: metrics, what blocks the drain, history, ETA.
    pub async fn drain_view(&self) -> ServiceResult<DrainView> {
        let t = now();
        let metrics = self.store().job_counts(t).await?.drain_metrics();
        let since = t - Duration::minutes(RATE_WINDOW_MINUTES);
        let finished = self.store().finished_since(since).await?;
        let per_minute = finished as f64 / RATE_WINDOW_MINUTES as f64;
        let mean: HashMap<String, f64> = self
            .store()
            .mean_durations_ms(t - Duration::hours(1))
            .await?
            .into_iter()
            .collect();
        let blocking = self
            .store()
            .running_jobs(50)
            .await?
            .iter()
            .map(|j| blocking_job(j, t, &mean))
            .collect();
        Ok(DrainView {
            metrics,
            blocking,
            history: self.live().history(),
            completions_per_minute: per_minute,
            eta_seconds: eta_seconds(&metrics, per_minute),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_from_rate() {
        assert_eq!(eta_seconds(&DrainMetrics::new(0, 0, 0), 10.0), None);
        assert_eq!(eta_seconds(&DrainMetrics::new(5, 3, 1), 0.0), None);
        assert_eq!(eta_seconds(&DrainMetrics::new(5, 3, 1), 2.0), Some(120.0));
    }

    #[test]
    fn history_is_bounded_and_ticks_wake_only_on_change() {
        let live = Live::default();
        let mut rx = live.subscribe();
        let at = Utc::now();
        let tick = MetricsTick {
            version: 1,
            metrics: DrainMetrics::new(1, 1, 0),
            at,
        };
        live.record(tick);
        assert!(rx.has_changed().unwrap());
        rx.mark_unchanged();
        live.record(MetricsTick {
            at: at + Duration::seconds(2),
            ..tick
        });
        assert!(!rx.has_changed().unwrap(), "same numbers: no wake-up");
        for _ in 0..HISTORY_LEN + 10 {
            live.record(tick);
        }
        assert_eq!(live.history().len(), HISTORY_LEN);
    }
}
