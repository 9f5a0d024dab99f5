//! The HTTP surface: routes, and handlers that are extract → service → map.

pub mod assets;
mod auth;
mod dashboard;
pub mod error;
mod extract;
pub mod guard;
pub mod mcp;
pub mod openapi;
mod pause;
mod queue;
mod queues;
mod runbook;
mod workers;

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use tower_http::trace::TraceLayer;

use crate::auth::Access;
use crate::lifecycle::Readiness;
use crate::service::Service;
use error::ApiError;

/// The largest request body we read (an enqueue carries up to 256 KiB of
/// payload; everything else is far smaller).
pub const MAX_BODY_BYTES: usize = 512 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub service: Arc<Service>,
    /// Starting, ready or stopping (a readiness probe reads it; streams end
    /// when the stop begins).
    pub readiness: Readiness,
}

/// Options of the HTTP layer.
#[derive(Debug, Clone, Default)]
pub struct HttpOptions {
    /// Serve the dashboard from this directory (Trunk's `dist/`) instead of
    /// the copy embedded in the binary.
    pub static_dir: Option<PathBuf>,
    /// The process's phase (see [`crate::lifecycle`]).
    pub readiness: Readiness,
    /// Host names this server answers for besides loopback names and IP
    /// addresses (see [`guard`]).
    pub allowed_hosts: guard::AllowedHosts,
}

/// One route: its method, path and who may call it. The router is built
/// from this table, and the role-matrix test walks the same table, so a
/// route cannot exist without an access rule.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

type Handler = MethodRouter<AppState>;

fn table(metrics_public: bool, mcp: Option<Handler>) -> Vec<(RouteSpec, Handler)> {
    use Access::*;
    let r = |method: Method, path: &'static str, access: Access, h: Handler| {
        (
            RouteSpec {
                method,
                path,
                access,
            },
            h,
        )
    };
    vec![
        r(
            Method::GET,
            "/api/system/worker-pause",
            Read,
            get(pause::get_status),
        ),
        r(
            Method::POST,
            "/api/system/worker-pause",
            Operate,
            post(pause::post_action),
        ),
        r(
            Method::GET,
            "/api/system/worker-pause/events",
            Read,
            get(pause::get_events),
        ),
        r(
            Method::GET,
            "/api/system/worker-pause/drain",
            Read,
            get(pause::get_drain),
        ),
        r(
            Method::GET,
            "/api/system/worker-pause/stream",
            Read,
            get(pause::stream),
        ),
        r(Method::GET, "/api/queue/jobs", ReadJobs, get(queue::list)),
        r(
            Method::POST,
            "/api/queue/jobs",
            Enqueue,
            post(queue::enqueue),
        ),
        r(
            Method::GET,
            "/api/queue/jobs/count",
            ReadJobs,
            get(queue::count),
        ),
        r(
            Method::POST,
            "/api/queue/jobs/retry-failed",
            Operate,
            post(queue::retry_failed),
        ),
        r(
            Method::POST,
            "/api/queue/jobs/batch",
            Enqueue,
            post(queue::enqueue_batch),
        ),
        r(
            Method::POST,
            "/api/queue/jobs/batch-complete",
            Work,
            post(queue::complete_batch),
        ),
        r(
            Method::POST,
            "/api/queue/jobs/batch-fail",
            Work,
            post(queue::fail_batch),
        ),
        r(
            Method::POST,
            "/api/queue/jobs/claim",
            Work,
            post(queue::claim),
        ),
        r(
            Method::GET,
            "/api/queue/jobs/{id}",
            ReadJobs,
            get(queue::get),
        ),
        r(
            Method::POST,
            "/api/queue/jobs/{id}/heartbeat",
            Work,
            post(queue::heartbeat),
        ),
        r(
            Method::POST,
            "/api/queue/jobs/{id}/complete",
            Work,
            post(queue::complete),
        ),
        r(
            Method::POST,
            "/api/queue/jobs/{id}/fail",
            Work,
            post(queue::fail),
        ),
        r(
            Method::POST,
            "/api/queue/jobs/{id}/cancel",
            Operate,
            post(queue::cancel),
        ),
        r(
            Method::POST,
            "/api/queue/jobs/{id}/retry",
            Operate,
            post(queue::retry),
        ),
        r(Method::GET, "/api/queues", Read, get(queues::list)),
        r(Method::GET, "/api/queues/{name}", Read, get(queues::get)),
        r(
            Method::POST,
            "/api/queues/{name}/pause",
            Operate,
            post(queues::pause),
        ),
        r(
            Method::POST,
            "/api/queues/{name}/resume",
            Operate,
            post(queues::resume),
        ),
        r(Method::GET, "/api/workers", Read, get(workers::list)),
        r(
            Method::POST,
            "/api/workers/register",
            Work,
            post(workers::register),
        ),
        r(
            Method::GET,
            "/api/workers/health",
            Read,
            get(workers::health),
        ),
        r(
            Method::GET,
            "/api/workers/metrics",
            Read,
            get(workers::metrics),
        ),
        r(
            Method::POST,
            "/api/workers/results",
            Work,
            post(workers::results),
        ),
        r(
            Method::POST,
            "/api/workers/{id}/heartbeat",
            Work,
            post(workers::heartbeat),
        ),
        r(
            Method::POST,
            "/api/workers/actions",
            Operate,
            post(workers::action),
        ),
        r(
            Method::GET,
            "/api/workers/rolling-restarts",
            Read,
            get(workers::list_rolling_restarts),
        ),
        r(
            Method::POST,
            "/api/workers/rolling-restarts",
            Operate,
            post(workers::start_rolling_restart),
        ),
        r(
            Method::GET,
            "/api/workers/rolling-restarts/{id}",
            Read,
            get(workers::get_rolling_restart),
        ),
        r(
            Method::POST,
            "/api/workers/rolling-restarts/{id}/cancel",
            Operate,
            post(workers::cancel_rolling_restart),
        ),
        r(
            Method::POST,
            "/scheduler/pause",
            Operate,
            post(runbook::pause),
        ),
        r(
            Method::POST,
            "/scheduler/resume",
            Operate,
            post(runbook::resume),
        ),
        r(Method::GET, "/scheduler/status", Read, get(runbook::status)),
        r(Method::GET, "/status", Read, get(runbook::system_status)),
        r(Method::GET, "/health", Open, get(runbook::health)),
        r(Method::GET, "/livez", Public, get(livez)),
        r(
            Method::GET,
            "/api/openapi.json",
            Public,
            get(openapi::serve),
        ),
        r(Method::GET, "/readyz", Public, get(runbook::readyz)),
        r(
            Method::GET,
            "/metrics",
            if metrics_public { Public } else { Read },
            get(runbook::metrics),
        ),
        r(
            Method::GET,
            "/dispatches/{id}",
            Read,
            get(runbook::get_dispatch),
        ),
        r(
            Method::POST,
            "/dispatches/{id}/cancel",
            Operate,
            post(runbook::cancel_dispatch),
        ),
        r(
            Method::POST,
            "/dispatches/{id}/retry",
            Operate,
            post(runbook::retry_dispatch),
        ),
        r(Method::POST, "/auth/login", Public, post(auth::login_route)),
        r(
            Method::POST,
            "/auth/logout",
            Public,
            post(auth::logout_route),
        ),
        r(Method::GET, "/auth/me", Public, get(auth::me_route)),
        r(Method::POST, "/sfn/get_pause_state", Read, dashboard::sfn()),
        r(Method::POST, "/sfn/get_events", Read, dashboard::sfn()),
        r(Method::POST, "/sfn/get_drain_view", Read, dashboard::sfn()),
        r(Method::POST, "/sfn/change_pause", Operate, dashboard::sfn()),
        r(Method::POST, "/sfn/get_workers", Read, dashboard::sfn()),
        r(
            Method::POST,
            "/sfn/get_rolling_restarts",
            Read,
            dashboard::sfn(),
        ),
        r(Method::POST, "/sfn/fleet_action", Operate, dashboard::sfn()),
        r(Method::POST, "/sfn/get_jobs", ReadJobs, dashboard::sfn()),
        r(Method::POST, "/sfn/get_job", ReadJobs, dashboard::sfn()),
        r(Method::POST, "/sfn/count_jobs", ReadJobs, dashboard::sfn()),
        r(Method::POST, "/sfn/get_queues", Read, dashboard::sfn()),
        r(Method::POST, "/sfn/cancel_job", Operate, dashboard::sfn()),
        r(Method::POST, "/sfn/retry_job", Operate, dashboard::sfn()),
        r(
            Method::POST,
            "/sfn/retry_failed_jobs",
            Operate,
            dashboard::sfn(),
        ),
        r(Method::POST, "/sfn/pause_queue", Operate, dashboard::sfn()),
        r(Method::POST, "/sfn/resume_queue", Operate, dashboard::sfn()),
        // A server function not listed above is operator-only until it is.
        r(Method::POST, "/sfn/{*fn_name}", Operate, dashboard::sfn()),
        // MCP (streamable HTTP: POST carries the calls; GET and DELETE are
        // answered by rmcp too). Each tool checks its own access.
        r(
            Method::POST,
            "/mcp",
            SignedIn,
            mcp.unwrap_or_else(|| post(unknown_mcp)),
        ),
    ]
}

/// The route table (for tests and docs).
pub fn route_specs(metrics_public: bool) -> Vec<RouteSpec> {
    table(metrics_public, None)
        .into_iter()
        .map(|(spec, _)| spec)
        .collect()
}

/// Every route of the server.
pub fn router(service: Arc<Service>, opts: &HttpOptions) -> Router {
    let state = AppState {
        service: service.clone(),
        readiness: opts.readiness.clone(),
    };
    let mut api = Router::new();
    let mcp = axum::routing::any_service(mcp::service(service.clone()));
    for (spec, handler) in table(service.auth().metrics_public, Some(mcp)) {
        let guarded = handler.layer(axum::middleware::from_fn_with_state(
            (service.clone(), spec.access),
            auth::require,
        ));
        api = api.route(spec.path, guarded);
    }
    let api = api
        .route("/api/{*rest}", axum::routing::any(unknown_api_route))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    api.merge(dashboard::static_routes(
        &service,
        opts.static_dir.as_deref(),
    ))
    .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
    .layer(axum::middleware::from_fn_with_state(
        opts.allowed_hosts.clone(),
        guard::guard,
    ))
    .layer(TraceLayer::new_for_http())
}

/// Liveness: answers without touching storage (load balancers, and the
/// baseline of the paused-claim benchmark).
#[utoipa::path(get, path = "/livez", tag = "probes",
    responses((status = 200, description = "The process is up", body = wire::runbook::Livez)))]
async fn livez() -> axum::Json<wire::runbook::Livez> {
    axum::Json(wire::runbook::Livez { ok: true })
}

/// Only in the route table listing (tests, docs): the real `/mcp` is
/// rmcp's service.
async fn unknown_mcp() -> ApiError {
    ApiError::not_found("no MCP service here")
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
