//! What an operator does to many jobs at once: count the jobs a filter
//! matches, and queue again every failed job of a type and/or queue —
//! exactly the set the operator confirmed, audited in the same transaction.
//!
//! Races avoided, and how:
//! - The set changing between the confirmation and the retry (a job fails,
//!   another is retried by hand): the retry's own `UPDATE … RETURNING` says
//!   how many rows it changed, inside the transaction; if that is not the
//!   confirmed count the transaction rolls back and nothing was retried.
//!   No separate count is trusted, so no job can fail in between.
//! - A failed job whose `uniqueKey` a live job holds: the unique index
//!   refuses the update, which rolls the whole retry back (all or nothing);
//!   the operator narrows the filter or retries that job on its own.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use wire::ControlEvent;

use super::notice::Notice;
use super::pause::{insert_event, read_pause_state};
use super::queue::{count_live_jobs, match_args};
use super::{Driver, Exec, RowReader, Storage, StoreError, StoreResult};
use crate::domain::{BulkRetryCommand, JobMatch, MAX_BULK_RETRY};

/// What a bulk retry did: the jobs queued again and its audit event.
#[derive(Debug, Clone)]
pub struct BulkRetried {
    pub ids: Vec<Uuid>,
    pub event: ControlEvent,
}

#[async_trait]
pub trait BulkStore: Send + Sync + 'static {
    /// How many jobs match (`queued` = claimable at `now`, `scheduled` =
    /// queued for later).
    async fn count_jobs(&self, m: &JobMatch, now: DateTime<Utc>) -> StoreResult<i64>;

    /// Queues again, with fresh attempts, every failed job the command
    /// matches, and appends its audit event by `actor` — one transaction.
    /// `Conflict` (nothing changed) when the matching set is not exactly
    /// `expected_count` jobs, when more than [`MAX_BULK_RETRY`] match, or
    /// when a live job holds one of their unique keys.
    async fn retry_failed(
        &self,
        cmd: &BulkRetryCommand,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<BulkRetried>;
}

// ---- queries: one statement each -------------------------------------

/// The number of jobs matching `m`.
async fn count_matching(s: &mut impl Exec, m: &JobMatch, now: DateTime<Utc>) -> StoreResult<i64> {
    const SQL: &str = concat!("SELECT COUNT(*) AS n FROM jobs WHERE ", job_match!());
    s.fetch_one(SQL, &match_args(m, now)).await?.i64("n")
}

/// Queues the jobs matching `m` again, as a single retry does (fresh
/// attempts, no worker or lease, runnable at `$3`); their ids.
async fn requeue_matching(
    s: &mut impl Exec,
    m: &JobMatch,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Uuid>> {
    const SQL: &str = concat!(
        "UPDATE jobs SET status = 'queued', attempts = 0, worker_id = NULL, \
         lease_token = NULL, lease_expires_at = NULL, run_after = $3, finished_at = NULL, \
         updated_at = $3 WHERE ",
        job_match!(),
        " RETURNING id"
    );
    s.fetch_all(SQL, &match_args(m, now))
        .await?
        .iter()
        .map(|r| r.id("id"))
        .collect()
}

// ---- operations: written once ------------------------------------------

async fn retry_failed<D: Driver>(
    d: &D,
    cmd: &BulkRetryCommand,
    actor: &str,
    now: DateTime<Utc>,
) -> StoreResult<BulkRetried> {
    let m = cmd.matching();
    let mut tx = d.begin().await?;
    let ids = match requeue_matching(&mut tx, &m, now).await {
        Ok(ids) => ids,
        // The unique index refused one: the transaction is done for.
        Err(StoreError::Duplicate(_)) => {
            return Err(StoreError::Conflict(
                "nothing was retried: a failed job's uniqueKey is held by a queued or running \
                 job; retry the others with a narrower filter, or that job on its own"
                    .into(),
            ))
        }
        Err(e) => return Err(e),
    };
    let n = ids.len() as i64;
    if let Some(expected) = cmd.expected_count {
        if n != expected {
            // Dropping the transaction rolls the update back.
            return Err(StoreError::Conflict(format!(
                "the failed jobs matching this filter changed since the confirmation: {n} match \
                 now, not {expected}; nothing was retried — check the count and confirm again"
            )));
        }
    }
    if n > MAX_BULK_RETRY {
        return Err(StoreError::Conflict(format!(
            "{n} failed jobs match; one bulk retry queues at most {MAX_BULK_RETRY}: narrow the \
             filter (type, queue); nothing was retried"
        )));
    }
    let queue = m.queue.as_ref().map(|q| q.as_str());
    let metrics = count_live_jobs(&mut tx, now, queue).await?.drain_metrics();
    let version = read_pause_state(&mut tx).await?.version;
    let event = insert_event(&mut tx, &cmd.event(actor, n, metrics, version, now)).await?;
    if n > 0 {
        tx.notify(&Notice::JobsAvailable).await?;
    }
    tx.commit().await?;
    Ok(BulkRetried { ids, event })
}

#[async_trait]
impl<D: Driver> BulkStore for Storage<D> {
    async fn count_jobs(&self, m: &JobMatch, now: DateTime<Utc>) -> StoreResult<i64> {
        count_matching(&mut self.call().read().await?, m, now).await
    }

    async fn retry_failed(
        &self,
        cmd: &BulkRetryCommand,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<BulkRetried> {
        retry_failed(&*self.call(), cmd, actor, now).await
    }
}
