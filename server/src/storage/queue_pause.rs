//! Named queues: one row per queue holding its own pause state, and the
//! queue list with its live counts. (A queue's pause and resume is the
//! fleet's transition written once for both: [`super::pause`]'s
//! `transition` with `PauseTarget::Queue`.)
//!
//! The per-queue guarantee — once a queue pause has answered, no claim on
//! any server process hands out a job of that queue until it is resumed —
//! rests on the queue's row, the way the global one rests on the global
//! state row:
//! - A pause takes the queue's row `FOR UPDATE` (`lock_queue`) in the
//!   transaction that writes it. A claim takes the row of the queue it is
//!   handing out a job of `FOR SHARE` (`queue_open_for_claim`) in the same
//!   statement or transaction that claims, and claims only if it is not
//!   paused. A claim that locked first commits before the pause can (so
//!   the pause answers after it); a claim that comes later waits for the
//!   pause, then reads the new row (PostgreSQL re-reads the newest version
//!   for a locking read) and hands out nothing of that queue. SQLite has
//!   one writer: the check inside the claim's write transaction is enough.
//! - A queue with no row yet (never paused, no jobs) is paused by
//!   inserting its row first (`ensure_queue`), so a pause of an empty
//!   queue applies to the jobs enqueued later.
//! - A new queue's first enqueue vs a concurrent pause: every enqueue
//!   writes its queue's row before the job (`storage::queue`), and rows are
//!   never deleted, so a claim can never see a job whose row it cannot
//!   lock. Two first writers of one row (an enqueue and a pause) are
//!   serialized by its primary key.
//!
//! Other processes learn of a queue pause through `QueuePauseChanged`
//! (NOTIFY at commit), the periodic refresh and the re-read on reconnect.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::pause::{state_args, transition, PauseTarget, TransitionOutcome};
use super::queue::count_live_jobs_by_queue;
use super::rows;
use super::{Arg, Driver, Exec, RowReader, Storage, StoreResult};
use crate::domain::{LiveCounts, PauseCommand, PauseState, QueuePause};

/// A queue as the list shows it: its pause and its live jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSummary {
    pub pause: QueuePause,
    pub counts: LiveCounts,
}

#[async_trait]
pub trait QueuePauseStore: Send + Sync + 'static {
    /// Every queue's row (the queues that ever had jobs or a pause).
    async fn queue_pauses(&self) -> StoreResult<Vec<QueuePause>>;

    /// One queue's pause; [`PauseState::initial`] for a queue with no row.
    async fn queue_pause(&self, queue: &str, now: DateTime<Utc>) -> StoreResult<PauseState>;

    /// Pauses or resumes one queue atomically, as
    /// [`super::PauseStore::transition_pause`] does the fleet: the queue's
    /// row (created if missing) locked, a known `requestId` replayed, that
    /// queue's drain metrics, [`crate::domain::decide_queue`], the row and the
    /// audit event written, other processes notified — one transaction. A
    /// refusal or a request that changes nothing writes nothing.
    async fn transition_queue_pause(
        &self,
        queue: &str,
        cmd: &PauseCommand,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<TransitionOutcome>;

    /// The queues that have jobs (any status) or are paused, by name, with
    /// their live counts.
    async fn list_queues(&self, now: DateTime<Utc>) -> StoreResult<Vec<QueueSummary>>;
}

// ---- queries: one statement each -------------------------------------

/// Writes the queue's row if it has none (running, version 1). Every
/// enqueue calls it before inserting its job; see the module docs.
pub(crate) async fn ensure_queue(
    s: &mut impl Exec,
    queue: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    const SQL: &str = "INSERT INTO queues (name, updated_at, created_at) VALUES ($1, $2, $2) \
        ON CONFLICT (name) DO NOTHING";
    s.execute(SQL, &[Arg::Text(queue), Arg::Time(now)]).await?;
    Ok(())
}

/// Every queue's row, by name.
async fn read_queues(s: &mut impl Exec) -> StoreResult<Vec<QueuePause>> {
    const SQL: &str = concat!("SELECT ", queue_columns!(), " FROM queues ORDER BY name");
    s.fetch_all(SQL, &[])
        .await?
        .iter()
        .map(rows::queue_pause)
        .collect()
}

/// One queue's row, unlocked.
async fn read_queue(s: &mut impl Exec, queue: &str) -> StoreResult<Option<QueuePause>> {
    const SQL: &str = concat!("SELECT ", queue_columns!(), " FROM queues WHERE name = $1");
    s.fetch_optional(SQL, &[Arg::Text(queue)])
        .await?
        .as_ref()
        .map(rows::queue_pause)
        .transpose()
}

/// The queue's row, locked against claims of its jobs and other
/// transitions until the transaction ends (it must exist).
pub(crate) async fn lock_queue(s: &mut impl Exec, queue: &str) -> StoreResult<PauseState> {
    let sql = s.sql().lock_queue;
    let row = s.fetch_one(sql, &[Arg::Text(queue)]).await?;
    Ok(rows::queue_pause(&row)?.state)
}

/// Whether a claim may hand out a job of `queue`: its row read under a
/// shared lock held until the claim's transaction ends. A pause that
/// committed first is seen; a later one waits for the claim.
pub(crate) async fn queue_open_for_claim(s: &mut impl Exec, queue: &str) -> StoreResult<bool> {
    let sql = s.sql().share_queue;
    match s.fetch_optional(sql, &[Arg::Text(queue)]).await? {
        Some(r) => Ok(!r.bool("paused")?),
        // Cannot happen (a job's queue always has its row); refuse rather
        // than hand out a job no pause could have stopped.
        None => Ok(false),
    }
}

/// Overwrites the queue's pause state.
pub(crate) async fn write_queue(
    s: &mut impl Exec,
    queue: &str,
    st: &PauseState,
) -> StoreResult<()> {
    const SQL: &str = "UPDATE queues SET paused = $1, mode = $2, reason = $3, \
        requested_by = $4, requested_at = $5, paused_at = $6, resumed_at = $7, \
        updated_at = $8, version = $9, until_at = $10 WHERE name = $11";
    let [a1, a2, a3, a4, a5, a6, a7, a8, a9, a10] = state_args(st);
    let args = [a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, Arg::Text(queue)];
    s.execute(SQL, &args).await?;
    Ok(())
}

/// The queues worth listing: paused, or with at least one job of any
/// status (one index probe each, `jobs_queue_created`).
async fn read_listed_queues(s: &mut impl Exec) -> StoreResult<Vec<QueuePause>> {
    const SQL: &str = concat!(
        "SELECT ",
        queue_columns!(),
        " FROM queues q WHERE q.paused \
         OR EXISTS (SELECT 1 FROM jobs j WHERE j.queue = q.name) ORDER BY q.name"
    );
    s.fetch_all(SQL, &[])
        .await?
        .iter()
        .map(rows::queue_pause)
        .collect()
}

// ---- operations: written once ------------------------------------------

/// The listed queues and the live counts, read together.
async fn list_queues<D: Driver>(d: &D, now: DateTime<Utc>) -> StoreResult<Vec<QueueSummary>> {
    let mut s = d.read().await?;
    let queues = read_listed_queues(&mut s).await?;
    let counts = count_live_jobs_by_queue(&mut s, now).await?;
    Ok(queues
        .into_iter()
        .map(|pause| {
            let counts = counts
                .iter()
                .find(|(q, _)| *q == pause.name)
                .map(|(_, c)| *c)
                .unwrap_or_default();
            QueueSummary { pause, counts }
        })
        .collect())
}

#[async_trait]
impl<D: Driver> QueuePauseStore for Storage<D> {
    async fn queue_pauses(&self) -> StoreResult<Vec<QueuePause>> {
        read_queues(&mut self.call().read().await?).await
    }

    async fn queue_pause(&self, queue: &str, now: DateTime<Utc>) -> StoreResult<PauseState> {
        Ok(read_queue(&mut self.call().read().await?, queue)
            .await?
            .map_or_else(|| PauseState::initial(now), |q| q.state))
    }

    async fn transition_queue_pause(
        &self,
        queue: &str,
        cmd: &PauseCommand,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<TransitionOutcome> {
        transition(&*self.call(), PauseTarget::Queue(queue), cmd, actor, now).await
    }

    async fn list_queues(&self, now: DateTime<Utc>) -> StoreResult<Vec<QueueSummary>> {
        list_queues(&*self.call(), now).await
    }
}
