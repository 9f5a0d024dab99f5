//! The dashboard: Trunk's static output at `/` (with the runtime config
//! injected into `index.html`), and the Leptos server functions at `/sfn/*`
//! (their own prefix, clear of the REST routes).

use std::path::Path;
use std::sync::Arc;

use app::ssr::{DashboardBackend, SharedBackend};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Request, Uri};
use axum::response::{Html, IntoResponse};
use axum::routing::{post, MethodRouter};
use axum::{Extension, Router};
use leptos::prelude::provide_context;
use uuid::Uuid;
use wire::{
    BulkRetryRequest, BulkRetryResponse, DashboardConfig, DrainView, EventsPage, EventsSearch, Job,
    JobCount, JobCountQuery, JobList, JobSearch, PauseRequest, QueueInfo, QueueList,
    QueuePauseRequest, QueueResumeRequest, RollingRestart, RollingRestartRequest,
    WorkerActionRequest, WorkerActionResponse, WorkerList, WorkerPauseStatus,
};

use super::assets::AssetSet;
use super::error::ApiError;
use super::AppState;
use crate::auth::Caller;
use crate::config::DEFAULT_STATIC_DIR;
use crate::domain::rollout::RolloutCommand;
use crate::domain::{
    BulkRetryCommand, EventFilter, JobFilter, JobMatch, PageLimit, PauseCommand, QueuePauseCommand,
    WorkerActionCommand,
};
use crate::service::{Service, ServiceError};

/// The core service, seen through the dashboard's narrow interface.
struct ServiceBackend {
    service: Arc<Service>,
    actor: String,
}

impl ServiceBackend {
    /// A queue pause or resume, or its dry run.
    async fn queue_change(
        &self,
        cmd: QueuePauseCommand,
        dry_run: bool,
    ) -> Result<QueueInfo, wire::ApiError> {
        let answer = if dry_run {
            self.service.queue_pause_dry_run(&self.actor, cmd).await
        } else {
            self.service.change_queue_pause(&self.actor, cmd).await
        };
        answer.map_err(refused)
    }
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

    async fn events(&self, q: EventsSearch) -> Result<EventsPage, wire::ApiError> {
        let limit = PageLimit::parse(q.limit, 50).map_err(|e| refused(e.into()))?;
        let filter = EventFilter::parse(q.action.as_deref(), q.actor.as_deref())
            .map_err(|e| refused(e.into()))?;
        self.service
            .search_events(&filter, limit, q.before)
            .await
            .map_err(refused)
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

    async fn jobs(&self, q: JobSearch) -> Result<JobList, wire::ApiError> {
        let filter = JobFilter::search(&q).map_err(|e| refused(e.into()))?;
        let jobs = self.service.list_jobs(filter).await.map_err(refused)?;
        Ok(JobList { jobs })
    }

    async fn job_count(&self, q: JobCountQuery) -> Result<JobCount, wire::ApiError> {
        let m = JobMatch::parse(
            q.status.as_deref(),
            q.job_type.as_deref(),
            q.queue.as_deref(),
        )
        .map_err(|e| refused(e.into()))?;
        self.service.count_jobs(m).await.map_err(refused)
    }

    async fn retry_failed_jobs(
        &self,
        request: BulkRetryRequest,
    ) -> Result<BulkRetryResponse, wire::ApiError> {
        let cmd = BulkRetryCommand::parse(request).map_err(|e| refused(e.into()))?;
        self.service
            .retry_failed(&self.actor, cmd)
            .await
            .map_err(refused)
    }

    async fn queues(&self) -> Result<QueueList, wire::ApiError> {
        self.service.list_queues().await.map_err(refused)
    }

    async fn pause_queue(
        &self,
        name: String,
        request: QueuePauseRequest,
    ) -> Result<QueueInfo, wire::ApiError> {
        let dry_run = request.dry_run.unwrap_or(false);
        let cmd = QueuePauseCommand::pause(&name, request).map_err(|e| refused(e.into()))?;
        self.queue_change(cmd, dry_run).await
    }

    async fn resume_queue(
        &self,
        name: String,
        request: QueueResumeRequest,
    ) -> Result<QueueInfo, wire::ApiError> {
        let dry_run = request.dry_run.unwrap_or(false);
        let cmd = QueuePauseCommand::resume(&name, request).map_err(|e| refused(e.into()))?;
        self.queue_change(cmd, dry_run).await
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
            let req = match super::guard::sfn_request(req).await {
                Ok(req) => req,
                Err(refused) => return refused,
            };
            let backend: SharedBackend = Arc::new(ServiceBackend {
                service: s.service.clone(),
                actor: caller.name,
            });
            leptos_axum::handle_server_fns_with_context(
                move || provide_context(backend.clone()),
                req,
            )
            .await
            .into_response()
        },
    )
}

/// Where the dashboard comes from, in order: `--static-dir` when given;
/// else the copy embedded in this (release) binary; else `./dist` when a
/// Trunk build is there (a debug build run from the workspace); else a page
/// that says how to build it (the API still answers).
pub fn static_routes(service: &Service, static_dir: Option<&Path>) -> Router {
    let config = dashboard_config(service);
    let inject = |index: &str| inject_config(index, &config);
    let set = match static_dir {
        Some(dir) => AssetSet::from_dir(dir, inject).map(|s| (s, dir.display().to_string())),
        None => match AssetSet::embedded(inject) {
            Ok(Some(set)) => Ok((set, "embedded in this binary".to_string())),
            Ok(None) => {
                let dev = Path::new(DEFAULT_STATIC_DIR);
                if dev.join("index.html").is_file() {
                    AssetSet::from_dir(dev, inject).map(|s| (s, dev.display().to_string()))
                } else {
                    tracing::warn!(
                        "this lull was built without the dashboard (a debug build, or \
                         LULL_EMBED_DASHBOARD=0) and there is no ./dist: the API is up, the \
                         dashboard is not. Build a complete binary with `trunk build --release && \
                         cargo build --release -p server`, or pass --static-dir <Trunk's dist/>"
                    );
                    return not_built();
                }
            }
            Err(e) => Err(e),
        },
    };
    match set {
        Ok((set, origin)) => {
            tracing::info!(files = set.len(), from = %origin, "serving the dashboard");
            Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
                let set = set.clone();
                async move { set.respond(&method, &uri, &headers) }
            })
        }
        Err(e) => {
            tracing::warn!(error = %e, "dashboard not served; the API is up");
            not_built()
        }
    }
}

fn not_built() -> Router {
    Router::new().fallback(|| async {
        (
            [(
                axum::http::header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; frame-ancestors 'none'",
            )],
            Html("<!doctype html><title>Lull</title><p>The dashboard is not built into this <code>lull</code>. Run <code>trunk build --release</code>, then <code>cargo build --release -p server</code> (or <code>scripts/run.sh</code>), or start <code>lull serve --static-dir dist</code>. The API is up.</p>"),
        )
            .into_response()
    })
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
