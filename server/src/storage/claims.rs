//! Claims: handing queued jobs out under a lease, with the requeue of
//! expired leases first — never while the fleet is paused, never a job of
//! a paused queue.
//!
//! Races avoided, and how:
//! - Pause vs claim: a claim reads the pause row under a shared lock
//!   (`share_pause_state`) in the same transaction (or statement) that
//!   claims, so a pause that committed first always wins, and a pause that
//!   comes later waits for the claim (see [`super::pause`]).
//! - Queue pause vs claim: likewise with the row of the claimed job's
//!   queue (`queue_open_for_claim`), taken in the claim's transaction (or
//!   statement) after the job row: a paused queue's job is not handed out
//!   (see [`super::queue_pause`]).
//! - Claim vs claim: the job row is taken with `FOR UPDATE SKIP LOCKED` on
//!   PostgreSQL; SQLite has one writer.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

pub use super::driver::ClaimParams;
use super::driver::CompletedClaim;
use super::leases::{self, Fence};
use super::pause::share_pause_state;
use super::queue_pause::queue_open_for_claim;
use super::rows;
use super::{Arg, Driver, Exec, Storage, StoreError, StoreResult};
use crate::domain::PauseState;
use wire::Job;

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

impl ClaimOutcome {
    /// The state read inside the claim, the jobs handed out (none when
    /// paused) and the expired leases requeued first.
    pub fn into_parts(self) -> (PauseState, Vec<Job>, u64) {
        match self {
            ClaimOutcome::Paused(state) => (state, Vec::new(), 0),
            ClaimOutcome::Running {
                state,
                job,
                requeued,
            } => (state, job.into_iter().collect(), requeued),
        }
    }
}

/// What a batch claim ([`ClaimStore::claim_many`]) found.
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
pub trait ClaimStore: Send + Sync + 'static {
    /// Claims the next job (of the queues `params` names, or any) unless
    /// the fleet is paused; never a job of a paused queue. The pause state
    /// and the claimed job's queue row are re-read under lock inside the
    /// claim, so a pause that committed first always wins. Expired leases
    /// (of unpaused queues) are requeued first. A registered worker
    /// that operators paused or are draining gets no job, whatever its
    /// runtime does.
    async fn claim(&self, params: &ClaimParams) -> StoreResult<ClaimOutcome>;

    /// Claims up to `limit` jobs for one worker under [`ClaimStore::claim`]'s
    /// rules, as that many claims in a row would. Jobs claimed before a
    /// pause committed are returned with the paused state (they are the
    /// worker's now).
    async fn claim_many(&self, params: &ClaimParams, limit: u32) -> StoreResult<ClaimedMany>;

    /// Completes a held job (fenced like `LeaseStore::complete`), then
    /// claims the next job for `params`' worker under
    /// [`ClaimStore::claim`]'s rules, in one storage round trip and commit
    /// (see `Driver::complete_and_claim_in_one_statement`). The claim is
    /// made only once the completion is made: a lost lease refuses both. The
    /// claim's own result is separate: a claim that fails after the
    /// completion was committed (the transaction path, after an expired
    /// lease) leaves the completion standing.
    async fn complete_and_claim(
        &self,
        fence: &Fence,
        result: Option<&serde_json::Value>,
        params: &ClaimParams,
    ) -> StoreResult<(Job, StoreResult<ClaimOutcome>)>;
}

// ---- queries: one statement each -------------------------------------

/// Fails the running jobs whose lease expired on their last attempt. A
/// paused queue's are left alone: like the fleet's while it is paused,
/// they stay visible as `staleRunning` until the queue resumes.
async fn fail_expired_on_last_attempt(s: &mut impl Exec, now: DateTime<Utc>) -> StoreResult<u64> {
    const SQL: &str = "UPDATE jobs SET status = 'failed', \
        error = 'lease expired on the final attempt', worker_id = NULL, lease_token = NULL, \
        lease_expires_at = NULL, paused_at_checkpoint = FALSE, finished_at = $1, updated_at = $1 \
        WHERE status = 'running' AND lease_expires_at < $1 AND attempts >= max_attempts \
        AND queue IN (SELECT name FROM queues WHERE NOT paused)";
    s.execute(SQL, &[Arg::Time(now)]).await
}

/// Puts the other running jobs whose lease expired back in the queue
/// (those of paused queues wait, as above).
async fn requeue_expired_leases(s: &mut impl Exec, now: DateTime<Utc>) -> StoreResult<u64> {
    const SQL: &str = "UPDATE jobs SET status = 'queued', error = 'lease expired', \
        worker_id = NULL, lease_token = NULL, lease_expires_at = NULL, \
        paused_at_checkpoint = FALSE, run_after = $1, updated_at = $1 \
        WHERE status = 'running' AND lease_expires_at < $1 \
        AND queue IN (SELECT name FROM queues WHERE NOT paused)";
    s.execute(SQL, &[Arg::Time(now)]).await
}

/// Leases the next claimable job (priority, then age) of an unpaused queue
/// (as this statement sees the queues: the claim then confirms it under
/// the queue row's lock) to the worker under `token`, unless operators
/// paused or are draining that worker.
async fn claim_next_job(
    s: &mut impl Exec,
    p: &ClaimParams,
    token: Uuid,
) -> StoreResult<Option<Job>> {
    let sql = s.sql().claim_next_job;
    let types = Arg::OptTextList(p.types.as_deref());
    let row = s.fetch_optional(sql, &claim_args(p, token, types)).await?;
    let Some(row) = row else { return Ok(None) };
    let mut job = rows::job(&row)?;
    job.lease_token = Some(token);
    Ok(Some(job))
}

/// A claim statement's `$1`–`$7`: the worker, the lease's token, length and
/// end, now, the types (bound as the statement reads them) and the queues
/// (`claim_next_job` here, SQLite's batch claims too).
pub(super) fn claim_args<'a>(p: &'a ClaimParams, token: Uuid, types: Arg<'a>) -> [Arg<'a>; 7] {
    [
        Arg::Text(&p.worker_id),
        Arg::Id(token),
        Arg::I32(p.lease_seconds as i32),
        Arg::Time(p.now + Duration::seconds(i64::from(p.lease_seconds))),
        Arg::Time(p.now),
        types,
        Arg::OptTextList(p.queues.as_deref()),
    ]
}

// ---- operations: written once ------------------------------------------

/// A claim in a transaction: the pause row under a shared lock, then the
/// expired leases (failed on their last attempt, requeued otherwise), then
/// the next job, then its queue's row under a shared lock — nothing is
/// requeued or claimed while the fleet is paused, and nothing of a queue
/// whose pause committed first is handed out: the claim is rolled back
/// (the requeues with it; the next claim redoes them) and answers no job.
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
    if let Some(j) = &job {
        if !queue_open_for_claim(&mut tx, &j.queue).await? {
            drop(tx);
            return Ok(ClaimOutcome::Running {
                state,
                job: None,
                requeued: 0,
            });
        }
    }
    tx.commit().await?;
    Ok(ClaimOutcome::Running {
        state,
        job,
        requeued: failed + requeued,
    })
}

/// A claim: the backend's fast-path claim when it has one and no lease
/// has expired (the common case), else the transaction.
async fn claim<D: Driver>(d: &D, p: &ClaimParams) -> StoreResult<ClaimOutcome> {
    match d.claim_in_one_statement(p, 1).await? {
        Some((state, jobs)) => Ok(single(state, jobs)),
        None => claim_in_transaction(d, p).await,
    }
}

/// What a fast-path claim of one job answered, as a claim's outcome.
fn single(state: PauseState, jobs: Vec<Job>) -> ClaimOutcome {
    if state.workers_paused {
        return ClaimOutcome::Paused(state);
    }
    ClaimOutcome::Running {
        state,
        job: jobs.into_iter().next(),
        requeued: 0,
    }
}

/// A completion and the next claim: the backend's one statement (one
/// write on SQLite), then the transaction path when a lease had expired.
async fn complete_and_claim<D: Driver>(
    d: &D,
    f: &Fence,
    result: Option<&serde_json::Value>,
    p: &ClaimParams,
) -> StoreResult<(Job, StoreResult<ClaimOutcome>)> {
    match d
        .complete_and_claim_in_one_statement(f, result, p, 1)
        .await?
    {
        CompletedClaim::LeaseLost => {
            let mut s = d.read().await?;
            Err(leases::lease_lost(&mut s, f).await)
        }
        CompletedClaim::Completed {
            job,
            claim: Some((state, jobs)),
        } => Ok((job, Ok(single(state, jobs)))),
        CompletedClaim::Completed { job, claim: None } => {
            Ok((job, claim_in_transaction(d, p).await))
        }
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

#[async_trait]
impl<D: Driver> ClaimStore for Storage<D> {
    async fn claim(&self, params: &ClaimParams) -> StoreResult<ClaimOutcome> {
        claim(&*self.call(), params).await
    }

    async fn claim_many(&self, params: &ClaimParams, limit: u32) -> StoreResult<ClaimedMany> {
        claim_many(&*self.call(), params, limit).await
    }

    async fn complete_and_claim(
        &self,
        fence: &Fence,
        result: Option<&serde_json::Value>,
        params: &ClaimParams,
    ) -> StoreResult<(Job, StoreResult<ClaimOutcome>)> {
        complete_and_claim(&*self.call(), fence, result, params).await
    }
}
