//! `/api/workers`: the worker registry, fleet views and result submission.

use axum::extract::{Path, State};
use axum::Json;
use wire::{
    FleetHealth, FleetMetrics, RegisterRequest, ResultAck, ResultEnvelope, RollingRestart,
    RollingRestartCancelRequest, RollingRestartRequest, WorkerActionRequest,
    WorkerDirectiveResponse, WorkerHeartbeatRequest, WorkerList,
};

use super::error::ApiResult;
use super::extract::{Actor, ApiJson, OptionalJson, PathId};
use super::AppState;
use crate::domain::rollout::RolloutCommand;
use crate::domain::{Reason, Registration, ResultSubmission, WorkerActionCommand, WorkerBeat};

pub async fn register(
    State(s): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<Json<WorkerDirectiveResponse>> {
    actor.check_worker(req.worker_id.as_deref())?;
    let reg = Registration::parse(req)?;
    Ok(Json(s.service.register_worker(reg).await?))
}

pub async fn heartbeat(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<WorkerHeartbeatRequest>,
) -> ApiResult<Json<WorkerDirectiveResponse>> {
    actor.check_worker(Some(&id))?;
    let beat = WorkerBeat::parse(&id, req)?;
    Ok(Json(s.service.worker_heartbeat(beat).await?))
}

pub async fn list(State(s): State<AppState>) -> ApiResult<Json<WorkerList>> {
    Ok(Json(s.service.list_workers().await?))
}

pub async fn health(State(s): State<AppState>) -> ApiResult<Json<FleetHealth>> {
    Ok(Json(s.service.fleet_health().await?))
}

pub async fn metrics(State(s): State<AppState>) -> ApiResult<Json<FleetMetrics>> {
    Ok(Json(s.service.fleet_metrics().await?))
}

pub async fn results(
    State(s): State<AppState>,
    actor: Actor,
    ApiJson(env): ApiJson<ResultEnvelope>,
) -> ApiResult<Json<ResultAck>> {
    actor.check_worker(env.worker_id.as_deref())?;
    let sub = ResultSubmission::parse(env)?;
    Ok(Json(s.service.submit_result(sub).await?))
}

pub async fn action(
    State(s): State<AppState>,
    Actor(actor, _): Actor,
    ApiJson(req): ApiJson<WorkerActionRequest>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let dry_run = req.dry_run.unwrap_or(false);
    let cmd = WorkerActionCommand::parse(req)?;
    if dry_run {
        return Ok(Json(s.service.worker_action_dry_run(cmd).await?).into_response());
    }
    Ok(Json(s.service.worker_action(&actor, cmd).await?).into_response())
}

pub async fn start_rolling_restart(
    State(s): State<AppState>,
    Actor(actor, _): Actor,
    ApiJson(req): ApiJson<RollingRestartRequest>,
) -> ApiResult<(axum::http::StatusCode, Json<RollingRestart>)> {
    let cmd = RolloutCommand::parse(req)?;
    let r = s.service.start_rolling_restart(&actor, cmd).await?;
    Ok((axum::http::StatusCode::CREATED, Json(r)))
}

pub async fn list_rolling_restarts(
    State(s): State<AppState>,
) -> ApiResult<Json<Vec<RollingRestart>>> {
    Ok(Json(s.service.list_rolling_restarts().await?))
}

pub async fn get_rolling_restart(
    State(s): State<AppState>,
    PathId(id): PathId,
) -> ApiResult<Json<RollingRestart>> {
    Ok(Json(s.service.get_rolling_restart(id).await?))
}

pub async fn cancel_rolling_restart(
    State(s): State<AppState>,
    Actor(actor, _): Actor,
    PathId(id): PathId,
    OptionalJson(body): OptionalJson<RollingRestartCancelRequest>,
) -> ApiResult<Json<RollingRestart>> {
    let reason = body.reason.map(|r| Reason::parse(Some(&r))).transpose()?;
    Ok(Json(
        s.service.cancel_rolling_restart(&actor, id, reason).await?,
    ))
}
