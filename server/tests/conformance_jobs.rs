//! The storage conformance suite, queue side: enqueue, claims with their
//! lease requeue, heartbeats, complete/fail fenced by the lease, cancel and
//! retry, listings — every test on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::sync::Arc;

use chrono::Duration;
use common::store::*;
use common::TestDb;
use server::storage::{ClaimOutcome, Fence, StoreError};
use wire::JobStatus;

async fn enqueue_claim_complete_round_trip(db: TestDb) {
    let now = t0();
    let job = db
        .store
        .enqueue(&new_job("email", 0, 3), now)
        .await
        .unwrap()
        .job;
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.payload, serde_json::json!({"n": 1, "s": "x"}));
    let claimed = claim_job(&db.store, "w1", now).await.expect("a job");
    assert_eq!(claimed.id, job.id);
    assert_eq!(claimed.status, JobStatus::Running);
    assert_eq!(claimed.attempts, 1);
    assert_eq!(claimed.worker_id.as_deref(), Some("w1"));
    assert_eq!(claimed.lease_expires_at, Some(now + Duration::seconds(30)));
    assert!(
        claim_job(&db.store, "w2", now).await.is_none(),
        "only one job"
    );
    let done = db
        .store
        .complete(
            &fence(&claimed, "w1"),
            Some(serde_json::json!({"ok": true})),
            now,
        )
        .await
        .unwrap();
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(done.result, Some(serde_json::json!({"ok": true})));
    assert_eq!(done.finished_at, Some(now));
    let got = db.store.get_job(job.id).await.unwrap();
    assert_eq!(got.status, JobStatus::Succeeded);
    assert_eq!(
        got.lease_token, None,
        "listings never expose the lease token"
    );
}

async fn claims_follow_priority_then_age_and_respect_types(db: TestDb) {
    let now = t0();
    let low = db
        .store
        .enqueue(&new_job("a", 0, 3), now)
        .await
        .unwrap()
        .job;
    let high = db
        .store
        .enqueue(&new_job("a", 5, 3), now + Duration::milliseconds(1))
        .await
        .unwrap()
        .job;
    let other = db
        .store
        .enqueue(&new_job("b", 9, 3), now + Duration::milliseconds(2))
        .await
        .unwrap()
        .job;
    let mut p = params("w", now + Duration::seconds(1));
    p.types = Some(vec!["a".into()]);
    let first = match db.store.claim(&p).await.unwrap() {
        ClaimOutcome::Running { job, .. } => job.unwrap(),
        _ => panic!(),
    };
    assert_eq!(first.id, high.id);
    let second = match db.store.claim(&p).await.unwrap() {
        ClaimOutcome::Running { job, .. } => job.unwrap(),
        _ => panic!(),
    };
    assert_eq!(second.id, low.id);
    let none = match db.store.claim(&p).await.unwrap() {
        ClaimOutcome::Running { job, .. } => job,
        _ => panic!(),
    };
    assert!(
        none.is_none(),
        "type b is not claimed by a worker asking for a"
    );
    let any = claim_job(&db.store, "w", now + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(any.id, other.id);
}

async fn claim_while_paused_claims_and_requeues_nothing(db: TestDb) {
    let now = t0();
    db.store.enqueue(&new_job("a", 0, 3), now).await.unwrap();
    let stale = claim_job(&db.store, "w1", now).await.unwrap();
    db.store.enqueue(&new_job("a", 0, 3), now).await.unwrap();
    db.store
        .transition_pause(&pause_drain(), "a", now)
        .await
        .unwrap();
    let later = now + Duration::seconds(120);
    match db.store.claim(&params("w2", later)).await.unwrap() {
        ClaimOutcome::Paused(s) => assert!(s.workers_paused),
        other => panic!("expected Paused, got {other:?}"),
    }
    let j = db.store.get_job(stale.id).await.unwrap();
    assert_eq!(
        j.status,
        JobStatus::Running,
        "expired lease not requeued while paused"
    );
    let counts = db.store.job_counts(later).await.unwrap();
    assert_eq!(
        (counts.queued, counts.running, counts.stale_running),
        (1, 0, 1)
    );
    assert!(!counts.drain_metrics().is_drained);
}

async fn expired_leases_are_requeued_before_a_claim(db: TestDb) {
    let now = t0();
    let job = db
        .store
        .enqueue(&new_job("a", 0, 3), now)
        .await
        .unwrap()
        .job;
    let first = claim_job(&db.store, "w1", now).await.unwrap();
    let later = now + Duration::seconds(31);
    match db.store.claim(&params("w2", later)).await.unwrap() {
        ClaimOutcome::Running {
            job: Some(j),
            requeued,
            ..
        } => {
            assert_eq!(j.id, job.id);
            assert_eq!(j.attempts, 2);
            assert_eq!(j.worker_id.as_deref(), Some("w2"));
            assert_ne!(
                j.lease_token, first.lease_token,
                "a new claim gets a new fencing token"
            );
            assert_eq!(requeued, 1);
        }
        other => panic!("expected the requeued job, got {other:?}"),
    }
}

async fn expired_lease_on_final_attempt_fails_the_job(db: TestDb) {
    let now = t0();
    let job = db
        .store
        .enqueue(&new_job("a", 0, 1), now)
        .await
        .unwrap()
        .job;
    claim_job(&db.store, "w1", now).await.unwrap();
    assert!(claim_job(&db.store, "w2", now + Duration::seconds(31))
        .await
        .is_none());
    let j = db.store.get_job(job.id).await.unwrap();
    assert_eq!(j.status, JobStatus::Failed);
    assert!(j.error.unwrap().contains("lease expired"));
}

async fn heartbeat_extends_the_lease_and_records_checkpoint(db: TestDb) {
    let now = t0();
    db.store.enqueue(&new_job("a", 0, 3), now).await.unwrap();
    let job = claim_job(&db.store, "w1", now).await.unwrap();
    let later = now + Duration::seconds(20);
    let (hb, _) = db
        .store
        .heartbeat(&fence(&job, "w1"), None, Some(true), later)
        .await
        .unwrap();
    assert_eq!(hb.lease_expires_at, Some(later + Duration::seconds(30)));
    assert!(hb.paused_at_checkpoint);
    let (hb, _) = db
        .store
        .heartbeat(&fence(&job, "w1"), Some(60), None, later)
        .await
        .unwrap();
    assert_eq!(hb.lease_expires_at, Some(later + Duration::seconds(60)));
    assert!(hb.paused_at_checkpoint, "absent flag keeps the last report");
    // A stale (expired but not requeued) lease may be revived by its holder.
    let stale_at = later + Duration::seconds(90);
    assert_eq!(
        db.store.job_counts(stale_at).await.unwrap().stale_running,
        1
    );
    db.store
        .heartbeat(&fence(&job, "w1"), None, Some(false), stale_at)
        .await
        .unwrap();
    assert_eq!(db.store.job_counts(stale_at).await.unwrap().running, 1);
}

async fn late_calls_from_a_worker_that_lost_its_lease_are_refused(db: TestDb) {
    let now = t0();
    db.store.enqueue(&new_job("a", 0, 3), now).await.unwrap();
    let old = claim_job(&db.store, "w1", now).await.unwrap();
    let later = now + Duration::seconds(31);
    let new = claim_job(&db.store, "w2", later).await.unwrap();
    assert_eq!(old.id, new.id);
    let before = db.store.get_job(old.id).await.unwrap();
    for result in [
        db.store
            .heartbeat(&fence(&old, "w1"), None, None, later)
            .await
            .map(|_| ()),
        db.store
            .complete(&fence(&old, "w1"), None, later)
            .await
            .map(|_| ()),
        db.store
            .fail(&fence(&old, "w1"), "boom", true, later)
            .await
            .map(|_| ()),
        // Right worker name, stale token: still refused.
        db.store
            .complete(&fence(&old, "w2"), None, later)
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(StoreError::LeaseLost(_))),
            "{result:?}"
        );
    }
    assert_eq!(
        db.store.get_job(old.id).await.unwrap(),
        before,
        "nothing changed"
    );
    db.store
        .complete(&fence(&new, "w2"), None, later)
        .await
        .unwrap();
}

async fn failures_retry_with_backoff_then_fail_for_good(db: TestDb) {
    let now = t0();
    let job = db
        .store
        .enqueue(&new_job("a", 0, 2), now)
        .await
        .unwrap()
        .job;
    let c1 = claim_job(&db.store, "w", now).await.unwrap();
    let f1 = db
        .store
        .fail(&fence(&c1, "w"), "boom", true, now)
        .await
        .unwrap();
    assert_eq!(f1.status, JobStatus::Queued);
    assert_eq!(f1.run_after, now + Duration::seconds(1));
    assert_eq!(f1.error.as_deref(), Some("boom"));
    assert!(
        claim_job(&db.store, "w", now).await.is_none(),
        "not before its backoff"
    );
    let c2 = claim_job(&db.store, "w", now + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(c2.id, job.id);
    let f2 = db
        .store
        .fail(&fence(&c2, "w"), "boom again", true, now)
        .await
        .unwrap();
    assert_eq!(f2.status, JobStatus::Failed);
    assert_eq!(f2.attempts, 2);
    // Not retryable: fails at once.
    let j2 = db
        .store
        .enqueue(&new_job("b", 0, 5), now)
        .await
        .unwrap()
        .job;
    let c3 = claim_job(&db.store, "w", now + Duration::seconds(5))
        .await
        .unwrap();
    assert_eq!(c3.id, j2.id);
    let f3 = db
        .store
        .fail(&fence(&c3, "w"), "bad input", false, now)
        .await
        .unwrap();
    assert_eq!(f3.status, JobStatus::Failed);
}

async fn cancel_and_retry_follow_the_job_state(db: TestDb) {
    let now = t0();
    let queued = db
        .store
        .enqueue(&new_job("a", 0, 3), now)
        .await
        .unwrap()
        .job;
    let c = db.store.cancel(queued.id, now).await.unwrap();
    assert_eq!(c.status, JobStatus::Cancelled);
    assert!(matches!(
        db.store.cancel(queued.id, now).await,
        Err(StoreError::Conflict(_))
    ));
    let r = db.store.retry(queued.id, now).await.unwrap();
    assert_eq!((r.status, r.attempts), (JobStatus::Queued, 0));
    let running = claim_job(&db.store, "w", now).await.unwrap();
    assert!(matches!(
        db.store.retry(running.id, now).await,
        Err(StoreError::Conflict(_))
    ));
    db.store.cancel(running.id, now).await.unwrap();
    // The cancelled job's worker learns at its next heartbeat.
    assert!(matches!(
        db.store
            .heartbeat(&fence(&running, "w"), None, None, now)
            .await,
        Err(StoreError::LeaseLost(_))
    ));
}

async fn unknown_jobs_are_not_found(db: TestDb) {
    let id = uuid::Uuid::new_v4();
    let f = Fence {
        job_id: id,
        worker_id: "w".into(),
        lease_token: uuid::Uuid::new_v4(),
    };
    let now = t0();
    assert!(matches!(
        db.store.get_job(id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        db.store.cancel(id, now).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        db.store.retry(id, now).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        db.store.heartbeat(&f, None, None, now).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        db.store.complete(&f, None, now).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        db.store.fail(&f, "x", true, now).await,
        Err(StoreError::NotFound)
    ));
}

async fn listing_filters_by_status_and_counts_dispatches(db: TestDb) {
    let now = t0();
    for _ in 0..3 {
        db.store.enqueue(&new_job("a", 0, 3), now).await.unwrap();
    }
    claim_job(&db.store, "w", now + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(
        db.store
            .list_jobs(&jobs_filter(Some("queued"), None, 10), now)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        db.store
            .list_jobs(&jobs_filter(Some("running"), None, 10), now)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        db.store
            .list_jobs(&jobs_filter(None, None, 2), now)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(db.store.running_jobs(10).await.unwrap().len(), 1);
    assert_eq!(db.store.dispatches_since(now).await.unwrap(), 1);
    assert_eq!(
        db.store
            .dispatches_since(now + Duration::seconds(2))
            .await
            .unwrap(),
        0
    );
}

/// A listing reads payloads and results only when asked for; every other
/// column is the same either way.
async fn listing_reads_payloads_only_when_asked(db: TestDb) {
    let now = t0();
    db.store.enqueue(&new_job("a", 0, 3), now).await.unwrap();
    let claimed = claim_job(&db.store, "w", now).await.unwrap();
    let result = serde_json::json!({"ok": true});
    let done = db
        .store
        .complete(&fence(&claimed, "w"), Some(result.clone()), now)
        .await
        .unwrap();
    let mut with = jobs_filter(None, None, 10);
    with.include_payload = true;
    let full = db.store.list_jobs(&with, now).await.unwrap();
    assert_eq!(full, std::slice::from_ref(&done));
    assert_eq!(full[0].payload, serde_json::json!({"n": 1, "s": "x"}));
    assert_eq!(full[0].result, Some(result));
    let lean = db
        .store
        .list_jobs(&jobs_filter(None, None, 10), now)
        .await
        .unwrap();
    let without = wire::Job {
        payload: serde_json::Value::Null,
        result: None,
        ..done
    };
    assert_eq!(lean, [without]);
}

/// Many claimers at once: every job is handed out exactly once.
async fn concurrent_claims_never_hand_out_a_job_twice(db: TestDb) {
    let now = t0();
    for _ in 0..40 {
        db.store.enqueue(&new_job("a", 0, 3), now).await.unwrap();
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(8));
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = db.store.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut got = Vec::new();
            while let Some(j) = claim_job(&store, &format!("w{w}"), now).await {
                got.push(j.id);
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!((n, all.len()), (40, 40));
}

/// The claim transaction (taken when a lease has expired) filters by type
/// as the one-statement claim does.
async fn a_claim_that_requeues_first_still_respects_the_types(db: TestDb) {
    let now = t0();
    let a = db
        .store
        .enqueue(&new_job("a", 0, 3), now)
        .await
        .unwrap()
        .job;
    claim_job(&db.store, "w1", now).await.unwrap();
    let b = db
        .store
        .enqueue(&new_job("b", 0, 3), now)
        .await
        .unwrap()
        .job;
    let later = now + Duration::seconds(31);
    let mut p = params("w2", later);
    p.types = Some(vec!["b".into()]);
    match db.store.claim(&p).await.unwrap() {
        ClaimOutcome::Running {
            job: Some(j),
            requeued,
            ..
        } => assert_eq!((j.id, requeued), (b.id, 1)),
        other => panic!("expected job b, got {other:?}"),
    }
    p.types = Some(vec!["a".into()]);
    match db.store.claim(&p).await.unwrap() {
        ClaimOutcome::Running { job: Some(j), .. } => {
            assert_eq!((j.id, j.attempts), (a.id, 2), "the requeued job a");
        }
        other => panic!("expected job a, got {other:?}"),
    }
}

/// What the drain ETA and the fleet metrics read: completions and mean
/// durations since a time.
async fn finished_jobs_are_counted_and_timed_since_a_time(db: TestDb) {
    let now = t0();
    for _ in 0..2 {
        db.store.enqueue(&new_job("a", 0, 3), now).await.unwrap();
    }
    db.store.enqueue(&new_job("b", 0, 1), now).await.unwrap();
    let j1 = claim_job(&db.store, "w", now).await.unwrap();
    let j2 = claim_job(&db.store, "w", now).await.unwrap();
    let j3 = claim_job(&db.store, "w", now).await.unwrap();
    let secs = |s| now + Duration::seconds(s);
    db.store
        .complete(&fence(&j1, "w"), None, secs(2))
        .await
        .unwrap();
    db.store
        .complete(&fence(&j2, "w"), None, secs(4))
        .await
        .unwrap();
    db.store
        .fail(&fence(&j3, "w"), "boom", false, secs(6))
        .await
        .unwrap();
    assert_eq!(db.store.finished_since(now).await.unwrap(), 3);
    assert_eq!(db.store.finished_since(secs(3)).await.unwrap(), 2);
    let mut means = db.store.mean_durations_ms(now).await.unwrap();
    means.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        means,
        [("a".to_string(), 3000.0), ("b".to_string(), 6000.0)]
    );
    assert_eq!(db.store.mean_latency_ms(now).await.unwrap(), Some(4000.0));
    assert_eq!(db.store.mean_latency_ms(secs(7)).await.unwrap(), None);
    assert!(db
        .store
        .mean_durations_ms(secs(7))
        .await
        .unwrap()
        .is_empty());
}

on_every_store!(
    enqueue_claim_complete_round_trip,
    claims_follow_priority_then_age_and_respect_types,
    claim_while_paused_claims_and_requeues_nothing,
    expired_leases_are_requeued_before_a_claim,
    expired_lease_on_final_attempt_fails_the_job,
    heartbeat_extends_the_lease_and_records_checkpoint,
    late_calls_from_a_worker_that_lost_its_lease_are_refused,
    failures_retry_with_backoff_then_fail_for_good,
    cancel_and_retry_follow_the_job_state,
    unknown_jobs_are_not_found,
    listing_filters_by_status_and_counts_dispatches,
    listing_reads_payloads_only_when_asked,
    concurrent_claims_never_hand_out_a_job_twice,
    a_claim_that_requeues_first_still_respects_the_types,
    finished_jobs_are_counted_and_timed_since_a_time,
);
