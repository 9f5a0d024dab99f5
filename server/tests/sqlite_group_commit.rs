//! SQLite's group commit (`storage::sqlite`'s `group`): concurrent writes
//! share commits, yet each write keeps its own outcome — a failing or
//! abandoned write is rolled back alone, nothing is answered before its
//! group is durable, and concurrent claims never hand out a job twice.
//! (The conformance suites run every storage rule in both commit modes;
//! `bench`'s fault scenario kills the server mid-group.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::store::*;
use server::storage::sqlite::{CommitMode, SqliteDriver};
use server::storage::{self, Arg, ClaimOutcome, Driver, Exec, RowReader, Store, StoreOptions};
use tokio::sync::Barrier;

/// How a write in the first test ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Committed: its row must be there.
    Committed,
    /// A statement failed after the write had changed a row; the session
    /// was dropped: its row must not be there.
    Failed,
    /// Dropped after changing a row, without an error (a cancelled
    /// request): its row must not be there.
    Abandoned,
}

fn end_of(i: i64) -> End {
    match i % 4 {
        0 => End::Failed,
        1 => End::Abandoned,
        _ => End::Committed,
    }
}

async fn driver(dir: &testkit::TempDir) -> Arc<SqliteDriver> {
    let url = format!("sqlite://{}/group.db", dir.0.display());
    Arc::new(
        SqliteDriver::connect(&url, CommitMode::Group)
            .await
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_or_abandoned_write_is_rolled_back_alone() {
    let dir = testkit::TempDir::new();
    let d = driver(&dir).await;
    let mut s = d.begin().await.unwrap();
    s.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT NOT NULL)",
        &[],
    )
    .await
    .unwrap();
    s.commit().await.unwrap();
    let (commits_before, writes_before) = d.commit_counts().unwrap();

    const WRITES: i64 = 96;
    let start = Arc::new(Barrier::new(WRITES as usize));
    let tasks: Vec<_> = (0..WRITES)
        .map(|i| {
            let (d, start) = (d.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let mut s = d.begin().await.unwrap();
                s.execute(
                    "INSERT INTO t (id, note) VALUES ($1, 'first')",
                    &[Arg::I64(i)],
                )
                .await
                .unwrap();
                // A second statement, so a write spans several statements.
                s.execute("UPDATE t SET note = 'kept' WHERE id = $1", &[Arg::I64(i)])
                    .await
                    .unwrap();
                match end_of(i) {
                    End::Failed => {
                        let again = s
                            .execute(
                                "INSERT INTO t (id, note) VALUES ($1, 'again')",
                                &[Arg::I64(i)],
                            )
                            .await;
                        assert!(again.is_err(), "a duplicate key fails");
                        drop(s);
                    }
                    End::Abandoned => drop(s),
                    End::Committed => s.commit().await.unwrap(),
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }

    // Once the dropped writes' clean-up has run, the rows are exactly the
    // committed writes'.
    let rows = testkit::eventually(
        "the abandoned writes' groups committed",
        std::time::Duration::from_secs(5),
        || {
            let d = d.clone();
            async move {
                let mut r = d.read().await.unwrap();
                let rows = r
                    .fetch_all("SELECT id, note FROM t ORDER BY id", &[])
                    .await
                    .unwrap();
                let rows: Vec<(i64, String)> = rows
                    .iter()
                    .map(|row| (row.i64("id").unwrap(), row.text("note").unwrap()))
                    .collect();
                (rows.len() == (WRITES / 2) as usize).then_some(rows)
            }
        },
    )
    .await;
    let expected: Vec<i64> = (0..WRITES)
        .filter(|i| end_of(*i) == End::Committed)
        .collect();
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), expected);
    assert!(rows.iter().all(|r| r.1 == "kept"), "{rows:?}");

    let (commits, writes) = d.commit_counts().unwrap();
    let (commits, writes) = (commits - commits_before, writes - writes_before);
    assert_eq!(writes, (WRITES / 2) as u64, "only committed writes count");
    assert!(
        commits < writes,
        "concurrent writes shared commits: {writes} writes in {commits} commits"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_alone_commits_at_once() {
    let dir = testkit::TempDir::new();
    let d = driver(&dir).await;
    for i in 0..5 {
        let mut s = d.write().await.unwrap();
        s.execute(
            "INSERT INTO queues (name, updated_at, created_at) VALUES ($1, 0, 0)",
            &[Arg::Text(&format!("q{i}"))],
        )
        .await
        .unwrap();
        let before = d.commit_counts().unwrap();
        s.commit().await.unwrap();
        // Nobody was waiting: the write's own commit, before the answer.
        let after = d.commit_counts().unwrap();
        assert_eq!((after.0 - before.0, after.1 - before.1), (1, 1));
        let mut r = d.read().await.unwrap();
        let seen = r
            .fetch_optional(
                "SELECT name FROM queues WHERE name = $1",
                &[Arg::Text(&format!("q{i}"))],
            )
            .await
            .unwrap();
        assert!(
            seen.is_some(),
            "committed before the answer: readers see it"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_never_hand_out_a_job_twice() {
    let db = testkit::TestDb::sqlite();
    let store: Arc<dyn Store> = storage::connect_with(&db.url, &StoreOptions::default())
        .await
        .unwrap();
    let now = t0();
    const JOBS: usize = 300;
    for _ in 0..JOBS {
        add(&store, &new_job("email", 0, 3), now).await;
    }
    let (commits_before, writes_before) = store.commit_counts().unwrap();
    const CLAIMERS: usize = 24;
    let start = Arc::new(Barrier::new(CLAIMERS));
    let tasks: Vec<_> = (0..CLAIMERS)
        .map(|w| {
            let (store, start) = (store.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let mut got = Vec::new();
                loop {
                    match store.claim(&params(&format!("w{w}"), now)).await.unwrap() {
                        ClaimOutcome::Running { job: Some(j), .. } => got.push(j.id),
                        ClaimOutcome::Running { job: None, .. } => return got,
                        ClaimOutcome::Paused(_) => panic!("not paused"),
                    }
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "a job was handed out twice");
    assert_eq!(all.len(), JOBS, "every job claimed once");
    let (commits, writes) = store.commit_counts().unwrap();
    let (commits, writes) = (commits - commits_before, writes - writes_before);
    assert!(
        commits < writes,
        "the claims shared commits: {writes} writes in {commits} commits"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_mode_commits_every_write_by_itself() {
    let db = testkit::TestDb::sqlite();
    let opts = StoreOptions {
        sqlite_commit: CommitMode::Each,
        ..Default::default()
    };
    let store = storage::connect_with(&db.url, &opts).await.unwrap();
    assert_eq!(store.commit_counts(), None, "no group commit to count");
    add(&store, &new_job("email", 0, 3), t0()).await;
    assert!(claim_job(&store, "w", t0()).await.is_some());
}

/// Heartbeats that arrive together are written together (one statement,
/// one write of the group), each answered with its own worker's row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_heartbeats_are_written_together() {
    let db = testkit::TestDb::sqlite();
    let store: Arc<dyn Store> = storage::connect_with(&db.url, &StoreOptions::default())
        .await
        .unwrap();
    const WORKERS: usize = 64;
    for i in 0..WORKERS {
        store
            .register_worker(&reg(&format!("w{i}"), "b"), t0())
            .await
            .unwrap();
    }
    let (_, writes_before) = store.commit_counts().unwrap();
    let start = Arc::new(Barrier::new(WORKERS));
    let tasks: Vec<_> = (0..WORKERS)
        .map(|i| {
            let (store, start) = (store.clone(), start.clone());
            tokio::spawn(async move {
                let beat = server::domain::WorkerBeat {
                    id: format!("w{i}"),
                    boot_id: "b".into(),
                    state: wire::ReportedState::Running,
                    active_jobs: Vec::new(),
                    offline_backlog: i as u32,
                    applied_version: None,
                };
                start.wait().await;
                store.worker_heartbeat(&beat, t0()).await.unwrap()
            })
        })
        .collect();
    for (i, t) in tasks.into_iter().enumerate() {
        let w = t.await.unwrap();
        assert_eq!((w.id, w.offline_backlog), (format!("w{i}"), i as u32));
    }
    let (_, writes) = store.commit_counts().unwrap();
    let writes = writes - writes_before;
    assert!(
        writes < WORKERS as u64,
        "{WORKERS} heartbeats in {writes} writes: none written together"
    );
}

/// Requests cancelled at any point of their write — waiting for the
/// connection, mid-statement, mid-commit — leave the writer usable: every
/// write that answered `Ok` is stored, and the writer still commits after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_writes_leave_the_writer_usable() {
    // Several rounds: where the cuts land depends on timing.
    for _ in 0..8 {
        cancelled_writes_round().await;
    }
}

async fn cancelled_writes_round() {
    let dir = testkit::TempDir::new();
    let d = driver(&dir).await;
    let mut s = d.begin().await.unwrap();
    s.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)", &[])
        .await
        .unwrap();
    s.commit().await.unwrap();

    const WRITES: i64 = 400;
    let tasks: Vec<_> = (0..WRITES)
        .map(|i| {
            let d = d.clone();
            tokio::spawn(async move {
                // Cut off after 0–399 µs: some before their turn, some in
                // their statement, some while their group commits.
                let cut = std::time::Duration::from_micros((i as u64 * 7919) % 400);
                let write = async {
                    let mut s = d.begin().await?;
                    s.execute("INSERT INTO t (id) VALUES ($1)", &[Arg::I64(i)])
                        .await?;
                    s.commit().await
                };
                matches!(tokio::time::timeout(cut, write).await, Ok(Ok(())))
            })
        })
        .collect();
    let mut acknowledged = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        if t.await.unwrap() {
            acknowledged.push(i as i64);
        }
    }

    // The writer still works: a write after all of them commits.
    let last = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        let mut s = d.begin().await.unwrap();
        s.execute("INSERT INTO t (id) VALUES ($1)", &[Arg::I64(WRITES)])
            .await
            .unwrap();
        s.commit().await
    })
    .await
    .expect("the writer answered");
    last.expect("the writer still commits");
    let mut r = d.read().await.unwrap();
    let stored: HashSet<i64> = r
        .fetch_all("SELECT id FROM t", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.i64("id").unwrap())
        .collect();
    assert!(stored.contains(&WRITES));
    for id in &acknowledged {
        assert!(stored.contains(id), "acknowledged write {id} lost");
    }
}
