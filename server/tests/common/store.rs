//! Helpers of the storage conformance suites: commands, jobs, claims and
//! fences as the suites build them. Time is passed explicitly, so lease
//! expiry is tested without sleeping.

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use server::domain::{JobFilter, NewJob, PauseCommand, Registration};
use server::storage::{ClaimOutcome, ClaimParams, Fence, Store};
use wire::Job;

pub fn t0() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

pub fn cmd(json: serde_json::Value) -> PauseCommand {
    PauseCommand::parse(serde_json::from_value(json).unwrap()).unwrap()
}

pub fn pause_drain() -> PauseCommand {
    cmd(serde_json::json!({"action":"pause","mode":"drain","reason":"deploy"}))
}

pub fn resume() -> PauseCommand {
    cmd(serde_json::json!({"action":"resume","reason":"done"}))
}

pub fn new_job(job_type: &str, priority: i32, max_attempts: i32) -> NewJob {
    NewJob {
        priority,
        max_attempts,
        ..NewJob::simple(job_type, serde_json::json!({"n": 1, "s": "x"}))
    }
}

/// A job of `job_type` in `queue`.
pub fn queued_in(queue: &str, job_type: &str) -> NewJob {
    NewJob {
        queue: queue.to_string(),
        ..new_job(job_type, 0, 3)
    }
}

/// The job listing's filter: `status` (as the API spells it), `queue`,
/// at most `limit`; payloads and results left out, as by default.
pub fn jobs_filter(status: Option<&str>, queue: Option<&str>, limit: u32) -> JobFilter {
    JobFilter::parse(&wire::JobListQuery {
        status: status.map(str::to_string),
        limit: Some(limit),
        queue: queue.map(str::to_string),
        include: None,
    })
    .unwrap()
}

pub fn params(worker: &str, now: DateTime<Utc>) -> ClaimParams {
    ClaimParams {
        worker_id: worker.to_string(),
        types: None,
        queues: None,
        lease_seconds: 30,
        now,
    }
}

/// Enqueues `job` at `now`; the job (created, not a duplicate).
pub async fn add(store: &Arc<dyn Store>, job: &NewJob, now: DateTime<Utc>) -> Job {
    let e = store.enqueue(job, now).await.unwrap();
    assert!(!e.duplicate, "{e:?}");
    e.job
}

pub async fn claim_job(store: &Arc<dyn Store>, worker: &str, now: DateTime<Utc>) -> Option<Job> {
    match store.claim(&params(worker, now)).await.unwrap() {
        ClaimOutcome::Running { job, .. } => job,
        ClaimOutcome::Paused(_) => panic!("unexpectedly paused"),
    }
}

pub fn fence(job: &Job, worker: &str) -> Fence {
    Fence {
        job_id: job.id,
        worker_id: worker.to_string(),
        lease_token: job.lease_token.expect("claimed job has a lease token"),
    }
}

/// A registration of worker `id`, boot `boot`.
pub fn reg(id: &str, boot: &str) -> Registration {
    Registration {
        id: id.into(),
        name: format!("{id}-name"),
        hostname: "host-a".into(),
        version: "1.2.3".into(),
        labels: [("zone".to_string(), "eu".to_string())].into(),
        boot_id: boot.into(),
    }
}
