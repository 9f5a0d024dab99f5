//! The core service: everything the REST API, the runbook endpoints and the
//! dashboard's server functions do goes through here, so no rule is written
//! twice. Handlers parse HTTP; this module parses requests into domain
//! commands, calls storage, keeps the pause cache current and logs every
//! transition.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;
use wire::{
    AuditBlock, ClaimRequest, ClaimResponse, CompleteRequest, ControlEvent, EnqueueRequest,
    EventsPage, FailRequest, HeartbeatRequest, HeartbeatResponse, Job, JobStatus, PauseRequest,
    WorkerPauseStatus,
};

use crate::cache::PauseCache;
use crate::domain::{self, FieldError, NewJob, PauseCommand, PauseState};
use crate::metrics::{inc, Metrics};
use crate::storage::{ClaimOutcome, ClaimParams, Fence, Notice, Store, StoreError};

/// Tunables of the service (from configuration).
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Told to workers: how long to sleep between claims while paused.
    pub pause_poll_interval_ms: u64,
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
    pub auth_mode: crate::auth::AuthMode,
    /// How long a verified token is trusted before it is read again.
    pub auth_cache_ms: u64,
    /// Serve `/metrics` without a token in token mode.
    pub metrics_public: bool,
    /// Failed authentications allowed per client address before 429 (one
    /// more per second after that).
    pub auth_failure_burst: u32,
    /// Fleet actions must leave at least this many available workers.
    pub min_available_workers: usize,
    /// How often the rolling-restart controller steps.
    pub rollout_tick_ms: u64,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            pause_poll_interval_ms: 5000,
            pause_refresh_ms: 1000,
            audit_latest: 10,
            metrics_tick_ms: 2000,
            dashboard_poll_ms: 2000,
            worker_stale_seconds: 15,
            auth_mode: crate::auth::AuthMode::Disabled,
            auth_cache_ms: 1000,
            metrics_public: true,
            auth_failure_burst: 10,
            min_available_workers: 1,
            rollout_tick_ms: 1000,
        }
    }
}

/// Errors of the service layer; the HTTP layer maps each to a status once.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Validation(FieldError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    LeaseLost(String),
    #[error("{0}")]
    Conflict(String),
    /// A result with this idempotency key is being applied right now.
    #[error("{0}")]
    InFlight(String),
    #[error("the pause state changed: it is at version {}, not {expected}", current.version)]
    VersionConflict {
        expected: i64,
        current: Box<WorkerPauseStatus>,
    },
    #[error("unknown workers: {}", .0.join(", "))]
    UnknownWorkers(Vec<String>),
    #[error("refused by the safety rule")]
    SafetyRefused(Box<crate::domain::SafetyRefusal>),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl From<FieldError> for ServiceError {
    fn from(e: FieldError) -> Self {
        ServiceError::Validation(e)
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ServiceError::NotFound("not found".into()),
            StoreError::LeaseLost(m) => ServiceError::LeaseLost(m),
            StoreError::Conflict(m) => ServiceError::Conflict(m),
            StoreError::VersionConflict { .. } => {
                ServiceError::Internal("version conflict escaped the service".into())
            }
            StoreError::Duplicate(m) => ServiceError::Conflict(m),
            StoreError::UnknownWorkers(ids) => ServiceError::UnknownWorkers(ids),
            StoreError::SafetyRefused(r) => ServiceError::SafetyRefused(r),
            StoreError::Unavailable(m) => ServiceError::Unavailable(m),
            StoreError::Database(m) => ServiceError::Internal(m),
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// Largest page of jobs or events one request may ask for.
pub const MAX_PAGE: u32 = 500;

/// The actor of what the server does by itself (timed resumes, rolling
/// restart steps) in the audit log.
pub const SYSTEM_ACTOR: &str = "system";

/// How often a timed pause is checked for its end: it ends within this
/// long of its `until`.
const TIMED_RESUME_TICK_MS: u64 = 250;

/// The longest a claim may wait for a job (long poll).
pub const MAX_WAIT_MS: u32 = 30_000;

/// The most jobs one batch claim (`limit`) may hand out.
pub const MAX_CLAIM_BATCH: u32 = 100;

pub struct Service {
    store: Arc<dyn Store>,
    cache: PauseCache,
    metrics: Metrics,
    live: crate::live::Live,
    /// Woken on every enqueue (here, or elsewhere via NOTIFY): long-polling
    /// claimers try again at once.
    jobs_signal: tokio::sync::Notify,
    /// Woken when a worker's desired state changes (here or elsewhere):
    /// waiting claims answer at once, so a paused or drained worker hears
    /// its directive without waiting out its long poll.
    fleet_signal: tokio::sync::Notify,
    auth: crate::auth::Authenticator,
    config: ServiceConfig,
}

/// The current time, truncated to milliseconds so both stores (SQLite keeps
/// milliseconds, PostgreSQL microseconds) hold identical values.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

fn not_found_job(id: Uuid) -> impl FnOnce(ServiceError) -> ServiceError {
    move |e| match e {
        ServiceError::NotFound(_) => ServiceError::NotFound(format!("no job with id {id}")),
        other => other,
    }
}

impl Service {
    /// Loads the pause state into the cache. Call [`Service::start`] to keep
    /// it current from other processes' changes.
    pub async fn new(store: Arc<dyn Store>, config: ServiceConfig) -> ServiceResult<Arc<Service>> {
        let state = store.pause_state().await?;
        Ok(Arc::new(Service {
            store: store.clone(),
            cache: PauseCache::new(state),
            metrics: Metrics::default(),
            live: crate::live::Live::default(),
            jobs_signal: tokio::sync::Notify::new(),
            fleet_signal: tokio::sync::Notify::new(),
            auth: crate::auth::Authenticator::new(
                config.auth_mode,
                store.clone(),
                Duration::from_millis(config.auth_cache_ms),
                config.metrics_public,
                config.auth_failure_burst,
            ),
            config,
        }))
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn cache(&self) -> &PauseCache {
        &self.cache
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Tells waiting claims that a worker's desired state changed.
    pub fn fleet_changed(&self) {
        self.fleet_signal.notify_waiters();
    }

    pub fn auth(&self) -> &crate::auth::Authenticator {
        &self.auth
    }

    pub fn live(&self) -> &crate::live::Live {
        &self.live
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// Starts the background tasks that keep the cache current: the
    /// PostgreSQL LISTEN loop (re-reading on every notice and reconnect) and
    /// a periodic refresh as the fallback. They stop when the service drops.
    pub async fn start(self: &Arc<Self>) -> ServiceResult<()> {
        if let Some(mut rx) = self.store.listen().await? {
            let weak = Arc::downgrade(self);
            tokio::spawn(async move {
                while let Some(notice) = rx.recv().await {
                    let Some(svc) = weak.upgrade() else { return };
                    match notice {
                        Notice::JobsAvailable => {
                            svc.jobs_signal.notify_waiters();
                            continue;
                        }
                        Notice::PauseChanged(v) if v <= svc.cache.version() => continue,
                        Notice::PauseChanged(_) => {}
                        Notice::FleetChanged => {
                            svc.fleet_signal.notify_waiters();
                            continue;
                        }
                        Notice::TokensChanged => {
                            svc.auth.invalidate();
                            continue;
                        }
                        Notice::Reconnected => {
                            svc.auth.invalidate();
                            svc.jobs_signal.notify_waiters();
                        }
                    }
                    svc.refresh_pause_state().await;
                }
            });
        }
        self.every(
            Duration::from_millis(self.config.rollout_tick_ms.max(50)),
            |svc| async move {
                if let Err(e) = svc.advance_rollouts().await {
                    tracing::warn!(error = %e, "rolling-restart step failed");
                }
            },
        );
        self.every(
            Duration::from_millis(self.config.metrics_tick_ms.max(100)),
            |svc| async move {
                svc.tick_metrics().await;
            },
        );
        self.every(
            Duration::from_millis(self.config.pause_refresh_ms.max(50)),
            |svc| async move {
                svc.refresh_pause_state().await;
            },
        );
        // Ends a timed pause on time. Reads the cache only; every replica
        // runs it and exactly one resume applies (see domain::timed_resume).
        self.every(
            Duration::from_millis(TIMED_RESUME_TICK_MS),
            |svc| async move {
                svc.resume_if_due().await;
            },
        );
        Ok(())
    }

    /// Applies the resume that ends a timed pause, once it is due.
    async fn resume_if_due(&self) {
        let Some(cmd) = self.cache.read(|s| domain::timed_resume(s, now())) else {
            return;
        };
        match self.apply_pause(SYSTEM_ACTOR, &cmd).await {
            Ok(status) => tracing::info!(
                version = status.version,
                "timed pause ended: the fleet resumed by itself"
            ),
            // Another replica (or an operator) changed the state first.
            Err(ServiceError::VersionConflict { .. }) => self.refresh_pause_state().await,
            Err(e) => tracing::warn!(error = %e, "could not end the timed pause; retrying"),
        }
    }

    /// Runs `step` every `period` until the service is dropped (a missed
    /// tick is delayed, not bunched up).
    fn every<F, Fut>(self: &Arc<Self>, period: Duration, step: F)
    where
        F: Fn(Arc<Service>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(svc) = weak.upgrade() else { return };
                step(svc).await;
            }
        });
    }

    /// Re-reads the pause state from storage into the cache.
    pub async fn refresh_pause_state(&self) {
        match self.store.pause_state().await {
            Ok(state) => {
                let version = state.version;
                if self.cache.observe(state) {
                    tracing::info!(version, "pause state changed elsewhere; cache updated");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not refresh the pause state"),
        }
    }

    // ---- global pause -------------------------------------------------

    /// The full status: state read from storage (authoritative), drain
    /// metrics and the latest audit events.
    pub async fn pause_status(&self) -> ServiceResult<WorkerPauseStatus> {
        let state = self.store.pause_state().await?;
        self.cache.observe(state.clone());
        self.status_of(state, None).await
    }

    async fn status_of(
        &self,
        state: PauseState,
        warning: Option<String>,
    ) -> ServiceResult<WorkerPauseStatus> {
        let metrics = self.store.job_counts(now()).await?.drain_metrics();
        let latest = self
            .store
            .list_events(self.config.audit_latest, None)
            .await?;
        Ok(WorkerPauseStatus {
            workers_paused: state.workers_paused,
            mode: state.mode,
            reason: state.reason,
            version: state.version,
            requested_by: state.requested_by,
            requested_at: state.requested_at,
            updated_at: state.updated_at,
            metrics,
            audit: AuditBlock { latest },
            warning,
            until: state.until,
        })
    }

    /// Pause or resume. See [`domain::decide`] for the rules.
    pub async fn change_pause(
        &self,
        actor: &str,
        req: PauseRequest,
    ) -> ServiceResult<WorkerPauseStatus> {
        let cmd = PauseCommand::parse(req)?;
        domain::check_until(&cmd, now())?;
        self.apply_pause(actor, &cmd).await
    }

    pub async fn apply_pause(
        &self,
        actor: &str,
        cmd: &PauseCommand,
    ) -> ServiceResult<WorkerPauseStatus> {
        let outcome = match self.store.transition_pause(cmd, actor, now()).await {
            Ok(o) => o,
            Err(StoreError::VersionConflict { expected, current }) => {
                let current = self.status_of(*current, None).await?;
                tracing::info!(
                    actor,
                    expected,
                    version = current.version,
                    "pause request refused: version conflict"
                );
                return Err(ServiceError::VersionConflict {
                    expected,
                    current: Box::new(current),
                });
            }
            Err(e) => return Err(e.into()),
        };
        self.cache.observe(outcome.state.clone());
        match &outcome.event {
            Some(ev) => {
                match ev.action.as_str() {
                    "pause" => inc(&self.metrics.pauses),
                    _ => {
                        inc(&self.metrics.resumes);
                        if ev.force_resume {
                            inc(&self.metrics.force_resumes);
                        }
                    }
                }
                tracing::info!(
                    actor = %ev.actor,
                    action = %ev.action,
                    mode = ev.mode.map(|m| m.as_str()).unwrap_or(""),
                    reason = %ev.reason,
                    version = ev.version,
                    force_resume = ev.force_resume,
                    running = ev.metrics.running,
                    stale_running = ev.metrics.stale_running,
                    "worker pause state changed"
                );
            }
            None => {
                inc(&self.metrics.noop_actions);
                tracing::info!(
                    actor,
                    action = cmd.action.name(),
                    version = outcome.state.version,
                    replayed = outcome.replayed,
                    "pause request changed nothing"
                );
            }
        }
        self.status_of(outcome.state, outcome.warning).await
    }

    /// The audit log, newest first, paged by event id.
    pub async fn events(
        &self,
        limit: Option<u32>,
        before: Option<i64>,
    ) -> ServiceResult<EventsPage> {
        let limit = page_limit(limit, 50)?;
        let events: Vec<ControlEvent> = self.store.list_events(limit, before).await?;
        let next_before = if events.len() as u32 == limit {
            events.last().map(|e| e.id)
        } else {
            None
        };
        Ok(EventsPage {
            events,
            next_before,
        })
    }

    // ---- queue -------------------------------------------------------

    pub async fn enqueue(&self, req: EnqueueRequest) -> ServiceResult<Job> {
        let job = NewJob::parse(req)?;
        let job = self.store.enqueue(&job, now()).await?;
        self.jobs_signal.notify_waiters();
        tracing::debug!(job_id = %job.id, job_type = %job.job_type, "job enqueued");
        Ok(job)
    }

    /// Claims a job for a worker, waiting up to `waitMs` for one to arrive.
    /// An enqueue anywhere wakes the wait at once; so does a pause, which is
    /// answered with `{job: null}` and the new `system` block.
    pub async fn claim(&self, req: ClaimRequest) -> ServiceResult<ClaimResponse> {
        self.claim_up_to(req, None).await
    }

    /// [`Service::claim`], handing out up to `limit` jobs in one answer
    /// when `limit` is given (batch claim; the answer lists them in `jobs`).
    pub async fn claim_up_to(
        &self,
        req: ClaimRequest,
        limit: Option<u32>,
    ) -> ServiceResult<ClaimResponse> {
        if let Some(l) = limit {
            if !(1..=MAX_CLAIM_BATCH).contains(&l) {
                return Err(FieldError::new(
                    "limit",
                    format!("limit is {l}; it must be between 1 and {MAX_CLAIM_BATCH}"),
                )
                .into());
            }
        }
        let wait_ms = match req.wait_ms {
            None => 0,
            Some(w) if w <= MAX_WAIT_MS => w,
            Some(w) => {
                return Err(FieldError::new(
                    "waitMs",
                    format!("waitMs is {w}; at most {MAX_WAIT_MS} is allowed"),
                )
                .into())
            }
        };
        // Validated once, not again on every wake-up of a long poll.
        let mut claim = Self::parse_claim(&req)?;
        // Paused: answered from the cache at once, without registering for
        // wake-ups (the paused claim must cost no more than a bare request).
        // No wait asked for: one attempt, no wake-up registration either.
        if self.cache.is_paused() || wait_ms == 0 {
            return self.claim_once(&mut claim, limit).await;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_millis(u64::from(wait_ms));
        let mut pause_rx = self.cache.subscribe();
        loop {
            // Registered before the attempt, so an enqueue that lands between
            // the attempt and the wait is not missed.
            let notified = self.jobs_signal.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let fleet_changed = self.fleet_signal.notified();
            tokio::pin!(fleet_changed);
            fleet_changed.as_mut().enable();
            pause_rx.mark_unchanged();
            let resp = self.claim_once(&mut claim, limit).await?;
            let now_i = tokio::time::Instant::now();
            if resp.job.is_some() || resp.system.workers_paused || now_i >= deadline {
                return Ok(resp);
            }
            // Re-check at least every second: a job whose retry backoff ends
            // becomes claimable without any notification.
            let slice = (deadline - now_i).min(Duration::from_secs(1));
            tokio::select! {
                _ = &mut notified => {}
                _ = pause_rx.changed() => {}
                // Answer now (empty): the worker's next heartbeat carries
                // its new directive. A worker that may still claim simply
                // asks again.
                _ = &mut fleet_changed => return Ok(resp),
                _ = tokio::time::sleep(slice) => {}
            }
        }
    }

    /// The claim request, validated: storage parameters without the time
    /// (each attempt sets its own `now`).
    fn parse_claim(req: &ClaimRequest) -> ServiceResult<ClaimParams> {
        let worker_id = domain::parse_identifier("workerId", req.worker_id.as_deref())?;
        let lease_seconds = domain::parse_lease_seconds(req.lease_seconds)?;
        let types = match &req.types {
            None => None,
            Some(types) if types.is_empty() => {
                return Err(FieldError::new("types", "types must not be empty when given").into())
            }
            Some(types) if types.len() > 100 => {
                return Err(FieldError::new("types", "at most 100 types").into())
            }
            Some(types) => Some(
                types
                    .iter()
                    .map(|t| domain::parse_identifier("types", Some(t)))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        Ok(ClaimParams {
            worker_id,
            types,
            lease_seconds,
            now: now(),
        })
    }

    /// One claim attempt. While the cache says paused this answers
    /// `{job: null}` at once, touching neither the database nor the requeue
    /// logic; otherwise storage re-checks the pause inside the claim.
    async fn claim_once(
        &self,
        claim: &mut ClaimParams,
        limit: Option<u32>,
    ) -> ServiceResult<ClaimResponse> {
        {
            // The hot paused path: one read lock, no await, no database,
            // and no copy of the cached state beyond the answer itself.
            if let Some(system) = self
                .cache
                .paused_system_block(self.config.pause_poll_interval_ms)
            {
                inc(&self.metrics.claims_paused);
                return Ok(ClaimResponse {
                    job: None,
                    jobs: limit.map(|_| Vec::new()),
                    system,
                });
            }
        }
        claim.now = now();
        let params = &*claim;
        let (state, jobs, requeued) = match limit {
            None => match self.store.claim(params).await {
                Ok(ClaimOutcome::Paused(state)) => (state, Vec::new(), 0),
                Ok(ClaimOutcome::Running {
                    state,
                    job,
                    requeued,
                }) => (state, job.into_iter().collect(), requeued),
                Err(e) => {
                    inc(&self.metrics.claims_error);
                    return Err(e.into());
                }
            },
            Some(n) => match self.store.claim_many(params, n).await {
                Ok(m) => (m.state, m.jobs, m.requeued),
                Err(e) => {
                    inc(&self.metrics.claims_error);
                    return Err(e.into());
                }
            },
        };
        if requeued > 0 {
            self.metrics
                .requeued_expired
                .fetch_add(requeued, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(requeued, "expired leases requeued before claim");
        }
        match jobs.first() {
            Some(j) => {
                inc(&self.metrics.claims_claimed);
                tracing::debug!(job_id = %j.id, jobs = jobs.len(), worker_id = %params.worker_id, "job claimed");
            }
            None if state.workers_paused => inc(&self.metrics.claims_paused),
            None => inc(&self.metrics.claims_empty),
        }
        let system = state.system_block(self.config.pause_poll_interval_ms);
        self.cache.observe(state);
        Ok(ClaimResponse {
            job: jobs.first().cloned(),
            jobs: limit.map(|_| jobs),
            system,
        })
    }

    fn fence(id: Uuid, worker_id: Option<&str>, token: Option<Uuid>) -> ServiceResult<Fence> {
        let worker_id = domain::parse_identifier("workerId", worker_id)?;
        let lease_token =
            token.ok_or_else(|| FieldError::new("leaseToken", "leaseToken is required"))?;
        Ok(Fence {
            job_id: id,
            worker_id,
            lease_token,
        })
    }

    fn lease_lost(&self, e: ServiceError) -> ServiceError {
        if matches!(e, ServiceError::LeaseLost(_)) {
            inc(&self.metrics.lease_conflicts);
        }
        e
    }

    /// Extends a lease; the answer carries the `system` block so a worker
    /// learns of a pause (and quiesce) from its heartbeats.
    pub async fn heartbeat(
        &self,
        id: Uuid,
        req: HeartbeatRequest,
    ) -> ServiceResult<HeartbeatResponse> {
        let fence = Self::fence(id, req.worker_id.as_deref(), req.lease_token)?;
        let lease = req
            .lease_seconds
            .map(|s| domain::parse_lease_seconds(Some(s)))
            .transpose()?;
        let (job, desired) = self
            .store
            .heartbeat(&fence, lease, req.paused_at_checkpoint, now())
            .await
            .map_err(ServiceError::from)
            .map_err(not_found_job(id))
            .map_err(|e| self.lease_lost(e))?;
        let system = self
            .cache
            .current()
            .system_block(self.config.pause_poll_interval_ms);
        Ok(HeartbeatResponse {
            job,
            system,
            directive: desired.map(domain::directive),
        })
    }

    pub async fn complete(&self, id: Uuid, req: CompleteRequest) -> ServiceResult<Job> {
        let fence = Self::fence(id, req.worker_id.as_deref(), req.lease_token)?;
        if let Some(r) = &req.result {
            let size = r.to_string().len();
            if size > domain::MAX_PAYLOAD_BYTES {
                return Err(FieldError::new(
                    "result",
                    format!(
                        "result is {size} bytes; at most {} are allowed",
                        domain::MAX_PAYLOAD_BYTES
                    ),
                )
                .into());
            }
        }
        let job = self
            .store
            .complete(&fence, req.result, now())
            .await
            .map_err(ServiceError::from)
            .map_err(not_found_job(id))
            .map_err(|e| self.lease_lost(e))?;
        inc(&self.metrics.completed);
        if let (Some(start), Some(end)) = (job.started_at, job.finished_at) {
            self.metrics
                .observe_latency((end - start).num_milliseconds() as f64 / 1000.0);
        }
        Ok(job)
    }

    pub async fn fail(&self, id: Uuid, req: FailRequest) -> ServiceResult<Job> {
        let fence = Self::fence(id, req.worker_id.as_deref(), req.lease_token)?;
        let error = req
            .error
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .ok_or_else(|| FieldError::new("error", "error is required: say what went wrong"))?;
        let error: String = error.chars().take(4000).collect();
        let job = self
            .store
            .fail(&fence, &error, req.retryable.unwrap_or(true), now())
            .await
            .map_err(ServiceError::from)
            .map_err(not_found_job(id))
            .map_err(|e| self.lease_lost(e))?;
        inc(&self.metrics.failures);
        tracing::info!(job_id = %id, status = job.status.as_str(), attempts = job.attempts, "job failed");
        Ok(job)
    }

    pub async fn cancel(&self, actor: &str, id: Uuid) -> ServiceResult<Job> {
        let job = self
            .store
            .cancel(id, now())
            .await
            .map_err(ServiceError::from)
            .map_err(not_found_job(id))?;
        tracing::info!(actor, job_id = %id, "job cancelled");
        Ok(job)
    }

    pub async fn retry(&self, actor: &str, id: Uuid) -> ServiceResult<Job> {
        let job = self
            .store
            .retry(id, now())
            .await
            .map_err(ServiceError::from)
            .map_err(not_found_job(id))?;
        self.jobs_signal.notify_waiters();
        tracing::info!(actor, job_id = %id, "job queued for retry");
        Ok(job)
    }

    pub async fn get_job(&self, id: Uuid) -> ServiceResult<Job> {
        self.store
            .get_job(id)
            .await
            .map_err(ServiceError::from)
            .map_err(not_found_job(id))
    }

    pub async fn list_jobs(
        &self,
        status: Option<&str>,
        limit: Option<u32>,
    ) -> ServiceResult<Vec<Job>> {
        let status = match status {
            None | Some("") => None,
            Some(s) => Some(JobStatus::parse(s).ok_or_else(|| {
                FieldError::new(
                    "status",
                    format!(
                        "unknown status {s:?}: use queued, running, succeeded, failed or cancelled"
                    ),
                )
            })?),
        };
        Ok(self
            .store
            .list_jobs(status, page_limit(limit, 100)?)
            .await?)
    }
}

/// Validates a `limit` query parameter.
pub fn page_limit(limit: Option<u32>, default: u32) -> ServiceResult<u32> {
    match limit {
        None => Ok(default),
        Some(l) if (1..=MAX_PAGE).contains(&l) => Ok(l),
        Some(_) => {
            Err(FieldError::new("limit", format!("limit must be between 1 and {MAX_PAGE}")).into())
        }
    }
}
