//! Storage conformance for the worker registry and result submissions, on
//! SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use chrono::{Duration, SubsecRound, Utc};
use common::store::reg;
use common::TestDb;
use server::domain::{NewJob, ResultSubmission, WorkerBeat};
use server::storage::{ClaimOutcome, ClaimParams, Fence, ResultBegin, StoreError};
use wire::{DesiredState, ReportedState};

fn beat(id: &str, boot: &str, state: ReportedState) -> WorkerBeat {
    WorkerBeat {
        id: id.into(),
        boot_id: boot.into(),
        state,
        active_jobs: vec![uuid::Uuid::nil()],
        offline_backlog: 3,
    }
}

async fn registration_round_trips_and_new_boots_restart(db: TestDb) {
    let t = Utc::now().trunc_subsecs(3);
    let w = db.store.register_worker(&reg("w1", "b1"), t).await.unwrap();
    assert_eq!(
        (w.id.as_str(), w.boot_id.as_str(), w.hostname.as_str()),
        ("w1", "b1", "host-a")
    );
    assert_eq!(w.labels.get("zone").map(String::as_str), Some("eu"));
    assert_eq!(w.desired_state, DesiredState::Active);
    assert_eq!(w.started_at, t);
    let hb = db
        .store
        .worker_heartbeat(
            &beat("w1", "b1", ReportedState::Paused),
            t + Duration::seconds(2),
        )
        .await
        .unwrap();
    assert_eq!(hb.reported_state, ReportedState::Paused);
    assert_eq!(hb.offline_backlog, 3);
    assert_eq!(hb.active_jobs, vec![uuid::Uuid::nil()]);
    assert_eq!(hb.last_heartbeat_at, t + Duration::seconds(2));
    // Same boot registering again keeps started_at.
    let again = db
        .store
        .register_worker(&reg("w1", "b1"), t + Duration::seconds(3))
        .await
        .unwrap();
    assert_eq!(again.started_at, t);
    // A new boot: new started_at; the old boot's heartbeats are refused.
    let reboot = db
        .store
        .register_worker(&reg("w1", "b2"), t + Duration::seconds(5))
        .await
        .unwrap();
    assert_eq!(reboot.started_at, t + Duration::seconds(5));
    assert!(matches!(
        db.store
            .worker_heartbeat(&beat("w1", "b1", ReportedState::Running), t)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        db.store
            .worker_heartbeat(&beat("nobody", "b", ReportedState::Running), t)
            .await,
        Err(StoreError::NotFound)
    ));
    let list = db.store.list_workers().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].boot_id, "b2");
}

async fn job_heartbeat_reports_the_workers_desired_state(db: TestDb) {
    let t = Utc::now().trunc_subsecs(3);
    db.store.register_worker(&reg("w1", "b1"), t).await.unwrap();
    let job = NewJob::simple("a", serde_json::json!({}));
    db.store.enqueue(&job, t).await.unwrap();
    let params = ClaimParams {
        worker_id: "w1".into(),
        types: None,
        queues: None,
        lease_seconds: 30,
        now: t,
    };
    let ClaimOutcome::Running { job: Some(j), .. } = db.store.claim(&params).await.unwrap() else {
        panic!("claim")
    };
    let fence = Fence {
        job_id: j.id,
        worker_id: "w1".into(),
        lease_token: j.lease_token.unwrap(),
    };
    let (_, desired) = db.store.heartbeat(&fence, None, None, t).await.unwrap();
    assert_eq!(desired, Some(DesiredState::Active));
}

fn submission(key: &str, payload: serde_json::Value) -> ResultSubmission {
    ResultSubmission::parse(
        serde_json::from_value(serde_json::json!({
            "idempotencyKey": key, "payloadType": "facts", "workerId": "w1", "payload": payload
        }))
        .unwrap(),
    )
    .unwrap()
}

async fn result_keys_are_applied_once(db: TestDb) {
    let t = Utc::now().trunc_subsecs(3);
    let old = t - Duration::seconds(60);
    let s = submission("k1", serde_json::json!({"cpu": 4}));
    assert_eq!(
        db.store.begin_result(&s, t, old).await.unwrap(),
        ResultBegin::Fresh
    );
    assert_eq!(
        db.store.begin_result(&s, t, old).await.unwrap(),
        ResultBegin::InFlight
    );
    let other = submission("k1", serde_json::json!({"cpu": 8}));
    assert_eq!(
        db.store.begin_result(&other, t, old).await.unwrap(),
        ResultBegin::Mismatch
    );
    db.store.finish_result("k1", None, t).await.unwrap();
    assert_eq!(
        db.store.begin_result(&s, t, old).await.unwrap(),
        ResultBegin::Applied
    );

    let r = submission("k2", serde_json::json!({}));
    db.store.begin_result(&r, t, old).await.unwrap();
    db.store
        .finish_result("k2", Some("lease lost"), t)
        .await
        .unwrap();
    assert_eq!(
        db.store.begin_result(&r, t, old).await.unwrap(),
        ResultBegin::Rejected("lease lost".into())
    );

    // An abandoned application can be retried; a stuck one is taken over.
    let a = submission("k3", serde_json::json!({}));
    db.store.begin_result(&a, t, old).await.unwrap();
    db.store.abandon_result("k3").await.unwrap();
    assert_eq!(
        db.store.begin_result(&a, t, old).await.unwrap(),
        ResultBegin::Fresh
    );
    let later = t + Duration::seconds(120);
    assert_eq!(
        db.store
            .begin_result(&a, later, later - Duration::seconds(60))
            .await
            .unwrap(),
        ResultBegin::Fresh,
        "an applying row older than the retake window is taken over"
    );
}

on_both_stores!(
    registration_round_trips_and_new_boots_restart,
    job_heartbeat_reports_the_workers_desired_state,
    result_keys_are_applied_once,
);
