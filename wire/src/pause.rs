//! The global worker pause: its status, the request that changes it, and the
//! audit events it leaves behind.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How the fleet is paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum PauseMode {
    /// No new claims; running jobs finish naturally.
    Drain,
    /// No new claims; running jobs also stop at their next checkpoint while
    /// their workers keep heartbeating.
    Quiesce,
}

impl PauseMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PauseMode::Drain => "drain",
            PauseMode::Quiesce => "quiesce",
        }
    }

    pub fn parse(s: &str) -> Option<PauseMode> {
        match s {
            "drain" => Some(PauseMode::Drain),
            "quiesce" => Some(PauseMode::Quiesce),
            _ => None,
        }
    }
}

/// `queued`, `running`, `staleRunning` (running with an expired lease) and
/// `isDrained` = nothing running and nothing stale.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DrainMetrics {
    pub queued: i64,
    pub running: i64,
    pub stale_running: i64,
    pub is_drained: bool,
}

impl DrainMetrics {
    pub fn new(queued: i64, running: i64, stale_running: i64) -> Self {
        DrainMetrics {
            queued,
            running,
            stale_running,
            is_drained: running == 0 && stale_running == 0,
        }
    }
}

/// One entry of the append-only control log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ControlEvent {
    pub id: i64,
    /// `pause` or `resume` (per-worker actions add their own).
    pub action: String,
    pub mode: Option<PauseMode>,
    pub reason: String,
    pub actor: String,
    /// True when the fleet was resumed before it had drained (risk accepted).
    pub force_resume: bool,
    /// The drain metrics at the moment of the action.
    pub metrics: DrainMetrics,
    /// The pause-state version this event produced.
    pub version: i64,
    pub success: bool,
    /// The client's idempotency key for the request, when it sent one.
    #[serde(default)]
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
    /// For per-worker actions and rolling restarts: the targeted workers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// For per-worker actions: each worker's result, overrides, the ETA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    /// For a queue's pause or resume (`queue.pause`, `queue.resume`): the
    /// queue. Its `metrics` are that queue's and its `version` the queue's
    /// pause version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
}

/// `audit: {latest: [...]}` on the status, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditBlock {
    pub latest: Vec<ControlEvent>,
}

/// `GET /api/system/worker-pause` and the answer to a `POST` to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WorkerPauseStatus {
    pub workers_paused: bool,
    pub mode: Option<PauseMode>,
    pub reason: Option<String>,
    /// Starts at 1, grows by exactly one on every state change.
    pub version: i64,
    pub requested_by: Option<String>,
    #[serde(default)]
    pub requested_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub metrics: DrainMetrics,
    pub audit: AuditBlock,
    /// Present only on a POST answer that needs attention, e.g. a resume
    /// before the fleet had drained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// A timed pause: when the fleet resumes by itself. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// Which online workers have applied this version (the status and the
    /// answer to a change carry it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledgement: Option<crate::PauseAcknowledgement>,
    /// Only on the answer to a `dryRun` request: what it would do. The
    /// rest of the status is the state as it is (unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<crate::PauseImpact>,
}

/// `POST /api/system/worker-pause`. Kept loose (every field optional) so the
/// server can say precisely which field is missing or wrong.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PauseRequest {
    /// `pause` or `resume`.
    #[serde(default)]
    pub action: Option<String>,
    /// `drain` or `quiesce`; required for `pause`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Required for both; non-empty after trimming, bounded length.
    #[serde(default)]
    pub reason: Option<String>,
    /// Acknowledge resuming before the fleet has drained.
    #[serde(default)]
    pub force_resume: Option<bool>,
    /// Refuse with 409 unless the state is still at this version.
    #[serde(default)]
    pub expected_version: Option<i64>,
    /// Idempotency key: a repeat with the same id is applied once.
    #[serde(default)]
    pub request_id: Option<String>,
    /// A timed pause (`pause` only): an RFC 3339 time in the future at
    /// which the fleet resumes by itself (audited with the actor `system`).
    #[serde(default)]
    pub until: Option<String>,
    /// Validate and answer what the request would do (`impact`), changing
    /// nothing: no write, no audit event, no new version.
    #[serde(default)]
    pub dry_run: Option<bool>,
}

impl PauseRequest {
    /// A pause in `mode` for `reason` (the other fields unset).
    pub fn pause(mode: PauseMode, reason: impl Into<String>) -> PauseRequest {
        PauseRequest {
            action: Some("pause".into()),
            mode: Some(mode.as_str().into()),
            reason: Some(reason.into()),
            ..PauseRequest::default()
        }
    }

    /// A resume for `reason`; `force` acknowledges resuming before the
    /// fleet has drained.
    pub fn resume(reason: impl Into<String>, force: bool) -> PauseRequest {
        PauseRequest {
            action: Some("resume".into()),
            reason: Some(reason.into()),
            force_resume: Some(force),
            ..PauseRequest::default()
        }
    }
}

/// The query of `GET /api/system/worker-pause/events`: a page of at most
/// `limit` events (the server bounds it), older than the event id `before`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<i64>,
}

/// The query of `GET /api/system/worker-pause/events` with its filters:
/// [`EventsQuery`] plus an exact `action` and an `actor` the event's actor
/// contains (any case). The server filters before it pages, so a page is
/// `limit` matching events and `nextBefore` continues among the matches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema, utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[serde(deny_unknown_fields)]
pub struct EventsSearch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

/// `GET /api/system/worker-pause/events?limit=&before=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EventsPage {
    pub events: Vec<ControlEvent>,
    /// Pass as `before` to get the next (older) page; absent on the last.
    pub next_before: Option<i64>,
}

/// The `system` block on claim and heartbeat answers: what a worker needs to
/// know about the global pause, and how long to sleep while it lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SystemBlock {
    pub workers_paused: bool,
    pub mode: Option<PauseMode>,
    pub reason: Option<String>,
    pub version: i64,
    pub pause_poll_interval_ms: u64,
    /// The paused queues among the caller's: a claim's `queues` (every
    /// queue when it named none), a lease heartbeat's job's queue, every
    /// queue on a worker heartbeat. A running job whose queue is listed in
    /// `quiesce` mode holds at its next checkpoint.
    #[serde(default)]
    pub paused_queues: Vec<crate::PausedQueue>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_both_ways() {
        let json = r#"{"id":7,"action":"pause","mode":"drain","reason":"r","actor":"a",
            "forceResume":false,"metrics":{"queued":0,"running":1,"staleRunning":0,"isDrained":false},
            "version":3,"success":true,"createdAt":"2026-11-22T21:47:28.123+02:00"}"#;
        let e: ControlEvent = serde_json::from_str(json).expect("an event");
        assert_eq!(e.created_at.timestamp_millis(), 1_795_376_848_123);
        // Written back as UTC, and read again unchanged.
        let out = serde_json::to_value(&e).expect("encodes");
        assert_eq!(out["createdAt"], "2026-11-22T19:47:28.123Z");
        let again: ControlEvent = serde_json::from_value(out).expect("decodes");
        assert_eq!(again, e);
        let bad = json.replace("2026-11-22T21:47:28.123+02:00", "yesterday");
        assert!(serde_json::from_str::<ControlEvent>(&bad).is_err());
    }
}
