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
/// A group commits once it has been open for [`age_cap`] of the recent
/// commits' time, even with more waiting: this many commit times. The cap
/// must sit well above the commit's own time (the fsync), or a group of
/// multi-statement writes (a claim) closes after two or three of them while
/// a dozen wait, and each pays nearly a whole fsync again (issue 18: a
/// fixed 5 ms cap against a 12 ms fsync gave groups of 1.9 writes). Tied to
/// the measured commit time, the wait a group adds to its first member stays
/// in proportion to what one commit costs anyway, on fast disks and slow.
const AGE_IN_COMMITS: u32 = 4;
/// Bounds of the age cap, whatever the commits measured.
const MIN_AGE: Duration = Duration::from_millis(2);
const MAX_AGE: Duration = Duration::from_millis(100);
/// A member that handed the connection on and has had no answer after this
/// long commits the group itself: the write it handed to was abandoned
/// before its turn (a cancelled request), so nobody else would. A backstop
/// only, so well above the longest a group stays open ([`MAX_AGE`]) plus a
/// commit: a member that flushed early would only shrink the group.
const FLUSH_AFTER: Duration = Duration::from_millis(500);

/// How long a group may stay open, given the recent commits' mean time.
fn age_cap(mean_commit: Duration) -> Duration {
    (mean_commit * AGE_IN_COMMITS).clamp(MIN_AGE, MAX_AGE)
}

/// The mean commit time, as an exponentially weighted moving average
/// (weight 1/8 for the newest), in microseconds: one fsync on a busy disk
/// moves it a little, a slower disk moves it within a few commits.
#[derive(Debug, Default)]
struct CommitTime(AtomicU64);

impl CommitTime {
    fn record(&self, took: Duration) {
        let took = took.as_micros().min(u128::from(u64::MAX)) as u64;
        let old = self.0.load(Ordering::Relaxed);
        let new = if old == 0 {
            took
        } else {
            old - old / 8 + took / 8
        };
        self.0.store(new, Ordering::Relaxed);
    }

    fn mean(&self) -> Duration {
        Duration::from_micros(self.0.load(Ordering::Relaxed))
    }
}

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
    /// Written only under the slot's lock (by the commits).
    commit_time: Arc<CommitTime>,
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
            commit_time: Arc::new(CommitTime::default()),
        })
    }

    pub(super) fn counts(&self) -> &CommitCounts {
        &self.counts
    }

    /// A write's turn: the connection, in the group's transaction (opened
    /// here if none is), inside a savepoint of the write's own.
    ///
    /// Opening runs on a task of its own, as does every step that changes
    /// the connection's transaction (see [`uncancelled`]): a request
    /// cancelled half-way through a `BEGIN` or a rollback would otherwise
    /// leave the connection in a transaction the group does not know of,
    /// and every later write would fail. A turn opened for a request that
    /// is gone meanwhile is dropped with its savepoint marked open, and the
    /// next holder rolls it back.
    pub(super) async fn turn(&self) -> StoreResult<Turn> {
        let writer = self.clone();
        let slot = uncancelled(async move {
            let mut slot = {
                let _queued = Queued::enter(&writer.queued);
                writer.slot.clone().lock_owned().await
            };
            slot.settle().await;
            match slot.open_write().await {
                Ok(()) => Ok(slot),
                Err(e) => {
                    writer.end_turn(slot).await;
                    Err(e)
                }
            }
        })
        .await??;
        Ok(Turn {
            slot: Some(slot),
            writer: self.clone(),
        })
    }

    /// Ends the holder's turn: commits the group when it is due, then lets
    /// the next write have the connection.
    async fn end_turn(&self, mut slot: OwnedMutexGuard<Slot>) {
        let cap = age_cap(self.commit_time.mean());
        let due = slot.group.as_ref().is_some_and(|g| {
            self.queued.load(Ordering::Acquire) == 0
                || g.members >= MAX_MEMBERS as u64
                || g.opened.elapsed() >= cap
        });
        if due {
            self.commit(&mut slot).await;
        }
    }

    /// Commits the slot's open group, timing the commit.
    async fn commit(&self, slot: &mut Slot) {
        let started = Instant::now();
        if slot.commit_group(&self.counts).await {
            self.commit_time.record(started.elapsed());
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
                    let writer = self.clone();
                    uncancelled(async move {
                        let mut slot = writer.slot.clone().lock_owned().await;
                        if slot.group.as_ref().is_some_and(|g| g.id == id) {
                            slot.settle().await;
                            writer.commit(&mut slot).await;
                        }
                    })
                    .await?;
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

    /// Commits the open group and tells its members the outcome; whether a
    /// group was committed.
    async fn commit_group(&mut self, counts: &CommitCounts) -> bool {
        let Some(g) = self.group.take() else {
            return false;
        };
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
        let committed = outcome.is_ok();
        g.outcome.send_replace(Some(outcome));
        committed
    }
}

/// Runs `work` on a task of its own and waits for it: dropping the waiting
/// future (a cancelled request) does not cut `work` off half-way.
async fn uncancelled<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> StoreResult<T> {
    tokio::spawn(work)
        .await
        .map_err(|e| StoreError::Unavailable(format!("the SQLite writer's task failed: {e}")))
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
            let ending = writer.clone();
            let released = uncancelled(async move {
                let released = slot.release_write().await;
                ending.end_turn(slot).await;
                released
            })
            .await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_may_stay_open_for_a_few_commit_times_within_bounds() {
        let ms = Duration::from_millis;
        assert_eq!(age_cap(ms(12)), ms(48), "a slow fsync: tens of ms");
        assert_eq!(age_cap(ms(1)), MIN_AGE.max(ms(4)));
        assert_eq!(age_cap(Duration::ZERO), MIN_AGE, "no commit measured yet");
        assert_eq!(age_cap(ms(80)), MAX_AGE, "a stalled disk");
        assert!(
            FLUSH_AFTER > MAX_AGE * 2,
            "the backstop must not cut groups"
        );
    }

    #[test]
    fn the_commit_time_follows_the_disk_within_a_few_commits() {
        let t = CommitTime::default();
        t.record(Duration::from_millis(12));
        assert_eq!(
            t.mean(),
            Duration::from_millis(12),
            "the first is taken as is"
        );
        t.record(Duration::from_millis(20));
        assert_eq!(t.mean(), Duration::from_millis(13));
        for _ in 0..40 {
            t.record(Duration::from_millis(2));
        }
        let mean = t.mean();
        assert!(
            mean >= Duration::from_millis(2) && mean < Duration::from_micros(2_100),
            "{mean:?}"
        );
    }
}
