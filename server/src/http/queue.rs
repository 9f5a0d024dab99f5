//! `/api/queue/jobs`: the worker side (enqueue, claim, heartbeat, complete,
//! fail) and the operator side (list, get, cancel, retry).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use wire::{
    ClaimManyRequest, ClaimResponse, CompleteRequest, EnqueueRequest, FailRequest,
    HeartbeatRequest, HeartbeatResponse, Job, JobList,
};

use super::error::ApiResult;
use super::extract::{Actor, ApiJson, ApiQuery, PathId};
use super::AppState;

pub async fn enqueue(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<EnqueueRequest>,
) -> ApiResult<(StatusCode, Json<Job>)> {
    Ok((StatusCode::CREATED, Json(s.service.enqueue(req).await?)))
}

pub async fn claim(
    State(s): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<ClaimManyRequest>,
) -> ApiResult<Json<ClaimResponse>> {
    actor.check_worker(req.worker_id.as_deref())?;
    let (req, limit) = req.split();
    Ok(Json(s.service.claim_up_to(req, limit).await?))
}

pub async fn heartbeat(
    State(s): State<AppState>,
    PathId(id): PathId,
    actor: Actor,
    ApiJson(req): ApiJson<HeartbeatRequest>,
) -> ApiResult<Json<HeartbeatResponse>> {
    actor.check_worker(req.worker_id.as_deref())?;
    Ok(Json(s.service.heartbeat(id, req).await?))
}

pub async fn complete(
    State(s): State<AppState>,
    PathId(id): PathId,
    actor: Actor,
    ApiJson(req): ApiJson<CompleteRequest>,
) -> ApiResult<Json<Job>> {
    actor.check_worker(req.worker_id.as_deref())?;
    Ok(Json(s.service.complete(id, req).await?))
}

pub async fn fail(
    State(s): State<AppState>,
    PathId(id): PathId,
    actor: Actor,
    ApiJson(req): ApiJson<FailRequest>,
) -> ApiResult<Json<Job>> {
    actor.check_worker(req.worker_id.as_deref())?;
    Ok(Json(s.service.fail(id, req).await?))
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    limit: Option<u32>,
}

pub async fn list(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<JobList>> {
    let jobs = s.service.list_jobs(q.status.as_deref(), q.limit).await?;
    Ok(Json(JobList { jobs }))
}
