//! Jobs: enqueue, claim, heartbeat, complete, fail, and the job itself.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::SystemBlock;

/// Where a job is in its life: `queued → running → succeeded | failed |
/// cancelled`; a queued job whose `runAfter` is still ahead (scheduled with
/// `runAt`/`delaySeconds`, or waiting out a retry's backoff) is shown as
/// `scheduled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    /// Queued, but not claimable before its `runAfter`.
    Scheduled,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 6] = [
        JobStatus::Queued,
        JobStatus::Scheduled,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Scheduled => "scheduled",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Succeeded, failed and cancelled jobs never run again on their own.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

/// A unit of work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub job_type: String,
    /// The queue it belongs to (`default` unless enqueued into another).
    #[serde(default = "crate::queues::default_queue")]
    pub queue: String,
    /// Left out of listings unless asked for (`include=payload`): `null`
    /// then. A stored payload is never `null` (no payload is `{}`).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub payload: serde_json::Value,
    pub priority: i32,
    pub status: JobStatus,
    pub attempts: i32,
    pub max_attempts: i32,
    pub worker_id: Option<String>,
    /// The fencing token of the current lease. Only the claim answer carries
    /// it; listings leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_token: Option<Uuid>,
    #[serde(default)]
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// A queued job is not claimed before this (`runAt`/`delaySeconds`, or
    /// a retry's backoff).
    pub run_after: DateTime<Utc>,
    /// Its de-duplication key, if it was enqueued with one: while it is
    /// queued, scheduled or running, no other job with this key is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_key: Option<String>,
    /// The worker reported it is holding at a quiesce checkpoint.
    pub paused_at_checkpoint: bool,
    /// Left out of listings unless asked for, like `payload`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
}

/// `POST /api/queue/jobs`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnqueueRequest {
    #[serde(rename = "type", default)]
    pub job_type: Option<String>,
    #[serde(default)]
    pub payload: Option<serde_json::Value>,
    #[serde(default)]
    pub priority: Option<i32>,
    #[serde(default)]
    pub max_attempts: Option<i32>,
    /// The queue (default `default`); the same characters as a type.
    #[serde(default)]
    pub queue: Option<String>,
    /// Not claimable before this RFC 3339 time (a scheduled job).
    #[serde(default)]
    pub run_at: Option<String>,
    /// Not claimable for this many seconds (instead of `runAt`).
    #[serde(default)]
    pub delay_seconds: Option<u64>,
    /// De-duplication: while a job with this key is queued, scheduled or
    /// running, enqueueing another answers that job with `duplicate: true`
    /// (200) instead of creating one (201).
    #[serde(default)]
    pub unique_key: Option<String>,
}

/// The answer to an enqueue: the job, and whether it already existed (a
/// `uniqueKey` matched a live job: nothing was created).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Enqueued {
    #[serde(flatten)]
    pub job: Job,
    #[serde(default)]
    pub duplicate: bool,
}

/// `POST /api/queue/jobs/batch`: up to 1,000 jobs, enqueued all or none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchEnqueueRequest {
    #[serde(default)]
    pub jobs: Option<Vec<EnqueueRequest>>,
}

/// The answer to a batch enqueue: each job in the order sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BatchEnqueueResponse {
    pub jobs: Vec<Enqueued>,
}

/// `POST /api/queue/jobs/claim`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClaimRequest {
    #[serde(default)]
    pub worker_id: Option<String>,
    /// Only claim jobs of these types (all types when absent).
    #[serde(default)]
    pub types: Option<Vec<String>>,
    /// Only claim jobs of these queues (every queue when absent).
    #[serde(default)]
    pub queues: Option<Vec<String>>,
    /// Lease length; bounded by the server.
    #[serde(default)]
    pub lease_seconds: Option<u32>,
    /// Long poll: wait up to this long (≤ 30 000) for a job to arrive
    /// before answering `{job: null}`. A pause answers at once.
    #[serde(default)]
    pub wait_ms: Option<u32>,
    /// The global pause version this worker has applied (as on its
    /// heartbeats): a claim is often the first word after a pause.
    #[serde(default)]
    pub applied_version: Option<i64>,
}

/// The most jobs one batch claim ([`ClaimManyRequest::limit`]) may hand
/// out: the server refuses more, and a client asks for at most this many.
pub const MAX_CLAIM_BATCH: u32 = 100;

/// `POST /api/queue/jobs/claim` as the server reads it: [`ClaimRequest`]
/// plus an optional `limit` (batch claim: up to `limit` jobs in one
/// answer). A separate type because clients build [`ClaimRequest`] as a
/// struct literal; convert with [`ClaimManyRequest::split`].
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClaimManyRequest {
    #[serde(default)]
    pub worker_id: Option<String>,
    #[serde(default)]
    pub types: Option<Vec<String>>,
    #[serde(default)]
    pub queues: Option<Vec<String>>,
    #[serde(default)]
    pub lease_seconds: Option<u32>,
    #[serde(default)]
    pub wait_ms: Option<u32>,
    #[serde(default)]
    pub applied_version: Option<i64>,
    /// Batch claim: hand out up to this many jobs (bounded by the server);
    /// the answer then carries them all in `jobs`.
    #[serde(default)]
    pub limit: Option<u32>,
}

impl ClaimManyRequest {
    /// The plain claim and the batch size, if one was asked for.
    pub fn split(self) -> (ClaimRequest, Option<u32>) {
        (
            ClaimRequest {
                worker_id: self.worker_id,
                types: self.types,
                queues: self.queues,
                lease_seconds: self.lease_seconds,
                wait_ms: self.wait_ms,
                applied_version: self.applied_version,
            },
            self.limit,
        )
    }
}

/// The answer to a claim: a job or `null`, and always the `system` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClaimResponse {
    /// The claimed job (with `limit`: the first of `jobs`).
    pub job: Option<Job>,
    /// Only when the claim asked for `limit`: every job handed out (maybe
    /// none), each with its lease token (one token per claim request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<Vec<Job>>,
    pub system: SystemBlock,
}

/// `POST /api/queue/jobs/{id}/heartbeat`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeartbeatRequest {
    #[serde(default)]
    pub worker_id: Option<String>,
    #[serde(default)]
    pub lease_token: Option<Uuid>,
    #[serde(default)]
    pub paused_at_checkpoint: Option<bool>,
    /// Extend the lease by this much (defaults to the claim's lease length).
    #[serde(default)]
    pub lease_seconds: Option<u32>,
}

/// The answer to a heartbeat: the job's lease as it now stands, and the
/// `system` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatResponse {
    pub job: Job,
    pub system: SystemBlock,
    /// The worker's own directive, when the worker is registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directive: Option<crate::Directive>,
}

/// `POST /api/queue/jobs/{id}/complete`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CompleteRequest {
    #[serde(default)]
    pub worker_id: Option<String>,
    #[serde(default)]
    pub lease_token: Option<Uuid>,
    #[serde(default)]
    pub result: Option<serde_json::Value>,
}

/// `POST /api/queue/jobs/{id}/fail`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FailRequest {
    #[serde(default)]
    pub worker_id: Option<String>,
    #[serde(default)]
    pub lease_token: Option<Uuid>,
    #[serde(default)]
    pub error: Option<String>,
    /// Retry with backoff while attempts remain (default true).
    #[serde(default)]
    pub retryable: Option<bool>,
}

/// The query of `GET /api/queue/jobs`. `status` stays a string so the
/// server can answer an unknown one with a clear 422.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct JobListQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Only jobs of this queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// `payload`: list each job's payload and result too (see
    /// [`JobSearch::include`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<String>,
}

/// The query of `GET /api/queue/jobs` with every filter: [`JobListQuery`]
/// plus the job's `type`. The server reads this one; [`JobListQuery`]
/// stays for the callers that never filter by type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema, utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[serde(deny_unknown_fields)]
pub struct JobSearch {
    /// `queued`, `scheduled`, `running`, `succeeded`, `failed` or
    /// `cancelled` (a string, so an unknown one gets a clear 422).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Only jobs of this type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub job_type: Option<String>,
    /// Only jobs of this queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// 1 to 500 (default 100); more is refused with 422.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// `payload`: list each job's `payload` and `result` too. Without it
    /// they are left out (each up to 256 KiB: a page of 500 could carry
    /// over 100 MB); `GET /api/queue/jobs/{id}` has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<String>,
}

/// The query of `GET /api/queue/jobs/count`: the filters of [`JobSearch`],
/// without a page size.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema, utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[serde(deny_unknown_fields)]
pub struct JobCountQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub job_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
}

/// `GET /api/queue/jobs/count`: how many jobs match the filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobCount {
    pub count: i64,
}

/// `POST /api/queue/jobs/retry-failed`: queue again every failed job of a
/// type and/or queue (both optional: absent matches all). Loose, so the
/// server names the missing or wrong field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkRetryRequest {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub job_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Required: why (recorded in the audit log).
    #[serde(default)]
    pub reason: Option<String>,
    /// The count the operator confirmed (from `GET /api/queue/jobs/count`
    /// with `status=failed`): when the matching failed jobs are no longer
    /// exactly this many, the server retries nothing and answers 409.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_count: Option<i64>,
}

/// The answer of a bulk retry: how many failed jobs were queued again,
/// which, and the audit event that records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BulkRetryResponse {
    pub retried: i64,
    pub ids: Vec<Uuid>,
    pub event: crate::ControlEvent,
}

/// `GET /api/queue/jobs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct JobList {
    pub jobs: Vec<Job>,
}

/// One job of a batch complete: its lease, and its result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchCompleteItem {
    #[serde(default)]
    pub id: Option<Uuid>,
    #[serde(default)]
    pub lease_token: Option<Uuid>,
    #[serde(default)]
    pub result: Option<serde_json::Value>,
}

/// `POST /api/queue/jobs/batch-complete`: many leased jobs of one worker
/// completed in one request, each fenced by its own lease token.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchCompleteRequest {
    #[serde(default)]
    pub worker_id: Option<String>,
    #[serde(default)]
    pub jobs: Option<Vec<BatchCompleteItem>>,
}

/// One job of a batch fail: its lease, what went wrong, and whether to retry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchFailItem {
    #[serde(default)]
    pub id: Option<Uuid>,
    #[serde(default)]
    pub lease_token: Option<Uuid>,
    #[serde(default)]
    pub error: Option<String>,
    /// Retry with backoff while attempts remain (default true).
    #[serde(default)]
    pub retryable: Option<bool>,
}

/// `POST /api/queue/jobs/batch-fail`: like a batch complete, with each
/// job's `error` and `retryable`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchFailRequest {
    #[serde(default)]
    pub worker_id: Option<String>,
    #[serde(default)]
    pub jobs: Option<Vec<BatchFailItem>>,
}

/// What happened to one job of a batch complete or fail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct JobOutcome {
    pub id: Uuid,
    /// Applied (the job is in `job`), or refused (why in `error`: a lost
    /// lease is `lease_lost`, an unknown job `not_found`).
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Job>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::ErrorDetail>,
}

/// The answer to a batch complete or fail (200 even when some jobs were
/// refused): one outcome per job, in the order sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BatchOutcome {
    pub results: Vec<JobOutcome>,
}
