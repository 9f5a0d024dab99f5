//! Storage failures, mapped to meaning once (here), not in every caller.

use crate::domain::{PauseState, SafetyRefusal};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A fenced call whose lease is no longer the caller's.
    #[error("{0}")]
    LeaseLost(String),
    /// The request is valid but the state forbids it (e.g. retrying a
    /// running job, a second running rolling restart).
    #[error("{0}")]
    Conflict(String),
    /// A unique constraint refused a row (the operation that inserts it
    /// says what it means, e.g. [`StoreError::Conflict`]).
    #[error("already exists: {0}")]
    Duplicate(String),
    /// A pause `requestId` already used by a different request.
    #[error("{0}")]
    RequestIdReused(String),
    /// `expectedVersion` did not match.
    #[error("the pause state is at version {}, not {expected}", current.version)]
    VersionConflict {
        expected: i64,
        current: Box<PauseState>,
    },
    /// A worker action named workers that are not registered (nothing was
    /// changed).
    #[error("unknown workers: {}", .0.join(", "))]
    UnknownWorkers(Vec<String>),
    /// A worker action refused by the safety rule (nothing was changed).
    #[error("refused by the safety rule")]
    SafetyRefused(Box<SafetyRefusal>),
    /// The database cannot be reached (connection refused, pool timeout).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Duplicate(d.message().to_string())
            }
            other => StoreError::Database(other.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Database(format!("migration failed: {e}"))
    }
}

impl StoreError {
    /// A value read from the database that does not decode (bad JSON, an
    /// unknown status): the schema and the code disagree.
    pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> Self {
        StoreError::Database(format!("bad {what}: {detail}"))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
