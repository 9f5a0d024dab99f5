//! The storage conformance suite, named queues: claims that name their
//! queues, a queue's pause and resume (its row, version and audit event),
//! the per-queue guarantee under concurrent claims, a pause of a queue that
//! has no jobs yet, and the queue list — every test on SQLite and
//! PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::Duration;
use common::store::*;
use common::TestDb;
use server::domain::PauseCommand;
use server::storage::{ClaimOutcome, ClaimParams, StoreError};
use wire::{JobStatus, PauseMode};

fn in_queues(worker: &str, queues: &[&str], now: chrono::DateTime<chrono::Utc>) -> ClaimParams {
    ClaimParams {
        queues: Some(queues.iter().map(|q| q.to_string()).collect()),
        ..params(worker, now)
    }
}

async fn claimed(db: &TestDb, p: &ClaimParams) -> Option<wire::Job> {
    match db.store.claim(p).await.unwrap() {
        ClaimOutcome::Running { job, .. } => job,
        ClaimOutcome::Paused(_) => panic!("the fleet is not paused"),
    }
}

fn queue_cmd(json: serde_json::Value) -> PauseCommand {
    cmd(json)
}

fn pause_q() -> PauseCommand {
    queue_cmd(serde_json::json!({"action": "pause", "mode": "drain", "reason": "provider down"}))
}

fn resume_q() -> PauseCommand {
    queue_cmd(serde_json::json!({"action": "resume", "reason": "provider back"}))
}

async fn a_claim_takes_only_from_the_queues_it_names(db: TestDb) {
    let now = t0();
    let a = add(&db.store, &queued_in("a", "t"), now).await;
    let b = add(&db.store, &queued_in("b", "t"), now).await;
    assert_eq!((a.queue.as_str(), b.queue.as_str()), ("a", "b"));
    assert!(claimed(&db, &in_queues("w", &["c"], now)).await.is_none());
    let got = claimed(&db, &in_queues("w", &["b", "c"], now))
        .await
        .unwrap();
    assert_eq!(got.id, b.id);
    let rest = claimed(&db, &params("w", now)).await.unwrap();
    assert_eq!((rest.id, rest.queue.as_str()), (a.id, "a"));
    // The batch claim honours the filter too.
    for q in ["a", "b", "b"] {
        db.store.enqueue(&queued_in(q, "t"), now).await.unwrap();
    }
    let many = db
        .store
        .claim_many(&in_queues("w", &["b"], now), 10)
        .await
        .unwrap();
    assert_eq!(many.jobs.len(), 2);
    assert!(many.jobs.iter().all(|j| j.queue == "b"));
}

async fn a_paused_queue_hands_out_nothing_until_resumed(db: TestDb) {
    let now = t0();
    let a = add(&db.store, &queued_in("a", "t"), now).await;
    let second = add(&db.store, &queued_in("a", "t"), now).await;
    let first = claimed(&db, &in_queues("w0", &["a"], now)).await.unwrap();
    assert_eq!(first.id, a.id, "claimed before the pause");
    let b = add(&db.store, &queued_in("b", "t"), now).await;
    let out = db
        .store
        .transition_queue_pause("a", &pause_q(), "ops", now)
        .await
        .unwrap();
    assert_eq!((out.state.workers_paused, out.state.version), (true, 2));
    assert_eq!(out.state.mode, Some(PauseMode::Drain));
    let ev = out.event.expect("an audit event");
    assert_eq!(
        (
            ev.action.as_str(),
            ev.queue.as_deref(),
            ev.version,
            ev.actor.as_str()
        ),
        ("queue.pause", Some("a"), 2, "ops")
    );
    assert_eq!(
        (ev.metrics.queued, ev.metrics.running, ev.metrics.is_drained),
        (1, 1, false),
        "that queue's metrics, not the fleet's"
    );
    assert_eq!(db.store.list_events(1, None).await.unwrap()[0], ev);
    // Every kind of claim skips queue a; queue b goes on.
    assert!(claimed(&db, &in_queues("w1", &["a"], now)).await.is_none());
    let any = claimed(&db, &params("w1", now)).await.unwrap();
    assert_eq!(any.id, b.id);
    let many = db.store.claim_many(&params("w2", now), 10).await.unwrap();
    assert!(many.jobs.is_empty(), "{:?}", many.jobs);
    // Same pause again: no change; a resume brings the job back.
    let again = db
        .store
        .transition_queue_pause("a", &pause_q(), "ops", now)
        .await
        .unwrap();
    assert!(again.event.is_none() && again.state.version == 2);
    let resumed = db
        .store
        .transition_queue_pause("a", &resume_q(), "ops", now)
        .await
        .unwrap();
    assert!(!resumed.state.workers_paused);
    let ev = resumed.event.unwrap();
    assert_eq!((ev.action.as_str(), ev.version), ("queue.resume", 3));
    assert!(ev.force_resume, "resumed while its job still ran");
    assert!(resumed.warning.unwrap().contains("queue a"));
    let next = claimed(&db, &in_queues("w1", &["a"], now)).await.unwrap();
    assert_eq!(next.id, second.id);
}

async fn a_queue_pause_applies_to_jobs_enqueued_later(db: TestDb) {
    let now = t0();
    assert_eq!(
        db.store.queue_pause("later", now).await.unwrap().version,
        1,
        "a queue never seen is running at version 1"
    );
    let out = db
        .store
        .transition_queue_pause("later", &pause_q(), "ops", now)
        .await
        .unwrap();
    assert_eq!(out.state.version, 2);
    db.store
        .enqueue(&queued_in("later", "t"), now)
        .await
        .unwrap();
    assert!(claimed(&db, &params("w", now)).await.is_none());
    let listed = db.store.list_queues(now).await.unwrap();
    let later = listed.iter().find(|q| q.pause.name == "later").unwrap();
    assert!(later.pause.state.workers_paused);
    assert_eq!(later.counts.queued, 1);
    // A resume of a queue that was never paused changes (and writes) nothing.
    let noop = db
        .store
        .transition_queue_pause("never", &resume_q(), "ops", now)
        .await
        .unwrap();
    assert!(noop.event.is_none());
    assert!(db
        .store
        .queue_pauses()
        .await
        .unwrap()
        .iter()
        .all(|q| q.name != "never"));
}

async fn a_queue_version_conflict_changes_nothing(db: TestDb) {
    let now = t0();
    let c = queue_cmd(serde_json::json!(
        {"action": "pause", "mode": "drain", "reason": "x", "expectedVersion": 3}
    ));
    match db.store.transition_queue_pause("q", &c, "ops", now).await {
        Err(StoreError::VersionConflict { expected, current }) => {
            assert_eq!((expected, current.version), (3, 1));
        }
        other => panic!("expected a version conflict, got {other:?}"),
    }
    assert_eq!(db.store.queue_pause("q", now).await.unwrap().version, 1);
    assert!(db.store.list_events(10, None).await.unwrap().is_empty());
}

async fn a_paused_queues_expired_leases_wait_for_its_resume(db: TestDb) {
    let now = t0();
    db.store.enqueue(&queued_in("a", "t"), now).await.unwrap();
    let stale = claimed(&db, &params("w", now)).await.unwrap();
    db.store.enqueue(&queued_in("b", "t"), now).await.unwrap();
    db.store
        .transition_queue_pause("a", &pause_q(), "ops", now)
        .await
        .unwrap();
    let later = now + Duration::seconds(120);
    let got = claimed(&db, &params("w2", later)).await.unwrap();
    assert_eq!(got.queue, "b");
    assert_eq!(
        db.store.get_job(stale.id).await.unwrap().status,
        JobStatus::Running,
        "kept as staleRunning while its queue is paused"
    );
    let counts = db.store.live_counts(later, Some("a")).await.unwrap();
    assert_eq!((counts.running, counts.stale_running), (0, 1));
    db.store
        .transition_queue_pause("a", &resume_q(), "ops", later)
        .await
        .unwrap();
    let back = claimed(&db, &params("w3", later)).await.unwrap();
    assert_eq!(
        (back.id, back.attempts),
        (stale.id, 2),
        "requeued, then claimed"
    );
}

/// The per-queue guarantee, in storage: claims that start after a queue
/// pause has returned get no job of that queue, while claims run
/// concurrently with it; the other queue keeps handing out jobs.
async fn claims_after_a_queue_pause_returns_get_nothing_of_it(db: TestDb) {
    let now = t0();
    for i in 0..300 {
        let q = if i % 2 == 0 { "a" } else { "b" };
        db.store.enqueue(&queued_in(q, "t"), now).await.unwrap();
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(5));
    let paused = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..4 {
        let (store, barrier, paused) = (db.store.clone(), barrier.clone(), paused.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let (mut violations, mut b_after) = (0, 0);
            for i in 0..40 {
                let after = paused.load(Ordering::SeqCst);
                let p = params(&format!("w{w}"), now);
                let jobs = if i % 2 == 0 {
                    match store.claim(&p).await.unwrap() {
                        ClaimOutcome::Running { job, .. } => job.into_iter().collect(),
                        ClaimOutcome::Paused(_) => Vec::new(),
                    }
                } else {
                    store.claim_many(&p, 3).await.unwrap().jobs
                };
                violations += jobs.iter().filter(|j| after && j.queue == "a").count();
                b_after += jobs.iter().filter(|j| after && j.queue == "b").count();
            }
            (violations, b_after)
        }));
    }
    barrier.wait().await;
    tokio::task::yield_now().await;
    db.store
        .transition_queue_pause("a", &pause_q(), "ops", now)
        .await
        .unwrap();
    paused.store(true, Ordering::SeqCst);
    let (mut violations, mut b_after) = (0, 0);
    for t in tasks {
        let (v, b) = t.await.unwrap();
        violations += v;
        b_after += b;
    }
    assert_eq!(
        violations, 0,
        "a claim started after the queue pause got one of its jobs"
    );
    assert!(b_after > 0, "the other queue kept going");
}

async fn the_queue_list_shows_queues_with_jobs_or_a_pause(db: TestDb) {
    let now = t0();
    db.store
        .enqueue(&queued_in("emails", "t"), now)
        .await
        .unwrap();
    db.store
        .enqueue(&queued_in("emails", "t"), now)
        .await
        .unwrap();
    db.store
        .transition_queue_pause("reports", &pause_q(), "ops", now)
        .await
        .unwrap();
    claimed(&db, &in_queues("w", &["emails"], now))
        .await
        .unwrap();
    let list = db.store.list_queues(now).await.unwrap();
    let names: Vec<&str> = list.iter().map(|q| q.pause.name.as_str()).collect();
    assert_eq!(names, vec!["emails", "reports"], "default has no jobs here");
    assert_eq!((list[0].counts.queued, list[0].counts.running), (1, 1));
    assert!(!list[0].pause.state.workers_paused);
    assert!(list[1].pause.state.workers_paused);
    assert_eq!(list[1].pause.state.requested_by.as_deref(), Some("ops"));
    // Jobs listed by queue.
    let emails = db
        .store
        .list_jobs(&jobs_filter(None, Some("emails"), 10), now)
        .await
        .unwrap();
    assert_eq!(emails.len(), 2);
    assert!(db
        .store
        .list_jobs(&jobs_filter(None, Some("reports"), 10), now)
        .await
        .unwrap()
        .is_empty());
}

/// Backends of this database waiting for a lock (PostgreSQL).
async fn lock_waiters(url: &str) -> i64 {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .fetch_one(&mut c)
    .await
    .unwrap()
}

/// PostgreSQL, the locks themselves: a claim that starts while a queue
/// pause is being written waits for it and then hands out nothing of that
/// queue (on the one-statement path and on the transaction path); a queue
/// pause waits for a claim holding the queue's row. SQLite has one writer.
async fn claims_and_queue_pauses_wait_for_each_other(db: TestDb) {
    if db.store.backend() != "postgres" {
        return;
    }
    use sqlx::Connection;
    let now = t0();
    db.store.enqueue(&queued_in("a", "t"), now).await.unwrap();
    for expired_lease_elsewhere in [false, true] {
        if expired_lease_elsewhere {
            // A stale lease in queue b sends the claim down the transaction path.
            db.store.enqueue(&queued_in("b", "t"), now).await.unwrap();
            claimed(&db, &in_queues("w", &["b"], now)).await.unwrap();
        }
        let later = now + Duration::seconds(60);
        let mut pauser = sqlx::PgConnection::connect(&db.url).await.unwrap();
        let mut tx = sqlx::Connection::begin(&mut pauser).await.unwrap();
        sqlx::query("SELECT name FROM queues WHERE name = 'a' FOR UPDATE")
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query("UPDATE queues SET paused = TRUE, mode = 'drain', version = version + 1 WHERE name = 'a'")
            .execute(&mut *tx)
            .await
            .unwrap();
        let claim = {
            let store = db.store.clone();
            tokio::spawn(async move { store.claim(&in_queues("w2", &["a"], later)).await })
        };
        testkit::eventually(
            "the claim to wait for the pause",
            std::time::Duration::from_secs(10),
            || async { (lock_waiters(&db.url).await >= 1).then_some(()) },
        )
        .await;
        assert!(!claim.is_finished());
        tx.commit().await.unwrap();
        match claim.await.unwrap().unwrap() {
            ClaimOutcome::Running { job, .. } => {
                assert!(job.is_none(), "{job:?} handed out after the pause")
            }
            other => panic!("{other:?}"),
        }
        db.store
            .transition_queue_pause("a", &resume_q(), "ops", later)
            .await
            .unwrap();
    }
    // The other way round: a claim holding queue a's row (FOR SHARE, as a
    // claim in flight does) makes the pause wait until it ends.
    let mut claimer = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let mut tx = sqlx::Connection::begin(&mut claimer).await.unwrap();
    sqlx::query("SELECT paused FROM queues WHERE name = 'a' FOR SHARE")
        .execute(&mut *tx)
        .await
        .unwrap();
    let pause = {
        let store = db.store.clone();
        tokio::spawn(async move {
            store
                .transition_queue_pause("a", &pause_q(), "ops", now)
                .await
        })
    };
    testkit::eventually(
        "the pause to wait for the claim",
        std::time::Duration::from_secs(10),
        || async { (lock_waiters(&db.url).await >= 1).then_some(()) },
    )
    .await;
    assert!(!pause.is_finished());
    tx.commit().await.unwrap();
    assert!(pause.await.unwrap().unwrap().state.workers_paused);
}

/// Types and queues together: one type (an equality on PostgreSQL, read
/// through `jobs_claimable_type`) or several (`= ANY`), with and without a
/// queue list, in single and batch claims — each claim takes exactly the
/// jobs of its types in its queues, in claim order.
async fn claims_filter_by_one_or_several_types_and_queues(db: TestDb) {
    let now = t0();
    let mut ids = std::collections::HashMap::new();
    for (i, (queue, ty)) in [
        ("q1", "a"),
        ("q1", "b"),
        ("q1", "c"),
        ("q2", "a"),
        ("q2", "b"),
        ("q1", "a"),
    ]
    .into_iter()
    .enumerate()
    {
        let at = now + Duration::milliseconds(i as i64);
        let job = db
            .store
            .enqueue(&queued_in(queue, ty), at)
            .await
            .unwrap()
            .job;
        ids.insert(job.id, format!("{queue}/{ty}/{i}"));
    }
    let later = now + Duration::seconds(1);
    let typed = |types: &[&str], queues: Option<&[&str]>| ClaimParams {
        types: Some(types.iter().map(|t| t.to_string()).collect()),
        queues: queues.map(|q| q.iter().map(|q| q.to_string()).collect()),
        ..params("w", later)
    };
    let names =
        |jobs: Vec<wire::Job>| -> Vec<String> { jobs.iter().map(|j| ids[&j.id].clone()).collect() };
    let batch = |p: ClaimParams, n: u32| {
        let store = db.store.clone();
        async move { store.claim_many(&p, n).await.unwrap().jobs }
    };
    // One type, one queue: the oldest `a` of q1 only.
    let one = claimed(&db, &typed(&["a"], Some(&["q1"]))).await.unwrap();
    assert_eq!(ids[&one.id], "q1/a/0");
    // One type, any queue, a batch: the remaining `a`s in claim order.
    assert_eq!(
        names(batch(typed(&["a"], None), 10).await),
        ["q2/a/3", "q1/a/5"]
    );
    // Several types in one queue.
    assert_eq!(
        names(batch(typed(&["b", "c"], Some(&["q1"])), 10).await),
        ["q1/b/1", "q1/c/2"]
    );
    // Several types, any queue: what is left of them.
    assert_eq!(names(batch(typed(&["a", "b"], None), 10).await), ["q2/b/4"]);
    assert!(claimed(&db, &typed(&["a"], None)).await.is_none());
}

on_every_store!(
    claims_filter_by_one_or_several_types_and_queues,
    claims_and_queue_pauses_wait_for_each_other,
    a_claim_takes_only_from_the_queues_it_names,
    a_paused_queue_hands_out_nothing_until_resumed,
    a_queue_pause_applies_to_jobs_enqueued_later,
    a_queue_version_conflict_changes_nothing,
    a_paused_queues_expired_leases_wait_for_its_resume,
    claims_after_a_queue_pause_returns_get_nothing_of_it,
    the_queue_list_shows_queues_with_jobs_or_a_pause,
);
