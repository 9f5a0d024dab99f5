//! The queue (`/api/queue/jobs`): the worker side (claim, lease heartbeat,
//! complete, fail) and the producer's and operator's (enqueue, get, list,
//! cancel, retry).

use std::time::Duration;

use uuid::Uuid;
use wire::{
    ClaimManyRequest, ClaimRequest, ClaimResponse, CompleteNextRequest, CompleteRequest, Completed,
    EnqueueRequest, FailRequest, HeartbeatRequest, HeartbeatResponse, Job, JobList, JobListQuery,
    JobStatus,
};

use crate::{Client, Endpoint, NoBody, Result};

const JOBS: &[&str] = &["api", "queue", "jobs"];
const CLAIM: &[&str] = &["api", "queue", "jobs", "claim"];

impl Client {
    /// `POST /api/queue/jobs`: adds a job (201 with the job, `queued`).
    /// Not idempotent: each call adds one. Errors: `Invalid { field }`
    /// (`type`, `payload` too large, `priority`, `maxAttempts`),
    /// `PayloadTooLarge`.
    pub async fn enqueue(&self, req: &EnqueueRequest) -> Result<Job> {
        self.post(Endpoint::post(JOBS), Some(req)).await
    }

    /// `POST /api/queue/jobs/claim`: at most one job for `workerId`, with
    /// its `leaseToken`, and always the `system` block. While the fleet is
    /// paused it answers `job: null` at once. With `waitMs` the server holds
    /// the request until a job arrives or the time is up; this call's
    /// timeout grows by as much. Not idempotent: a lost answer strands the
    /// job until its lease expires. Errors: `Invalid { field }`
    /// (`workerId`, `types`, `leaseSeconds`, `waitMs`), `Forbidden` (a
    /// worker token claiming as another worker).
    pub async fn claim(&self, req: &ClaimRequest) -> Result<ClaimResponse> {
        self.post_within(
            Endpoint::post(CLAIM),
            Some(req),
            self.long_poll(req.wait_ms),
        )
        .await
    }

    /// The batch claim: [`Client::claim`] with `limit`, handing out up to
    /// that many jobs at once (all in `jobs`, the first also in `job`).
    /// Errors as for [`Client::claim`], and `Invalid { field: limit }`.
    pub async fn claim_many(&self, req: &ClaimManyRequest) -> Result<ClaimResponse> {
        self.post_within(
            Endpoint::post(CLAIM),
            Some(req),
            self.long_poll(req.wait_ms),
        )
        .await
    }

    /// `POST /api/queue/jobs/{id}/{action}`.
    async fn job_post<B, R>(&self, id: Uuid, action: &str, body: Option<&B>) -> Result<R>
    where
        B: serde::Serialize + ?Sized,
        R: serde::de::DeserializeOwned,
    {
        let id = id.to_string();
        self.post(Endpoint::post(&["api", "queue", "jobs", &id, action]), body)
            .await
    }

    fn long_poll(&self, wait_ms: Option<u32>) -> Duration {
        self.timeout + Duration::from_millis(u64::from(wait_ms.unwrap_or(0)))
    }

    /// `POST /api/queue/jobs/{id}/heartbeat`: extends the lease (idempotent
    /// while the lease holds); the answer carries the `system` block and
    /// the worker's directive. Errors: `LeaseLost` (409: the lease expired
    /// and the job was requeued, or it was cancelled — stop working on
    /// it), `NotFound` (no such job), `Invalid { field }`.
    pub async fn job_heartbeat(
        &self,
        id: Uuid,
        req: &HeartbeatRequest,
    ) -> Result<HeartbeatResponse> {
        self.job_post(id, "heartbeat", Some(req)).await
    }

    /// `POST /api/queue/jobs/{id}/complete`: the job succeeded, fenced by
    /// the lease token. Not repeatable: a second call finds the lease gone
    /// (`LeaseLost`); for a retry-safe report submit an `execution_result`
    /// with [`Client::submit_result`]. Errors: `LeaseLost`, `NotFound`,
    /// `Invalid { field }` (`leaseToken`, `result` too large).
    pub async fn complete(&self, id: Uuid, req: &CompleteRequest) -> Result<Job> {
        self.job_post(id, "complete", Some(req)).await
    }

    /// [`Client::complete`] with `claimNext`: completes the job and, once
    /// that is committed, claims this worker's next job in the same request
    /// (as [`Client::claim`] would with `claimNext`'s fields; one request
    /// per job instead of two). The claim's answer is `next` — absent only
    /// when the claim failed after the completion stood (claim again with
    /// [`Client::claim`]). With `claimNext.waitMs` this call's timeout grows
    /// by as much. Errors as for [`Client::complete`] (a `LeaseLost`
    /// completes and claims nothing), and `Invalid { field: claimNext }`.
    pub async fn complete_and_claim(
        &self,
        id: Uuid,
        req: &CompleteNextRequest,
    ) -> Result<Completed> {
        let id = id.to_string();
        let wait = req.claim_next.as_ref().and_then(|n| n.wait_ms);
        self.post_within(
            Endpoint::post(&["api", "queue", "jobs", &id, "complete"]),
            Some(req),
            self.long_poll(wait),
        )
        .await
    }

    /// `POST /api/queue/jobs/{id}/fail`: the attempt failed; with
    /// `retryable` (default true) the job is queued again with backoff
    /// while attempts remain. Fenced and not repeatable, like
    /// [`Client::complete`]. Errors: `LeaseLost`, `NotFound`,
    /// `Invalid { field: error }`.
    pub async fn fail(&self, id: Uuid, req: &FailRequest) -> Result<Job> {
        self.job_post(id, "fail", Some(req)).await
    }

    /// `POST /api/queue/jobs/{id}/cancel` (operator): cancels a queued or
    /// running job; a running job's worker loses its lease. Cancelling a
    /// finished job is refused (`Conflict`). Errors: `NotFound`.
    pub async fn cancel_job(&self, id: Uuid) -> Result<Job> {
        self.job_post(id, "cancel", None::<&NoBody>).await
    }

    /// `POST /api/queue/jobs/{id}/retry` (operator): queues a failed or
    /// cancelled job again. Errors: `Conflict` (it is queued or running),
    /// `NotFound`.
    pub async fn retry_job(&self, id: Uuid) -> Result<Job> {
        self.job_post(id, "retry", None::<&NoBody>).await
    }

    /// `GET /api/queue/jobs/{id}`. Errors: `NotFound`.
    pub async fn job(&self, id: Uuid) -> Result<Job> {
        let id = id.to_string();
        self.get(Endpoint::get(&["api", "queue", "jobs", &id]))
            .await
    }

    /// `GET /api/queue/jobs?status=&limit=`: newest first, at most `limit`
    /// (default 100, at most 500), without their payloads and results
    /// ([`Client::jobs`] with `include: payload` lists those too; or get
    /// the one job). Errors: `Invalid { field: limit }`.
    pub async fn list_jobs(
        &self,
        status: Option<JobStatus>,
        limit: Option<u32>,
    ) -> Result<JobList> {
        let query = JobListQuery {
            status: status.map(|s| s.as_str().to_string()),
            limit,
            queue: None,
            include: None,
        };
        self.get_query(Endpoint::get(JOBS), &query).await
    }
}
