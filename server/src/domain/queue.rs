//! Queue requests, parsed: an enqueue (its queue, schedule and unique
//! key), a claim, the fenced calls of a worker holding a lease, and the job
//! listing's filter; and how a job is shown (`scheduled`).

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;
use wire::{Job, JobStatus};

use super::input::{
    parse_identifier, parse_lease_seconds, ClaimLimit, FieldError, JobTypes, PageLimit, WaitMs,
    WorkerId, MAX_PAYLOAD_BYTES,
};
use super::queues::{QueueName, QueueNames};

pub const DEFAULT_MAX_ATTEMPTS: i32 = 3;
pub const MAX_MAX_ATTEMPTS: i32 = 100;
/// The furthest ahead a job may be scheduled: a year.
pub const MAX_DELAY_SECONDS: u64 = 366 * 24 * 3600;
/// The longest unique key.
pub const MAX_UNIQUE_KEY_CHARS: usize = 200;

/// When an enqueued job becomes claimable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    Now,
    /// `runAt` (a time already past means now).
    At(DateTime<Utc>),
    /// `delaySeconds`.
    After(u64),
}

impl Schedule {
    /// The job's `runAfter` for an enqueue at `now`.
    pub fn run_after(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Schedule::Now => now,
            Schedule::At(t) => t.max(now),
            Schedule::After(secs) => now + Duration::seconds(secs.min(MAX_DELAY_SECONDS) as i64),
        }
    }
}

/// A validated enqueue request.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub job_type: String,
    pub payload: serde_json::Value,
    pub priority: i32,
    pub max_attempts: i32,
    /// `default` unless the request named another.
    pub queue: String,
    pub schedule: Schedule,
    /// While a job with this key is queued, scheduled or running, an
    /// enqueue with it creates nothing and answers that job.
    pub unique_key: Option<String>,
}

impl NewJob {
    /// A job of `job_type` with `payload` in the default queue, now, with
    /// the default attempts (what a plain enqueue gives).
    pub fn simple(job_type: &str, payload: serde_json::Value) -> NewJob {
        NewJob {
            job_type: job_type.to_string(),
            payload,
            priority: 0,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            queue: wire::DEFAULT_QUEUE.to_string(),
            schedule: Schedule::Now,
            unique_key: None,
        }
    }

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
        let queue = QueueName::parse_or_default(req.queue.as_deref())?.into_string();
        let schedule = match (req.run_at.as_deref(), req.delay_seconds) {
            (Some(_), Some(_)) => {
                return Err(FieldError::new(
                    "runAt",
                    "give runAt or delaySeconds, not both",
                ))
            }
            (Some(t), None) => Schedule::At(
                DateTime::parse_from_rfc3339(t.trim())
                    .map_err(|_| {
                        FieldError::new(
                            "runAt",
                            format!(
                                "runAt must be an RFC 3339 time such as 2026-11-22T18:00:00Z, not {t:?}"
                            ),
                        )
                    })?
                    .with_timezone(&Utc),
            ),
            (None, Some(secs)) if secs > MAX_DELAY_SECONDS => {
                return Err(FieldError::new(
                    "delaySeconds",
                    format!("delaySeconds is {secs}; at most {MAX_DELAY_SECONDS} (a year)"),
                ))
            }
            (None, Some(secs)) => Schedule::After(secs),
            (None, None) => Schedule::Now,
        };
        let unique_key = req.unique_key.map(parse_unique_key).transpose()?;
        Ok(NewJob {
            job_type,
            payload,
            priority,
            max_attempts,
            queue,
            schedule,
            unique_key,
        })
    }
}

/// A unique key: 1 to [`MAX_UNIQUE_KEY_CHARS`] characters, no spaces or
/// control characters (`user:42:welcome-email`, a hash, a URL).
fn parse_unique_key(raw: String) -> Result<String, FieldError> {
    let chars = raw.chars().count();
    if raw.is_empty()
        || chars > MAX_UNIQUE_KEY_CHARS
        || raw.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(FieldError::new(
            "uniqueKey",
            format!("uniqueKey must be 1 to {MAX_UNIQUE_KEY_CHARS} characters without spaces"),
        ));
    }
    Ok(raw)
}

/// A job as the API shows it at `now`: a queued job that may not run yet
/// is `scheduled` (storage keeps it `queued`; only the clock tells them
/// apart).
pub fn shown(mut job: Job, now: DateTime<Utc>) -> Job {
    if job.status == JobStatus::Queued && job.run_after > now {
        job.status = JobStatus::Scheduled;
    }
    job
}

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

    #[test]
    fn an_enqueue_may_name_its_queue_schedule_and_unique_key() {
        let parse = |v: serde_json::Value| NewJob::parse(serde_json::from_value(v).unwrap());
        let j = parse(serde_json::json!({"type": "t"})).unwrap();
        assert_eq!(
            (j.queue.as_str(), j.schedule, j.unique_key),
            ("default", Schedule::Now, None)
        );
        let j = parse(serde_json::json!({"type": "t", "queue": "emails",
            "runAt": "2030-01-01T10:00:00+02:00", "uniqueKey": "user:42"}))
        .unwrap();
        let at = DateTime::parse_from_rfc3339("2030-01-01T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!((j.queue.as_str(), j.schedule), ("emails", Schedule::At(at)));
        assert_eq!(j.unique_key.as_deref(), Some("user:42"));
        for (body, field) in [
            (serde_json::json!({"type": "t", "queue": "a b"}), "queue"),
            (
                serde_json::json!({"type": "t", "runAt": "tomorrow"}),
                "runAt",
            ),
            (
                serde_json::json!({"type": "t", "runAt": "2030-01-01"}),
                "runAt",
            ),
            (
                serde_json::json!({"type": "t", "runAt": "2030-01-01T00:00:00Z", "delaySeconds": 5}),
                "runAt",
            ),
            (
                serde_json::json!({"type": "t", "delaySeconds": MAX_DELAY_SECONDS + 1}),
                "delaySeconds",
            ),
            (
                serde_json::json!({"type": "t", "uniqueKey": ""}),
                "uniqueKey",
            ),
            (
                serde_json::json!({"type": "t", "uniqueKey": "a b"}),
                "uniqueKey",
            ),
        ] {
            assert_eq!(parse(body.clone()).unwrap_err().field, field, "{body}");
        }
    }

    #[test]
    fn a_schedule_gives_the_run_after_and_a_queued_job_ahead_is_scheduled() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(Schedule::Now.run_after(now), now);
        assert_eq!(
            Schedule::After(30).run_after(now),
            now + Duration::seconds(30)
        );
        let past = now - Duration::hours(1);
        assert_eq!(Schedule::At(past).run_after(now), now, "the past is now");
        let job = |status: JobStatus, run_after| Job {
            id: Uuid::nil(),
            job_type: "t".into(),
            queue: "default".into(),
            payload: serde_json::json!({}),
            priority: 0,
            status,
            attempts: 0,
            max_attempts: 3,
            worker_id: None,
            lease_token: None,
            lease_expires_at: None,
            run_after,
            unique_key: None,
            paused_at_checkpoint: false,
            result: None,
            error: None,
            created_at: now,
            updated_at: now,
            started_at: None,
            finished_at: None,
        };
        let later = now + Duration::seconds(1);
        assert_eq!(
            shown(job(JobStatus::Queued, later), now).status,
            JobStatus::Scheduled
        );
        assert_eq!(
            shown(job(JobStatus::Queued, now), now).status,
            JobStatus::Queued
        );
        assert_eq!(
            shown(job(JobStatus::Failed, later), now).status,
            JobStatus::Failed
        );
    }
}
