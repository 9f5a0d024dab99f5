//! The job queue, worker side: claims (with long polling and batches),
//! lease heartbeats, complete and fail.

use std::time::Duration;

use wire::{ClaimResponse, HeartbeatResponse, Job};

use super::queue::no_job;
use super::{now, Service, ServiceError, ServiceResult};
use crate::domain::{self, ClaimCommand, CompleteCommand, FailCommand, HeartbeatCommand};
use crate::metrics::inc;
use crate::storage::{ClaimOutcome, ClaimParams};

impl Service {
    /// Claims a job (or up to `limit` jobs) for a worker, waiting up to
    /// `waitMs` for one to arrive. An enqueue anywhere wakes the wait at
    /// once; so does a pause, which is answered with `{job: null}` and the
    /// new `system` block.
    pub async fn claim(&self, cmd: ClaimCommand) -> ServiceResult<ClaimResponse> {
        let limit = cmd.limit.map(|l| l.get());
        let wait_ms = cmd.wait.get();
        // Storage parameters, built once; each attempt sets its own `now`.
        let mut claim = ClaimParams {
            worker_id: cmd.worker_id.into_string(),
            types: cmd.types.map(|t| t.into_vec()),
            lease_seconds: cmd.lease_seconds,
            now: now(),
        };
        // Paused: answered from the cache at once, without registering for
        // wake-ups (the paused claim must cost no more than a bare request).
        // No wait asked for: one attempt, no wake-up registration either.
        if self.cache.is_paused() || wait_ms == 0 {
            return self.claim_once(&mut claim, limit).await;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_millis(u64::from(wait_ms));
        let mut pause_rx = self.cache.subscribe();
        loop {
            // Registered before the attempt, so an enqueue that lands between
            // the attempt and the wait is not missed.
            let notified = self.jobs_signal.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let fleet_changed = self.fleet_signal.notified();
            tokio::pin!(fleet_changed);
            fleet_changed.as_mut().enable();
            pause_rx.mark_unchanged();
            let resp = self.claim_once(&mut claim, limit).await?;
            let now_i = tokio::time::Instant::now();
            if resp.job.is_some() || resp.system.workers_paused || now_i >= deadline {
                return Ok(resp);
            }
            // Re-check at least every second: a job whose retry backoff ends
            // becomes claimable without any notification.
            let slice = (deadline - now_i).min(Duration::from_secs(1));
            tokio::select! {
                _ = &mut notified => {}
                _ = pause_rx.changed() => {}
                // Answer now (empty): the worker's next heartbeat carries
                // its new directive. A worker that may still claim simply
                // asks again.
                _ = &mut fleet_changed => return Ok(resp),
                _ = tokio::time::sleep(slice) => {}
            }
        }
    }

    /// One claim attempt. While the cache says paused this answers
    /// `{job: null}` at once, touching neither the database nor the requeue
    /// logic; otherwise storage re-checks the pause inside the claim.
    async fn claim_once(
        &self,
        claim: &mut ClaimParams,
        limit: Option<u32>,
    ) -> ServiceResult<ClaimResponse> {
        // The hot paused path: one read lock, no await, no database, and no
        // copy of the cached state beyond the answer itself.
        if let Some(system) = self
            .cache
            .paused_system_block(self.config.pause_poll_interval_ms)
        {
            inc(&self.metrics.claims_paused);
            return Ok(ClaimResponse {
                job: None,
                jobs: limit.map(|_| Vec::new()),
                system,
            });
        }
        claim.now = now();
        let params = &*claim;
        let outcome = match limit {
            None => self.store.claim(params).await.map(|o| match o {
                ClaimOutcome::Paused(state) => (state, Vec::new(), 0),
                ClaimOutcome::Running {
                    state,
                    job,
                    requeued,
                } => (state, job.into_iter().collect(), requeued),
            }),
            Some(n) => self
                .store
                .claim_many(params, n)
                .await
                .map(|m| (m.state, m.jobs, m.requeued)),
        };
        let (state, jobs, requeued) = outcome.inspect_err(|_| inc(&self.metrics.claims_error))?;
        if requeued > 0 {
            self.metrics
                .requeued_expired
                .fetch_add(requeued, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(requeued, "expired leases requeued before claim");
        }
        match jobs.first() {
            Some(j) => {
                inc(&self.metrics.claims_claimed);
                tracing::debug!(job_id = %j.id, jobs = jobs.len(), worker_id = %params.worker_id, "job claimed");
            }
            None if state.workers_paused => inc(&self.metrics.claims_paused),
            None => inc(&self.metrics.claims_empty),
        }
        let system = state.system_block(self.config.pause_poll_interval_ms);
        self.cache.observe(state);
        Ok(ClaimResponse {
            job: jobs.first().cloned(),
            jobs: limit.map(|_| jobs),
            system,
        })
    }

    /// Counts a refusal for a lost lease.
    fn lease_lost(&self, e: ServiceError) -> ServiceError {
        if matches!(e, ServiceError::LeaseLost(_)) {
            inc(&self.metrics.lease_conflicts);
        }
        e
    }

    /// Extends a lease; the answer carries the `system` block so a worker
    /// learns of a pause (and quiesce) from its heartbeats.
    pub async fn heartbeat(&self, cmd: HeartbeatCommand) -> ServiceResult<HeartbeatResponse> {
        let id = cmd.fence.job_id;
        let (job, desired) = self
            .store
            .heartbeat(
                &cmd.fence,
                cmd.lease_seconds,
                cmd.paused_at_checkpoint,
                now(),
            )
            .await
            .map_err(no_job(id))
            .map_err(|e| self.lease_lost(e))?;
        let system = self
            .cache
            .read(|s| s.system_block(self.config.pause_poll_interval_ms));
        Ok(HeartbeatResponse {
            job,
            system,
            directive: desired.map(domain::directive),
        })
    }

    pub async fn complete(&self, cmd: CompleteCommand) -> ServiceResult<Job> {
        let id = cmd.fence.job_id;
        let job = self
            .store
            .complete(&cmd.fence, cmd.result, now())
            .await
            .map_err(no_job(id))
            .map_err(|e| self.lease_lost(e))?;
        inc(&self.metrics.completed);
        if let (Some(start), Some(end)) = (job.started_at, job.finished_at) {
            self.metrics
                .observe_latency((end - start).num_milliseconds() as f64 / 1000.0);
        }
        Ok(job)
    }

    pub async fn fail(&self, cmd: FailCommand) -> ServiceResult<Job> {
        let id = cmd.fence.job_id;
        let job = self
            .store
            .fail(&cmd.fence, &cmd.error, cmd.retryable, now())
            .await
            .map_err(no_job(id))
            .map_err(|e| self.lease_lost(e))?;
        inc(&self.metrics.failures);
        tracing::info!(job_id = %id, status = job.status.as_str(), attempts = job.attempts, "job failed");
        Ok(job)
    }
}
