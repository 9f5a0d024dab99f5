//! `/api/system/worker-pause`: the global pause and its audit log.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use wire::{EventsPage, PauseRequest, WorkerPauseStatus};

use super::error::ApiResult;
use super::extract::{Actor, ApiJson, ApiQuery};
use super::AppState;

pub async fn get_status(State(s): State<AppState>) -> ApiResult<Json<WorkerPauseStatus>> {
    Ok(Json(s.service.pause_status().await?))
}

pub async fn post_action(
    State(s): State<AppState>,
    Actor(actor): Actor,
    ApiJson(req): ApiJson<PauseRequest>,
) -> ApiResult<Json<WorkerPauseStatus>> {
    Ok(Json(s.service.change_pause(&actor, req).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    limit: Option<u32>,
    before: Option<i64>,
}

pub async fn get_events(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> ApiResult<Json<EventsPage>> {
    Ok(Json(s.service.events(q.limit, q.before).await?))
}
