//! The maintenance runbook's view of the same state: `/scheduler/*`,
//! `/status`, `/health` and `/dispatches/*` speak snake_case and the
//! runbook's vocabulary ("scheduler", "dispatch") over the core service;
//! and `/metrics` for Prometheus.

use chrono::{DateTime, Duration, Utc};
use wire::runbook::{Dispatch, Health, HealthEvent, SchedulerStatus, SystemStatus};
use wire::{Job, WorkerPauseStatus};

use super::{now, Service, ServiceResult};
use crate::domain::{PauseCommand, SchedulerCommand};

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

    /// `GET /metrics`: this process's counters and the shared gauges (read
    /// from storage now: the pause, jobs by status, each queue's pause and
    /// live jobs), in the Prometheus text format.
    pub async fn metrics_text(&self) -> ServiceResult<String> {
        let t = now();
        let state = self.store.pause_state().await?;
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
        Ok(self.metrics.render(
            state.workers_paused,
            state.mode.map(|m| m.as_str()),
            state.version,
            &counts,
            &gauges,
            self.store.calls(),
        ))
    }

    /// `GET /health`: healthy when storage answers; recent control events.
    pub async fn health(&self) -> Health {
        let backend = self.store.backend().to_string();
        let ping = self.store.ping().await;
        let events = match ping {
            Ok(()) => self.store.list_events(10, None).await,
            Err(e) => Err(e),
        };
        match events {
            Ok(events) => Health {
                healthy: true,
                database: backend,
                recent_events: events
                    .into_iter()
                    .map(|e| HealthEvent {
                        kind: if e.force_resume { "warning" } else { "info" }.to_string(),
                        message: match (e.action.as_str(), e.mode) {
                            ("pause", Some(m)) => format!(
                                "workers paused ({}) by {}: {} [version {}]",
                                m.as_str(),
                                e.actor,
                                e.reason,
                                e.version
                            ),
                            ("queue.pause", Some(m)) => format!(
                                "queue {} paused ({}) by {}: {} [queue version {}]",
                                e.queue.as_deref().unwrap_or("?"),
                                m.as_str(),
                                e.actor,
                                e.reason,
                                e.version
                            ),
                            ("queue.resume", _) => format!(
                                "queue {} resumed by {}: {} [queue version {}]",
                                e.queue.as_deref().unwrap_or("?"),
                                e.actor,
                                e.reason,
                                e.version
                            ),
                            ("resume", _) if e.force_resume => format!(
                                "workers resumed before drain by {}: {} [version {}; {} running, {} stale]",
                                e.actor, e.reason, e.version, e.metrics.running, e.metrics.stale_running
                            ),
                            (action, _) => format!("{action} by {}: {} [version {}]", e.actor, e.reason, e.version),
                        },
                        created_at: runbook_time(e.created_at),
                    })
                    .collect(),
            },
            Err(e) => {
                tracing::error!(error = %e, "health check: storage unreachable");
                Health {
                    healthy: false,
                    database: backend,
                    recent_events: vec![HealthEvent {
                        kind: "critical".into(),
                        message: "database unreachable".into(),
                        created_at: runbook_time(now()),
                    }],
                }
            }
        }
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
