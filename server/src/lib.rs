//! The Lull server: a job queue with a control plane for the worker fleet.
//!
//! Layers, outermost first: [`http`] (axum routes; handlers parse each
//! request into a [`domain`] command, call the service, map the answer; the
//! one API error type; the MCP tools at `/mcp`, thin calls of the same
//! service functions) → [`service`] (the core, one file per capability:
//! runs commands against storage, keeps the [`cache`] current) →
//! [`storage`] (all SQL: queries and operations written once, a driver per
//! dialect for SQLite and PostgreSQL). [`domain`] holds the pure rules and
//! the request parsing; [`auth`] the tokens and roles; [`live`] the
//! dashboard's in-memory metrics history; [`fanout`] the live stream's
//! shared `state` events; [`streams`] the caps on open event streams; [`metrics`](crate::metrics) the recorder behind
//! `/metrics` and StatsD.

pub mod auth;
pub mod cache;
pub mod config;
pub mod domain;
pub mod fanout;
pub mod http;
pub mod lifecycle;
pub mod live;
pub mod metrics;
pub mod service;
pub mod storage;
pub mod streams;

use std::sync::Arc;

use anyhow::Context;

/// What [`start`] returns: the bound address, the service, and the task
/// that serves until the shutdown future resolves.
pub type Started = (
    std::net::SocketAddr,
    Arc<service::Service>,
    tokio::task::JoinHandle<std::io::Result<()>>,
);

/// Connects storage, runs migrations, loads the pause state, starts the
/// background refreshers and binds the listener. Returns the bound address
/// and a future that serves until `shutdown` resolves.
pub async fn start(
    cfg: &config::Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Started> {
    start_with(cfg, lifecycle::Readiness::default(), shutdown).await
}

/// [`start`], reporting through `readiness`: ready once the listener is
/// bound (systemd's `READY=1`), stopping when `shutdown` resolves.
pub async fn start_with(
    cfg: &config::Config,
    readiness: lifecycle::Readiness,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Started> {
    // One server per SQLite file: held until the server task ends.
    let lock = storage::sqlite::ServerLock::acquire(&cfg.database_url)?;
    let store = storage::connect_with(&cfg.database_url, &cfg.store)
        .await
        .with_context(|| format!("opening {}", storage::redact(&cfg.database_url)))?;
    let svc = service::Service::new(
        store,
        service::ServiceConfig {
            pause_poll_interval_ms: cfg.pause_poll_interval_ms,
            ack_warn_after_ms: cfg.ack_warn_after_ms,
            pause_refresh_ms: cfg.pause_refresh_ms,
            worker_stale_seconds: cfg.worker_stale_seconds,
            auth_mode: cfg.auth,
            metrics_public: cfg.metrics_public,
            min_available_workers: cfg.min_available_workers,
            retention: cfg.retention,
            retention_interval_ms: cfg.retention_interval_ms,
            statsd: cfg.statsd.clone(),
            trusted_proxies: cfg.trusted_proxies.clone(),
            streams: cfg.streams,
            ..Default::default()
        },
    )
    .await?;
    svc.start().await?;
    let app = http::router(
        svc.clone(),
        &http::HttpOptions {
            static_dir: cfg.static_dir.clone(),
            readiness: readiness.clone(),
            allowed_hosts: http::guard::AllowedHosts::new(cfg.allowed_hosts.clone()),
        },
    );
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    readiness.set_ready(addr);
    // Stopping begins when `shutdown` resolves: open event streams end, so
    // the graceful stop only waits for ordinary requests.
    let shutdown = async move {
        shutdown.await;
        readiness.set_stopping();
    };
    let handle = tokio::spawn(async move {
        let _lock = lock;
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    });
    Ok((addr, svc, handle))
}
