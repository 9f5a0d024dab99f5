//! Result rows into domain values, once for both dialects (each dialect's
//! [`RowReader`] turns its storage types into ours).

use wire::{
    ControlEvent, DesiredState, DrainMetrics, Job, JobStatus, PauseMode, ReportedState,
    RollingRestart, RolloutStatus,
};

use super::driver::RowReader;
use super::error::{StoreError, StoreResult};
use crate::domain::{LiveCounts, PauseState, QueuePause, Role, TokenRecord, WorkerRecord};

/// Parses a text column holding one of our enums.
fn parse<T>(what: &str, raw: String, parse: fn(&str) -> Option<T>) -> StoreResult<T> {
    parse(&raw).ok_or_else(|| StoreError::corrupt(what, format!("{raw:?}")))
}

pub(crate) fn job(r: &impl RowReader) -> StoreResult<Job> {
    Ok(Job {
        id: r.id("id")?,
        job_type: r.text("type")?,
        queue: r.text("queue")?,
        // NULL only where a listing left it out (the column is NOT NULL).
        payload: r.opt_json("payload")?.unwrap_or_default(),
        priority: r.i32("priority")?,
        status: parse("job status", r.text("status")?, JobStatus::parse)?,
        attempts: r.i32("attempts")?,
        max_attempts: r.i32("max_attempts")?,
        worker_id: r.opt_text("worker_id")?,
        // Never shown: only the claim that hands it out sets it.
        lease_token: None,
        lease_expires_at: r.opt_time("lease_expires_at")?,
        run_after: r.time("run_after")?,
        unique_key: r.opt_text("unique_key")?,
        paused_at_checkpoint: r.bool("paused_at_checkpoint")?,
        result: r.opt_json("result")?,
        error: r.opt_text("error")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
        started_at: r.opt_time("started_at")?,
        finished_at: r.opt_time("finished_at")?,
    })
}

/// The column names of the pause state in a result row (the one-statement
/// claim returns them under other names).
pub(crate) struct StateColumns {
    pub workers_paused: &'static str,
    pub mode: &'static str,
    pub reason: &'static str,
    pub requested_by: &'static str,
    pub requested_at: &'static str,
    pub paused_at: &'static str,
    pub resumed_at: &'static str,
    pub updated_at: &'static str,
    pub version: &'static str,
    pub until: &'static str,
}

/// The names of `state_columns!()`.
pub(crate) const STATE: StateColumns = StateColumns {
    workers_paused: "workers_paused",
    mode: "mode",
    reason: "reason",
    requested_by: "requested_by",
    requested_at: "requested_at",
    paused_at: "paused_at",
    resumed_at: "resumed_at",
    updated_at: "updated_at",
    version: "version",
    until: "until_at",
};

/// The names of `queue_columns!()` (a queue's row holds its pause state).
pub(crate) const QUEUE_STATE: StateColumns = StateColumns {
    workers_paused: "paused",
    ..STATE
};

/// A queue's row.
pub(crate) fn queue_pause(r: &impl RowReader) -> StoreResult<QueuePause> {
    Ok(QueuePause {
        name: r.text("name")?,
        state: pause_state(r, &QUEUE_STATE)?,
    })
}

pub(crate) fn pause_state(r: &impl RowReader, c: &StateColumns) -> StoreResult<PauseState> {
    Ok(PauseState {
        workers_paused: r.bool(c.workers_paused)?,
        mode: r.opt_text(c.mode)?.as_deref().and_then(PauseMode::parse),
        reason: r.opt_text(c.reason)?,
        requested_by: r.opt_text(c.requested_by)?,
        requested_at: r.opt_time(c.requested_at)?,
        paused_at: r.opt_time(c.paused_at)?,
        resumed_at: r.opt_time(c.resumed_at)?,
        updated_at: r.time(c.updated_at)?,
        version: r.i64(c.version)?,
        until: r.opt_time(c.until)?,
    })
}

pub(crate) fn event(r: &impl RowReader) -> StoreResult<ControlEvent> {
    Ok(ControlEvent {
        id: r.i64("id")?,
        action: r.text("action")?,
        mode: r.opt_text("mode")?.as_deref().and_then(PauseMode::parse),
        reason: r.text("reason")?,
        actor: r.text("actor")?,
        force_resume: r.bool("force_resume")?,
        metrics: DrainMetrics {
            queued: r.i64("queued")?,
            running: r.i64("running")?,
            stale_running: r.i64("stale_running")?,
            is_drained: r.bool("is_drained")?,
        },
        version: r.i64("version")?,
        success: r.bool("success")?,
        request_id: r.opt_text("request_id")?,
        created_at: r.time("created_at")?,
        targets: r.json("targets")?,
        details: r.opt_json("details")?,
        queue: r.opt_text("queue")?,
    })
}

pub(crate) fn worker(r: &impl RowReader) -> StoreResult<WorkerRecord> {
    Ok(WorkerRecord {
        id: r.text("id")?,
        name: r.text("name")?,
        hostname: r.text("hostname")?,
        version: r.text("version")?,
        labels: r.json("labels")?,
        boot_id: r.text("boot_id")?,
        started_at: r.time("started_at")?,
        last_heartbeat_at: r.time("last_heartbeat_at")?,
        reported_state: parse(
            "reported_state",
            r.text("reported_state")?,
            ReportedState::parse,
        )?,
        active_jobs: r.json("active_jobs")?,
        leased_jobs: None,
        offline_backlog: r.i32("offline_backlog")?.max(0) as u32,
        desired_state: parse(
            "desired_state",
            r.text("desired_state")?,
            DesiredState::parse,
        )?,
        applied_version: r.opt_i64("applied_version")?,
        applied_at: r.opt_time("applied_at")?,
    })
}

pub(crate) fn rollout(r: &impl RowReader) -> StoreResult<RollingRestart> {
    Ok(RollingRestart {
        id: r.id("id")?,
        status: parse("rollout status", r.text("status")?, RolloutStatus::parse)?,
        max_unavailable: r.i32("max_unavailable")?.max(0) as u32,
        deadline_seconds: r.i32("deadline_seconds")?.max(0) as u32,
        reason: r.text("reason")?,
        actor: r.text("actor")?,
        created_at: r.time("created_at")?,
        finished_at: r.opt_time("finished_at")?,
        workers: r.json("workers")?,
        message: r.opt_text("message")?,
    })
}

pub(crate) fn token(r: &impl RowReader) -> StoreResult<TokenRecord> {
    Ok(TokenRecord {
        id: r.text("id")?,
        name: r.text("name")?,
        role: parse("role", r.text("role")?, Role::parse)?,
        secret_hash: r.text("secret_hash")?,
        created_at: r.time("created_at")?,
        revoked_at: r.opt_time("revoked_at")?,
    })
}

pub(crate) fn live_counts(r: &impl RowReader) -> StoreResult<LiveCounts> {
    Ok(LiveCounts {
        queued: r.i64("queued")?,
        scheduled: r.i64("scheduled")?,
        running: r.i64("running")?,
        stale_running: r.i64("stale_running")?,
    })
}
