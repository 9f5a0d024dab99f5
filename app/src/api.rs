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

/// The answer of a fleet server function: applied, or refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetReply<T> {
    pub applied: Option<T>,
    pub rejected: Option<FleetRejected>,
}

impl<T> FleetReply<T> {
    pub fn from_result(r: Result<T, (u16, wire::ErrorBody)>) -> Self {
        match r {
            Ok(v) => FleetReply {
                applied: Some(v),
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

/// The fleet (Workers tab).
#[server(prefix = "/sfn", endpoint = "get_workers")]
pub async fn get_workers() -> Result<wire::WorkerList, ServerFnError> {
    let backend = expect_context::<crate::ssr::SharedBackend>();
    backend.workers().await.map_err(message)
}

/// Pause, resume or drain workers.
#[server(prefix = "/sfn", endpoint = "worker_action")]
pub async fn worker_action(
    request: wire::WorkerActionRequest,
) -> Result<FleetReply<wire::WorkerActionResponse>, ServerFnError> {
    let backend = expect_context::<crate::ssr::SharedBackend>();
    Ok(FleetReply::from_result(
        backend.worker_action(request).await,
    ))
}

/// Rolling restarts, newest first.
#[server(prefix = "/sfn", endpoint = "get_rolling_restarts")]
pub async fn get_rolling_restarts() -> Result<Vec<wire::RollingRestart>, ServerFnError> {
    let backend = expect_context::<crate::ssr::SharedBackend>();
    backend.rolling_restarts().await.map_err(message)
}

#[server(prefix = "/sfn", endpoint = "start_rolling_restart")]
pub async fn start_rolling_restart(
    request: wire::RollingRestartRequest,
) -> Result<FleetReply<wire::RollingRestart>, ServerFnError> {
    let backend = expect_context::<crate::ssr::SharedBackend>();
    Ok(FleetReply::from_result(
        backend.start_rolling_restart(request).await,
    ))
}

#[server(prefix = "/sfn", endpoint = "cancel_rolling_restart")]
pub async fn cancel_rolling_restart(
    id: String,
) -> Result<FleetReply<wire::RollingRestart>, ServerFnError> {
    let backend = expect_context::<crate::ssr::SharedBackend>();
    Ok(FleetReply::from_result(
        backend.cancel_rolling_restart(id).await,
    ))
}
