//! Server functions: each is a POST to `/sfn/<endpoint>` handled by the
//! server, and a plain async call in the browser.

use leptos::prelude::*;
use wire::WorkerPauseStatus;

/// The global pause status (banner, drain metrics, latest audit events).
#[server(prefix = "/sfn", endpoint = "get_pause_state")]
pub async fn get_pause_state() -> Result<WorkerPauseStatus, ServerFnError> {
    let backend = expect_context::<crate::ssr::SharedBackend>();
    backend
        .pause_status()
        .await
        .map_err(|e| ServerFnError::new(e.error.message))
}
