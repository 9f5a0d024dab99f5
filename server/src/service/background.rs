//! The tasks that keep this process current: the notification listener
//! (PostgreSQL), the periodic re-read of the pause states — the fleet's and
//! the queues' (the fallback when a notification is lost) —, the metrics
//! ticker (which also sets the pause gauges), the rolling-restart
//! controller, the end of timed pauses, the retention pass, and the end
//! of event streams whose token was revoked. They stop
//! when the service is dropped; each reports its ticks to `/health`.

use std::sync::Arc;
use std::time::Duration;

use super::{now, Service, ServiceError, ServiceResult, SYSTEM_ACTOR};
use crate::domain;
use crate::storage::Notice;

/// How often a timed pause is checked for its end: it ends within this
/// long of its `until`.
const TIMED_RESUME_TICK_MS: u64 = 250;

impl Service {
    /// Starts the background tasks.
    pub async fn start(self: &Arc<Self>) -> ServiceResult<()> {
        if let Some(mut rx) = self.store.listen().await? {
            // Connected: the listener sends `Reconnected` first.
            self.vitals.listener_connected();
            let weak = Arc::downgrade(self);
            tokio::spawn(async move {
                while let Some(notice) = rx.recv().await {
                    let Some(svc) = weak.upgrade() else { return };
                    svc.on_notice(notice).await;
                }
            });
        }
        let ms = |v: u64, min: u64| Duration::from_millis(v.max(min));
        self.every(
            "rollouts",
            ms(self.config.rollout_tick_ms, 50),
            |svc| async move {
                if let Err(e) = svc.advance_rollouts().await {
                    tracing::warn!(error = %e, "rolling-restart step failed");
                }
            },
        );
        self.every(
            "metrics",
            ms(self.config.metrics_tick_ms, 100),
            |svc| async move {
                svc.tick_metrics().await;
                svc.metrics.upkeep();
                svc.set_pause_gauges();
                svc.metrics
                    .set_stream_subscribers(svc.live.subscriber_count());
                // StatsD has no scrape: push the storage gauges on the tick.
                if svc.metrics.statsd_enabled() {
                    if let Err(e) = svc.refresh_gauges().await {
                        tracing::warn!(error = %e, "metrics gauges not refreshed");
                    }
                }
            },
        );
        self.every(
            "pause-refresh",
            ms(self.config.pause_refresh_ms, 50),
            |svc| async move {
                svc.refresh_pause_state().await;
                svc.refresh_queue_pauses().await;
            },
        );
        // Ends timed pauses on time. Reads the caches only; every replica
        // runs it and exactly one resume applies (see domain::timed_resume).
        self.every(
            "timed-resume",
            ms(TIMED_RESUME_TICK_MS, 0),
            |svc| async move {
                svc.resume_if_due().await;
                svc.resume_queues_if_due().await;
            },
        );
        self.every(
            "retention",
            ms(self.config.retention_interval_ms, 50),
            |svc| async move {
                if let Err(e) = svc.prune_once(super::now()).await {
                    tracing::warn!(error = %e, "retention pass failed; retrying at the next one");
                }
            },
        );
        // A revoked token's streams end within one token-cache lifetime,
        // as its requests do (at once on PostgreSQL: the notice above).
        self.every(
            "streams",
            ms(self.config.auth_cache_ms, 50),
            |svc| async move { svc.end_revoked_streams().await },
        );
        self.vitals.set_ready();
        Ok(())
    }

    /// Acts on a change another process made.
    async fn on_notice(&self, notice: Notice) {
        match notice {
            Notice::JobsAvailable => self.jobs_available(),
            Notice::FleetChanged => self.fleet_changed(),
            Notice::TokensChanged => {
                self.auth.invalidate();
                self.end_revoked_streams().await;
            }
            Notice::PauseChanged(v) if v <= self.cache.version() => {}
            Notice::PauseChanged(_) => self.refresh_pause_state().await,
            Notice::QueuePauseChanged(q, v) if v <= self.queues.version(&q) => {}
            Notice::QueuePauseChanged(..) => self.refresh_queue_pauses().await,
            // Anything may have been missed while the listener was away.
            Notice::Disconnected => self.vitals.listener_lost(),
            Notice::Reconnected => {
                self.vitals.listener_connected();
                self.auth.invalidate();
                self.end_revoked_streams().await;
                self.jobs_available();
                self.refresh_pause_state().await;
                self.refresh_queue_pauses().await;
            }
        }
    }

    /// Runs `step` every `period` until the service is dropped (a missed
    /// tick is delayed, not bunched up). Each finished step is reported to
    /// `/health` under `name`: a task whose step hangs shows up there.
    fn every<F, Fut>(self: &Arc<Self>, name: &'static str, period: Duration, step: F)
    where
        F: Fn(Arc<Service>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        self.vitals.task_started(name, period);
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(svc) = weak.upgrade() else { return };
                step(svc.clone()).await;
                svc.vitals.ticked(name);
            }
        });
    }

    /// Re-reads the pause state from storage into the cache.
    pub async fn refresh_pause_state(&self) {
        match self.store.pause_state().await {
            Ok(state) => {
                let version = state.version;
                if self.cache.observe(state) {
                    self.set_pause_gauges();
                    tracing::info!(version, "pause state changed elsewhere; cache updated");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not refresh the pause state"),
        }
    }

    /// Applies the resume that ends a timed pause, once it is due.
    async fn resume_if_due(&self) {
        let Some(cmd) = self.cache.read(|s| domain::timed_resume(s, now())) else {
            return;
        };
        match self.apply_pause(SYSTEM_ACTOR, &cmd).await {
            Ok(status) => tracing::info!(
                version = status.version,
                "timed pause ended: the fleet resumed by itself"
            ),
            // Another replica (or an operator) changed the state first.
            Err(ServiceError::VersionConflict { .. }) => self.refresh_pause_state().await,
            Err(e) => tracing::warn!(error = %e, "could not end the timed pause; retrying"),
        }
    }
}
