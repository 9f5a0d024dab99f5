//! Result submissions from workers, applied once per idempotency key.

use chrono::Duration;
use wire::ResultAck;

use super::{now, Service, ServiceError, ServiceResult};
use crate::domain::{CompleteCommand, Execution, FailCommand, FieldError, ResultSubmission};
use crate::storage::ResultBegin;

/// An `applying` result older than this is taken over (its server died).
const RESULT_RETAKE_SECONDS: i64 = 60;

impl Service {
    /// `POST /api/workers/results`: applied once per idempotency key. A
    /// repeat is acknowledged again; the same key with other content is
    /// refused (422); a repeat while the first is being applied is 409.
    pub async fn submit_result(&self, sub: ResultSubmission) -> ServiceResult<ResultAck> {
        let t = now();
        let begin = self
            .store
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
                self.store.finish_result(&sub.key, None, now()).await?;
                Ok(ack(true))
            }
            Err(ServiceError::LeaseLost(reason)) => {
                self.store
                    .finish_result(&sub.key, Some(&reason), now())
                    .await?;
                tracing::warn!(key = %sub.key, task_id = ?sub.task_id, reason = reason.as_str(), "result refused: lease lost");
                Err(ServiceError::LeaseLost(reason))
            }
            Err(other) => {
                // Not applied: forget it so the worker's retry applies it.
                if let Err(e) = self.store.abandon_result(&sub.key).await {
                    tracing::error!(key = %sub.key, error = %e, "could not release a failed result");
                }
                Err(other)
            }
        }
    }

    /// An `execution_result` completes or fails its job, parsed and applied
    /// exactly as the worker's own complete/fail call would be; other kinds
    /// are only recorded.
    async fn apply_result(&self, sub: &ResultSubmission) -> ServiceResult<()> {
        let (Some(exec), Some(job_id)) = (&sub.execution, sub.task_id) else {
            return Ok(());
        };
        let worker_id = Some(sub.worker_id.clone());
        match exec {
            Execution::Succeeded {
                lease_token,
                result,
            } => {
                let req = wire::CompleteRequest {
                    worker_id,
                    lease_token: Some(*lease_token),
                    result: result.clone(),
                };
                self.complete(CompleteCommand::parse(job_id, req)?).await?;
            }
            Execution::Failed {
                lease_token,
                error,
                retryable,
            } => {
                let req = wire::FailRequest {
                    worker_id,
                    lease_token: Some(*lease_token),
                    error: Some(error.clone()),
                    retryable: Some(*retryable),
                };
                self.fail(FailCommand::parse(job_id, req)?).await?;
            }
        }
        Ok(())
    }
}
