//! Fleet controls in the service: per-worker pause/resume/drain with the
//! safety rule, drain ETAs, and rolling restarts (created here, stepped by a
//! background controller every second, state kept in storage so it survives
//! a server restart).

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;
use wire::{
    RollingRestart, RollingRestartRequest, RolloutStatus, WorkerActionKind, WorkerActionRequest,
    WorkerActionResponse, WorkerActionResult,
};

use crate::domain::rollout;
use crate::domain::{self, FieldError, Reason, WorkerActionCommand};
use crate::service::{now, Service, ServiceError, ServiceResult};

/// Default for how long one worker may take to drain and come back.
const DEFAULT_DEADLINE_SECONDS: u32 = 300;

impl Service {
    /// `POST /api/workers/actions`.
    pub async fn worker_action(
        &self,
        actor: &str,
        req: WorkerActionRequest,
    ) -> ServiceResult<WorkerActionResponse> {
        let cmd = WorkerActionCommand::parse(req)?;
        let t = now();
        let rule = domain::SafetyRule {
            minimum: self.config().min_available_workers,
            stale_after: self.stale_after(),
        };
        let outcome = match self.store().worker_action(&cmd, actor, t, &rule).await {
            Ok(o) => o,
            Err(crate::storage::StoreError::SafetyRefused(r)) => {
                tracing::warn!(
                    actor,
                    action = cmd.action.as_str(),
                    available_after = r.available_after,
                    "worker action refused by the safety rule"
                );
                self.refusal_event(
                    &format!("worker.{}", cmd.action.as_str()),
                    actor,
                    cmd.reason.as_str(),
                    cmd.worker_ids.clone(),
                    &r,
                )
                .await;
                return Err(ServiceError::SafetyRefused(r));
            }
            Err(e) => return Err(e.into()),
        };
        self.fleet_changed();
        tracing::info!(
            actor,
            action = cmd.action.as_str(),
            workers = ?cmd.worker_ids,
            reason = cmd.reason.as_str(),
            override_used = outcome.override_used,
            "worker action applied"
        );
        let eta_seconds = if cmd.action == WorkerActionKind::Drain {
            self.drain_eta(&cmd.worker_ids, t).await?
        } else {
            None
        };
        Ok(WorkerActionResponse {
            action: cmd.action,
            results: outcome
                .before
                .iter()
                .map(|w| WorkerActionResult {
                    worker_id: w.id.clone(),
                    ok: true,
                    previous_desired_state: w.desired_state,
                    desired_state: domain::desired_for(cmd.action),
                    running_jobs: w.active_jobs.len(),
                })
                .collect(),
            eta_seconds,
            override_used: outcome.override_used,
            event: outcome.event,
        })
    }

    /// Seconds until `workers` should be idle: for each job they run, its
    /// start plus the recent mean duration of its type. `Some(0)` when they
    /// run nothing; `None` when a job's type has no recent history.
    pub async fn drain_eta(
        &self,
        workers: &[String],
        t: DateTime<Utc>,
    ) -> ServiceResult<Option<f64>> {
        let running = self.store().running_jobs(10_000).await?;
        let mine: Vec<_> = running
            .iter()
            .filter(|j| j.worker_id.as_ref().is_some_and(|w| workers.contains(w)))
            .collect();
        if mine.is_empty() {
            return Ok(Some(0.0));
        }
        let mean: HashMap<String, f64> = self
            .store()
            .mean_durations_ms(t - Duration::hours(1))
            .await?
            .into_iter()
            .collect();
        let mut eta: f64 = 0.0;
        for j in mine {
            let (Some(start), Some(ms)) = (j.started_at, mean.get(&j.job_type)) else {
                return Ok(None);
            };
            let end = start + Duration::milliseconds(*ms as i64);
            eta = eta.max((end - t).num_milliseconds().max(0) as f64 / 1000.0);
        }
        Ok(Some(eta))
    }

    /// `POST /api/workers/rolling-restarts`.
    pub async fn start_rolling_restart(
        &self,
        actor: &str,
        req: RollingRestartRequest,
    ) -> ServiceResult<RollingRestart> {
        let reason = Reason::parse(req.reason.as_deref())?;
        let fleet = self.store().list_workers().await?;
        let targets: Vec<String> = match (req.worker_ids, req.all.unwrap_or(false)) {
            (Some(_), true) => {
                return Err(FieldError::new("all", "give workerIds or all: true, not both").into())
            }
            (None, false) => {
                return Err(
                    FieldError::new("workerIds", "workerIds is required (or all: true)").into(),
                )
            }
            // A worker an operator paused (or is draining) stays as it is: a
            // restart would bring it back active.
            (None, true) => fleet
                .iter()
                .filter(|w| w.desired_state == wire::DesiredState::Active)
                .map(|w| w.id.clone())
                .collect(),
            (Some(ids), false) => {
                let mut out: Vec<String> = Vec::new();
                for id in ids {
                    let id = domain::parse_identifier("workerIds", Some(&id))?;
                    if !out.contains(&id) {
                        out.push(id);
                    }
                }
                out
            }
        };
        if targets.is_empty() {
            return Err(FieldError::new("workerIds", "no workers to restart").into());
        }
        domain::targeted(&fleet, &targets).map_err(ServiceError::UnknownWorkers)?;
        let held: Vec<String> = fleet
            .iter()
            .filter(|w| targets.contains(&w.id) && w.desired_state != wire::DesiredState::Active)
            .map(|w| format!("{} ({})", w.id, w.desired_state.as_str()))
            .collect();
        if !held.is_empty() {
            return Err(ServiceError::Conflict(format!(
                "not restarting workers an operator paused or is draining: {}; resume them first or leave them out",
                held.join(", ")
            )));
        }
        let max_unavailable = req
            .max_unavailable
            .ok_or_else(|| FieldError::new("maxUnavailable", "maxUnavailable is required"))?;
        if max_unavailable == 0 || max_unavailable as usize > targets.len() {
            return Err(FieldError::new(
                "maxUnavailable",
                format!(
                    "maxUnavailable must be between 1 and the number of workers ({})",
                    targets.len()
                ),
            )
            .into());
        }
        let deadline_seconds = req.deadline_seconds.unwrap_or(DEFAULT_DEADLINE_SECONDS);
        if !(5..=86_400).contains(&deadline_seconds) {
            return Err(FieldError::new(
                "deadlineSeconds",
                "deadlineSeconds must be between 5 and 86400",
            )
            .into());
        }
        // Safety: the worst moment takes `max_unavailable` available targets
        // out at once; that must leave the configured minimum.
        let t = now();
        let stale = self.stale_after();
        let worst: Vec<String> = fleet
            .iter()
            .filter(|w| targets.contains(&w.id) && domain::is_available(w, t, stale))
            .take(max_unavailable as usize)
            .map(|w| w.id.clone())
            .collect();
        let probe = WorkerActionCommand {
            action: WorkerActionKind::Drain,
            worker_ids: worst,
            reason: reason.clone(),
            confirm: req.confirm.clone(),
        };
        let override_used = match domain::check_safety(
            &fleet,
            &probe,
            self.config().min_available_workers,
            t,
            stale,
        ) {
            Ok(o) => o,
            Err(r) => {
                tracing::warn!(
                    actor,
                    available_after = r.available_after,
                    "rolling restart refused by the safety rule"
                );
                self.refusal_event("rolling_restart.start", actor, reason.as_str(), targets, &r)
                    .await;
                return Err(ServiceError::SafetyRefused(Box::new(r)));
            }
        };
        let r = rollout::new_rollout(
            targets,
            max_unavailable,
            deadline_seconds,
            reason.as_str(),
            actor,
            t,
        );
        self.store().create_rollout(&r).await?;
        self.rollout_event(&r, "start", actor, reason.as_str(), Some(override_used))
            .await?;
        tracing::info!(actor, id = %r.id, workers = r.workers.len(), max_unavailable, "rolling restart started");
        // Start the first drains now rather than at the next tick.
        Ok(self
            .advance_rollouts()
            .await?
            .filter(|a| a.id == r.id)
            .unwrap_or(r))
    }

    /// Refused actions are audited too (`success: false`): who tried to
    /// take which workers out of service, and what the safety rule saw.
    /// Nothing was applied, so a failure to write it is logged, not
    /// returned: the caller still gets the refusal.
    async fn refusal_event(
        &self,
        action: &str,
        actor: &str,
        reason: &str,
        targets: Vec<String>,
        r: &domain::SafetyRefusal,
    ) {
        let details = serde_json::json!({
            "refused": "safety_check",
            "availableBefore": r.available_before,
            "availableAfter": r.available_after,
            "minimum": r.minimum,
            "affectedWorkers": r.affected_workers,
            "runningJobs": r.running_jobs,
        });
        let event = self.fleet_event(action.to_string(), actor, reason, targets, false, details);
        if let Err(e) = event.await {
            tracing::warn!(error = %e, action, actor, "could not audit a refused action");
        }
    }

    async fn rollout_event(
        &self,
        r: &RollingRestart,
        what: &str,
        actor: &str,
        reason: &str,
        override_used: Option<bool>,
    ) -> ServiceResult<()> {
        let details = serde_json::json!({
            "rollingRestartId": r.id,
            "status": r.status,
            "maxUnavailable": r.max_unavailable,
            "message": r.message,
            "overrideUsed": override_used,
            "workers": r.workers,
        });
        self.fleet_event(
            format!("rolling_restart.{what}"),
            actor,
            reason,
            r.workers.iter().map(|w| w.worker_id.clone()).collect(),
            r.status != RolloutStatus::Failed,
            details,
        )
        .await
    }

    /// Appends a fleet control event (not a global pause or resume), with
    /// the pause version and drain metrics of this moment.
    async fn fleet_event(
        &self,
        action: String,
        actor: &str,
        reason: &str,
        targets: Vec<String>,
        success: bool,
        details: serde_json::Value,
    ) -> ServiceResult<()> {
        let draft = domain::FleetEventDraft {
            action,
            actor: actor.to_string(),
            reason: reason.to_string(),
            targets,
            success,
            details,
        };
        self.store().record_fleet_event(&draft, now()).await?;
        Ok(())
    }

    pub async fn get_rolling_restart(&self, id: Uuid) -> ServiceResult<RollingRestart> {
        self.store().get_rollout(id).await.map_err(|e| match e {
            crate::storage::StoreError::NotFound => {
                ServiceError::NotFound(format!("no rolling restart {id}"))
            }
            other => other.into(),
        })
    }

    pub async fn list_rolling_restarts(&self) -> ServiceResult<Vec<RollingRestart>> {
        Ok(self.store().list_rollouts(20).await?)
    }

    /// `POST /api/workers/rolling-restarts/{id}/cancel`: no further drains;
    /// workers already draining finish their drain.
    pub async fn cancel_rolling_restart(
        &self,
        actor: &str,
        id: Uuid,
        reason: Option<String>,
    ) -> ServiceResult<RollingRestart> {
        let reason = match reason {
            Some(r) => Reason::parse(Some(&r))?.as_str().to_string(),
            None => "cancelled by operator".to_string(),
        };
        let r = self
            .store()
            .cancel_rollout(id, rollout::CANCEL_MESSAGE, now())
            .await
            .map_err(|e| match e {
                crate::storage::StoreError::NotFound => {
                    ServiceError::NotFound(format!("no rolling restart {id}"))
                }
                other => other.into(),
            })?;
        self.rollout_event(&r, "cancel", actor, &reason, None)
            .await?;
        tracing::info!(actor, %id, %reason, "rolling restart cancelled");
        Ok(r)
    }

    /// One controller step of the running rollout (if any).
    pub async fn advance_rollouts(&self) -> ServiceResult<Option<RollingRestart>> {
        let t = now();
        let Some(r) = self.store().advance_rollout(t, self.stale_after()).await? else {
            return Ok(None);
        };
        if r.workers.iter().any(|w| w.started_at == Some(t)) {
            self.fleet_changed(); // drains started in this step
        }
        if r.status != RolloutStatus::Running {
            let what = r.status.as_str();
            tracing::info!(id = %r.id, status = what, message = r.message.as_deref().unwrap_or(""), "rolling restart finished");
            let reason = r
                .message
                .clone()
                .unwrap_or_else(|| "all workers restarted".into());
            self.rollout_event(&r, what, crate::service::SYSTEM_ACTOR, &reason, None)
                .await?;
        }
        Ok(Some(r))
    }
}
