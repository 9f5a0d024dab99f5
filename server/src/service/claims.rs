//! The job queue, worker side: claims (with long polling and batches),
//! lease heartbeats, complete and fail (one job, or many in one request).

use std::time::Duration;

use wire::{
    BatchOutcome, ClaimResponse, Completed, ErrorDetail, HeartbeatResponse, Job, JobOutcome,
};

use super::queue::no_job;
use super::{now, Service, ServiceError, ServiceResult};
use crate::domain::PauseState;
use crate::domain::{
    self, BatchComplete, BatchFail, ClaimCommand, CompleteCommand, CompleteNext, FailCommand,
    HeartbeatCommand,
};
use crate::storage::{ClaimOutcome, ClaimParams, StoreError, StoreResult};

/// A claim's storage parameters (`now` is set by each attempt).
fn claim_params(cmd: ClaimCommand) -> ClaimParams {
    ClaimParams {
        worker_id: cmd.worker_id.into_string(),
        types: cmd.types.map(|t| t.into_vec()),
        queues: cmd.queues.map(|q| q.into_vec()),
        lease_seconds: cmd.lease_seconds,
        now: now(),
    }
}

/// One long-polling claim, for the `lull_claim_waiters` gauge: counted
/// from its start until it is dropped (answered, failed or cancelled).
struct Waiting<'a>(&'a crate::metrics::Metrics);

impl<'a> Waiting<'a> {
    fn new(m: &'a crate::metrics::Metrics) -> Self {
        m.claim_waiting(1);
        Waiting(m)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.claim_waiting(-1);
    }
}

impl Service {
    /// Claims a job (or up to `limit` jobs) for a worker, waiting up to
    /// `waitMs` for one to arrive. An enqueue anywhere wakes the wait at
    /// once; so does a pause (of the fleet, or of the last of the claim's
    /// queues), which is answered with `{job: null}` and the new `system`
    /// block; a queue's resume wakes it to claim again.
    pub async fn claim(&self, cmd: ClaimCommand) -> ServiceResult<ClaimResponse> {
        if let Some(v) = cmd.applied_version {
            self.note_applied(cmd.worker_id.as_str(), v).await;
        }
        let limit = cmd.limit.map(|l| l.get());
        let wait_ms = cmd.wait.get();
        // Storage parameters, built once; each attempt sets its own `now`.
        self.claim_with(claim_params(cmd), limit, wait_ms).await
    }

    /// [`Service::claim`] once its parameters are built (and its applied
    /// version noted): the cached paused answer, one attempt, or the long
    /// poll.
    async fn claim_with(
        &self,
        mut claim: ClaimParams,
        limit: Option<u32>,
        wait_ms: u32,
    ) -> ServiceResult<ClaimResponse> {
        // Paused (the fleet, or every queue the claim asks for): answered
        // from the cache at once, without registering for wake-ups (the
        // paused claim must cost no more than a bare request). No wait asked
        // for: one attempt, no wake-up registration either.
        if self.cache.is_paused() || self.queues_all_paused(&claim) || wait_ms == 0 {
            return self.claim_once(&mut claim, limit).await;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_millis(u64::from(wait_ms));
        let mut pause_rx = self.cache.subscribe();
        let mut queues_rx = self.queues.subscribe();
        // Counted while it waits (`lull_claim_waiters`), however it ends.
        let _waiting = Waiting::new(&self.metrics);
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
            queues_rx.mark_unchanged();
            let resp = self.claim_once(&mut claim, limit).await?;
            let now_i = tokio::time::Instant::now();
            if resp.job.is_some()
                || resp.system.workers_paused
                || self.queues_all_paused(&claim)
                || now_i >= deadline
            {
                return Ok(resp);
            }
            // Re-check at least every second: a job whose retry backoff ends
            // becomes claimable without any notification.
            let slice = (deadline - now_i).min(Duration::from_secs(1));
            tokio::select! {
                _ = &mut notified => {}
                _ = pause_rx.changed() => {}
                _ = queues_rx.changed() => {}
                // Answer now (empty): the worker's next heartbeat carries
                // its new directive. A worker that may still claim simply
                // asks again.
                _ = &mut fleet_changed => return Ok(resp),
                _ = tokio::time::sleep(slice) => {}
            }
        }
    }

    /// Whether the claim names its queues and every one is paused (as this
    /// process knows).
    fn queues_all_paused(&self, claim: &ClaimParams) -> bool {
        claim
            .queues
            .as_deref()
            .is_some_and(|q| self.queues.all_paused(q))
    }

    /// The `system` block for a claimer: the fleet's state and the paused
    /// queues among the claim's (every queue when it named none).
    /// Records the pause version a claiming worker has applied, once per
    /// new version (this process remembers what it wrote). A failure is
    /// logged, not returned: the claim itself must not fail for it, and the
    /// worker's heartbeats carry the version too — they are the channel
    /// that always writes (e.g. after a new boot reset the stored version
    /// while this process still remembers the old one); claims only make
    /// the news arrive sooner.
    async fn note_applied(&self, worker_id: &str, version: i64) {
        let known = self
            .applied_on_claims
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(worker_id)
            .copied();
        if known.is_some_and(|k| k >= version) {
            return;
        }
        match self
            .store
            .record_applied_version(worker_id, version, now())
            .await
        {
            Ok(_) => {
                self.applied_on_claims
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(worker_id.to_string(), version);
            }
            Err(e) => {
                tracing::warn!(error = %e, worker_id, version, "could not record the applied version")
            }
        }
    }

    fn claim_system_block(&self, claim: &ClaimParams) -> wire::SystemBlock {
        let mut system = self
            .cache
            .read(|s| s.system_block(self.config.pause_poll_interval_ms));
        system.paused_queues = self.queues.paused_among(claim.queues.as_deref());
        system
    }

    /// One claim attempt. While the cache says paused (the fleet, or every
    /// queue the claim names) this answers `{job: null}` at once, touching
    /// neither the database nor the requeue logic; otherwise storage
    /// re-checks the pauses inside the claim.
    async fn claim_once(
        &self,
        claim: &mut ClaimParams,
        limit: Option<u32>,
    ) -> ServiceResult<ClaimResponse> {
        // The hot paused paths: read locks, no await, no database.
        if let Some(mut system) = self
            .cache
            .paused_system_block(self.config.pause_poll_interval_ms)
        {
            system.paused_queues = self.queues.paused_among(claim.queues.as_deref());
            self.metrics.claim_paused();
            return Ok(ClaimResponse {
                job: None,
                jobs: limit.map(|_| Vec::new()),
                system,
            });
        }
        if self.queues_all_paused(claim) {
            self.metrics.claim_paused();
            return Ok(ClaimResponse {
                job: None,
                jobs: limit.map(|_| Vec::new()),
                system: self.claim_system_block(claim),
            });
        }
        claim.now = now();
        let params = &*claim;
        let outcome = match limit {
            None => self.store.claim(params).await.map(ClaimOutcome::into_parts),
            Some(n) => self
                .store
                .claim_many(params, n)
                .await
                .map(|m| (m.state, m.jobs, m.requeued)),
        };
        let (state, jobs, requeued) = outcome.inspect_err(|_| self.metrics.claim_error())?;
        Ok(self.claim_answer(params, limit, state, jobs, requeued))
    }

    /// A claim's answer from what storage found: counted, logged, and the
    /// state seen inside the claim fed to the pause cache.
    fn claim_answer(
        &self,
        params: &ClaimParams,
        limit: Option<u32>,
        state: PauseState,
        jobs: Vec<Job>,
        requeued: u64,
    ) -> ClaimResponse {
        if requeued > 0 {
            self.metrics.requeued(requeued);
            tracing::info!(requeued, "expired leases requeued before claim");
        }
        match jobs.first() {
            Some(j) => {
                self.metrics.claim_claimed();
                tracing::debug!(job_id = %j.id, jobs = jobs.len(), worker_id = %params.worker_id, "job claimed");
            }
            None if state.workers_paused => self.metrics.claim_paused(),
            None => self.metrics.claim_empty(),
        }
        let mut system = state.system_block(self.config.pause_poll_interval_ms);
        system.paused_queues = self.queues.paused_among(params.queues.as_deref());
        self.cache.observe(state);
        // A single claim's job moves into the answer; only a batch's first
        // is copied (it is also listed in `jobs`).
        let (job, jobs) = match limit {
            Some(_) => (jobs.first().cloned(), Some(jobs)),
            None => (jobs.into_iter().next(), None),
        };
        ClaimResponse { job, jobs, system }
    }

    /// Counts a refusal for a lost lease.
    fn lease_lost(&self, e: ServiceError) -> ServiceError {
        if matches!(e, ServiceError::LeaseLost(_)) {
            self.metrics.lease_conflict();
        }
        e
    }

    /// Extends a lease; the answer carries the `system` block so a worker
    /// learns of a pause (and quiesce) from its heartbeats — the fleet's,
    /// and its job's queue's (`pausedQueues`: in `quiesce` mode the job
    /// holds at its next checkpoint, its lease kept by these heartbeats).
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
        let mut system = self
            .cache
            .read(|s| s.system_block(self.config.pause_poll_interval_ms));
        system.paused_queues = self
            .queues
            .paused_among(Some(std::slice::from_ref(&job.queue)));
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
        self.count_completed(&job);
        Ok(job)
    }

    /// `POST /api/queue/jobs/{id}/complete`: the completion, then (with
    /// `claimNext`) the worker's next claim, made exactly as
    /// `POST /api/queue/jobs/claim` makes it — the pause cache, the pause
    /// and queue rows re-read under lock, the long poll — and only once the
    /// completion is committed. A lost lease refuses the whole request
    /// before any claim. A claim that fails after the completion leaves
    /// `next` out: the completion stands, and the answer says so.
    ///
    /// When the claim would reach storage (nothing paused in the cache) the
    /// completion and the claim are one storage call — one statement on
    /// PostgreSQL, one round trip and one commit for both — and only an
    /// empty answer to a claim that asked to wait goes on to the long poll.
    pub async fn complete_next(&self, cmd: CompleteNext) -> ServiceResult<Completed> {
        let Some(claim) = cmd.claim else {
            let job = self.complete(cmd.complete).await?;
            return Ok(Completed { job, next: None });
        };
        if let Some(v) = claim.applied_version {
            self.note_applied(claim.worker_id.as_str(), v).await;
        }
        let wait_ms = claim.wait.get();
        let mut params = claim_params(claim);
        if self.cache.is_paused() || self.queues_all_paused(&params) {
            // Answered from the cache: nothing for storage to share.
            let job = self.complete(cmd.complete).await?;
            let next = self.claim_after(&job, params, wait_ms).await;
            return Ok(Completed { job, next });
        }
        params.now = now();
        let id = cmd.complete.fence.job_id;
        let (job, claimed) = self
            .store
            .complete_and_claim(&cmd.complete.fence, cmd.complete.result.as_ref(), &params)
            .await
            .map_err(no_job(id))
            .map_err(|e| self.lease_lost(e))?;
        self.count_completed(&job);
        let next = match claimed {
            Ok(outcome) => {
                let (state, jobs, requeued) = outcome.into_parts();
                let answer = self.claim_answer(&params, None, state, jobs, requeued);
                // Nothing yet, and the worker asked to wait for a job: the
                // long poll (its first attempt claims again; a pause ends it).
                if answer.job.is_none() && !answer.system.workers_paused && wait_ms > 0 {
                    self.claim_after(&job, params, wait_ms).await
                } else {
                    Some(answer)
                }
            }
            Err(e) => {
                self.metrics.claim_error();
                tracing::warn!(error = %e, job_id = %job.id, "the claim after a completion failed; the completion stands");
                None
            }
        };
        Ok(Completed { job, next })
    }

    /// The ordinary claim after a completion (the cached paused answer, or
    /// the long poll): its failure leaves the completion standing, and the
    /// answer without `next`.
    async fn claim_after(
        &self,
        job: &Job,
        params: ClaimParams,
        wait_ms: u32,
    ) -> Option<ClaimResponse> {
        match self.claim_with(params, None, wait_ms).await {
            Ok(answer) => Some(answer),
            Err(e) => {
                tracing::warn!(error = %e, job_id = %job.id, "the claim after a completion failed; the completion stands");
                None
            }
        }
    }

    fn count_completed(&self, job: &Job) {
        let latency = match (job.started_at, job.finished_at) {
            (Some(start), Some(end)) => Some((end - start).num_milliseconds() as f64 / 1000.0),
            _ => None,
        };
        self.metrics.completed(latency);
    }

    pub async fn fail(&self, cmd: FailCommand) -> ServiceResult<Job> {
        let id = cmd.fence.job_id;
        let job = self
            .store
            .fail(&cmd.fence, &cmd.error, cmd.retryable, now())
            .await
            .map_err(no_job(id))
            .map_err(|e| self.lease_lost(e))?;
        self.metrics.failure();
        tracing::info!(job_id = %id, status = job.status.as_str(), attempts = job.attempts, "job failed");
        Ok(domain::shown(job, now()))
    }

    /// `POST /api/queue/jobs/batch-complete`: every job fenced by its own
    /// lease, in one transaction; a lost lease refuses that job only.
    pub async fn complete_batch(&self, cmd: BatchComplete) -> ServiceResult<BatchOutcome> {
        let items: Vec<_> = cmd.0.into_iter().map(|c| (c.fence, c.result)).collect();
        let answers = self.store.complete_many(&items, now()).await?;
        let ids = items.iter().map(|(f, _)| f.job_id);
        Ok(self.batch_outcome(ids, answers, |job| self.count_completed(job)))
    }

    /// `POST /api/queue/jobs/batch-fail`, like [`Service::complete_batch`].
    pub async fn fail_batch(&self, cmd: BatchFail) -> ServiceResult<BatchOutcome> {
        let items: Vec<_> = cmd
            .0
            .into_iter()
            .map(|c| (c.fence, c.error, c.retryable))
            .collect();
        let answers = self.store.fail_many(&items, now()).await?;
        let ids = items.iter().map(|(f, _, _)| f.job_id);
        Ok(self.batch_outcome(ids, answers, |_| self.metrics.failure()))
    }

    /// Each job's answer of a batch, counted as its single call would be.
    fn batch_outcome(
        &self,
        ids: impl Iterator<Item = uuid::Uuid>,
        answers: Vec<StoreResult<Job>>,
        applied: impl Fn(&Job),
    ) -> BatchOutcome {
        let t = now();
        let results = ids
            .zip(answers)
            .map(|(id, answer)| match answer {
                Ok(job) => {
                    applied(&job);
                    JobOutcome {
                        id,
                        ok: true,
                        job: Some(domain::shown(job, t)),
                        error: None,
                    }
                }
                Err(e) => {
                    let (code, message) = match e {
                        StoreError::LeaseLost(m) => {
                            self.metrics.lease_conflict();
                            ("lease_lost", m)
                        }
                        // The only other refusal a batch keeps per job.
                        _ => ("not_found", format!("no job with id {id}")),
                    };
                    JobOutcome {
                        id,
                        ok: false,
                        job: None,
                        error: Some(ErrorDetail {
                            code: code.into(),
                            message,
                            field: None,
                        }),
                    }
                }
            })
            .collect();
        BatchOutcome { results }
    }
}
