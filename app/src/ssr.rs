//! The server side of the dashboard's server functions.

use wire::{
    DrainView, ErrorBody, EventsPage, PauseOutcome, PauseRequest, RollingRestart,
    RollingRestartRequest, WorkerActionRequest, WorkerActionResponse, WorkerList,
    WorkerPauseStatus,
};

/// What the dashboard needs from the server's core service. The server puts
/// an `Arc<dyn DashboardBackend>` into the server-function context, per
/// request, so the backend knows who is asking.
#[async_trait::async_trait]
pub trait DashboardBackend: Send + Sync + 'static {
    /// The global pause status, with drain metrics and the latest audit.
    async fn pause_status(&self) -> Result<WorkerPauseStatus, ErrorBody>;

    /// Pause or resume, exactly as `POST /api/system/worker-pause` would;
    /// refusals come back as `PauseOutcome::Rejected` with the REST status
    /// and error body (field errors, version conflicts with `current`).
    async fn change_pause(&self, request: PauseRequest) -> PauseOutcome;

    /// The audit log, newest first.
    async fn events(
        &self,
        limit: Option<u32>,
        before: Option<i64>,
    ) -> Result<EventsPage, ErrorBody>;

    /// What blocks the drain, the running-jobs history and the ETA.
    async fn drain_view(&self) -> Result<DrainView, ErrorBody>;

    /// The fleet.
    async fn workers(&self) -> Result<WorkerList, ErrorBody>;

    /// Pause, resume or drain workers, as `POST /api/workers/actions`;
    /// refusals come back with their REST status (409 safety rule with the
    /// phrase to type, 404 unknown ids, 422).
    async fn worker_action(
        &self,
        request: WorkerActionRequest,
    ) -> Result<WorkerActionResponse, (u16, ErrorBody)>;

    /// Rolling restarts, newest first.
    async fn rolling_restarts(&self) -> Result<Vec<RollingRestart>, ErrorBody>;

    async fn start_rolling_restart(
        &self,
        request: RollingRestartRequest,
    ) -> Result<RollingRestart, (u16, ErrorBody)>;

    async fn cancel_rolling_restart(&self, id: String) -> Result<RollingRestart, (u16, ErrorBody)>;
}

/// How server functions find the backend.
pub type SharedBackend = std::sync::Arc<dyn DashboardBackend>;
