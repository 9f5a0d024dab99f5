//! Values for the state machine's unit tests: workers, statuses, events,
//! at times counted in seconds from a fixed instant.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use wire::{
    AuditBlock, ControlEvent, DesiredState, DrainMetrics, DrainView, FleetHealth, ObservedState,
    PauseMode, WorkerInfo, WorkerPauseStatus,
};

use super::Snapshot;

/// `s` seconds after a fixed instant.
pub fn t(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
}

/// A running, active worker `id` that last heartbeated at `t(heartbeat)`.
pub fn worker(id: &str, heartbeat: i64) -> WorkerInfo {
    WorkerInfo {
        id: id.into(),
        name: id.into(),
        hostname: "host".into(),
        version: "1".into(),
        labels: BTreeMap::new(),
        boot_id: format!("boot-{id}"),
        started_at: t(0),
        last_heartbeat_at: t(heartbeat),
        active_jobs: Vec::new(),
        desired_state: DesiredState::Active,
        observed_state: ObservedState::Running,
        offline_backlog: 0,
        reported_active_jobs: None,
        warning: None,
        applied_version: None,
        applied_at: None,
    }
}

/// The fleet running (`mode: None`) or paused, with `running` jobs.
pub fn status(mode: Option<PauseMode>, running: i64, version: i64) -> WorkerPauseStatus {
    WorkerPauseStatus {
        workers_paused: mode.is_some(),
        mode,
        reason: mode.map(|_| "deploy".to_string()),
        version,
        requested_by: Some("local".into()),
        requested_at: Some(t(0)),
        updated_at: t(0),
        metrics: DrainMetrics::new(2, running, 0),
        audit: AuditBlock::default(),
        warning: None,
        until: None,
        acknowledgement: None,
        impact: None,
    }
}

/// An audit event `id`.
pub fn event(id: i64, action: &str) -> ControlEvent {
    ControlEvent {
        id,
        action: action.into(),
        mode: None,
        reason: format!("reason {id}"),
        actor: "local".into(),
        force_resume: false,
        metrics: DrainMetrics::default(),
        version: id,
        success: true,
        request_id: None,
        created_at: t(id),
        targets: Vec::new(),
        details: None,
        queue: None,
    }
}

/// A snapshot of `workers` with the pause `status` and nothing blocking.
pub fn snapshot(status: WorkerPauseStatus, workers: Vec<WorkerInfo>) -> Snapshot {
    Snapshot {
        drain: DrainView {
            metrics: status.metrics,
            blocking: Vec::new(),
            history: Vec::new(),
            completions_per_minute: 0.0,
            eta_seconds: None,
            progress: None,
        },
        pause: status,
        health: FleetHealth {
            online: workers.len() as u32,
            offline: 0,
            stale_after_seconds: 15,
            queue_depth: 0,
            running: 0,
            workers: Vec::new(),
        },
        workers,
        queues: Vec::new(),
    }
}

/// A queue `name` with `queued` and `running` jobs, paused in `mode` or
/// running (`None`).
pub fn queue(name: &str, mode: Option<PauseMode>, queued: i64, running: i64) -> wire::QueueInfo {
    wire::QueueInfo {
        name: name.into(),
        paused: mode.is_some(),
        mode,
        reason: mode.map(|_| "provider down".to_string()),
        actor: mode.map(|_| "local".to_string()),
        since: mode.map(|_| t(10)),
        until: None,
        version: if mode.is_some() { 2 } else { 1 },
        queued,
        scheduled: 0,
        running,
        stale_running: 0,
        is_drained: running == 0,
        warning: None,
        impact: None,
    }
}
