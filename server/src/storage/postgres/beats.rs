//! Worker heartbeats on PostgreSQL, coalesced: the heartbeats that arrive
//! while earlier ones are being written go to the database together, as one
//! `UPDATE … FROM unnest(…)` (one statement, one commit, one round trip for
//! the whole group).
//!
//! Why: a fleet of thousands of workers heartbeating is the server's
//! steadiest write load, and one statement per heartbeat spent most of its
//! cost on per-statement overhead (round trips, commit), not on the row.
//! Nothing waits to form a batch: a heartbeat that finds a writer free goes
//! at once, alone; only under load do groups form, from heartbeats that
//! would otherwise have queued for a pool connection anyway.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::domain::{WorkerBeat, WorkerRecord};
use crate::storage::{rows, StoreError, StoreResult};

/// Heartbeats written by one statement, at most.
const MAX_GROUP: usize = 256;
/// Statements in flight at once (each holds one pool connection).
const WRITERS: usize = 4;

/// One heartbeat waiting to be written. The answer is the worker's row, or
/// `None` when no row matched (unknown worker, or a newer boot).
pub(super) struct Pending {
    beat: WorkerBeat,
    now: DateTime<Utc>,
    reply: oneshot::Sender<StoreResult<Option<WorkerRecord>>>,
}

/// Starts the writer; heartbeats are sent on the returned channel. It stops
/// when every sender is gone.
pub(super) fn start(pool: PgPool) -> mpsc::Sender<Pending> {
    let (tx, rx) = mpsc::channel(4 * MAX_GROUP);
    tokio::spawn(gather(pool, rx));
    tx
}

/// Writes one heartbeat, together with the others that arrive meanwhile.
pub(super) async fn write(
    writer: &mpsc::Sender<Pending>,
    beat: &WorkerBeat,
    now: DateTime<Utc>,
) -> StoreResult<Option<WorkerRecord>> {
    let (reply, answer) = oneshot::channel();
    let pending = Pending {
        beat: beat.clone(),
        now,
        reply,
    };
    let stopped = || StoreError::Unavailable("the heartbeat writer has stopped".into());
    writer.send(pending).await.map_err(|_| stopped())?;
    answer.await.map_err(|_| stopped())?
}

/// Takes a writer slot, then everything queued (up to [`MAX_GROUP`]), and
/// writes it in the background. A worker already in the group waits for the
/// next one: one statement must not update the same row twice.
async fn gather(pool: PgPool, mut rx: mpsc::Receiver<Pending>) {
    let slots = Arc::new(Semaphore::new(WRITERS));
    let mut held: Vec<Pending> = Vec::new();
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut group: Vec<Pending> = Vec::new();
        let mut ids: HashSet<String> = HashSet::new();
        let mut later = Vec::new();
        for p in held.drain(..) {
            if group.len() < MAX_GROUP && ids.insert(p.beat.id.clone()) {
                group.push(p);
            } else {
                later.push(p);
            }
        }
        held = later;
        if group.is_empty() {
            match rx.recv().await {
                Some(p) => {
                    ids.insert(p.beat.id.clone());
                    group.push(p);
                }
                None => return,
            }
        }
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(p) if ids.insert(p.beat.id.clone()) => group.push(p),
                Ok(p) => held.push(p),
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            write_group(&pool, group).await;
            drop(slot);
        });
    }
}

/// Writes one group and answers every heartbeat in it.
async fn write_group(pool: &PgPool, group: Vec<Pending>) {
    let n = group.len();
    let mut applied: Vec<Option<i64>> = Vec::with_capacity(n);
    let (mut ids, mut boots, mut ats, mut states, mut jobs, mut backlogs) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for p in &group {
        ids.push(p.beat.id.clone());
        boots.push(p.beat.boot_id.clone());
        ats.push(p.now);
        states.push(p.beat.state.as_str());
        jobs.push(serde_json::to_value(&p.beat.active_jobs).unwrap_or_default());
        backlogs.push(p.beat.offline_backlog as i32);
        applied.push(p.beat.applied_version);
    }
    let columns = worker_columns!()
        .split(',')
        .map(|c| format!("w.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    // `synchronous_commit` off for this statement's transaction only: a
    // heartbeat is soft state that the next beat repeats, so it need not
    // wait for the WAL flush. A crash loses at most the last fraction of a
    // second of beats (the workers look a little older until they beat
    // again); every other write keeps synchronous commits.
    let result = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE workers AS w SET last_heartbeat_at = b.at, reported_state = b.state, \
           active_jobs = b.jobs, offline_backlog = b.backlog, \
           applied_at = CASE WHEN b.applied IS NULL OR b.applied = w.applied_version \
             THEN w.applied_at ELSE b.at END, \
           applied_version = COALESCE(b.applied, w.applied_version) \
         FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit, \
           unnest($1::TEXT[], $2::TEXT[], $3::TIMESTAMPTZ[], $4::TEXT[], $5::JSONB[], $6::INT4[], \
             $7::INT8[]) \
             AS b(id, boot_id, at, state, jobs, backlog, applied) \
         WHERE w.id = b.id AND w.boot_id = b.boot_id \
         RETURNING {columns}"
    )))
    .bind(&ids)
    .bind(&boots)
    .bind(&ats)
    .bind(&states)
    .bind(&jobs)
    .bind(&backlogs)
    .bind(&applied)
    .fetch_all(pool)
    .await;
    let rows = match result {
        Ok(rows) => rows,
        Err(e) => {
            let e = StoreError::from(e);
            for p in group {
                let _ = p.reply.send(Err(copy_error(&e)));
            }
            return;
        }
    };
    let mut found: HashMap<String, StoreResult<WorkerRecord>> = HashMap::with_capacity(n);
    for row in &rows {
        let rec = rows::worker(row);
        let id = match &rec {
            Ok(w) => w.id.clone(),
            Err(_) => match sqlx::Row::try_get::<String, _>(row, "id") {
                Ok(id) => id,
                Err(_) => continue,
            },
        };
        found.insert(id, rec);
    }
    for p in group {
        let answer = found.remove(&p.beat.id).transpose();
        let _ = p.reply.send(answer);
    }
}

/// The same error for every heartbeat of a failed group.
fn copy_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        other => StoreError::Database(other.to_string()),
    }
}
