//! The service's one error type; the HTTP layer maps each variant to a
//! status once (`http::error`).

use wire::WorkerPauseStatus;

use crate::domain::{FieldError, SafetyRefusal};
use crate::storage::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Validation(FieldError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    LeaseLost(String),
    #[error("{0}")]
    Conflict(String),
    /// A result with this idempotency key is being applied right now.
    #[error("{0}")]
    InFlight(String),
    /// A pause `requestId` already used by a different request.
    #[error("{0}")]
    RequestIdReused(String),
    #[error("the pause state changed: it is at version {}, not {expected}", current.version)]
    VersionConflict {
        expected: i64,
        current: Box<WorkerPauseStatus>,
    },
    /// A queue pause's `expectedVersion` did not match.
    #[error("queue {queue}'s pause is at version {current}, not {expected}")]
    QueueVersionConflict {
        queue: String,
        expected: i64,
        current: i64,
    },
    #[error("unknown workers: {}", .0.join(", "))]
    UnknownWorkers(Vec<String>),
    #[error("refused by the safety rule")]
    SafetyRefused(Box<SafetyRefusal>),
    /// An event stream over a cap ([`crate::streams`]).
    #[error("{0}")]
    TooManyStreams(#[from] crate::streams::StreamsFull),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl From<FieldError> for ServiceError {
    fn from(e: FieldError) -> Self {
        ServiceError::Validation(e)
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ServiceError::NotFound("not found".into()),
            StoreError::LeaseLost(m) => ServiceError::LeaseLost(m),
            StoreError::RequestIdReused(m) => ServiceError::RequestIdReused(m),
            StoreError::Conflict(m) | StoreError::Duplicate(m) => ServiceError::Conflict(m),
            // The pause service answers it with the current status.
            StoreError::VersionConflict { .. } => {
                ServiceError::Internal("version conflict escaped the service".into())
            }
            StoreError::UnknownWorkers(ids) => ServiceError::UnknownWorkers(ids),
            StoreError::SafetyRefused(r) => ServiceError::SafetyRefused(r),
            StoreError::Unavailable(m) => ServiceError::Unavailable(m),
            StoreError::Database(m) => ServiceError::Internal(m),
        }
    }
}

impl ServiceError {
    /// A storage error, with `NotFound` saying what was not found.
    pub(crate) fn not_found(what: impl FnOnce() -> String) -> impl FnOnce(StoreError) -> Self {
        move |e| match e {
            StoreError::NotFound => ServiceError::NotFound(what()),
            other => other.into(),
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
