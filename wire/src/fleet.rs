//! Fleet controls: per-worker actions and rolling restarts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{ControlEvent, DesiredState};

/// `pause`, `resume` or `drain` one or many workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum WorkerActionKind {
    Pause,
    Resume,
    Drain,
}

impl WorkerActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerActionKind::Pause => "pause",
            WorkerActionKind::Resume => "resume",
            WorkerActionKind::Drain => "drain",
        }
    }

    pub fn parse(s: &str) -> Option<WorkerActionKind> {
        [
            WorkerActionKind::Pause,
            WorkerActionKind::Resume,
            WorkerActionKind::Drain,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

/// `POST /api/workers/actions`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkerActionRequest {
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub worker_ids: Option<Vec<String>>,
    #[serde(default)]
    pub reason: Option<String>,
    /// The phrase a safety refusal named, typed to override it.
    #[serde(default)]
    pub confirm: Option<String>,
    /// Validate (the same 4xx and safety refusal as the real request) and
    /// answer what the action would do ([`WorkerActionDryRun`]), changing
    /// nothing: no desired state written, no audit event.
    #[serde(default)]
    pub dry_run: Option<bool>,
}

/// The answer to a `dryRun` worker action: what it would do now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WorkerActionDryRun {
    pub dry_run: bool,
    pub action: WorkerActionKind,
    /// Each targeted worker: the desired state it would get, and the jobs
    /// it holds now (from its leases).
    pub results: Vec<WorkerActionResult>,
    /// For a drain: seconds until the targeted workers should be idle.
    pub eta_seconds: Option<f64>,
    /// Available workers before and after, the configured minimum, the
    /// available workers it takes out of service, their running jobs.
    pub impact: ActionImpact,
    /// It passes the safety rule only with the typed phrase it carries.
    pub override_used: bool,
}

/// What happened to one targeted worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WorkerActionResult {
    pub worker_id: String,
    pub ok: bool,
    pub previous_desired_state: DesiredState,
    pub desired_state: DesiredState,
    /// Jobs it was running when the action was taken.
    pub running_jobs: usize,
}

/// The answer to a worker action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WorkerActionResponse {
    pub action: WorkerActionKind,
    pub results: Vec<WorkerActionResult>,
    /// For a drain: seconds until the targeted workers should be idle, from
    /// their running jobs' ages and recent durations of those job types.
    pub eta_seconds: Option<f64>,
    /// The safety rule was overridden with the typed phrase.
    pub override_used: bool,
    pub event: ControlEvent,
}

/// What a refused action would have done (409 body, beside `error`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ActionImpact {
    pub available_before: usize,
    pub available_after: usize,
    pub minimum: usize,
    pub affected_workers: Vec<String>,
    pub running_jobs: usize,
}

/// `POST /api/workers/rolling-restarts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RollingRestartRequest {
    #[serde(default)]
    pub worker_ids: Option<Vec<String>>,
    #[serde(default)]
    pub all: Option<bool>,
    #[serde(default)]
    pub max_unavailable: Option<u32>,
    #[serde(default)]
    pub reason: Option<String>,
    /// How long one worker may take to drain and come back (default 300).
    #[serde(default)]
    pub deadline_seconds: Option<u32>,
    #[serde(default)]
    pub confirm: Option<String>,
}

/// Optional body of `POST /api/workers/rolling-restarts/{id}/cancel`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RollingRestartCancelRequest {
    /// Recorded in the audit log.
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum RolloutStatus {
    Running,
    Done,
    Failed,
    Cancelled,
}

impl RolloutStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutStatus::Running => "running",
            RolloutStatus::Done => "done",
            RolloutStatus::Failed => "failed",
            RolloutStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<RolloutStatus> {
        [
            RolloutStatus::Running,
            RolloutStatus::Done,
            RolloutStatus::Failed,
            RolloutStatus::Cancelled,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum RolloutWorkerState {
    Pending,
    Draining,
    Restarting,
    Done,
    Failed,
}

impl RolloutWorkerState {
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutWorkerState::Pending => "pending",
            RolloutWorkerState::Draining => "draining",
            RolloutWorkerState::Restarting => "restarting",
            RolloutWorkerState::Done => "done",
            RolloutWorkerState::Failed => "failed",
        }
    }
}

/// One worker of a rolling restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RolloutWorker {
    pub worker_id: String,
    pub state: RolloutWorkerState,
    /// The boot it had when its drain began; "restarted" = a new boot id.
    pub boot_id_before: Option<String>,
    pub boot_id_after: Option<String>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    pub message: Option<String>,
}

/// `GET /api/workers/rolling-restarts/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RollingRestart {
    pub id: Uuid,
    pub status: RolloutStatus,
    pub max_unavailable: u32,
    pub deadline_seconds: u32,
    pub reason: String,
    pub actor: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    pub workers: Vec<RolloutWorker>,
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollout_worker_state_names_are_the_wire_names() {
        use RolloutWorkerState::*;
        for s in [Pending, Draining, Restarting, Done, Failed] {
            assert_eq!(
                serde_json::to_value(s).expect("encodes"),
                serde_json::json!(s.as_str())
            );
        }
    }
}
