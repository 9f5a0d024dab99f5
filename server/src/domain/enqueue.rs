//! An enqueue, parsed: the job, its queue, when it becomes claimable
//! (`runAt` / `delaySeconds`) and its unique key; and how a job is shown
//! (`scheduled`).

use chrono::{DateTime, Duration, Utc};
use wire::{Job, JobStatus};

use super::input::{parse_identifier, FieldError, MAX_PAYLOAD_BYTES};
use super::queues::QueueName;

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

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

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
