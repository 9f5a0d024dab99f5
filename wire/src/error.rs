//! Errors as values a client matches on, not strings it parses.
//!
//! Every error response of the API is an HTTP status with an [`ErrorBody`]
//! (`{"error": {code, message, field}, …}`). [`ApiError`] is that answer
//! decoded once, by its stable `code`: the typed client, the worker runtime,
//! the CLI and the dashboard's server functions all match on its variants
//! (`ApiError::VersionConflict { current, .. }`), and it converts back into
//! the same status and body, so nothing is lost in either direction.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{ActionImpact, ErrorBody, ErrorDetail, WorkerPauseStatus};

/// One error answer of the Lull API, by meaning.
///
/// `status` is kept where more than one status shares a meaning (a bad body
/// is 400, a failed validation 422), so [`ApiError::into_parts`] gives back
/// exactly what the server sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ApiError {
    /// The request was malformed or failed validation (400/422): `code` is
    /// `validation_failed`, `invalid_json`, `invalid_body`, `invalid_query`,
    /// `invalid_path`, `invalid_id`, `invalid_field`, …; `field` names the
    /// request field at fault when there is one.
    Invalid {
        status: u16,
        code: String,
        message: String,
        field: Option<String>,
    },
    /// 404: no such job, worker(s) (`field: workerIds`), rollout or route.
    NotFound {
        message: String,
        field: Option<String>,
    },
    /// 409 `version_conflict`: `expectedVersion` did not match; `current`
    /// is the state as it is now.
    VersionConflict {
        message: String,
        current: Option<Box<WorkerPauseStatus>>,
    },
    /// 409 `lease_lost`: the caller no longer holds the job's lease.
    LeaseLost { message: String },
    /// 409 `result_in_flight`: a result with this idempotency key is being
    /// applied right now; retry shortly.
    ResultInFlight { message: String },
    /// 409 `safety_check`: a fleet action would leave too few available
    /// workers; send `confirm: confirm_phrase` to do it anyway.
    SafetyRefused {
        message: String,
        impact: Option<ActionImpact>,
        confirm_phrase: Option<String>,
    },
    /// 409 `conflict`: the request is valid but the state forbids it
    /// (retrying a running job, a rolling restart already running, …).
    Conflict { message: String },
    /// 401: no credential, or one that is unknown, revoked or malformed.
    Unauthorized { message: String },
    /// 403: the credential's role may not do this (`forbidden`), or a
    /// browser write came from another site (`cross_site`).
    Forbidden { code: String, message: String },
    /// 429: too many failed authentications from this address.
    RateLimited { message: String },
    /// 413: the body is larger than the server accepts.
    PayloadTooLarge { message: String },
    /// 503: the server cannot reach its database right now.
    Unavailable { message: String },
    /// 500: the server failed; the cause is in its log, not here.
    Internal { message: String },
    /// No answer from the server at all (connection refused, timed out, a
    /// body that is not JSON from something in between). Never sent by the
    /// server; clients build it.
    Unreachable { message: String },
    /// Any other status or code (a proxy's 502, a code this client does not
    /// know yet): kept whole.
    Other {
        status: u16,
        code: String,
        message: String,
        field: Option<String>,
    },
}

impl ApiError {
    /// Decodes an error answer by its `code` (the status only breaks ties).
    pub fn from_parts(status: u16, body: ErrorBody) -> ApiError {
        let ErrorBody {
            error:
                ErrorDetail {
                    code,
                    message,
                    field,
                },
            current,
            impact,
            confirm_phrase,
        } = body;
        match (status, code.as_str()) {
            (400 | 422, _) if is_invalid_code(&code) => ApiError::Invalid {
                status,
                code,
                message,
                field,
            },
            (404, "not_found") => ApiError::NotFound { message, field },
            (409, "version_conflict") => ApiError::VersionConflict { message, current },
            (409, "lease_lost") => ApiError::LeaseLost { message },
            (409, "result_in_flight") => ApiError::ResultInFlight { message },
            (409, "safety_check") => ApiError::SafetyRefused {
                message,
                impact,
                confirm_phrase,
            },
            (409, "conflict") => ApiError::Conflict { message },
            (401, _) => ApiError::Unauthorized { message },
            (403, _) => ApiError::Forbidden { code, message },
            (429, _) => ApiError::RateLimited { message },
            (413, _) => ApiError::PayloadTooLarge { message },
            (503, "unavailable") => ApiError::Unavailable { message },
            (500, "internal") => ApiError::Internal { message },
            _ => ApiError::Other {
                status,
                code,
                message,
                field,
            },
        }
    }

    /// The status and body the server sends (or sent) for this error.
    pub fn into_parts(self) -> (u16, ErrorBody) {
        let status = self.status();
        let code = self.code().to_string();
        let field = self.field().map(str::to_string);
        let mut body = ErrorBody {
            error: ErrorDetail {
                code,
                message: String::new(),
                field,
            },
            current: None,
            impact: None,
            confirm_phrase: None,
        };
        body.error.message = match self {
            ApiError::VersionConflict { message, current } => {
                body.current = current;
                message
            }
            ApiError::SafetyRefused {
                message,
                impact,
                confirm_phrase,
            } => {
                body.impact = impact;
                body.confirm_phrase = confirm_phrase;
                message
            }
            ApiError::Invalid { message, .. }
            | ApiError::NotFound { message, .. }
            | ApiError::LeaseLost { message }
            | ApiError::ResultInFlight { message }
            | ApiError::Conflict { message }
            | ApiError::Unauthorized { message }
            | ApiError::Forbidden { message, .. }
            | ApiError::RateLimited { message }
            | ApiError::PayloadTooLarge { message }
            | ApiError::Unavailable { message }
            | ApiError::Internal { message }
            | ApiError::Unreachable { message }
            | ApiError::Other { message, .. } => message,
        };
        (status, body)
    }

    /// The HTTP status (0 for [`ApiError::Unreachable`]: there was none).
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Invalid { status, .. } | ApiError::Other { status, .. } => *status,
            ApiError::NotFound { .. } => 404,
            ApiError::VersionConflict { .. }
            | ApiError::LeaseLost { .. }
            | ApiError::ResultInFlight { .. }
            | ApiError::SafetyRefused { .. }
            | ApiError::Conflict { .. } => 409,
            ApiError::Unauthorized { .. } => 401,
            ApiError::Forbidden { .. } => 403,
            ApiError::RateLimited { .. } => 429,
            ApiError::PayloadTooLarge { .. } => 413,
            ApiError::Unavailable { .. } => 503,
            ApiError::Internal { .. } => 500,
            ApiError::Unreachable { .. } => 0,
        }
    }

    /// The stable `error.code` (`unreachable` for a transport failure).
    pub fn code(&self) -> &str {
        match self {
            ApiError::Invalid { code, .. }
            | ApiError::Forbidden { code, .. }
            | ApiError::Other { code, .. } => code,
            ApiError::NotFound { .. } => "not_found",
            ApiError::VersionConflict { .. } => "version_conflict",
            ApiError::LeaseLost { .. } => "lease_lost",
            ApiError::ResultInFlight { .. } => "result_in_flight",
            ApiError::SafetyRefused { .. } => "safety_check",
            ApiError::Conflict { .. } => "conflict",
            ApiError::Unauthorized { .. } => "unauthorized",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Internal { .. } => "internal",
            ApiError::Unreachable { .. } => "unreachable",
        }
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        match self {
            ApiError::Invalid { message, .. }
            | ApiError::NotFound { message, .. }
            | ApiError::VersionConflict { message, .. }
            | ApiError::LeaseLost { message }
            | ApiError::ResultInFlight { message }
            | ApiError::SafetyRefused { message, .. }
            | ApiError::Conflict { message }
            | ApiError::Unauthorized { message }
            | ApiError::Forbidden { message, .. }
            | ApiError::RateLimited { message }
            | ApiError::PayloadTooLarge { message }
            | ApiError::Unavailable { message }
            | ApiError::Internal { message }
            | ApiError::Unreachable { message }
            | ApiError::Other { message, .. } => message,
        }
    }

    /// The request field at fault, when the server named one.
    pub fn field(&self) -> Option<&str> {
        match self {
            ApiError::Invalid { field, .. }
            | ApiError::NotFound { field, .. }
            | ApiError::Other { field, .. } => field.as_deref(),
            ApiError::VersionConflict { .. } => Some("expectedVersion"),
            ApiError::SafetyRefused { .. } => Some("confirm"),
            ApiError::ResultInFlight { .. } => Some("idempotencyKey"),
            _ => None,
        }
    }

    /// Whether retrying the same request later may succeed (the server or
    /// something in front of it failed, not the request).
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Unavailable { .. }
            | ApiError::Internal { .. }
            | ApiError::Unreachable { .. }
            | ApiError::ResultInFlight { .. }
            | ApiError::RateLimited { .. } => true,
            ApiError::Other { status, .. } => *status >= 500 || *status == 408,
            _ => false,
        }
    }
}

/// The codes of a request the server could not accept as sent.
fn is_invalid_code(code: &str) -> bool {
    code == "validation_failed" || code.starts_with("invalid_")
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.status(), self.field()) {
            (0, _) => write!(f, "server unreachable: {}", self.message()),
            (s, Some(field)) => write!(f, "{} {} ({field}): {}", s, self.code(), self.message()),
            (s, None) => write!(f, "{} {}: {}", s, self.code(), self.message()),
        }
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: &str, field: Option<&str>) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message: format!("m-{code}"),
                field: field.map(str::to_string),
            },
            current: None,
            impact: None,
            confirm_phrase: None,
        }
    }

    #[test]
    fn every_server_code_decodes_to_its_meaning_and_back_unchanged() {
        let cases: &[(u16, &str, Option<&str>)] = &[
            (422, "validation_failed", Some("reason")),
            (400, "invalid_json", None),
            (400, "invalid_body", None),
            (400, "invalid_query", Some("limit")),
            (400, "invalid_path", None),
            (400, "invalid_id", Some("id")),
            (422, "invalid_field", Some("mode")),
            (404, "not_found", Some("workerIds")),
            (409, "version_conflict", Some("expectedVersion")),
            (409, "lease_lost", None),
            (409, "result_in_flight", Some("idempotencyKey")),
            (409, "safety_check", Some("confirm")),
            (409, "conflict", None),
            (401, "unauthorized", None),
            (403, "forbidden", None),
            (403, "cross_site", None),
            (429, "rate_limited", None),
            (413, "payload_too_large", None),
            (503, "unavailable", None),
            (500, "internal", None),
            (405, "method_not_allowed", None),
            (502, "http_502", None),
        ];
        for &(status, code, field) in cases {
            let sent = body(code, field);
            let e = ApiError::from_parts(status, sent.clone());
            assert_eq!(e.status(), status, "{code}");
            assert_eq!(e.code(), code, "{code}");
            assert_eq!(e.field(), field, "{code}");
            assert_eq!(e.into_parts(), (status, sent), "{code}");
        }
    }

    #[test]
    fn the_variants_carry_what_a_client_acts_on() {
        let mut b = body("version_conflict", Some("expectedVersion"));
        b.current = Some(Box::new(
            serde_json::from_value(serde_json::json!({
                "workersPaused": true, "mode": "drain", "reason": "r", "version": 7,
                "requestedBy": "local", "updatedAt": "2026-11-30T00:00:00Z",
                "metrics": {"queued": 0, "running": 0, "staleRunning": 0, "isDrained": true},
                "audit": {"latest": []}
            }))
            .expect("a status"),
        ));
        assert!(matches!(
            ApiError::from_parts(409, b),
            ApiError::VersionConflict { current: Some(c), .. } if c.version == 7
        ));
        let mut b = body("safety_check", Some("confirm"));
        b.confirm_phrase = Some("drain 3 workers".into());
        assert!(matches!(
            ApiError::from_parts(409, b),
            ApiError::SafetyRefused { confirm_phrase: Some(p), .. } if p == "drain 3 workers"
        ));
        assert!(matches!(
            ApiError::from_parts(422, body("validation_failed", Some("reason"))),
            ApiError::Invalid { field: Some(f), .. } if f == "reason"
        ));
        // A code the status does not go with is not guessed at.
        assert!(matches!(
            ApiError::from_parts(404, body("lease_lost", None)),
            ApiError::Other { status: 404, .. }
        ));
    }

    #[test]
    fn transient_means_the_server_not_the_request() {
        assert!(ApiError::from_parts(503, body("unavailable", None)).is_transient());
        assert!(ApiError::from_parts(502, body("http_502", None)).is_transient());
        assert!(ApiError::Unreachable {
            message: "refused".into()
        }
        .is_transient());
        assert!(!ApiError::from_parts(409, body("lease_lost", None)).is_transient());
        assert!(!ApiError::from_parts(422, body("validation_failed", None)).is_transient());
        assert!(!ApiError::from_parts(404, body("not_found", None)).is_transient());
    }

    #[test]
    fn it_travels_as_json_whole() {
        let e = ApiError::from_parts(422, body("validation_failed", Some("reason")));
        let json = serde_json::to_string(&e).expect("encodes");
        assert_eq!(serde_json::from_str::<ApiError>(&json).expect("decodes"), e);
    }
}
