//! Leases: a worker's lease heartbeats, complete and fail (one job, or
//! many in one transaction) — every write fenced by the lease token, so a
//! worker that lost its lease can change nothing. (Claims, which hand the
//! leases out, are in [`super::claims`].)
//!
//! Race avoided: late worker vs requeue — every fenced write matches
//! `worker_id` and `lease_token`; a requeued job has a new token.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use wire::{DesiredState, Job, JobStatus};

use super::queue::find_job;
use super::rows;
use super::{Arg, Driver, Exec, RowReader, Storage, StoreError, StoreResult};
use crate::domain::retry;
pub use crate::domain::Fence;

#[async_trait]
pub trait LeaseStore: Send + Sync + 'static {
    /// Extends the lease. `LeaseLost` when the job is no longer running under
    /// this worker and token; `NotFound` for an unknown job. Also returns the
    /// worker's desired state when the worker is registered (same round trip).
    async fn heartbeat(
        &self,
        fence: &Fence,
        lease_seconds: Option<u32>,
        paused_at_checkpoint: Option<bool>,
        now: DateTime<Utc>,
    ) -> StoreResult<(Job, Option<DesiredState>)>;

    /// Marks the job succeeded. Fenced like [`LeaseStore::heartbeat`].
    async fn complete(
        &self,
        fence: &Fence,
        result: Option<serde_json::Value>,
        now: DateTime<Utc>,
    ) -> StoreResult<Job>;

    /// [`LeaseStore::complete`] for many jobs in one transaction, each
    /// fenced by its own lease: a lost lease refuses that job only. One
    /// answer per job, in order.
    async fn complete_many(
        &self,
        jobs: &[(Fence, Option<serde_json::Value>)],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<StoreResult<Job>>>;

    /// [`LeaseStore::fail`] for many jobs (`fence, error, retryable`) in one
    /// transaction, each fenced by its own lease.
    async fn fail_many(
        &self,
        jobs: &[(Fence, String, bool)],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<StoreResult<Job>>>;

    /// Requeues with backoff while attempts remain and `retryable`, else
    /// marks failed. Fenced like [`LeaseStore::heartbeat`].
    async fn fail(
        &self,
        fence: &Fence,
        error: &str,
        retryable: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Job>;
}
// ---- queries: one statement each -------------------------------------

/// The arguments that name a held lease (`$1`–`$3` of every fenced write).
fn fenced<'a>(f: &'a Fence) -> [Arg<'a>; 3] {
    [
        Arg::Id(f.job_id),
        Arg::Text(&f.worker_id),
        Arg::Id(f.lease_token),
    ]
}

/// Extends a held lease; the job and its worker's desired state.
async fn extend_lease(
    s: &mut impl Exec,
    f: &Fence,
    lease_seconds: Option<u32>,
    checkpoint: Option<bool>,
    now: DateTime<Utc>,
) -> StoreResult<Option<(Job, Option<DesiredState>)>> {
    let sql = s.sql().extend_lease;
    let [a, b, c] = fenced(f);
    let args = [
        a,
        b,
        c,
        Arg::OptI32(lease_seconds.map(|l| l as i32)),
        Arg::Time(now),
        Arg::OptBool(checkpoint),
    ];
    let Some(row) = s.fetch_optional(sql, &args).await? else {
        return Ok(None);
    };
    let desired = row.opt_text("worker_desired")?;
    Ok(Some((
        rows::job(&row)?,
        desired.as_deref().and_then(DesiredState::parse),
    )))
}

/// Marks a held job succeeded.
pub(super) async fn complete_job(
    s: &mut impl Exec,
    f: &Fence,
    result: Option<&serde_json::Value>,
    now: DateTime<Utc>,
) -> StoreResult<Option<Job>> {
    const SQL: &str = concat!(
        "UPDATE jobs SET status = 'succeeded', result = $4, error = NULL, \
         lease_token = NULL, lease_expires_at = NULL, paused_at_checkpoint = FALSE, \
         finished_at = $5, updated_at = $5 \
         WHERE id = $1 AND status = 'running' AND worker_id = $2 AND lease_token = $3 \
         RETURNING ",
        job_columns!()
    );
    let [a, b, c] = fenced(f);
    let row = s
        .fetch_optional(SQL, &[a, b, c, Arg::OptJson(result), Arg::Time(now)])
        .await?;
    row.as_ref().map(rows::job).transpose()
}

/// `(attempts, max_attempts)` of a held job.
async fn held_attempts(s: &mut impl Exec, f: &Fence) -> StoreResult<Option<(i32, i32)>> {
    let sql = s.sql().held_attempts;
    match s.fetch_optional(sql, &fenced(f)).await? {
        Some(r) => Ok(Some((r.i32("attempts")?, r.i32("max_attempts")?))),
        None => Ok(None),
    }
}

/// Puts a failed job back in the queue, to run at `run_after`.
async fn requeue_failed_job(
    s: &mut impl Exec,
    id: Uuid,
    error: &str,
    run_after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<Job> {
    const SQL: &str = concat!(
        "UPDATE jobs SET status = 'queued', error = $2, worker_id = NULL, \
         lease_token = NULL, lease_expires_at = NULL, paused_at_checkpoint = FALSE, \
         run_after = $3, updated_at = $4 WHERE id = $1 RETURNING ",
        job_columns!()
    );
    let args = [
        Arg::Id(id),
        Arg::Text(error),
        Arg::Time(run_after),
        Arg::Time(now),
    ];
    rows::job(&s.fetch_one(SQL, &args).await?)
}

/// Fails a job for good.
async fn fail_job_for_good(
    s: &mut impl Exec,
    id: Uuid,
    error: &str,
    now: DateTime<Utc>,
) -> StoreResult<Job> {
    const SQL: &str = concat!(
        "UPDATE jobs SET status = 'failed', error = $2, lease_token = NULL, \
         lease_expires_at = NULL, paused_at_checkpoint = FALSE, \
         finished_at = $3, updated_at = $3 WHERE id = $1 RETURNING ",
        job_columns!()
    );
    let args = [Arg::Id(id), Arg::Text(error), Arg::Time(now)];
    rows::job(&s.fetch_one(SQL, &args).await?)
}
// ---- operations: written once ------------------------------------------

/// After a fenced write matched nothing: `NotFound`, or `LeaseLost` saying
/// what happened to the lease.
pub(super) async fn lease_lost(s: &mut impl Exec, f: &Fence) -> StoreError {
    let job = match find_job(s, f.job_id).await {
        Ok(Some(job)) => job,
        Ok(None) => return StoreError::NotFound,
        Err(e) => return e,
    };
    StoreError::LeaseLost(match job.status {
        JobStatus::Running if job.worker_id.as_deref() != Some(f.worker_id.as_str()) => format!(
            "job {} is leased to another worker; this worker's lease was lost",
            job.id
        ),
        JobStatus::Running => format!(
            "job {} was claimed again; this lease token is no longer valid",
            job.id
        ),
        other => format!(
            "job {} is {}; this worker no longer holds its lease",
            job.id,
            other.as_str()
        ),
    })
}
async fn heartbeat<D: Driver>(
    d: &D,
    f: &Fence,
    lease_seconds: Option<u32>,
    checkpoint: Option<bool>,
    now: DateTime<Utc>,
) -> StoreResult<(Job, Option<DesiredState>)> {
    let mut tx = d.begin().await?;
    let out = match extend_lease(&mut tx, f, lease_seconds, checkpoint, now).await? {
        Some(held) => Ok(held),
        None => Err(lease_lost(&mut tx, f).await),
    };
    tx.commit().await?;
    out
}

/// One statement when the lease is held (the fenced UPDATE is atomic by
/// itself); only a refusal reads the job, to say why.
async fn complete<D: Driver>(
    d: &D,
    f: &Fence,
    result: Option<&serde_json::Value>,
    now: DateTime<Utc>,
) -> StoreResult<Job> {
    let mut s = d.write().await?;
    match complete_job(&mut s, f, result, now).await? {
        Some(job) => {
            s.commit().await?;
            Ok(job)
        }
        None => Err(lease_lost(&mut s, f).await),
    }
}

/// Fails a held job in the caller's transaction; `None` when the lease is
/// not held. The attempts are read under the job's row lock, so the retry
/// decision ([`retry::on_failure`]) and its write cannot interleave with a
/// requeue.
async fn fail_held(
    tx: &mut impl Exec,
    f: &Fence,
    error: &str,
    retryable: bool,
    now: DateTime<Utc>,
) -> StoreResult<Option<Job>> {
    let Some((attempts, max_attempts)) = held_attempts(tx, f).await? else {
        return Ok(None);
    };
    Ok(Some(
        match retry::on_failure(attempts, max_attempts, retryable, now) {
            retry::FailureOutcome::RetryAt(at) => {
                requeue_failed_job(tx, f.job_id, error, at, now).await?
            }
            retry::FailureOutcome::Final => fail_job_for_good(tx, f.job_id, error, now).await?,
        },
    ))
}

async fn fail<D: Driver>(
    d: &D,
    f: &Fence,
    error: &str,
    retryable: bool,
    now: DateTime<Utc>,
) -> StoreResult<Job> {
    let mut tx = d.begin().await?;
    let out = match fail_held(&mut tx, f, error, retryable, now).await? {
        Some(job) => Ok(job),
        None => Err(lease_lost(&mut tx, f).await),
    };
    tx.commit().await?;
    out
}

/// One transaction, one commit for the batch; each job is fenced by its own
/// lease exactly as [`complete`] fences one, and a refusal (lost lease,
/// unknown job) is that job's answer only.
async fn complete_many<D: Driver>(
    d: &D,
    jobs: &[(Fence, Option<serde_json::Value>)],
    now: DateTime<Utc>,
) -> StoreResult<Vec<StoreResult<Job>>> {
    let ids: HashSet<Uuid> = jobs.iter().map(|(f, _)| f.job_id).collect();
    if ids.len() == jobs.len() {
        return complete_in_one_statement(d, jobs, now).await;
    }
    let mut tx = d.begin().await?;
    let mut out = Vec::with_capacity(jobs.len());
    for (f, result) in jobs {
        out.push(
            match complete_job(&mut tx, f, result.as_ref(), now).await? {
                Some(job) => Ok(job),
                None => Err(refused(lease_lost(&mut tx, f).await)?),
            },
        );
    }
    tx.commit().await?;
    Ok(out)
}

/// [`complete_many`] as one statement (every job named once): one round
/// trip and one commit for the batch. Only the refused jobs are read
/// afterwards, to say why — after the statement, so the reason is the
/// job's state then (a refusal's read in the loop path sees the same rows
/// inside its transaction).
async fn complete_in_one_statement<D: Driver>(
    d: &D,
    jobs: &[(Fence, Option<serde_json::Value>)],
    now: DateTime<Utc>,
) -> StoreResult<Vec<StoreResult<Job>>> {
    let rows: Vec<serde_json::Value> = jobs
        .iter()
        .map(|(f, result)| {
            let mut row = serde_json::json!({
                "id": f.job_id,
                "worker": f.worker_id,
                "token": f.lease_token,
            });
            // Absent, not `null`: no result is SQL NULL, as `complete_job`
            // stores it.
            if let Some(r) = result {
                row["result"] = r.clone();
            }
            row
        })
        .collect();
    let batch = serde_json::Value::Array(rows);
    let mut s = d.write().await?;
    let mut done: HashMap<Uuid, Job> = HashMap::with_capacity(jobs.len());
    for row in s
        .fetch_all(
            d.complete_jobs_statement(),
            &[Arg::Json(&batch), Arg::Time(now)],
        )
        .await?
    {
        let job = rows::job(&row)?;
        done.insert(job.id, job);
    }
    let mut out = Vec::with_capacity(jobs.len());
    for (f, _) in jobs {
        out.push(match done.remove(&f.job_id) {
            Some(job) => Ok(job),
            None => Err(refused(lease_lost(&mut s, f).await)?),
        });
    }
    s.commit().await?;
    Ok(out)
}

/// As [`complete_many`], each job under [`fail`]'s rule.
async fn fail_many<D: Driver>(
    d: &D,
    jobs: &[(Fence, String, bool)],
    now: DateTime<Utc>,
) -> StoreResult<Vec<StoreResult<Job>>> {
    let mut tx = d.begin().await?;
    let mut out = Vec::with_capacity(jobs.len());
    for (f, error, retryable) in jobs {
        out.push(match fail_held(&mut tx, f, error, *retryable, now).await? {
            Some(job) => Ok(job),
            None => Err(refused(lease_lost(&mut tx, f).await)?),
        });
    }
    tx.commit().await?;
    Ok(out)
}

/// A batch element's refusal, kept as its answer; a database failure ends
/// the whole batch (its transaction is unusable).
fn refused(e: StoreError) -> StoreResult<StoreError> {
    match e {
        StoreError::LeaseLost(_) | StoreError::NotFound => Ok(e),
        other => Err(other),
    }
}
#[async_trait]
impl<D: Driver> LeaseStore for Storage<D> {
    async fn heartbeat(
        &self,
        fence: &Fence,
        lease_seconds: Option<u32>,
        paused_at_checkpoint: Option<bool>,
        now: DateTime<Utc>,
    ) -> StoreResult<(Job, Option<DesiredState>)> {
        heartbeat(
            &*self.call(),
            fence,
            lease_seconds,
            paused_at_checkpoint,
            now,
        )
        .await
    }

    async fn complete(
        &self,
        fence: &Fence,
        result: Option<serde_json::Value>,
        now: DateTime<Utc>,
    ) -> StoreResult<Job> {
        complete(&*self.call(), fence, result.as_ref(), now).await
    }

    async fn fail(
        &self,
        fence: &Fence,
        error: &str,
        retryable: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Job> {
        fail(&*self.call(), fence, error, retryable, now).await
    }

    async fn complete_many(
        &self,
        jobs: &[(Fence, Option<serde_json::Value>)],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<StoreResult<Job>>> {
        complete_many(&*self.call(), jobs, now).await
    }

    async fn fail_many(
        &self,
        jobs: &[(Fence, String, bool)],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<StoreResult<Job>>> {
        fail_many(&*self.call(), jobs, now).await
    }
}
