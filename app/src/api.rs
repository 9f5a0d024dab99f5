//! Server functions: each is a POST to `/sfn/<endpoint>` handled by the
//! server (through [`crate::ssr::DashboardBackend`]), and a plain async call
//! in the browser.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use wire::{DrainView, ErrorBody, EventsPage, PauseOutcome, PauseRequest, WorkerPauseStatus};

// Only the server runs the bodies of server functions.
#[cfg(feature = "ssr")]
fn message(e: wire::ErrorBody) -> ServerFnError {
    ServerFnError::new(e.error.message)
}

/// The global pause status (banner, drain metrics, latest audit events).
#[server(prefix = "/sfn", endpoint = "get_pause_state")]
pub async fn get_pause_state() -> Result<WorkerPauseStatus, ServerFnError> {
    let backend = expect_context::<crate::ssr::SharedBackend>();
    backend.pause_status().await.map_err(message)
}

/// Pause or resume. Refusals (validation, version conflict) come back as
/// [`PauseReply::rejected`], not as a transport error, so the page can show
/// them next to the right field.
#[server(prefix = "/sfn", endpoint = "change_pause")]
pub async fn change_pause(request: PauseRequest) -> Result<PauseReply, ServerFnError> {
    let backend = expect_context::<crate::ssr::SharedBackend>();
    Ok(backend.change_pause(request).await.into())
}

/// [`PauseOutcome`] on the wire between the dashboard and its server
/// function: exactly one of the two fields is set.
///
/// Flat on purpose: `PauseOutcome` is an internally tagged enum, and serde
/// decodes those through its buffered `Content` deserializer, which brings a
/// second copy of the decoder of every nested type (status, audit events,
/// errors) into the WASM bundle: ~55 KB raw, ~21 KB gzip of a 150 KB budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseReply {
    pub applied: Option<Box<WorkerPauseStatus>>,
    pub rejected: Option<Rejected>,
}

/// A refused pause/resume: the HTTP status and the parts of the error body
/// the REST API would have given that the dashboard shows (field errors,
/// version conflicts with `current`). Flat for the same reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    pub status: u16,
    /// [`wire::ErrorDetail::code`]: `validation_failed`, `version_conflict`, …
    pub code: String,
    pub message: String,
    /// The request field at fault (`reason`, `mode`, …).
    pub field: Option<String>,
    /// For a version conflict: the state as it is now.
    pub current: Option<Box<WorkerPauseStatus>>,
}

impl From<PauseOutcome> for PauseReply {
    fn from(outcome: PauseOutcome) -> Self {
        match outcome {
            PauseOutcome::Applied { status } => PauseReply {
                applied: Some(status),
                rejected: None,
            },
            PauseOutcome::Rejected { status, error } => {
                let ErrorBody { error, current, .. } = *error;
                PauseReply {
                    applied: None,
                    rejected: Some(Rejected {
                        status,
                        code: error.code,
                        message: error.message,
                        field: error.field,
                        current,
                    }),
                }
            }
        }
    }
}

/// A page of the audit log, newest first.
#[server(prefix = "/sfn", endpoint = "get_events")]
pub async fn get_events(
    limit: Option<u32>,
    before: Option<i64>,
) -> Result<EventsPage, ServerFnError> {
    let backend = expect_context::<crate::ssr::SharedBackend>();
    backend.events(limit, before).await.map_err(message)
}

/// The drain card: blocking jobs, running-jobs history, ETA.
#[server(prefix = "/sfn", endpoint = "get_drain_view")]
pub async fn get_drain_view() -> Result<DrainView, ServerFnError> {
    let backend = expect_context::<crate::ssr::SharedBackend>();
    backend.drain_view().await.map_err(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::{DrainMetrics, ErrorDetail};

    fn status(version: i64) -> Box<WorkerPauseStatus> {
        Box::new(WorkerPauseStatus {
            workers_paused: true,
            mode: Some(wire::PauseMode::Quiesce),
            reason: Some("other operator".into()),
            version,
            requested_by: None,
            requested_at: None,
            updated_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            metrics: DrainMetrics::default(),
            audit: Default::default(),
            warning: None,
            until: None,
        })
    }

    #[test]
    fn a_conflict_keeps_what_the_page_shows() {
        let outcome = PauseOutcome::Rejected {
            status: 409,
            error: Box::new(ErrorBody {
                error: ErrorDetail {
                    code: "version_conflict".into(),
                    message: "changed".into(),
                    field: None,
                },
                current: Some(status(7)),
                impact: None,
                confirm_phrase: None,
            }),
        };
        let reply = PauseReply::from(outcome);
        assert!(reply.applied.is_none());
        let r = reply.rejected.unwrap();
        assert_eq!((r.status, r.code.as_str()), (409, "version_conflict"));
        assert_eq!(r.current.map(|c| c.version), Some(7));
    }

    #[test]
    fn applied_carries_the_new_status_and_round_trips_as_json() {
        let reply = PauseReply::from(PauseOutcome::Applied { status: status(3) });
        let json = serde_json::to_string(&reply).unwrap();
        assert!(json.starts_with(r#"{"applied":{"#), "{json}");
        assert_eq!(serde_json::from_str::<PauseReply>(&json).unwrap(), reply);
    }
}

/// A refused fleet action or rolling restart, flat (cheap to decode).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetRejected {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub field: Option<String>,
    /// For a safety refusal: the phrase to type as `confirm`.
    pub confirm_phrase: Option<String>,
    /// For a safety refusal: what the action would have done.
    pub impact: Option<wire::ActionImpact>,
}

/// The answer of [`fleet_action`]: what was applied, in words, or why
/// it was refused. Flat and the same for every action, so the browser
/// decodes one shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetReply {
    pub applied: Option<String>,
    pub rejected: Option<FleetRejected>,
}

impl FleetReply {
    pub fn from_result<T>(
        r: Result<T, (u16, wire::ErrorBody)>,
        message: impl FnOnce(T) -> String,
    ) -> Self {
        match r {
            Ok(v) => FleetReply {
                applied: Some(message(v)),
                rejected: None,
            },
            Err((status, body)) => FleetReply {
                applied: None,
                rejected: Some(FleetRejected {
                    status,
                    code: body.error.code,
                    message: body.error.message,
                    field: body.error.field,
                    confirm_phrase: body.confirm_phrase,
                    impact: body.impact,
                }),
            },
        }
    }
}

/// One worker as the Workers tab shows it: flat strings and numbers (no
/// enums, dates or UUIDs to decode in the browser).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worker {
    pub id: String,
    pub name: String,
    pub hostname: String,
    pub version: String,
    /// `active`, `paused` or `draining`.
    pub desired: String,
    /// `running`, `paused`, `draining`, `stopped` or `offline`.
    pub observed: String,
    /// The last heartbeat, in ms since the epoch.
    pub heartbeat_ms: i64,
    /// How many jobs it is running.
    pub jobs: u32,
}

/// One worker of a rolling restart: its id, state (`pending`, `draining`,
/// `restarting`, `done`, `failed`) and message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub id: String,
    pub state: String,
    pub message: Option<String>,
}

/// A rolling restart, flat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    pub id: String,
    /// `running`, `done`, `failed` or `cancelled`.
    pub status: String,
    pub max_unavailable: u32,
    pub reason: String,
    pub message: Option<String>,
    pub workers: Vec<Step>,
}

/// The Workers tab's data in one call: the fleet and the newest rolling
/// restart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fleet {
    pub workers: Vec<Worker>,
    pub rollout: Option<Rollout>,
}

#[cfg(feature = "ssr")]
impl From<wire::RollingRestart> for Rollout {
    fn from(r: wire::RollingRestart) -> Self {
        Rollout {
            id: r.id.to_string(),
            status: r.status.as_str().into(),
            max_unavailable: r.max_unavailable,
            reason: r.reason,
            message: r.message,
            workers: r
                .workers
                .into_iter()
                .map(|w| Step {
                    id: w.worker_id,
                    state: serde_json::to_value(w.state)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    message: w.message,
                })
                .collect(),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<wire::WorkerInfo> for Worker {
    fn from(w: wire::WorkerInfo) -> Self {
        let text = |v: serde_json::Result<serde_json::Value>| {
            v.ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        Worker {
            id: w.id,
            name: w.name,
            hostname: w.hostname,
            version: w.version,
            desired: w.desired_state.as_str().into(),
            observed: text(serde_json::to_value(w.observed_state)),
            heartbeat_ms: w.last_heartbeat_at.timestamp_millis(),
            jobs: w.active_jobs.len() as u32,
        }
    }
}

/// `a\nb` → `["a", "b"]`: worker ids travel as one string (cheap to encode).
#[cfg(feature = "ssr")]
fn ids_of(ids: &str) -> Vec<String> {
    ids.split('\n')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// "Drain applied to 2 workers (w-1, w-2); idle in about 3 min."
#[cfg(feature = "ssr")]
pub fn action_message(r: &wire::WorkerActionResponse) -> String {
    let ids: Vec<&str> = r.results.iter().map(|x| x.worker_id.as_str()).collect();
    let action = r.action.as_str();
    let mut text = format!(
        "{}{} applied to {} ({}).",
        action[..1].to_uppercase(),
        &action[1..],
        crate::format::count(ids.len() as i64, "worker", "workers"),
        ids.join(", ")
    );
    if r.action == wire::WorkerActionKind::Drain {
        match r.eta_seconds {
            Some(s) => text.push_str(&format!(" Idle in {}.", crate::format::eta(s))),
            None => text.push_str(" Idle time: unknown."),
        }
    }
    if r.override_used {
        text.push_str(" The safety override is recorded in the audit log.");
    }
    text
}

/// The fleet and the newest rolling restart (Workers tab).
#[server(prefix = "/sfn", endpoint = "get_workers")]
pub async fn get_workers() -> Result<Fleet, ServerFnError> {
    let backend = expect_context::<crate::ssr::SharedBackend>();
    let list = backend.workers().await.map_err(message)?;
    let rollouts = backend.rolling_restarts().await.map_err(message)?;
    Ok(Fleet {
        workers: list.workers.into_iter().map(Worker::from).collect(),
        rollout: rollouts.into_iter().next().map(Rollout::from),
    })
}

/// Rolling restarts, newest first.
#[server(prefix = "/sfn", endpoint = "get_rolling_restarts")]
pub async fn get_rolling_restarts() -> Result<Vec<wire::RollingRestart>, ServerFnError> {
    let backend = expect_context::<crate::ssr::SharedBackend>();
    backend.rolling_restarts().await.map_err(message)
}

/// Every action of the Workers tab, in one server function (one shape to
/// encode and decode in the browser):
///
/// - `pause`, `resume`, `drain`: the workers `ids` (one per line);
/// - `restart`: a rolling restart of `ids`, at most `max_unavailable`
///   drained or restarting at a time;
/// - `cancel-restart`: the rolling restart whose id is `ids`.
///
/// `confirm` is the phrase a safety refusal asked for. A refusal comes back
/// as [`FleetReply::rejected`] (the REST API's status and error).
#[server(prefix = "/sfn", endpoint = "fleet_action")]
pub async fn fleet_action(
    action: String,
    ids: String,
    reason: String,
    max_unavailable: u32,
    confirm: Option<String>,
) -> Result<FleetReply, ServerFnError> {
    let backend = expect_context::<crate::ssr::SharedBackend>();
    Ok(match action.as_str() {
        "restart" => {
            let request = wire::RollingRestartRequest {
                worker_ids: Some(ids_of(&ids)),
                all: None,
                max_unavailable: Some(max_unavailable),
                reason: Some(reason),
                deadline_seconds: None,
                confirm,
            };
            FleetReply::from_result(backend.start_rolling_restart(request).await, |r| {
                format!(
                    "Rolling restart started: {}, at most {} unavailable at a time.",
                    crate::format::count(r.workers.len() as i64, "worker", "workers"),
                    r.max_unavailable
                )
            })
        }
        "cancel-restart" => FleetReply::from_result(
            backend.cancel_rolling_restart(ids.trim().to_string()).await,
            |_| "Rolling restart cancelled: no further workers will be drained.".into(),
        ),
        _ => {
            let request = wire::WorkerActionRequest {
                action: Some(action),
                worker_ids: Some(ids_of(&ids)),
                reason: Some(reason),
                confirm,
            };
            FleetReply::from_result(backend.worker_action(request).await, |r| action_message(&r))
        }
    })
}
