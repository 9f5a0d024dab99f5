//! The dashboard's live data: the metrics tick and the `state` events
//! shared by every stream subscriber, and the drain view (what blocks the
//! drain, the history, the ETA and the progress toward drained — computed
//! here once, through [`domain::drain`], for every client).

use std::sync::Arc;

use chrono::Duration;
use tokio::sync::watch;
use wire::{DrainMetrics, DrainProgress, DrainView, RunningSample, StreamMessage};

use super::{now, Service, ServiceResult};
use crate::domain::drain;
use crate::fanout::{sse_frame, StateFrame};
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

    /// The live stream's `state` events: one per version, shared by every
    /// subscriber. The first call starts their builder, a task that follows
    /// the pause cache (so a change made here, or on another replica and
    /// heard by NOTIFY or the periodic refresh, is built once per process)
    /// off the pause request's path: the request publishes to the cache
    /// and returns. Until a stream opens nothing is built.
    pub fn state_frames(self: &Arc<Self>) -> watch::Receiver<Option<StateFrame>> {
        if self.fanout.claim_start() {
            let weak = Arc::downgrade(self);
            let versions = self.cache.subscribe();
            let publisher = self.fanout.clone();
            tokio::spawn(async move {
                publisher
                    .follow(versions, || {
                        // Held only while building: the task ends with the service.
                        let svc = weak.upgrade();
                        async move { Some(svc?.build_state_frame().await) }
                    })
                    .await;
            });
        }
        self.fanout.subscribe()
    }

    /// `state` frames built so far (one per version, however many streams).
    pub fn state_frame_builds(&self) -> u64 {
        self.fanout.builds()
    }

    /// Reads the status once and encodes it as a `state` event.
    async fn build_state_frame(&self) -> Result<StateFrame, String> {
        let status = self.pause_status().await.map_err(|e| e.to_string())?;
        let (version, metrics) = (status.version, status.metrics);
        let msg = StreamMessage::State {
            status: Box::new(status),
        };
        let data = serde_json::to_string(&msg).map_err(|e| e.to_string())?;
        Ok(StateFrame {
            version,
            metrics,
            bytes: sse_frame("state", &data),
        })
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
