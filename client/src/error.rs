//! What a call can fail with: the API's own error answer
//! ([`wire::ApiError`], decoded by its stable code, with "nobody answered"
//! as [`ApiError::Unreachable`]), or a success this client cannot read.

use wire::{ApiError, ErrorBody, ErrorDetail};

/// The error of every [`Client`](crate::Client) method.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server (or something in front of it) answered with an error
    /// status, or could not be reached at all
    /// ([`ApiError::Unreachable`]: refused, reset, timed out, a body cut
    /// off). Match on the variant: `LeaseLost`, `VersionConflict { current
    /// }`, `Invalid { field }`, `SafetyRefused { confirm_phrase }`, …
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A 2xx answer whose body is not what this version of the client
    /// expects. The server did act on the request; only its answer could
    /// not be read (a version skew between client and server).
    #[error("{endpoint}: unexpected answer from the server: {message}")]
    Decode { endpoint: String, message: String },
    /// The client could not be built (a base URL that is not `http(s)://…`,
    /// an HTTP stack that failed to start). No request was sent.
    #[error("cannot set up the client: {0}")]
    Setup(String),
}

/// What a failed call means for the caller, decided from the JSON error
/// `code` Lull sends, never from the bare status: a proxy or load balancer
/// in front of the server answers with statuses too (a 404 page during a
/// deploy, a 401 from a misconfigured auth layer), and those say nothing
/// about the job or the request. The worker runtime acts on this alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Sending the same request again later may succeed: nothing answered,
    /// something in front of Lull answered (any status, with a body that is
    /// not Lull's JSON error), or Lull itself is failing or busy (5xx, 408,
    /// 429, `result_in_flight`).
    Transient,
    /// The credential was refused (401) or lacks the role (403). The request
    /// itself is fine: keep the work and retry once an operator fixes the
    /// token.
    Credential,
    /// Lull says the job is no longer the caller's: `409 lease_lost` (the
    /// lease expired and the job was requeued, or it was cancelled) or
    /// `404 not_found` with Lull's own error body (the job is gone).
    Gone,
    /// Lull looked at the request and refused it for good (validation, a
    /// conflict, too large), or the call could not be made or its 2xx
    /// answer not read: sending it again unchanged cannot help.
    Final,
}

/// The code this client gives an error answer whose body is not Lull's
/// JSON error (`http_404` for a proxy's HTML 404): see [`from_answer`].
const FOREIGN_CODE_PREFIX: &str = "http_";

impl Error {
    /// The API's error answer, when there was one (or nobody answered).
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// What this failure means for the caller (see [`ErrorKind`]): the one
    /// place a status and code are turned into "retry", "fix the token",
    /// "the job is gone" or "give up".
    pub fn kind(&self) -> ErrorKind {
        let Some(e) = self.api() else {
            return ErrorKind::Final;
        };
        match e {
            ApiError::LeaseLost { .. } | ApiError::NotFound { .. } => ErrorKind::Gone,
            ApiError::Unauthorized { .. } | ApiError::Forbidden { .. } => ErrorKind::Credential,
            // Not Lull's answer: a proxy's page says nothing about the job.
            ApiError::Other { code, .. } if code.starts_with(FOREIGN_CODE_PREFIX) => {
                ErrorKind::Transient
            }
            e if e.is_transient() => ErrorKind::Transient,
            _ => ErrorKind::Final,
        }
    }

    /// Whether sending the same request again later may succeed: the server
    /// or something in front of it failed, not the request
    /// ([`ErrorKind::Transient`]). A [`Error::Decode`] is not: the server
    /// did answer 2xx.
    pub fn is_transient(&self) -> bool {
        self.kind() == ErrorKind::Transient
    }

    /// Whether the request can never succeed as sent: Lull refused it for
    /// good, or says the job is no longer the caller's. A refused
    /// credential is not final (the token can be fixed), nor is anything
    /// transient.
    pub fn is_final(&self) -> bool {
        matches!(self.kind(), ErrorKind::Gone | ErrorKind::Final)
    }

    /// The HTTP status of an error answer (`None` when nobody answered, or
    /// for a success that could not be read).
    pub fn status(&self) -> Option<u16> {
        self.api().map(ApiError::status).filter(|s| *s != 0)
    }
}

/// The error of a non-2xx answer. Lull's `{"error": {code, message}}` is
/// decoded by its code; any other body (a proxy's HTML 502) still becomes a
/// typed error, by its status, with code `http_<status>` and the start of
/// the body as its message.
pub(crate) fn from_answer(status: u16, body: &[u8]) -> ApiError {
    let body = serde_json::from_slice::<ErrorBody>(body).unwrap_or_else(|_| ErrorBody {
        error: ErrorDetail {
            code: format!("{FOREIGN_CODE_PREFIX}{status}"),
            message: String::from_utf8_lossy(body).chars().take(200).collect(),
            field: None,
        },
        current: None,
        impact: None,
        confirm_phrase: None,
    });
    ApiError::from_parts(status, body)
}

/// A request that got no answer (or a cut-off one).
pub(crate) fn unreachable(endpoint: &str, e: &reqwest::Error) -> Error {
    // reqwest's Display of a timeout or refused connection is terse; its
    // source chain says why ("connection refused").
    let mut message = format!("{endpoint}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    Error::Api(ApiError::Unreachable { message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lull_error_bodies_decode_by_code() {
        let e = from_answer(
            409,
            br#"{"error":{"code":"lease_lost","message":"gone","field":null}}"#,
        );
        assert!(matches!(e, ApiError::LeaseLost { ref message } if message == "gone"));
        let e = from_answer(
            422,
            br#"{"error":{"code":"validation_failed","message":"m","field":"reason"}}"#,
        );
        assert_eq!(e.field(), Some("reason"));
    }

    #[test]
    fn a_body_that_is_not_ours_still_becomes_a_typed_error() {
        let e = from_answer(502, b"<html>bad gateway</html>");
        assert!(
            matches!(&e, ApiError::Other { status: 502, code, message, .. }
                if code == "http_502" && message.contains("bad gateway")),
            "{e:?}"
        );
        assert!(Error::Api(e).is_transient(), "a proxy's 502 may pass");
        // By status where the status alone has a meaning.
        assert!(matches!(
            from_answer(401, b"denied"),
            ApiError::Unauthorized { .. }
        ));
        assert!(matches!(
            from_answer(429, b""),
            ApiError::RateLimited { .. }
        ));
        let long = vec![b'x'; 5000];
        assert_eq!(from_answer(500, &long).message().len(), 200);
    }

    #[test]
    fn only_api_answers_have_a_status_and_decode_errors_are_final() {
        let decode = Error::Decode {
            endpoint: "GET /x".into(),
            message: "missing field".into(),
        };
        assert_eq!(decode.status(), None);
        assert!(!decode.is_transient());
        let gone = Error::Api(ApiError::Unreachable {
            message: "refused".into(),
        });
        assert_eq!(gone.status(), None);
        assert!(gone.is_transient());
        assert_eq!(Error::Api(from_answer(404, b"")).status(), Some(404));
    }

    fn kind(status: u16, body: &[u8]) -> ErrorKind {
        Error::Api(from_answer(status, body)).kind()
    }

    #[test]
    fn the_kind_comes_from_lulls_code_not_the_bare_status() {
        let lull = |code: &str| format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#);
        // Lull's own word that the job is no longer ours.
        assert_eq!(kind(409, lull("lease_lost").as_bytes()), ErrorKind::Gone);
        assert_eq!(kind(404, lull("not_found").as_bytes()), ErrorKind::Gone);
        // A 404 that is not Lull's (a proxy's page, an empty body) is not.
        for page in [&b"<html><h1>404 Not Found</h1></html>"[..], b"", b"{}"] {
            let e = Error::Api(from_answer(404, page));
            assert_eq!(e.kind(), ErrorKind::Transient, "{e:?}");
            assert!(e.is_transient() && !e.is_final());
        }
        // A refused credential keeps the work: neither final nor transient.
        for status in [401, 403] {
            for body in [lull("unauthorized"), lull("forbidden"), "denied".into()] {
                let e = Error::Api(from_answer(status, body.as_bytes()));
                assert_eq!(e.kind(), ErrorKind::Credential, "{status} {body}");
                assert!(!e.is_final() && !e.is_transient());
            }
        }
        for (status, code) in [
            (503, "unavailable"),
            (500, "internal"),
            (409, "result_in_flight"),
        ] {
            assert_eq!(
                kind(status, lull(code).as_bytes()),
                ErrorKind::Transient,
                "{code}"
            );
        }
        assert_eq!(kind(429, b""), ErrorKind::Transient);
        // Lull refusing the request itself is final.
        for (status, code) in [
            (422, "validation_failed"),
            (409, "conflict"),
            (400, "invalid_json"),
        ] {
            let e = Error::Api(from_answer(status, lull(code).as_bytes()));
            assert_eq!(e.kind(), ErrorKind::Final, "{code}");
            assert!(e.is_final());
        }
        let decode = Error::Decode {
            endpoint: "POST /api/workers/results".into(),
            message: "missing field".into(),
        };
        assert_eq!(decode.kind(), ErrorKind::Final);
    }
}
