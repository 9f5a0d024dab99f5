//! The server side of the dashboard's server functions.

use wire::{ErrorBody, WorkerPauseStatus};

/// What the dashboard needs from the server's core service. The server puts
/// an `Arc<dyn DashboardBackend>` into the server-function context.
#[async_trait::async_trait]
pub trait DashboardBackend: Send + Sync + 'static {
    /// The global pause status, with drain metrics and the latest audit.
    async fn pause_status(&self) -> Result<WorkerPauseStatus, ErrorBody>;
}

/// How server functions find the backend.
pub type SharedBackend = std::sync::Arc<dyn DashboardBackend>;
