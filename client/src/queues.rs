//! Named queues (`/api/queues`) and the producer's and worker's batch
//! calls (`/api/queue/jobs/batch`, `…/batch-complete`, `…/batch-fail`),
//! with enqueues that say whether they created a job.

use wire::{
    BatchCompleteRequest, BatchEnqueueRequest, BatchEnqueueResponse, BatchFailRequest,
    BatchOutcome, BulkRetryRequest, BulkRetryResponse, EnqueueRequest, Enqueued, JobCount,
    JobCountQuery, JobList, JobListQuery, JobSearch, QueueInfo, QueueList, QueuePauseRequest,
    QueueResumeRequest,
};

use crate::{Client, Endpoint, Result};

const QUEUES: &[&str] = &["api", "queues"];

impl Client {
    /// `POST /api/queue/jobs` with the whole answer: the job, and
    /// `duplicate` when its `uniqueKey` was held by a live job (200, nothing
    /// created) rather than created (201). Errors as for
    /// [`Client::enqueue`], and `Invalid { field }` for `queue`, `runAt`,
    /// `delaySeconds`, `uniqueKey`.
    pub async fn enqueue_job(&self, req: &EnqueueRequest) -> Result<Enqueued> {
        self.post(Endpoint::post(&["api", "queue", "jobs"]), Some(req))
            .await
    }

    /// `POST /api/queue/jobs/batch`: up to 1,000 jobs in one transaction,
    /// all enqueued (or found as duplicates) or none; answers each in the
    /// order sent. Errors: `Invalid { field: jobs }` naming the bad
    /// element (nothing enqueued).
    pub async fn enqueue_batch(&self, req: &BatchEnqueueRequest) -> Result<BatchEnqueueResponse> {
        self.post(
            Endpoint::post(&["api", "queue", "jobs", "batch"]),
            Some(req),
        )
        .await
    }

    /// `POST /api/queue/jobs/batch-complete`: many of one worker's leased
    /// jobs completed in one request, each fenced by its own lease token.
    /// A lost lease refuses that job only: its outcome says `lease_lost`.
    pub async fn complete_batch(&self, req: &BatchCompleteRequest) -> Result<BatchOutcome> {
        let segments = ["api", "queue", "jobs", "batch-complete"];
        self.post(Endpoint::post(&segments), Some(req)).await
    }

    /// `POST /api/queue/jobs/batch-fail`, like [`Client::complete_batch`],
    /// each job with its `error` and `retryable`.
    pub async fn fail_batch(&self, req: &BatchFailRequest) -> Result<BatchOutcome> {
        let segments = ["api", "queue", "jobs", "batch-fail"];
        self.post(Endpoint::post(&segments), Some(req)).await
    }

    /// `GET /api/queue/jobs` with every filter: `status` (incl.
    /// `scheduled`), `queue`, `limit` (at most 500), and `include:
    /// payload` for payloads and results (left out otherwise). Errors:
    /// `Invalid { field }`.
    pub async fn jobs(&self, query: &JobListQuery) -> Result<JobList> {
        self.get_query(Endpoint::get(&["api", "queue", "jobs"]), query)
            .await
    }

    /// `GET /api/queue/jobs` with the `type` filter too ([`JobSearch`]).
    /// Errors: `Invalid { field }` (`status`, `type`, `queue`, `limit`,
    /// `include`).
    pub async fn search_jobs(&self, query: &JobSearch) -> Result<JobList> {
        self.get_query(Endpoint::get(&["api", "queue", "jobs"]), query)
            .await
    }

    /// `GET /api/queue/jobs/count`: how many jobs match `status`, `type`
    /// and `queue` (each optional). Read-only. Errors: `Invalid { field }`.
    pub async fn count_jobs(&self, query: &JobCountQuery) -> Result<JobCount> {
        self.get_query(Endpoint::get(&["api", "queue", "jobs", "count"]), query)
            .await
    }

    /// `POST /api/queue/jobs/retry-failed` (operator): queues again every
    /// failed job of `type` and/or `queue`, audited with the caller and
    /// `reason`. With `expectedCount` (the count the operator saw) it
    /// retries exactly that many or nothing: `Conflict` when the matching
    /// set changed since. Also `Conflict` beyond 10,000 jobs or when a live
    /// job holds one's `uniqueKey`; `Invalid { field }` (`reason`, `type`,
    /// `queue`, `expectedCount`). Not idempotent: a repeat finds no failed
    /// jobs left (and, with `expectedCount`, answers `Conflict`).
    pub async fn retry_failed(&self, req: &BulkRetryRequest) -> Result<BulkRetryResponse> {
        self.post(
            Endpoint::post(&["api", "queue", "jobs", "retry-failed"]),
            Some(req),
        )
        .await
    }

    /// `GET /api/queues`: every queue that has jobs or a pause, by name,
    /// with its pause and live counts.
    pub async fn queues(&self) -> Result<QueueList> {
        self.get(Endpoint::get(QUEUES)).await
    }

    /// `GET /api/queues/{name}`: one queue (running at version 1 when it was
    /// never seen). Errors: `Invalid { field: name }`.
    pub async fn queue(&self, name: &str) -> Result<QueueInfo> {
        self.get(Endpoint::get(&["api", "queues", name])).await
    }

    /// `POST /api/queues/{name}/pause`: no claim on any replica hands out a
    /// job of the queue once this has answered (quiesce: its running jobs
    /// hold at their checkpoints). A repeat changes nothing. Errors:
    /// `Invalid { field }` (`mode`, `reason`, `until`, `name`),
    /// `VersionConflict` (`expectedVersion`).
    pub async fn pause_queue(&self, name: &str, req: &QueuePauseRequest) -> Result<QueueInfo> {
        self.post(Endpoint::post(&["api", "queues", name, "pause"]), Some(req))
            .await
    }

    /// `POST /api/queues/{name}/resume`; before the queue drained it still
    /// resumes and the answer carries a `warning`.
    pub async fn resume_queue(&self, name: &str, req: &QueueResumeRequest) -> Result<QueueInfo> {
        self.post(
            Endpoint::post(&["api", "queues", name, "resume"]),
            Some(req),
        )
        .await
    }
}
