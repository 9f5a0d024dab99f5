//! Retention: deleting finished jobs, finished worker result records (and,
//! when configured, old control events) in small batches, one server
//! process at a time.
//!
//! Each batch is its own short transaction, so the pruner never holds many
//! row locks or a long transaction next to the claims. On PostgreSQL each
//! batch first takes a transaction-scoped advisory lock; a replica that
//! finds it taken stops its pass (another one is pruning), so two replicas
//! never delete at once. SQLite has one process and one writer.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Arg, Driver, Exec, RowReader, Storage, StoreResult};

#[async_trait]
pub trait RetentionStore: Send + Sync + 'static {
    /// Deletes up to `limit` jobs of a finished `status` (`succeeded`,
    /// `failed` or `cancelled`) that finished before `before`, oldest
    /// first. `None` when another server process holds the retention lock
    /// (nothing was deleted).
    async fn prune_jobs(
        &self,
        status: &str,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Option<u64>>;

    /// Deletes up to `limit` finished (applied or rejected) worker result
    /// records that finished before `before`, oldest first; a submission
    /// still `applying` is never deleted. `None` as for
    /// [`RetentionStore::prune_jobs`].
    async fn prune_results(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<Option<u64>>;

    /// Deletes up to `limit` control events created before `before`,
    /// oldest first; `None` as for [`RetentionStore::prune_jobs`].
    async fn prune_events(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<Option<u64>>;
}

// ---- queries: one statement each -------------------------------------

/// Takes the retention lock for the transaction; false while another
/// process holds it. Always true where there are no other processes.
async fn take_retention_lock(s: &mut impl Exec) -> StoreResult<bool> {
    match s.sql().retention_lock {
        Some(sql) => s.fetch_one(sql, &[]).await?.bool("locked"),
        None => Ok(true),
    }
}

/// One batch of old finished jobs of a status (the `jobs_finished` index).
/// Only finished statuses can match: a live job is never deleted.
async fn delete_finished_jobs(
    s: &mut impl Exec,
    status: &str,
    before: DateTime<Utc>,
    limit: u32,
) -> StoreResult<u64> {
    const SQL: &str = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
        WHERE status = $1 AND status IN ('succeeded', 'failed', 'cancelled') \
        AND finished_at < $2 ORDER BY finished_at LIMIT $3)";
    let args = [
        Arg::Text(status),
        Arg::Time(before),
        Arg::I64(i64::from(limit)),
    ];
    s.execute(SQL, &args).await
}

/// One batch of old finished result records (the `worker_results_finished`
/// index).
async fn delete_finished_results(
    s: &mut impl Exec,
    before: DateTime<Utc>,
    limit: u32,
) -> StoreResult<u64> {
    const SQL: &str = "DELETE FROM worker_results WHERE idempotency_key IN \
        (SELECT idempotency_key FROM worker_results \
         WHERE state <> 'applying' AND finished_at < $1 ORDER BY finished_at LIMIT $2)";
    s.execute(SQL, &[Arg::Time(before), Arg::I64(i64::from(limit))])
        .await
}

/// One batch of old control events.
async fn delete_old_events(
    s: &mut impl Exec,
    before: DateTime<Utc>,
    limit: u32,
) -> StoreResult<u64> {
    const SQL: &str = "DELETE FROM system_control_events WHERE id IN \
        (SELECT id FROM system_control_events WHERE created_at < $1 ORDER BY id LIMIT $2)";
    s.execute(SQL, &[Arg::Time(before), Arg::I64(i64::from(limit))])
        .await
}

// ---- operations: written once ------------------------------------------

/// What one pruning batch deletes.
enum Prune<'a> {
    Jobs { status: &'a str },
    Results,
    Events,
}

/// One batch under the retention lock; `None` when another process holds
/// it.
async fn prune<D: Driver>(
    d: &D,
    what: Prune<'_>,
    before: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Option<u64>> {
    let mut tx = d.begin().await?;
    if !take_retention_lock(&mut tx).await? {
        return Ok(None);
    }
    let n = match what {
        Prune::Jobs { status } => delete_finished_jobs(&mut tx, status, before, limit).await?,
        Prune::Results => delete_finished_results(&mut tx, before, limit).await?,
        Prune::Events => delete_old_events(&mut tx, before, limit).await?,
    };
    tx.commit().await?;
    Ok(Some(n))
}

#[async_trait]
impl<D: Driver> RetentionStore for Storage<D> {
    async fn prune_jobs(
        &self,
        status: &str,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Option<u64>> {
        prune(&*self.call(), Prune::Jobs { status }, before, limit).await
    }

    async fn prune_results(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<Option<u64>> {
        prune(&*self.call(), Prune::Results, before, limit).await
    }

    async fn prune_events(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<Option<u64>> {
        prune(&*self.call(), Prune::Events, before, limit).await
    }
}
