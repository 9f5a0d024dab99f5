//! `/api/queues`: named queues — the list, one queue, and its pause and
//! resume.

use axum::extract::State;
use axum::Json;
use wire::{QueueInfo, QueueList, QueuePauseRequest, QueueResumeRequest};

use super::error::ApiResult;
use super::extract::{Actor, ApiJson, PathName};
use super::AppState;
use crate::domain::{QueueName, QueuePauseCommand};

#[utoipa::path(get, path = "/api/queues", tag = "queues",
    responses((status = 200, description = "Every named queue", body = QueueList)))]
pub async fn list(State(s): State<AppState>) -> ApiResult<Json<QueueList>> {
    Ok(Json(s.service.list_queues().await?))
}

#[utoipa::path(get, path = "/api/queues/{name}", tag = "queues", params(("name" = String, Path, description = "The queue's name")),
    responses((status = 200, description = "The queue", body = QueueInfo)))]
pub async fn get(
    State(s): State<AppState>,
    PathName(name): PathName,
) -> ApiResult<Json<QueueInfo>> {
    let name = QueueName::parse("name", Some(&name))?;
    Ok(Json(s.service.queue_status(&name).await?))
}

#[utoipa::path(post, path = "/api/queues/{name}/pause", tag = "queues", request_body = QueuePauseRequest, params(("name" = String, Path, description = "The queue's name")),
    responses((status = 200, description = "The queue, paused (or, with `dryRun`, as it would be)", body = QueueInfo), (status = 409, description = "`version_conflict`: `expectedVersion` did not match", body = wire::ErrorBody)))]
pub async fn pause(
    State(s): State<AppState>,
    Actor(actor, _): Actor,
    PathName(name): PathName,
    ApiJson(req): ApiJson<QueuePauseRequest>,
) -> ApiResult<Json<QueueInfo>> {
    let dry_run = req.dry_run.unwrap_or(false);
    let cmd = QueuePauseCommand::pause(&name, req)?;
    if dry_run {
        return Ok(Json(s.service.queue_pause_dry_run(&actor, cmd).await?));
    }
    Ok(Json(s.service.change_queue_pause(&actor, cmd).await?))
}

#[utoipa::path(post, path = "/api/queues/{name}/resume", tag = "queues", request_body = QueueResumeRequest, params(("name" = String, Path, description = "The queue's name")),
    responses((status = 200, description = "The queue, resumed (or, with `dryRun`, as it would be)", body = QueueInfo), (status = 409, description = "`version_conflict`: `expectedVersion` did not match", body = wire::ErrorBody)))]
pub async fn resume(
    State(s): State<AppState>,
    Actor(actor, _): Actor,
    PathName(name): PathName,
    ApiJson(req): ApiJson<QueueResumeRequest>,
) -> ApiResult<Json<QueueInfo>> {
    let dry_run = req.dry_run.unwrap_or(false);
    let cmd = QueuePauseCommand::resume(&name, req)?;
    if dry_run {
        return Ok(Json(s.service.queue_pause_dry_run(&actor, cmd).await?));
    }
    Ok(Json(s.service.change_queue_pause(&actor, cmd).await?))
}
