//! The dashboard: Trunk's static output at `/` (with the runtime config
//! injected into `index.html`), and the Leptos server functions at `/sfn/*`
//! (their own prefix, clear of the REST routes).

use std::path::Path;
use std::sync::Arc;

use app::ssr::{DashboardBackend, SharedBackend};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, Request};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Extension, Router};
use leptos::prelude::provide_context;
use tower_http::services::ServeDir;
use uuid::Uuid;
use wire::{
    DashboardConfig, DrainView, EventsPage, Job, JobList, JobStatus, PauseRequest, RollingRestart,
    RollingRestartRequest, WorkerActionRequest, WorkerActionResponse, WorkerList,
    WorkerPauseStatus,
};

use super::error::ApiError;
use super::AppState;
use crate::auth::Caller;
use crate::domain::rollout::RolloutCommand;
use crate::domain::{JobFilter, PageLimit, PauseCommand, WorkerActionCommand};
use crate::service::{Service, ServiceError};

/// The core service, seen through the dashboard's narrow interface.
struct ServiceBackend {
    service: Arc<Service>,
    actor: String,
}

/// A service error as the REST API answers it, decoded once into the
/// `wire` error the dashboard matches on.
fn refused(e: ServiceError) -> wire::ApiError {
    let e = ApiError::from(e);
    wire::ApiError::from_parts(e.status.as_u16(), *e.body)
}

#[async_trait::async_trait]
impl DashboardBackend for ServiceBackend {
    async fn pause_status(&self) -> Result<WorkerPauseStatus, wire::ApiError> {
        self.service.pause_status().await.map_err(refused)
    }

    async fn change_pause(
        &self,
        request: PauseRequest,
    ) -> Result<WorkerPauseStatus, wire::ApiError> {
        let dry_run = request.dry_run.unwrap_or(false);
        let cmd = PauseCommand::parse(request).map_err(|e| refused(e.into()))?;
        if dry_run {
            return self
                .service
                .pause_dry_run(&self.actor, cmd)
                .await
                .map_err(refused);
        }
        self.service
            .change_pause(&self.actor, cmd)
            .await
            .map_err(refused)
    }

    async fn events(
        &self,
        limit: Option<u32>,
        before: Option<i64>,
    ) -> Result<EventsPage, wire::ApiError> {
        let limit = PageLimit::parse(limit, 50).map_err(|e| refused(e.into()))?;
        self.service.events(limit, before).await.map_err(refused)
    }

    async fn drain_view(&self) -> Result<DrainView, wire::ApiError> {
        self.service.drain_view().await.map_err(refused)
    }

    async fn workers(&self) -> Result<WorkerList, wire::ApiError> {
        self.service.list_workers().await.map_err(refused)
    }

    async fn worker_action(
        &self,
        request: WorkerActionRequest,
    ) -> Result<WorkerActionResponse, wire::ApiError> {
        // This function answers what was done; a dry run has its own answer
        // (`POST /api/workers/actions`). Refused rather than ignored: a
        // "dry run" that acted would be the worst outcome.
        if request.dry_run == Some(true) {
            return Err(refused(ServiceError::Validation(
                crate::domain::FieldError::new(
                    "dryRun",
                    "a dry run of a worker action is answered by POST /api/workers/actions",
                ),
            )));
        }
        let cmd = WorkerActionCommand::parse(request).map_err(|e| refused(e.into()))?;
        self.service
            .worker_action(&self.actor, cmd)
            .await
            .map_err(refused)
    }

    async fn rolling_restarts(&self) -> Result<Vec<RollingRestart>, wire::ApiError> {
        self.service.list_rolling_restarts().await.map_err(refused)
    }

    async fn start_rolling_restart(
        &self,
        request: RollingRestartRequest,
    ) -> Result<RollingRestart, wire::ApiError> {
        let cmd = RolloutCommand::parse(request).map_err(|e| refused(e.into()))?;
        self.service
            .start_rolling_restart(&self.actor, cmd)
            .await
            .map_err(refused)
    }

    async fn cancel_rolling_restart(&self, id: Uuid) -> Result<RollingRestart, wire::ApiError> {
        self.service
            .cancel_rolling_restart(&self.actor, id, None)
            .await
            .map_err(refused)
    }

    async fn jobs(
        &self,
        status: Option<JobStatus>,
        limit: Option<u32>,
    ) -> Result<JobList, wire::ApiError> {
        let filter = JobFilter::parse(&wire::JobListQuery {
            status: status.map(|s| s.as_str().to_string()),
            limit,
            queue: None,
        })
        .map_err(|e| refused(e.into()))?;
        let jobs = self.service.list_jobs(filter).await.map_err(refused)?;
        Ok(JobList { jobs })
    }

    async fn job(&self, id: Uuid) -> Result<Job, wire::ApiError> {
        self.service.get_job(id).await.map_err(refused)
    }

    async fn cancel_job(&self, id: Uuid) -> Result<Job, wire::ApiError> {
        self.service.cancel(&self.actor, id).await.map_err(refused)
    }

    async fn retry_job(&self, id: Uuid) -> Result<Job, wire::ApiError> {
        self.service.retry(&self.actor, id).await.map_err(refused)
    }
}

/// The config the page reads at start-up (endpoints and intervals).
pub fn dashboard_config(service: &Service) -> DashboardConfig {
    let cfg = service.config();
    DashboardConfig {
        pause_endpoint: "/api/system/worker-pause".into(),
        events_endpoint: "/api/system/worker-pause/events".into(),
        stream_endpoint: "/api/system/worker-pause/stream".into(),
        poll_interval_ms: cfg.dashboard_poll_ms,
        metrics_tick_ms: cfg.metrics_tick_ms,
        stale_after_ms: cfg.metrics_tick_ms * 3 + 1000,
        auth_mode: match cfg.auth_mode {
            crate::auth::AuthMode::Disabled => "disabled",
            crate::auth::AuthMode::Token => "token",
        }
        .into(),
    }
}

/// `index.html` with `<script id="lull-config" type="application/json">`
/// placed before `</head>`.
pub fn inject_config(index: &str, config: &DashboardConfig) -> String {
    // `</` cannot appear in the JSON of our config, but escape it anyway so
    // the script element can never be closed early.
    let json = serde_json::to_string(config)
        .unwrap_or_else(|_| "{}".into())
        .replace("</", "<\\/");
    let tag = format!("<script id=\"lull-config\" type=\"application/json\">{json}</script>");
    match index.find("</head>") {
        Some(i) => format!("{}{tag}{}", &index[..i], &index[i..]),
        None => format!("{tag}{index}"),
    }
}

/// The handler of every `/sfn/*` route: runs the server function with the
/// backend acting as the authenticated caller.
pub fn sfn() -> MethodRouter<AppState> {
    post(
        |State(s): State<AppState>, Extension(caller): Extension<Caller>, req: Request<Body>| async move {
            let backend: SharedBackend = Arc::new(ServiceBackend {
                service: s.service.clone(),
                actor: caller.name,
            });
            leptos_axum::handle_server_fns_with_context(
                move || provide_context(backend.clone()),
                req,
            )
            .await
        },
    )
}

/// `/`, `/index.html` (with the injected config) and the static assets.
pub fn static_routes(service: &Service, static_dir: &Path) -> Router {
    let router = Router::new();
    let index_path = static_dir.join("index.html");
    match std::fs::read_to_string(&index_path) {
        Ok(index) => {
            let page: Arc<str> = inject_config(&index, &dashboard_config(service)).into();
            let index = get(move || {
                let page = page.clone();
                async move {
                    let resp: Response = (
                        [(header::CACHE_CONTROL, "no-cache")],
                        Html(page.to_string()),
                    )
                        .into_response();
                    resp
                }
            });
            // Unknown paths get index.html: the SPA routes on the client.
            // Gzip here only (not on the API, where it would hold back the
            // event stream): the WASM shrinks to about 40 %.
            router
                .route("/", index.clone())
                .route("/index.html", index.clone())
                .fallback_service(ServeDir::new(static_dir).fallback(index))
                .layer(tower_http::compression::CompressionLayer::new())
        }
        Err(_) => {
            tracing::warn!(dir = %static_dir.display(), "dashboard not built: no index.html; run `trunk build --release`");
            router.fallback(|| async {
                Html("<!doctype html><title>Lull</title><p>The dashboard is not built. Run <code>trunk build --release</code> (or <code>scripts/run.sh</code>) and restart <code>lull serve</code>. The API is up.</p>").into_response()
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_goes_before_head_end() {
        let cfg = DashboardConfig {
            pause_endpoint: "/p".into(),
            events_endpoint: "/e".into(),
            stream_endpoint: "/s".into(),
            poll_interval_ms: 2000,
            metrics_tick_ms: 1000,
            stale_after_ms: 4000,
            auth_mode: "disabled".into(),
        };
        let out = inject_config(
            "<html><head><title>x</title></head><body></body></html>",
            &cfg,
        );
        assert!(out
            .contains(r#"<script id="lull-config" type="application/json">{"pauseEndpoint":"/p""#));
        assert!(out.find("lull-config").unwrap() < out.find("</head>").unwrap());
    }
}
