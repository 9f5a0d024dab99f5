//! One API error type: every failure becomes `{"error": {code, message,
//! field}}` with the right status, mapped here once. A 5xx body never
//! carries internal detail; the cause goes to the log.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use wire::{ErrorBody, ErrorDetail};

use crate::domain::FieldError;
use crate::service::ServiceError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Boxed: errors travel through every `Result`, keep them small.
    pub body: Box<ErrorBody>,
    /// Sent as `Retry-After` (seconds) with a 429 or 503.
    pub retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &str,
        message: impl Into<String>,
        field: Option<&str>,
    ) -> Self {
        ApiError {
            status,
            body: Box::new(ErrorBody {
                error: ErrorDetail {
                    code: code.to_string(),
                    message: message.into(),
                    field: field.map(str::to_string),
                },
                current: None,
                impact: None,
                confirm_phrase: None,
            }),
            retry_after: None,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message, None)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Validation(f) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                f.message,
                Some(f.field),
            ),
            ServiceError::NotFound(m) => ApiError::not_found(m),
            ServiceError::LeaseLost(m) => {
                ApiError::new(StatusCode::CONFLICT, "lease_lost", m, None)
            }
            ServiceError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m, None),
            ServiceError::InFlight(m) => ApiError::new(
                StatusCode::CONFLICT,
                "result_in_flight",
                m,
                Some("idempotencyKey"),
            ),
            ServiceError::RequestIdReused(m) => ApiError::new(
                StatusCode::CONFLICT,
                "request_id_reused",
                m,
                Some("requestId"),
            ),
            ServiceError::VersionConflict { expected, current } => {
                let mut err = ApiError::new(
                    StatusCode::CONFLICT,
                    "version_conflict",
                    format!(
                        "the pause state changed: it is at version {}, not {expected}; the current state is in `current`",
                        current.version
                    ),
                    Some("expectedVersion"),
                );
                err.body.current = Some(current);
                err
            }
            e @ ServiceError::QueueVersionConflict { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "version_conflict",
                format!("{e}; read the queue again (GET /api/queues) and retry"),
                Some("expectedVersion"),
            ),
            ServiceError::UnknownWorkers(ids) => ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("unknown workers: {}; nothing was changed", ids.join(", ")),
                Some("workerIds"),
            ),
            ServiceError::SafetyRefused(r) => {
                let mut err = ApiError::new(
                    StatusCode::CONFLICT,
                    "safety_check",
                    format!(
                        "refused: this would leave {} available worker(s), below the minimum of {}; it affects {} worker(s) running {} job(s). To do it anyway, send confirm: \"{}\"",
                        r.available_after,
                        r.minimum,
                        r.affected_workers.len(),
                        r.running_jobs,
                        r.confirm_phrase
                    ),
                    Some("confirm"),
                );
                err.body.impact = Some(wire::ActionImpact {
                    available_before: r.available_before,
                    available_after: r.available_after,
                    minimum: r.minimum,
                    affected_workers: r.affected_workers.clone(),
                    running_jobs: r.running_jobs,
                });
                err.body.confirm_phrase = Some(r.confirm_phrase.clone());
                err
            }
            ServiceError::TooManyStreams(full) => {
                let mut err = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_streams",
                    format!("{full}; close one (another dashboard tab?) or retry later"),
                    None,
                );
                // The dashboard falls back to polling meanwhile.
                err.retry_after = Some(STREAM_RETRY_AFTER_SECONDS);
                err
            }
            ServiceError::Unavailable(cause) => {
                tracing::error!(%cause, "storage unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database is unavailable; retry shortly",
                    None,
                )
            }
            ServiceError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; see the server log",
                    None,
                )
            }
        }
    }
}

/// A request that did not parse: 422 naming the field, as the service's
/// own validation errors are.
impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ServiceError::Validation(e).into()
    }
}

/// When a client refused an event stream may try again.
const STREAM_RETRY_AFTER_SECONDS: u32 = 10;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(*self.body)).into_response();
        if let Some(secs) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
