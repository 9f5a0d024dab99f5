//! The dashboard's live data: the metrics tick shared by every stream
//! subscriber, and the drain view (what blocks the drain, the history, the
//! ETA and the progress toward drained — computed here once, through
//! [`domain::drain`], for every client).

use chrono::Duration;
use wire::{DrainMetrics, DrainProgress, DrainView, RunningSample};

use super::{now, Service, ServiceResult};
use crate::domain::drain;
use crate::live::MetricsTick;

/// The window of the completion rate behind the ETA.
const RATE_WINDOW_MINUTES: i64 = 5;

impl Service {
    /// One tick: read the metrics, record them, wake subscribers.
    pub async fn tick_metrics(&self) {
        let t = now();
        match self.store.live_counts(t, None).await {
            Ok(counts) => self.live.record(MetricsTick {
                version: self.cache.version(),
                metrics: counts.drain_metrics(),
                at: t,
            }),
            Err(e) => tracing::warn!(error = %e, "metrics tick failed"),
        }
    }

    /// The drain card: metrics, what blocks the drain, history, ETA and,
    /// while paused, the progress toward drained.
    pub async fn drain_view(&self) -> ServiceResult<DrainView> {
        let t = now();
        let metrics = self.store.live_counts(t, None).await?.drain_metrics();
        let since = t - Duration::minutes(RATE_WINDOW_MINUTES);
        let finished = self.store.finished_since(since).await?;
        let per_minute = finished as f64 / RATE_WINDOW_MINUTES as f64;
        let mean = self.mean_durations(t).await?;
        let blocking = self
            .store
            .running_jobs(50)
            .await?
            .iter()
            .map(|j| drain::blocking_job(j, t, &mean))
            .collect();
        let history = self.live.history();
        let progress = self.drain_progress(&metrics, &history).await?;
        Ok(DrainView {
            metrics,
            blocking,
            history,
            completions_per_minute: per_minute,
            eta_seconds: drain::eta_seconds(&metrics, per_minute),
            progress,
        })
    }

    /// Progress toward drained since the current pause began; `None` while
    /// running (no audit read then).
    async fn drain_progress(
        &self,
        metrics: &DrainMetrics,
        history: &[RunningSample],
    ) -> ServiceResult<Option<DrainProgress>> {
        if !self.cache.is_paused() {
            return Ok(None);
        }
        let latest = self
            .store
            .list_events(self.config.audit_latest, None)
            .await?;
        let start = drain::pause_start(true, &latest);
        let (since, at_pause) = start.map_or((None, 0), |(t, n)| (Some(t), n));
        Ok(Some(drain::progress(metrics, at_pause, history, since)))
    }
}
