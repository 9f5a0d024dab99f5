//! Rolling restarts: started here, stepped by a background controller
//! (state kept in storage, so a restart of the server does not lose one),
//! cancelled on request.

use uuid::Uuid;
use wire::{DesiredState, RollingRestart, RolloutStatus, WorkerActionKind};

use super::{now, Service, ServiceError, ServiceResult, SYSTEM_ACTOR};
use crate::domain::rollout::{self, RolloutCommand, RolloutTargets};
use crate::domain::{self, FieldError, FleetEventDraft, Reason, WorkerActionCommand};

fn no_rollout(id: Uuid) -> impl FnOnce(crate::storage::StoreError) -> ServiceError {
    ServiceError::not_found(move || format!("no rolling restart {id}"))
}

impl Service {
    /// `POST /api/workers/rolling-restarts`.
    pub async fn start_rolling_restart(
        &self,
        actor: &str,
        cmd: RolloutCommand,
    ) -> ServiceResult<RollingRestart> {
        let fleet = self.store.list_workers().await?;
        let targets: Vec<String> = match cmd.targets {
            // A worker an operator paused (or is draining) stays as it is: a
            // restart would bring it back active.
            RolloutTargets::AllActive => fleet
                .iter()
                .filter(|w| w.desired_state == DesiredState::Active)
                .map(|w| w.id.clone())
                .collect(),
            RolloutTargets::Ids(ids) => ids,
        };
        if targets.is_empty() {
            return Err(FieldError::new("workerIds", "no workers to restart").into());
        }
        domain::targeted(&fleet, &targets).map_err(ServiceError::UnknownWorkers)?;
        let held: Vec<String> = fleet
            .iter()
            .filter(|w| targets.contains(&w.id) && w.desired_state != DesiredState::Active)
            .map(|w| format!("{} ({})", w.id, w.desired_state.as_str()))
            .collect();
        if !held.is_empty() {
            return Err(ServiceError::Conflict(format!(
                "not restarting workers an operator paused or is draining: {}; resume them first or leave them out",
                held.join(", ")
            )));
        }
        let max_unavailable = cmd.max_unavailable;
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
        // Safety: the worst moment takes `max_unavailable` available targets
        // out at once; that must leave the configured minimum.
        let t = now();
        let rule = self.safety_rule();
        let worst: Vec<String> = fleet
            .iter()
            .filter(|w| targets.contains(&w.id) && domain::is_available(w, t, rule.stale_after))
            .take(max_unavailable as usize)
            .map(|w| w.id.clone())
            .collect();
        let probe = WorkerActionCommand {
            action: WorkerActionKind::Drain,
            worker_ids: worst,
            reason: cmd.reason.clone(),
            confirm: cmd.confirm.clone(),
        };
        let override_used = match rule.check(&fleet, &probe, t) {
            Ok(o) => o,
            Err(r) => {
                tracing::warn!(
                    actor,
                    available_after = r.available_after,
                    "rolling restart refused by the safety rule"
                );
                let reason = cmd.reason.as_str();
                self.audit_refusal("rolling_restart.start", actor, reason, targets, &r)
                    .await;
                return Err(ServiceError::SafetyRefused(Box::new(r)));
            }
        };
        let r = rollout::new_rollout(
            targets,
            max_unavailable,
            cmd.deadline_seconds,
            cmd.reason.as_str(),
            actor,
            t,
        );
        self.store.create_rollout(&r).await?;
        self.metrics.rolling_restart_started();
        self.audit_rollout(&r, "start", actor, cmd.reason.as_str(), Some(override_used))
            .await?;
        tracing::info!(actor, id = %r.id, workers = r.workers.len(), max_unavailable, "rolling restart started");
        // Start the first drains now rather than at the next tick.
        Ok(self
            .advance_rollouts()
            .await?
            .filter(|a| a.id == r.id)
            .unwrap_or(r))
    }

    /// A rolling restart's audit event.
    async fn audit_rollout(
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
        let draft = FleetEventDraft {
            action: format!("rolling_restart.{what}"),
            actor: actor.to_string(),
            reason: reason.to_string(),
            targets: r.workers.iter().map(|w| w.worker_id.clone()).collect(),
            success: r.status != RolloutStatus::Failed,
            details,
        };
        self.store.record_fleet_event(&draft, now()).await?;
        Ok(())
    }

    pub async fn get_rolling_restart(&self, id: Uuid) -> ServiceResult<RollingRestart> {
        self.store.get_rollout(id).await.map_err(no_rollout(id))
    }

    pub async fn list_rolling_restarts(&self) -> ServiceResult<Vec<RollingRestart>> {
        Ok(self.store.list_rollouts(20).await?)
    }

    /// `POST /api/workers/rolling-restarts/{id}/cancel`: no further drains;
    /// workers already draining finish their drain.
    pub async fn cancel_rolling_restart(
        &self,
        actor: &str,
        id: Uuid,
        reason: Option<Reason>,
    ) -> ServiceResult<RollingRestart> {
        let reason = reason
            .as_ref()
            .map_or("cancelled by operator", Reason::as_str);
        let r = self
            .store
            .cancel_rollout(id, rollout::CANCEL_MESSAGE, now())
            .await
            .map_err(no_rollout(id))?;
        self.audit_rollout(&r, "cancel", actor, reason, None)
            .await?;
        tracing::info!(actor, %id, %reason, "rolling restart cancelled");
        Ok(r)
    }

    /// One controller step of the running rollout (if any).
    pub async fn advance_rollouts(&self) -> ServiceResult<Option<RollingRestart>> {
        let t = now();
        let Some(r) = self.store.advance_rollout(t, self.stale_after()).await? else {
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
            self.audit_rollout(&r, what, SYSTEM_ACTOR, &reason, None)
                .await?;
        }
        Ok(Some(r))
    }
}
