//! The worker protocol over HTTP (in-process), on both stores: registry,
//! directives, long-poll claims woken by enqueue and by pause, and
//! idempotent results.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use common::api::Api;
use common::TestDb;
use serde_json::{json, Value};
use server::service::ServiceConfig;

async fn api(db: TestDb) -> Api {
    Api::new(db, ServiceConfig::default(), true).await
}

async fn workers_register_heartbeat_and_get_directives(db: TestDb) {
    let a = api(db).await;
    let r = a
        .ok(Method::POST, "/api/workers/register", Some(json!({"workerId": "w1", "name": "one", "hostname": "h", "version": "0.1", "labels": {"pool": "a"}, "bootId": "boot-1"})))
        .await;
    assert_eq!(r["directive"], "run");
    assert_eq!(r["system"]["workersPaused"], false);
    assert_eq!(r["worker"]["observedState"], "running");
    assert_eq!(r["worker"]["desiredState"], "active");
    let hb = a
        .ok(Method::POST, "/api/workers/w1/heartbeat", Some(json!({"bootId": "boot-1", "state": "paused", "activeJobs": [], "offlineBacklog": 2})))
        .await;
    assert_eq!(hb["worker"]["observedState"], "paused");
    assert_eq!(hb["worker"]["offlineBacklog"], 2);
    let list = a.ok(Method::GET, "/api/workers", None).await;
    assert_eq!(list["workers"][0]["id"], "w1");
    assert_eq!(list["workers"][0]["labels"]["pool"], "a");
    assert_eq!(list["workers"][0]["bootId"], "boot-1");
    let health = a.ok(Method::GET, "/api/workers/health", None).await;
    assert_eq!(
        (health["online"].clone(), health["offline"].clone()),
        (json!(1), json!(0))
    );
    let metrics = a.ok(Method::GET, "/api/workers/metrics", None).await;
    assert_eq!(metrics["workers"][0]["offlineBacklog"], 2);
    // Unknown worker: 404; superseded boot: 409; bad input: 422.
    let (s, v) = a
        .call(
            Method::POST,
            "/api/workers/nope/heartbeat",
            Some(json!({"bootId": "b", "state": "running"})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    a.ok(
        Method::POST,
        "/api/workers/register",
        Some(json!({"workerId": "w1", "bootId": "boot-2"})),
    )
    .await;
    let (s, _) = a
        .call(
            Method::POST,
            "/api/workers/w1/heartbeat",
            Some(json!({"bootId": "boot-1", "state": "running"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, v) = a
        .call(
            Method::POST,
            "/api/workers/w1/heartbeat",
            Some(json!({"bootId": "boot-2", "state": "sleeping"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "state");
    let (s, v) = a
        .call(
            Method::POST,
            "/api/workers/register",
            Some(json!({"workerId": "w2"})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("bootId"))
    );
}

/// A waiting claimer gets a job the moment it is enqueued.
async fn long_poll_claim_is_woken_by_an_enqueue(db: TestDb) {
    let a = Arc::new(api(db).await);
    let empty_before = common::empty_claims(&a.svc);
    let waiter = {
        let a = a.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let v = a
                .ok(
                    Method::POST,
                    "/api/queue/jobs/claim",
                    Some(json!({"workerId": "w", "waitMs": 10000})),
                )
                .await;
            (v, started.elapsed())
        })
    };
    // Its first attempt found nothing: it is registered for wake-ups.
    common::wait_for("the claimer to wait", Duration::from_secs(5), || {
        common::empty_claims(&a.svc) > empty_before
    })
    .await;
    let enqueued_at = Instant::now();
    a.ok(Method::POST, "/api/queue/jobs", Some(json!({"type": "t"})))
        .await;
    let (v, _) = waiter.await.unwrap();
    let latency = enqueued_at.elapsed();
    assert_eq!(v["job"]["type"], "t");
    assert!(
        latency < Duration::from_millis(1000),
        "picked up {latency:?} after enqueue, not at once"
    );
    // No job at all: the claim answers null after waitMs.
    let started = Instant::now();
    let v = a
        .ok(
            Method::POST,
            "/api/queue/jobs/claim",
            Some(json!({"workerId": "w", "waitMs": 300})),
        )
        .await;
    assert_eq!(v["job"], Value::Null);
    assert!(started.elapsed() >= Duration::from_millis(290));
    let (s, v) = a
        .call(
            Method::POST,
            "/api/queue/jobs/claim",
            Some(json!({"workerId": "w", "waitMs": 30001})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("waitMs"))
    );
}

/// A pause answers waiting claimers at once with `{job: null, system}`.
async fn long_poll_claim_is_answered_by_a_pause(db: TestDb) {
    let a = Arc::new(api(db).await);
    let empty_before = common::empty_claims(&a.svc);
    let waiter = {
        let a = a.clone();
        tokio::spawn(async move {
            a.ok(
                Method::POST,
                "/api/queue/jobs/claim",
                Some(json!({"workerId": "w", "waitMs": 20000})),
            )
            .await
        })
    };
    common::wait_for("the claimer to wait", Duration::from_secs(5), || {
        common::empty_claims(&a.svc) > empty_before
    })
    .await;
    let paused_at = Instant::now();
    a.ok(
        Method::POST,
        "/api/system/worker-pause",
        Some(json!({"action": "pause", "mode": "drain", "reason": "x"})),
    )
    .await;
    let v = tokio::time::timeout(Duration::from_secs(3), waiter)
        .await
        .expect("answered promptly")
        .unwrap();
    assert!(paused_at.elapsed() < Duration::from_secs(2));
    assert_eq!(v["job"], Value::Null);
    assert_eq!(v["system"]["workersPaused"], true);
}

async fn results_are_applied_once(db: TestDb) {
    let a = api(db).await;
    let job = a
        .ok(Method::POST, "/api/queue/jobs", Some(json!({"type": "t"})))
        .await;
    let claim = a
        .ok(
            Method::POST,
            "/api/queue/jobs/claim",
            Some(json!({"workerId": "w1"})),
        )
        .await;
    let token = claim["job"]["leaseToken"].clone();
    let env = json!({
        "idempotencyKey": "k-1", "payloadType": "execution_result", "taskId": job["id"], "workerId": "w1",
        "payload": {"leaseToken": token, "status": "succeeded", "result": {"rows": 1}}
    });
    let first = a
        .ok(Method::POST, "/api/workers/results", Some(env.clone()))
        .await;
    assert_eq!(first["appliedNow"], true);
    let id = job["id"].as_str().unwrap();
    let done = a
        .ok(Method::GET, &format!("/api/queue/jobs/{id}"), None)
        .await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["result"], json!({"rows": 1}));
    let again = a
        .ok(Method::POST, "/api/workers/results", Some(env.clone()))
        .await;
    assert_eq!(
        again["appliedNow"], false,
        "a repeat is acknowledged, not applied"
    );
    let mut changed = env.clone();
    changed["payload"]["result"] = json!({"rows": 2});
    let (s, v) = a
        .call(Method::POST, "/api/workers/results", Some(changed))
        .await;
    assert_eq!(
        (s, v["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("idempotencyKey"))
    );
    let (s, v) = a
        .call(Method::POST, "/api/workers/results", Some(json!({"idempotencyKey": "k-2", "payloadType": "metrics", "workerId": "w1", "payload": {}})))
        .await;
    assert_eq!(
        (s, v["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("payloadType"))
    );
    // A result for a lease that is gone: 409, and again 409 on repeat.
    let stale = json!({
        "idempotencyKey": "k-3", "payloadType": "execution_result", "taskId": job["id"], "workerId": "w1",
        "payload": {"leaseToken": token, "status": "failed", "error": "late"}
    });
    for _ in 0..2 {
        let (s, v) = a
            .call(Method::POST, "/api/workers/results", Some(stale.clone()))
            .await;
        assert_eq!(
            (s, v["error"]["code"].clone()),
            (StatusCode::CONFLICT, json!("lease_lost"))
        );
    }
    assert_eq!(
        a.ok(Method::GET, &format!("/api/queue/jobs/{id}"), None)
            .await,
        done,
        "nothing changed"
    );
    let facts = a
        .ok(Method::POST, "/api/workers/results", Some(json!({"idempotencyKey": "k-4", "payloadType": "facts", "workerId": "w1", "payload": {"cpus": 2}})))
        .await;
    assert_eq!(facts["appliedNow"], true);
}

on_both_stores!(
    workers_register_heartbeat_and_get_directives,
    long_poll_claim_is_woken_by_an_enqueue,
    long_poll_claim_is_answered_by_a_pause,
    results_are_applied_once,
);
