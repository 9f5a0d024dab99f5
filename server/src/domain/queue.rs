//! Queue requests, parsed: a claim, the fenced calls of a worker holding a
//! lease, and the job listing's filter. (An enqueue is in
//! [`super::enqueue`].)

use uuid::Uuid;
use wire::JobStatus;

use super::input::{
    parse_identifier, parse_lease_seconds, ClaimLimit, FieldError, JobTypes, PageLimit, Reason,
    WaitMs, WorkerId, MAX_PAYLOAD_BYTES,
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
        // Line breaks and tabs are a stack trace's; any other control
        // character is refused, as in every text field.
        if error
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(FieldError::new(
                "error",
                "error must not contain control characters other than line breaks and tabs",
            ));
        }
        Ok(FailCommand {
            fence,
            error: error.chars().take(MAX_ERROR_CHARS).collect(),
            retryable: req.retryable.unwrap_or(true),
        })
    }
}

/// Which jobs a listing, a count or a bulk action is about: a status, a
/// type, a queue (each optional: absent matches all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobMatch {
    /// `queued` matches the claimable ones, `scheduled` the queued ones
    /// that may not run yet.
    pub status: Option<JobStatus>,
    pub job_type: Option<String>,
    pub queue: Option<QueueName>,
}

impl JobMatch {
    /// Reads the three filters of a query string; empty means absent.
    pub fn parse(
        status: Option<&str>,
        job_type: Option<&str>,
        queue: Option<&str>,
    ) -> Result<JobMatch, FieldError> {
        let status = match status {
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
        Ok(JobMatch {
            status,
            job_type: parse_optional_type(job_type)?,
            queue: parse_optional_queue(queue)?,
        })
    }
}

/// A job type filter: absent or empty matches every type; otherwise it is
/// spelled as a type is (see [`parse_identifier`]).
pub fn parse_optional_type(raw: Option<&str>) -> Result<Option<String>, FieldError> {
    match raw {
        None | Some("") => Ok(None),
        Some(t) => parse_identifier("type", Some(t)).map(Some),
    }
}

/// A queue filter: absent or empty matches every queue.
pub fn parse_optional_queue(raw: Option<&str>) -> Result<Option<QueueName>, FieldError> {
    match raw {
        None | Some("") => Ok(None),
        Some(name) => QueueName::parse("queue", Some(name)).map(Some),
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
    /// Only jobs of this type.
    pub job_type: Option<String>,
    /// List payloads and results too (`include=payload`); without it they
    /// are not even read from storage, so a page stays small whatever the
    /// jobs carry.
    pub include_payload: bool,
}

/// `include` of a listing: absent or empty, or `payload`.
fn parse_include(raw: Option<&str>) -> Result<bool, FieldError> {
    match raw {
        None | Some("") => Ok(false),
        Some("payload") => Ok(true),
        Some(other) => Err(FieldError::new(
            "include",
            format!("unknown include {other:?}: use include=payload (payloads and results)"),
        )),
    }
}

impl JobFilter {
    pub fn parse(q: &wire::JobListQuery) -> Result<JobFilter, FieldError> {
        JobFilter::search(&wire::JobSearch {
            status: q.status.clone(),
            job_type: None,
            queue: q.queue.clone(),
            limit: q.limit,
            include: q.include.clone(),
        })
    }

    /// `GET /api/queue/jobs?status=&type=&queue=&limit=`.
    pub fn search(q: &wire::JobSearch) -> Result<JobFilter, FieldError> {
        let m = JobMatch::parse(
            q.status.as_deref(),
            q.job_type.as_deref(),
            q.queue.as_deref(),
        )?;
        Ok(JobFilter {
            status: m.status,
            queue: m.queue,
            job_type: m.job_type,
            limit: PageLimit::parse(q.limit, 100)?,
            include_payload: parse_include(q.include.as_deref())?,
        })
    }

    /// What the listing matches, without its page size.
    pub fn matching(&self) -> JobMatch {
        JobMatch {
            status: self.status,
            job_type: self.job_type.clone(),
            queue: self.queue.clone(),
        }
    }
}

/// The most failed jobs one bulk retry queues again (one transaction):
/// more matching is refused with a request to narrow the filter.
pub const MAX_BULK_RETRY: i64 = 10_000;

/// A validated bulk retry (`POST /api/queue/jobs/retry-failed`): the
/// failed jobs of a type and/or queue, why, and the count the operator
/// confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkRetryCommand {
    pub job_type: Option<String>,
    pub queue: Option<QueueName>,
    pub reason: Reason,
    /// Refuse (409) unless exactly this many failed jobs match.
    pub expected_count: Option<i64>,
}

impl BulkRetryCommand {
    pub fn parse(req: wire::BulkRetryRequest) -> Result<BulkRetryCommand, FieldError> {
        let expected_count = match req.expected_count {
            Some(n) if n < 0 => {
                return Err(FieldError::new(
                    "expectedCount",
                    "expectedCount must be 0 or more",
                ))
            }
            n => n,
        };
        Ok(BulkRetryCommand {
            job_type: parse_optional_type(req.job_type.as_deref())?,
            queue: parse_optional_queue(req.queue.as_deref())?,
            reason: Reason::parse(req.reason.as_deref())?,
            expected_count,
        })
    }

    /// The jobs it is about: the failed ones of its type and queue.
    pub fn matching(&self) -> JobMatch {
        JobMatch {
            status: Some(JobStatus::Failed),
            job_type: self.job_type.clone(),
            queue: self.queue.clone(),
        }
    }

    /// The audit event of a bulk retry that queued `ids` again.
    pub fn event(
        &self,
        actor: &str,
        retried: i64,
        metrics: wire::DrainMetrics,
        pause_version: i64,
        now: chrono::DateTime<chrono::Utc>,
    ) -> super::NewControlEvent {
        super::NewControlEvent {
            action: "jobs.retry".into(),
            mode: None,
            reason: self.reason.as_str().to_string(),
            actor: actor.to_string(),
            force_resume: false,
            metrics,
            version: pause_version,
            success: true,
            request_id: None,
            created_at: now,
            targets: Vec::new(),
            details: Some(serde_json::json!({
                "status": "failed",
                "type": self.job_type,
                "queue": self.queue.as_ref().map(QueueName::as_str),
                "retried": retried,
            })),
            queue: None,
        }
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
        assert_eq!(fail(Some("boom\u{1b}[31m")).unwrap_err().field, "error");
        assert_eq!(fail(Some("a\0b")).unwrap_err().field, "error");
        assert!(fail(Some("trace:\r\n\tat x")).is_ok());
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
                include: None,
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
        assert_eq!(
            q(None, Some(crate::domain::MAX_PAGE + 1), None)
                .unwrap_err()
                .field,
            "limit"
        );
    }

    #[test]
    fn payloads_are_listed_only_when_asked_for() {
        let q = |include: Option<&str>| {
            JobFilter::search(&wire::JobSearch {
                include: include.map(str::to_string),
                ..Default::default()
            })
        };
        assert!(!q(None).unwrap().include_payload);
        assert!(!q(Some("")).unwrap().include_payload);
        assert!(q(Some("payload")).unwrap().include_payload);
        assert_eq!(q(Some("secrets")).unwrap_err().field, "include");
    }

    #[test]
    fn the_job_search_adds_the_type() {
        let q = |v: serde_json::Value| -> wire::JobSearch { serde_json::from_value(v).unwrap() };
        let f = JobFilter::search(&q(serde_json::json!({"type": "email", "status": "failed"})))
            .unwrap();
        assert_eq!(f.job_type.as_deref(), Some("email"));
        assert_eq!(f.matching().status, Some(JobStatus::Failed));
        assert_eq!(
            JobFilter::search(&q(serde_json::json!({"type": ""})))
                .unwrap()
                .job_type,
            None
        );
        assert_eq!(
            JobFilter::search(&q(serde_json::json!({"type": "a b"})))
                .unwrap_err()
                .field,
            "type"
        );
    }

    #[test]
    fn a_bulk_retry_needs_a_reason_and_a_sane_count() {
        let parse =
            |v: serde_json::Value| BulkRetryCommand::parse(serde_json::from_value(v).unwrap());
        let c = parse(serde_json::json!({"type": "email", "queue": "emails", "reason": " r ", "expectedCount": 3})).unwrap();
        assert_eq!(c.reason.as_str(), "r");
        assert_eq!(c.expected_count, Some(3));
        let m = c.matching();
        assert_eq!(m.status, Some(JobStatus::Failed));
        assert_eq!(
            m.queue.map(QueueName::into_string).as_deref(),
            Some("emails")
        );
        assert_eq!(parse(serde_json::json!({})).unwrap_err().field, "reason");
        assert_eq!(
            parse(serde_json::json!({"reason": "r", "expectedCount": -1}))
                .unwrap_err()
                .field,
            "expectedCount"
        );
        assert_eq!(
            parse(serde_json::json!({"reason": "r", "queue": "no way"}))
                .unwrap_err()
                .field,
            "queue"
        );
    }
}
