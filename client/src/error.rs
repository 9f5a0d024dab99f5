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

impl Error {
    /// The API's error answer, when there was one (or nobody answered).
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// Whether sending the same request again later may succeed: the server
    /// or something in front of it failed, not the request (see
    /// [`ApiError::is_transient`]). A [`Error::Decode`] is not: the server
    /// did answer 2xx.
    pub fn is_transient(&self) -> bool {
        self.api().is_some_and(ApiError::is_transient)
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
            code: format!("http_{status}"),
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
}
