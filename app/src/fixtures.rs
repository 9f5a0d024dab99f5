//! Test data shared by the unit tests: a control event and a pause status
//! with every field at a plain value; a test changes what it is about with
//! struct update syntax.

use chrono::DateTime;
use wire::{ControlEvent, DrainMetrics, PauseMode, WorkerPauseStatus};

/// Event `id` (also its version and its time, in seconds) of `action`.
pub fn event(id: i64, action: &str) -> ControlEvent {
    ControlEvent {
        id,
        action: action.into(),
        mode: None,
        reason: "r".into(),
        actor: "a".into(),
        force_resume: false,
        metrics: DrainMetrics::default(),
        version: id,
        success: true,
        request_id: None,
        created_at: DateTime::from_timestamp(id, 0).expect("a time"),
        targets: vec![],
        details: None,
        queue: None,
    }
}

/// A status at version 1, running or paused in `mode`.
pub fn status(paused: bool, mode: Option<PauseMode>) -> WorkerPauseStatus {
    WorkerPauseStatus {
        workers_paused: paused,
        mode,
        reason: None,
        version: 1,
        requested_by: None,
        requested_at: None,
        updated_at: DateTime::from_timestamp(0, 0).expect("a time"),
        metrics: DrainMetrics::default(),
        audit: Default::default(),
        warning: None,
        until: None,
        acknowledgement: None,
        impact: None,
    }
}
