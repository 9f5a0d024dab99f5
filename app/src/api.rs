//! Server functions: each is a POST to `/sfn/<endpoint>` handled by the
//! server (through [`crate::ssr::DashboardBackend`]), and a plain async call
//! in the browser.

use leptos::prelude::*;
use wire::{DrainView, EventsPage, PauseOutcome, PauseRequest, WorkerPauseStatus};

fn message(e: wire::ErrorBody) -> ServerFnError {
    ServerFnError::new(e.error.message)
}

/// The global pause status (banner, drain metrics, latest audit events).
#[server(prefix = "/sfn", endpoint = "get_pause_state")]
pub async fn get_pause_state() -> Result<WorkerPauseStatus, ServerFnError> {
    let backend = expect_context::<crate::ssr::SharedBackend>();
    backend.pause_status().await.map_err(message)
}

/// Pause or resume. Refusals (validation, version conflict) come back as
/// `PauseOutcome::Rejected`, not as a transport error, so the page can show
/// them next to the right field.
#[server(prefix = "/sfn", endpoint = "change_pause")]
pub async fn change_pause(request: PauseRequest) -> Result<PauseOutcome, ServerFnError> {
    let backend = expect_context::<crate::ssr::SharedBackend>();
    Ok(backend.change_pause(request).await)
}

/// A page of the audit log, newest first.
#[server(prefix = "/sfn", endpoint = "get_events")]
pub async fn get_events(
    limit: Option<u32>,
    before: Option<i64>,
) -> Result<EventsPage, ServerFnError> {
    let backend = expect_context::<crate::ssr::SharedBackend>();
    backend.events(limit, before).await.map_err(message)
}

/// The drain card: blocking jobs, running-jobs history, ETA.
#[server(prefix = "/sfn", endpoint = "get_drain_view")]
pub async fn get_drain_view() -> Result<DrainView, ServerFnError> {
    let backend = expect_context::<crate::ssr::SharedBackend>();
    backend.drain_view().await.map_err(message)
}
