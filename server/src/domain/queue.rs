//! Queue requests, parsed: a claim, the fenced calls of a worker holding a
//! lease, and the job listing's filter. (An enqueue is in
//! [`super::enqueue`].)

use uuid::Uuid;
use wire::JobStatus;

use super::input::{
    parse_lease_seconds, ClaimLimit, FieldError, JobTypes, PageLimit, WaitMs, WorkerId,
    MAX_PAYLOAD_BYTES,
};
use super::queues::{QueueName, QueueNames};

/// A validated claim (`POST /api/queue/jobs/claim`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimCommand {
    pub worker_id: WorkerId,
    pub types: Option<JobTypes>,
    /// The queues it takes from (`None`: every queue).
    pub queues: Option<QueueNames>,
    pub lease_seconds: u32,
    pub wait: WaitMs,
    /// A batch claim: the most jobs to hand out (the answer lists them).
    pub limit: Option<ClaimLimit>,
    /// The pause version the worker says it has applied.
    pub applied_version: Option<i64>,
}

impl ClaimCommand {
    pub fn parse(req: &wire::ClaimRequest, limit: Option<u32>) -> Result<ClaimCommand, FieldError> {
        Ok(ClaimCommand {
            limit: ClaimLimit::parse(limit)?,
            wait: WaitMs::parse(req.wait_ms)?,
            worker_id: WorkerId::parse(req.worker_id.as_deref())?,
            lease_seconds: parse_lease_seconds(req.lease_seconds)?,
            types: JobTypes::parse(req.types.as_deref())?,
            queues: QueueNames::parse(req.queues.as_deref())?,
            applied_version: match req.applied_version {
                Some(v) if v < 0 => {
                    return Err(FieldError::new(
                        "appliedVersion",
                        "appliedVersion is a pause version: 0 or more",
                    ))
                }
                v => v,
            },
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFilter {
    /// `queued` lists the claimable ones, `scheduled` the queued ones that
    /// may not run yet.
    pub status: Option<JobStatus>,
    pub queue: Option<QueueName>,
    pub limit: PageLimit,
}

impl JobFilter {
    pub fn parse(q: &wire::JobListQuery) -> Result<JobFilter, FieldError> {
        let status = match q.status.as_deref() {
            None | Some("") => None,
            Some(s) => Some(JobStatus::parse(s).ok_or_else(|| {
                FieldError::new(
                    "status",
                    format!(
                        "unknown status {s:?}: use queued, scheduled, running, succeeded, failed or cancelled"
                    ),
                )
            })?),
        };
        let queue = match q.queue.as_deref() {
            None | Some("") => None,
            Some(name) => Some(QueueName::parse("queue", Some(name))?),
        };
        Ok(JobFilter {
            status,
            queue,
            limit: PageLimit::parse(q.limit, 100)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DEFAULT_LEASE_SECONDS;

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
    fn the_job_filter_knows_the_statuses_and_queues() {
        let q = |status: Option<&str>, limit: Option<u32>, queue: Option<&str>| {
            JobFilter::parse(&wire::JobListQuery {
                status: status.map(str::to_string),
                limit,
                queue: queue.map(str::to_string),
            })
        };
        let f = q(Some("queued"), None, None).unwrap();
        assert_eq!((f.status, f.limit.get()), (Some(JobStatus::Queued), 100));
        assert_eq!(
            q(Some("scheduled"), None, None).unwrap().status,
            Some(JobStatus::Scheduled)
        );
        assert_eq!(q(Some(""), None, None).unwrap().status, None);
        assert_eq!(q(Some("lost"), None, None).unwrap_err().field, "status");
        assert_eq!(q(None, Some(0), None).unwrap_err().field, "limit");
        assert_eq!(
            q(None, None, Some("emails"))
                .unwrap()
                .queue
                .map(QueueName::into_string),
            Some("emails".into())
        );
        assert_eq!(q(None, None, Some("e mails")).unwrap_err().field, "queue");
    }
}
