//! Wire types: the JSON shapes Lull speaks over HTTP.
//!
//! This crate is the one boundary shared by the server, the dashboard (WASM),
//! the worker runtime and the CLI. It holds serde types only — no I/O, no
//! async runtime, no database — so it builds for `wasm32-unknown-unknown`.
//! `/api/*` types are camelCase; the maintenance-runbook types in
//! [`runbook`] are snake_case because the runbook's scripts read them so.

pub mod acknowledgement;
pub mod claim_next;
pub mod dashboard;
pub mod error;
pub mod fleet;
pub mod jobs;
pub mod pause;
pub mod queues;
pub mod runbook;
pub mod workers;

pub use acknowledgement::*;
pub use claim_next::*;
pub use dashboard::*;
pub use error::ApiError;
pub use fleet::*;
pub use jobs::*;
pub use pause::*;
pub use queues::*;
pub use workers::*;

use serde::{Deserialize, Serialize};

/// The body of every error response: `{"error": {"code", "message", "field"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub error: ErrorDetail,
    /// For a version conflict: the state as it is now, so a client can show
    /// "the state changed — here is the new one" without another round trip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Box<WorkerPauseStatus>>,
    /// For a refused fleet action: what it would have done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<ActionImpact>,
    /// For a refused fleet action: the phrase to send as `confirm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_phrase: Option<String>,
}

/// What went wrong, machine-readable (`code`) and human-readable (`message`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable, snake_case: `validation_failed`, `invalid_json`, `not_found`,
    /// `version_conflict`, `lease_lost`, `payload_too_large`, `internal`, …
    pub code: String,
    pub message: String,
    /// The request field at fault, when one is (`reason`, `mode`, …).
    #[serde(default)]
    pub field: Option<String>,
}
