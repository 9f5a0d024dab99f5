//! The HTTP surface: routes, and handlers that are extract → service → map.

mod dashboard;
pub mod error;
mod extract;
mod pause;
mod queue;
mod runbook;
mod workers;

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tower_http::trace::TraceLayer;

use crate::service::Service;
use error::ApiError;

/// The largest request body we read (an enqueue carries up to 256 KiB of
/// payload; everything else is far smaller).
pub const MAX_BODY_BYTES: usize = 512 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub service: Arc<Service>,
}

/// Options of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Where Trunk's `dist/` output is served from.
    pub static_dir: PathBuf,
}

/// Every route of the server.
pub fn router(service: Arc<Service>, opts: &HttpOptions) -> Router {
    let state = AppState {
        service: service.clone(),
    };
    let api = Router::new()
        .route(
            "/api/system/worker-pause",
            get(pause::get_status).post(pause::post_action),
        )
        .route("/api/system/worker-pause/events", get(pause::get_events))
        .route("/api/system/worker-pause/stream", get(pause::stream))
        .route("/api/queue/jobs", get(queue::list).post(queue::enqueue))
        .route("/api/queue/jobs/claim", post(queue::claim))
        .route("/api/queue/jobs/{id}", get(queue::get))
        .route("/api/queue/jobs/{id}/heartbeat", post(queue::heartbeat))
        .route("/api/queue/jobs/{id}/complete", post(queue::complete))
        .route("/api/queue/jobs/{id}/fail", post(queue::fail))
        .route("/api/queue/jobs/{id}/cancel", post(queue::cancel))
        .route("/api/queue/jobs/{id}/retry", post(queue::retry))
        .route("/api/workers", get(workers::list))
        .route("/api/workers/register", post(workers::register))
        .route("/api/workers/health", get(workers::health))
        .route("/api/workers/metrics", get(workers::metrics))
        .route("/api/workers/results", post(workers::results))
        .route("/api/workers/{id}/heartbeat", post(workers::heartbeat))
        .route("/api/{*rest}", axum::routing::any(unknown_api_route))
        .route("/scheduler/pause", post(runbook::pause))
        .route("/scheduler/resume", post(runbook::resume))
        .route("/scheduler/status", get(runbook::status))
        .route("/status", get(runbook::system_status))
        .route("/health", get(runbook::health))
        .route("/metrics", get(runbook::metrics))
        .route("/dispatches/{id}", get(runbook::get_dispatch))
        .route("/dispatches/{id}/cancel", post(runbook::cancel_dispatch))
        .route("/dispatches/{id}/retry", post(runbook::retry_dispatch))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    api.merge(dashboard::routes(service, &opts.static_dir))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http())
}

async fn unknown_api_route(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no API route {}", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
        None,
    )
}
