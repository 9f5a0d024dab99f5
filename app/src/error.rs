//! The error every server function returns: the API's own
//! [`wire::ApiError`], so the page *matches* a refusal
//! (`ApiError::VersionConflict { current, .. }`, a field error, "server
//! unreachable") instead of parsing a message.
//!
//! A newtype because of the orphan rule: Leptos' [`FromServerFnError`] is
//! foreign to `app`, and `wire` stays serde-only. On the wire a refusal is
//! the REST API's error body plus its status
//! (`{"status": 409, "error": {code, message, field}, "current": …}`), sent
//! with that HTTP status (see [`crate::ssr::refuse`]). The same reader also
//! understands the plain REST bodies the server's auth layer answers a
//! server-function call with (401, 403, 429), which carry no `status`.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};
use wire::{ActionImpact, ApiError, ErrorBody, ErrorDetail, WorkerPauseStatus};

/// A refused or failed server-function call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "Reply", from = "Reply")]
pub struct AppError(pub ApiError);

impl AppError {
    /// The session is gone (or never was): the page shows the sign-in form.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self.0, ApiError::Unauthorized { .. })
    }

    /// The call never got an answer from the server.
    pub fn is_unreachable(&self) -> bool {
        matches!(self.0, ApiError::Unreachable { .. })
    }

    /// The message to show, for errors no page handles specially.
    pub fn message(&self) -> &str {
        self.0.message()
    }
}

impl From<ApiError> for AppError {
    fn from(e: ApiError) -> Self {
        AppError(e)
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for AppError {}

/// An [`AppError`] as JSON: the REST error body and the status it came with.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reply {
    /// Absent in the auth layer's plain REST bodies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    error: ErrorDetail,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    current: Option<Box<WorkerPauseStatus>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    impact: Option<ActionImpact>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    confirm_phrase: Option<String>,
}

impl From<AppError> for Reply {
    fn from(AppError(e): AppError) -> Self {
        let (status, body) = e.into_parts();
        Reply {
            status: Some(status),
            error: body.error,
            current: body.current,
            impact: body.impact,
            confirm_phrase: body.confirm_phrase,
        }
    }
}

impl From<Reply> for AppError {
    fn from(r: Reply) -> Self {
        if r.status == Some(0) {
            // Only `Unreachable` has no status; it is built by clients, but
            // a round trip must keep it.
            return AppError(ApiError::Unreachable {
                message: r.error.message,
            });
        }
        let status = r.status.unwrap_or_else(|| status_of_code(&r.error.code));
        let body = ErrorBody {
            error: r.error,
            current: r.current,
            impact: r.impact,
            confirm_phrase: r.confirm_phrase,
        };
        AppError(ApiError::from_parts(status, body))
    }
}

/// The status of a REST error body that came without one (the auth layer's
/// answers to a server-function call).
fn status_of_code(code: &str) -> u16 {
    match code {
        "unauthorized" => 401,
        "forbidden" | "cross_site" => 403,
        "rate_limited" => 429,
        "payload_too_large" => 413,
        "not_found" => 404,
        "unavailable" => 503,
        _ => 500,
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    /// What Leptos itself reports: on the client a failed request or an
    /// answer that is not ours (a proxy's HTML page) means the server could
    /// not be reached; on the server, arguments it could not read are a bad
    /// request; anything else is the server's own failure.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError(match value {
            ServerFnErrorErr::Request(m) | ServerFnErrorErr::Deserialization(m) => {
                ApiError::Unreachable { message: m }
            }
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::MissingArg(m) => ApiError::Invalid {
                status: 400,
                code: "invalid_body".into(),
                message: m,
                field: None,
            },
            other => ApiError::Internal {
                message: other.to_string(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(e: ApiError) -> AppError {
        let bytes = AppError(e).ser();
        AppError::de(bytes)
    }

    #[test]
    fn refusals_travel_whole_and_are_matched_by_meaning() {
        let conflict = ApiError::VersionConflict {
            message: "changed".into(),
            current: None,
        };
        assert_eq!(round_trip(conflict.clone()).0, conflict);
        let field = ApiError::Invalid {
            status: 422,
            code: "validation_failed".into(),
            message: "reason must not be empty".into(),
            field: Some("reason".into()),
        };
        assert!(matches!(
            round_trip(field).0,
            ApiError::Invalid { field: Some(f), status: 422, .. } if f == "reason"
        ));
        let safety = ApiError::SafetyRefused {
            message: "too few".into(),
            impact: None,
            confirm_phrase: Some("drain 2 workers".into()),
        };
        assert_eq!(round_trip(safety.clone()).0, safety);
        let gone = ApiError::Unreachable {
            message: "refused".into(),
        };
        assert!(round_trip(gone).is_unreachable());
    }

    #[test]
    fn the_wire_form_is_the_rest_body_with_its_status() {
        let e = AppError(ApiError::NotFound {
            message: "no job 42".into(),
            field: None,
        });
        let json: serde_json::Value = serde_json::from_slice(&e.ser()).expect("json");
        assert_eq!(json["status"], 404);
        assert_eq!(json["error"]["code"], "not_found");
        assert_eq!(json["error"]["message"], "no job 42");
    }

    #[test]
    fn the_auth_layers_plain_bodies_are_understood() {
        let body = br#"{"error":{"code":"unauthorized","message":"sign in","field":null}}"#;
        assert!(AppError::de(body.to_vec().into()).is_unauthorized());
        let body = br#"{"error":{"code":"forbidden","message":"viewer"}}"#;
        assert!(matches!(
            AppError::de(body.to_vec().into()).0,
            ApiError::Forbidden { .. }
        ));
    }

    #[test]
    fn transport_failures_are_unreachable_not_messages() {
        let e = AppError::from_server_fn_error(ServerFnErrorErr::Request("offline".into()));
        assert!(e.is_unreachable());
        // A body that is not ours (a proxy's error page).
        assert!(AppError::de(b"<html>502</html>".to_vec().into()).is_unreachable());
        let e = AppError::from_server_fn_error(ServerFnErrorErr::Args("bad".into()));
        assert_eq!(e.0.status(), 400);
    }
}
