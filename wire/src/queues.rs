//! Named queues: their list with counts and pause state, and the requests
//! that pause and resume one queue (the global pause's semantics, applied
//! to that queue's jobs).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::PauseMode;

/// The queue a job goes to when its enqueue names none.
pub const DEFAULT_QUEUE: &str = "default";

/// [`DEFAULT_QUEUE`], for serde defaults.
pub fn default_queue() -> String {
    DEFAULT_QUEUE.to_string()
}

/// One queue: its pause state and its live jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct QueueInfo {
    pub name: String,
    pub paused: bool,
    /// While paused: `drain` or `quiesce`.
    pub mode: Option<PauseMode>,
    /// The reason of the latest pause or resume.
    pub reason: Option<String>,
    /// Who made the latest pause or resume.
    pub actor: Option<String>,
    /// While paused: since when.
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
    /// A timed pause: when the queue resumes by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// The queue's pause version: 1 for a queue never paused, +1 on every
    /// change (send it back as `expectedVersion`).
    pub version: i64,
    /// Claimable now.
    pub queued: i64,
    /// Queued, but not before their `runAfter`.
    pub scheduled: i64,
    pub running: i64,
    /// Running with an expired lease.
    pub stale_running: i64,
    /// Nothing of this queue running or stale.
    pub is_drained: bool,
    /// On a pause/resume answer that needs attention (a resume before the
    /// queue drained).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// Only on the answer to a `dryRun` pause or resume: what it would do
    /// (the rest is the queue as it is, unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<crate::PauseImpact>,
}

/// `GET /api/queues`: every queue that has jobs or a pause, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueList {
    pub queues: Vec<QueueInfo>,
}

/// `POST /api/queues/{name}/pause`. Loose, like [`crate::PauseRequest`], so
/// the server names the missing or wrong field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueuePauseRequest {
    /// `drain` or `quiesce` (required).
    #[serde(default)]
    pub mode: Option<String>,
    /// Required: non-empty after trimming, bounded length.
    #[serde(default)]
    pub reason: Option<String>,
    /// A timed pause: an RFC 3339 time in the future at which the queue
    /// resumes by itself.
    #[serde(default)]
    pub until: Option<String>,
    /// Refuse with 409 unless the queue's pause is still at this version.
    #[serde(default)]
    pub expected_version: Option<i64>,
    /// Idempotency key (unique across all control actions).
    #[serde(default)]
    pub request_id: Option<String>,
    /// Validate and answer what the request would do (`impact`), changing
    /// nothing: no write, no audit event, no new version.
    #[serde(default)]
    pub dry_run: Option<bool>,
}

/// `POST /api/queues/{name}/resume`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueueResumeRequest {
    #[serde(default)]
    pub reason: Option<String>,
    /// Acknowledge resuming before the queue has drained.
    #[serde(default)]
    pub force_resume: Option<bool>,
    #[serde(default)]
    pub expected_version: Option<i64>,
    #[serde(default)]
    pub request_id: Option<String>,
    /// Validate and answer what the request would do (`impact`), changing
    /// nothing: no write, no audit event, no new version.
    #[serde(default)]
    pub dry_run: Option<bool>,
}

/// A paused queue, as the `system` block names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PausedQueue {
    pub name: String,
    pub mode: PauseMode,
    pub reason: Option<String>,
    /// The queue's pause version.
    pub version: i64,
}
