//! Queue requests, parsed: an enqueue, a claim, the fenced calls of a
//! worker holding a lease, and the job listing's filter.

use uuid::Uuid;
use wire::JobStatus;

use super::input::{
    parse_identifier, parse_lease_seconds, ClaimLimit, FieldError, JobTypes, PageLimit, WaitMs,
    WorkerId, MAX_PAYLOAD_BYTES,
};

pub const DEFAULT_MAX_ATTEMPTS: i32 = 3;
pub const MAX_MAX_ATTEMPTS: i32 = 100;

/// A validated enqueue request.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub job_type: String,
    pub payload: serde_json::Value,
    pub priority: i32,
    pub max_attempts: i32,
}

impl NewJob {
    pub fn parse(req: wire::EnqueueRequest) -> Result<NewJob, FieldError> {
        let job_type = parse_identifier("type", req.job_type.as_deref())?;
        let payload = req
            .payload
            .unwrap_or(serde_json::Value::Object(Default::default()));
        let size = payload.to_string().len();
        if size > MAX_PAYLOAD_BYTES {
            return Err(FieldError::new(
                "payload",
                format!("payload is {size} bytes; at most {MAX_PAYLOAD_BYTES} are allowed"),
            ));
        }
        let priority = req.priority.unwrap_or(0);
        if !(-1000..=1000).contains(&priority) {
            return Err(FieldError::new(
                "priority",
                "priority must be between -1000 and 1000",
            ));
        }
        let max_attempts = req.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if !(1..=MAX_MAX_ATTEMPTS).contains(&max_attempts) {
            return Err(FieldError::new(
                "maxAttempts",
                format!("maxAttempts must be between 1 and {MAX_MAX_ATTEMPTS}"),
            ));
        }
        Ok(NewJob {
            job_type,
            payload,
            priority,
            max_attempts,
        })
    }
}

/// A validated claim (`POST /api/queue/jobs/claim`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimCommand {
    pub worker_id: WorkerId,
    pub types: Option<JobTypes>,
    pub lease_seconds: u32,
    pub wait: WaitMs,
    /// A batch claim: the most jobs to hand out (the answer lists them).
    pub limit: Option<ClaimLimit>,
}

impl ClaimCommand {
    pub fn parse(req: &wire::ClaimRequest, limit: Option<u32>) -> Result<ClaimCommand, FieldError> {
        Ok(ClaimCommand {
            limit: ClaimLimit::parse(limit)?,
            wait: WaitMs::parse(req.wait_ms)?,
            worker_id: WorkerId::parse(req.worker_id.as_deref())?,
            lease_seconds: parse_lease_seconds(req.lease_seconds)?,
            types: JobTypes::parse(req.types.as_deref())?,
        })
    }
}

/// The proof a worker offers that it still holds a job's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub job_id: Uuid,
    pub worker_id: String,
    pub lease_token: Uuid,
}

impl Fence {
    pub fn parse(
        job_id: Uuid,
        worker_id: Option<&str>,
        lease_token: Option<Uuid>,
    ) -> Result<Fence, FieldError> {
        Ok(Fence {
            job_id,
            worker_id: WorkerId::parse(worker_id)?.into_string(),
            lease_token: lease_token
                .ok_or_else(|| FieldError::new("leaseToken", "leaseToken is required"))?,
        })
    }
}

/// A validated lease heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatCommand {
    pub fence: Fence,
    /// A new lease length; `None` keeps the job's.
    pub lease_seconds: Option<u32>,
    pub paused_at_checkpoint: Option<bool>,
}

impl HeartbeatCommand {
    pub fn parse(
        job_id: Uuid,
        req: wire::HeartbeatRequest,
    ) -> Result<HeartbeatCommand, FieldError> {
        Ok(HeartbeatCommand {
            fence: Fence::parse(job_id, req.worker_id.as_deref(), req.lease_token)?,
            lease_seconds: req
                .lease_seconds
                .map(|s| parse_lease_seconds(Some(s)))
                .transpose()?,
            paused_at_checkpoint: req.paused_at_checkpoint,
        })
    }
}

/// A validated completion.
#[derive(Debug, Clone, PartialEq)]
pub struct CompleteCommand {
    pub fence: Fence,
    pub result: Option<serde_json::Value>,
}

impl CompleteCommand {
    pub fn parse(job_id: Uuid, req: wire::CompleteRequest) -> Result<CompleteCommand, FieldError> {
        let fence = Fence::parse(job_id, req.worker_id.as_deref(), req.lease_token)?;
        if let Some(r) = &req.result {
            let size = r.to_string().len();
            if size > MAX_PAYLOAD_BYTES {
                return Err(FieldError::new(
                    "result",
                    format!("result is {size} bytes; at most {MAX_PAYLOAD_BYTES} are allowed"),
                ));
            }
        }
        Ok(CompleteCommand {
            fence,
            result: req.result,
        })
    }
}

/// The longest error message kept on a job.
pub const MAX_ERROR_CHARS: usize = 4000;

/// A validated failure report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailCommand {
    pub fence: Fence,
    /// Trimmed, non-empty, at most [`MAX_ERROR_CHARS`].
    pub error: String,
    pub retryable: bool,
}

impl FailCommand {
    pub fn parse(job_id: Uuid, req: wire::FailRequest) -> Result<FailCommand, FieldError> {
        let fence = Fence::parse(job_id, req.worker_id.as_deref(), req.lease_token)?;
        let error = req
            .error
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .ok_or_else(|| FieldError::new("error", "error is required: say what went wrong"))?;
        Ok(FailCommand {
            fence,
            error: error.chars().take(MAX_ERROR_CHARS).collect(),
            retryable: req.retryable.unwrap_or(true),
        })
    }
}

/// The filter of the job listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub limit: PageLimit,
}

impl JobFilter {
    pub fn parse(status: Option<&str>, limit: Option<u32>) -> Result<JobFilter, FieldError> {
        let status = match status {
            None | Some("") => None,
            Some(s) => Some(JobStatus::parse(s).ok_or_else(|| {
                FieldError::new(
                    "status",
                    format!(
                        "unknown status {s:?}: use queued, running, succeeded, failed or cancelled"
                    ),
                )
            })?),
        };
        Ok(JobFilter {
            status,
            limit: PageLimit::parse(limit, 100)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DEFAULT_LEASE_SECONDS;

    #[test]
    fn enqueue_defaults_and_limits() {
        let job = NewJob::parse(wire::EnqueueRequest {
            job_type: Some("email".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(job.max_attempts, DEFAULT_MAX_ATTEMPTS);
        assert_eq!(job.priority, 0);
        assert_eq!(job.payload, serde_json::json!({}));
        let bad = NewJob::parse(wire::EnqueueRequest {
            job_type: Some("email".into()),
            max_attempts: Some(0),
            ..Default::default()
        });
        assert_eq!(bad.unwrap_err().field, "maxAttempts");
        let missing = NewJob::parse(wire::EnqueueRequest::default());
        assert_eq!(missing.unwrap_err().field, "type");
    }

    #[test]
    fn claims_parse_every_field_or_name_the_bad_one() {
        let req =
            |v: serde_json::Value| -> wire::ClaimRequest { serde_json::from_value(v).unwrap() };
        let c = ClaimCommand::parse(
            &req(serde_json::json!({"workerId": "w", "types": ["a"]})),
            Some(5),
        )
        .unwrap();
        assert_eq!(c.worker_id.as_str(), "w");
        assert_eq!(c.lease_seconds, DEFAULT_LEASE_SECONDS);
        assert_eq!(c.types.map(JobTypes::into_vec), Some(vec!["a".to_string()]));
        assert_eq!(c.limit.map(ClaimLimit::get), Some(5));
        let field = |v, limit| ClaimCommand::parse(&req(v), limit).unwrap_err().field;
        assert_eq!(field(serde_json::json!({}), None), "workerId");
        assert_eq!(
            field(serde_json::json!({"workerId": "w", "waitMs": 40000}), None),
            "waitMs"
        );
        assert_eq!(
            field(
                serde_json::json!({"workerId": "w", "leaseSeconds": 1}),
                None
            ),
            "leaseSeconds"
        );
        assert_eq!(
            field(serde_json::json!({"workerId": "w", "types": []}), None),
            "types"
        );
        assert_eq!(
            field(serde_json::json!({"workerId": "w"}), Some(0)),
            "limit"
        );
    }

    #[test]
    fn fenced_calls_need_a_worker_and_a_token() {
        let id = Uuid::new_v4();
        let token = Some(Uuid::new_v4());
        assert_eq!(Fence::parse(id, None, token).unwrap_err().field, "workerId");
        assert_eq!(
            Fence::parse(id, Some("w"), None).unwrap_err().field,
            "leaseToken"
        );
        let fail = |error: Option<&str>| {
            FailCommand::parse(
                id,
                wire::FailRequest {
                    worker_id: Some("w".into()),
                    lease_token: token,
                    error: error.map(str::to_string),
                    retryable: None,
                },
            )
        };
        assert_eq!(fail(Some("  ")).unwrap_err().field, "error");
        let f = fail(Some(&"x".repeat(MAX_ERROR_CHARS + 10))).unwrap();
        assert_eq!((f.error.len(), f.retryable), (MAX_ERROR_CHARS, true));
    }

    #[test]
    fn the_job_filter_knows_the_statuses() {
        let f = JobFilter::parse(Some("queued"), None).unwrap();
        assert_eq!((f.status, f.limit.get()), (Some(JobStatus::Queued), 100));
        assert_eq!(JobFilter::parse(Some(""), None).unwrap().status, None);
        assert_eq!(
            JobFilter::parse(Some("lost"), None).unwrap_err().field,
            "status"
        );
        assert_eq!(JobFilter::parse(None, Some(0)).unwrap_err().field, "limit");
    }
}
