//! The storage conformance suite, producers and retention: scheduled jobs,
//! unique keys under concurrent enqueues, batch enqueue (all or nothing),
//! batch complete and fail (each job fenced by its own lease), and the
//! retention of finished jobs — every test on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::sync::Arc;

use chrono::{Duration, Utc};
use common::store::*;
use common::TestDb;
use server::domain::{NewJob, Schedule};
use server::storage::{ClaimOutcome, StoreError};
use uuid::Uuid;
use wire::{Job, JobStatus};

fn unique(key: &str) -> NewJob {
    NewJob {
        unique_key: Some(key.to_string()),
        ..new_job("t", 0, 3)
    }
}

async fn a_scheduled_job_is_not_claimable_before_its_time(db: TestDb) {
    let now = t0();
    let at = now + Duration::seconds(60);
    let later = NewJob {
        schedule: Schedule::At(at),
        ..new_job("t", 9, 3)
    };
    let delayed = NewJob {
        schedule: Schedule::After(30),
        ..new_job("t", 9, 3)
    };
    let job = add(&db.store, &later, now).await;
    assert_eq!(job.run_after, at);
    let d = add(&db.store, &delayed, now).await;
    assert_eq!(d.run_after, now + Duration::seconds(30));
    assert!(
        claim_job(&db.store, "w", now).await.is_none(),
        "not before its time"
    );
    let counts = db.store.live_counts(now, None).await.unwrap();
    assert_eq!((counts.queued, counts.scheduled), (0, 2));
    let listed = db
        .store
        .list_jobs(&jobs_filter(Some("scheduled"), None, 10), now)
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    assert!(db
        .store
        .list_jobs(&jobs_filter(Some("queued"), None, 10), now)
        .await
        .unwrap()
        .is_empty());
    let first = claim_job(&db.store, "w", now + Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(first.id, d.id);
    let second = claim_job(&db.store, "w", at).await.unwrap();
    assert_eq!(second.id, job.id);
}

/// Many enqueues of one key at once (a barrier releases them together):
/// exactly one job is created, and every answer names it.
async fn a_unique_key_under_concurrent_enqueues_makes_one_job(db: TestDb) {
    let now = t0();
    let n = 8;
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (store, barrier) = (db.store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.enqueue(&unique("user:42"), now).await.unwrap()
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let created: Vec<_> = answers.iter().filter(|e| !e.duplicate).collect();
    assert_eq!(created.len(), 1, "{answers:?}");
    let id = created[0].job.id;
    assert!(answers.iter().all(|e| e.job.id == id));
    assert_eq!(db.store.live_counts(now, None).await.unwrap().queued, 1);
    // Held while running too; free once the job finished.
    let job = claim_job(&db.store, "w", now).await.unwrap();
    let again = db.store.enqueue(&unique("user:42"), now).await.unwrap();
    assert!(again.duplicate && again.job.id == id);
    db.store
        .complete(&fence(&job, "w"), None, now)
        .await
        .unwrap();
    let fresh = db.store.enqueue(&unique("user:42"), now).await.unwrap();
    assert!(!fresh.duplicate && fresh.job.id != id);
    assert_eq!(fresh.job.unique_key.as_deref(), Some("user:42"));
    // The finished one cannot be retried while the new one lives.
    db.store.cancel(fresh.job.id, now).await.unwrap();
    let third = db.store.enqueue(&unique("user:42"), now).await.unwrap();
    assert!(!third.duplicate);
    assert!(matches!(
        db.store.retry(fresh.job.id, now).await,
        Err(StoreError::Conflict(m)) if m.contains("uniqueKey")
    ));
    assert_eq!(
        db.store.get_job(fresh.job.id).await.unwrap().status,
        JobStatus::Cancelled
    );
}

async fn a_batch_enqueue_is_all_or_nothing(db: TestDb) {
    let now = t0();
    let good = vec![
        queued_in("a", "t"),
        unique("k1"),
        unique("k1"),
        queued_in("b", "t"),
    ];
    let out = db.store.enqueue_batch(&good, now).await.unwrap();
    assert_eq!(out.len(), 4);
    assert_eq!(
        out.iter().map(|e| e.duplicate).collect::<Vec<_>>(),
        vec![false, false, true, false]
    );
    assert_eq!(out[1].job.id, out[2].job.id, "a key repeated in the batch");
    assert_eq!(out[3].job.queue, "b");
    // The database refuses the third job (an empty queue name gets past no
    // parser, but storage bounds it too): nothing of the batch stays.
    let bad = vec![
        queued_in("c", "t"),
        unique("k2"),
        queued_in("", "t"),
        queued_in("d", "t"),
    ];
    assert!(db.store.enqueue_batch(&bad, now).await.is_err());
    let counts = db.store.live_counts(now, None).await.unwrap();
    assert_eq!(counts.queued, 3, "only the first batch's jobs");
    let names: Vec<String> = db
        .store
        .queue_pauses()
        .await
        .unwrap()
        .into_iter()
        .map(|q| q.name)
        .collect();
    assert!(!names.contains(&"c".to_string()), "{names:?}");
    let k2 = db.store.enqueue(&unique("k2"), now).await.unwrap();
    assert!(!k2.duplicate, "the rolled-back batch left no k2 behind");
}

/// A batch stores each job exactly as a single enqueue of it would (to
/// the microsecond), finds keys that live jobs hold, and answers in order.
async fn a_batch_enqueue_stores_what_single_enqueues_would(db: TestDb) {
    // Microseconds and beyond: the batch must round them as a single
    // enqueue's bound time does.
    let now = Utc::now();
    let at = now + Duration::nanoseconds(90_123_456_789);
    let held = db.store.enqueue(&unique("held"), now).await.unwrap().job;
    let finished = db.store.enqueue(&unique("done"), now).await.unwrap().job;
    db.store.cancel(finished.id, now).await.unwrap();
    let shapes = vec![
        unique("held"),
        NewJob {
            payload: serde_json::Value::Null,
            ..new_job("nothing", 0, 1)
        },
        NewJob {
            schedule: Schedule::At(at),
            priority: 7,
            ..queued_in("q", "later")
        },
        NewJob {
            schedule: Schedule::After(30),
            payload: serde_json::json!({"deep": [1, {"x": "ü"}], "n": 1.5}),
            ..new_job("t", -3, 9)
        },
        unique("done"),
        unique("fresh"),
        unique("fresh"),
    ];
    let out = db.store.enqueue_batch(&shapes, now).await.unwrap();
    assert_eq!(
        out.iter().map(|e| e.duplicate).collect::<Vec<_>>(),
        vec![true, false, false, false, false, false, true]
    );
    assert_eq!(out[0].job.id, held.id, "the live holder of the key");
    assert_eq!(out[6].job.id, out[5].job.id, "the batch's own holder");
    assert_ne!(out[4].job.id, finished.id, "a finished job holds no key");
    // Each created job as a single enqueue of the same shape stores it
    // (another store would not collide: each key is released first).
    for (i, e) in out.iter().enumerate().filter(|(_, e)| !e.duplicate) {
        let stored = db.store.get_job(e.job.id).await.unwrap();
        assert_eq!(stored, e.job, "job {i} answered as stored");
        db.store.cancel(stored.id, now).await.unwrap();
        let single = db.store.enqueue(&shapes[i], now).await.unwrap().job;
        let single = db.store.get_job(single.id).await.unwrap();
        let same = |j: &Job| {
            (
                j.job_type.clone(),
                j.queue.clone(),
                j.payload.clone(),
                j.priority,
                j.max_attempts,
                j.run_after,
                j.unique_key.clone(),
                j.created_at,
            )
        };
        assert_eq!(same(&stored), same(&single), "job {i}");
        assert_eq!(stored.status, JobStatus::Queued);
        assert_eq!(stored.attempts, 0);
    }
}

/// A full-size batch: every job in, in order, each with its own id.
async fn a_thousand_job_batch_answers_every_job_in_order(db: TestDb) {
    let now = t0();
    let jobs: Vec<NewJob> = (0..1000)
        .map(|i| NewJob {
            priority: i,
            ..new_job("t", 0, 3)
        })
        .collect();
    let out = db.store.enqueue_batch(&jobs, now).await.unwrap();
    assert_eq!(out.len(), 1000);
    assert!(out
        .iter()
        .enumerate()
        .all(|(i, e)| e.job.priority == i as i32 && !e.duplicate));
    let ids: std::collections::HashSet<_> = out.iter().map(|e| e.job.id).collect();
    assert_eq!(ids.len(), 1000);
    assert_eq!(db.store.live_counts(now, None).await.unwrap().queued, 1000);
}

async fn a_batch_complete_refuses_only_the_job_whose_lease_was_lost(db: TestDb) {
    let now = t0();
    for _ in 0..4 {
        db.store.enqueue(&new_job("t", 0, 3), now).await.unwrap();
    }
    let jobs = db
        .store
        .claim_many(&params("w", now), 4)
        .await
        .unwrap()
        .jobs;
    assert_eq!(jobs.len(), 4);
    // Job 1's lease is gone (an operator cancelled it).
    db.store.cancel(jobs[1].id, now).await.unwrap();
    let mut unknown = fence(&jobs[0], "w");
    unknown.job_id = Uuid::new_v4();
    let items = vec![
        (fence(&jobs[0], "w"), Some(serde_json::json!({"n": 0}))),
        (fence(&jobs[1], "w"), None),
        (unknown, None),
    ];
    let out = db.store.complete_many(&items, now).await.unwrap();
    assert_eq!(out[0].as_ref().unwrap().status, JobStatus::Succeeded);
    assert!(
        matches!(out[1], Err(StoreError::LeaseLost(_))),
        "{:?}",
        out[1]
    );
    assert!(matches!(out[2], Err(StoreError::NotFound)), "{:?}", out[2]);
    assert_eq!(
        db.store.get_job(jobs[0].id).await.unwrap().result,
        Some(serde_json::json!({"n": 0}))
    );
    assert_eq!(
        db.store.get_job(jobs[1].id).await.unwrap().status,
        JobStatus::Cancelled,
        "the refused one is unchanged"
    );
    // Batch fail: a retry with backoff, a final failure, a lost lease.
    let mut stolen = fence(&jobs[3], "w");
    stolen.lease_token = Uuid::new_v4();
    let items = vec![
        (fence(&jobs[2], "w"), "flaky".to_string(), true),
        (fence(&jobs[3], "w"), "bad input".to_string(), false),
        (stolen, "late".to_string(), true),
    ];
    let out = db.store.fail_many(&items, now).await.unwrap();
    let retried = out[0].as_ref().unwrap();
    assert_eq!(retried.status, JobStatus::Queued);
    assert!(retried.run_after > now, "backoff");
    assert_eq!(out[1].as_ref().unwrap().status, JobStatus::Failed);
    assert!(matches!(out[2], Err(StoreError::LeaseLost(_))));
    assert_eq!(
        db.store.get_job(jobs[3].id).await.unwrap().error.as_deref(),
        Some("bad input"),
        "the refused duplicate did not overwrite it"
    );
}

/// A batch naming a job twice completes it once and refuses the repeat;
/// no result stays no result (not a JSON `null`); a batch of many held
/// jobs completes each with its own result.
async fn a_batch_complete_names_each_job_once(db: TestDb) {
    let now = t0();
    for _ in 0..20 {
        db.store.enqueue(&new_job("t", 0, 3), now).await.unwrap();
    }
    let jobs = db
        .store
        .claim_many(&params("w", now), 20)
        .await
        .unwrap()
        .jobs;
    assert_eq!(jobs.len(), 20);
    let twice = vec![
        (fence(&jobs[0], "w"), None),
        (
            fence(&jobs[0], "w"),
            Some(serde_json::json!({"late": true})),
        ),
    ];
    let out = db.store.complete_many(&twice, now).await.unwrap();
    assert_eq!(out[0].as_ref().unwrap().status, JobStatus::Succeeded);
    assert!(
        matches!(out[1], Err(StoreError::LeaseLost(_))),
        "{:?}",
        out[1]
    );
    assert_eq!(db.store.get_job(jobs[0].id).await.unwrap().result, None);

    let items: Vec<_> = jobs[1..]
        .iter()
        .enumerate()
        .map(|(i, j)| {
            let result = (i % 2 == 0).then(|| serde_json::json!({"n": i}));
            (fence(j, "w"), result)
        })
        .collect();
    let out = db.store.complete_many(&items, now).await.unwrap();
    for (i, (answer, (f, result))) in out.iter().zip(&items).enumerate() {
        let job = answer.as_ref().unwrap();
        assert_eq!(
            (job.id, job.status),
            (f.job_id, JobStatus::Succeeded),
            "{i}"
        );
        assert_eq!(job.lease_token, None);
        let stored = db.store.get_job(f.job_id).await.unwrap();
        assert_eq!(&stored.result, result, "{i}");
        assert_eq!(stored.finished_at, Some(now));
    }
}

/// Finished jobs older than their status's age go, in batches; younger
/// ones and live jobs (however old) stay.
async fn retention_deletes_only_old_enough_finished_jobs(db: TestDb) {
    let now = t0();
    let old = now - Duration::days(10);
    let young = now - Duration::days(1);
    let finished = |at: chrono::DateTime<chrono::Utc>, outcome: &'static str| {
        let store = db.store.clone();
        async move {
            let e = store.enqueue(&new_job("t", 0, 1), at).await.unwrap();
            match outcome {
                "cancelled" => store.cancel(e.job.id, at).await.unwrap(),
                _ => {
                    let j = match store.claim(&params("w", at)).await.unwrap() {
                        ClaimOutcome::Running { job: Some(j), .. } => j,
                        other => panic!("{other:?}"),
                    };
                    if outcome == "failed" {
                        store.fail(&fence(&j, "w"), "x", false, at).await.unwrap()
                    } else {
                        store.complete(&fence(&j, "w"), None, at).await.unwrap()
                    }
                }
            }
        }
    };
    let old_ok = [
        finished(old, "ok").await,
        finished(old, "ok").await,
        finished(old, "ok").await,
    ];
    let young_ok = finished(young, "ok").await;
    let old_failed = finished(old, "failed").await;
    let old_cancelled = finished(old, "cancelled").await;
    // Live and ancient: enqueued long ago, never run.
    let live = add(&db.store, &new_job("t", 0, 3), old).await;
    let week = now - Duration::days(7);
    assert_eq!(
        db.store.prune_jobs("succeeded", week, 2).await.unwrap(),
        Some(2)
    );
    assert_eq!(
        db.store.prune_jobs("succeeded", week, 2).await.unwrap(),
        Some(1)
    );
    assert_eq!(
        db.store.prune_jobs("succeeded", week, 2).await.unwrap(),
        Some(0)
    );
    assert_eq!(
        db.store
            .prune_jobs("failed", now - Duration::days(30), 10)
            .await
            .unwrap(),
        Some(0)
    );
    assert_eq!(
        db.store.prune_jobs("cancelled", week, 10).await.unwrap(),
        Some(1)
    );
    // A live status is never pruned, whatever it is asked for.
    assert_eq!(
        db.store.prune_jobs("queued", now, 10).await.unwrap(),
        Some(0)
    );
    for gone in old_ok.iter().chain([&old_cancelled]) {
        assert!(matches!(
            db.store.get_job(gone.id).await,
            Err(StoreError::NotFound)
        ));
    }
    for kept in [&young_ok, &old_failed, &live] {
        db.store.get_job(kept.id).await.unwrap();
    }
    // Control events only when asked: a pause event older than the cutoff.
    db.store
        .transition_pause(&pause_drain(), "ops", old)
        .await
        .unwrap();
    assert_eq!(db.store.prune_events(week, 10).await.unwrap(), Some(1));
    assert!(db.store.list_events(10, None).await.unwrap().is_empty());
}

/// PostgreSQL: while another process holds the retention lock, a pruning
/// batch deletes nothing and says so (SQLite has one process).
async fn retention_runs_on_one_process_at_a_time(db: TestDb) {
    let now = t0();
    let e = db.store.enqueue(&new_job("t", 0, 3), now).await.unwrap();
    db.store.cancel(e.job.id, now).await.unwrap();
    let later = now + Duration::days(8);
    if db.store.backend() != "postgres" {
        assert_eq!(
            db.store.prune_jobs("cancelled", later, 10).await.unwrap(),
            Some(1)
        );
        return;
    }
    use sqlx::Connection;
    let mut other = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let mut tx = sqlx::Connection::begin(&mut other).await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock(7120130001)")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        db.store.prune_jobs("cancelled", later, 10).await.unwrap(),
        None
    );
    assert_eq!(db.store.prune_events(later, 10).await.unwrap(), None);
    tx.rollback().await.unwrap();
    assert_eq!(
        db.store.prune_jobs("cancelled", later, 10).await.unwrap(),
        Some(1)
    );
}

on_every_store!(
    a_scheduled_job_is_not_claimable_before_its_time,
    a_unique_key_under_concurrent_enqueues_makes_one_job,
    a_batch_enqueue_is_all_or_nothing,
    a_batch_enqueue_stores_what_single_enqueues_would,
    a_thousand_job_batch_answers_every_job_in_order,
    a_batch_complete_refuses_only_the_job_whose_lease_was_lost,
    a_batch_complete_names_each_job_once,
    retention_deletes_only_old_enough_finished_jobs,
    retention_runs_on_one_process_at_a_time,
);
