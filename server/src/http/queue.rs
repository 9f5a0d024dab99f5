//! `/api/queue/jobs`: the worker side (enqueue, claim, heartbeat, complete,
//! fail) and the operator side (list, get, cancel, retry).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use wire::{
    ClaimManyRequest, ClaimResponse, CompleteRequest, EnqueueRequest, FailRequest,
    HeartbeatRequest, HeartbeatResponse, Job, JobList, JobListQuery,
};

use super::error::ApiResult;
use super::extract::{Actor, ApiJson, ApiQuery, PathId};
use super::AppState;
use crate::domain::{
    ClaimCommand, CompleteCommand, FailCommand, HeartbeatCommand, JobFilter, NewJob,
};

pub async fn enqueue(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<EnqueueRequest>,
) -> ApiResult<(StatusCode, Json<Job>)> {
    let job = NewJob::parse(req)?;
    Ok((StatusCode::CREATED, Json(s.service.enqueue(job).await?)))
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
    let filter = JobFilter::parse(q.status.as_deref(), q.limit)?;
    let jobs = s.service.list_jobs(filter).await?;
    Ok(Json(JobList { jobs }))
}
