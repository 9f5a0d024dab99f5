//! The PostgreSQL store: several server processes share one database.
//!
//! Races avoided, and how:
//! - Pause vs claim: a claim takes `FOR SHARE` on the pause row; a pause takes
//!   `FOR UPDATE`. A claim that locked first finishes before the pause can
//!   commit (so the pause answer comes after it); a claim that comes later
//!   waits for the pause and then reads it (READ COMMITTED re-reads the
//!   newest row version for locking reads).
//! - Claim vs claim: `FOR UPDATE SKIP LOCKED` on the job row.
//! - Late worker vs requeue: every fenced write matches `lease_token`.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sqlx::postgres::{PgListener, PgPoolOptions, PgRow};
use sqlx::{PgPool, Postgres, Row, Transaction};
use uuid::Uuid;
use wire::{ControlEvent, DrainMetrics, Job, JobStatus, PauseMode};

use super::{
    lease_lost_message, not_running, ActionError, CallCounter, ClaimOutcome, ClaimParams,
    ClaimedMany, Fence, JobCounts, Notice, ResultBegin, RolloutStep, SafetyCheck, Store,
    StoreError, StoreResult, TransitionOutcome, WorkerActionOutcome,
};
use crate::auth::{Role, TokenRecord};
use crate::domain::{
    self, retry, Decision, NewJob, PauseCommand, PauseState, Registration, ResultSubmission,
    WorkerBeat, WorkerRecord,
};
use wire::{DesiredState, ReportedState, RollingRestart, RolloutStatus, RolloutWorker};

/// The channel other processes listen on; the payload is the new version.
const PAUSE_CHANNEL: &str = "lull_pause";
/// Enqueues and retries: wakes long-polling claimers on every process.
const JOBS_CHANNEL: &str = "lull_jobs";
/// Token created or revoked: every process drops its token cache.
const TOKENS_CHANNEL: &str = "lull_tokens";
/// A worker's desired state changed: answer its waiting claims.
const FLEET_CHANNEL: &str = "lull_fleet";

mod beats;

pub struct PgStore {
    pool: PgPool,
    url: String,
    calls: CallCounter,
    /// Worker heartbeats go to the database through this writer.
    beats: tokio::sync::mpsc::Sender<beats::Pending>,
}

const JOB_COLUMNS: &str =
    "id, type, payload, priority, status, attempts, max_attempts, worker_id, \
     lease_token, lease_expires_at, run_after, paused_at_checkpoint, result, error, created_at, \
     updated_at, started_at, finished_at";

const STATE_COLUMNS: &str = "workers_paused, mode, reason, requested_by, requested_at, paused_at, \
     resumed_at, updated_at, version, until_at";

const EVENT_COLUMNS: &str = "id, action, mode, reason, actor, force_resume, queued, running, \
     stale_running, is_drained, version, success, request_id, created_at, targets, details";

const ROLLOUT_COLUMNS: &str = "id, status, max_unavailable, deadline_seconds, reason, actor, \
     workers, message, created_at, finished_at";

impl PgStore {
    pub async fn connect(url: &str) -> StoreResult<PgStore> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(std::time::Duration::from_secs(5))
            // sqlx pings every connection before handing it out by default:
            // one more round trip per storage call. Ping only a connection
            // that sat idle (it may have been cut meanwhile); a busy one
            // that breaks fails its call, is dropped, and the next call
            // gets a new one.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= std::time::Duration::from_secs(1) {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect(url)
            .await?;
        sqlx::migrate!("../migrations/postgres").run(&pool).await?;
        Ok(PgStore {
            beats: beats::start(pool.clone()),
            pool,
            url: url.to_string(),
            calls: CallCounter::default(),
        })
    }

    /// The pool, for tests that need to poke at the database directly.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

const WORKER_COLUMNS: &str = "id, name, hostname, version, labels, boot_id, started_at, \
     last_heartbeat_at, reported_state, active_jobs, offline_backlog, desired_state";

fn token_from_row(row: &PgRow) -> StoreResult<TokenRecord> {
    let role: String = row.try_get("role")?;
    Ok(TokenRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Database(format!("bad role {role:?}")))?,
        secret_hash: row.try_get("secret_hash")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

fn worker_from_row(row: &PgRow) -> StoreResult<WorkerRecord> {
    let labels: sqlx::types::Json<std::collections::BTreeMap<String, String>> =
        row.try_get("labels")?;
    let jobs: sqlx::types::Json<Vec<Uuid>> = row.try_get("active_jobs")?;
    let reported: String = row.try_get("reported_state")?;
    let desired: String = row.try_get("desired_state")?;
    let backlog: i32 = row.try_get("offline_backlog")?;
    Ok(WorkerRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        hostname: row.try_get("hostname")?,
        version: row.try_get("version")?,
        labels: labels.0,
        boot_id: row.try_get("boot_id")?,
        started_at: row.try_get("started_at")?,
        last_heartbeat_at: row.try_get("last_heartbeat_at")?,
        reported_state: ReportedState::parse(&reported)
            .ok_or_else(|| StoreError::Database(format!("bad reported_state {reported:?}")))?,
        active_jobs: jobs.0,
        offline_backlog: backlog.max(0) as u32,
        desired_state: DesiredState::parse(&desired)
            .ok_or_else(|| StoreError::Database(format!("bad desired_state {desired:?}")))?,
    })
}

fn state_from_row(row: &PgRow) -> StoreResult<PauseState> {
    let mode: Option<String> = row.try_get("mode")?;
    Ok(PauseState {
        workers_paused: row.try_get("workers_paused")?,
        mode: mode.as_deref().and_then(PauseMode::parse),
        reason: row.try_get("reason")?,
        requested_by: row.try_get("requested_by")?,
        requested_at: row.try_get("requested_at")?,
        paused_at: row.try_get("paused_at")?,
        resumed_at: row.try_get("resumed_at")?,
        until: row.try_get("until_at")?,
        updated_at: row.try_get("updated_at")?,
        version: row.try_get("version")?,
    })
}

fn event_from_row(row: &PgRow) -> StoreResult<ControlEvent> {
    let mode: Option<String> = row.try_get("mode")?;
    Ok(ControlEvent {
        id: row.try_get("id")?,
        action: row.try_get("action")?,
        mode: mode.as_deref().and_then(PauseMode::parse),
        reason: row.try_get("reason")?,
        actor: row.try_get("actor")?,
        force_resume: row.try_get("force_resume")?,
        metrics: DrainMetrics {
            queued: row.try_get("queued")?,
            running: row.try_get("running")?,
            stale_running: row.try_get("stale_running")?,
            is_drained: row.try_get("is_drained")?,
        },
        version: row.try_get("version")?,
        success: row.try_get("success")?,
        request_id: row.try_get("request_id")?,
        created_at: row.try_get("created_at")?,
        targets: row
            .try_get::<sqlx::types::Json<Vec<String>>, _>("targets")?
            .0,
        details: row.try_get("details")?,
    })
}

fn rollout_from_row(row: &PgRow) -> StoreResult<RollingRestart> {
    let status: String = row.try_get("status")?;
    let max_unavailable: i32 = row.try_get("max_unavailable")?;
    let deadline: i32 = row.try_get("deadline_seconds")?;
    Ok(RollingRestart {
        id: row.try_get("id")?,
        status: RolloutStatus::parse(&status)
            .ok_or_else(|| StoreError::Database(format!("bad rollout status {status:?}")))?,
        max_unavailable: max_unavailable.max(0) as u32,
        deadline_seconds: deadline.max(0) as u32,
        reason: row.try_get("reason")?,
        actor: row.try_get("actor")?,
        created_at: row.try_get("created_at")?,
        finished_at: row.try_get("finished_at")?,
        workers: row
            .try_get::<sqlx::types::Json<Vec<RolloutWorker>>, _>("workers")?
            .0,
        message: row.try_get("message")?,
    })
}

/// Appends a control event inside a transaction.
async fn insert_event(
    tx: &mut Transaction<'static, Postgres>,
    e: &domain::NewControlEvent,
) -> StoreResult<ControlEvent> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO system_control_events (action, mode, reason, actor, force_resume, \
         queued, running, stale_running, is_drained, version, success, request_id, created_at, \
         targets, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         RETURNING {EVENT_COLUMNS}"
    )))
    .bind(&e.action)
    .bind(e.mode.map(|m| m.as_str()))
    .bind(&e.reason)
    .bind(&e.actor)
    .bind(e.force_resume)
    .bind(e.metrics.queued)
    .bind(e.metrics.running)
    .bind(e.metrics.stale_running)
    .bind(e.metrics.is_drained)
    .bind(e.version)
    .bind(e.success)
    .bind(&e.request_id)
    .bind(e.created_at)
    .bind(sqlx::types::Json(&e.targets))
    .bind(&e.details)
    .fetch_one(&mut **tx)
    .await?;
    event_from_row(&row)
}

fn job_from_row(row: &PgRow) -> StoreResult<Job> {
    let status: String = row.try_get("status")?;
    Ok(Job {
        id: row.try_get("id")?,
        job_type: row.try_get("type")?,
        payload: row.try_get("payload")?,
        priority: row.try_get("priority")?,
        status: JobStatus::parse(&status)
            .ok_or_else(|| StoreError::Database(format!("unknown job status {status:?}")))?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        worker_id: row.try_get("worker_id")?,
        lease_token: None,
        lease_expires_at: row.try_get("lease_expires_at")?,
        run_after: row.try_get("run_after")?,
        paused_at_checkpoint: row.try_get("paused_at_checkpoint")?,
        result: row.try_get("result")?,
        error: row.try_get("error")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

async fn counts_in(
    tx: &mut Transaction<'static, Postgres>,
    now: DateTime<Utc>,
) -> StoreResult<JobCounts> {
    let row = sqlx::query(COUNTS_SQL)
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
    counts_from_row(&row)
}

const COUNTS_SQL: &str = "SELECT \
       COUNT(*) FILTER (WHERE status = 'queued') AS queued, \
       COUNT(*) FILTER (WHERE status = 'running' AND lease_expires_at >= $1) AS running, \
       COUNT(*) FILTER (WHERE status = 'running' AND lease_expires_at < $1) AS stale_running, \
       COUNT(*) FILTER (WHERE status = 'succeeded') AS succeeded, \
       COUNT(*) FILTER (WHERE status = 'failed') AS failed, \
       COUNT(*) FILTER (WHERE status = 'cancelled') AS cancelled \
     FROM jobs";

fn counts_from_row(row: &PgRow) -> StoreResult<JobCounts> {
    Ok(JobCounts {
        queued: row.try_get("queued")?,
        running: row.try_get("running")?,
        stale_running: row.try_get("stale_running")?,
        succeeded: row.try_get("succeeded")?,
        failed: row.try_get("failed")?,
        cancelled: row.try_get("cancelled")?,
    })
}

/// After a fenced UPDATE matched nothing: NotFound or LeaseLost.
async fn fence_failure(
    tx: &mut Transaction<'static, Postgres>,
    fence: &Fence,
) -> StoreResult<StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"
    )))
    .bind(fence.job_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(match row {
        None => StoreError::NotFound,
        Some(row) => {
            StoreError::LeaseLost(lease_lost_message(&job_from_row(&row)?, &fence.worker_id))
        }
    })
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn calls(&self) -> u64 {
        self.calls.get()
    }

    async fn ping(&self) -> StoreResult<()> {
        self.calls.hit();
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn pause_state(&self) -> StoreResult<PauseState> {
        self.calls.hit();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STATE_COLUMNS} FROM worker_pause_state WHERE id = 1"
        )))
        .fetch_one(&self.pool)
        .await?;
        state_from_row(&row)
    }

    async fn transition_pause(
        &self,
        cmd: &PauseCommand,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<TransitionOutcome> {
        self.calls.hit();
        let mut tx = self.pool.begin().await?;
        // FOR UPDATE conflicts with the claims' FOR SHARE: see the module doc.
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STATE_COLUMNS} FROM worker_pause_state WHERE id = 1 FOR UPDATE"
        )))
        .fetch_one(&mut *tx)
        .await?;
        let current = state_from_row(&row)?;
        let metrics = counts_in(&mut tx, now).await?.drain_metrics();
        if let Some(request_id) = &cmd.request_id {
            let seen: Option<i64> =
                sqlx::query_scalar("SELECT id FROM system_control_events WHERE request_id = $1")
                    .bind(request_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if seen.is_some() {
                tx.commit().await?;
                return Ok(TransitionOutcome {
                    state: current,
                    metrics,
                    event: None,
                    warning: None,
                    replayed: true,
                });
            }
        }
        let decision = domain::decide(&current, metrics, cmd, actor, now).map_err(|e| match e {
            domain::DecideError::VersionConflict { expected, .. } => StoreError::VersionConflict {
                expected,
                current: Box::new(current.clone()),
            },
        })?;
        let (state, new_event, warning) = match decision {
            Decision::Unchanged => {
                tx.commit().await?;
                return Ok(TransitionOutcome {
                    state: current,
                    metrics,
                    event: None,
                    warning: None,
                    replayed: false,
                });
            }
            Decision::Changed {
                state,
                event,
                warning,
            } => (state, event, warning),
        };
        sqlx::query(
            "UPDATE worker_pause_state SET workers_paused = $1, mode = $2, reason = $3, \
             requested_by = $4, requested_at = $5, paused_at = $6, resumed_at = $7, \
             updated_at = $8, version = $9, until_at = $10 WHERE id = 1",
        )
        .bind(state.workers_paused)
        .bind(state.mode.map(|m| m.as_str()))
        .bind(&state.reason)
        .bind(&state.requested_by)
        .bind(state.requested_at)
        .bind(state.paused_at)
        .bind(state.resumed_at)
        .bind(state.updated_at)
        .bind(state.version)
        .bind(state.until)
        .execute(&mut *tx)
        .await?;
        let event = insert_event(&mut tx, &new_event).await?;
        // Delivered to listeners only when (and if) the transaction commits.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(PAUSE_CHANNEL)
            .bind(state.version.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(TransitionOutcome {
            state,
            metrics,
            event: Some(event),
            warning,
            replayed: false,
        })
    }

    async fn list_events(&self, limit: u32, before: Option<i64>) -> StoreResult<Vec<ControlEvent>> {
        self.calls.hit();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM system_control_events \
             WHERE ($1::BIGINT IS NULL OR id < $1) ORDER BY id DESC LIMIT $2"
        )))
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn job_counts(&self, now: DateTime<Utc>) -> StoreResult<JobCounts> {
        self.calls.hit();
        let row = sqlx::query(COUNTS_SQL)
            .bind(now)
            .fetch_one(&self.pool)
            .await?;
        counts_from_row(&row)
    }

    async fn dispatches_since(&self, since: DateTime<Utc>) -> StoreResult<i64> {
        self.calls.hit();
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE started_at >= $1")
                .bind(since)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn enqueue(&self, job: &NewJob, now: DateTime<Utc>) -> StoreResult<Job> {
        self.calls.hit();
        // One statement: the insert and the wake-up notification (delivered
        // at commit) travel together.
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "WITH ins AS (INSERT INTO jobs (id, type, payload, priority, status, attempts, \
             max_attempts, run_after, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $6, $6) RETURNING {JOB_COLUMNS}) \
             SELECT ins.*, (SELECT pg_notify('{JOBS_CHANNEL}', '')) IS NULL AS notified FROM ins"
        )))
        .bind(Uuid::new_v4())
        .bind(&job.job_type)
        .bind(&job.payload)
        .bind(job.priority)
        .bind(job.max_attempts)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        job_from_row(&row)
    }

    async fn claim(&self, p: &ClaimParams) -> StoreResult<ClaimOutcome> {
        self.calls.hit();
        if let Some((state, jobs)) = claim_in_one_statement(&self.pool, p, 1).await? {
            return Ok(if state.workers_paused {
                ClaimOutcome::Paused(state)
            } else {
                ClaimOutcome::Running {
                    state,
                    job: jobs.into_iter().next(),
                    requeued: 0,
                }
            });
        }
        // Some lease has expired: requeue first, then claim (a transaction).
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STATE_COLUMNS} FROM worker_pause_state WHERE id = 1 FOR SHARE"
        )))
        .fetch_one(&mut *tx)
        .await?;
        let state = state_from_row(&row)?;
        if state.workers_paused {
            tx.commit().await?;
            return Ok(ClaimOutcome::Paused(state));
        }
        // Expired leases: fail those out of attempts, requeue the rest.
        let failed = sqlx::query(
            "UPDATE jobs SET status = 'failed', error = 'lease expired on the final attempt', \
             worker_id = NULL, lease_token = NULL, lease_expires_at = NULL, \
             paused_at_checkpoint = FALSE, finished_at = $1, updated_at = $1 \
             WHERE status = 'running' AND lease_expires_at < $1 AND attempts >= max_attempts",
        )
        .bind(p.now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let requeued = sqlx::query(
            "UPDATE jobs SET status = 'queued', error = 'lease expired', worker_id = NULL, \
             lease_token = NULL, lease_expires_at = NULL, paused_at_checkpoint = FALSE, \
             run_after = $1, updated_at = $1 \
             WHERE status = 'running' AND lease_expires_at < $1",
        )
        .bind(p.now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let token = Uuid::new_v4();
        let expires = p.now + Duration::seconds(i64::from(p.lease_seconds));
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET status = 'running', worker_id = $1, lease_token = $2, \
             lease_seconds = $3, lease_expires_at = $4, attempts = attempts + 1, \
             paused_at_checkpoint = FALSE, started_at = $5, updated_at = $5 \
             WHERE NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = $1 AND w.desired_state <> 'active') \
             AND id = (SELECT id FROM jobs WHERE status = 'queued' AND run_after <= $5 \
                         AND ($6::TEXT[] IS NULL OR type = ANY($6)) \
                         ORDER BY priority DESC, run_after, created_at \
                         LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING {JOB_COLUMNS}"
        )))
        .bind(&p.worker_id)
        .bind(token)
        .bind(p.lease_seconds as i32)
        .bind(expires)
        .bind(p.now)
        .bind(p.types.as_deref())
        .fetch_optional(&mut *tx)
        .await?;
        let job = match row {
            Some(row) => {
                let mut job = job_from_row(&row)?;
                job.lease_token = Some(token);
                Some(job)
            }
            None => None,
        };
        tx.commit().await?;
        Ok(ClaimOutcome::Running {
            state,
            job,
            requeued: failed + requeued,
        })
    }

    async fn claim_many(&self, p: &ClaimParams, limit: u32) -> StoreResult<ClaimedMany> {
        self.calls.hit();
        let mut jobs: Vec<Job> = Vec::new();
        let mut requeued = 0;
        // Bounded: each pass either finishes or requeues every lease expired
        // as of `p.now` (so the next pass finds none) and claims one job.
        for _ in 0..=limit {
            let left = limit.saturating_sub(jobs.len() as u32);
            if let Some((state, batch)) = claim_in_one_statement(&self.pool, p, left).await? {
                jobs.extend(batch);
                return Ok(ClaimedMany {
                    state,
                    jobs,
                    requeued,
                });
            }
            let outcome = self.claim(p).await?;
            if let Some(done) = ClaimedMany::absorb(&mut jobs, &mut requeued, outcome, limit) {
                return Ok(done);
            }
        }
        Err(StoreError::Database(
            "batch claim: leases kept expiring".into(),
        ))
    }

    async fn heartbeat(
        &self,
        fence: &Fence,
        lease_seconds: Option<u32>,
        paused_at_checkpoint: Option<bool>,
        now: DateTime<Utc>,
    ) -> StoreResult<(Job, Option<DesiredState>)> {
        self.calls.hit();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET \
               lease_seconds = COALESCE($4, lease_seconds), \
               lease_expires_at = $5 + make_interval(secs => COALESCE($4, lease_seconds)), \
               paused_at_checkpoint = COALESCE($6, paused_at_checkpoint), updated_at = $5 \
             WHERE id = $1 AND status = 'running' AND worker_id = $2 AND lease_token = $3 \
             RETURNING {JOB_COLUMNS}, \
               (SELECT desired_state FROM workers w WHERE w.id = jobs.worker_id) AS worker_desired"
        )))
        .bind(fence.job_id)
        .bind(&fence.worker_id)
        .bind(fence.lease_token)
        .bind(lease_seconds.map(|s| s as i32))
        .bind(now)
        .bind(paused_at_checkpoint)
        .fetch_optional(&mut *tx)
        .await?;
        let out = match row {
            Some(row) => {
                let desired: Option<String> = row.try_get("worker_desired")?;
                Ok((
                    job_from_row(&row)?,
                    desired.as_deref().and_then(DesiredState::parse),
                ))
            }
            None => Err(fence_failure(&mut tx, fence).await?),
        };
        tx.commit().await?;
        out
    }

    async fn complete(
        &self,
        fence: &Fence,
        result: Option<serde_json::Value>,
        now: DateTime<Utc>,
    ) -> StoreResult<Job> {
        self.calls.hit();
        // One autocommit statement (the fenced UPDATE is atomic by itself);
        // only a refusal opens a transaction, to say why.
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET status = 'succeeded', result = $4, error = NULL, \
               lease_token = NULL, lease_expires_at = NULL, paused_at_checkpoint = FALSE, \
               finished_at = $5, updated_at = $5 \
             WHERE id = $1 AND status = 'running' AND worker_id = $2 AND lease_token = $3 \
             RETURNING {JOB_COLUMNS}"
        )))
        .bind(fence.job_id)
        .bind(&fence.worker_id)
        .bind(fence.lease_token)
        .bind(result)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => job_from_row(&row),
            None => {
                let mut tx = self.pool.begin().await?;
                let err = fence_failure(&mut tx, fence).await?;
                tx.commit().await?;
                Err(err)
            }
        }
    }

    async fn fail(
        &self,
        fence: &Fence,
        error: &str,
        retryable: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Job> {
        self.calls.hit();
        let mut tx = self.pool.begin().await?;
        let held: Option<(i32, i32)> = sqlx::query_as(
            "SELECT attempts, max_attempts FROM jobs \
             WHERE id = $1 AND status = 'running' AND worker_id = $2 AND lease_token = $3 \
             FOR UPDATE",
        )
        .bind(fence.job_id)
        .bind(&fence.worker_id)
        .bind(fence.lease_token)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((attempts, max_attempts)) = held else {
            let err = fence_failure(&mut tx, fence).await?;
            tx.commit().await?;
            return Err(err);
        };
        let row = match retry::on_failure(attempts, max_attempts, retryable, now) {
            retry::FailureOutcome::RetryAt(at) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE jobs SET status = 'queued', error = $2, worker_id = NULL, \
                       lease_token = NULL, lease_expires_at = NULL, paused_at_checkpoint = FALSE, \
                       run_after = $3, updated_at = $4 \
                     WHERE id = $1 RETURNING {JOB_COLUMNS}"
                )))
                .bind(fence.job_id)
                .bind(error)
                .bind(at)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
            }
            retry::FailureOutcome::Final => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE jobs SET status = 'failed', error = $2, lease_token = NULL, \
                       lease_expires_at = NULL, paused_at_checkpoint = FALSE, \
                       finished_at = $3, updated_at = $3 \
                     WHERE id = $1 RETURNING {JOB_COLUMNS}"
                )))
                .bind(fence.job_id)
                .bind(error)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
            }
        };
        tx.commit().await?;
        job_from_row(&row)
    }

    async fn cancel(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Job> {
        self.calls.hit();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET status = 'cancelled', lease_token = NULL, lease_expires_at = NULL, \
               paused_at_checkpoint = FALSE, finished_at = $2, updated_at = $2 \
             WHERE id = $1 AND status IN ('queued', 'running') RETURNING {JOB_COLUMNS}"
        )))
        .bind(id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let out = match row {
            Some(row) => job_from_row(&row),
            None => {
                let job = get_job_in(&mut tx, id).await?;
                Err(StoreError::Conflict(format!(
                    "job {id} is already {}; only queued or running jobs can be cancelled",
                    job.status.as_str()
                )))
            }
        };
        tx.commit().await?;
        out
    }

    async fn retry(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Job> {
        self.calls.hit();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET status = 'queued', attempts = 0, worker_id = NULL, \
               lease_token = NULL, lease_expires_at = NULL, run_after = $2, finished_at = NULL, \
               updated_at = $2 \
             WHERE id = $1 AND status IN ('failed', 'cancelled') RETURNING {JOB_COLUMNS}"
        )))
        .bind(id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let out = match row {
            Some(row) => {
                sqlx::query("SELECT pg_notify($1, '')")
                    .bind(JOBS_CHANNEL)
                    .execute(&mut *tx)
                    .await?;
                job_from_row(&row)
            }
            None => {
                let job = get_job_in(&mut tx, id).await?;
                Err(StoreError::Conflict(format!(
                    "job {id} is {}; only failed or cancelled jobs can be retried",
                    job.status.as_str()
                )))
            }
        };
        tx.commit().await?;
        out
    }

    async fn get_job(&self, id: Uuid) -> StoreResult<Job> {
        self.calls.hit();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        job_from_row(&row)
    }

    async fn list_jobs(&self, status: Option<JobStatus>, limit: u32) -> StoreResult<Vec<Job>> {
        self.calls.hit();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE ($1::TEXT IS NULL OR status = $1) \
             ORDER BY created_at DESC, id LIMIT $2"
        )))
        .bind(status.map(|s| s.as_str()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    async fn running_jobs(&self, limit: u32) -> StoreResult<Vec<Job>> {
        self.calls.hit();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE status = 'running' \
             ORDER BY lease_expires_at, id LIMIT $1"
        )))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    async fn finished_since(&self, since: DateTime<Utc>) -> StoreResult<i64> {
        self.calls.hit();
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE status IN ('succeeded', 'failed') AND finished_at >= $1",
        )
        .bind(since)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn mean_durations_ms(&self, since: DateTime<Utc>) -> StoreResult<Vec<(String, f64)>> {
        self.calls.hit();
        Ok(sqlx::query_as(
            "SELECT type, (AVG(EXTRACT(EPOCH FROM (finished_at - started_at))) * 1000)::FLOAT8 \
             FROM jobs WHERE status IN ('succeeded', 'failed') AND finished_at >= $1 \
             AND started_at IS NOT NULL GROUP BY type",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn mean_latency_ms(&self, since: DateTime<Utc>) -> StoreResult<Option<f64>> {
        self.calls.hit();
        Ok(sqlx::query_scalar(
            "SELECT (AVG(EXTRACT(EPOCH FROM (finished_at - started_at))) * 1000)::FLOAT8 \
             FROM jobs WHERE status IN ('succeeded', 'failed') AND finished_at >= $1 \
             AND started_at IS NOT NULL",
        )
        .bind(since)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn register_worker(
        &self,
        reg: &Registration,
        now: DateTime<Utc>,
    ) -> StoreResult<WorkerRecord> {
        self.calls.hit();
        let mut tx = self.pool.begin().await?;
        let prev: Option<(String, String)> =
            sqlx::query_as("SELECT boot_id, desired_state FROM workers WHERE id = $1 FOR UPDATE")
                .bind(&reg.id)
                .fetch_optional(&mut *tx)
                .await?;
        let desired = match &prev {
            Some((boot, d)) if *boot != reg.boot_id => {
                domain::desired_after_reboot(DesiredState::parse(d).unwrap_or(DesiredState::Active))
            }
            Some((_, d)) => DesiredState::parse(d).unwrap_or(DesiredState::Active),
            None => DesiredState::Active,
        };
        let same_boot = prev.as_ref().is_some_and(|(b, _)| *b == reg.boot_id);
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO workers (id, name, hostname, version, labels, boot_id, started_at, \
               last_heartbeat_at, reported_state, active_jobs, offline_backlog, desired_state, registered_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 'running', '[]', 0, $8, $7) \
             ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, hostname = EXCLUDED.hostname, \
               version = EXCLUDED.version, labels = EXCLUDED.labels, boot_id = EXCLUDED.boot_id, \
               started_at = CASE WHEN $9 THEN workers.started_at ELSE EXCLUDED.started_at END, \
               last_heartbeat_at = EXCLUDED.last_heartbeat_at, reported_state = 'running', \
               desired_state = EXCLUDED.desired_state \
             RETURNING {WORKER_COLUMNS}"
        )))
        .bind(&reg.id)
        .bind(&reg.name)
        .bind(&reg.hostname)
        .bind(&reg.version)
        .bind(sqlx::types::Json(&reg.labels))
        .bind(&reg.boot_id)
        .bind(now)
        .bind(desired.as_str())
        .bind(same_boot)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        worker_from_row(&row)
    }

    async fn worker_heartbeat(
        &self,
        beat: &WorkerBeat,
        now: DateTime<Utc>,
    ) -> StoreResult<WorkerRecord> {
        self.calls.hit();
        // Written together with the heartbeats of other workers that arrive
        // meanwhile: see `beats`.
        let (reply, answer) = tokio::sync::oneshot::channel();
        let pending = beats::Pending {
            beat: beat.clone(),
            now,
            reply,
        };
        let stopped = || StoreError::Unavailable("the heartbeat writer has stopped".into());
        self.beats.send(pending).await.map_err(|_| stopped())?;
        let row = answer.await.map_err(|_| stopped())??;
        match row {
            Some(worker) => Ok(worker),
            None => {
                let boot: Option<String> =
                    sqlx::query_scalar("SELECT boot_id FROM workers WHERE id = $1")
                        .bind(&beat.id)
                        .fetch_optional(&self.pool)
                        .await?;
                Err(match boot {
                    None => StoreError::NotFound,
                    Some(b) => StoreError::Conflict(format!(
                        "worker {} has registered again (boot {b}); this process (boot {}) is superseded",
                        beat.id, beat.boot_id
                    )),
                })
            }
        }
    }

    async fn list_workers(&self) -> StoreResult<Vec<WorkerRecord>> {
        self.calls.hit();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {WORKER_COLUMNS} FROM workers ORDER BY id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(worker_from_row).collect()
    }

    async fn begin_result(
        &self,
        sub: &ResultSubmission,
        now: DateTime<Utc>,
        retake_before: DateTime<Utc>,
    ) -> StoreResult<ResultBegin> {
        self.calls.hit();
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO worker_results (idempotency_key, payload_type, task_id, worker_id, payload, \
               fingerprint, state, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'applying', $7) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(&sub.key)
        .bind(sub.payload_type.as_str())
        .bind(sub.task_id)
        .bind(&sub.worker_id)
        .bind(&sub.payload)
        .bind(&sub.fingerprint)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let out = if inserted == 1 {
            ResultBegin::Fresh
        } else {
            let (fingerprint, state, outcome, created_at): (
                String,
                String,
                Option<String>,
                DateTime<Utc>,
            ) = sqlx::query_as(
                "SELECT fingerprint, state, outcome, created_at FROM worker_results \
                     WHERE idempotency_key = $1 FOR UPDATE",
            )
            .bind(&sub.key)
            .fetch_one(&mut *tx)
            .await?;
            if fingerprint != sub.fingerprint {
                ResultBegin::Mismatch
            } else {
                match state.as_str() {
                    "applied" => ResultBegin::Applied,
                    "rejected" => ResultBegin::Rejected(outcome.unwrap_or_default()),
                    _ if created_at < retake_before => {
                        sqlx::query(
                            "UPDATE worker_results SET created_at = $2 WHERE idempotency_key = $1",
                        )
                        .bind(&sub.key)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                        ResultBegin::Fresh
                    }
                    _ => ResultBegin::InFlight,
                }
            }
        };
        tx.commit().await?;
        Ok(out)
    }

    async fn finish_result(
        &self,
        key: &str,
        rejected: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.calls.hit();
        sqlx::query(
            "UPDATE worker_results SET state = $2, outcome = $3, finished_at = $4 WHERE idempotency_key = $1",
        )
        .bind(key)
        .bind(if rejected.is_some() { "rejected" } else { "applied" })
        .bind(rejected)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn abandon_result(&self, key: &str) -> StoreResult<()> {
        self.calls.hit();
        sqlx::query("DELETE FROM worker_results WHERE idempotency_key = $1 AND state = 'applying'")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn worker_action(
        &self,
        cmd: &domain::WorkerActionCommand,
        actor: &str,
        now: DateTime<Utc>,
        check: SafetyCheck<'_>,
    ) -> StoreResult<Result<WorkerActionOutcome, ActionError>> {
        self.calls.hit();
        let mut tx = self.pool.begin().await?;
        // Lock the whole fleet: two concurrent actions must not both pass
        // the safety check against the same "before".
        let fleet = fleet_in(&mut tx, "FOR UPDATE").await?;
        let before = match domain::targeted(&fleet, &cmd.worker_ids) {
            Ok(b) => b,
            Err(unknown) => return Ok(Err(ActionError::Unknown(unknown))),
        };
        let override_used = match check(&fleet) {
            Ok(o) => o,
            Err(refusal) => return Ok(Err(ActionError::Refused(refusal))),
        };
        sqlx::query("UPDATE workers SET desired_state = $2 WHERE id = ANY($1)")
            .bind(&cmd.worker_ids)
            .bind(domain::desired_for(cmd.action).as_str())
            .execute(&mut *tx)
            .await?;
        let state = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STATE_COLUMNS} FROM worker_pause_state WHERE id = 1"
        )))
        .fetch_one(&mut *tx)
        .await?;
        let version = state_from_row(&state)?.version;
        let metrics = counts_in(&mut tx, now).await?.drain_metrics();
        let new_event =
            domain::action_event(cmd, actor, &before, override_used, metrics, version, now);
        let event = insert_event(&mut tx, &new_event).await?;
        tx.commit().await?;
        Ok(Ok(WorkerActionOutcome {
            before,
            event,
            override_used,
        }))
    }

    async fn append_event(&self, e: &domain::NewControlEvent) -> StoreResult<ControlEvent> {
        self.calls.hit();
        let mut tx = self.pool.begin().await?;
        let ev = insert_event(&mut tx, e).await?;
        tx.commit().await?;
        Ok(ev)
    }

    async fn create_rollout(&self, r: &RollingRestart) -> StoreResult<()> {
        self.calls.hit();
        let res = sqlx::query(
            "INSERT INTO rolling_restarts (id, status, max_unavailable, deadline_seconds, reason, actor, \
               workers, message, created_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(r.id)
        .bind(r.status.as_str())
        .bind(r.max_unavailable as i32)
        .bind(r.deadline_seconds as i32)
        .bind(&r.reason)
        .bind(&r.actor)
        .bind(sqlx::types::Json(&r.workers))
        .bind(&r.message)
        .bind(r.created_at)
        .bind(r.finished_at)
        .execute(&self.pool)
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
                "a rolling restart is already running; cancel it or wait for it to finish".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    async fn get_rollout(&self, id: Uuid) -> StoreResult<RollingRestart> {
        self.calls.hit();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ROLLOUT_COLUMNS} FROM rolling_restarts WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        rollout_from_row(&row)
    }

    async fn list_rollouts(&self, limit: u32) -> StoreResult<Vec<RollingRestart>> {
        self.calls.hit();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ROLLOUT_COLUMNS} FROM rolling_restarts ORDER BY created_at DESC LIMIT $1"
        )))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rollout_from_row).collect()
    }

    async fn cancel_rollout(
        &self,
        id: Uuid,
        message: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<RollingRestart> {
        self.calls.hit();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE rolling_restarts SET status = 'cancelled', message = $2, finished_at = $3 \
             WHERE id = $1 AND status = 'running' RETURNING {ROLLOUT_COLUMNS}"
        )))
        .bind(id)
        .bind(message)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => rollout_from_row(&row),
            None => Err(not_running(&self.get_rollout(id).await?)),
        }
    }

    async fn advance_rollout(&self, step: RolloutStep<'_>) -> StoreResult<Option<RollingRestart>> {
        self.calls.hit();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ROLLOUT_COLUMNS} FROM rolling_restarts WHERE status = 'running' FOR UPDATE SKIP LOCKED"
        )))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.commit().await?;
            return Ok(None);
        };
        let current = rollout_from_row(&row)?;
        let fleet = fleet_in(&mut tx, "").await?;
        let out = step(current, &fleet);
        for (id, desired) in &out.set_desired {
            sqlx::query("UPDATE workers SET desired_state = $2 WHERE id = $1")
                .bind(id)
                .bind(desired.as_str())
                .execute(&mut *tx)
                .await?;
        }
        if !out.set_desired.is_empty() {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(FLEET_CHANNEL)
                .execute(&mut *tx)
                .await?;
        }
        let r = out.rollout;
        sqlx::query(
            "UPDATE rolling_restarts SET status = $2, workers = $3, message = $4, finished_at = $5 WHERE id = $1",
        )
        .bind(r.id)
        .bind(r.status.as_str())
        .bind(sqlx::types::Json(&r.workers))
        .bind(&r.message)
        .bind(r.finished_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(r))
    }

    async fn create_token(&self, t: &TokenRecord) -> StoreResult<()> {
        self.calls.hit();
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "INSERT INTO api_tokens (id, name, role, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&t.id)
        .bind(&t.name)
        .bind(t.role.as_str())
        .bind(&t.secret_hash)
        .bind(t.created_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            return Err(StoreError::Conflict(format!(
                "a token named {:?} already exists",
                t.name
            )));
        }
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(TOKENS_CHANNEL)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_token(&self, id: &str) -> StoreResult<Option<TokenRecord>> {
        self.calls.hit();
        let row = sqlx::query(
            "SELECT id, name, role, secret_hash, created_at, revoked_at FROM api_tokens WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn list_tokens(&self) -> StoreResult<Vec<TokenRecord>> {
        self.calls.hit();
        let rows = sqlx::query(
            "SELECT id, name, role, secret_hash, created_at, revoked_at FROM api_tokens ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_token(&self, name: &str, now: DateTime<Utc>) -> StoreResult<TokenRecord> {
        self.calls.hit();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE name = $1 \
             RETURNING id, name, role, secret_hash, created_at, revoked_at",
        )
        .bind(name)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(TOKENS_CHANNEL)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        token_from_row(&row)
    }

    async fn listen(&self) -> StoreResult<Option<tokio::sync::mpsc::Receiver<Notice>>> {
        // Connect once up front so a bad URL fails start-up, not a task.
        let first = connect_listener(&self.url).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let url = self.url.clone();
        tokio::spawn(async move {
            let mut listener = Some(first);
            loop {
                let mut l = match listener.take() {
                    Some(l) => l,
                    None => match connect_listener(&url).await {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::warn!(error = %e, "LISTEN reconnect failed; retrying in 1s");
                            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                            if tx.is_closed() {
                                return;
                            }
                            continue;
                        }
                    },
                };
                // (Re)connected and listening: anything sent while we were
                // away is lost, so the service re-reads the state now.
                if tx.send(Notice::Reconnected).await.is_err() {
                    return;
                }
                loop {
                    match l.try_recv().await {
                        Ok(Some(n)) => {
                            let notice = if n.channel() == JOBS_CHANNEL {
                                Notice::JobsAvailable
                            } else if n.channel() == TOKENS_CHANNEL {
                                Notice::TokensChanged
                            } else if n.channel() == FLEET_CHANNEL {
                                Notice::FleetChanged
                            } else {
                                n.payload()
                                    .parse::<i64>()
                                    .map(Notice::PauseChanged)
                                    .unwrap_or(Notice::Reconnected)
                            };
                            if tx.send(notice).await.is_err() {
                                return;
                            }
                        }
                        Ok(None) => {
                            tracing::warn!("LISTEN connection lost; reconnecting");
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "LISTEN failed; reconnecting");
                            break;
                        }
                    }
                }
            }
        });
        Ok(Some(rx))
    }
}

async fn connect_listener(url: &str) -> StoreResult<PgListener> {
    let mut listener = PgListener::connect(url).await?;
    listener
        .listen_all([PAUSE_CHANNEL, JOBS_CHANNEL, TOKENS_CHANNEL, FLEET_CHANNEL])
        .await?;
    Ok(listener)
}

/// The common claim in one autocommit statement (one round trip instead of
/// six): it reads the pause row `FOR SHARE`, exactly like the transaction
/// in [`PgStore::claim`] — the statement holds that lock until it commits,
/// so a pause that commits first is seen (READ COMMITTED re-reads the
/// newest row version for a locking read) and a pause that comes later
/// waits for this claim. It claims only when nothing is paused and no lease
/// has expired; `None` means a lease has expired and the caller must
/// requeue first (that path keeps its transaction), so expired jobs are
/// still requeued before a claim and handed to it. Up to `limit` jobs are
/// claimed (`= ANY(ARRAY(…))` so the locking subquery runs exactly once);
/// the state comes back with them (paused: no job).
async fn claim_in_one_statement(
    pool: &PgPool,
    p: &ClaimParams,
    limit: u32,
) -> StoreResult<Option<(PauseState, Vec<Job>)>> {
    let token = Uuid::new_v4();
    let expires = p.now + Duration::seconds(i64::from(p.lease_seconds));
    // Neither a `LIMIT $n` nor a `$n IS NULL OR …` type filter: with either,
    // PostgreSQL's generic plan never looks cheaper than a custom one (an
    // unknown LIMIT is costed as a tenth of the table), so it re-planned
    // this statement on every execution, which cost more than the claim
    // itself. The limit is a literal (a bounded integer: one cached
    // statement per batch size) and the filter is there only when asked for.
    let types_filter = if p.types.is_some() {
        "AND type = ANY($6)"
    } else {
        ""
    };
    let query = format!(
        "WITH st AS (SELECT {STATE_COLUMNS} FROM worker_pause_state WHERE id = 1 FOR SHARE), \
         ex AS (SELECT EXISTS (SELECT 1 FROM jobs \
                  WHERE status = 'running' AND lease_expires_at < $5) AS expired), \
         claimed AS ( \
           UPDATE jobs SET status = 'running', worker_id = $1, lease_token = $2, \
             lease_seconds = $3, lease_expires_at = $4, attempts = attempts + 1, \
             paused_at_checkpoint = FALSE, started_at = $5, updated_at = $5 \
           WHERE NOT (SELECT workers_paused FROM st) AND NOT (SELECT expired FROM ex) \
           AND NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = $1 AND w.desired_state <> 'active') \
           AND id = ANY(ARRAY(SELECT id FROM jobs WHERE status = 'queued' AND run_after <= $5 \
                       {types_filter} \
                       ORDER BY priority DESC, run_after, created_at \
                       LIMIT {limit} FOR UPDATE SKIP LOCKED)) \
           RETURNING {JOB_COLUMNS}) \
         SELECT st.workers_paused AS s_workers_paused, st.mode AS s_mode, st.reason AS s_reason, \
           st.requested_by AS s_requested_by, st.requested_at AS s_requested_at, \
           st.paused_at AS s_paused_at, st.resumed_at AS s_resumed_at, \
           st.updated_at AS s_updated_at, st.version AS s_version, st.until_at AS s_until_at, \
           (SELECT expired FROM ex) AS s_expired, claimed.* \
         FROM st LEFT JOIN claimed ON TRUE"
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(query))
        .bind(&p.worker_id)
        .bind(token)
        .bind(p.lease_seconds as i32)
        .bind(expires)
        .bind(p.now);
    if let Some(types) = &p.types {
        q = q.bind(types);
    }
    let rows = q.fetch_all(pool).await?;
    let row = rows
        .first()
        .ok_or_else(|| StoreError::Database("the claim returned no row".into()))?;
    let mode: Option<String> = row.try_get("s_mode")?;
    let state = PauseState {
        workers_paused: row.try_get("s_workers_paused")?,
        mode: mode.as_deref().and_then(PauseMode::parse),
        reason: row.try_get("s_reason")?,
        requested_by: row.try_get("s_requested_by")?,
        requested_at: row.try_get("s_requested_at")?,
        paused_at: row.try_get("s_paused_at")?,
        resumed_at: row.try_get("s_resumed_at")?,
        until: row.try_get("s_until_at")?,
        updated_at: row.try_get("s_updated_at")?,
        version: row.try_get("s_version")?,
    };
    if !state.workers_paused && row.try_get::<bool, _>("s_expired")? {
        return Ok(None);
    }
    let mut jobs = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.try_get::<Option<Uuid>, _>("id")?.is_some() {
            let mut job = job_from_row(row)?;
            job.lease_token = Some(token);
            jobs.push(job);
        }
    }
    // The queue's order, as single claims in a row would have handed them.
    jobs.sort_by(|a, b| {
        (b.priority, a.run_after, a.created_at).cmp(&(a.priority, b.run_after, b.created_at))
    });
    Ok(Some((state, jobs)))
}

/// Every registered worker, read inside the transaction; `lock` is `""`
/// or a row-lock clause (`FOR UPDATE`).
async fn fleet_in(
    tx: &mut Transaction<'static, Postgres>,
    lock: &'static str,
) -> StoreResult<Vec<WorkerRecord>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {WORKER_COLUMNS} FROM workers ORDER BY id {lock}"
    )))
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(worker_from_row).collect()
}

async fn get_job_in(tx: &mut Transaction<'static, Postgres>, id: Uuid) -> StoreResult<Job> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    job_from_row(&row)
}
