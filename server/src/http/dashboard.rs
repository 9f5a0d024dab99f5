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
use wire::{
    DashboardConfig, DrainView, ErrorBody, EventsPage, PauseOutcome, PauseRequest,
    WorkerPauseStatus,
};

use super::error::ApiError;
use super::AppState;
use crate::auth::Caller;
use crate::domain::rollout::RolloutCommand;
use crate::domain::{PageLimit, PauseCommand, WorkerActionCommand};
use crate::service::{Service, ServiceError};

/// The core service, seen through the dashboard's narrow interface.
struct ServiceBackend {
    service: Arc<Service>,
    actor: String,
}

#[async_trait::async_trait]
impl DashboardBackend for ServiceBackend {
    async fn pause_status(&self) -> Result<WorkerPauseStatus, ErrorBody> {
        self.service
            .pause_status()
            .await
            .map_err(|e| *ApiError::from(e).body)
    }

    async fn change_pause(&self, request: PauseRequest) -> PauseOutcome {
        let cmd = PauseCommand::parse(request).map_err(ServiceError::from);
        let applied = match cmd {
            Ok(cmd) => self.service.change_pause(&self.actor, cmd).await,
            Err(e) => Err(e),
        };
        match applied {
            Ok(status) => PauseOutcome::Applied {
                status: Box::new(status),
            },
            Err(e) => {
                let e = ApiError::from(e);
                PauseOutcome::Rejected {
                    status: e.status.as_u16(),
                    error: e.body,
                }
            }
        }
    }

    async fn events(
        &self,
        limit: Option<u32>,
        before: Option<i64>,
    ) -> Result<EventsPage, ErrorBody> {
        let limit = PageLimit::parse(limit, 50).map_err(|e| *ApiError::from(e).body)?;
        self.service
            .events(limit, before)
            .await
            .map_err(|e| *ApiError::from(e).body)
    }

    async fn workers(&self) -> Result<wire::WorkerList, ErrorBody> {
        self.service
            .list_workers()
            .await
            .map_err(|e| *ApiError::from(e).body)
    }

    async fn worker_action(
        &self,
        request: wire::WorkerActionRequest,
    ) -> Result<wire::WorkerActionResponse, (u16, ErrorBody)> {
        let cmd = WorkerActionCommand::parse(request).map_err(|e| rejected(e.into()))?;
        self.service
            .worker_action(&self.actor, cmd)
            .await
            .map_err(rejected)
    }

    async fn rolling_restarts(&self) -> Result<Vec<wire::RollingRestart>, ErrorBody> {
        self.service
            .list_rolling_restarts()
            .await
            .map_err(|e| *ApiError::from(e).body)
    }

    async fn start_rolling_restart(
        &self,
        request: wire::RollingRestartRequest,
    ) -> Result<wire::RollingRestart, (u16, ErrorBody)> {
        let cmd = RolloutCommand::parse(request).map_err(|e| rejected(e.into()))?;
        self.service
            .start_rolling_restart(&self.actor, cmd)
            .await
            .map_err(rejected)
    }

    async fn cancel_rolling_restart(
        &self,
        id: String,
    ) -> Result<wire::RollingRestart, (u16, ErrorBody)> {
        let id = uuid::Uuid::parse_str(&id).map_err(|_| {
            let e = ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_id",
                format!("{id:?} is not a valid id (a UUID)"),
                Some("id"),
            );
            (e.status.as_u16(), *e.body)
        })?;
        self.service
            .cancel_rolling_restart(&self.actor, id, None)
            .await
            .map_err(rejected)
    }

    async fn drain_view(&self) -> Result<DrainView, ErrorBody> {
        self.service
            .drain_view()
            .await
            .map_err(|e| *ApiError::from(e).body)
    }
}

/// A service error as the REST API would answer it: status and body.
fn rejected(e: ServiceError) -> (u16, ErrorBody) {
    let e = ApiError::from(e);
    (e.status.as_u16(), *e.body)
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
