//! The job queue, worker side: claims (with the requeue of expired
//! leases), lease heartbeats, complete and fail — every write fenced by the
//! lease token, so a worker that lost its lease can change nothing.
//!
//! Races avoided, and how:
//! - Pause vs claim: a claim reads the pause row under a shared lock
//!   (`share_pause_state`) in the same transaction (or statement) that
//!   claims, so a pause that committed first always wins, and a pause that
//!   comes later waits for the claim (see [`super::pause`]).
//! - Claim vs claim: the job row is taken with `FOR UPDATE SKIP LOCKED` on
//!   PostgreSQL; SQLite has one writer.
//! - Late worker vs requeue: every fenced write matches `worker_id` and
//!   `lease_token`; a requeued job has a new token.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;
use wire::{DesiredState, Job, JobStatus};

pub use super::driver::ClaimParams;
use super::pause::share_pause_state;
use super::queue::find_job;
use super::rows;
use super::{Arg, Driver, Exec, RowReader, Storage, StoreError, StoreResult};
pub use crate::domain::Fence;
use crate::domain::{retry, PauseState};

/// What a claim found.
#[derive(Debug, Clone)]
// Short-lived return values; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum ClaimOutcome {
    /// The state row, read under lock inside the claim, said paused:
    /// nothing was requeued or claimed.
    Paused(PauseState),
    Running {
        state: PauseState,
        job: Option<Job>,
        /// Expired leases put back in the queue (or failed for good) first.
        requeued: u64,
    },
}

/// What a batch claim ([`LeaseStore::claim_many`]) found.
#[derive(Debug, Clone)]
pub struct ClaimedMany {
    /// The state read inside the (last) claim; paused means the batch was
    /// cut short by a pause that committed first.
    pub state: PauseState,
    /// Jobs handed out, each with its lease token (possibly none).
    pub jobs: Vec<Job>,
    /// Expired leases put back in the queue first.
    pub requeued: u64,
}

#[async_trait]
pub trait LeaseStore: Send + Sync + 'static {
    /// Claims the next job unless the fleet is paused. The pause state is
    /// re-read under lock inside the claim, so a pause that committed first
    /// always wins. Expired leases are requeued first. A registered worker
    /// that operators paused or are draining gets no job, whatever its
    /// runtime does.
    async fn claim(&self, params: &ClaimParams) -> StoreResult<ClaimOutcome>;

    /// Claims up to `limit` jobs for one worker under [`LeaseStore::claim`]'s
    /// rules, as that many claims in a row would. Jobs claimed before a
    /// pause committed are returned with the paused state (they are the
    /// worker's now).
    async fn claim_many(&self, params: &ClaimParams, limit: u32) -> StoreResult<ClaimedMany>;

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

/// Fails the running jobs whose lease expired on their last attempt.
async fn fail_expired_on_last_attempt(s: &mut impl Exec, now: DateTime<Utc>) -> StoreResult<u64> {
    const SQL: &str = "UPDATE jobs SET status = 'failed', \
        error = 'lease expired on the final attempt', worker_id = NULL, lease_token = NULL, \
        lease_expires_at = NULL, paused_at_checkpoint = FALSE, finished_at = $1, updated_at = $1 \
        WHERE status = 'running' AND lease_expires_at < $1 AND attempts >= max_attempts";
    s.execute(SQL, &[Arg::Time(now)]).await
}

/// Puts the other running jobs whose lease expired back in the queue.
async fn requeue_expired_leases(s: &mut impl Exec, now: DateTime<Utc>) -> StoreResult<u64> {
    const SQL: &str = "UPDATE jobs SET status = 'queued', error = 'lease expired', \
        worker_id = NULL, lease_token = NULL, lease_expires_at = NULL, \
        paused_at_checkpoint = FALSE, run_after = $1, updated_at = $1 \
        WHERE status = 'running' AND lease_expires_at < $1";
    s.execute(SQL, &[Arg::Time(now)]).await
}

/// Leases the next claimable job (priority, then age) to the worker under
/// `token`, unless operators paused or are draining that worker.
async fn claim_next_job(
    s: &mut impl Exec,
    p: &ClaimParams,
    token: Uuid,
) -> StoreResult<Option<Job>> {
    let sql = s.sql().claim_next_job;
    let expires = p.now + Duration::seconds(i64::from(p.lease_seconds));
    let row = s
        .fetch_optional(
            sql,
            &[
                Arg::Text(&p.worker_id),
                Arg::Id(token),
                Arg::I32(p.lease_seconds as i32),
                Arg::Time(expires),
                Arg::Time(p.now),
                Arg::OptTextList(p.types.as_deref()),
            ],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut job = rows::job(&row)?;
    job.lease_token = Some(token);
    Ok(Some(job))
}

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
async fn complete_job(
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
async fn lease_lost(s: &mut impl Exec, f: &Fence) -> StoreError {
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

/// A claim in a transaction: the pause row under a shared lock, then the
/// expired leases (failed on their last attempt, requeued otherwise), then
/// the next job — nothing is requeued or claimed while paused.
async fn claim_in_transaction<D: Driver>(d: &D, p: &ClaimParams) -> StoreResult<ClaimOutcome> {
    let mut tx = d.begin().await?;
    let state = share_pause_state(&mut tx).await?;
    if state.workers_paused {
        tx.commit().await?;
        return Ok(ClaimOutcome::Paused(state));
    }
    let failed = fail_expired_on_last_attempt(&mut tx, p.now).await?;
    let requeued = requeue_expired_leases(&mut tx, p.now).await?;
    let job = claim_next_job(&mut tx, p, Uuid::new_v4()).await?;
    tx.commit().await?;
    Ok(ClaimOutcome::Running {
        state,
        job,
        requeued: failed + requeued,
    })
}

/// A claim: the backend's one-statement claim when it has one and no lease
/// has expired (the common case), else the transaction.
async fn claim<D: Driver>(d: &D, p: &ClaimParams) -> StoreResult<ClaimOutcome> {
    match d.claim_in_one_statement(p, 1).await? {
        Some((state, _)) if state.workers_paused => Ok(ClaimOutcome::Paused(state)),
        Some((state, jobs)) => Ok(ClaimOutcome::Running {
            state,
            job: jobs.into_iter().next(),
            requeued: 0,
        }),
        None => claim_in_transaction(d, p).await,
    }
}

/// A batch claim, as that many claims in a row. Bounded: each pass either
/// finishes, or requeues every lease expired as of `p.now` (so the next
/// pass finds none) and claims one job.
async fn claim_many<D: Driver>(d: &D, p: &ClaimParams, limit: u32) -> StoreResult<ClaimedMany> {
    let (mut jobs, mut requeued) = (Vec::new(), 0);
    for _ in 0..=limit {
        let left = limit.saturating_sub(jobs.len() as u32);
        if let Some((state, batch)) = d.claim_in_one_statement(p, left).await? {
            jobs.extend(batch);
            return Ok(ClaimedMany {
                state,
                jobs,
                requeued,
            });
        }
        let (state, job) = match claim_in_transaction(d, p).await? {
            ClaimOutcome::Paused(state) => (state, None),
            ClaimOutcome::Running {
                state,
                job,
                requeued: r,
            } => {
                requeued += r;
                (state, job)
            }
        };
        let more = job.is_some();
        jobs.extend(job);
        if !more || jobs.len() as u32 >= limit {
            return Ok(ClaimedMany {
                state,
                jobs,
                requeued,
            });
        }
    }
    Err(StoreError::Database(
        "batch claim: leases kept expiring".into(),
    ))
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
        Some(job) => Ok(job),
        None => Err(lease_lost(&mut s, f).await),
    }
}

/// The attempts are read under the job's row lock, so the retry decision
/// ([`retry::on_failure`]) and its write cannot interleave with a requeue.
async fn fail<D: Driver>(
    d: &D,
    f: &Fence,
    error: &str,
    retryable: bool,
    now: DateTime<Utc>,
) -> StoreResult<Job> {
    let mut tx = d.begin().await?;
    let Some((attempts, max_attempts)) = held_attempts(&mut tx, f).await? else {
        let e = lease_lost(&mut tx, f).await;
        tx.commit().await?;
        return Err(e);
    };
    let job = match retry::on_failure(attempts, max_attempts, retryable, now) {
        retry::FailureOutcome::RetryAt(at) => {
            requeue_failed_job(&mut tx, f.job_id, error, at, now).await?
        }
        retry::FailureOutcome::Final => fail_job_for_good(&mut tx, f.job_id, error, now).await?,
    };
    tx.commit().await?;
    Ok(job)
}

#[async_trait]
impl<D: Driver> LeaseStore for Storage<D> {
    async fn claim(&self, params: &ClaimParams) -> StoreResult<ClaimOutcome> {
        claim(self.call(), params).await
    }

    async fn claim_many(&self, params: &ClaimParams, limit: u32) -> StoreResult<ClaimedMany> {
        claim_many(self.call(), params, limit).await
    }

    async fn heartbeat(
        &self,
        fence: &Fence,
        lease_seconds: Option<u32>,
        paused_at_checkpoint: Option<bool>,
        now: DateTime<Utc>,
    ) -> StoreResult<(Job, Option<DesiredState>)> {
        heartbeat(self.call(), fence, lease_seconds, paused_at_checkpoint, now).await
    }

    async fn complete(
        &self,
        fence: &Fence,
        result: Option<serde_json::Value>,
        now: DateTime<Utc>,
    ) -> StoreResult<Job> {
        complete(self.call(), fence, result.as_ref(), now).await
    }

    async fn fail(
        &self,
        fence: &Fence,
        error: &str,
        retryable: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Job> {
        fail(self.call(), fence, error, retryable, now).await
    }
}
