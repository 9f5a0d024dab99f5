//! Which workers have applied the current pause (`acknowledgement` on the
//! pause status), and what a pause or resume would do before it is made
//! (`impact` on a dry-run answer).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::PauseMode;

/// `acknowledgement` on `GET /api/system/worker-pause`: over the registered
/// workers that have not said goodbye, which have applied the current
/// pause version. Offline workers (no heartbeat within the stale
/// threshold) are listed apart and not counted: they cannot apply anything
/// until they come back, and then they apply the version they find.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PauseAcknowledgement {
    /// The global pause version being acknowledged (the status's).
    pub version: i64,
    /// Online workers.
    pub total: u32,
    /// Online workers whose applied version is at least `version`.
    pub applied: u32,
    /// Online workers that have not applied it yet, by id.
    pub pending: Vec<AcknowledgingWorker>,
    /// Workers whose heartbeat is stale, by id.
    pub offline: Vec<AcknowledgingWorker>,
    /// No online worker is pending (true for an empty fleet).
    pub complete: bool,
}

/// One worker in [`PauseAcknowledgement`]'s `pending` or `offline`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AcknowledgingWorker {
    pub worker_id: String,
    pub name: String,
    pub last_heartbeat_at: DateTime<Utc>,
    /// The version it last reported as applied (absent: never reported).
    pub applied_version: Option<i64>,
}

/// The query of `GET /api/system/worker-pause`: `waitApplied=10s` holds the
/// answer until every online worker has applied the current version, or
/// that long has passed (bounded by the server; the answer says which).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema, utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_applied: Option<String>,
}

/// `impact` on the answer to a `dryRun` pause or resume: what the request
/// would do, read from the state it describes. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PauseImpact {
    /// `pause` or `resume`.
    pub action: String,
    /// The mode a pause would set.
    pub mode: Option<PauseMode>,
    /// False when the request would change nothing (e.g. the same pause
    /// again): no new version.
    pub would_change: bool,
    /// The version the change would produce (the current one when it would
    /// change nothing).
    pub next_version: i64,
    /// Running jobs that will finish (a drain) — their workers keep them.
    pub running_jobs_finish: i64,
    /// Running jobs that will hold at their next checkpoint (a quiesce).
    pub running_jobs_hold: i64,
    /// Running jobs whose lease has expired (they block a drain until
    /// requeued).
    pub stale_running: i64,
    /// Queued jobs that will wait for the resume (a pause), or that workers
    /// will start taking (a resume).
    pub queued_jobs: i64,
    /// Online workers that will stop claiming (a pause) or start again (a
    /// resume).
    pub workers: u32,
    /// A resume now would be a force-resume (the fleet has not drained).
    pub force_resume: bool,
    /// One sentence for a confirmation dialog.
    pub summary: String,
}
