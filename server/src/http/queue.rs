//! `/api/queue/jobs`: the producer side (enqueue, single and batch), the
//! worker side (claim, heartbeat, complete, fail — single and batch) and
//! the operator side (list, get, cancel, retry).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use wire::{
    BatchCompleteRequest, BatchEnqueueRequest, BatchEnqueueResponse, BatchFailRequest,
    BatchOutcome, ClaimManyRequest, ClaimResponse, CompleteRequest, EnqueueRequest, Enqueued,
    FailRequest, HeartbeatRequest, HeartbeatResponse, Job, JobList, JobListQuery,
};

use super::error::ApiResult;
use super::extract::{Actor, ApiJson, ApiQuery, PathId};
use super::AppState;
use crate::domain::{
    BatchComplete, BatchEnqueue, BatchFail, ClaimCommand, CompleteCommand, FailCommand,
    HeartbeatCommand, JobFilter, NewJob,
};

/// 201 with the new job; 200 with the existing one when its `uniqueKey`
/// is held by a live job (`duplicate: true`).
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

pub async fn complete_batch(
    State(s): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<BatchCompleteRequest>,
) -> ApiResult<Json<BatchOutcome>> {
    actor.check_worker(req.worker_id.as_deref())?;
    let cmd = BatchComplete::parse(req)?;
    Ok(Json(s.service.complete_batch(cmd).await?))
}

pub async fn fail_batch(
    State(s): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<BatchFailRequest>,
) -> ApiResult<Json<BatchOutcome>> {
    actor.check_worker(req.worker_id.as_deref())?;
    let cmd = BatchFail::parse(req)?;
    Ok(Json(s.service.fail_batch(cmd).await?))
}

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

pub async fn complete(
    State(s): State<AppState>,
    PathId(id): PathId,
    actor: Actor,
    ApiJson(req): ApiJson<CompleteRequest>,
) -> ApiResult<Json<Job>> {
    actor.check_worker(req.worker_id.as_deref())?;
    let cmd = CompleteCommand::parse(id, req)?;
    Ok(Json(s.service.complete(cmd).await?))
}

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

pub async fn cancel(
    State(s): State<AppState>,
    Actor(actor, _): Actor,
    PathId(id): PathId,
) -> ApiResult<Json<Job>> {
    Ok(Json(s.service.cancel(&actor, id).await?))
}

pub async fn retry(
    State(s): State<AppState>,
    Actor(actor, _): Actor,
    PathId(id): PathId,
) -> ApiResult<Json<Job>> {
    Ok(Json(s.service.retry(&actor, id).await?))
}

pub async fn get(State(s): State<AppState>, PathId(id): PathId) -> ApiResult<Json<Job>> {
    Ok(Json(s.service.get_job(id).await?))
}

pub async fn list(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<JobListQuery>,
) -> ApiResult<Json<JobList>> {
    let filter = JobFilter::parse(&q)?;
    let jobs = s.service.list_jobs(filter).await?;
    Ok(Json(JobList { jobs }))
}
