//! The SQLite store: the embedded default, one server process.
//!
//! SQLite allows one writer at a time, so every write goes through a pool of
//! exactly one connection: a read-check-write transaction on it (the claim
//! re-reading the pause state, a pause computing metrics) cannot interleave
//! with another write. Reads use a separate pool; WAL gives them a
//! consistent snapshot while a write is in progress.
//!
//! Timestamps are stored as INTEGER milliseconds (exact ordering), ids as
//! UUID text, JSON as text.

use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use uuid::Uuid;
use wire::{ControlEvent, DrainMetrics, Job, JobStatus, PauseMode};

use super::{
    lease_lost_message, not_running, ActionError, CallCounter, ClaimOutcome, ClaimParams, Fence,
    JobCounts, Notice, ResultBegin, RolloutStep, SafetyCheck, Store, StoreError, StoreResult,
    TransitionOutcome, WorkerActionOutcome,
};
use crate::auth::{Role, TokenRecord};
use crate::domain::{
    self, retry, Decision, NewJob, PauseCommand, PauseState, Registration, ResultSubmission,
    WorkerBeat, WorkerRecord,
};
use wire::{DesiredState, ReportedState, RollingRestart, RolloutStatus};

pub struct SqliteStore {
    /// Exactly one connection: the single writer.
    writer: SqlitePool,
    reader: SqlitePool,
    calls: CallCounter,
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

const COUNTS_SQL: &str = "SELECT \
       COALESCE(SUM(status = 'queued'), 0) AS queued, \
       COALESCE(SUM(status = 'running' AND lease_expires_at >= $1), 0) AS running, \
       COALESCE(SUM(status = 'running' AND lease_expires_at < $1), 0) AS stale_running, \
       COALESCE(SUM(status = 'succeeded'), 0) AS succeeded, \
       COALESCE(SUM(status = 'failed'), 0) AS failed, \
       COALESCE(SUM(status = 'cancelled'), 0) AS cancelled \
     FROM jobs";

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(v)
        .ok_or_else(|| StoreError::Database(format!("timestamp out of range: {v}")))
}

fn opt_time(row: &SqliteRow, col: &str) -> StoreResult<Option<DateTime<Utc>>> {
    let v: Option<i64> = row.try_get(col)?;
    v.map(from_ms).transpose()
}

fn time(row: &SqliteRow, col: &str) -> StoreResult<DateTime<Utc>> {
    from_ms(row.try_get(col)?)
}

fn json(row: &SqliteRow, col: &str) -> StoreResult<Option<serde_json::Value>> {
    let v: Option<String> = row.try_get(col)?;
    v.map(|s| {
        serde_json::from_str(&s)
            .map_err(|e| StoreError::Database(format!("bad JSON in {col}: {e}")))
    })
    .transpose()
}

fn uuid(s: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(s).map_err(|e| StoreError::Database(format!("bad UUID {s:?}: {e}")))
}

fn state_from_row(row: &SqliteRow) -> StoreResult<PauseState> {
    let mode: Option<String> = row.try_get("mode")?;
    Ok(PauseState {
        workers_paused: row.try_get("workers_paused")?,
        mode: mode.as_deref().and_then(PauseMode::parse),
        reason: row.try_get("reason")?,
        requested_by: row.try_get("requested_by")?,
        requested_at: opt_time(row, "requested_at")?,
        paused_at: opt_time(row, "paused_at")?,
        resumed_at: opt_time(row, "resumed_at")?,
        until: opt_time(row, "until_at")?,
        updated_at: time(row, "updated_at")?,
        version: row.try_get("version")?,
    })
}

fn event_from_row(row: &SqliteRow) -> StoreResult<ControlEvent> {
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
        created_at: time(row, "created_at")?,
        targets: json(row, "targets")?
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| StoreError::Database(format!("bad targets: {e}")))?
            .unwrap_or_default(),
        details: json(row, "details")?,
    })
}

fn rollout_from_row(row: &SqliteRow) -> StoreResult<RollingRestart> {
    let status: String = row.try_get("status")?;
    let id: String = row.try_get("id")?;
    let max_unavailable: i64 = row.try_get("max_unavailable")?;
    let deadline: i64 = row.try_get("deadline_seconds")?;
    let workers: String = row.try_get("workers")?;
    Ok(RollingRestart {
        id: uuid(&id)?,
        status: RolloutStatus::parse(&status)
            .ok_or_else(|| StoreError::Database(format!("bad rollout status {status:?}")))?,
        max_unavailable: max_unavailable.max(0) as u32,
        deadline_seconds: deadline.max(0) as u32,
        reason: row.try_get("reason")?,
        actor: row.try_get("actor")?,
        created_at: time(row, "created_at")?,
        finished_at: opt_time(row, "finished_at")?,
        workers: serde_json::from_str(&workers)
            .map_err(|e| StoreError::Database(format!("bad rollout workers: {e}")))?,
        message: row.try_get("message")?,
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Database(format!("encoding JSON: {e}")))
}

/// Appends a control event inside a (writer) transaction.
async fn insert_event(
    tx: &mut Transaction<'static, Sqlite>,
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
    .bind(ms(e.created_at))
    .bind(to_json(&e.targets)?)
    .bind(e.details.as_ref().map(|d| d.to_string()))
    .fetch_one(&mut **tx)
    .await?;
    event_from_row(&row)
}

fn job_from_row(row: &SqliteRow) -> StoreResult<Job> {
    let status: String = row.try_get("status")?;
    let id: String = row.try_get("id")?;
    Ok(Job {
        id: uuid(&id)?,
        job_type: row.try_get("type")?,
        payload: json(row, "payload")?.unwrap_or(serde_json::Value::Null),
        priority: row.try_get("priority")?,
        status: JobStatus::parse(&status)
            .ok_or_else(|| StoreError::Database(format!("unknown job status {status:?}")))?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        worker_id: row.try_get("worker_id")?,
        lease_token: None,
        lease_expires_at: opt_time(row, "lease_expires_at")?,
        run_after: time(row, "run_after")?,
        paused_at_checkpoint: row.try_get("paused_at_checkpoint")?,
        result: json(row, "result")?,
        error: row.try_get("error")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
        started_at: opt_time(row, "started_at")?,
        finished_at: opt_time(row, "finished_at")?,
    })
}

const WORKER_COLUMNS: &str = "id, name, hostname, version, labels, boot_id, started_at, \
     last_heartbeat_at, reported_state, active_jobs, offline_backlog, desired_state";

fn worker_from_row(row: &SqliteRow) -> StoreResult<WorkerRecord> {
    let labels: String = row.try_get("labels")?;
    let jobs: String = row.try_get("active_jobs")?;
    let reported: String = row.try_get("reported_state")?;
    let desired: String = row.try_get("desired_state")?;
    let backlog: i64 = row.try_get("offline_backlog")?;
    let bad = |what: &str, e: serde_json::Error| StoreError::Database(format!("bad {what}: {e}"));
    Ok(WorkerRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        hostname: row.try_get("hostname")?,
        version: row.try_get("version")?,
        labels: serde_json::from_str(&labels).map_err(|e| bad("labels", e))?,
        boot_id: row.try_get("boot_id")?,
        started_at: time(row, "started_at")?,
        last_heartbeat_at: time(row, "last_heartbeat_at")?,
        reported_state: ReportedState::parse(&reported)
            .ok_or_else(|| StoreError::Database(format!("bad reported_state {reported:?}")))?,
        active_jobs: serde_json::from_str(&jobs).map_err(|e| bad("active_jobs", e))?,
        offline_backlog: backlog.max(0) as u32,
        desired_state: DesiredState::parse(&desired)
            .ok_or_else(|| StoreError::Database(format!("bad desired_state {desired:?}")))?,
    })
}

fn token_from_row(row: &SqliteRow) -> StoreResult<TokenRecord> {
    let role: String = row.try_get("role")?;
    Ok(TokenRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Database(format!("bad role {role:?}")))?,
        secret_hash: row.try_get("secret_hash")?,
        created_at: time(row, "created_at")?,
        revoked_at: opt_time(row, "revoked_at")?,
    })
}

fn counts_from_row(row: &SqliteRow) -> StoreResult<JobCounts> {
    Ok(JobCounts {
        queued: row.try_get("queued")?,
        running: row.try_get("running")?,
        stale_running: row.try_get("stale_running")?,
        succeeded: row.try_get("succeeded")?,
        failed: row.try_get("failed")?,
        cancelled: row.try_get("cancelled")?,
    })
}

impl SqliteStore {
    /// Opens (creating if missing) the database file named by `url`, in WAL
    /// mode, and runs the embedded migrations.
    pub async fn connect(url: &str) -> StoreResult<SqliteStore> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or(path);
            if let Some(parent) = std::path::Path::new(path).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        StoreError::Unavailable(format!("cannot create {}: {e}", parent.display()))
                    })?;
                }
            }
        }
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged pause survives power loss, not only kill -9.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(10))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(opts.clone())
            .await?;
        sqlx::migrate!("../migrations/sqlite").run(&writer).await?;
        // An in-memory database exists per connection: share the writer.
        let reader = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(4)
                .acquire_timeout(std::time::Duration::from_secs(10))
                .connect_with(opts)
                .await?
        };
        Ok(SqliteStore {
            writer,
            reader,
            calls: CallCounter::default(),
        })
    }
}

async fn state_in(tx: &mut Transaction<'static, Sqlite>) -> StoreResult<PauseState> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {STATE_COLUMNS} FROM worker_pause_state WHERE id = 1"
    )))
    .fetch_one(&mut **tx)
    .await?;
    state_from_row(&row)
}

/// Every registered worker, read inside the transaction.
async fn fleet_in(tx: &mut Transaction<'static, Sqlite>) -> StoreResult<Vec<WorkerRecord>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {WORKER_COLUMNS} FROM workers ORDER BY id"
    )))
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(worker_from_row).collect()
}

async fn get_job_in(tx: &mut Transaction<'static, Sqlite>, id: Uuid) -> StoreResult<Job> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"
    )))
    .bind(id.to_string())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    job_from_row(&row)
}

async fn fence_failure(tx: &mut Transaction<'static, Sqlite>, fence: &Fence) -> StoreError {
    match get_job_in(tx, fence.job_id).await {
        Ok(job) => StoreError::LeaseLost(lease_lost_message(&job, &fence.worker_id)),
        Err(e) => e,
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn calls(&self) -> u64 {
        self.calls.get()
    }

    async fn ping(&self) -> StoreResult<()> {
        self.calls.hit();
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn pause_state(&self) -> StoreResult<PauseState> {
        self.calls.hit();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STATE_COLUMNS} FROM worker_pause_state WHERE id = 1"
        )))
        .fetch_one(&self.reader)
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
        let mut tx = self.writer.begin().await?;
        let current = state_in(&mut tx).await?;
        let row = sqlx::query(COUNTS_SQL)
            .bind(ms(now))
            .fetch_one(&mut *tx)
            .await?;
        let metrics = counts_from_row(&row)?.drain_metrics();
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
        .bind(state.requested_at.map(ms))
        .bind(state.paused_at.map(ms))
        .bind(state.resumed_at.map(ms))
        .bind(ms(state.updated_at))
        .bind(state.version)
        .bind(state.until.map(ms))
        .execute(&mut *tx)
        .await?;
        let event = insert_event(&mut tx, &new_event).await?;
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
             WHERE ($1 IS NULL OR id < $1) ORDER BY id DESC LIMIT $2"
        )))
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn job_counts(&self, now: DateTime<Utc>) -> StoreResult<JobCounts> {
        self.calls.hit();
        let row = sqlx::query(COUNTS_SQL)
            .bind(ms(now))
            .fetch_one(&self.reader)
            .await?;
        counts_from_row(&row)
    }

    async fn dispatches_since(&self, since: DateTime<Utc>) -> StoreResult<i64> {
        self.calls.hit();
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE started_at >= $1")
                .bind(ms(since))
                .fetch_one(&self.reader)
                .await?,
        )
    }

    async fn enqueue(&self, job: &NewJob, now: DateTime<Utc>) -> StoreResult<Job> {
        self.calls.hit();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO jobs (id, type, payload, priority, status, attempts, max_attempts, \
             run_after, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $6, $6) RETURNING {JOB_COLUMNS}"
        )))
        .bind(Uuid::new_v4().to_string())
        .bind(&job.job_type)
        .bind(job.payload.to_string())
        .bind(job.priority)
        .bind(job.max_attempts)
        .bind(ms(now))
        .fetch_one(&self.writer)
        .await?;
        job_from_row(&row)
    }

    async fn claim(&self, p: &ClaimParams) -> StoreResult<ClaimOutcome> {
        self.calls.hit();
        let now = ms(p.now);
        // On the single writer connection: no pause can commit between this
        // read and the claim below.
        let mut tx = self.writer.begin().await?;
        let state = state_in(&mut tx).await?;
        if state.workers_paused {
            tx.commit().await?;
            return Ok(ClaimOutcome::Paused(state));
        }
        let failed = sqlx::query(
            "UPDATE jobs SET status = 'failed', error = 'lease expired on the final attempt', \
             worker_id = NULL, lease_token = NULL, lease_expires_at = NULL, \
             paused_at_checkpoint = 0, finished_at = $1, updated_at = $1 \
             WHERE status = 'running' AND lease_expires_at < $1 AND attempts >= max_attempts",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let requeued = sqlx::query(
            "UPDATE jobs SET status = 'queued', error = 'lease expired', worker_id = NULL, \
             lease_token = NULL, lease_expires_at = NULL, paused_at_checkpoint = 0, \
             run_after = $1, updated_at = $1 \
             WHERE status = 'running' AND lease_expires_at < $1",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let token = Uuid::new_v4();
        let expires = now + i64::from(p.lease_seconds) * 1000;
        let types = p
            .types
            .as_ref()
            .map(|t| serde_json::Value::from(t.clone()).to_string());
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET status = 'running', worker_id = $1, lease_token = $2, \
             lease_seconds = $3, lease_expires_at = $4, attempts = attempts + 1, \
             paused_at_checkpoint = 0, started_at = $5, updated_at = $5 \
             WHERE NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = $1 AND w.desired_state <> 'active') \
             AND id = (SELECT id FROM jobs WHERE status = 'queued' AND run_after <= $5 \
                         AND ($6 IS NULL OR type IN (SELECT value FROM json_each($6))) \
                         ORDER BY priority DESC, run_after, created_at LIMIT 1) \
             RETURNING {JOB_COLUMNS}"
        )))
        .bind(&p.worker_id)
        .bind(token.to_string())
        .bind(i64::from(p.lease_seconds))
        .bind(expires)
        .bind(now)
        .bind(types)
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

    async fn heartbeat(
        &self,
        fence: &Fence,
        lease_seconds: Option<u32>,
        paused_at_checkpoint: Option<bool>,
        now: DateTime<Utc>,
    ) -> StoreResult<(Job, Option<DesiredState>)> {
        self.calls.hit();
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET \
               lease_seconds = COALESCE($4, lease_seconds), \
               lease_expires_at = $5 + COALESCE($4, lease_seconds) * 1000, \
               paused_at_checkpoint = COALESCE($6, paused_at_checkpoint), updated_at = $5 \
             WHERE id = $1 AND status = 'running' AND worker_id = $2 AND lease_token = $3 \
             RETURNING {JOB_COLUMNS}, \
               (SELECT desired_state FROM workers w WHERE w.id = jobs.worker_id) AS worker_desired"
        )))
        .bind(fence.job_id.to_string())
        .bind(&fence.worker_id)
        .bind(fence.lease_token.to_string())
        .bind(lease_seconds.map(i64::from))
        .bind(ms(now))
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
            None => Err(fence_failure(&mut tx, fence).await),
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
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET status = 'succeeded', result = $4, error = NULL, \
               lease_token = NULL, lease_expires_at = NULL, paused_at_checkpoint = 0, \
               finished_at = $5, updated_at = $5 \
             WHERE id = $1 AND status = 'running' AND worker_id = $2 AND lease_token = $3 \
             RETURNING {JOB_COLUMNS}"
        )))
        .bind(fence.job_id.to_string())
        .bind(&fence.worker_id)
        .bind(fence.lease_token.to_string())
        .bind(result.map(|r| r.to_string()))
        .bind(ms(now))
        .fetch_optional(&mut *tx)
        .await?;
        let out = match row {
            Some(row) => job_from_row(&row),
            None => Err(fence_failure(&mut tx, fence).await),
        };
        tx.commit().await?;
        out
    }

    async fn fail(
        &self,
        fence: &Fence,
        error: &str,
        retryable: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Job> {
        self.calls.hit();
        let mut tx = self.writer.begin().await?;
        let held: Option<(i32, i32)> = sqlx::query_as(
            "SELECT attempts, max_attempts FROM jobs \
             WHERE id = $1 AND status = 'running' AND worker_id = $2 AND lease_token = $3",
        )
        .bind(fence.job_id.to_string())
        .bind(&fence.worker_id)
        .bind(fence.lease_token.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((attempts, max_attempts)) = held else {
            let err = fence_failure(&mut tx, fence).await;
            tx.commit().await?;
            return Err(err);
        };
        let row = match retry::on_failure(attempts, max_attempts, retryable, now) {
            retry::FailureOutcome::RetryAt(at) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE jobs SET status = 'queued', error = $2, worker_id = NULL, \
                       lease_token = NULL, lease_expires_at = NULL, paused_at_checkpoint = 0, \
                       run_after = $3, updated_at = $4 \
                     WHERE id = $1 RETURNING {JOB_COLUMNS}"
                )))
                .bind(fence.job_id.to_string())
                .bind(error)
                .bind(ms(at))
                .bind(ms(now))
                .fetch_one(&mut *tx)
                .await?
            }
            retry::FailureOutcome::Final => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE jobs SET status = 'failed', error = $2, lease_token = NULL, \
                       lease_expires_at = NULL, paused_at_checkpoint = 0, \
                       finished_at = $3, updated_at = $3 \
                     WHERE id = $1 RETURNING {JOB_COLUMNS}"
                )))
                .bind(fence.job_id.to_string())
                .bind(error)
                .bind(ms(now))
                .fetch_one(&mut *tx)
                .await?
            }
        };
        tx.commit().await?;
        job_from_row(&row)
    }

    async fn cancel(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Job> {
        self.calls.hit();
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET status = 'cancelled', lease_token = NULL, lease_expires_at = NULL, \
               paused_at_checkpoint = 0, finished_at = $2, updated_at = $2 \
             WHERE id = $1 AND status IN ('queued', 'running') RETURNING {JOB_COLUMNS}"
        )))
        .bind(id.to_string())
        .bind(ms(now))
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
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET status = 'queued', attempts = 0, worker_id = NULL, \
               lease_token = NULL, lease_expires_at = NULL, run_after = $2, finished_at = NULL, \
               updated_at = $2 \
             WHERE id = $1 AND status IN ('failed', 'cancelled') RETURNING {JOB_COLUMNS}"
        )))
        .bind(id.to_string())
        .bind(ms(now))
        .fetch_optional(&mut *tx)
        .await?;
        let out = match row {
            Some(row) => job_from_row(&row),
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
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await?
        .ok_or(StoreError::NotFound)?;
        job_from_row(&row)
    }

    async fn list_jobs(&self, status: Option<JobStatus>, limit: u32) -> StoreResult<Vec<Job>> {
        self.calls.hit();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE ($1 IS NULL OR status = $1) \
             ORDER BY created_at DESC, id LIMIT $2"
        )))
        .bind(status.map(|s| s.as_str()))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
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
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    async fn finished_since(&self, since: DateTime<Utc>) -> StoreResult<i64> {
        self.calls.hit();
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE status IN ('succeeded', 'failed') AND finished_at >= $1",
        )
        .bind(ms(since))
        .fetch_one(&self.reader)
        .await?)
    }

    async fn mean_durations_ms(&self, since: DateTime<Utc>) -> StoreResult<Vec<(String, f64)>> {
        self.calls.hit();
        Ok(sqlx::query_as(
            "SELECT type, CAST(AVG(finished_at - started_at) AS REAL) \
             FROM jobs WHERE status IN ('succeeded', 'failed') AND finished_at >= $1 \
             AND started_at IS NOT NULL GROUP BY type",
        )
        .bind(ms(since))
        .fetch_all(&self.reader)
        .await?)
    }

    async fn mean_latency_ms(&self, since: DateTime<Utc>) -> StoreResult<Option<f64>> {
        self.calls.hit();
        Ok(sqlx::query_scalar(
            "SELECT CAST(AVG(finished_at - started_at) AS REAL) FROM jobs \
             WHERE status IN ('succeeded', 'failed') AND finished_at >= $1 AND started_at IS NOT NULL",
        )
        .bind(ms(since))
        .fetch_one(&self.reader)
        .await?)
    }

    async fn register_worker(
        &self,
        reg: &Registration,
        now: DateTime<Utc>,
    ) -> StoreResult<WorkerRecord> {
        self.calls.hit();
        let mut tx = self.writer.begin().await?;
        let prev: Option<(String, String)> =
            sqlx::query_as("SELECT boot_id, desired_state FROM workers WHERE id = $1")
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
        let labels = serde_json::to_string(&reg.labels)
            .map_err(|e| StoreError::Database(format!("labels: {e}")))?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO workers (id, name, hostname, version, labels, boot_id, started_at, \
               last_heartbeat_at, reported_state, active_jobs, offline_backlog, desired_state, registered_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 'running', '[]', 0, $8, $7) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, hostname = excluded.hostname, \
               version = excluded.version, labels = excluded.labels, boot_id = excluded.boot_id, \
               started_at = CASE WHEN $9 THEN workers.started_at ELSE excluded.started_at END, \
               last_heartbeat_at = excluded.last_heartbeat_at, reported_state = 'running', \
               desired_state = excluded.desired_state \
             RETURNING {WORKER_COLUMNS}"
        )))
        .bind(&reg.id)
        .bind(&reg.name)
        .bind(&reg.hostname)
        .bind(&reg.version)
        .bind(labels)
        .bind(&reg.boot_id)
        .bind(ms(now))
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
        let jobs = serde_json::to_string(&beat.active_jobs)
            .map_err(|e| StoreError::Database(format!("active_jobs: {e}")))?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE workers SET last_heartbeat_at = $3, reported_state = $4, active_jobs = $5, \
               offline_backlog = $6 WHERE id = $1 AND boot_id = $2 RETURNING {WORKER_COLUMNS}"
        )))
        .bind(&beat.id)
        .bind(&beat.boot_id)
        .bind(ms(now))
        .bind(beat.state.as_str())
        .bind(jobs)
        .bind(i64::from(beat.offline_backlog))
        .fetch_optional(&self.writer)
        .await?;
        match row {
            Some(row) => worker_from_row(&row),
            None => {
                let boot: Option<String> =
                    sqlx::query_scalar("SELECT boot_id FROM workers WHERE id = $1")
                        .bind(&beat.id)
                        .fetch_optional(&self.reader)
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
        .fetch_all(&self.reader)
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
        let mut tx = self.writer.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO worker_results (idempotency_key, payload_type, task_id, worker_id, payload, \
               fingerprint, state, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'applying', $7) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(&sub.key)
        .bind(sub.payload_type.as_str())
        .bind(sub.task_id.map(|t| t.to_string()))
        .bind(&sub.worker_id)
        .bind(sub.payload.to_string())
        .bind(&sub.fingerprint)
        .bind(ms(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let out = if inserted == 1 {
            ResultBegin::Fresh
        } else {
            let (fingerprint, state, outcome, created_at): (String, String, Option<String>, i64) =
                sqlx::query_as(
                    "SELECT fingerprint, state, outcome, created_at FROM worker_results \
                     WHERE idempotency_key = $1",
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
                    _ if created_at < ms(retake_before) => {
                        sqlx::query(
                            "UPDATE worker_results SET created_at = $2 WHERE idempotency_key = $1",
                        )
                        .bind(&sub.key)
                        .bind(ms(now))
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
        .bind(ms(now))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn abandon_result(&self, key: &str) -> StoreResult<()> {
        self.calls.hit();
        sqlx::query("DELETE FROM worker_results WHERE idempotency_key = $1 AND state = 'applying'")
            .bind(key)
            .execute(&self.writer)
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
        // The single writer connection serializes concurrent actions.
        let mut tx = self.writer.begin().await?;
        let fleet = fleet_in(&mut tx).await?;
        let before = match domain::targeted(&fleet, &cmd.worker_ids) {
            Ok(b) => b,
            Err(unknown) => return Ok(Err(ActionError::Unknown(unknown))),
        };
        let override_used = match check(&fleet) {
            Ok(o) => o,
            Err(refusal) => return Ok(Err(ActionError::Refused(refusal))),
        };
        sqlx::query(
            "UPDATE workers SET desired_state = $2 WHERE id IN (SELECT value FROM json_each($1))",
        )
        .bind(to_json(&cmd.worker_ids)?)
        .bind(domain::desired_for(cmd.action).as_str())
        .execute(&mut *tx)
        .await?;
        let version = state_in(&mut tx).await?.version;
        let row = sqlx::query(COUNTS_SQL)
            .bind(ms(now))
            .fetch_one(&mut *tx)
            .await?;
        let metrics = counts_from_row(&row)?.drain_metrics();
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
        let mut tx = self.writer.begin().await?;
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
        .bind(r.id.to_string())
        .bind(r.status.as_str())
        .bind(i64::from(r.max_unavailable))
        .bind(i64::from(r.deadline_seconds))
        .bind(&r.reason)
        .bind(&r.actor)
        .bind(to_json(&r.workers)?)
        .bind(&r.message)
        .bind(ms(r.created_at))
        .bind(r.finished_at.map(ms))
        .execute(&self.writer)
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
                "a rolling restart is already running; cancel it or wait for it to finish".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    async fn get_rollout(&self, id: uuid::Uuid) -> StoreResult<RollingRestart> {
        self.calls.hit();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ROLLOUT_COLUMNS} FROM rolling_restarts WHERE id = $1"
        )))
        .bind(id.to_string())
        .fetch_optional(&self.reader)
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
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(rollout_from_row).collect()
    }

    async fn cancel_rollout(
        &self,
        id: uuid::Uuid,
        message: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<RollingRestart> {
        self.calls.hit();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE rolling_restarts SET status = 'cancelled', message = $2, finished_at = $3 \
             WHERE id = $1 AND status = 'running' RETURNING {ROLLOUT_COLUMNS}"
        )))
        .bind(id.to_string())
        .bind(message)
        .bind(ms(now))
        .fetch_optional(&self.writer)
        .await?;
        match row {
            Some(row) => rollout_from_row(&row),
            None => Err(not_running(&self.get_rollout(id).await?)),
        }
    }

    async fn advance_rollout(&self, step: RolloutStep<'_>) -> StoreResult<Option<RollingRestart>> {
        self.calls.hit();
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ROLLOUT_COLUMNS} FROM rolling_restarts WHERE status = 'running'"
        )))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.commit().await?;
            return Ok(None);
        };
        let current = rollout_from_row(&row)?;
        let fleet = fleet_in(&mut tx).await?;
        let out = step(current, &fleet);
        for (id, desired) in &out.set_desired {
            sqlx::query("UPDATE workers SET desired_state = $2 WHERE id = $1")
                .bind(id)
                .bind(desired.as_str())
                .execute(&mut *tx)
                .await?;
        }
        let r = out.rollout;
        sqlx::query(
            "UPDATE rolling_restarts SET status = $2, workers = $3, message = $4, finished_at = $5 WHERE id = $1",
        )
        .bind(r.id.to_string())
        .bind(r.status.as_str())
        .bind(to_json(&r.workers)?)
        .bind(&r.message)
        .bind(r.finished_at.map(ms))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(r))
    }

    async fn create_token(&self, t: &TokenRecord) -> StoreResult<()> {
        self.calls.hit();
        let done = sqlx::query(
            "INSERT INTO api_tokens (id, name, role, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&t.id)
        .bind(&t.name)
        .bind(t.role.as_str())
        .bind(&t.secret_hash)
        .bind(ms(t.created_at))
        .execute(&self.writer)
        .await?
        .rows_affected();
        if done == 0 {
            return Err(StoreError::Conflict(format!(
                "a token named {:?} already exists",
                t.name
            )));
        }
        Ok(())
    }

    async fn find_token(&self, id: &str) -> StoreResult<Option<TokenRecord>> {
        self.calls.hit();
        let row = sqlx::query(
            "SELECT id, name, role, secret_hash, created_at, revoked_at FROM api_tokens WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn list_tokens(&self) -> StoreResult<Vec<TokenRecord>> {
        self.calls.hit();
        let rows = sqlx::query(
            "SELECT id, name, role, secret_hash, created_at, revoked_at FROM api_tokens ORDER BY name",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_token(&self, name: &str, now: DateTime<Utc>) -> StoreResult<TokenRecord> {
        self.calls.hit();
        let row = sqlx::query(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE name = $1 \
             RETURNING id, name, role, secret_hash, created_at, revoked_at",
        )
        .bind(name)
        .bind(ms(now))
        .fetch_optional(&self.writer)
        .await?
        .ok_or(StoreError::NotFound)?;
        token_from_row(&row)
    }

    async fn listen(&self) -> StoreResult<Option<tokio::sync::mpsc::Receiver<Notice>>> {
        Ok(None)
    }
}
