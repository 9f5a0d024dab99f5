//! The maintenance runbook's view of the same state: `/scheduler/*`,
//! `/status`, `/health` and `/dispatches/*` speak snake_case and the
//! runbook's vocabulary ("scheduler", "dispatch") over the core service;
//! and `/metrics` for Prometheus (`/health` is in `health`).

use chrono::{DateTime, Duration, Utc};
use wire::runbook::{Dispatch, SchedulerStatus, SystemStatus};
use wire::{Job, ObservedState, RolloutStatus, WorkerPauseStatus};

use super::{now, Service, ServiceResult};
use crate::domain::{self, PauseCommand, SchedulerCommand};
use crate::metrics::PauseGauges;

/// How many of the latest rolling restarts `lull_rolling_restarts` counts.
const ROLLOUTS_COUNTED: u32 = 100;

/// How far back `recent_dispatch_count` looks.
const RECENT_DISPATCH_WINDOW_SECS: i64 = 60;

/// `YYYY-MM-DD HH:MM:SS` (UTC): the format the runbook's scripts compare
/// against `date '+%Y-%m-%d %H:%M:%S'`.
pub fn runbook_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn scheduler_status(
    s: &WorkerPauseStatus,
    paused_at: Option<DateTime<Utc>>,
    resumed_at: Option<DateTime<Utc>>,
) -> SchedulerStatus {
    SchedulerStatus {
        state: if s.workers_paused {
            "paused"
        } else {
            "running"
        }
        .to_string(),
        mode: s.mode.map(|m| m.as_str().to_string()),
        paused_at: paused_at.map(runbook_time),
        resumed_at: resumed_at.map(runbook_time),
        reason: s.reason.clone(),
        requested_by: s.requested_by.clone(),
        version: s.version,
        warning: s.warning.clone(),
    }
}

impl Service {
    /// `GET /scheduler/status`.
    pub async fn scheduler_status(&self) -> ServiceResult<SchedulerStatus> {
        let state = self.store.pause_state().await?;
        self.cache.observe(state.clone());
        Ok(SchedulerStatus {
            state: if state.workers_paused {
                "paused"
            } else {
                "running"
            }
            .to_string(),
            mode: state.mode.map(|m| m.as_str().to_string()),
            paused_at: state.paused_at.map(runbook_time),
            resumed_at: state.resumed_at.map(runbook_time),
            reason: state.reason,
            requested_by: state.requested_by,
            version: state.version,
            warning: None,
        })
    }

    /// `POST /scheduler/pause` and `/scheduler/resume`, made into a pause
    /// request and parsed like any other ([`SchedulerCommand::request`]).
    pub async fn scheduler_action(
        &self,
        actor: &str,
        cmd: SchedulerCommand,
    ) -> ServiceResult<SchedulerStatus> {
        let current = self.store.pause_state().await?;
        let status = match cmd.request(&current) {
            Some(req) => self.apply_pause(actor, &PauseCommand::parse(req)?).await?,
            None => self.pause_status().await?,
        };
        let state = self.store.pause_state().await?;
        Ok(scheduler_status(&status, state.paused_at, state.resumed_at))
    }

    /// `GET /status`.
    pub async fn system_status(&self) -> ServiceResult<SystemStatus> {
        let t = now();
        let state = self.store.pause_state().await?;
        let counts = self.store.job_counts(t).await?;
        // Only claims since the latest pause/resume count, so the number is
        // 0 once a pause has taken hold (the runbook checks exactly that).
        let window_start =
            (t - Duration::seconds(RECENT_DISPATCH_WINDOW_SECS)).max(state.updated_at);
        let recent = self.store.dispatches_since(window_start).await?;
        Ok(SystemStatus {
            state: if state.workers_paused {
                "paused"
            } else {
                "running"
            }
            .to_string(),
            version: state.version,
            running_count: counts.running,
            queued_count: counts.queued,
            stale_running_count: counts.stale_running,
            failed_count: counts.failed,
            recent_dispatch_count: recent,
            is_drained: counts.running == 0 && counts.stale_running == 0,
        })
    }

    /// `GET /metrics`: the shared gauges are set from storage now (the
    /// pause, jobs by status, each queue, workers by state, rolling
    /// restarts), then everything this process recorded is rendered as
    /// Prometheus text.
    pub async fn metrics_text(&self) -> ServiceResult<String> {
        self.refresh_gauges().await?;
        Ok(self
            .metrics
            .render(self.store.calls(), self.store.commit_counts()))
    }

    /// Sets the gauges that describe shared state, read from storage.
    pub async fn refresh_gauges(&self) -> ServiceResult<()> {
        let t = now();
        let state = self.store.pause_state().await?;
        self.cache.observe(state);
        self.set_pause_gauges();
        let counts = self.store.job_counts(t).await?;
        let queues = self.store.list_queues(t).await?;
        let gauges: Vec<_> = queues
            .iter()
            .map(|q| {
                (
                    q.pause.name.as_str(),
                    q.pause.state.workers_paused,
                    q.counts,
                )
            })
            .collect();
        self.metrics.set_jobs(&counts, &gauges);
        let workers = self.store.list_workers().await?;
        let states = [
            ObservedState::Running,
            ObservedState::Paused,
            ObservedState::Draining,
            ObservedState::Stopped,
            ObservedState::Offline,
        ];
        let by_state: Vec<(&str, usize)> = states
            .iter()
            .map(|s| {
                let n = workers
                    .iter()
                    .filter(|w| {
                        domain::observed_state(
                            w.reported_state,
                            w.last_heartbeat_at,
                            t,
                            self.stale_after(),
                        ) == *s
                    })
                    .count();
                (s.as_str(), n)
            })
            .collect();
        self.metrics.set_workers(&by_state);
        let version = self.cache.read(|s| s.version);
        let ack = domain::acknowledgement(version, &workers, t, self.stale_after());
        self.metrics
            .set_acknowledgement(ack.applied as usize, ack.pending.len());
        let rollouts = self.store.list_rollouts(ROLLOUTS_COUNTED).await?;
        let by_status: Vec<(&str, usize)> = [
            RolloutStatus::Running,
            RolloutStatus::Done,
            RolloutStatus::Failed,
            RolloutStatus::Cancelled,
        ]
        .iter()
        .map(|s| {
            (
                s.as_str(),
                rollouts.iter().filter(|r| r.status == *s).count(),
            )
        })
        .collect();
        self.metrics.set_rolling_restarts(&by_status);
        self.metrics
            .set_stream_subscribers(self.live.subscriber_count());
        Ok(())
    }

    /// The pause gauges, from the cache (no storage call): set on every
    /// change this process makes or learns of, and on the metrics tick (so
    /// StatsD sees the pause duration grow).
    pub(super) fn set_pause_gauges(&self) {
        let t = now();
        self.cache.read(|s| {
            self.metrics.set_pause(PauseGauges {
                paused: s.workers_paused,
                mode: s.mode.map(|m| m.as_str()),
                version: s.version,
                paused_for_seconds: match (s.workers_paused, s.paused_at) {
                    (true, Some(at)) => (t - at).num_milliseconds() as f64 / 1000.0,
                    _ => 0.0,
                },
            })
        });
    }
}

/// A job in the runbook's words.
pub fn dispatch_of(job: Job) -> Dispatch {
    Dispatch {
        id: job.id.to_string(),
        job_type: job.job_type,
        status: job.status.as_str().to_string(),
        attempts: job.attempts,
        max_attempts: job.max_attempts,
        worker_id: job.worker_id,
        lease_expires_at: job.lease_expires_at.map(runbook_time),
        dispatched_at: job.started_at.map(runbook_time),
        finished_at: job.finished_at.map(runbook_time),
        created_at: runbook_time(job.created_at),
        error: job.error,
        result: job.result,
    }
}
