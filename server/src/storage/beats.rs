//! Worker heartbeats, coalesced: the heartbeats that arrive while earlier
//! ones are being written go to the database together, as one statement
//! (PostgreSQL: `UPDATE … FROM unnest(…)`; SQLite: `UPDATE … FROM
//! json_each(…)`) — one statement, one commit (or one place in SQLite's
//! commit group), one round trip for the whole group.
//!
//! Why: a fleet of thousands of workers heartbeating is the server's
//! steadiest write load, and one statement per heartbeat spent most of its
//! cost on per-statement overhead (round trips, commit, on SQLite the
//! savepoint pair around each write on the one writer), not on the row.
//! Nothing waits to form a batch: a heartbeat that finds a writer free goes
//! at once, alone; only under load do groups form, from heartbeats that
//! would otherwise have queued for a connection anyway.
//!
//! The gathering is here, once; each backend writes a group its own way
//! ([`GroupWrite`]).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::{StoreError, StoreResult};
use crate::domain::{WorkerBeat, WorkerRecord};

/// Heartbeats written by one statement, at most.
const MAX_GROUP: usize = 256;

/// One heartbeat waiting to be written. The answer is the worker's row, or
/// `None` when no row matched (unknown worker, or a newer boot).
pub(crate) struct Pending {
    pub beat: WorkerBeat,
    pub now: DateTime<Utc>,
    reply: oneshot::Sender<StoreResult<Option<WorkerRecord>>>,
}

/// A backend's write of one group: the rows it updated, by worker id (a
/// heartbeat whose worker is missing matched no row). Never the same worker
/// twice in a group.
pub(crate) trait GroupWrite: Clone + Send + Sync + 'static {
    fn write_group(
        &self,
        group: &[Pending],
    ) -> impl Future<Output = StoreResult<HashMap<String, StoreResult<WorkerRecord>>>> + Send;
}

/// Starts the gatherer with `writers` groups in flight at most (each holds
/// one connection); heartbeats are sent on the returned channel. It stops
/// when every sender is gone.
pub(crate) fn start<W: GroupWrite>(writer: W, writers: usize) -> mpsc::Sender<Pending> {
    let (tx, rx) = mpsc::channel(4 * MAX_GROUP);
    tokio::spawn(gather(writer, writers, rx));
    tx
}

/// Writes one heartbeat, together with the others that arrive meanwhile.
pub(crate) async fn write(
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
async fn gather<W: GroupWrite>(writer: W, writers: usize, mut rx: mpsc::Receiver<Pending>) {
    let slots = Arc::new(Semaphore::new(writers));
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
        let writer = writer.clone();
        tokio::spawn(async move {
            let written = writer.write_group(&group).await;
            answer(group, written);
            drop(slot);
        });
    }
}

/// Answers every heartbeat of a group from what its write found.
fn answer(group: Vec<Pending>, written: StoreResult<HashMap<String, StoreResult<WorkerRecord>>>) {
    match written {
        Ok(mut found) => {
            for p in group {
                let answer = found.remove(&p.beat.id).transpose();
                let _ = p.reply.send(answer);
            }
        }
        Err(e) => {
            for p in group {
                let _ = p.reply.send(Err(copy_error(&e)));
            }
        }
    }
}

/// The same error for every heartbeat of a failed group.
fn copy_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        other => StoreError::Database(other.to_string()),
    }
}

/// The rows a group's statement returned, by worker id (a row that cannot
/// be read is that worker's error).
pub(crate) fn by_id<R: super::RowReader>(rows: &[R]) -> HashMap<String, StoreResult<WorkerRecord>> {
    let mut found = HashMap::with_capacity(rows.len());
    for row in rows {
        let rec = super::rows::worker(row);
        let id = match &rec {
            Ok(w) => w.id.clone(),
            Err(_) => match row.text("id") {
                Ok(id) => id,
                Err(_) => continue,
            },
        };
        found.insert(id, rec);
    }
    found
}
