//! The job queue, operator and producer side: enqueue (single, unique,
//! batch), read, list, cancel, retry, and the counts behind the drain
//! metrics and the fleet views. (Claims and leases are in
//! [`super::leases`]; queue rows and their pauses in [`super::queue_pause`];
//! the enqueue operations, with the races they avoid, in [`super::enqueue`].)

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use wire::{Enqueued, Job, JobStatus};

use super::enqueue;
use super::notice::Notice;
use super::rows;
use super::{Arg, Driver, Exec, RowReader, Storage, StoreError, StoreResult};
use crate::domain::{JobCounts, JobFilter, JobMatch, LiveCounts, NewJob};

#[async_trait]
pub trait QueueStore: Send + Sync + 'static {
    /// Every count by status, finished ones included (`/metrics`,
    /// `/status`): the finished counts read the whole history that
    /// retention keeps, so nothing on a pause or claim path calls this.
    async fn job_counts(&self, now: DateTime<Utc>) -> StoreResult<JobCounts>;

    /// The live jobs of every queue, or of `queue`: what the drain metrics
    /// are made of. Reads only queued and running rows.
    async fn live_counts(&self, now: DateTime<Utc>, queue: Option<&str>)
        -> StoreResult<LiveCounts>;

    /// Jobs handed out at or after `since`.
    async fn dispatches_since(&self, since: DateTime<Utc>) -> StoreResult<i64>;

    /// Adds a job — or, when a live job already holds its unique key,
    /// returns that one (`duplicate`) and adds nothing.
    async fn enqueue(&self, job: &NewJob, now: DateTime<Utc>) -> StoreResult<Enqueued>;

    /// [`QueueStore::enqueue`] for many jobs in one transaction: all are
    /// added (or found as duplicates) or none. Answers in the order given.
    async fn enqueue_batch(
        &self,
        jobs: &[NewJob],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Enqueued>>;

    /// Cancels a queued or running job (a running job's lease is revoked, so
    /// its worker's next heartbeat gets 409). `Conflict` when already final.
    async fn cancel(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Job>;

    /// Puts a failed or cancelled job back in the queue with fresh attempts.
    /// `Conflict` for queued, running or succeeded jobs, and when a live job
    /// has taken its unique key meanwhile.
    async fn retry(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Job>;

    async fn get_job(&self, id: Uuid) -> StoreResult<Job>;

    /// Newest first, filtered by status (`queued` = claimable at `now`,
    /// `scheduled` = queued for later), type and queue.
    async fn list_jobs(&self, filter: &JobFilter, now: DateTime<Utc>) -> StoreResult<Vec<Job>>;

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

/// The live jobs (of one queue, or all): only rows whose status is queued
/// or running are read, through the `jobs_live` partial index, so the cost
/// follows the live jobs, not the history.
pub(crate) async fn count_live_jobs(
    s: &mut impl Exec,
    now: DateTime<Utc>,
    queue: Option<&str>,
) -> StoreResult<LiveCounts> {
    const SQL: &str = "SELECT \
        COUNT(*) FILTER (WHERE status = 'queued' AND run_after <= $1) AS queued, \
        COUNT(*) FILTER (WHERE status = 'queued' AND run_after > $1) AS scheduled, \
        COUNT(*) FILTER (WHERE status = 'running' AND lease_expires_at >= $1) AS running, \
        COUNT(*) FILTER (WHERE status = 'running' AND lease_expires_at < $1) AS stale_running \
        FROM jobs WHERE status IN ('queued', 'running') \
        AND (CAST($2 AS TEXT) IS NULL OR queue = $2)";
    let row = s
        .fetch_one(SQL, &[Arg::Time(now), Arg::OptText(queue)])
        .await?;
    rows::live_counts(&row)
}

/// The live jobs of each queue that has any (same index as
/// [`count_live_jobs`]).
pub(crate) async fn count_live_jobs_by_queue(
    s: &mut impl Exec,
    now: DateTime<Utc>,
) -> StoreResult<Vec<(String, LiveCounts)>> {
    const SQL: &str = "SELECT queue, \
        COUNT(*) FILTER (WHERE status = 'queued' AND run_after <= $1) AS queued, \
        COUNT(*) FILTER (WHERE status = 'queued' AND run_after > $1) AS scheduled, \
        COUNT(*) FILTER (WHERE status = 'running' AND lease_expires_at >= $1) AS running, \
        COUNT(*) FILTER (WHERE status = 'running' AND lease_expires_at < $1) AS stale_running \
        FROM jobs WHERE status IN ('queued', 'running') GROUP BY queue";
    s.fetch_all(SQL, &[Arg::Time(now)])
        .await?
        .iter()
        .map(|r| Ok((r.text("queue")?, rows::live_counts(r)?)))
        .collect()
}

/// `(succeeded, failed, cancelled)`: the history retention keeps (the
/// `jobs_finished` index). Never on a pause or claim path.
async fn count_finished_jobs(s: &mut impl Exec) -> StoreResult<(i64, i64, i64)> {
    const SQL: &str = "SELECT \
        COUNT(*) FILTER (WHERE status = 'succeeded') AS succeeded, \
        COUNT(*) FILTER (WHERE status = 'failed') AS failed, \
        COUNT(*) FILTER (WHERE status = 'cancelled') AS cancelled \
        FROM jobs WHERE status IN ('succeeded', 'failed', 'cancelled')";
    let r = s.fetch_one(SQL, &[]).await?;
    Ok((r.i64("succeeded")?, r.i64("failed")?, r.i64("cancelled")?))
}

/// A single count (`n`) since a time.
async fn count_since(
    s: &mut impl Exec,
    sql: &'static str,
    since: DateTime<Utc>,
) -> StoreResult<i64> {
    s.fetch_one(sql, &[Arg::Time(since)]).await?.i64("n")
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

/// The arguments of [`job_match!`]: `queued` and `scheduled` are both
/// stored as `queued`, told apart by `run_after` against `now`.
pub(crate) fn match_args(m: &JobMatch, now: DateTime<Utc>) -> [Arg<'_>; 5] {
    let (status, later) = match m.status {
        Some(JobStatus::Queued) => (Some("queued"), Some(false)),
        Some(JobStatus::Scheduled) => (Some("queued"), Some(true)),
        Some(other) => (Some(other.as_str()), None),
        None => (None, None),
    };
    [
        Arg::OptText(status),
        Arg::OptBool(later),
        Arg::Time(now),
        Arg::OptText(m.job_type.as_deref()),
        Arg::OptText(m.queue.as_ref().map(|q| q.as_str())),
    ]
}

/// Jobs newest first, filtered by status, type and queue. Payloads and
/// results are read only when asked for (`$7`): a page of 500 jobs with
/// 256 KiB payloads would otherwise be over 100 MB in memory.
async fn list_jobs(s: &mut impl Exec, f: &JobFilter, now: DateTime<Utc>) -> StoreResult<Vec<Job>> {
    // `job_columns!` with payload and result only when `$7`.
    const SQL: &str = concat!(
        "SELECT id, type, CASE WHEN $7 THEN payload END AS payload, priority, status, \
         attempts, max_attempts, worker_id, lease_token, lease_expires_at, run_after, \
         paused_at_checkpoint, CASE WHEN $7 THEN result END AS result, error, created_at, \
         updated_at, started_at, finished_at, queue, unique_key FROM jobs WHERE ",
        job_match!(),
        " ORDER BY created_at DESC, id LIMIT $6"
    );
    let m = f.matching();
    let [a1, a2, a3, a4, a5] = match_args(&m, now);
    let args = [
        a1,
        a2,
        a3,
        a4,
        a5,
        Arg::I64(i64::from(f.limit.get())),
        Arg::Bool(f.include_payload),
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
/// `Duplicate` when a live job has taken its unique key meanwhile.
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
    let out = match retry_job(&mut tx, id, now).await {
        Ok(Some(job)) => {
            tx.notify(&Notice::JobsAvailable).await?;
            Ok(job)
        }
        Ok(None) => Err(refusal(&mut tx, id, |status| {
            format!("job {id} is {status}; only failed or cancelled jobs can be retried")
        })
        .await),
        // The unique index refused it: the transaction is done for.
        Err(StoreError::Duplicate(_)) => {
            return Err(StoreError::Conflict(format!(
                "job {id} cannot be retried: another job with its uniqueKey is queued or running"
            )))
        }
        Err(e) => return Err(e),
    };
    tx.commit().await?;
    out
}

async fn job_counts<D: Driver>(d: &D, now: DateTime<Utc>) -> StoreResult<JobCounts> {
    let mut s = d.read().await?;
    let live = count_live_jobs(&mut s, now, None).await?;
    Ok(JobCounts::new(live, count_finished_jobs(&mut s).await?))
}

#[async_trait]
impl<D: Driver> QueueStore for Storage<D> {
    async fn job_counts(&self, now: DateTime<Utc>) -> StoreResult<JobCounts> {
        job_counts(&*self.call(), now).await
    }

    async fn live_counts(
        &self,
        now: DateTime<Utc>,
        queue: Option<&str>,
    ) -> StoreResult<LiveCounts> {
        count_live_jobs(&mut self.call().read().await?, now, queue).await
    }

    async fn dispatches_since(&self, since: DateTime<Utc>) -> StoreResult<i64> {
        const SQL: &str = "SELECT COUNT(*) AS n FROM jobs WHERE started_at >= $1";
        count_since(&mut self.call().read().await?, SQL, since).await
    }

    async fn enqueue(&self, job: &NewJob, now: DateTime<Utc>) -> StoreResult<Enqueued> {
        enqueue::enqueue(&*self.call(), job, now).await
    }

    async fn enqueue_batch(
        &self,
        jobs: &[NewJob],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Enqueued>> {
        enqueue::enqueue_batch(&*self.call(), jobs, now).await
    }

    async fn cancel(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Job> {
        cancel(&*self.call(), id, now).await
    }

    async fn retry(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Job> {
        retry(&*self.call(), id, now).await
    }

    async fn get_job(&self, id: Uuid) -> StoreResult<Job> {
        find_job(&mut self.call().read().await?, id)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn list_jobs(&self, filter: &JobFilter, now: DateTime<Utc>) -> StoreResult<Vec<Job>> {
        list_jobs(&mut self.call().read().await?, filter, now).await
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
