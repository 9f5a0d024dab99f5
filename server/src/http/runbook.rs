//! The maintenance runbook's endpoints (snake_case, same state as `/api`).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use wire::runbook::{Dispatch, Health, SchedulerActionRequest, SchedulerStatus, SystemStatus};

use super::error::ApiResult;
use super::extract::{Actor, OptionalJson, PathId};
use super::AppState;
use crate::runbook::dispatch_of;
use crate::service::now;

pub async fn pause(
    State(s): State<AppState>,
    Actor(actor, _): Actor,
    OptionalJson(body): OptionalJson<SchedulerActionRequest>,
) -> ApiResult<Json<SchedulerStatus>> {
    Ok(Json(s.service.scheduler_action(&actor, true, body).await?))
}

pub async fn resume(
    State(s): State<AppState>,
    Actor(actor, _): Actor,
    OptionalJson(body): OptionalJson<SchedulerActionRequest>,
) -> ApiResult<Json<SchedulerStatus>> {
    Ok(Json(s.service.scheduler_action(&actor, false, body).await?))
}

pub async fn status(State(s): State<AppState>) -> ApiResult<Json<SchedulerStatus>> {
    Ok(Json(s.service.scheduler_status().await?))
}

pub async fn system_status(State(s): State<AppState>) -> ApiResult<Json<SystemStatus>> {
    Ok(Json(s.service.system_status().await?))
}

/// 200 when healthy, 503 otherwise; the body says which either way.
pub async fn health(State(s): State<AppState>) -> (StatusCode, Json<Health>) {
    let h = s.service.health().await;
    let code = if h.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(h))
}

pub async fn metrics(State(s): State<AppState>) -> ApiResult<impl IntoResponse> {
    let svc = &s.service;
    let state = svc
        .store()
        .pause_state()
        .await
        .map_err(crate::service::ServiceError::from)?;
    let counts = svc
        .store()
        .job_counts(now())
        .await
        .map_err(crate::service::ServiceError::from)?;
    let body = svc.metrics().render(
        state.workers_paused,
        state.mode.map(|m| m.as_str()),
        state.version,
        &counts,
        svc.store().calls(),
    );
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
