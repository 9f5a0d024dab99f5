//! The storage conformance suite: every test runs against SQLite and
//! PostgreSQL through the one `Store` trait. Time is passed explicitly, so
//! lease expiry is tested without sleeping.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use common::TestDb;
use server::domain::{NewJob, PauseCommand};
use server::storage::{ClaimOutcome, ClaimParams, Fence, Store, StoreError};
use wire::{Job, JobStatus, PauseMode};

fn t0() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

fn cmd(json: serde_json::Value) -> PauseCommand {
    PauseCommand::parse(serde_json::from_value(json).unwrap()).unwrap()
}

fn pause_drain() -> PauseCommand {
    cmd(serde_json::json!({"action":"pause","mode":"drain","reason":"deploy"}))
}

fn resume() -> PauseCommand {
    cmd(serde_json::json!({"action":"resume","reason":"done"}))
}

fn new_job(job_type: &str, priority: i32, max_attempts: i32) -> NewJob {
    NewJob {
        job_type: job_type.to_string(),
        payload: serde_json::json!({"n": 1, "s": "x"}),
        priority,
        max_attempts,
    }
}

fn params(worker: &str, now: DateTime<Utc>) -> ClaimParams {
    ClaimParams {
        worker_id: worker.to_string(),
        types: None,
        lease_seconds: 30,
        now,
    }
}

async fn claim_job(store: &Arc<dyn Store>, worker: &str, now: DateTime<Utc>) -> Option<Job> {
    match store.claim(&params(worker, now)).await.unwrap() {
        ClaimOutcome::Running { job, .. } => job,
        ClaimOutcome::Paused(_) => panic!("unexpectedly paused"),
    }
}

fn fence(job: &Job, worker: &str) -> Fence {
    Fence {
        job_id: job.id,
        worker_id: worker.to_string(),
        lease_token: job.lease_token.expect("claimed job has a lease token"),
    }
}

async fn initial_state_is_running_at_version_1(db: TestDb) {
    let s = db.store.pause_state().await.unwrap();
    assert!(!s.workers_paused);
    assert_eq!(s.version, 1);
    assert_eq!(s.mode, None);
    assert!(db.store.list_events(10, None).await.unwrap().is_empty());
}

async fn pause_persists_bumps_version_and_appends_event(db: TestDb) {
    let now = t0();
    let out = db
        .store
        .transition_pause(&pause_drain(), "alice", now)
        .await
        .unwrap();
    assert_eq!(out.state.version, 2);
    let ev = out.event.expect("event");
    assert_eq!(
        (ev.action.as_str(), ev.version, ev.actor.as_str()),
        ("pause", 2, "alice")
    );
    let s = db.store.pause_state().await.unwrap();
    assert!(s.workers_paused);
    assert_eq!(s.mode, Some(PauseMode::Drain));
    assert_eq!(s.reason.as_deref(), Some("deploy"));
    assert_eq!(s.requested_by.as_deref(), Some("alice"));
    assert_eq!(s.paused_at, Some(now));
    assert_eq!(s.version, 2);
    // Same again: no-op, no version, no event.
    let again = db
        .store
        .transition_pause(&pause_drain(), "bob", now)
        .await
        .unwrap();
    assert!(again.event.is_none());
    assert_eq!(db.store.pause_state().await.unwrap().version, 2);
    assert_eq!(db.store.list_events(10, None).await.unwrap().len(), 1);
    // A mode change is a change.
    let q = cmd(serde_json::json!({"action":"pause","mode":"quiesce","reason":"deploy"}));
    let out = db
        .store
        .transition_pause(&q, "alice", now + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(out.state.version, 3);
    assert_eq!(db.store.pause_state().await.unwrap().paused_at, Some(now));
}

async fn a_timed_pause_persists_its_end_and_its_resume_applies_once(db: TestDb) {
    let now = t0();
    let until = now + Duration::minutes(30);
    let timed = cmd(
        serde_json::json!({"action":"pause","mode":"drain","reason":"deploy",
        "until": until.to_rfc3339()}),
    );
    let out = db
        .store
        .transition_pause(&timed, "alice", now)
        .await
        .unwrap();
    assert_eq!(out.state.until, Some(until));
    let ev = out.event.expect("event");
    assert_eq!(
        ev.details,
        Some(
            serde_json::json!({"until": until.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)})
        )
    );
    // Read back by a fresh read and by the claim (which reads the state
    // inside its own statement on PostgreSQL).
    assert_eq!(db.store.pause_state().await.unwrap().until, Some(until));
    match db.store.claim(&params("w", now)).await.unwrap() {
        ClaimOutcome::Paused(s) => assert_eq!(s.until, Some(until)),
        other => panic!("expected paused, got {other:?}"),
    }
    // Its end, proposed twice (two replicas): applied once.
    let state = db.store.pause_state().await.unwrap();
    let end = server::domain::timed_resume(&state, until).expect("due");
    let first = db
        .store
        .transition_pause(&end, "system", until)
        .await
        .unwrap();
    assert!(!first.state.workers_paused);
    assert_eq!(first.state.until, None);
    assert_eq!(first.event.map(|e| e.actor), Some("system".to_string()));
    let second = db
        .store
        .transition_pause(&end, "system", until)
        .await
        .unwrap();
    assert!(second.replayed && second.event.is_none());
    assert_eq!(db.store.pause_state().await.unwrap().until, None);
    assert_eq!(db.store.list_events(10, None).await.unwrap().len(), 2);
}

async fn version_conflict_changes_nothing(db: TestDb) {
    let c =
        cmd(serde_json::json!({"action":"pause","mode":"drain","reason":"x","expectedVersion":5}));
    match db.store.transition_pause(&c, "a", t0()).await {
        Err(StoreError::VersionConflict { expected, current }) => {
            assert_eq!(expected, 5);
            assert_eq!(current.version, 1);
        }
        other => panic!("expected a version conflict, got {other:?}"),
    }
    assert_eq!(db.store.pause_state().await.unwrap().version, 1);
    assert!(db.store.list_events(10, None).await.unwrap().is_empty());
}

async fn repeated_request_id_is_applied_once(db: TestDb) {
    let p =
        cmd(serde_json::json!({"action":"pause","mode":"drain","reason":"x","requestId":"req-1"}));
    let first = db.store.transition_pause(&p, "a", t0()).await.unwrap();
    assert_eq!(first.state.version, 2);
    db.store
        .transition_pause(&resume(), "a", t0())
        .await
        .unwrap();
    let replay = db.store.transition_pause(&p, "a", t0()).await.unwrap();
    assert!(replay.replayed);
    assert!(replay.event.is_none());
    let s = db.store.pause_state().await.unwrap();
    assert!(!s.workers_paused, "the replay did not pause again");
    assert_eq!(s.version, 3);
}

async fn resume_before_drained_records_force_and_metrics(db: TestDb) {
    let now = t0();
    db.store.enqueue(&new_job("a", 0, 3), now).await.unwrap();
    db.store.enqueue(&new_job("a", 0, 3), now).await.unwrap();
    claim_job(&db.store, "w1", now).await.expect("job");
    db.store
        .transition_pause(&pause_drain(), "a", now)
        .await
        .unwrap();
    let out = db
        .store
        .transition_pause(&resume(), "b", now)
        .await
        .unwrap();
    assert!(out.warning.is_some());
    let ev = out.event.unwrap();
    assert!(ev.force_resume);
    assert_eq!(
        (ev.metrics.queued, ev.metrics.running, ev.metrics.is_drained),
        (1, 1, false)
    );
    let stored = &db.store.list_events(1, None).await.unwrap()[0];
    assert_eq!(stored, &ev);
}

async fn events_are_paged_newest_first(db: TestDb) {
    for i in 0..5 {
        let p = cmd(serde_json::json!({"action":"pause","mode":"drain","reason":format!("r{i}")}));
        db.store.transition_pause(&p, "a", t0()).await.unwrap();
    }
    let page1 = db.store.list_events(2, None).await.unwrap();
    assert_eq!(
        page1.iter().map(|e| e.version).collect::<Vec<_>>(),
        vec![6, 5]
    );
    let page2 = db.store.list_events(2, Some(page1[1].id)).await.unwrap();
    assert_eq!(
        page2.iter().map(|e| e.version).collect::<Vec<_>>(),
        vec![4, 3]
    );
    let page3 = db.store.list_events(2, Some(page2[1].id)).await.unwrap();
    assert_eq!(page3.len(), 1);
}

async fn enqueue_claim_complete_round_trip(db: TestDb) {
    let now = t0();
    let job = db
        .store
        .enqueue(&new_job("email", 0, 3), now)
        .await
        .unwrap();
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
    let low = db.store.enqueue(&new_job("a", 0, 3), now).await.unwrap();
    let high = db
        .store
        .enqueue(&new_job("a", 5, 3), now + Duration::milliseconds(1))
        .await
        .unwrap();
    let other = db
        .store
        .enqueue(&new_job("b", 9, 3), now + Duration::milliseconds(2))
        .await
        .unwrap();
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
    let job = db.store.enqueue(&new_job("a", 0, 3), now).await.unwrap();
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
    let job = db.store.enqueue(&new_job("a", 0, 1), now).await.unwrap();
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
    let job = db.store.enqueue(&new_job("a", 0, 2), now).await.unwrap();
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
    let j2 = db.store.enqueue(&new_job("b", 0, 5), now).await.unwrap();
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
    let queued = db.store.enqueue(&new_job("a", 0, 3), now).await.unwrap();
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
            .list_jobs(Some(JobStatus::Queued), 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        db.store
            .list_jobs(Some(JobStatus::Running), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(db.store.list_jobs(None, 2).await.unwrap().len(), 2);
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

/// A pause that has returned wins over every claim that starts after it,
/// even while other claims are in flight.
async fn claims_after_a_pause_returns_get_nothing(db: TestDb) {
    let now = t0();
    for _ in 0..200 {
        db.store.enqueue(&new_job("a", 0, 3), now).await.unwrap();
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(5));
    let paused_flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = db.store.clone();
        let barrier = barrier.clone();
        let flag = paused_flag.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut violations = 0;
            for _ in 0..60 {
                let sent_after_pause = flag.load(std::sync::atomic::Ordering::SeqCst);
                let out = store.claim(&params(&format!("w{w}"), now)).await.unwrap();
                if sent_after_pause && matches!(out, ClaimOutcome::Running { job: Some(_), .. }) {
                    violations += 1;
                }
            }
            violations
        }));
    }
    barrier.wait().await;
    tokio::task::yield_now().await;
    db.store
        .transition_pause(&pause_drain(), "a", now)
        .await
        .unwrap();
    paused_flag.store(true, std::sync::atomic::Ordering::SeqCst);
    for t in tasks {
        assert_eq!(
            t.await.unwrap(),
            0,
            "a claim started after the pause got a job"
        );
    }
}

async fn listen_reports_changes_from_other_connections(db: TestDb) {
    let Some(mut rx) = db.store.listen().await.unwrap() else {
        assert_eq!(db.store.backend(), "sqlite", "only SQLite has no listener");
        return;
    };
    let first = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
        .await
        .unwrap();
    assert_eq!(first, Some(server::storage::Notice::Reconnected));
    // Another process's store on the same database.
    let other = server::storage::connect(&db.url).await.unwrap();
    other
        .transition_pause(&pause_drain(), "a", t0())
        .await
        .unwrap();
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
        .await
        .unwrap();
    assert_eq!(n, Some(server::storage::Notice::PauseChanged(2)));
}

on_both_stores!(
    initial_state_is_running_at_version_1,
    pause_persists_bumps_version_and_appends_event,
    a_timed_pause_persists_its_end_and_its_resume_applies_once,
    version_conflict_changes_nothing,
    repeated_request_id_is_applied_once,
    resume_before_drained_records_force_and_metrics,
    events_are_paged_newest_first,
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
    concurrent_claims_never_hand_out_a_job_twice,
    claims_after_a_pause_returns_get_nothing,
    listen_reports_changes_from_other_connections,
);
