//! The worker protocol: registration, worker heartbeats with directives,
//! the fleet list, and idempotent result submission.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::SystemBlock;

/// What the operator wants a worker to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DesiredState {
    Active,
    Paused,
    Draining,
}

/// What a worker is seen doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ObservedState {
    Running,
    Paused,
    Draining,
    Stopped,
    /// No heartbeat within the stale threshold.
    Offline,
}

/// What a worker reports about itself in heartbeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ReportedState {
    Running,
    Paused,
    Draining,
    Stopped,
}

/// The instruction a worker gets in every heartbeat answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Directive {
    /// Claim and run jobs (subject to the global pause in `system`).
    Run,
    /// Stop claiming, keep heartbeating, resumable.
    Pause,
    /// Stop claiming, finish current jobs, exit 0.
    Drain,
}

/// `POST /api/workers/register`. A worker keeps its `workerId` across
/// restarts; `bootId` changes on every process start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    #[serde(default)]
    pub worker_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub boot_id: Option<String>,
}

/// `POST /api/workers/{id}/heartbeat`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkerHeartbeatRequest {
    #[serde(default)]
    pub boot_id: Option<String>,
    #[serde(default)]
    pub state: Option<ReportedState>,
    #[serde(default)]
    pub active_jobs: Option<Vec<Uuid>>,
    /// Result envelopes waiting in the worker's spool.
    #[serde(default)]
    pub offline_backlog: Option<u32>,
    /// The global pause version this worker has applied (acted on): drain,
    /// it has stopped claiming; quiesce, also every running job is held at
    /// a checkpoint (or none runs); a resume, it claims again. Absent from
    /// workers that do not report it (the server keeps what it had).
    #[serde(default)]
    pub applied_version: Option<i64>,
}

/// The answer to a register or worker heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WorkerDirectiveResponse {
    pub worker: WorkerInfo,
    pub directive: Directive,
    pub system: SystemBlock,
}

/// One worker in `GET /api/workers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WorkerInfo {
    pub id: String,
    pub name: String,
    pub hostname: String,
    pub version: String,
    pub labels: BTreeMap<String, String>,
    pub boot_id: String,
    /// When this boot registered.
    pub started_at: DateTime<Utc>,
    pub last_heartbeat_at: DateTime<Utc>,
    /// The running jobs leased to this worker, as the server's leases say
    /// (in a register or heartbeat answer: what the worker reported).
    pub active_jobs: Vec<Uuid>,
    /// What the worker itself last reported, present only when it
    /// disagrees with its leases (a job it has not picked up yet, or one it
    /// lost track of).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_active_jobs: Option<Vec<Uuid>>,
    /// Something an operator should look at, e.g. a worker that reports no
    /// jobs while it holds leases (they will block a drain until they
    /// expire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    pub desired_state: DesiredState,
    pub observed_state: ObservedState,
    pub offline_backlog: u32,
    /// The global pause version this worker last reported as applied, and
    /// when it first did; absent until it reports one.
    #[serde(default)]
    pub applied_version: Option<i64>,
    #[serde(default)]
    pub applied_at: Option<DateTime<Utc>>,
}

/// `GET /api/workers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkerList {
    pub workers: Vec<WorkerInfo>,
}

/// `GET /api/workers/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FleetHealth {
    pub online: u32,
    pub offline: u32,
    pub stale_after_seconds: u64,
    pub queue_depth: i64,
    pub running: i64,
    pub workers: Vec<WorkerHealth>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WorkerHealth {
    pub id: String,
    pub online: bool,
    /// `last_seen` in the seed's words.
    pub last_seen: DateTime<Utc>,
    pub seconds_since_seen: i64,
    pub stale: bool,
}

/// `GET /api/workers/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FleetMetrics {
    pub queue_depth: i64,
    pub failure_count: i64,
    /// Mean claim-to-finish time of jobs finished in the last hour.
    pub average_task_latency_ms: Option<f64>,
    pub workers: Vec<WorkerMetrics>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WorkerMetrics {
    pub id: String,
    pub heartbeat_age_seconds: i64,
    pub offline_backlog: u32,
}

/// `payloadType` of a result envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PayloadType {
    Facts,
    Logs,
    ExecutionResult,
    Health,
}

impl PayloadType {
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadType::Facts => "facts",
            PayloadType::Logs => "logs",
            PayloadType::ExecutionResult => "execution_result",
            PayloadType::Health => "health",
        }
    }

    pub fn parse(s: &str) -> Option<PayloadType> {
        [
            PayloadType::Facts,
            PayloadType::Logs,
            PayloadType::ExecutionResult,
            PayloadType::Health,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// `POST /api/workers/results`: applied once per `idempotencyKey`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResultEnvelope {
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// `facts`, `logs`, `execution_result` or `health` (a string so an
    /// unknown type is a clear 422, not a parse error).
    #[serde(default)]
    pub payload_type: Option<String>,
    #[serde(default)]
    pub task_id: Option<Uuid>,
    #[serde(default)]
    pub worker_id: Option<String>,
    #[serde(default)]
    pub payload: Option<serde_json::Value>,
}

/// The payload of an `execution_result`: a job's outcome, fenced by its
/// lease token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecutionResult {
    pub lease_token: Uuid,
    /// `succeeded` or `failed`.
    pub status: String,
    #[serde(default)]
    pub result: Option<serde_json::Value>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub retryable: Option<bool>,
}

/// The answer to a result submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ResultAck {
    pub idempotency_key: String,
    /// False when this key had been applied before (acknowledged again).
    pub applied_now: bool,
    pub accepted_at: DateTime<Utc>,
}

impl DesiredState {
    pub fn as_str(self) -> &'static str {
        match self {
            DesiredState::Active => "active",
            DesiredState::Paused => "paused",
            DesiredState::Draining => "draining",
        }
    }

    pub fn parse(s: &str) -> Option<DesiredState> {
        [
            DesiredState::Active,
            DesiredState::Paused,
            DesiredState::Draining,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

impl ObservedState {
    pub const ALL: [ObservedState; 5] = [
        ObservedState::Running,
        ObservedState::Paused,
        ObservedState::Draining,
        ObservedState::Stopped,
        ObservedState::Offline,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ObservedState::Running => "running",
            ObservedState::Paused => "paused",
            ObservedState::Draining => "draining",
            ObservedState::Stopped => "stopped",
            ObservedState::Offline => "offline",
        }
    }

    pub fn parse(s: &str) -> Option<ObservedState> {
        ObservedState::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl ReportedState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportedState::Running => "running",
            ReportedState::Paused => "paused",
            ReportedState::Draining => "draining",
            ReportedState::Stopped => "stopped",
        }
    }

    pub fn parse(s: &str) -> Option<ReportedState> {
        [
            ReportedState::Running,
            ReportedState::Paused,
            ReportedState::Draining,
            ReportedState::Stopped,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_state_names_are_the_wire_names() {
        use ObservedState::*;
        for s in [Running, Paused, Draining, Stopped, Offline] {
            assert_eq!(
                serde_json::to_value(s).expect("encodes"),
                serde_json::json!(s.as_str())
            );
        }
    }
}
