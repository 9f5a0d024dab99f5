//! Batch claim (`limit` on claim) on both stores: the queue's order, the
//! lease fencing of every job, the pause, expired leases requeued first,
//! the type filter, and the bounds of `limit` through the service.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use common::TestDb;
use server::domain::{ClaimCommand, NewJob, PauseCommand, MAX_CLAIM_BATCH};
use server::service::{Service, ServiceConfig, ServiceError, ServiceResult};
use server::storage::{ClaimParams, Fence};

fn t0() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

fn job(job_type: &str, priority: i32) -> NewJob {
    NewJob {
        priority,
        ..NewJob::simple(job_type, serde_json::json!({}))
    }
}

fn params(now: DateTime<Utc>, types: Option<Vec<String>>) -> ClaimParams {
    ClaimParams {
        worker_id: "w".into(),
        types,
        queues: None,
        lease_seconds: 30,
        now,
    }
}

async fn batch_claim_hands_out_jobs_in_queue_order_each_fenced(db: TestDb) {
    let now = t0();
    let low = db.store.enqueue(&job("a", 0), now).await.unwrap().job;
    let high = db.store.enqueue(&job("a", 5), now).await.unwrap().job;
    let other = db.store.enqueue(&job("b", 9), now).await.unwrap().job;
    let got = db
        .store
        .claim_many(&params(now, Some(vec!["a".into()])), 10)
        .await
        .unwrap();
    let ids: Vec<_> = got.jobs.iter().map(|j| j.id).collect();
    assert_eq!(ids, vec![high.id, low.id], "type filter and priority order");
    assert!(!got.state.workers_paused);
    for j in &got.jobs {
        let fence = Fence {
            job_id: j.id,
            worker_id: "w".into(),
            lease_token: j.lease_token.expect("a lease token"),
        };
        db.store.complete(&fence, None, now).await.unwrap();
    }
    let rest = db.store.claim_many(&params(now, None), 1).await.unwrap();
    assert_eq!(rest.jobs.len(), 1, "limit is respected");
    assert_eq!(rest.jobs[0].id, other.id);
    let none = db.store.claim_many(&params(now, None), 5).await.unwrap();
    assert!(none.jobs.is_empty());
}

async fn batch_claim_requeues_expired_leases_first_and_stops_when_paused(db: TestDb) {
    let now = t0();
    let first = db.store.enqueue(&job("a", 0), now).await.unwrap().job;
    db.store.claim_many(&params(now, None), 1).await.unwrap();
    db.store.enqueue(&job("a", 0), now).await.unwrap();
    let later = now + Duration::seconds(31);
    let got = db.store.claim_many(&params(later, None), 10).await.unwrap();
    assert_eq!(
        got.jobs.len(),
        2,
        "the expired job came back with the other"
    );
    assert!(got.jobs.iter().any(|j| j.id == first.id && j.attempts == 2));
    assert_eq!(got.requeued, 1);

    db.store.enqueue(&job("a", 0), later).await.unwrap();
    let pause = PauseCommand::parse(
        serde_json::from_value(
            serde_json::json!({"action":"pause","mode":"drain","reason":"batch"}),
        )
        .unwrap(),
    )
    .unwrap();
    db.store.transition_pause(&pause, "t", later).await.unwrap();
    let paused = db.store.claim_many(&params(later, None), 10).await.unwrap();
    assert!(paused.state.workers_paused);
    assert!(paused.jobs.is_empty(), "no job while paused");
}

async fn service_bounds_limit_and_lists_jobs_only_when_asked(db: TestDb) {
    let svc = Service::new(db.store.clone(), ServiceConfig::default())
        .await
        .unwrap();
    for _ in 0..3 {
        db.store.enqueue(&job("a", 0), t0()).await.unwrap();
    }
    // As the claim route does: parse the request, then claim.
    let claim_up_to = |v: serde_json::Value, limit: Option<u32>| {
        let svc = svc.clone();
        async move {
            let req: wire::ClaimRequest = serde_json::from_value(v).unwrap();
            let cmd = ClaimCommand::parse(&req, limit).map_err(ServiceError::from);
            let out: ServiceResult<_> = match cmd {
                Ok(cmd) => svc.claim(cmd).await,
                Err(e) => Err(e),
            };
            out
        }
    };
    let single = claim_up_to(serde_json::json!({"workerId":"w"}), None)
        .await
        .unwrap();
    assert!(single.job.is_some());
    assert!(single.jobs.is_none(), "no `jobs` without `limit`");
    let batch = claim_up_to(serde_json::json!({"workerId":"w"}), Some(5))
        .await
        .unwrap();
    let jobs = batch.jobs.expect("jobs listed");
    assert_eq!(jobs.len(), 2);
    assert_eq!(batch.job.map(|j| j.id), Some(jobs[0].id));
    for bad in [0, MAX_CLAIM_BATCH + 1] {
        match claim_up_to(serde_json::json!({"workerId":"w"}), Some(bad)).await {
            Err(ServiceError::Validation(e)) => assert_eq!(e.field, "limit"),
            other => panic!("limit {bad}: expected a validation error, got {other:?}"),
        }
    }
}

on_both_stores!(
    batch_claim_hands_out_jobs_in_queue_order_each_fenced,
    batch_claim_requeues_expired_leases_first_and_stops_when_paused,
    service_bounds_limit_and_lists_jobs_only_when_asked,
);
