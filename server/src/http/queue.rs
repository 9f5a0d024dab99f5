//! `/api/queue/jobs`: the producer side (enqueue, single and batch), the
//! worker side (claim, heartbeat, complete, fail — single and batch) and
//! the operator side (list, count, get, cancel, retry, and the bulk retry
//! of failed jobs).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use wire::{
    BatchCompleteRequest, BatchEnqueueRequest, BatchEnqueueResponse, BatchFailRequest,
    BatchOutcome, BulkRetryRequest, BulkRetryResponse, ClaimManyRequest, ClaimResponse,
    CompleteNextRequest, Completed, EnqueueRequest, Enqueued, FailRequest, HeartbeatRequest,
    HeartbeatResponse, Job, JobCount, JobCountQuery, JobList, JobSearch,
};

use super::error::ApiResult;
use super::extract::{Actor, ApiJson, ApiQuery, PathId};
use super::AppState;
use crate::domain::{
    BatchComplete, BatchEnqueue, BatchFail, BulkRetryCommand, ClaimCommand, CompleteNext,
    FailCommand, HeartbeatCommand, JobFilter, JobMatch, NewJob,
};

/// 201 with the new job; 200 with the existing one when its `uniqueKey`
/// is held by a live job (`duplicate: true`).
#[utoipa::path(post, path = "/api/queue/jobs", tag = "jobs", request_body = EnqueueRequest,
    responses((status = 201, description = "Enqueued", body = Enqueued),
        (status = 200, description = "A live job holds the `uniqueKey`: that job, `duplicate: true`", body = Enqueued)))]
pub async fn enqueue(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<EnqueueRequest>,
) -> ApiResult<(StatusCode, Json<Enqueued>)> {
    let job = NewJob::parse(req)?;
    let e = s.service.enqueue(job).await?;
    let status = if e.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(e)))
}

/// 201 when any job was created, 200 when every one was a duplicate.
#[utoipa::path(post, path = "/api/queue/jobs/batch", tag = "jobs", request_body = BatchEnqueueRequest,
    responses((status = 201, description = "At least one job was created", body = BatchEnqueueResponse),
        (status = 200, description = "Every job was a duplicate", body = BatchEnqueueResponse)))]
pub async fn enqueue_batch(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<BatchEnqueueRequest>,
) -> ApiResult<(StatusCode, Json<BatchEnqueueResponse>)> {
    let batch = BatchEnqueue::parse(req)?;
    let r = s.service.enqueue_batch(batch).await?;
    let status = if r.jobs.iter().any(|e| !e.duplicate) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(r)))
}

#[utoipa::path(post, path = "/api/queue/jobs/batch-complete", tag = "jobs", request_body = BatchCompleteRequest,
    responses((status = 200, description = "One outcome per job", body = BatchOutcome)))]
pub async fn complete_batch(
    State(s): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<BatchCompleteRequest>,
) -> ApiResult<Json<BatchOutcome>> {
    actor.check_worker(req.worker_id.as_deref())?;
    let cmd = BatchComplete::parse(req)?;
    Ok(Json(s.service.complete_batch(cmd).await?))
}

#[utoipa::path(post, path = "/api/queue/jobs/batch-fail", tag = "jobs", request_body = BatchFailRequest,
    responses((status = 200, description = "One outcome per job", body = BatchOutcome)))]
pub async fn fail_batch(
    State(s): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<BatchFailRequest>,
) -> ApiResult<Json<BatchOutcome>> {
    actor.check_worker(req.worker_id.as_deref())?;
    let cmd = BatchFail::parse(req)?;
    Ok(Json(s.service.fail_batch(cmd).await?))
}

#[utoipa::path(post, path = "/api/queue/jobs/claim", tag = "jobs", request_body = ClaimManyRequest,
    responses((status = 200, description = "The claimed jobs (none while paused) and the pause block", body = ClaimResponse)))]
pub async fn claim(
    State(s): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<ClaimManyRequest>,
) -> ApiResult<Json<ClaimResponse>> {
    actor.check_worker(req.worker_id.as_deref())?;
    let (req, limit) = req.split();
    let cmd = ClaimCommand::parse(&req, limit)?;
    Ok(Json(s.service.claim(cmd).await?))
}

#[utoipa::path(post, path = "/api/queue/jobs/{id}/heartbeat", tag = "jobs", request_body = HeartbeatRequest, params(("id" = uuid::Uuid, Path, description = "The id (a UUID)")),
    responses((status = 200, description = "The lease, extended", body = HeartbeatResponse), (status = 409, description = "`lease_lost`: the lease expired or is another worker's; `result_in_flight`", body = wire::ErrorBody)))]
pub async fn heartbeat(
    State(s): State<AppState>,
    PathId(id): PathId,
    actor: Actor,
    ApiJson(req): ApiJson<HeartbeatRequest>,
) -> ApiResult<Json<HeartbeatResponse>> {
    actor.check_worker(req.worker_id.as_deref())?;
    let cmd = HeartbeatCommand::parse(id, req)?;
    Ok(Json(s.service.heartbeat(cmd).await?))
}

/// With `claimNext`, the worker's next claim rides on the same request:
/// its answer is in `next` (see `Service::complete_next`).
#[utoipa::path(post, path = "/api/queue/jobs/{id}/complete", tag = "jobs", request_body = CompleteNextRequest, params(("id" = uuid::Uuid, Path, description = "The id (a UUID)")),
    responses((status = 200, description = "The job, succeeded; with `claimNext`, the next claim's answer in `next`", body = Completed), (status = 409, description = "`lease_lost`: the lease expired or is another worker's (nothing was completed or claimed); `result_in_flight`", body = wire::ErrorBody)))]
pub async fn complete(
    State(s): State<AppState>,
    PathId(id): PathId,
    actor: Actor,
    ApiJson(req): ApiJson<CompleteNextRequest>,
) -> ApiResult<Json<Completed>> {
    actor.check_worker(req.worker_id.as_deref())?;
    let cmd = CompleteNext::parse(id, req)?;
    Ok(Json(s.service.complete_next(cmd).await?))
}

#[utoipa::path(post, path = "/api/queue/jobs/{id}/fail", tag = "jobs", request_body = FailRequest, params(("id" = uuid::Uuid, Path, description = "The id (a UUID)")),
    responses((status = 200, description = "The job, failed or scheduled for a retry", body = Job), (status = 409, description = "`lease_lost`: the lease expired or is another worker's; `result_in_flight`", body = wire::ErrorBody)))]
pub async fn fail(
    State(s): State<AppState>,
    PathId(id): PathId,
    actor: Actor,
    ApiJson(req): ApiJson<FailRequest>,
) -> ApiResult<Json<Job>> {
    actor.check_worker(req.worker_id.as_deref())?;
    let cmd = FailCommand::parse(id, req)?;
    Ok(Json(s.service.fail(cmd).await?))
}

#[utoipa::path(post, path = "/api/queue/jobs/{id}/cancel", tag = "jobs", params(("id" = uuid::Uuid, Path, description = "The id (a UUID)")),
    responses((status = 200, description = "The job, cancelled", body = Job), (status = 409, description = "`conflict`: not possible in the current state", body = wire::ErrorBody)))]
pub async fn cancel(
    State(s): State<AppState>,
    Actor(actor, _): Actor,
    PathId(id): PathId,
) -> ApiResult<Json<Job>> {
    Ok(Json(s.service.cancel(&actor, id).await?))
}

#[utoipa::path(post, path = "/api/queue/jobs/{id}/retry", tag = "jobs", params(("id" = uuid::Uuid, Path, description = "The id (a UUID)")),
    responses((status = 200, description = "The job, queued again", body = Job), (status = 409, description = "`conflict`: not possible in the current state", body = wire::ErrorBody)))]
pub async fn retry(
    State(s): State<AppState>,
    Actor(actor, _): Actor,
    PathId(id): PathId,
) -> ApiResult<Json<Job>> {
    Ok(Json(s.service.retry(&actor, id).await?))
}

#[utoipa::path(get, path = "/api/queue/jobs/{id}", tag = "jobs", params(("id" = uuid::Uuid, Path, description = "The id (a UUID)")),
    responses((status = 200, description = "The job", body = Job)))]
pub async fn get(State(s): State<AppState>, PathId(id): PathId) -> ApiResult<Json<Job>> {
    Ok(Json(s.service.get_job(id).await?))
}

/// `GET /api/queue/jobs?status=&type=&queue=&limit=`.
#[utoipa::path(get, path = "/api/queue/jobs", tag = "jobs", params(JobSearch),
    responses((status = 200, description = "The matching jobs, newest first", body = JobList)))]
pub async fn list(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<JobSearch>,
) -> ApiResult<Json<JobList>> {
    let filter = JobFilter::search(&q)?;
    let jobs = s.service.list_jobs(filter).await?;
    Ok(Json(JobList { jobs }))
}

/// `GET /api/queue/jobs/count?status=&type=&queue=`.
#[utoipa::path(get, path = "/api/queue/jobs/count", tag = "jobs", params(JobCountQuery),
    responses((status = 200, description = "How many jobs match", body = JobCount)))]
pub async fn count(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<JobCountQuery>,
) -> ApiResult<Json<JobCount>> {
    let m = JobMatch::parse(
        q.status.as_deref(),
        q.job_type.as_deref(),
        q.queue.as_deref(),
    )?;
    Ok(Json(s.service.count_jobs(m).await?))
}

/// `POST /api/queue/jobs/retry-failed`: 200 with the jobs queued again;
/// 409 (nothing retried) when the matching set is not `expectedCount`.
#[utoipa::path(post, path = "/api/queue/jobs/retry-failed", tag = "jobs", request_body = BulkRetryRequest,
    responses((status = 200, description = "The jobs queued again", body = BulkRetryResponse),
        (status = 409, description = "`conflict`: the matching set is not `expectedCount`; nothing was retried", body = wire::ErrorBody)))]
pub async fn retry_failed(
    State(s): State<AppState>,
    Actor(actor, _): Actor,
    ApiJson(req): ApiJson<BulkRetryRequest>,
) -> ApiResult<Json<BulkRetryResponse>> {
    let cmd = BulkRetryCommand::parse(req)?;
    Ok(Json(s.service.retry_failed(&actor, cmd).await?))
}
