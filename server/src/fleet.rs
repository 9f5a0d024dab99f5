//! The worker side of the service: registration, worker heartbeats with
//! directives, the fleet views, and idempotent result submission.

use chrono::Duration;
use wire::{
    FleetHealth, FleetMetrics, RegisterRequest, ResultAck, ResultEnvelope, WorkerDirectiveResponse,
    WorkerHealth, WorkerHeartbeatRequest, WorkerList, WorkerMetrics,
};

use crate::domain::{
    self, Execution, FieldError, Registration, ResultSubmission, WorkerBeat, WorkerRecord,
};
use crate::service::{now, Service, ServiceError, ServiceResult};
use crate::storage::{ResultBegin, StoreError};

/// An `applying` result older than this is taken over (its server died).
const RESULT_RETAKE_SECONDS: i64 = 60;

impl Service {
    /// A worker whose last heartbeat is older than this is offline.
    pub(crate) fn stale_after(&self) -> Duration {
        Duration::seconds(self.config().worker_stale_seconds as i64)
    }

    fn directive_response(&self, w: WorkerRecord) -> WorkerDirectiveResponse {
        WorkerDirectiveResponse {
            directive: domain::directive(w.desired_state),
            worker: w.info(now(), self.stale_after()),
            system: self
                .cache()
                .current()
                .system_block(self.config().pause_poll_interval_ms),
        }
    }

    /// `POST /api/workers/register`.
    pub async fn register_worker(
        &self,
        req: RegisterRequest,
    ) -> ServiceResult<WorkerDirectiveResponse> {
        let reg = Registration::parse(req)?;
        let w = self.store().register_worker(&reg, now()).await?;
        tracing::info!(worker_id = %w.id, boot_id = %w.boot_id, desired = w.desired_state.as_str(), "worker registered");
        Ok(self.directive_response(w))
    }

    /// `POST /api/workers/{id}/heartbeat`.
    pub async fn worker_heartbeat(
        &self,
        id: &str,
        req: WorkerHeartbeatRequest,
    ) -> ServiceResult<WorkerDirectiveResponse> {
        let beat = WorkerBeat::parse(id, req)?;
        let w = self
            .store()
            .worker_heartbeat(&beat, now())
            .await
            .map_err(|e| match e {
                StoreError::NotFound => {
                    ServiceError::NotFound(format!("worker {id} is not registered; register first"))
                }
                other => other.into(),
            })?;
        Ok(self.directive_response(w))
    }

    /// `GET /api/workers`.
    pub async fn list_workers(&self) -> ServiceResult<WorkerList> {
        let t = now();
        let stale = self.stale_after();
        let workers = self.store().list_workers().await?;
        Ok(WorkerList {
            workers: workers.iter().map(|w| w.info(t, stale)).collect(),
        })
    }

    /// `GET /api/workers/health`.
    pub async fn fleet_health(&self) -> ServiceResult<FleetHealth> {
        let t = now();
        let stale = self.stale_after();
        let workers = self.store().list_workers().await?;
        let counts = self.store().job_counts(t).await?;
        let health: Vec<WorkerHealth> = workers
            .iter()
            .map(|w| {
                let observed = w.info(t, stale).observed_state;
                let age = (t - w.last_heartbeat_at).num_seconds();
                WorkerHealth {
                    id: w.id.clone(),
                    online: !matches!(
                        observed,
                        wire::ObservedState::Offline | wire::ObservedState::Stopped
                    ),
                    last_seen: w.last_heartbeat_at,
                    seconds_since_seen: age,
                    stale: t - w.last_heartbeat_at > stale,
                }
            })
            .collect();
        let online = health.iter().filter(|h| h.online).count() as u32;
        Ok(FleetHealth {
            online,
            offline: health.len() as u32 - online,
            stale_after_seconds: self.config().worker_stale_seconds,
            queue_depth: counts.queued,
            running: counts.running + counts.stale_running,
            workers: health,
        })
    }

    /// `GET /api/workers/metrics`.
    pub async fn fleet_metrics(&self) -> ServiceResult<FleetMetrics> {
        let t = now();
        let workers = self.store().list_workers().await?;
        let counts = self.store().job_counts(t).await?;
        let latency = self.store().mean_latency_ms(t - Duration::hours(1)).await?;
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

    /// `POST /api/workers/results`: applied once per idempotency key. A
    /// repeat is acknowledged again; the same key with other content is
    /// refused (422); a repeat while the first is being applied is 409.
    pub async fn submit_result(&self, env: ResultEnvelope) -> ServiceResult<ResultAck> {
        let sub = ResultSubmission::parse(env)?;
        let t = now();
        let begin = self
            .store()
            .begin_result(&sub, t, t - Duration::seconds(RESULT_RETAKE_SECONDS))
            .await?;
        let ack = |applied_now| ResultAck {
            idempotency_key: sub.key.clone(),
            applied_now,
            accepted_at: t,
        };
        match begin {
            ResultBegin::Applied => return Ok(ack(false)),
            ResultBegin::InFlight => {
                return Err(ServiceError::InFlight(format!(
                    "a submission with idempotencyKey {} is being applied right now; retry shortly",
                    sub.key
                )))
            }
            ResultBegin::Rejected(reason) => return Err(ServiceError::LeaseLost(reason)),
            ResultBegin::Mismatch => {
                return Err(FieldError::new(
                    "idempotencyKey",
                    format!(
                        "idempotencyKey {} was already used with a different payload",
                        sub.key
                    ),
                )
                .into())
            }
            ResultBegin::Fresh => {}
        }
        match self.apply_result(&sub).await {
            Ok(()) => {
                self.store().finish_result(&sub.key, None, now()).await?;
                Ok(ack(true))
            }
            Err(ServiceError::LeaseLost(reason)) => {
                self.store()
                    .finish_result(&sub.key, Some(&reason), now())
                    .await?;
                tracing::warn!(key = %sub.key, task_id = ?sub.task_id, %reason, "result refused: lease lost");
                Err(ServiceError::LeaseLost(reason))
            }
            Err(other) => {
                // Not applied: forget it so the worker's retry applies it.
                if let Err(e) = self.store().abandon_result(&sub.key).await {
                    tracing::error!(key = %sub.key, error = %e, "could not release a failed result");
                }
                Err(other)
            }
        }
    }

    async fn apply_result(&self, sub: &ResultSubmission) -> ServiceResult<()> {
        let (Some(exec), Some(task_id)) = (&sub.execution, sub.task_id) else {
            // facts, logs, health: recorded, nothing more to apply.
            return Ok(());
        };
        match exec {
            Execution::Succeeded {
                lease_token,
                result,
            } => {
                self.complete(
                    task_id,
                    wire::CompleteRequest {
                        worker_id: Some(sub.worker_id.clone()),
                        lease_token: Some(*lease_token),
                        result: result.clone(),
                    },
                )
                .await?;
            }
            Execution::Failed {
                lease_token,
                error,
                retryable,
            } => {
                self.fail(
                    task_id,
                    wire::FailRequest {
                        worker_id: Some(sub.worker_id.clone()),
                        lease_token: Some(*lease_token),
                        error: Some(error.clone()),
                        retryable: Some(*retryable),
                    },
                )
                .await?;
            }
        }
        Ok(())
    }
}
