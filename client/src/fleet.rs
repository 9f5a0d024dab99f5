//! The fleet (`/api/workers`): registration and worker heartbeats, the
//! fleet views, per-worker actions, rolling restarts, and idempotent result
//! submission.

use uuid::Uuid;
use wire::{
    FleetHealth, FleetMetrics, RegisterRequest, ResultAck, ResultEnvelope, RollingRestart,
    RollingRestartCancelRequest, RollingRestartRequest, WorkerActionRequest, WorkerActionResponse,
    WorkerDirectiveResponse, WorkerHeartbeatRequest, WorkerList,
};

use crate::{Client, Endpoint, Result};

const ROLLOUTS: &[&str] = &["api", "workers", "rolling-restarts"];

impl Client {
    /// `POST /api/workers/register`: (re-)registers a worker; a new
    /// `bootId` marks a restart. Idempotent for the same boot. The answer
    /// carries the worker's directive and the `system` block. Errors:
    /// `Invalid { field }` (`workerId`, labels), `Forbidden` (a worker
    /// token registering another id).
    pub async fn register(&self, req: &RegisterRequest) -> Result<WorkerDirectiveResponse> {
        self.post(Endpoint::post(&["api", "workers", "register"]), Some(req))
            .await
    }

    /// `POST /api/workers/{id}/heartbeat`: reports the worker's state,
    /// active jobs and spool backlog; answers its directive (`run`,
    /// `pause`, `drain`) and the `system` block. Idempotent. Errors:
    /// `NotFound` (the server does not know this worker: register again),
    /// `Invalid { field }`.
    pub async fn worker_heartbeat(
        &self,
        worker_id: &str,
        req: &WorkerHeartbeatRequest,
    ) -> Result<WorkerDirectiveResponse> {
        self.post(
            Endpoint::post(&["api", "workers", worker_id, "heartbeat"]),
            Some(req),
        )
        .await
    }

    /// `GET /api/workers`: every registered worker with its desired and
    /// observed state. Read-only.
    pub async fn list_workers(&self) -> Result<WorkerList> {
        self.get(Endpoint::get(&["api", "workers"])).await
    }

    /// `GET /api/workers/health`: online/offline per worker and the queue
    /// depth. Read-only.
    pub async fn fleet_health(&self) -> Result<FleetHealth> {
        self.get(Endpoint::get(&["api", "workers", "health"])).await
    }

    /// `GET /api/workers/metrics`: queue depth, failures, task latency,
    /// heartbeat age and spool backlog per worker. Read-only.
    pub async fn fleet_metrics(&self) -> Result<FleetMetrics> {
        self.get(Endpoint::get(&["api", "workers", "metrics"]))
            .await
    }

    /// `POST /api/workers/actions`: pause, resume or drain workers. Setting
    /// a state a worker already has changes nothing, so a repeat is
    /// harmless. Errors: `SafetyRefused { confirm_phrase, impact }` (409:
    /// it would leave too few available workers; send `confirm` with the
    /// phrase to do it anyway), `NotFound { field: workerIds }` (unknown
    /// workers; nothing changed), `Invalid { field }`.
    pub async fn worker_action(&self, req: &WorkerActionRequest) -> Result<WorkerActionResponse> {
        self.post(Endpoint::post(&["api", "workers", "actions"]), Some(req))
            .await
    }

    /// `POST /api/workers/actions` with `dryRun`: what the action would do
    /// (the desired states, the jobs its workers hold, the availability
    /// before and after, the drain's ETA), refused exactly as the real
    /// action would be (`SafetyRefused` with its phrase, unknown workers).
    /// Changes nothing.
    pub async fn worker_action_dry_run(
        &self,
        req: &WorkerActionRequest,
    ) -> Result<wire::WorkerActionDryRun> {
        let req = WorkerActionRequest {
            dry_run: Some(true),
            ..req.clone()
        };
        self.post(Endpoint::post(&["api", "workers", "actions"]), Some(&req))
            .await
    }

    /// `POST /api/workers/results`: a result envelope, applied once per
    /// `idempotencyKey` — a repeat with the same key is acknowledged again
    /// (`applied_now: false`), so retrying is safe. An `execution_result`
    /// completes or fails its job, fenced by the lease token. Errors:
    /// `Invalid` (the same key with another payload, a bad envelope),
    /// `ResultInFlight` (the first copy is being applied: retry shortly),
    /// `LeaseLost` (the execution result's lease is gone).
    ///
    /// A [`crate::Error::Decode`] here still means the server answered 2xx:
    /// the result was acknowledged.
    pub async fn submit_result(&self, env: &ResultEnvelope) -> Result<ResultAck> {
        self.post(Endpoint::post(&["api", "workers", "results"]), Some(env))
            .await
    }

    /// `POST /api/workers/rolling-restarts` (201): drains the chosen
    /// workers (or `all`) at most `maxUnavailable` at a time, each counted
    /// done when it registers again with a new boot. Not idempotent.
    /// Errors: `SafetyRefused { confirm_phrase }`, `Conflict` (one is
    /// already running), `NotFound { field: workerIds }`,
    /// `Invalid { field }`.
    pub async fn start_rolling_restart(
        &self,
        req: &RollingRestartRequest,
    ) -> Result<RollingRestart> {
        self.post(Endpoint::post(ROLLOUTS), Some(req)).await
    }

    /// `GET /api/workers/rolling-restarts`: every rolling restart, newest
    /// first. Read-only.
    pub async fn rolling_restarts(&self) -> Result<Vec<RollingRestart>> {
        self.get(Endpoint::get(ROLLOUTS)).await
    }

    /// `GET /api/workers/rolling-restarts/{id}`: its progress, worker by
    /// worker. Errors: `NotFound`.
    pub async fn rolling_restart(&self, id: Uuid) -> Result<RollingRestart> {
        let id = id.to_string();
        self.get(Endpoint::get(&["api", "workers", "rolling-restarts", &id]))
            .await
    }

    /// `POST /api/workers/rolling-restarts/{id}/cancel`: no further drains
    /// (workers already draining go on). Errors: `Conflict` (it has
    /// already finished), `NotFound`.
    pub async fn cancel_rolling_restart(
        &self,
        id: Uuid,
        req: &RollingRestartCancelRequest,
    ) -> Result<RollingRestart> {
        let id = id.to_string();
        self.post(
            Endpoint::post(&["api", "workers", "rolling-restarts", &id, "cancel"]),
            Some(req),
        )
        .await
    }
}
