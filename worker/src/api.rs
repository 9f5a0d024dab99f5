//! The HTTP client for the worker side of the Lull API, and the one place
//! where a failed request is classified: worth retrying (the server was
//! unreachable or overloaded) or final (the server looked and said no).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;
use wire::{
    ClaimRequest, ClaimResponse, ErrorBody, HeartbeatRequest, HeartbeatResponse, RegisterRequest,
    ResultAck, ResultEnvelope, WorkerDirectiveResponse, WorkerHeartbeatRequest,
};

/// Timeout of every request but a long-poll claim.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Added to a claim's `waitMs`: the server may answer a little after it.
const CLAIM_GRACE: Duration = Duration::from_secs(10);

/// `409` codes that mean "the same result is being applied right now" (the
/// server's answer to a concurrent repeat of an idempotency key): a retry
/// will get a 2xx, so it is not a refusal. Every other 409 (notably
/// `lease_lost`) is final.
const IN_FLIGHT_CODES: &[&str] = &["result_in_flight"];

/// A request that did not get a 2xx.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No answer: connection refused or reset, timeout, a cut-off body.
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
    /// The server answered with an error status.
    #[error("server answered {status} {code}: {message}")]
    Status {
        status: u16,
        /// The `error.code` of the body (`lease_lost`, …), or `http_<status>`
        /// when the body was not Lull's error shape.
        code: String,
        message: String,
    },
    /// A 2xx whose body is not what this version of the worker expects.
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
}

impl ApiError {
    /// Retrying later may succeed: unreachable, 5xx, 408, 429, or a
    /// concurrent repeat of a result still being applied.
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Unreachable(_) => true,
            ApiError::Status { status, code, .. } => {
                *status >= 500
                    || *status == 408
                    || *status == 429
                    || (*status == 409 && IN_FLIGHT_CODES.contains(&code.as_str()))
            }
            // A 2xx we cannot read: the server did act; retrying is harmless
            // for idempotent calls and the caller decides for the others.
            ApiError::Decode(_) => false,
        }
    }

    /// The job's lease is no longer ours (requeued elsewhere, cancelled, or
    /// the job is gone): stop working on it and report nothing.
    pub fn is_lease_lost(&self) -> bool {
        matches!(
            self,
            ApiError::Status {
                status: 404 | 409,
                ..
            }
        )
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A cheap-to-clone client bound to one server.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    /// `base` without a trailing slash; `token` is sent as a bearer token.
    pub fn new(base: &str, token: Option<String>) -> Result<Api, ApiError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| ApiError::Unreachable(format!("cannot build the HTTP client: {e}")))?;
        Ok(Api {
            http,
            base: base.trim_end_matches('/').to_string(),
            token,
        })
    }

    pub async fn register(
        &self,
        req: &RegisterRequest,
    ) -> Result<WorkerDirectiveResponse, ApiError> {
        self.post("/api/workers/register", req, REQUEST_TIMEOUT)
            .await
    }

    pub async fn worker_heartbeat(
        &self,
        worker_id: &str,
        req: &WorkerHeartbeatRequest,
    ) -> Result<WorkerDirectiveResponse, ApiError> {
        let path = format!("/api/workers/{worker_id}/heartbeat");
        self.post(&path, req, REQUEST_TIMEOUT).await
    }

    /// A claim, long-polling up to `req.wait_ms`.
    pub async fn claim(&self, req: &ClaimRequest) -> Result<ClaimResponse, ApiError> {
        let wait = Duration::from_millis(u64::from(req.wait_ms.unwrap_or(0)));
        self.post("/api/queue/jobs/claim", req, wait + CLAIM_GRACE)
            .await
    }

    pub async fn job_heartbeat(
        &self,
        job_id: Uuid,
        req: &HeartbeatRequest,
    ) -> Result<HeartbeatResponse, ApiError> {
        let path = format!("/api/queue/jobs/{job_id}/heartbeat");
        self.post(&path, req, REQUEST_TIMEOUT).await
    }

    /// Submits a result. Any 2xx is an acknowledgement, so an unreadable 2xx
    /// body still counts (`Ok(None)`): re-sending would only be a repeat.
    pub async fn submit_result(&self, env: &ResultEnvelope) -> Result<Option<ResultAck>, ApiError> {
        let resp = self
            .send("/api/workers/results", env, REQUEST_TIMEOUT)
            .await?;
        Ok(resp.json::<ResultAck>().await.ok())
    }

    async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<R, ApiError> {
        let resp = self.send(path, body, timeout).await?;
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ApiError::Unreachable(format!("{path}: {e}")))?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode(format!("{path}: {e}")))
    }

    /// Sends a POST and turns a non-2xx answer into [`ApiError::Status`].
    async fn send<B: Serialize>(
        &self,
        path: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<reqwest::Response, ApiError> {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .timeout(timeout)
            .json(body);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| ApiError::Unreachable(format!("{path}: {e}")))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        Err(status_error(status.as_u16(), &text))
    }
}

/// Reads Lull's `{"error": {code, message}}`, or keeps the raw text.
fn status_error(status: u16, body: &str) -> ApiError {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(b) => ApiError::Status {
            status,
            code: b.error.code,
            message: b.error.message,
        },
        Err(_) => ApiError::Status {
            status,
            code: format!("http_{status}"),
            message: body.chars().take(200).collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(s: u16, code: &str) -> ApiError {
        ApiError::Status {
            status: s,
            code: code.into(),
            message: String::new(),
        }
    }

    #[test]
    fn outages_and_overload_are_transient() {
        assert!(ApiError::Unreachable("refused".into()).is_transient());
        for s in [500, 502, 503, 504, 408, 429] {
            assert!(status(s, "x").is_transient(), "{s}");
        }
        assert!(status(409, "result_in_flight").is_transient());
    }

    #[test]
    fn refusals_are_final() {
        for (s, code) in [
            (409, "lease_lost"),
            (422, "validation_failed"),
            (400, "invalid_json"),
            (404, "not_found"),
            (401, "unauthorized"),
        ] {
            assert!(!status(s, code).is_transient(), "{s} {code}");
        }
    }

    #[test]
    fn lull_error_bodies_are_read_and_others_kept_raw() {
        let e = status_error(
            409,
            r#"{"error":{"code":"lease_lost","message":"gone","field":null}}"#,
        );
        assert!(matches!(&e, ApiError::Status { code, .. } if code == "lease_lost"));
        assert!(e.is_lease_lost());
        let e = status_error(502, "<html>bad gateway</html>");
        assert!(
            matches!(&e, ApiError::Status { code, message, .. } if code == "http_502" && message.contains("bad gateway"))
        );
    }
}
