//! Storage conformance for the worker registry and result submissions, on
//! SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use chrono::{Duration, SubsecRound, Utc};
use common::store::{add, claim_job, fence, new_job, reg};
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
        applied_version: None,
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

/// The fleet list reads each worker's jobs from the leases, whatever the
/// worker reports: three workers each claim a job and report none.
async fn the_fleet_lists_the_jobs_leased_to_each_worker(db: TestDb) {
    let t = Utc::now().trunc_subsecs(3);
    let mut claimed = Vec::new();
    for id in ["w1", "w2", "w3"] {
        db.store.register_worker(&reg(id, "b1"), t).await.unwrap();
        add(&db.store, &new_job("a", 0, 3), t).await;
        let job = claim_job(&db.store, id, t).await.expect("a job");
        let mut silent = beat(id, "b1", ReportedState::Running);
        silent.active_jobs = Vec::new();
        db.store.worker_heartbeat(&silent, t).await.unwrap();
        claimed.push(job);
    }
    let fleet = db.store.list_workers().await.unwrap();
    for (w, job) in fleet.iter().zip(&claimed) {
        assert_eq!(w.leased_jobs.as_deref(), Some(&[job.id][..]), "{}", w.id);
        assert_eq!(w.jobs(), &[job.id]);
        assert_eq!(w.reported_if_different(), Some(&[][..]));
        assert!(
            w.lease_warning().is_some(),
            "{}: no jobs reported, one lease",
            w.id
        );
    }
    // A finished job is no longer anyone's; a worker reporting what it
    // holds agrees with its leases.
    db.store
        .complete(&fence(&claimed[0], "w1"), Some(serde_json::json!({})), t)
        .await
        .unwrap();
    let mut honest = beat("w2", "b1", ReportedState::Running);
    honest.active_jobs = vec![claimed[1].id];
    db.store.worker_heartbeat(&honest, t).await.unwrap();
    let fleet = db.store.list_workers().await.unwrap();
    assert_eq!(fleet[0].leased_jobs.as_deref(), Some(&[][..]));
    assert_eq!(fleet[0].lease_warning(), None);
    assert_eq!(fleet[1].reported_if_different(), None);
    assert_eq!(fleet[1].lease_warning(), None);
    let info = fleet[2].info(t, Duration::seconds(15));
    assert_eq!(info.active_jobs, vec![claimed[2].id]);
    assert_eq!(info.reported_active_jobs, Some(Vec::new()));
    assert!(info.warning.is_some());
}

/// `appliedVersion` is kept with the time it was first reported; a beat
/// without one keeps it; a new boot has applied nothing yet.
async fn the_applied_version_is_kept_with_its_time(db: TestDb) {
    let t = Utc::now().trunc_subsecs(3);
    let at = |s: i64| t + Duration::seconds(s);
    db.store.register_worker(&reg("w1", "b1"), t).await.unwrap();
    let mut b = beat("w1", "b1", ReportedState::Paused);
    b.applied_version = Some(2);
    let w = db.store.worker_heartbeat(&b, at(1)).await.unwrap();
    assert_eq!((w.applied_version, w.applied_at), (Some(2), Some(at(1))));
    let w = db.store.worker_heartbeat(&b, at(2)).await.unwrap();
    assert_eq!(w.applied_at, Some(at(1)), "the same version keeps its time");
    b.applied_version = None;
    let w = db.store.worker_heartbeat(&b, at(3)).await.unwrap();
    assert_eq!((w.applied_version, w.applied_at), (Some(2), Some(at(1))));
    b.applied_version = Some(3);
    db.store.worker_heartbeat(&b, at(4)).await.unwrap();
    let listed = db.store.list_workers().await.unwrap();
    assert_eq!(
        (listed[0].applied_version, listed[0].applied_at),
        (Some(3), Some(at(4)))
    );
    let same_boot = db
        .store
        .register_worker(&reg("w1", "b1"), at(5))
        .await
        .unwrap();
    assert_eq!(same_boot.applied_version, Some(3));
    let reboot = db
        .store
        .register_worker(&reg("w1", "b2"), at(6))
        .await
        .unwrap();
    assert_eq!((reboot.applied_version, reboot.applied_at), (None, None));
}

/// Retention: finished result records (applied or refused) older than the
/// cutoff go, oldest first in batches; younger ones and a submission still
/// being applied (however old) stay. A pruned key is unknown again.
async fn finished_result_records_are_pruned(db: TestDb) {
    let now = Utc::now().trunc_subsecs(3);
    let old = now - Duration::days(40);
    let young = now - Duration::days(1);
    let long_ago = old - Duration::days(1);
    let record = |key: &'static str, at, refused: Option<&'static str>| {
        let store = db.store.clone();
        async move {
            let s = submission(key, serde_json::json!({ "k": key }));
            assert_eq!(
                store.begin_result(&s, at, long_ago).await.unwrap(),
                ResultBegin::Fresh
            );
            store.finish_result(key, refused, at).await.unwrap();
            s
        }
    };
    let old_applied = record("old-applied", old, None).await;
    let old_refused = record("old-refused", old, Some("lease lost")).await;
    let young_applied = record("young-applied", young, None).await;
    let in_flight = submission("in-flight", serde_json::json!({}));
    assert_eq!(
        db.store
            .begin_result(&in_flight, old, long_ago)
            .await
            .unwrap(),
        ResultBegin::Fresh
    );

    let cutoff = now - Duration::days(30);
    assert_eq!(db.store.prune_results(cutoff, 1).await.unwrap(), Some(1));
    assert_eq!(db.store.prune_results(cutoff, 1).await.unwrap(), Some(1));
    assert_eq!(db.store.prune_results(cutoff, 1).await.unwrap(), Some(0));

    // The pruned keys are unknown again; the others answer as before.
    for gone in [&old_applied, &old_refused] {
        assert_eq!(
            db.store.begin_result(gone, now, long_ago).await.unwrap(),
            ResultBegin::Fresh
        );
    }
    assert_eq!(
        db.store
            .begin_result(&young_applied, now, long_ago)
            .await
            .unwrap(),
        ResultBegin::Applied
    );
    assert_eq!(
        db.store
            .begin_result(&in_flight, now, long_ago)
            .await
            .unwrap(),
        ResultBegin::InFlight,
        "a submission being applied is never pruned"
    );
}

/// Heartbeats that arrive at once (written together, in groups): each is
/// answered with its own worker's row and its own figures; a worker beating
/// twice at once gets both written; a stale boot is refused alone.
async fn concurrent_heartbeats_are_each_answered_with_their_row(db: TestDb) {
    let t = Utc::now().trunc_subsecs(3);
    const WORKERS: u32 = 40;
    for i in 0..WORKERS {
        let id = format!("w{i}");
        db.store.register_worker(&reg(&id, "b1"), t).await.unwrap();
    }
    let beats: Vec<_> = (0..WORKERS)
        .map(|i| {
            let mut b = beat(&format!("w{i}"), "b1", ReportedState::Running);
            b.offline_backlog = i;
            b.applied_version = Some(i64::from(i) + 1);
            (b, t + Duration::milliseconds(i64::from(i)))
        })
        .collect();
    let twice = beat("w0", "b1", ReportedState::Paused);
    let stale = beat("w1", "b0", ReportedState::Running);
    let (answers, again, refused) = tokio::join!(
        futures::future::join_all(
            beats
                .iter()
                .map(|(b, at)| db.store.worker_heartbeat(b, *at))
        ),
        db.store.worker_heartbeat(&twice, t + Duration::seconds(1)),
        db.store.worker_heartbeat(&stale, t),
    );
    for (i, a) in answers.into_iter().enumerate() {
        let w = a.unwrap();
        assert_eq!(w.id, format!("w{i}"));
        assert_eq!(w.offline_backlog, i as u32);
        assert_eq!(w.applied_version, Some(i as i64 + 1));
        assert_eq!(w.applied_at, Some(t + Duration::milliseconds(i as i64)));
    }
    assert_eq!(again.unwrap().id, "w0");
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    let w0 = db.store.list_workers().await.unwrap();
    let w0 = w0.iter().find(|w| w.id == "w0").unwrap();
    assert!(
        w0.last_heartbeat_at == t || w0.last_heartbeat_at == t + Duration::seconds(1),
        "one of w0's two beats is the last: {:?}",
        w0.last_heartbeat_at
    );
}

on_every_store!(
    concurrent_heartbeats_are_each_answered_with_their_row,
    finished_result_records_are_pruned,
    the_fleet_lists_the_jobs_leased_to_each_worker,
    the_applied_version_is_kept_with_its_time,
    registration_round_trips_and_new_boots_restart,
    job_heartbeat_reports_the_workers_desired_state,
    result_keys_are_applied_once,
);
