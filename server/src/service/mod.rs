//! The core service: everything the REST API, the runbook endpoints and the
//! dashboard's server functions do goes through here, so no rule is written
//! twice. Handlers parse requests into domain commands (`crate::domain`);
//! the service runs them against storage, keeps the pause cache current and
//! logs every change. One file per capability:
//!
//! - `pause`: the global pause, its status and audit log;
//! - `queues`: named queues — their list, and each one's pause and resume;
//! - `queue`: enqueue (single and batch), list, cancel, retry; `claims`:
//!   the worker side of the queue (claims with long polling, lease
//!   heartbeats, complete and fail, single and batch);
//! - `fleet`: the worker registry and per-worker actions; `rollouts`:
//!   rolling restarts; `results`: idempotent result submissions;
//! - `live`: the dashboard's drain view and metrics ticks, and the live
//!   stream's shared `state` events;
//!   `runbook`: the maintenance runbook's vocabulary and `/metrics`;
//! - `health`: `/health`'s checks and `/readyz`; `streams`: the caps on
//!   event streams and their end on token revocation;
//! - `background`: the tasks that keep this process current;
//!   `retention`: pruning finished jobs; `tokens`: API tokens for
//!   `lull token`.

mod background;
mod claims;
mod error;
mod fleet;
mod health;
mod live;
mod pause;
mod queue;
mod queues;
mod results;
mod retention;
mod rollouts;
mod runbook;
mod streams;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};

pub use error::{ServiceError, ServiceResult};
pub use retention::PruneReport;
pub use runbook::{dispatch_of, runbook_time};

use crate::auth::{AuthMode, AuthSettings, Authenticator, SessionPolicy, TrustedProxies};
use crate::cache::{PauseCache, QueueCache};
use crate::domain::RetentionPolicy;
use crate::fanout::StatePublisher;
use crate::live::Live;
use crate::metrics::{Metrics, StatsdTarget};
use crate::storage::Store;
use crate::streams::{StreamLimits, Streams};

/// Tunables of the service (from configuration).
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Told to workers: how long to sleep between claims while paused.
    pub pause_poll_interval_ms: u64,
    /// `/health` warns when the current pause has not been applied by some
    /// online worker after this long.
    pub ack_warn_after_ms: u64,
    /// Fallback re-read of the pause state, in case a notification is lost.
    pub pause_refresh_ms: u64,
    /// How many events `audit.latest` carries.
    pub audit_latest: u32,
    /// How often drain metrics are sampled for live subscribers.
    pub metrics_tick_ms: u64,
    /// The dashboard's fallback polling interval (stream down).
    pub dashboard_poll_ms: u64,
    /// A worker whose last heartbeat is older than this is offline.
    pub worker_stale_seconds: u64,
    /// `disabled` (local use) or `token`.
    pub auth_mode: AuthMode,
    /// How long a verified token is trusted before it is read again.
    pub auth_cache_ms: u64,
    /// Serve `/metrics` without a token in token mode.
    pub metrics_public: bool,
    /// Failed authentications allowed per client address before 429 (one
    /// more per second after that).
    pub auth_failure_burst: u32,
    /// Proxies whose `X-Forwarded-For` names the client address (for the
    /// failure limiter).
    pub trusted_proxies: TrustedProxies,
    /// How long a dashboard session lasts (idle and absolute).
    pub sessions: SessionPolicy,
    /// Fleet actions must leave at least this many available workers.
    pub min_available_workers: usize,
    /// How often the rolling-restart controller steps.
    pub rollout_tick_ms: u64,
    /// How long finished jobs (and control events) are kept.
    pub retention: RetentionPolicy,
    /// How often the retention pass runs.
    pub retention_interval_ms: u64,
    /// Rows deleted per retention batch (one short transaction each).
    pub retention_batch: u32,
    /// Also send the metrics to this StatsD server (`LULL_STATSD`).
    pub statsd: Option<StatsdTarget>,
    /// Caps on open event streams (in all, and per token).
    pub streams: StreamLimits,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            pause_poll_interval_ms: 5000,
            ack_warn_after_ms: crate::config::default_ack_warn_after_ms(5000),
            pause_refresh_ms: 1000,
            audit_latest: 10,
            metrics_tick_ms: 2000,
            dashboard_poll_ms: 2000,
            worker_stale_seconds: 15,
            auth_mode: AuthMode::Disabled,
            auth_cache_ms: 1000,
            metrics_public: true,
            auth_failure_burst: 10,
            trusted_proxies: TrustedProxies::default(),
            sessions: SessionPolicy::default(),
            min_available_workers: 1,
            rollout_tick_ms: 1000,
            retention: RetentionPolicy::default(),
            retention_interval_ms: 60_000,
            retention_batch: 500,
            statsd: None,
            streams: StreamLimits::default(),
        }
    }
}

/// The actor of what the server does by itself (timed resumes, rolling
/// restart steps) in the audit log.
pub const SYSTEM_ACTOR: &str = "system";

pub struct Service {
    store: Arc<dyn Store>,
    cache: PauseCache,
    /// Each named queue's pause.
    queues: QueueCache,
    metrics: Metrics,
    live: Live,
    /// The live stream's `state` events, one per version for every
    /// subscriber (built from the first stream on: `service::live`).
    fanout: Arc<StatePublisher>,
    /// The open event streams, counted against their caps.
    streams: Arc<Streams>,
    /// Woken on every enqueue (here, or elsewhere via NOTIFY): long-polling
    /// claimers try again at once.
    jobs_signal: tokio::sync::Notify,
    /// Woken when a worker's desired state changes (here or elsewhere):
    /// waiting claims answer at once, so a paused or drained worker hears
    /// its directive without waiting out its long poll.
    fleet_signal: tokio::sync::Notify,
    auth: Authenticator,
    /// The applied version each worker last reported on a claim, as this
    /// process last wrote it: a claim writes only when it moves, so a
    /// paused worker's polls cost no database round trip.
    applied_on_claims: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    /// What the background tasks and the listener report, for `/health`.
    vitals: health::Vitals,
    config: ServiceConfig,
}

/// The current time, truncated to milliseconds so both stores (SQLite keeps
/// milliseconds, PostgreSQL microseconds) hold identical values.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

impl Service {
    /// Loads the pause state into the cache. Call [`Service::start`] to keep
    /// it current from other processes' changes.
    pub async fn new(store: Arc<dyn Store>, config: ServiceConfig) -> ServiceResult<Arc<Service>> {
        let state = store.pause_state().await?;
        let queues = QueueCache::default();
        queues.observe(store.queue_pauses().await?);
        let metrics = Metrics::new(config.statsd.as_ref()).map_err(ServiceError::Internal)?;
        store.observe_latency(metrics.storage_latency());
        let svc = Arc::new(Service {
            store: store.clone(),
            cache: PauseCache::new(state),
            queues,
            metrics,
            live: Live::default(),
            fanout: Arc::default(),
            streams: Streams::new(config.streams),
            jobs_signal: tokio::sync::Notify::new(),
            fleet_signal: tokio::sync::Notify::new(),
            auth: Authenticator::new(
                store,
                AuthSettings {
                    mode: config.auth_mode,
                    cache_for: Duration::from_millis(config.auth_cache_ms),
                    metrics_public: config.metrics_public,
                    failure_burst: config.auth_failure_burst,
                    trusted_proxies: config.trusted_proxies.clone(),
                    sessions: config.sessions,
                },
            ),
            applied_on_claims: Default::default(),
            vitals: health::Vitals::default(),
            config,
        });
        svc.set_pause_gauges();
        Ok(svc)
    }

    /// The newest pause state this process knows of.
    pub fn cache(&self) -> &PauseCache {
        &self.cache
    }

    /// The newest queue pauses this process knows of.
    pub fn queue_cache(&self) -> &QueueCache {
        &self.queues
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn auth(&self) -> &Authenticator {
        &self.auth
    }

    pub fn live(&self) -> &Live {
        &self.live
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// The storage backend's name: `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// How many storage calls this process has made (tests and benchmarks
    /// use it to prove a path touches no database).
    pub fn storage_calls(&self) -> u64 {
        self.store.calls()
    }

    /// A worker whose last heartbeat is older than this is offline.
    fn stale_after(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.config.worker_stale_seconds as i64)
    }

    /// Tells waiting claims that a worker's desired state changed.
    fn fleet_changed(&self) {
        self.fleet_signal.notify_waiters();
    }

    /// Tells waiting claims that jobs may be claimable.
    fn jobs_available(&self) {
        self.jobs_signal.notify_waiters();
    }
}
