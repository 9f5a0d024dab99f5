//! What the dashboard needs beyond the pause status: the runtime config the
//! server injects into the page, the drain view (what blocks the drain, the
//! running-jobs history, an ETA) and the messages of the live stream.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{DrainMetrics, WorkerPauseStatus};

/// Injected by the server into `index.html` as
/// `<script id="lull-config" type="application/json">…</script>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DashboardConfig {
    /// `GET`/`POST` the pause status.
    pub pause_endpoint: String,
    /// The audit log (`?limit=&before=`).
    pub events_endpoint: String,
    /// Server-sent events: `state` on every version change, `metrics` ticks.
    pub stream_endpoint: String,
    /// Fallback polling interval while the stream is down.
    pub poll_interval_ms: u64,
    /// How often the stream sends a `metrics` tick.
    pub metrics_tick_ms: u64,
    /// After this long without any stream message the page checks the
    /// server with one poll; only a failed poll shows "disconnected".
    pub stale_after_ms: u64,
    /// `disabled` (no sign-in) or `token` (sign in at `POST /auth/login`;
    /// `GET /auth/me` says who is signed in and with which role).
    #[serde(default)]
    pub auth_mode: String,
}

/// `GET /auth/me` (and the answer to a sign-in): who the credential is.
/// With authentication disabled everyone is the local operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// `disabled` or `token`.
    pub auth_mode: String,
    pub signed_in: bool,
    pub name: Option<String>,
    /// `viewer`, `worker` or `operator`.
    pub role: Option<String>,
}

/// A running (or stale) job that keeps `isDrained` false.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BlockingJob {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub job_type: String,
    pub worker_id: Option<String>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// The lease has expired: the worker stopped heartbeating.
    pub stale: bool,
    pub paused_at_checkpoint: bool,
    /// Started + the recent average duration of this job type, when known.
    #[serde(default)]
    pub expected_end_at: Option<DateTime<Utc>>,
}

/// One sample of the running-jobs chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RunningSample {
    pub at: DateTime<Utc>,
    pub running: i64,
    pub stale_running: i64,
}

/// The drain card's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DrainView {
    pub metrics: DrainMetrics,
    /// Oldest lease first; at most 50.
    pub blocking: Vec<BlockingJob>,
    /// Running jobs over the last minutes, oldest first.
    pub history: Vec<RunningSample>,
    /// Jobs finished per minute over the last five minutes.
    pub completions_per_minute: f64,
    /// Seconds until drained at the recent completion rate; `None` when
    /// drained or when nothing has completed recently.
    pub eta_seconds: Option<f64>,
    /// While the fleet is paused: how far it is toward drained (computed by
    /// the server, once, for every client). Absent while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<DrainProgress>,
}

/// Progress toward drained since the pause began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DrainProgress {
    /// Jobs still in flight (running + stale).
    pub left: i64,
    /// The most that were in flight since the pause began (at the pause,
    /// or the peak of the history since).
    pub total: i64,
    /// `(total - left) * 100 / total`, or 100 when nothing was in flight.
    pub percent: i64,
}

/// A message on the live stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum StreamMessage {
    /// The full status; sent on connect and on every version change.
    State { status: Box<WorkerPauseStatus> },
    /// A periodic tick: metrics, and the version so a client can tell it
    /// missed nothing.
    Metrics {
        version: i64,
        metrics: DrainMetrics,
        at: DateTime<Utc>,
    },
}
