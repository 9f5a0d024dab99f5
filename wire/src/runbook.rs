//! The maintenance runbook's endpoints (`/scheduler/*`, `/status`, `/health`,
//! `/dispatches/*`). They speak snake_case because the runbook's shell
//! snippets read them with `jq -r '.running_count'` and the like.

use serde::{Deserialize, Serialize};

/// `GET /scheduler/status` and the answer to `/scheduler/pause|resume`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SchedulerStatus {
    /// `running`, `paused` or `transitioning`.
    pub state: String,
    pub mode: Option<String>,
    pub paused_at: Option<String>,
    pub resumed_at: Option<String>,
    pub reason: Option<String>,
    pub requested_by: Option<String>,
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// Optional body of `POST /scheduler/pause` and `/scheduler/resume`; the
/// runbook sends none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SchedulerActionRequest {
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub mode: Option<String>,
}

/// `GET /status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SystemStatus {
    pub state: String,
    pub version: i64,
    pub running_count: i64,
    pub queued_count: i64,
    pub stale_running_count: i64,
    pub failed_count: i64,
    /// Jobs handed out in the last minute, counting only claims made since
    /// the latest pause or resume — so it reads 0 once a pause has taken hold.
    pub recent_dispatch_count: i64,
    pub is_drained: bool,
}

/// `GET /health`: `healthy` is false when any check is an `error` or
/// `critical` (the answer is then 503); every check that is not `ok` or
/// `skipped` is also in `recent_events`, before the control events.
///
/// Only callers with read access get the details (`database`, each
/// check's `message` and `latency_ms`, and `recent_events`, which name
/// actors and reasons): anyone else gets `healthy`, `recent_events: []`
/// and each check's `name` and `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub healthy: bool,
    /// `sqlite` or `postgres` (readers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Empty for callers without read access.
    #[serde(default)]
    pub recent_events: Vec<HealthEvent>,
    /// Each check's outcome (`database`, `listener`, `background`,
    /// `workers`, `leases`, `rollouts`, `acknowledgement`).
    #[serde(default)]
    pub checks: Vec<HealthCheck>,
}

/// One check of `/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthCheck {
    pub name: String,
    /// `ok`, `skipped` (does not apply), `warning`, `error` or `critical`.
    pub status: String,
    /// What was found (readers only: it may name workers and jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The database check: how long the ping took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

/// `GET /readyz`: 200 with `ready: true` once the process can serve (its
/// migrations ran, its caches are loaded, its background tasks run, the
/// database answers); 503 with the reason otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Readyz {
    pub ready: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One line of `/health`'s `recent_events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthEvent {
    /// `info`, `warning`, `error` or `critical`.
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    /// `YYYY-MM-DD HH:MM:SS` in UTC, so the runbook's string comparison
    /// against `date '+%Y-%m-%d %H:%M:%S'` works.
    pub created_at: String,
}

/// `GET /dispatches/{id}`: a job under the runbook's name, snake_case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dispatch {
    pub id: String,
    #[serde(rename = "type")]
    pub job_type: String,
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub worker_id: Option<String>,
    pub lease_expires_at: Option<String>,
    pub dispatched_at: Option<String>,
    pub finished_at: Option<String>,
    pub created_at: String,
    pub error: Option<String>,
    pub result: Option<serde_json::Value>,
}

/// `GET /livez`: the process answers (no storage is touched).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Livez {
    pub ok: bool,
}
