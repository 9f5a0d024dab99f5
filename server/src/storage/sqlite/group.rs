//! Group commit on SQLite's one writer connection.
//!
//! Every write on SQLite goes through one connection and every commit waits
//! for an fsync (`synchronous = FULL`): committed one by one, concurrent
//! requests queue behind each other's fsyncs. Here they share them. The
//! connection keeps one transaction open across the writes of a *group*,
//! each write inside its own savepoint, so a write that fails (or is
//! abandoned by a cancelled request) is rolled back alone and its neighbours
//! keep theirs. A write that ends while another is waiting for the
//! connection hands the connection on and waits; the write that finds
//! nobody waiting (or fills the group, or finds it old) commits the group.
//! Every member is answered only then, with the commit's outcome: nothing is
//! acknowledged before the fsync that makes it durable, and at low load
//! (nobody waiting) a write commits at once, as it did alone.
//!
//! The members of a group see each other's uncommitted rows (one
//! connection, one transaction), which is what serial commits would have
//! shown them; if the commit fails they all fail, so no answer rests on a
//! write that did not become durable. Readers (the other pool) see a group
//! only once it is committed.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use sqlx::pool::PoolConnection;
use sqlx::{Executor, Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{watch, Mutex, OwnedMutexGuard};

use super::super::driver::Held;
use super::super::{StoreError, StoreResult};

/// A group commits once it has this many writes, even with more waiting:
/// the first member's answer waits for the whole group.
const MAX_MEMBERS: usize = 256;
/// A group commits once it has been open this long, even with more waiting.
const MAX_AGE: Duration = Duration::from_millis(5);
/// A member that handed the connection on and has had no answer after this
/// long commits the group itself: the write it handed to was abandoned
/// before its turn (a cancelled request), so nobody else would.
const FLUSH_AFTER: Duration = Duration::from_millis(20);

/// The outcome of a group's commit, sent to its members.
type Outcome = Option<Result<(), String>>;

/// Commits and the writes they made durable, since the process started
/// (writes / commits is the mean group size).
#[derive(Debug, Default)]
pub struct CommitCounts {
    pub commits: AtomicU64,
    pub writes: AtomicU64,
}

impl CommitCounts {
    /// (commits, writes).
    pub fn read(&self) -> (u64, u64) {
        (
            self.commits.load(Ordering::Relaxed),
            self.writes.load(Ordering::Relaxed),
        )
    }
}

/// The writer connection, shared by every write of the process.
#[derive(Clone)]
pub(super) struct GroupWriter {
    slot: Arc<Mutex<Slot>>,
    /// Writes waiting for the connection (a write ending its turn hands on
    /// when this is not zero).
    queued: Arc<AtomicUsize>,
    counts: Arc<CommitCounts>,
}

struct Slot {
    conn: PoolConnection<Sqlite>,
    group: Option<Group>,
    /// A write's savepoint was opened and never closed: its session was
    /// dropped mid-write. The next holder rolls it back before anything
    /// else (see [`Slot::settle`]).
    dirty: bool,
    next_id: u64,
}

struct Group {
    id: u64,
    /// Writes whose savepoint was released into this group.
    members: u64,
    opened: Instant,
    outcome: watch::Sender<Outcome>,
}

impl GroupWriter {
    /// Takes the one connection of `pool` for good.
    pub(super) async fn new(pool: &SqlitePool) -> StoreResult<GroupWriter> {
        Ok(GroupWriter {
            slot: Arc::new(Mutex::new(Slot {
                conn: pool.acquire().await?,
                group: None,
                dirty: false,
                next_id: 0,
            })),
            queued: Arc::new(AtomicUsize::new(0)),
            counts: Arc::new(CommitCounts::default()),
        })
    }

    pub(super) fn counts(&self) -> &CommitCounts {
        &self.counts
    }

    /// A write's turn: the connection, in the group's transaction (opened
    /// here if none is), inside a savepoint of the write's own.
    pub(super) async fn turn(&self) -> StoreResult<Turn> {
        let mut slot = {
            let _queued = Queued::enter(&self.queued);
            self.slot.clone().lock_owned().await
        };
        slot.settle().await;
        if let Err(e) = slot.open_write().await {
            self.end_turn(slot).await;
            return Err(e);
        }
        Ok(Turn {
            slot: Some(slot),
            writer: self.clone(),
        })
    }

    /// Ends the holder's turn: commits the group when it is due, then lets
    /// the next write have the connection.
    async fn end_turn(&self, mut slot: OwnedMutexGuard<Slot>) {
        let due = slot.group.as_ref().is_some_and(|g| {
            self.queued.load(Ordering::Acquire) == 0
                || g.members >= MAX_MEMBERS as u64
                || g.opened.elapsed() >= MAX_AGE
        });
        if due {
            slot.commit_group(&self.counts).await;
        }
    }

    /// Waits for the commit of group `id` (which the caller is a member of).
    async fn committed(&self, id: u64, mut outcome: watch::Receiver<Outcome>) -> StoreResult<()> {
        loop {
            // The outcome is copied out at once: the watch's guard must not
            // be held across the flush below.
            let waited = tokio::time::timeout(FLUSH_AFTER, outcome.wait_for(Option::is_some))
                .await
                .map(|r| r.map(|done| done.clone()));
            match waited {
                Ok(Ok(Some(Ok(())))) => return Ok(()),
                Ok(Ok(Some(Err(e)))) => return Err(StoreError::Database(e)),
                Ok(Ok(None)) => unreachable!("waited for Some"),
                Ok(Err(_)) => {
                    return Err(StoreError::Unavailable(
                        "the SQLite writer closed before the write was committed".into(),
                    ))
                }
                Err(_) => {
                    let mut slot = self.slot.clone().lock_owned().await;
                    if slot.group.as_ref().is_some_and(|g| g.id == id) {
                        slot.settle().await;
                        slot.commit_group(&self.counts).await;
                    }
                }
            }
        }
    }
}

impl Slot {
    /// Opens the group's transaction if none is open, and the write's
    /// savepoint. `BEGIN IMMEDIATE` takes the write lock at once, waiting
    /// up to the busy timeout for another process's writer (the CLI's
    /// `tokens` commands open the file too).
    async fn open_write(&mut self) -> StoreResult<()> {
        if self.group.is_none() {
            run(&mut self.conn, "BEGIN IMMEDIATE").await?;
            self.next_id += 1;
            self.group = Some(Group {
                id: self.next_id,
                members: 0,
                opened: Instant::now(),
                outcome: watch::channel(None).0,
            });
        }
        run(&mut self.conn, "SAVEPOINT lull_write").await?;
        self.dirty = true;
        Ok(())
    }

    /// Closes the current write's savepoint, keeping its changes in the
    /// group: the group's id and where its outcome will be sent.
    async fn release_write(&mut self) -> StoreResult<(u64, watch::Receiver<Outcome>)> {
        if let Err(e) = run(&mut self.conn, "RELEASE SAVEPOINT lull_write").await {
            self.settle().await;
            return Err(e);
        }
        self.dirty = false;
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| StoreError::Database("a SQLite write outside its group".into()))?;
        group.members += 1;
        Ok((group.id, group.outcome.subscribe()))
    }

    /// Rolls back a write abandoned mid-way, alone. If its savepoint is gone
    /// (SQLite rolls the whole transaction back after some errors, such as
    /// a full disk), the group cannot commit: its members are told so.
    async fn settle(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let undone = match run(&mut self.conn, "ROLLBACK TO SAVEPOINT lull_write").await {
            Ok(()) => run(&mut self.conn, "RELEASE SAVEPOINT lull_write").await,
            Err(e) => Err(e),
        };
        if let Err(e) = undone {
            let _ = run(&mut self.conn, "ROLLBACK").await;
            if let Some(g) = self.group.take() {
                g.outcome.send_replace(Some(Err(format!(
                    "the write group was rolled back after a failed write: {e}"
                ))));
            }
        }
    }

    /// Commits the open group and tells its members the outcome.
    async fn commit_group(&mut self, counts: &CommitCounts) {
        let Some(g) = self.group.take() else { return };
        let outcome = match run(&mut self.conn, "COMMIT").await {
            Ok(()) => {
                counts.commits.fetch_add(1, Ordering::Relaxed);
                counts.writes.fetch_add(g.members, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                // A failed COMMIT may leave the transaction open: end it, so
                // the next group starts clean.
                let _ = run(&mut self.conn, "ROLLBACK").await;
                Err(format!("commit failed: {e}"))
            }
        };
        g.outcome.send_replace(Some(outcome));
    }
}

async fn run(conn: &mut SqliteConnection, sql: &'static str) -> StoreResult<()> {
    conn.execute(sql).await?;
    Ok(())
}

/// Counts a write waiting for the connection while it waits (also when its
/// request is cancelled meanwhile).
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn enter(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::AcqRel);
        Queued(n)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One write's turn on the connection. `commit` keeps its changes and
/// answers once the group is durable; dropping it rolls the write back
/// alone.
pub(super) struct Turn {
    slot: Option<OwnedMutexGuard<Slot>>,
    writer: GroupWriter,
}

impl Held<Sqlite> for Turn {
    fn conn(&mut self) -> &mut SqliteConnection {
        // The slot is only taken by `commit` (which consumes the turn) and
        // `drop`.
        match self.slot.as_mut() {
            Some(slot) => &mut slot.conn,
            None => unreachable!("a turn's slot is held until it ends"),
        }
    }

    fn commit(mut self: Box<Self>) -> BoxFuture<'static, StoreResult<()>> {
        let slot = self.slot.take();
        let writer = self.writer.clone();
        Box::pin(async move {
            let Some(mut slot) = slot else {
                return Err(StoreError::Database(
                    "a SQLite write committed twice".into(),
                ));
            };
            let released = slot.release_write().await;
            writer.end_turn(slot).await;
            let (id, outcome) = released?;
            writer.committed(id, outcome).await
        })
    }
}

impl Drop for Turn {
    /// An abandoned write (an error, or its request cancelled): roll it back
    /// and end the turn on a task of its own, so the group it was part of
    /// still commits. Without a runtime (shutdown) the next holder rolls it
    /// back (`dirty`).
    fn drop(&mut self) {
        let Some(mut slot) = self.slot.take() else {
            return;
        };
        let writer = self.writer.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                slot.settle().await;
                writer.end_turn(slot).await;
            });
        }
    }
}
