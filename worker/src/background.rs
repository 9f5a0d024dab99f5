//! The worker's conversations with the control plane besides claiming:
//! registration (retried until the server is reachable), worker heartbeats
//! (state and backlog out, directive and pause in), the spool replay, and
//! the last heartbeat saying `stopped`.

use std::sync::Arc;
use std::time::Duration;

use client::ApiError;
use tokio::sync::watch;
use wire::{RegisterRequest, ReportedState, WorkerHeartbeatRequest};

use crate::results::OutageLog;
use crate::shared::{directive_name, Exit, Shared, WorkerError};
use crate::shutdown::StopLevel;

/// Bound on the goodbye (final replay pass, `stopped` heartbeat): an exit
/// must not hang on an unreachable server.
const FAREWELL_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the worker looks whether it has applied a new pause version
/// (a local check, no request): when it has, the heartbeat goes at once, so
/// an operator waiting for every worker to apply a pause does not wait a
/// whole heartbeat interval.
const APPLIED_CHECK: Duration = Duration::from_millis(200);

fn register_request(shared: &Shared) -> RegisterRequest {
    let c = &shared.config;
    RegisterRequest {
        worker_id: Some(c.worker_id.clone()),
        name: Some(c.name.clone()),
        hostname: Some(c.hostname.clone()),
        version: Some(env!("CARGO_PKG_VERSION").into()),
        labels: Some(c.labels.clone()),
        boot_id: Some(shared.boot_id.clone()),
    }
}

/// Registers, retrying while the server is unreachable. `Ok(Some(exit))`
/// when asked to stop before it got through; an outright refusal (a 4xx)
/// is an error: retrying would not change the answer.
pub(crate) async fn register(shared: &Shared) -> Result<Option<Exit>, WorkerError> {
    let req = register_request(shared);
    let mut stop = shared.shutdown.subscribe();
    let mut backoff = Duration::from_millis(250);
    let mut warned = false;
    loop {
        match shared.api.register(&req).await {
            Ok(resp) => {
                shared.apply(&resp);
                tracing::info!(
                    worker_id = %shared.config.worker_id,
                    boot_id = %shared.boot_id,
                    directive = directive_name(resp.directive),
                    fleet_paused = resp.system.workers_paused,
                    "registered with the control plane"
                );
                return Ok(None);
            }
            Err(e) if e.is_transient() => {
                if !std::mem::replace(&mut warned, true) {
                    tracing::warn!(error = %e, "cannot register yet; retrying");
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = stop.wait_for(|l| *l != StopLevel::Run) => {
                        return Ok(Some(match shared.shutdown.level() {
                            StopLevel::Now => Exit::Stopped,
                            _ => Exit::Drained,
                        }));
                    }
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(WorkerError::Register(e)),
        }
    }
}

fn heartbeat_request(shared: &Shared, state: ReportedState) -> WorkerHeartbeatRequest {
    WorkerHeartbeatRequest {
        boot_id: Some(shared.boot_id.clone()),
        state: Some(state),
        active_jobs: Some(shared.active_jobs()),
        offline_backlog: Some(shared.results.spool.backlog()),
        // 0: no answer from the server yet, nothing to report.
        applied_version: Some(shared.applied_version()).filter(|v| *v > 0),
    }
}

/// Worker heartbeats until `done`. A 404 means the server has forgotten this
/// worker (a reset registry): register again rather than fail forever.
pub(crate) async fn heartbeats(shared: Arc<Shared>, mut done: watch::Receiver<bool>) {
    let mut failing = false;
    let mut reported_applied = None;
    loop {
        let interval = tokio::time::sleep(shared.config.heartbeat_interval);
        tokio::pin!(interval);
        loop {
            tokio::select! {
                () = &mut interval => break,
                _ = done.changed() => return,
                () = tokio::time::sleep(APPLIED_CHECK) => {
                    if Some(shared.applied_version()).filter(|v| *v > 0) != reported_applied {
                        break;
                    }
                }
            }
        }
        let req = heartbeat_request(&shared, shared.reported_state());
        reported_applied = req.applied_version;
        match shared
            .api
            .worker_heartbeat(&shared.config.worker_id, &req)
            .await
        {
            Ok(resp) => {
                shared.apply(&resp);
                if std::mem::take(&mut failing) {
                    tracing::info!("worker heartbeats going again");
                }
            }
            Err(client::Error::Api(e @ ApiError::NotFound { .. })) => {
                tracing::warn!(error = %e, "the server does not know this worker; registering again");
                if let Ok(resp) = shared.api.register(&register_request(&shared)).await {
                    shared.apply(&resp);
                }
            }
            Err(e) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!(error = %e, "worker heartbeat failed; retrying");
                }
            }
        }
    }
}

/// Replays the spool at once (start-up) and then every replay interval
/// while anything waits, until `done`.
pub(crate) async fn replay(shared: Arc<Shared>, mut done: watch::Receiver<bool>) {
    let mut outage = OutageLog::default();
    loop {
        if shared.results.spool.backlog() > 0 {
            let pass = shared.results.replay_once().await;
            outage.pass(&pass, shared.results.spool.backlog());
        }
        tokio::select! {
            () = tokio::time::sleep(shared.config.replay_interval) => {}
            _ = done.changed() => return,
        }
    }
}

/// On the way out: one last replay pass (a clean drain should leave nothing
/// behind when the server is up) and a `stopped` heartbeat, both bounded.
pub(crate) async fn farewell(shared: &Shared, exit: Exit) {
    if exit == Exit::Drained && shared.results.spool.backlog() > 0 {
        let _ = tokio::time::timeout(FAREWELL_TIMEOUT, shared.results.replay_once()).await;
    }
    let req = heartbeat_request(shared, ReportedState::Stopped);
    let said = tokio::time::timeout(
        FAREWELL_TIMEOUT,
        shared.api.worker_heartbeat(&shared.config.worker_id, &req),
    )
    .await;
    if !matches!(said, Ok(Ok(_))) {
        tracing::warn!("could not tell the server this worker stopped; it will show offline");
    }
    tracing::info!(
        exit = match exit {
            Exit::Drained => "drained",
            Exit::Stopped => "stopped",
        },
        spooled = shared.results.spool.backlog(),
        "worker stopped"
    );
}
