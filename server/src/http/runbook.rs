//! The maintenance runbook's endpoints (snake_case, same state as `/api`).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use wire::runbook::{
    Dispatch, Health, Readyz, SchedulerActionRequest, SchedulerStatus, SystemStatus,
};

use super::error::ApiResult;
use super::extract::{Actor, OptionalJson, PathId};
use super::AppState;
use crate::auth::{Access, Caller};
use crate::domain::SchedulerCommand;
use crate::service::dispatch_of;

pub async fn pause(
    State(s): State<AppState>,
    Actor(actor, _): Actor,
    OptionalJson(body): OptionalJson<SchedulerActionRequest>,
) -> ApiResult<Json<SchedulerStatus>> {
    let cmd = SchedulerCommand::parse(true, body)?;
    Ok(Json(s.service.scheduler_action(&actor, cmd).await?))
}

pub async fn resume(
    State(s): State<AppState>,
    Actor(actor, _): Actor,
    OptionalJson(body): OptionalJson<SchedulerActionRequest>,
) -> ApiResult<Json<SchedulerStatus>> {
    let cmd = SchedulerCommand::parse(false, body)?;
    Ok(Json(s.service.scheduler_action(&actor, cmd).await?))
}

pub async fn status(State(s): State<AppState>) -> ApiResult<Json<SchedulerStatus>> {
    Ok(Json(s.service.scheduler_status().await?))
}

pub async fn system_status(State(s): State<AppState>) -> ApiResult<Json<SystemStatus>> {
    Ok(Json(s.service.system_status().await?))
}

/// 200 when healthy, 503 otherwise; the body says which either way. The
/// details are for callers with read access (see [`Health`]); the auth
/// middleware hands over the caller only when a good credential was sent
/// (or in disabled mode, where everyone is the local operator).
pub async fn health(
    State(s): State<AppState>,
    caller: Option<Extension<Caller>>,
) -> (StatusCode, Json<Health>) {
    let detail = caller.is_some_and(|Extension(c)| c.allows(Access::Read));
    let h = s.service.health(detail).await;
    let code = if h.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(h))
}

/// 200 when ready for traffic, 503 with the reason otherwise — also once
/// the process has begun to stop, so a load balancer drains it first.
pub async fn readyz(State(s): State<AppState>) -> (StatusCode, Json<Readyz>) {
    let r = if s.readiness.phase() == crate::lifecycle::Phase::Stopping {
        Readyz {
            ready: false,
            reason: Some("stopping: finishing open requests".into()),
        }
    } else {
        s.service.readyz().await
    };
    let code = if r.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(r))
}

pub async fn metrics(State(s): State<AppState>) -> ApiResult<impl IntoResponse> {
    let body = s.service.metrics_text().await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    ))
}

pub async fn get_dispatch(
    State(s): State<AppState>,
    PathId(id): PathId,
) -> ApiResult<Json<Dispatch>> {
    Ok(Json(dispatch_of(s.service.get_job(id).await?)))
}

pub async fn cancel_dispatch(
    State(s): State<AppState>,
    Actor(actor, _): Actor,
    PathId(id): PathId,
) -> ApiResult<Json<Dispatch>> {
    Ok(Json(dispatch_of(s.service.cancel(&actor, id).await?)))
}

pub async fn retry_dispatch(
    State(s): State<AppState>,
    Actor(actor, _): Actor,
    PathId(id): PathId,
) -> ApiResult<Json<Dispatch>> {
    Ok(Json(dispatch_of(s.service.retry(&actor, id).await?)))
}
