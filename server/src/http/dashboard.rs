//! The dashboard: Trunk's static output at `/`, and the Leptos server
//! functions at `/sfn/*` (their own prefix, clear of the REST routes).

use std::path::Path;
use std::sync::Arc;

use app::ssr::{DashboardBackend, SharedBackend};
use axum::body::Body;
use axum::http::Request;
use axum::response::{Html, IntoResponse};
use axum::routing::post;
use axum::Router;
use leptos::prelude::provide_context;
use tower_http::services::{ServeDir, ServeFile};
use wire::{ErrorBody, WorkerPauseStatus};

use super::error::ApiError;
use crate::service::Service;

/// The core service, seen through the dashboard's narrow interface.
struct ServiceBackend(Arc<Service>);

#[async_trait::async_trait]
impl DashboardBackend for ServiceBackend {
    async fn pause_status(&self) -> Result<WorkerPauseStatus, ErrorBody> {
        self.0
            .pause_status()
            .await
            .map_err(|e| ApiError::from(e).body)
    }
}

pub fn routes(service: Arc<Service>, static_dir: &Path) -> Router {
    let backend: SharedBackend = Arc::new(ServiceBackend(service));
    let sfn = post(move |req: Request<Body>| {
        let backend = backend.clone();
        async move {
            leptos_axum::handle_server_fns_with_context(
                move || provide_context(backend.clone()),
                req,
            )
            .await
        }
    });
    let router = Router::new().route("/sfn/{*fn_name}", sfn);
    let index = static_dir.join("index.html");
    if index.exists() {
        // Unknown paths get index.html: the SPA routes on the client.
        router.fallback_service(ServeDir::new(static_dir).fallback(ServeFile::new(index)))
    } else {
        tracing::warn!(dir = %static_dir.display(), "dashboard not built: no index.html; run `trunk build --release`");
        router.fallback(|| async {
            Html("<!doctype html><title>Lull</title><p>The dashboard is not built. Run <code>trunk build --release</code> (or <code>scripts/run.sh</code>) and restart <code>lull serve</code>. The API is up.</p>").into_response()
        })
    }
}
