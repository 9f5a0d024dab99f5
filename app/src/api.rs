//! Server functions: each is a POST to `/sfn/<endpoint>` that the server
//! answers through [`crate::ssr::DashboardBackend`] (the same core service
//! as the REST API), and a plain async call in the browser.
//!
//! They take and return the `wire` types; a refusal is an [`AppError`]
//! (the API's [`wire::ApiError`]) sent with the REST status.
//!
//! The endpoint names are fixed because the server's route table gives each
//! its access level (read or operate); a new read-only function must be
//! listed there too, or it is operator-only.

use leptos::prelude::*;
use uuid::Uuid;
use wire::{
    DrainView, EventsPage, Job, JobList, JobStatus, PauseRequest, RollingRestart,
    RollingRestartRequest, WorkerActionRequest, WorkerActionResponse, WorkerList,
    WorkerPauseStatus,
};

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ssr::{backend, refuse};

// ---------------------------------------------------------------- pause

/// The global pause status (banner, drain metrics, latest audit events).
#[server(prefix = "/sfn", endpoint = "get_pause_state")]
pub async fn get_pause_state() -> Result<WorkerPauseStatus, AppError> {
    backend().pause_status().await.map_err(refuse)
}

/// Pause or resume, as `POST /api/system/worker-pause`.
#[server(prefix = "/sfn", endpoint = "change_pause")]
pub async fn change_pause(request: PauseRequest) -> Result<WorkerPauseStatus, AppError> {
    backend().change_pause(request).await.map_err(refuse)
}

/// A page of the audit log, newest first.
#[server(prefix = "/sfn", endpoint = "get_events")]
pub async fn get_events(limit: Option<u32>, before: Option<i64>) -> Result<EventsPage, AppError> {
    backend().events(limit, before).await.map_err(refuse)
}

/// The drain card: blocking jobs, running-jobs history, ETA.
#[server(prefix = "/sfn", endpoint = "get_drain_view")]
pub async fn get_drain_view() -> Result<DrainView, AppError> {
    backend().drain_view().await.map_err(refuse)
}

// ---------------------------------------------------------------- fleet

/// The fleet (Workers page).
#[server(prefix = "/sfn", endpoint = "get_workers")]
pub async fn get_workers() -> Result<WorkerList, AppError> {
    backend().workers().await.map_err(refuse)
}

/// Rolling restarts, newest first.
#[server(prefix = "/sfn", endpoint = "get_rolling_restarts")]
pub async fn get_rolling_restarts() -> Result<Vec<RollingRestart>, AppError> {
    backend().rolling_restarts().await.map_err(refuse)
}

/// Pause, resume or drain workers, as `POST /api/workers/actions`.
#[server(prefix = "/sfn", endpoint = "worker_action")]
pub async fn worker_action(request: WorkerActionRequest) -> Result<WorkerActionResponse, AppError> {
    backend().worker_action(request).await.map_err(refuse)
}

/// Starts a rolling restart, as `POST /api/workers/rolling-restarts`.
#[server(prefix = "/sfn", endpoint = "start_rolling_restart")]
pub async fn start_rolling_restart(
    request: RollingRestartRequest,
) -> Result<RollingRestart, AppError> {
    backend()
        .start_rolling_restart(request)
        .await
        .map_err(refuse)
}

/// Cancels a running rolling restart.
#[server(prefix = "/sfn", endpoint = "cancel_rolling_restart")]
pub async fn cancel_rolling_restart(id: Uuid) -> Result<RollingRestart, AppError> {
    backend().cancel_rolling_restart(id).await.map_err(refuse)
}

// ---------------------------------------------------------------- jobs

/// Jobs, newest first, optionally of one status (Jobs page).
#[server(prefix = "/sfn", endpoint = "get_jobs")]
pub async fn get_jobs(status: Option<JobStatus>, limit: Option<u32>) -> Result<JobList, AppError> {
    backend().jobs(status, limit).await.map_err(refuse)
}

/// One job (the job's own page).
#[server(prefix = "/sfn", endpoint = "get_job")]
pub async fn get_job(id: Uuid) -> Result<Job, AppError> {
    backend().job(id).await.map_err(refuse)
}

/// Cancels a queued or running job.
#[server(prefix = "/sfn", endpoint = "cancel_job")]
pub async fn cancel_job(id: Uuid) -> Result<Job, AppError> {
    backend().cancel_job(id).await.map_err(refuse)
}

/// Queues a failed or cancelled job again.
#[server(prefix = "/sfn", endpoint = "retry_job")]
pub async fn retry_job(id: Uuid) -> Result<Job, AppError> {
    backend().retry_job(id).await.map_err(refuse)
}
