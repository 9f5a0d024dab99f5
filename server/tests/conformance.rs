//! The storage conformance suite, pause side: the pause state, its audit
//! log, the pause-vs-claim guarantee and notifications — every test on
//! SQLite and PostgreSQL through the one `Store` trait. Time is passed
//! explicitly, so lease expiry is tested without sleeping.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::sync::Arc;

use chrono::Duration;
use common::store::*;
use common::TestDb;
use server::storage::{ClaimOutcome, StoreError};
use wire::PauseMode;

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

/// Issue #15, finding 5: a request id remembers its request. Reusing it for
/// anything else — another action, reason, mode, or another target — is
/// refused and changes nothing; the same request still replays.
async fn a_request_id_is_refused_for_a_different_request(db: TestDb) {
    let p =
        cmd(serde_json::json!({"action":"pause","mode":"drain","reason":"x","requestId":"req-1"}));
    db.store.transition_pause(&p, "a", t0()).await.unwrap();
    let events = db.store.list_events(100, None).await.unwrap().len();
    for other in [
        serde_json::json!({"action":"resume","reason":"x","requestId":"req-1"}),
        serde_json::json!({"action":"pause","mode":"drain","reason":"y","requestId":"req-1"}),
        serde_json::json!({"action":"pause","mode":"quiesce","reason":"x","requestId":"req-1"}),
    ] {
        let err = db
            .store
            .transition_pause(&cmd(other.clone()), "a", t0())
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::RequestIdReused(_)),
            "{other}: {err:?}"
        );
    }
    // The same request on a queue is a different request too.
    let err = db
        .store
        .transition_queue_pause("emails", &p, "a", t0())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::RequestIdReused(_)), "{err:?}");
    let s = db.store.pause_state().await.unwrap();
    assert!(s.workers_paused && s.version == 2 && s.mode == Some(PauseMode::Drain));
    assert_eq!(db.store.list_events(100, None).await.unwrap().len(), events);
    // A queue's id replays on that queue only.
    let q =
        cmd(serde_json::json!({"action":"pause","mode":"drain","reason":"q","requestId":"req-q"}));
    let first = db
        .store
        .transition_queue_pause("emails", &q, "a", t0())
        .await
        .unwrap();
    assert!(first.event.is_some());
    let again = db
        .store
        .transition_queue_pause("emails", &q, "a", t0())
        .await
        .unwrap();
    assert!(again.replayed);
    let err = db
        .store
        .transition_queue_pause("reports", &q, "a", t0())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::RequestIdReused(_)), "{err:?}");
    // And the first request still replays.
    assert!(
        db.store
            .transition_pause(&p, "a", t0())
            .await
            .unwrap()
            .replayed
    );
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

on_every_store!(
    initial_state_is_running_at_version_1,
    pause_persists_bumps_version_and_appends_event,
    a_timed_pause_persists_its_end_and_its_resume_applies_once,
    version_conflict_changes_nothing,
    repeated_request_id_is_applied_once,
    a_request_id_is_refused_for_a_different_request,
    resume_before_drained_records_force_and_metrics,
    events_are_paged_newest_first,
    claims_after_a_pause_returns_get_nothing,
    listen_reports_changes_from_other_connections,
);
