//! One claimed job: run its handler while a lease heartbeat keeps the lease,
//! then report the outcome. If the lease is lost (the job was requeued
//! elsewhere or cancelled) the handler is cancelled and nothing is reported:
//! the job now belongs to someone else. Nor is anything reported for a job
//! its handler stopped at a checkpoint ([`crate::Checkpoint::Stop`]): it is
//! handed back.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use client::ErrorKind;
use serde_json::Value;
use tokio::task::JoinHandle;
use uuid::Uuid;
use wire::{ExecutionResult, HeartbeatRequest, Job, PayloadType, ResultEnvelope};

use crate::handler::{CheckpointState, JobContext, JobError};
use crate::shared::Shared;

/// The first retry of a failed lease heartbeat; it doubles up to the usual
/// interval.
const FIRST_RETRY: Duration = Duration::from_millis(250);

/// Aborts the handler task when the job is dropped (lease lost, or the
/// worker stopping at once): a spawned task would otherwise run on.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs a claimed job to its end and reports it.
pub(crate) async fn run(shared: Arc<Shared>, job: Job, checkpoint: Arc<CheckpointState>) {
    let Some(token) = job.lease_token else {
        tracing::error!(job_id = %job.id, "claimed job has no lease token; cannot work on it safely");
        return;
    };
    let started = Instant::now();
    tracing::info!(job_id = %job.id, job_type = %job.job_type, attempt = job.attempts, "job started");
    let outcome = match shared.registry.get(&job.job_type) {
        None => Err(JobError::fatal(format!(
            "this worker has no handler for job type {:?}",
            job.job_type
        ))),
        Some(handler) => {
            let ctx = JobContext {
                job_id: job.id,
                job_type: job.job_type.clone(),
                queue: job.queue.clone(),
                attempt: job.attempts,
                worker_id: shared.config.worker_id.clone(),
                fleet: shared.fleet.subscribe(),
                queues: shared.fleet.subscribe_queues(),
                checkpoint: checkpoint.clone(),
                shutdown: shared.shutdown.subscribe(),
                directive: shared.directive.subscribe(),
            };
            let payload = job.payload.clone();
            let mut task =
                AbortOnDrop(tokio::spawn(async move { handler.run(ctx, payload).await }));
            tokio::select! {
                joined = &mut task.0 => joined.unwrap_or_else(|e| {
                    Err(JobError::retryable(format!("handler panicked: {e}")))
                }),
                () = keep_lease(&shared, &job, token, &checkpoint) => {
                    tracing::warn!(job_id = %job.id, "lease lost: job abandoned, no result reported");
                    return;
                }
            }
        }
    };
    if checkpoint.stopped.load(Ordering::SeqCst) {
        // Reporting it would fail the attempt (or, with none left, the
        // job) for the worker's restart; an expired lease requeues it.
        tracing::warn!(job_id = %job.id, "job stopped at a checkpoint: handed back, no result reported; its lease expires and the server requeues it");
        return;
    }
    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match &outcome {
        Ok(_) => tracing::info!(job_id = %job.id, elapsed_ms = ms, "job succeeded"),
        Err(e) => {
            tracing::warn!(job_id = %job.id, elapsed_ms = ms, retryable = e.retryable, error = e.message.as_str(), "job failed")
        }
    }
    shared
        .results
        .deliver(envelope(&shared.config.worker_id, job.id, token, outcome))
        .await;
}

/// The `execution_result` envelope of an outcome. The key names the lease,
/// so a replay of the same outcome is a repeat, while a later attempt of the
/// job (a new lease) is a different result.
pub(crate) fn envelope(
    worker_id: &str,
    job_id: Uuid,
    token: Uuid,
    outcome: Result<Value, JobError>,
) -> ResultEnvelope {
    let result = match outcome {
        Ok(v) => ExecutionResult {
            lease_token: token,
            status: "succeeded".into(),
            result: Some(v),
            error: None,
            retryable: None,
        },
        Err(e) => ExecutionResult {
            lease_token: token,
            status: "failed".into(),
            result: e.details,
            error: Some(e.message),
            retryable: Some(e.retryable),
        },
    };
    ResultEnvelope {
        idempotency_key: Some(format!("{job_id}:{token}")),
        payload_type: Some(PayloadType::ExecutionResult.as_str().into()),
        task_id: Some(job_id),
        worker_id: Some(worker_id.to_string()),
        payload: serde_json::to_value(result).ok(),
    }
}

/// Extends the lease every third of its length (at once when the job enters
/// or leaves a checkpoint hold) and feeds the `system` block to the fleet
/// state (its `pausedQueues` speak for the job's queue: a quiesce of that
/// queue reaches the job through here). Returns only when the lease is
/// lost — Lull's own `lease_lost` or `not_found` ([`ErrorKind::Gone`]).
/// Anything else is retried: an outage, a proxy's error page (even a 404)
/// or a refused credential may pass while the lease still holds — sooner
/// than a third of a lease (with backoff), so a short blip does not eat up
/// the lease's margin.
async fn keep_lease(shared: &Shared, job: &Job, token: Uuid, checkpoint: &CheckpointState) {
    let job_id = job.id;
    let scope = std::slice::from_ref(&job.queue);
    let every = shared.config.lease_heartbeat_interval();
    let mut failing = false;
    // After a failure the next try comes sooner, doubling up to `every`.
    let mut retry: Option<Duration> = None;
    loop {
        tokio::select! {
            () = tokio::time::sleep(retry.unwrap_or(every).min(every)) => {}
            () = checkpoint.changed.notified() => {}
        }
        let req = HeartbeatRequest {
            worker_id: Some(shared.config.worker_id.clone()),
            lease_token: Some(token),
            paused_at_checkpoint: Some(checkpoint.holding.load(Ordering::SeqCst)),
            lease_seconds: Some(shared.config.lease_seconds),
        };
        let e = match shared.api.job_heartbeat(job_id, &req).await {
            Ok(resp) => {
                shared.fleet.observe(&resp.system);
                shared
                    .fleet
                    .observe_queues(Some(scope), &resp.system.paused_queues);
                if let Some(d) = resp.directive {
                    shared.apply_directive(d);
                }
                if std::mem::take(&mut failing) {
                    tracing::info!(%job_id, "lease heartbeat going again");
                }
                retry = None;
                continue;
            }
            Err(e) => e,
        };
        retry = Some(retry.map_or(FIRST_RETRY, |r| (r * 2).min(every)));
        match e.kind() {
            ErrorKind::Gone => {
                tracing::warn!(%job_id, error = %e, "lease heartbeat refused");
                return;
            }
            // The lease may still hold: keep trying, say why once.
            ErrorKind::Credential if !std::mem::replace(&mut failing, true) => {
                tracing::error!(%job_id, error = %e, "lease heartbeat: the server refuses this worker's credential (fix LULL_TOKEN); retrying, the job keeps running");
            }
            _ if !std::mem::replace(&mut failing, true) => {
                tracing::warn!(%job_id, error = %e, "lease heartbeat failed; retrying");
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outcomes_become_fenced_execution_results() {
        let (job, token) = (Uuid::new_v4(), Uuid::new_v4());
        let ok = envelope("w", job, token, Ok(json!({"n": 1})));
        assert_eq!(ok.idempotency_key, Some(format!("{job}:{token}")));
        assert_eq!(ok.payload_type.as_deref(), Some("execution_result"));
        let p: ExecutionResult = serde_json::from_value(ok.payload.unwrap()).unwrap();
        assert_eq!((p.status.as_str(), p.lease_token), ("succeeded", token));
        let failed = envelope(
            "w",
            job,
            token,
            Err(JobError::fatal("bad").with_details(json!({"exitCode": 2}))),
        );
        let p: ExecutionResult = serde_json::from_value(failed.payload.unwrap()).unwrap();
        assert_eq!(p.status, "failed");
        assert_eq!(p.retryable, Some(false));
        assert_eq!(p.error.as_deref(), Some("bad"));
        assert_eq!(p.result, Some(json!({"exitCode": 2})));
    }
}
