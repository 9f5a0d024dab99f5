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
    BulkRetryRequest, BulkRetryResponse, DrainView, EventsPage, EventsSearch, Job, JobCount,
    JobCountQuery, JobList, JobSearch, PauseRequest, QueueInfo, QueueList, QueuePauseRequest,
    QueueResumeRequest, RollingRestart, RollingRestartRequest, WorkerActionRequest,
    WorkerActionResponse, WorkerList, WorkerPauseStatus,
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

/// A page of the audit log, newest first, filtered by action and actor
/// on the server.
#[server(prefix = "/sfn", endpoint = "get_events")]
pub async fn get_events(query: EventsSearch) -> Result<EventsPage, AppError> {
    backend().events(query).await.map_err(refuse)
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

/// Jobs, newest first, filtered by status, type and queue (Jobs page).
#[server(prefix = "/sfn", endpoint = "get_jobs")]
pub async fn get_jobs(query: JobSearch) -> Result<JobList, AppError> {
    backend().jobs(query).await.map_err(refuse)
}

/// How many jobs a filter matches (the bulk retry's confirmation).
#[server(prefix = "/sfn", endpoint = "count_jobs")]
pub async fn count_jobs(query: JobCountQuery) -> Result<JobCount, AppError> {
    backend().job_count(query).await.map_err(refuse)
}

/// Queues again exactly the confirmed number of failed jobs of a type
/// and/or queue (or nothing: 409).
#[server(prefix = "/sfn", endpoint = "retry_failed_jobs")]
pub async fn retry_failed_jobs(request: BulkRetryRequest) -> Result<BulkRetryResponse, AppError> {
    backend().retry_failed_jobs(request).await.map_err(refuse)
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

// ---------------------------------------------------------------- queues

/// Every queue with its pause state and live counts (Queues card).
#[server(prefix = "/sfn", endpoint = "get_queues")]
pub async fn get_queues() -> Result<QueueList, AppError> {
    backend().queues().await.map_err(refuse)
}

/// Pauses one queue, as `POST /api/queues/{name}/pause`.
#[server(prefix = "/sfn", endpoint = "pause_queue")]
pub async fn pause_queue(name: String, request: QueuePauseRequest) -> Result<QueueInfo, AppError> {
    backend().pause_queue(name, request).await.map_err(refuse)
}

/// Resumes one queue, as `POST /api/queues/{name}/resume`.
#[server(prefix = "/sfn", endpoint = "resume_queue")]
pub async fn resume_queue(
    name: String,
    request: QueueResumeRequest,
) -> Result<QueueInfo, AppError> {
    backend().resume_queue(name, request).await.map_err(refuse)
}
