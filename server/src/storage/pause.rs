//! The global pause: its state row, the audit log, and the transition —
//! written once for the fleet and for a named queue (`PauseTarget`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use wire::{ControlEvent, DrainMetrics};

use super::notice::Notice;
use super::queue::count_live_jobs;
use super::queue_pause::{ensure_queue, lock_queue, write_queue};
use super::rows::{self, STATE};
use super::{Arg, Driver, Exec, Storage, StoreError, StoreResult};
use crate::domain::{self, Decision, EventFilter, NewControlEvent, PauseCommand, PauseState};

/// What a pause/resume did.
#[derive(Debug, Clone)]
pub struct TransitionOutcome {
    /// The state after the call (unchanged on a no-op or replay).
    pub state: PauseState,
    pub metrics: DrainMetrics,
    /// The appended audit event; `None` for a no-op or a replay.
    pub event: Option<ControlEvent>,
    pub warning: Option<String>,
    /// The `requestId` had been applied before: nothing was done now.
    pub replayed: bool,
}

#[async_trait]
pub trait PauseStore: Send + Sync + 'static {
    async fn pause_state(&self) -> StoreResult<PauseState>;

    /// Applies a pause/resume atomically: locks the state row, replays a
    /// known `requestId`, computes the drain metrics, runs
    /// [`domain::decide`], writes the state and the audit event and
    /// notifies other processes — all in one transaction.
    async fn transition_pause(
        &self,
        cmd: &PauseCommand,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<TransitionOutcome>;

    /// Newest first; `before` is an event id (exclusive) for paging.
    async fn list_events(&self, limit: u32, before: Option<i64>) -> StoreResult<Vec<ControlEvent>> {
        self.search_events(&EventFilter::default(), limit, before)
            .await
    }

    /// [`PauseStore::list_events`] of the events matching `filter`: the
    /// database filters, then pages, so a page holds `limit` matches.
    async fn search_events(
        &self,
        filter: &EventFilter,
        limit: u32,
        before: Option<i64>,
    ) -> StoreResult<Vec<ControlEvent>>;
}

// ---- queries: one statement each -------------------------------------

/// The pause state, unlocked.
pub(crate) async fn read_pause_state(s: &mut impl Exec) -> StoreResult<PauseState> {
    const SQL: &str = concat!(
        "SELECT ",
        state_columns!(),
        " FROM worker_pause_state WHERE id = 1"
    );
    rows::pause_state(&s.fetch_one(SQL, &[]).await?, &STATE)
}

/// The pause state, locked against other transitions and claims until
/// the transaction ends.
async fn lock_pause_state(s: &mut impl Exec) -> StoreResult<PauseState> {
    let sql = s.sql().lock_pause_state;
    rows::pause_state(&s.fetch_one(sql, &[]).await?, &STATE)
}

/// The pause state, locked against transitions (not against other claims)
/// until the transaction ends.
pub(crate) async fn share_pause_state(s: &mut impl Exec) -> StoreResult<PauseState> {
    let sql = s.sql().share_pause_state;
    rows::pause_state(&s.fetch_one(sql, &[]).await?, &STATE)
}

/// A pause state as the arguments `$1`–`$10` of the statements that
/// write one (the fleet's row and a queue's).
pub(crate) fn state_args(st: &PauseState) -> [Arg<'_>; 10] {
    [
        Arg::Bool(st.workers_paused),
        Arg::OptText(st.mode.map(|m| m.as_str())),
        Arg::OptText(st.reason.as_deref()),
        Arg::OptText(st.requested_by.as_deref()),
        Arg::OptTime(st.requested_at),
        Arg::OptTime(st.paused_at),
        Arg::OptTime(st.resumed_at),
        Arg::Time(st.updated_at),
        Arg::I64(st.version),
        Arg::OptTime(st.until),
    ]
}

/// Overwrites the state row.
async fn write_pause_state(s: &mut impl Exec, st: &PauseState) -> StoreResult<()> {
    const SQL: &str = "UPDATE worker_pause_state SET workers_paused = $1, mode = $2, \
        reason = $3, requested_by = $4, requested_at = $5, paused_at = $6, resumed_at = $7, \
        updated_at = $8, version = $9, until_at = $10 WHERE id = 1";
    s.execute(SQL, &state_args(st)).await?;
    Ok(())
}

/// Whether an event with this idempotency key exists.
pub(crate) async fn request_id_seen(s: &mut impl Exec, request_id: &str) -> StoreResult<bool> {
    const SQL: &str = "SELECT id FROM system_control_events WHERE request_id = $1";
    Ok(s.fetch_optional(SQL, &[Arg::Text(request_id)])
        .await?
        .is_some())
}

/// Appends an audit event.
pub(crate) async fn insert_event(
    s: &mut impl Exec,
    e: &NewControlEvent,
) -> StoreResult<ControlEvent> {
    const SQL: &str = concat!(
        "INSERT INTO system_control_events (action, mode, reason, actor, force_resume, \
         queued, running, stale_running, is_drained, version, success, request_id, created_at, \
         targets, details, queue) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         RETURNING ",
        event_columns!()
    );
    let targets = serde_json::Value::from(e.targets.clone());
    let row = s
        .fetch_one(
            SQL,
            &[
                Arg::Text(&e.action),
                Arg::OptText(e.mode.map(|m| m.as_str())),
                Arg::Text(&e.reason),
                Arg::Text(&e.actor),
                Arg::Bool(e.force_resume),
                Arg::I64(e.metrics.queued),
                Arg::I64(e.metrics.running),
                Arg::I64(e.metrics.stale_running),
                Arg::Bool(e.metrics.is_drained),
                Arg::I64(e.version),
                Arg::Bool(e.success),
                Arg::OptText(e.request_id.as_deref()),
                Arg::Time(e.created_at),
                Arg::Json(&targets),
                Arg::OptJson(e.details.as_ref()),
                Arg::OptText(e.queue.as_deref()),
            ],
        )
        .await?;
    rows::event(&row)
}

/// A page of the audit log, newest first, below event id `before`, of
/// the events matching `f` (an exact action; the actor `LIKE` a pattern,
/// compared in lower case).
async fn list_events(
    s: &mut impl Exec,
    f: &EventFilter,
    limit: u32,
    before: Option<i64>,
) -> StoreResult<Vec<ControlEvent>> {
    const SQL: &str = concat!(
        "SELECT ",
        event_columns!(),
        " FROM system_control_events \
         WHERE (CAST($1 AS BIGINT) IS NULL OR id < $1) \
         AND (CAST($3 AS TEXT) IS NULL OR action = $3) \
         AND (CAST($4 AS TEXT) IS NULL OR LOWER(actor) LIKE $4 ESCAPE '\\') \
         ORDER BY id DESC LIMIT $2"
    );
    let pattern = f.actor_pattern();
    let args = [
        Arg::OptI64(before),
        Arg::I64(i64::from(limit)),
        Arg::OptText(f.action.as_deref()),
        Arg::OptText(pattern.as_deref()),
    ];
    let rows = s.fetch_all(SQL, &args).await?;
    rows.iter().map(rows::event).collect()
}

// ---- operations: written once ------------------------------------------

/// What a pause transition acts on: the fleet's state row, or one named
/// queue's row (see [`super::queue_pause`] for the queue's locks).
#[derive(Debug, Clone, Copy)]
pub(crate) enum PauseTarget<'a> {
    Fleet,
    Queue(&'a str),
}

/// A pause or resume of the fleet or of one queue, written once. The
/// target's row is locked first (a queue's is created first if it has
/// none), so transitions are serialized and a claim never interleaves with
/// one: on PostgreSQL the `FOR UPDATE` conflicts with the claims' `FOR
/// SHARE` (a claim that locked first commits before the pause can; a later
/// claim waits and then reads the new state); on SQLite the single writer
/// connection does the same. The drain metrics (the target's: every job,
/// or the queue's) and the replay check are read under that lock, so the
/// audit event records exactly what the decision saw. They count only live
/// jobs (a partial index), so the pause takes as long with a million
/// finished jobs in the table as with none. A refusal, a replay or a
/// request that changes nothing returns without committing: the
/// transaction rolls back and nothing was written (not even a new queue's
/// row).
pub(crate) async fn transition<D: Driver>(
    d: &D,
    target: PauseTarget<'_>,
    cmd: &PauseCommand,
    actor: &str,
    now: DateTime<Utc>,
) -> StoreResult<TransitionOutcome> {
    let mut tx = d.begin().await?;
    let (current, queue) = match target {
        PauseTarget::Fleet => (lock_pause_state(&mut tx).await?, None),
        PauseTarget::Queue(q) => {
            ensure_queue(&mut tx, q, now).await?;
            (lock_queue(&mut tx, q).await?, Some(q))
        }
    };
    let metrics = count_live_jobs(&mut tx, now, queue).await?.drain_metrics();
    let unchanged = |state, replayed| TransitionOutcome {
        state,
        metrics,
        event: None,
        warning: None,
        replayed,
    };
    if let Some(request_id) = &cmd.request_id {
        if request_id_seen(&mut tx, request_id).await? {
            return Ok(unchanged(current, true));
        }
    }
    let decided = match queue {
        None => domain::decide(&current, metrics, cmd, actor, now),
        Some(q) => domain::decide_queue(q, &current, metrics, cmd, actor, now),
    };
    let decision = decided.map_err(|e| match e {
        domain::DecideError::VersionConflict { expected, .. } => StoreError::VersionConflict {
            expected,
            current: Box::new(current.clone()),
        },
    })?;
    let Decision::Changed {
        state,
        event,
        warning,
    } = decision
    else {
        return Ok(unchanged(current, false));
    };
    let notice = match queue {
        None => {
            write_pause_state(&mut tx, &state).await?;
            Notice::PauseChanged(state.version)
        }
        Some(q) => {
            write_queue(&mut tx, q, &state).await?;
            Notice::QueuePauseChanged(q.to_string(), state.version)
        }
    };
    let event = insert_event(&mut tx, &event).await?;
    tx.notify(&notice).await?;
    tx.commit().await?;
    Ok(TransitionOutcome {
        state,
        metrics,
        event: Some(event),
        warning,
        replayed: false,
    })
}

#[async_trait]
impl<D: Driver> PauseStore for Storage<D> {
    async fn pause_state(&self) -> StoreResult<PauseState> {
        read_pause_state(&mut self.call().read().await?).await
    }

    async fn transition_pause(
        &self,
        cmd: &PauseCommand,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<TransitionOutcome> {
        transition(&*self.call(), PauseTarget::Fleet, cmd, actor, now).await
    }

    async fn search_events(
        &self,
        filter: &EventFilter,
        limit: u32,
        before: Option<i64>,
    ) -> StoreResult<Vec<ControlEvent>> {
        list_events(&mut self.call().read().await?, filter, limit, before).await
    }
}
