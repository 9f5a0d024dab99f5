//! The server side of the dashboard's server functions.

use wire::{DrainView, ErrorBody, EventsPage, PauseOutcome, PauseRequest, WorkerPauseStatus};

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
}

/// How server functions find the backend.
pub type SharedBackend = std::sync::Arc<dyn DashboardBackend>;
