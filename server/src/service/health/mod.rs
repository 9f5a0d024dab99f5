//! `/health` and `/readyz`: what this process checks about itself and the
//! fleet, for the runbook's STOP/GO checks and for load balancers.
//!
//! Each check answers `ok`, `skipped` (does not apply here), `warning`,
//! `error` or `critical`. Any `error` or `critical` check makes `healthy`
//! false (and `/health` answer 503); every check that is not `ok` or
//! `skipped` also becomes a `recent_events` line of its `type`, so the
//! runbook's `jq '.recent_events[] | select(.type == "critical" or .type
//! == "error")'` names the cause. The checks: database (reachable, and how
//! fast), the PostgreSQL notification listener (connected), the background
//! tasks (each one's last tick), workers (online vs registered), stale
//! leases, a rolling restart past its deadline, and a pause some online
//! worker has not applied after `ack_warn_after_ms` (acknowledgement).

use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use wire::runbook::{Health, HealthCheck, HealthEvent, Readyz};
use wire::{ControlEvent, ObservedState, RolloutStatus, RolloutWorkerState};

use super::{now, runbook_time, Service};
use crate::domain;

mod vitals;

pub(super) use vitals::Vitals;

/// A ping slower than this is a `warning`.
const SLOW_PING: StdDuration = StdDuration::from_millis(500);
/// A rolling-restart step this long past its deadline means the controller
/// is not stepping (it fails a late worker on its next tick).
const ROLLOUT_GRACE_SECONDS: i64 = 30;

fn check(name: &str, status: &str, message: impl Into<String>) -> HealthCheck {
    HealthCheck {
        name: name.into(),
        status: status.into(),
        message: Some(message.into()),
        latency_ms: None,
    }
}

/// What a caller without read access sees: the verdict and each check's
/// name and status. Not the messages (they name workers, jobs and rolling
/// restarts), the latency or the backend, nor the events (they name the
/// actors of control changes and their reasons).
fn public_view(h: Health) -> Health {
    Health {
        healthy: h.healthy,
        database: None,
        recent_events: Vec::new(),
        checks: h
            .checks
            .into_iter()
            .map(|c| HealthCheck {
                message: None,
                latency_ms: None,
                ..c
            })
            .collect(),
    }
}

/// An audit event as a `/health` line.
fn audit_line(e: ControlEvent) -> HealthEvent {
    HealthEvent {
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
            (action, _) => format!(
                "{action} by {}: {} [version {}]",
                e.actor, e.reason, e.version
            ),
        },
        created_at: runbook_time(e.created_at),
    }
}

impl Service {
    /// `GET /health`: every check, `healthy` when none is an error, and the
    /// failing checks then the recent control events as `recent_events` —
    /// for a caller with read access (`detail`); anyone else gets the
    /// [`public_view`], and the audit log is not read for them.
    pub async fn health(&self, detail: bool) -> Health {
        let h = self.full_health(detail).await;
        if detail {
            h
        } else {
            public_view(h)
        }
    }

    async fn full_health(&self, with_events: bool) -> Health {
        let t = now();
        let backend = self.store.backend().to_string();
        let started = Instant::now();
        let ping = self.store.ping().await;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        if let Err(e) = ping {
            tracing::error!(error = %e, "health check: storage unreachable");
            let mut db = check("database", "critical", "database unreachable");
            db.latency_ms = Some(latency_ms);
            return Health {
                healthy: false,
                database: Some(backend),
                recent_events: vec![HealthEvent {
                    kind: "critical".into(),
                    message: "database unreachable".into(),
                    created_at: runbook_time(t),
                }],
                checks: vec![db],
            };
        }
        let mut db = if started.elapsed() > SLOW_PING {
            check(
                "database",
                "warning",
                format!("{backend} answered slowly ({latency_ms:.0} ms)"),
            )
        } else {
            check(
                "database",
                "ok",
                format!("{backend} answered in {latency_ms:.1} ms"),
            )
        };
        db.latency_ms = Some(latency_ms);
        let (listener, listener_event) = self.vitals.listener_check(t);
        let mut checks = vec![db, listener, self.vitals.task_check(t)];
        checks.push(self.workers_check(t).await);
        checks.push(self.leases_check(t).await);
        checks.push(self.rollouts_check(t).await);
        checks.push(self.acknowledgement_check(t).await);
        let healthy = !checks
            .iter()
            .any(|c| c.status == "error" || c.status == "critical");
        let mut recent_events: Vec<HealthEvent> = checks
            .iter()
            .filter(|c| matches!(c.status.as_str(), "warning" | "error" | "critical"))
            .filter(|c| c.name != "listener" || c.status != "warning")
            .map(|c| HealthEvent {
                kind: c.status.clone(),
                message: c.message.clone().unwrap_or_default(),
                created_at: runbook_time(t),
            })
            .collect();
        recent_events.extend(listener_event);
        if with_events {
            match self.store.list_events(10, None).await {
                Ok(events) => recent_events.extend(events.into_iter().map(audit_line)),
                Err(e) => tracing::warn!(error = %e, "health: could not read the audit log"),
            }
        }
        if !healthy {
            tracing::warn!(
                failing = ?checks.iter().filter(|c| c.status == "error" || c.status == "critical").map(|c| c.name.as_str()).collect::<Vec<_>>(),
                "health check failing"
            );
        }
        Health {
            healthy,
            database: Some(backend),
            recent_events,
            checks,
        }
    }

    /// Workers online vs registered. Every registered worker offline or
    /// stopped while jobs wait and the fleet is not paused is an error:
    /// nothing claims them. Otherwise (nothing waiting, or the fleet paused
    /// on purpose) it is a warning, as is some workers being offline.
    async fn workers_check(&self, t: DateTime<Utc>) -> HealthCheck {
        let workers = match self.store.list_workers().await {
            Ok(w) => w,
            Err(e) => {
                return check(
                    "workers",
                    "error",
                    format!("could not read the workers: {e}"),
                )
            }
        };
        let registered = workers.len();
        let online = workers
            .iter()
            .filter(|w| {
                !matches!(
                    domain::observed_state(
                        w.reported_state,
                        w.last_heartbeat_at,
                        t,
                        self.stale_after()
                    ),
                    ObservedState::Offline | ObservedState::Stopped
                )
            })
            .count();
        let summary = format!("{online} of {registered} registered workers online");
        if registered == 0 {
            return check("workers", "ok", "no workers registered");
        }
        if online == registered {
            return check("workers", "ok", summary);
        }
        if online > 0 {
            return check("workers", "warning", summary);
        }
        let waiting = match self.store.job_counts(t).await {
            Ok(c) => c.queued,
            Err(e) => {
                return check(
                    "workers",
                    "error",
                    format!("{summary}; could not count the jobs: {e}"),
                )
            }
        };
        if waiting > 0 && !self.cache.is_paused() {
            check(
                "workers",
                "error",
                format!("{summary}: every registered worker is offline or stopped while {waiting} job(s) wait; nothing is claiming them"),
            )
        } else {
            check(
                "workers",
                "warning",
                format!("{summary}: every registered worker is offline or stopped (no job is waiting for one, or the fleet is paused)"),
            )
        }
    }

    /// While the fleet is paused: has every online worker applied the
    /// current version? One still pending `ack_warn_after_ms` after the
    /// version began is a warning naming it (it may keep claiming: a stuck
    /// or old runtime); offline workers are the workers check's business.
    async fn acknowledgement_check(&self, t: DateTime<Utc>) -> HealthCheck {
        let (paused, version, since) = self
            .cache
            .read(|s| (s.workers_paused, s.version, s.updated_at));
        if !paused {
            return check("acknowledgement", "ok", "the fleet is running");
        }
        let workers = match self.store.list_workers().await {
            Ok(w) => w,
            Err(e) => {
                return check(
                    "acknowledgement",
                    "error",
                    format!("could not read the workers: {e}"),
                )
            }
        };
        let ack = domain::acknowledgement(version, &workers, t, self.stale_after());
        let waited_ms = (t - since).num_milliseconds().max(0);
        if ack.pending.is_empty() {
            return check(
                "acknowledgement",
                "ok",
                format!(
                    "pause version {version} applied by {} of {} online workers",
                    ack.applied, ack.total
                ),
            );
        }
        const NAMED: usize = 5;
        let mut names: Vec<&str> = ack
            .pending
            .iter()
            .take(NAMED)
            .map(|w| w.worker_id.as_str())
            .collect();
        if ack.pending.len() > NAMED {
            names.push("…");
        }
        let status = if waited_ms as u64 > self.config.ack_warn_after_ms {
            "warning"
        } else {
            "ok"
        };
        check(
            "acknowledgement",
            status,
            format!(
                "pause version {version} not applied after {:.1} s by {} of {} online workers: {}",
                waited_ms as f64 / 1000.0,
                ack.pending.len(),
                ack.total,
                names.join(", ")
            ),
        )
    }

    /// Running jobs whose lease has expired: their worker is gone; the next
    /// claim requeues them, but until then they block every drain.
    async fn leases_check(&self, t: DateTime<Utc>) -> HealthCheck {
        match self.store.job_counts(t).await {
            Ok(c) if c.stale_running > 0 => check(
                "leases",
                "warning",
                format!(
                    "{} running job(s) hold an expired lease (their worker stopped heartbeating); they block the drain until a claim requeues them",
                    c.stale_running
                ),
            ),
            Ok(c) => check(
                "leases",
                "ok",
                format!("{} running, none with an expired lease", c.running),
            ),
            Err(e) => check("leases", "error", format!("could not count the jobs: {e}")),
        }
    }

    /// A running rolling restart with a worker past its deadline: the
    /// controller fails such a worker on its next tick, so one still
    /// in flight well after that means the controller is not stepping.
    async fn rollouts_check(&self, t: DateTime<Utc>) -> HealthCheck {
        let rollouts = match self.store.list_rollouts(20).await {
            Ok(r) => r,
            Err(e) => {
                return check(
                    "rollouts",
                    "error",
                    format!("could not read the rolling restarts: {e}"),
                )
            }
        };
        let mut stuck = Vec::new();
        let mut running = 0;
        for r in rollouts
            .iter()
            .filter(|r| r.status == RolloutStatus::Running)
        {
            running += 1;
            let limit = Duration::seconds(i64::from(r.deadline_seconds) + ROLLOUT_GRACE_SECONDS);
            for w in &r.workers {
                let in_flight = matches!(
                    w.state,
                    RolloutWorkerState::Draining | RolloutWorkerState::Restarting
                );
                if let (true, Some(s)) = (in_flight, w.started_at) {
                    if t - s > limit {
                        stuck.push(format!(
                            "rolling restart {} is past its deadline: worker {} has been {} since {} UTC (deadline {} s)",
                            r.id,
                            w.worker_id,
                            w.state.as_str(),
                            runbook_time(s),
                            r.deadline_seconds
                        ));
                    }
                }
            }
        }
        if !stuck.is_empty() {
            check("rollouts", "error", stuck.join("; "))
        } else if running > 0 {
            check(
                "rollouts",
                "ok",
                format!("{running} rolling restart(s) running within their deadline"),
            )
        } else {
            check("rollouts", "ok", "no rolling restart running")
        }
    }

    /// `GET /readyz`: ready once migrations ran, the caches are loaded and
    /// the background tasks are started ([`Service::start`]), while the
    /// database answers.
    pub async fn readyz(&self) -> Readyz {
        if !self.vitals.is_ready() {
            return Readyz {
                ready: false,
                reason: Some("starting: the background tasks are not running yet".into()),
            };
        }
        match self.store.ping().await {
            Ok(()) => Readyz {
                ready: true,
                reason: None,
            },
            Err(e) => {
                tracing::warn!(error = %e, "readyz: storage unreachable");
                Readyz {
                    ready: false,
                    reason: Some("the database is unreachable".into()),
                }
            }
        }
    }
}
