//! Storage conformance for fleet control, on SQLite and PostgreSQL: worker
//! actions under the safety rule, fleet audit events, rolling restarts and
//! API tokens — each an operation of its own in storage.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use chrono::Duration;
use common::store::*;
use common::TestDb;
use server::domain::{FleetEventDraft, Reason, Role, SafetyRule, TokenRecord, WorkerActionCommand};
use server::storage::StoreError;
use wire::{DesiredState, RolloutStatus, RolloutWorkerState, WorkerActionKind};

fn rule() -> SafetyRule {
    SafetyRule {
        minimum: 1,
        stale_after: Duration::seconds(15),
    }
}

fn action(kind: WorkerActionKind, ids: &[&str], confirm: Option<&str>) -> WorkerActionCommand {
    WorkerActionCommand {
        action: kind,
        worker_ids: ids.iter().map(|s| s.to_string()).collect(),
        reason: Reason::parse(Some("maintenance")).unwrap(),
        confirm: confirm.map(str::to_string),
    }
}

async fn desired(db: &TestDb) -> Vec<(String, DesiredState)> {
    let workers = db.store.list_workers().await.unwrap();
    workers
        .into_iter()
        .map(|w| (w.id, w.desired_state))
        .collect()
}

async fn worker_actions_apply_under_the_safety_rule_or_change_nothing(db: TestDb) {
    let now = t0();
    for id in ["w1", "w2"] {
        db.store.register_worker(&reg(id, "b"), now).await.unwrap();
    }
    let all_active = desired(&db).await;
    let unknown = action(WorkerActionKind::Drain, &["w1", "ghost"], None);
    match db.store.worker_action(&unknown, "op", now, &rule()).await {
        Err(StoreError::UnknownWorkers(ids)) => assert_eq!(ids, ["ghost"]),
        other => panic!("expected unknown workers, got {other:?}"),
    }
    let everyone = action(WorkerActionKind::Drain, &["w1", "w2"], None);
    match db.store.worker_action(&everyone, "op", now, &rule()).await {
        Err(StoreError::SafetyRefused(r)) => {
            assert_eq!((r.available_before, r.available_after), (2, 0));
            assert_eq!(r.confirm_phrase, "drain 2 workers");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(desired(&db).await, all_active, "a refusal changes nothing");
    assert!(db.store.list_events(10, None).await.unwrap().is_empty());

    let one = action(WorkerActionKind::Drain, &["w1"], None);
    let done = db
        .store
        .worker_action(&one, "op", now, &rule())
        .await
        .unwrap();
    assert!(!done.override_used);
    assert_eq!(done.before.len(), 1);
    assert_eq!(done.before[0].desired_state, DesiredState::Active);
    assert_eq!(
        (
            done.event.action.as_str(),
            done.event.version,
            done.event.success
        ),
        ("worker.drain", 1, true)
    );
    assert_eq!(done.event.targets, ["w1"]);
    assert_eq!(
        desired(&db).await,
        [
            ("w1".to_string(), DesiredState::Draining),
            ("w2".to_string(), DesiredState::Active)
        ]
    );
    // w2 is the last available worker: only the typed phrase takes it out.
    let last = action(WorkerActionKind::Pause, &["w2"], Some("pause 1 worker"));
    let forced = db
        .store
        .worker_action(&last, "op", now, &rule())
        .await
        .unwrap();
    assert!(forced.override_used);
    assert_eq!(
        db.store.list_events(10, None).await.unwrap()[0],
        forced.event
    );
}

async fn fleet_events_are_stamped_with_the_pause_version_and_metrics(db: TestDb) {
    let now = t0();
    db.store.enqueue(&new_job("a", 0, 3), now).await.unwrap();
    db.store
        .transition_pause(&pause_drain(), "op", now)
        .await
        .unwrap();
    let draft = FleetEventDraft {
        action: "worker.pause".into(),
        actor: "op".into(),
        reason: "refused".into(),
        targets: vec!["w1".into()],
        success: false,
        details: serde_json::json!({"refused": "safety_check"}),
    };
    let ev = db.store.record_fleet_event(&draft, now).await.unwrap();
    assert_eq!((ev.version, ev.metrics.queued, ev.success), (2, 1, false));
    assert_eq!(ev.targets, ["w1"]);
    assert_eq!(
        ev.details,
        Some(serde_json::json!({"refused": "safety_check"}))
    );
    assert_eq!(db.store.list_events(1, None).await.unwrap()[0], ev);
}

/// One rolling-restart step now (heartbeats older than 15 s: offline).
async fn step(db: &TestDb, now: chrono::DateTime<chrono::Utc>) -> Option<wire::RollingRestart> {
    let stale_after = Duration::seconds(15);
    db.store.advance_rollout(now, stale_after).await.unwrap()
}

async fn rolling_restarts_run_one_at_a_time_and_end_once(db: TestDb) {
    let now = t0();
    for id in ["w1", "w2"] {
        db.store.register_worker(&reg(id, "b"), now).await.unwrap();
    }
    assert!(step(&db, now).await.is_none(), "nothing running");
    let targets = vec!["w1".to_string(), "w2".to_string()];
    let r = server::domain::rollout::new_rollout(targets.clone(), 1, 60, "deploy", "op", now);
    db.store.create_rollout(&r).await.unwrap();
    let again = server::domain::rollout::new_rollout(targets, 1, 60, "again", "op", now);
    assert!(matches!(
        db.store.create_rollout(&again).await,
        Err(StoreError::Conflict(_))
    ));
    // One step drains one worker (max unavailable 1) and is stored.
    let stepped = step(&db, now).await.expect("the running rollout");
    assert_eq!(stepped.workers[0].state, RolloutWorkerState::Draining);
    assert_eq!(stepped.workers[0].boot_id_before.as_deref(), Some("b"));
    assert_eq!(stepped.workers[1].state, RolloutWorkerState::Pending);
    assert_eq!(db.store.get_rollout(r.id).await.unwrap(), stepped);
    assert_eq!(
        desired(&db).await[0],
        ("w1".to_string(), DesiredState::Draining)
    );
    let cancelled = db
        .store
        .cancel_rollout(r.id, "stop", now + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(cancelled.status, RolloutStatus::Cancelled);
    assert_eq!(cancelled.finished_at, Some(now + Duration::seconds(1)));
    match db.store.cancel_rollout(r.id, "stop", now).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("already cancelled"), "{m}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(matches!(
        db.store
            .cancel_rollout(uuid::Uuid::new_v4(), "x", now)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(step(&db, now).await.is_none(), "cancelled: no step");
    db.store.create_rollout(&again).await.unwrap();
    let listed = db.store.list_rollouts(10).await.unwrap();
    assert_eq!(listed.len(), 2);
}

fn token(id: &str, name: &str, now: chrono::DateTime<chrono::Utc>) -> TokenRecord {
    TokenRecord {
        id: id.into(),
        name: name.into(),
        role: Role::Viewer,
        secret_hash: "0".repeat(64),
        created_at: now,
        revoked_at: None,
    }
}

async fn tokens_are_created_once_and_revoked_once(db: TestDb) {
    let now = t0();
    db.store
        .create_token(&token("id1", "zed", now))
        .await
        .unwrap();
    db.store
        .create_token(&token("id2", "amy", now))
        .await
        .unwrap();
    assert!(matches!(
        db.store.create_token(&token("id3", "zed", now)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        db.store.find_token("id1").await.unwrap(),
        Some(token("id1", "zed", now))
    );
    assert_eq!(db.store.find_token("nope").await.unwrap(), None);
    let names: Vec<_> = db
        .store
        .list_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["amy", "zed"]);
    let revoked = db.store.revoke_token("zed", now).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(now));
    let twice = db
        .store
        .revoke_token("zed", now + Duration::seconds(5))
        .await
        .unwrap();
    assert_eq!(twice.revoked_at, Some(now), "the first revocation stands");
    assert!(matches!(
        db.store.revoke_token("nobody", now).await,
        Err(StoreError::NotFound)
    ));
}

on_every_store!(
    worker_actions_apply_under_the_safety_rule_or_change_nothing,
    fleet_events_are_stamped_with_the_pause_version_and_metrics,
    rolling_restarts_run_one_at_a_time_and_end_once,
    tokens_are_created_once_and_revoked_once,
);
