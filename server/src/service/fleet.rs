//! The worker fleet: registration, worker heartbeats with directives, the
//! fleet views, and per-worker actions under the safety rule.

use std::collections::HashMap;

use chrono::Duration;
use wire::{
    FleetHealth, FleetMetrics, WorkerActionDryRun, WorkerActionKind, WorkerActionResponse,
    WorkerActionResult, WorkerDirectiveResponse, WorkerHealth, WorkerList, WorkerMetrics,
};

use super::{now, Service, ServiceError, ServiceResult};
use crate::domain::{
    self, FleetEventDraft, Registration, SafetyRefusal, SafetyRule, WorkerActionCommand,
    WorkerBeat, WorkerRecord,
};

impl Service {
    fn directive_response(&self, w: WorkerRecord) -> WorkerDirectiveResponse {
        let mut system = self
            .cache
            .read(|s| s.system_block(self.config.pause_poll_interval_ms));
        // A worker heartbeat speaks for the worker, not for one job: every
        // paused queue (the runtime keeps those it claims from).
        system.paused_queues = self.queues.paused_among(None);
        WorkerDirectiveResponse {
            directive: domain::directive(w.desired_state),
            worker: w.info(now(), self.stale_after()),
            system,
        }
    }

    /// `POST /api/workers/register`.
    pub async fn register_worker(
        &self,
        reg: Registration,
    ) -> ServiceResult<WorkerDirectiveResponse> {
        let w = self.store.register_worker(&reg, now()).await?;
        tracing::info!(worker_id = %w.id, boot_id = %w.boot_id, desired = w.desired_state.as_str(), "worker registered");
        Ok(self.directive_response(w))
    }

    /// `POST /api/workers/{id}/heartbeat`.
    pub async fn worker_heartbeat(
        &self,
        beat: WorkerBeat,
    ) -> ServiceResult<WorkerDirectiveResponse> {
        let w =
            self.store
                .worker_heartbeat(&beat, now())
                .await
                .map_err(ServiceError::not_found(|| {
                    format!("worker {} is not registered; register first", beat.id)
                }))?;
        Ok(self.directive_response(w))
    }

    /// `GET /api/workers`.
    pub async fn list_workers(&self) -> ServiceResult<WorkerList> {
        let (t, stale) = (now(), self.stale_after());
        let workers = self.store.list_workers().await?;
        Ok(WorkerList {
            workers: workers.iter().map(|w| w.info(t, stale)).collect(),
        })
    }

    /// `GET /api/workers/health`.
    pub async fn fleet_health(&self) -> ServiceResult<FleetHealth> {
        let (t, stale) = (now(), self.stale_after());
        let workers = self.store.list_workers().await?;
        let counts = self.store.live_counts(t, None).await?;
        let health: Vec<WorkerHealth> = workers
            .iter()
            .map(|w| {
                let observed = w.info(t, stale).observed_state;
                WorkerHealth {
                    id: w.id.clone(),
                    online: !matches!(
                        observed,
                        wire::ObservedState::Offline | wire::ObservedState::Stopped
                    ),
                    last_seen: w.last_heartbeat_at,
                    seconds_since_seen: (t - w.last_heartbeat_at).num_seconds(),
                    stale: t - w.last_heartbeat_at > stale,
                }
            })
            .collect();
        let online = health.iter().filter(|h| h.online).count() as u32;
        Ok(FleetHealth {
            online,
            offline: health.len() as u32 - online,
            stale_after_seconds: self.config.worker_stale_seconds,
            queue_depth: counts.queued,
            running: counts.running + counts.stale_running,
            workers: health,
        })
    }

    /// `GET /api/workers/metrics`.
    pub async fn fleet_metrics(&self) -> ServiceResult<FleetMetrics> {
        let t = now();
        let workers = self.store.list_workers().await?;
        let counts = self.store.job_counts(t).await?;
        let latency = self.store.mean_latency_ms(t - Duration::hours(1)).await?;
        Ok(FleetMetrics {
            queue_depth: counts.queued,
            failure_count: counts.failed,
            average_task_latency_ms: latency,
            workers: workers
                .iter()
                .map(|w| WorkerMetrics {
                    id: w.id.clone(),
                    heartbeat_age_seconds: (t - w.last_heartbeat_at).num_seconds(),
                    offline_backlog: w.offline_backlog,
                })
                .collect(),
        })
    }

    /// The safety rule as configured.
    pub(super) fn safety_rule(&self) -> SafetyRule {
        SafetyRule {
            minimum: self.config.min_available_workers,
            stale_after: self.stale_after(),
        }
    }

    /// `POST /api/workers/actions`.
    pub async fn worker_action(
        &self,
        actor: &str,
        cmd: WorkerActionCommand,
    ) -> ServiceResult<WorkerActionResponse> {
        let t = now();
        let outcome = match self
            .store
            .worker_action(&cmd, actor, t, &self.safety_rule())
            .await
            .map_err(ServiceError::from)
        {
            Ok(o) => o,
            Err(ServiceError::SafetyRefused(r)) => {
                self.metrics.fleet_refusal(cmd.action.as_str());
                tracing::warn!(
                    actor,
                    action = cmd.action.as_str(),
                    available_after = r.available_after,
                    "worker action refused by the safety rule"
                );
                let action = format!("worker.{}", cmd.action.as_str());
                let targets = cmd.worker_ids.clone();
                self.audit_refusal(&action, actor, cmd.reason.as_str(), targets, &r)
                    .await;
                return Err(ServiceError::SafetyRefused(r));
            }
            Err(e) => return Err(e),
        };
        self.fleet_changed();
        self.metrics.fleet_action(cmd.action.as_str());
        tracing::info!(
            actor,
            action = cmd.action.as_str(),
            workers = ?cmd.worker_ids,
            reason = cmd.reason.as_str(),
            override_used = outcome.override_used,
            "worker action applied"
        );
        let eta_seconds = if cmd.action == WorkerActionKind::Drain {
            self.workers_idle_in(&cmd.worker_ids, t).await?
        } else {
            None
        };
        Ok(WorkerActionResponse {
            action: cmd.action,
            results: action_results(&outcome.before, cmd.action),
            eta_seconds,
            override_used: outcome.override_used,
            event: outcome.event,
        })
    }

    /// What a worker action would do (`dryRun`), refused exactly as the
    /// real one would be (unknown workers 404/422 as the API maps them, the
    /// safety rule's 409 with its phrase) but without writing anything —
    /// not even the audit event a real refusal leaves.
    pub async fn worker_action_dry_run(
        &self,
        cmd: WorkerActionCommand,
    ) -> ServiceResult<WorkerActionDryRun> {
        let t = now();
        let fleet = self.store.list_workers().await?;
        let before =
            domain::targeted(&fleet, &cmd.worker_ids).map_err(ServiceError::UnknownWorkers)?;
        let rule = self.safety_rule();
        let override_used = rule
            .check(&fleet, &cmd, t)
            .map_err(|r| ServiceError::SafetyRefused(Box::new(r)))?;
        let eta_seconds = if cmd.action == WorkerActionKind::Drain {
            self.workers_idle_in(&cmd.worker_ids, t).await?
        } else {
            None
        };
        Ok(WorkerActionDryRun {
            dry_run: true,
            action: cmd.action,
            results: action_results(&before, cmd.action),
            eta_seconds,
            impact: rule.impact(&fleet, &cmd, t),
            override_used,
        })
    }

    /// Seconds until `workers` should be idle ([`domain::drain::workers_idle_in`]).
    async fn workers_idle_in(
        &self,
        workers: &[String],
        t: chrono::DateTime<chrono::Utc>,
    ) -> ServiceResult<Option<f64>> {
        let running = self.store.running_jobs(10_000).await?;
        if !running
            .iter()
            .any(|j| j.worker_id.as_ref().is_some_and(|w| workers.contains(w)))
        {
            return Ok(Some(0.0));
        }
        let mean = self.mean_durations(t).await?;
        Ok(domain::drain::workers_idle_in(&running, workers, &mean, t))
    }

    /// Mean claim-to-finish milliseconds per job type over the last hour.
    pub(super) async fn mean_durations(
        &self,
        t: chrono::DateTime<chrono::Utc>,
    ) -> ServiceResult<HashMap<String, f64>> {
        let since = t - Duration::hours(1);
        Ok(self
            .store
            .mean_durations_ms(since)
            .await?
            .into_iter()
            .collect())
    }

    /// Refused actions are audited too (`success: false`): who tried to
    /// take which workers out of service, and what the safety rule saw.
    /// Nothing was applied, so a failure to write it is logged, not
    /// returned: the caller still gets the refusal.
    pub(super) async fn audit_refusal(
        &self,
        action: &str,
        actor: &str,
        reason: &str,
        targets: Vec<String>,
        r: &SafetyRefusal,
    ) {
        let details = serde_json::json!({
            "refused": "safety_check",
            "availableBefore": r.available_before,
            "availableAfter": r.available_after,
            "minimum": r.minimum,
            "affectedWorkers": r.affected_workers,
            "runningJobs": r.running_jobs,
        });
        let draft = FleetEventDraft {
            action: action.to_string(),
            actor: actor.to_string(),
            reason: reason.to_string(),
            targets,
            success: false,
            details,
        };
        if let Err(e) = self.store.record_fleet_event(&draft, now()).await {
            tracing::warn!(error = %e, action, actor, "could not audit a refused action");
        }
    }
}

/// Each targeted worker's line in a worker action's answer (applied or
/// dry run): its desired state before and after, and its running jobs.
fn action_results(before: &[WorkerRecord], action: WorkerActionKind) -> Vec<WorkerActionResult> {
    before
        .iter()
        .map(|w| WorkerActionResult {
            worker_id: w.id.clone(),
            ok: true,
            previous_desired_state: w.desired_state,
            desired_state: domain::desired_for(action),
            running_jobs: w.jobs().len(),
        })
        .collect()
}
