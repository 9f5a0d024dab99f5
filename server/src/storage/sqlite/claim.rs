//! The common claim in two statements on the writer (instead of five).
//!
//! On SQLite every write runs on the one writer connection, one at a time,
//! so within a write nothing else can change a row: the transaction path's
//! locks (`share_pause_state`, the queue row re-read after the claim in
//! `storage::claims`) guard against nothing here, and what they check can be
//! folded into the claim itself. The first statement reads the pause row
//! and whether any lease has expired (in an unpaused queue); `None` sends
//! the caller to the transaction path, which requeues those first. The
//! second claims up to `limit` jobs of unpaused queues, for a worker that
//! operators have not paused, in claim order. Both run inside one write
//! (one savepoint of a group, with group commit), so they see one state.
//!
//! Fewer statements matter because a group's writes run one after another
//! on the writer: each round trip to SQLite's connection thread is time
//! the whole group waits (issue 18).

use chrono::Duration;
use uuid::Uuid;
use wire::Job;

use crate::domain::PauseState;
use crate::storage::driver::ClaimParams;
use crate::storage::rows::{self, STATE};
use crate::storage::{Arg, Driver, Exec, RowReader, StoreResult};

use super::SqliteDriver;

/// The pause row and whether a lease of an unpaused queue has expired.
const STATE_AND_EXPIRED: &str = concat!(
    "SELECT ",
    state_columns!(),
    ", EXISTS (SELECT 1 FROM jobs WHERE status = 'running' AND lease_expires_at < $1 \
       AND queue IN (SELECT name FROM queues WHERE NOT paused)) AS expired \
     FROM worker_pause_state WHERE id = 1"
);

/// Leases up to `$8` claimable jobs (priority, then age) of unpaused queues
/// to the worker under token `$2`, unless operators paused or are draining
/// that worker. The `claim_next_job` statement of `sql.rs`, for many.
const CLAIM_JOBS: &str = concat!(
    "UPDATE jobs SET status = 'running', worker_id = $1, lease_token = $2, \
     lease_seconds = $3, lease_expires_at = $4, attempts = attempts + 1, \
     paused_at_checkpoint = FALSE, started_at = $5, updated_at = $5 \
     WHERE NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = $1 AND w.desired_state <> 'active') \
     AND id IN (SELECT id FROM jobs WHERE status = 'queued' AND run_after <= $5 \
                 AND ($6 IS NULL OR type IN (SELECT value FROM json_each($6))) \
                 AND ($7 IS NULL OR queue IN (SELECT value FROM json_each($7))) \
                 AND queue IN (SELECT name FROM queues WHERE NOT paused) \
                 ORDER BY priority DESC, run_after, created_at LIMIT $8) \
     RETURNING ",
    job_columns!()
);

pub(super) async fn in_two_statements(
    d: &SqliteDriver,
    p: &ClaimParams,
    limit: u32,
) -> StoreResult<Option<(PauseState, Vec<Job>)>> {
    let mut s = d.begin().await?;
    let row = s.fetch_one(STATE_AND_EXPIRED, &[Arg::Time(p.now)]).await?;
    let state = rows::pause_state(&row, &STATE)?;
    if state.workers_paused {
        s.commit().await?;
        return Ok(Some((state, Vec::new())));
    }
    if row.bool("expired")? {
        // Nothing written: dropping the write ends it.
        return Ok(None);
    }
    let token = Uuid::new_v4();
    let expires = p.now + Duration::seconds(i64::from(p.lease_seconds));
    let found = s
        .fetch_all(
            CLAIM_JOBS,
            &[
                Arg::Text(&p.worker_id),
                Arg::Id(token),
                Arg::I32(p.lease_seconds as i32),
                Arg::Time(expires),
                Arg::Time(p.now),
                Arg::OptTextList(p.types.as_deref()),
                Arg::OptTextList(p.queues.as_deref()),
                Arg::I64(i64::from(limit)),
            ],
        )
        .await?;
    s.commit().await?;
    let mut jobs = Vec::with_capacity(found.len());
    for row in &found {
        let mut job = rows::job(row)?;
        job.lease_token = Some(token);
        jobs.push(job);
    }
    // RETURNING gives no order: the queue's order, as single claims in a
    // row would have handed them.
    jobs.sort_by(|a, b| {
        (b.priority, a.run_after, a.created_at).cmp(&(a.priority, b.run_after, b.created_at))
    });
    Ok(Some((state, jobs)))
}
