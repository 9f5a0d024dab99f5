//! The server side of the dashboard's server functions: what they need from
//! the server's core service, and how a refusal leaves the server.

use uuid::Uuid;
use wire::{
    ApiError, BulkRetryRequest, BulkRetryResponse, DrainView, EventsPage, EventsSearch, Job,
    JobCount, JobCountQuery, JobList, JobSearch, PauseRequest, QueueInfo, QueueList,
    QueuePauseRequest, QueueResumeRequest, RollingRestart, RollingRestartRequest,
    WorkerActionRequest, WorkerActionResponse, WorkerList, WorkerPauseStatus,
};

use crate::error::AppError;

/// What the dashboard needs from the server's core service. The server puts
/// an `Arc<dyn DashboardBackend>` into the server-function context, per
/// request, so the backend knows who is asking (the actor of every write).
///
/// Every method answers exactly as the matching REST endpoint would,
/// refusals included (field errors, version conflicts with `current`, the
/// fleet's safety refusal with its phrase, 404s).
#[async_trait::async_trait]
pub trait DashboardBackend: Send + Sync + 'static {
    /// `GET /api/system/worker-pause`.
    async fn pause_status(&self) -> Result<WorkerPauseStatus, ApiError>;

    /// `POST /api/system/worker-pause`.
    async fn change_pause(&self, request: PauseRequest) -> Result<WorkerPauseStatus, ApiError>;

    /// `GET /api/system/worker-pause/events`: the audit log, newest first,
    /// filtered by action and actor.
    async fn events(&self, query: EventsSearch) -> Result<EventsPage, ApiError>;

    /// What blocks the drain, the running-jobs history and the ETA.
    async fn drain_view(&self) -> Result<DrainView, ApiError>;

    /// `GET /api/workers`.
    async fn workers(&self) -> Result<WorkerList, ApiError>;

    /// `POST /api/workers/actions`.
    async fn worker_action(
        &self,
        request: WorkerActionRequest,
    ) -> Result<WorkerActionResponse, ApiError>;

    /// `GET /api/workers/rolling-restarts`, newest first.
    async fn rolling_restarts(&self) -> Result<Vec<RollingRestart>, ApiError>;

    /// `POST /api/workers/rolling-restarts`.
    async fn start_rolling_restart(
        &self,
        request: RollingRestartRequest,
    ) -> Result<RollingRestart, ApiError>;

    /// `POST /api/workers/rolling-restarts/{id}/cancel`.
    async fn cancel_rolling_restart(&self, id: Uuid) -> Result<RollingRestart, ApiError>;

    /// `GET /api/queue/jobs?status=&type=&queue=&limit=`, newest first.
    async fn jobs(&self, query: JobSearch) -> Result<JobList, ApiError>;

    /// `GET /api/queue/jobs/count?status=&type=&queue=`.
    async fn job_count(&self, query: JobCountQuery) -> Result<JobCount, ApiError>;

    /// `POST /api/queue/jobs/retry-failed`.
    async fn retry_failed_jobs(
        &self,
        request: BulkRetryRequest,
    ) -> Result<BulkRetryResponse, ApiError>;

    /// `GET /api/queues`.
    async fn queues(&self) -> Result<QueueList, ApiError>;

    /// `POST /api/queues/{name}/pause`.
    async fn pause_queue(
        &self,
        name: String,
        request: QueuePauseRequest,
    ) -> Result<QueueInfo, ApiError>;

    /// `POST /api/queues/{name}/resume`.
    async fn resume_queue(
        &self,
        name: String,
        request: QueueResumeRequest,
    ) -> Result<QueueInfo, ApiError>;

    /// `GET /api/queue/jobs/{id}`.
    async fn job(&self, id: Uuid) -> Result<Job, ApiError>;

    /// `POST /api/queue/jobs/{id}/cancel`.
    async fn cancel_job(&self, id: Uuid) -> Result<Job, ApiError>;

    /// `POST /api/queue/jobs/{id}/retry`.
    async fn retry_job(&self, id: Uuid) -> Result<Job, ApiError>;
}

/// How server functions find the backend.
pub type SharedBackend = std::sync::Arc<dyn DashboardBackend>;

/// The backend of this request.
pub fn backend() -> SharedBackend {
    leptos::prelude::expect_context::<SharedBackend>()
}

/// A refusal as the server function's answer, sent with the REST API's
/// status (409, 422, 404, …) so the browser's network log and the page agree
/// with `curl`.
pub fn refuse(e: ApiError) -> AppError {
    if let Some(options) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        let status = http::StatusCode::from_u16(e.status())
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        options.set_status(status);
    }
    AppError(e)
}
