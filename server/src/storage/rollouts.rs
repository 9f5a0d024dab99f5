//! Rolling restarts: stored so they survive a server restart, stepped by
//! one server process at a time.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;
use wire::RollingRestart;

use super::fleet::{read_fleet, set_desired_state};
use super::notice::Notice;
use super::rows;
use super::{Arg, Driver, Exec, Storage, StoreError, StoreResult};
use crate::domain::rollout;

#[async_trait]
pub trait RolloutStore: Send + Sync + 'static {
    /// Stores a new running rollout. `Conflict` while another one runs.
    async fn create_rollout(&self, r: &RollingRestart) -> StoreResult<()>;

    async fn get_rollout(&self, id: Uuid) -> StoreResult<RollingRestart>;

    /// The newest rollouts first.
    async fn list_rollouts(&self, limit: u32) -> StoreResult<Vec<RollingRestart>>;

    /// Cancels the rollout if it is still running, in one statement (a
    /// controller step in flight either commits first or sees it
    /// cancelled). `Conflict` when it had already ended; `NotFound`.
    async fn cancel_rollout(
        &self,
        id: Uuid,
        message: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<RollingRestart>;

    /// Runs one planning step ([`rollout::advance`]) of the running
    /// rollout, if any, writing the desired states it asks for. Workers
    /// whose heartbeat is older than `stale_after` count as offline.
    async fn advance_rollout(
        &self,
        now: DateTime<Utc>,
        stale_after: Duration,
    ) -> StoreResult<Option<RollingRestart>>;
}

// ---- queries: one statement each -------------------------------------

/// Stores a rollout; `Duplicate` while another one runs (a unique index
/// allows one running rollout).
async fn insert_rollout(s: &mut impl Exec, r: &RollingRestart) -> StoreResult<()> {
    const SQL: &str = "INSERT INTO rolling_restarts (id, status, max_unavailable, \
        deadline_seconds, reason, actor, workers, message, created_at, finished_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    let workers = workers_json(r)?;
    let args = [
        Arg::Id(r.id),
        Arg::Text(r.status.as_str()),
        Arg::I32(r.max_unavailable as i32),
        Arg::I32(r.deadline_seconds as i32),
        Arg::Text(&r.reason),
        Arg::Text(&r.actor),
        Arg::Json(&workers),
        Arg::OptText(r.message.as_deref()),
        Arg::Time(r.created_at),
        Arg::OptTime(r.finished_at),
    ];
    s.execute(SQL, &args).await?;
    Ok(())
}

fn workers_json(r: &RollingRestart) -> StoreResult<serde_json::Value> {
    serde_json::to_value(&r.workers).map_err(|e| StoreError::corrupt("rollout workers", e))
}

/// The rollout with this id.
async fn find_rollout(s: &mut impl Exec, id: Uuid) -> StoreResult<Option<RollingRestart>> {
    const SQL: &str = concat!(
        "SELECT ",
        rollout_columns!(),
        " FROM rolling_restarts WHERE id = $1"
    );
    let row = s.fetch_optional(SQL, &[Arg::Id(id)]).await?;
    row.as_ref().map(rows::rollout).transpose()
}

/// The newest rollouts.
async fn list_rollouts(s: &mut impl Exec, limit: u32) -> StoreResult<Vec<RollingRestart>> {
    const SQL: &str = concat!(
        "SELECT ",
        rollout_columns!(),
        " FROM rolling_restarts ORDER BY created_at DESC LIMIT $1"
    );
    let rows = s.fetch_all(SQL, &[Arg::I64(i64::from(limit))]).await?;
    rows.iter().map(rows::rollout).collect()
}

/// Cancels the rollout if it is still running.
async fn cancel_running_rollout(
    s: &mut impl Exec,
    id: Uuid,
    message: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<RollingRestart>> {
    const SQL: &str = concat!(
        "UPDATE rolling_restarts SET status = 'cancelled', message = $2, finished_at = $3 \
         WHERE id = $1 AND status = 'running' RETURNING ",
        rollout_columns!()
    );
    let args = [Arg::Id(id), Arg::Text(message), Arg::Time(now)];
    let row = s.fetch_optional(SQL, &args).await?;
    row.as_ref().map(rows::rollout).transpose()
}

/// The running rollout, locked for one step (PostgreSQL skips it while
/// another process steps it).
async fn lock_running_rollout(s: &mut impl Exec) -> StoreResult<Option<RollingRestart>> {
    let sql = s.sql().lock_running_rollout;
    let row = s.fetch_optional(sql, &[]).await?;
    row.as_ref().map(rows::rollout).transpose()
}

/// Writes a step's progress.
async fn write_rollout_progress(s: &mut impl Exec, r: &RollingRestart) -> StoreResult<()> {
    const SQL: &str = "UPDATE rolling_restarts SET status = $2, workers = $3, message = $4, \
        finished_at = $5 WHERE id = $1";
    let workers = workers_json(r)?;
    let args = [
        Arg::Id(r.id),
        Arg::Text(r.status.as_str()),
        Arg::Json(&workers),
        Arg::OptText(r.message.as_deref()),
        Arg::OptTime(r.finished_at),
    ];
    s.execute(SQL, &args).await?;
    Ok(())
}

// ---- operations: written once ------------------------------------------

async fn create<D: Driver>(d: &D, r: &RollingRestart) -> StoreResult<()> {
    let mut s = d.write().await?;
    match insert_rollout(&mut s, r).await {
        Err(StoreError::Duplicate(_)) => Err(StoreError::Conflict(
            "a rolling restart is already running; cancel it or wait for it to finish".into(),
        )),
        Err(e) => Err(e),
        Ok(()) => s.commit().await,
    }
}

async fn cancel<D: Driver>(
    d: &D,
    id: Uuid,
    message: &str,
    now: DateTime<Utc>,
) -> StoreResult<RollingRestart> {
    let mut s = d.write().await?;
    if let Some(r) = cancel_running_rollout(&mut s, id, message, now).await? {
        s.commit().await?;
        return Ok(r);
    }
    let r = find_rollout(&mut s, id)
        .await?
        .ok_or(StoreError::NotFound)?;
    Err(StoreError::Conflict(format!(
        "rolling restart {} is already {}",
        r.id,
        r.status.as_str()
    )))
}

/// One step, under the rollout's row lock: several server processes never
/// step it at once, and a cancel either commits before the step (which
/// then finds nothing running) or after it.
async fn advance<D: Driver>(
    d: &D,
    now: DateTime<Utc>,
    stale_after: Duration,
) -> StoreResult<Option<RollingRestart>> {
    let mut tx = d.begin().await?;
    let Some(current) = lock_running_rollout(&mut tx).await? else {
        tx.commit().await?;
        return Ok(None);
    };
    let fleet = read_fleet(&mut tx).await?;
    let step = rollout::advance(current, &rollout::observe(&fleet, now, stale_after), now);
    for (id, desired) in &step.set_desired {
        set_desired_state(&mut tx, id, *desired).await?;
    }
    if !step.set_desired.is_empty() {
        tx.notify(&Notice::FleetChanged).await?;
    }
    write_rollout_progress(&mut tx, &step.rollout).await?;
    tx.commit().await?;
    Ok(Some(step.rollout))
}

#[async_trait]
impl<D: Driver> RolloutStore for Storage<D> {
    async fn create_rollout(&self, r: &RollingRestart) -> StoreResult<()> {
        create(&*self.call(), r).await
    }

    async fn get_rollout(&self, id: Uuid) -> StoreResult<RollingRestart> {
        find_rollout(&mut self.call().read().await?, id)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn list_rollouts(&self, limit: u32) -> StoreResult<Vec<RollingRestart>> {
        list_rollouts(&mut self.call().read().await?, limit).await
    }

    async fn cancel_rollout(
        &self,
        id: Uuid,
        message: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<RollingRestart> {
        cancel(&*self.call(), id, message, now).await
    }

    async fn advance_rollout(
        &self,
        now: DateTime<Utc>,
        stale_after: Duration,
    ) -> StoreResult<Option<RollingRestart>> {
        advance(&*self.call(), now, stale_after).await
    }
}
