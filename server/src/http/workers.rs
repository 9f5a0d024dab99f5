//! `/api/workers`: the worker registry, fleet views and result submission.

use axum::extract::State;
use axum::Json;
use wire::{
    FleetHealth, FleetMetrics, RegisterRequest, ResultAck, ResultEnvelope, RollingRestart,
    RollingRestartCancelRequest, RollingRestartRequest, WorkerActionRequest,
    WorkerDirectiveResponse, WorkerHeartbeatRequest, WorkerList,
};

use super::error::ApiResult;
use super::extract::{Actor, ApiJson, OptionalJson, PathId, PathWorkerId};
use super::AppState;
use crate::domain::rollout::RolloutCommand;
use crate::domain::{Reason, Registration, ResultSubmission, WorkerActionCommand, WorkerBeat};

#[utoipa::path(post, path = "/api/workers/register", tag = "workers", request_body = RegisterRequest,
    responses((status = 200, description = "Registered; what the worker should do", body = WorkerDirectiveResponse)))]
pub async fn register(
    State(s): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<Json<WorkerDirectiveResponse>> {
    actor.check_worker(req.worker_id.as_deref())?;
    let reg = Registration::parse(req)?;
    Ok(Json(s.service.register_worker(reg).await?))
}

#[utoipa::path(post, path = "/api/workers/{id}/heartbeat", tag = "workers", request_body = WorkerHeartbeatRequest,
    params(("id" = String, Path, description = "The worker's id")),
    responses((status = 200, description = "What the worker should do", body = WorkerDirectiveResponse)))]
pub async fn heartbeat(
    State(s): State<AppState>,
    actor: Actor,
    PathWorkerId(id): PathWorkerId,
    ApiJson(req): ApiJson<WorkerHeartbeatRequest>,
) -> ApiResult<Json<WorkerDirectiveResponse>> {
    actor.check_worker(Some(&id))?;
    let beat = WorkerBeat::parse(&id, req)?;
    Ok(Json(s.service.worker_heartbeat(beat).await?))
}

#[utoipa::path(get, path = "/api/workers", tag = "workers",
    responses((status = 200, description = "Every known worker", body = WorkerList)))]
pub async fn list(State(s): State<AppState>) -> ApiResult<Json<WorkerList>> {
    Ok(Json(s.service.list_workers().await?))
}

#[utoipa::path(get, path = "/api/workers/health", tag = "workers",
    responses((status = 200, description = "The fleet's health", body = FleetHealth)))]
pub async fn health(State(s): State<AppState>) -> ApiResult<Json<FleetHealth>> {
    Ok(Json(s.service.fleet_health().await?))
}

#[utoipa::path(get, path = "/api/workers/metrics", tag = "workers",
    responses((status = 200, description = "The fleet's metrics", body = FleetMetrics)))]
pub async fn metrics(State(s): State<AppState>) -> ApiResult<Json<FleetMetrics>> {
    Ok(Json(s.service.fleet_metrics().await?))
}

#[utoipa::path(post, path = "/api/workers/results", tag = "workers", request_body = ResultEnvelope,
    responses((status = 200, description = "The result was filed (or had been)", body = ResultAck),
        (status = 404, description = "`not_found`: no such job", body = wire::ErrorBody), (status = 409, description = "`lease_lost`: the lease expired or is another worker's; `result_in_flight`", body = wire::ErrorBody)))]
pub async fn results(
    State(s): State<AppState>,
    actor: Actor,
    ApiJson(env): ApiJson<ResultEnvelope>,
) -> ApiResult<Json<ResultAck>> {
    actor.check_worker(env.worker_id.as_deref())?;
    let sub = ResultSubmission::parse(env)?;
    Ok(Json(s.service.submit_result(sub).await?))
}

#[utoipa::path(post, path = "/api/workers/actions", tag = "workers", request_body = WorkerActionRequest,
    responses((status = 200, description = "What was done (or, with `dryRun`, what would be)", body = ActionAnswer),
        (status = 404, description = "`not_found`: unknown workers (`field: workerIds`); nothing was changed", body = wire::ErrorBody),
        (status = 409, description = "`safety_check`: it would leave too few available workers (`impact`, `confirmPhrase`)", body = wire::ErrorBody)))]
pub async fn action(
    State(s): State<AppState>,
    Actor(actor, _): Actor,
    ApiJson(req): ApiJson<WorkerActionRequest>,
) -> ApiResult<Json<ActionAnswer>> {
    let dry_run = req.dry_run.unwrap_or(false);
    let cmd = WorkerActionCommand::parse(req)?;
    if dry_run {
        let r = s.service.worker_action_dry_run(cmd).await?;
        return Ok(Json(ActionAnswer::DryRun(Box::new(r))));
    }
    let r = s.service.worker_action(&actor, cmd).await?;
    Ok(Json(ActionAnswer::Done(Box::new(r))))
}

/// What a worker action answers: what was done, or with `dryRun` what
/// would be (one type, so the OpenAPI document can say "one of").
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ActionAnswer {
    Done(Box<wire::WorkerActionResponse>),
    DryRun(Box<wire::WorkerActionDryRun>),
}

#[utoipa::path(post, path = "/api/workers/rolling-restarts", tag = "workers", request_body = RollingRestartRequest,
    responses((status = 201, description = "The rolling restart, started", body = RollingRestart), (status = 409, description = "`conflict`: not possible in the current state", body = wire::ErrorBody)))]
pub async fn start_rolling_restart(
    State(s): State<AppState>,
    Actor(actor, _): Actor,
    ApiJson(req): ApiJson<RollingRestartRequest>,
) -> ApiResult<(axum::http::StatusCode, Json<RollingRestart>)> {
    let cmd = RolloutCommand::parse(req)?;
    let r = s.service.start_rolling_restart(&actor, cmd).await?;
    Ok((axum::http::StatusCode::CREATED, Json(r)))
}

#[utoipa::path(get, path = "/api/workers/rolling-restarts", tag = "workers",
    responses((status = 200, description = "Rolling restarts, newest first", body = Vec<RollingRestart>)))]
pub async fn list_rolling_restarts(
    State(s): State<AppState>,
) -> ApiResult<Json<Vec<RollingRestart>>> {
    Ok(Json(s.service.list_rolling_restarts().await?))
}

#[utoipa::path(get, path = "/api/workers/rolling-restarts/{id}", tag = "workers", params(("id" = uuid::Uuid, Path, description = "The id (a UUID)")),
    responses((status = 200, description = "The rolling restart", body = RollingRestart)))]
pub async fn get_rolling_restart(
    State(s): State<AppState>,
    PathId(id): PathId,
) -> ApiResult<Json<RollingRestart>> {
    Ok(Json(s.service.get_rolling_restart(id).await?))
}

#[utoipa::path(post, path = "/api/workers/rolling-restarts/{id}/cancel", tag = "workers", params(("id" = uuid::Uuid, Path, description = "The id (a UUID)")),
    request_body(content = Option<RollingRestartCancelRequest>, description = "Optional: the reason"),
    responses((status = 200, description = "The rolling restart, cancelled", body = RollingRestart), (status = 409, description = "`conflict`: not possible in the current state", body = wire::ErrorBody)))]
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
