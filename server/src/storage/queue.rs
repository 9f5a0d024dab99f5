//! The job queue, operator side: enqueue, read, cancel, retry, and the
//! counts behind the drain metrics and the fleet views. (Claims and leases
//! are in [`super::leases`].)

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use wire::{Job, JobStatus};

use super::notice::Notice;
use super::rows;
use super::{Arg, Driver, Exec, RowReader, Storage, StoreError, StoreResult};
use crate::domain::{JobCounts, NewJob};

#[async_trait]
pub trait QueueStore: Send + Sync + 'static {
    async fn job_counts(&self, now: DateTime<Utc>) -> StoreResult<JobCounts>;

    /// Jobs handed out at or after `since`.
    async fn dispatches_since(&self, since: DateTime<Utc>) -> StoreResult<i64>;

    async fn enqueue(&self, job: &NewJob, now: DateTime<Utc>) -> StoreResult<Job>;

    /// Cancels a queued or running job (a running job's lease is revoked, so
    /// its worker's next heartbeat gets 409). `Conflict` when already final.
    async fn cancel(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Job>;

    /// Puts a failed or cancelled job back in the queue with fresh attempts.
    /// `Conflict` for queued, running or succeeded jobs.
    async fn retry(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Job>;

    async fn get_job(&self, id: Uuid) -> StoreResult<Job>;

    /// Newest first.
    async fn list_jobs(&self, status: Option<JobStatus>, limit: u32) -> StoreResult<Vec<Job>>;

    /// Running jobs (stale or not), oldest lease first: what blocks the drain.
    async fn running_jobs(&self, limit: u32) -> StoreResult<Vec<Job>>;

    /// Jobs that finished (succeeded or failed) at or after `since`.
    async fn finished_since(&self, since: DateTime<Utc>) -> StoreResult<i64>;

    /// Mean claim-to-finish duration in milliseconds per job type, over jobs
    /// finished at or after `since`.
    async fn mean_durations_ms(&self, since: DateTime<Utc>) -> StoreResult<Vec<(String, f64)>>;

    /// Mean claim-to-finish duration (ms) of jobs finished since `since`.
    async fn mean_latency_ms(&self, since: DateTime<Utc>) -> StoreResult<Option<f64>>;
}

// ---- queries: one statement each -------------------------------------

/// Jobs by status; a lease that expired before `now` counts as stale.
pub(crate) async fn count_jobs(s: &mut impl Exec, now: DateTime<Utc>) -> StoreResult<JobCounts> {
    const SQL: &str = "SELECT \
        COUNT(*) FILTER (WHERE status = 'queued') AS queued, \
        COUNT(*) FILTER (WHERE status = 'running' AND lease_expires_at >= $1) AS running, \
        COUNT(*) FILTER (WHERE status = 'running' AND lease_expires_at < $1) AS stale_running, \
        COUNT(*) FILTER (WHERE status = 'succeeded') AS succeeded, \
        COUNT(*) FILTER (WHERE status = 'failed') AS failed, \
        COUNT(*) FILTER (WHERE status = 'cancelled') AS cancelled \
        FROM jobs";
    rows::counts(&s.fetch_one(SQL, &[Arg::Time(now)]).await?)
}

/// A single count (`n`) since a time.
async fn count_since(
    s: &mut impl Exec,
    sql: &'static str,
    since: DateTime<Utc>,
) -> StoreResult<i64> {
    s.fetch_one(sql, &[Arg::Time(since)]).await?.i64("n")
}

/// Adds a queued job.
async fn insert_job(s: &mut impl Exec, job: &NewJob, now: DateTime<Utc>) -> StoreResult<Job> {
    let sql = s.sql().insert_job;
    let row = s
        .fetch_one(
            sql,
            &[
                Arg::Id(Uuid::new_v4()),
                Arg::Text(&job.job_type),
                Arg::Json(&job.payload),
                Arg::I32(job.priority),
                Arg::I32(job.max_attempts),
                Arg::Time(now),
            ],
        )
        .await?;
    rows::job(&row)
}

/// The job with this id.
pub(crate) async fn find_job(s: &mut impl Exec, id: Uuid) -> StoreResult<Option<Job>> {
    const SQL: &str = concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = $1");
    s.fetch_optional(SQL, &[Arg::Id(id)])
        .await?
        .as_ref()
        .map(rows::job)
        .transpose()
}

/// Jobs newest first, of one status or all.
async fn list_jobs(
    s: &mut impl Exec,
    status: Option<JobStatus>,
    limit: u32,
) -> StoreResult<Vec<Job>> {
    const SQL: &str = concat!(
        "SELECT ",
        job_columns!(),
        " FROM jobs WHERE (CAST($1 AS TEXT) IS NULL OR status = $1) \
         ORDER BY created_at DESC, id LIMIT $2"
    );
    let args = [
        Arg::OptText(status.map(|st| st.as_str())),
        Arg::I64(i64::from(limit)),
    ];
    s.fetch_all(SQL, &args)
        .await?
        .iter()
        .map(rows::job)
        .collect()
}

/// Running jobs, oldest lease first.
async fn running_jobs(s: &mut impl Exec, limit: u32) -> StoreResult<Vec<Job>> {
    const SQL: &str = concat!(
        "SELECT ",
        job_columns!(),
        " FROM jobs WHERE status = 'running' ORDER BY lease_expires_at, id LIMIT $1"
    );
    let rows = s.fetch_all(SQL, &[Arg::I64(i64::from(limit))]).await?;
    rows.iter().map(rows::job).collect()
}

/// Cancels the job if it is queued or running (revoking the lease).
async fn cancel_job(s: &mut impl Exec, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Job>> {
    const SQL: &str = concat!(
        "UPDATE jobs SET status = 'cancelled', lease_token = NULL, lease_expires_at = NULL, \
         paused_at_checkpoint = FALSE, finished_at = $2, updated_at = $2 \
         WHERE id = $1 AND status IN ('queued', 'running') RETURNING ",
        job_columns!()
    );
    let row = s
        .fetch_optional(SQL, &[Arg::Id(id), Arg::Time(now)])
        .await?;
    row.as_ref().map(rows::job).transpose()
}

/// Queues the job again with fresh attempts if it failed or was cancelled.
async fn retry_job(s: &mut impl Exec, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Job>> {
    const SQL: &str = concat!(
        "UPDATE jobs SET status = 'queued', attempts = 0, worker_id = NULL, \
         lease_token = NULL, lease_expires_at = NULL, run_after = $2, finished_at = NULL, \
         updated_at = $2 \
         WHERE id = $1 AND status IN ('failed', 'cancelled') RETURNING ",
        job_columns!()
    );
    let row = s
        .fetch_optional(SQL, &[Arg::Id(id), Arg::Time(now)])
        .await?;
    row.as_ref().map(rows::job).transpose()
}

/// Mean durations per type (`type`, `ms`) of jobs finished since `since`.
async fn mean_durations_ms(
    s: &mut impl Exec,
    since: DateTime<Utc>,
) -> StoreResult<Vec<(String, f64)>> {
    let sql = s.sql().mean_durations_ms;
    let rows = s.fetch_all(sql, &[Arg::Time(since)]).await?;
    rows.iter()
        .map(|r| Ok((r.text("type")?, r.opt_f64("ms")?.unwrap_or(0.0))))
        .collect()
}

/// The mean duration (`ms`) of jobs finished since `since`.
async fn mean_latency_ms(s: &mut impl Exec, since: DateTime<Utc>) -> StoreResult<Option<f64>> {
    let sql = s.sql().mean_latency_ms;
    s.fetch_one(sql, &[Arg::Time(since)]).await?.opt_f64("ms")
}

// ---- operations: written once ------------------------------------------

/// A refused cancel or retry: why, from the job as it is (in the same
/// transaction, so it is the state that refused).
async fn refusal(s: &mut impl Exec, id: Uuid, message: impl FnOnce(&str) -> String) -> StoreError {
    match find_job(s, id).await {
        Ok(Some(job)) => StoreError::Conflict(message(job.status.as_str())),
        Ok(None) => StoreError::NotFound,
        Err(e) => e,
    }
}

async fn cancel<D: Driver>(d: &D, id: Uuid, now: DateTime<Utc>) -> StoreResult<Job> {
    let mut tx = d.begin().await?;
    let out = match cancel_job(&mut tx, id, now).await? {
        Some(job) => Ok(job),
        None => Err(refusal(&mut tx, id, |status| {
            format!("job {id} is already {status}; only queued or running jobs can be cancelled")
        })
        .await),
    };
    tx.commit().await?;
    out
}

async fn retry<D: Driver>(d: &D, id: Uuid, now: DateTime<Utc>) -> StoreResult<Job> {
    let mut tx = d.begin().await?;
    let out = match retry_job(&mut tx, id, now).await? {
        Some(job) => {
            tx.notify(&Notice::JobsAvailable).await?;
            Ok(job)
        }
        None => Err(refusal(&mut tx, id, |status| {
            format!("job {id} is {status}; only failed or cancelled jobs can be retried")
        })
        .await),
    };
    tx.commit().await?;
    out
}

#[async_trait]
impl<D: Driver> QueueStore for Storage<D> {
    async fn job_counts(&self, now: DateTime<Utc>) -> StoreResult<JobCounts> {
        count_jobs(&mut self.call().read().await?, now).await
    }

    async fn dispatches_since(&self, since: DateTime<Utc>) -> StoreResult<i64> {
        const SQL: &str = "SELECT COUNT(*) AS n FROM jobs WHERE started_at >= $1";
        count_since(&mut self.call().read().await?, SQL, since).await
    }

    async fn enqueue(&self, job: &NewJob, now: DateTime<Utc>) -> StoreResult<Job> {
        insert_job(&mut self.call().write().await?, job, now).await
    }

    async fn cancel(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Job> {
        cancel(self.call(), id, now).await
    }

    async fn retry(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Job> {
        retry(self.call(), id, now).await
    }

    async fn get_job(&self, id: Uuid) -> StoreResult<Job> {
        find_job(&mut self.call().read().await?, id)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn list_jobs(&self, status: Option<JobStatus>, limit: u32) -> StoreResult<Vec<Job>> {
        list_jobs(&mut self.call().read().await?, status, limit).await
    }

    async fn running_jobs(&self, limit: u32) -> StoreResult<Vec<Job>> {
        running_jobs(&mut self.call().read().await?, limit).await
    }

    async fn finished_since(&self, since: DateTime<Utc>) -> StoreResult<i64> {
        const SQL: &str = "SELECT COUNT(*) AS n FROM jobs \
            WHERE status IN ('succeeded', 'failed') AND finished_at >= $1";
        count_since(&mut self.call().read().await?, SQL, since).await
    }

    async fn mean_durations_ms(&self, since: DateTime<Utc>) -> StoreResult<Vec<(String, f64)>> {
        mean_durations_ms(&mut self.call().read().await?, since).await
    }

    async fn mean_latency_ms(&self, since: DateTime<Utc>) -> StoreResult<Option<f64>> {
        mean_latency_ms(&mut self.call().read().await?, since).await
    }
}
