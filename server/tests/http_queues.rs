//! Named queues over the HTTP API, in-process, on both stores: the queue
//! list, a queue's pause and resume (drain and quiesce, timed, version
//! conflicts, the audit event), claims that name their queues (answered
//! from the cache with no storage call once they are all paused), the
//! `system` block's `pausedQueues` on claims and heartbeats, the per-queue
//! Prometheus gauges.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::api::Api;
use common::TestDb;
use serde_json::{json, Value};
use server::service::ServiceConfig;

async fn api(db: TestDb) -> Api {
    Api::new(db, ServiceConfig::default(), false).await
}

/// The steps these tests repeat.
trait Queues {
    async fn enqueue_in(&self, queue: &str) -> String;
    async fn claim_in(&self, worker: &str, queues: &[&str]) -> Value;
}

impl Queues for Api {
    async fn enqueue_in(&self, queue: &str) -> String {
        let v = self
            .post("/api/queue/jobs", json!({"type": "t", "queue": queue}))
            .await;
        assert_eq!(v["queue"], queue);
        v["id"].as_str().unwrap().to_string()
    }

    async fn claim_in(&self, worker: &str, queues: &[&str]) -> Value {
        self.post(
            "/api/queue/jobs/claim",
            json!({"workerId": worker, "queues": queues}),
        )
        .await
    }
}

async fn a_queue_is_paused_and_resumed_through_the_api(db: TestDb) {
    let a = api(db).await;
    let first = a.enqueue_in("emails").await;
    a.enqueue_in("emails").await;
    a.enqueue_in("reports").await;
    let list = a.get("/api/queues").await;
    assert_eq!(
        list["queues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec!["emails", "reports"]
    );
    assert_eq!(
        list["queues"][0],
        json!({"name": "emails", "paused": false, "mode": null, "reason": null, "actor": null,
               "since": null, "version": 1, "queued": 2, "scheduled": 0, "running": 0,
               "staleRunning": 0, "isDrained": true})
    );
    let c = a.claim_in("w1", &["emails"]).await;
    assert_eq!(c["job"]["id"], first.as_str());
    assert_eq!(c["system"]["pausedQueues"], json!([]));

    let p = a
        .post(
            "/api/queues/emails/pause",
            json!({"mode": "drain", "reason": "mail provider down"}),
        )
        .await;
    assert_eq!(
        (&p["paused"], &p["mode"], &p["version"], &p["actor"]),
        (&json!(true), &json!("drain"), &json!(2), &json!("local"))
    );
    assert_eq!(
        (p["queued"].clone(), p["running"].clone()),
        (json!(1), json!(1))
    );
    assert!(p["since"].is_string());
    // Claims of emails get nothing; other queues go on.
    let c = a.claim_in("w2", &["emails"]).await;
    assert_eq!(c["job"], Value::Null);
    assert_eq!(
        c["system"]["workersPaused"], false,
        "the fleet is not paused"
    );
    assert_eq!(
        c["system"]["pausedQueues"],
        json!([{"name": "emails", "mode": "drain", "reason": "mail provider down", "version": 2}])
    );
    let any = a.claim("w3").await;
    assert_eq!(any["job"]["queue"], "reports");
    assert_eq!(any["system"]["pausedQueues"][0]["name"], "emails");
    let ev = &a.get("/api/system/worker-pause/events").await["events"][0];
    assert_eq!(
        (
            &ev["action"],
            &ev["queue"],
            &ev["mode"],
            &ev["version"],
            &ev["actor"]
        ),
        (
            &json!("queue.pause"),
            &json!("emails"),
            &json!("drain"),
            &json!(2),
            &json!("local")
        )
    );
    assert_eq!(
        ev["metrics"],
        json!({"queued": 1, "running": 1, "staleRunning": 0, "isDrained": false})
    );
    // The fleet's own pause is untouched.
    let status = a.get("/api/system/worker-pause").await;
    assert_eq!(
        (status["workersPaused"].clone(), status["version"].clone()),
        (json!(false), json!(1))
    );
    // Resume before drained: a warning, recorded as forceResume.
    let r = a
        .post(
            "/api/queues/emails/resume",
            json!({"reason": "provider back"}),
        )
        .await;
    assert_eq!(
        (r["paused"].clone(), r["version"].clone()),
        (json!(false), json!(3))
    );
    assert!(r["warning"].as_str().unwrap().contains("queue emails"));
    let ev = &a.get("/api/system/worker-pause/events").await["events"][0];
    assert_eq!(
        (ev["action"].clone(), ev["forceResume"].clone()),
        (json!("queue.resume"), json!(true))
    );
    assert!(a.claim_in("w2", &["emails"]).await["job"].is_object());
    // expectedVersion fences a queue's pause like the fleet's.
    let (s, v) = a
        .call(
            Method::POST,
            "/api/queues/emails/pause",
            Some(json!({"mode": "quiesce", "reason": "x", "expectedVersion": 2})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "version_conflict");
    assert_eq!(a.get("/api/queues/emails").await["version"], 3);
}

/// A pause of a queue that has no jobs yet is allowed, and holds back the
/// jobs enqueued later.
async fn a_queue_with_no_jobs_can_be_paused_ahead(db: TestDb) {
    let a = api(db).await;
    let q = a.get("/api/queues/nightly").await;
    assert_eq!(
        (
            q["paused"].clone(),
            q["version"].clone(),
            q["queued"].clone()
        ),
        (json!(false), json!(1), json!(0))
    );
    a.post(
        "/api/queues/nightly/pause",
        json!({"mode": "drain", "reason": "before the first run"}),
    )
    .await;
    a.enqueue_in("nightly").await;
    assert_eq!(a.claim("w").await["job"], Value::Null);
    let listed = a.get("/api/queues").await;
    assert_eq!(listed["queues"][0]["name"], "nightly");
    assert_eq!(listed["queues"][0]["paused"], true);
}

/// While every queue a claim names is paused, the claim answers from the
/// cache: no storage call at all (like the fleet's pause).
async fn claims_of_paused_queues_touch_no_storage(db: TestDb) {
    let a = api(db).await;
    a.enqueue_in("a").await;
    for q in ["a", "b"] {
        a.post(
            &format!("/api/queues/{q}/pause"),
            json!({"mode": "drain", "reason": "x"}),
        )
        .await;
    }
    let before = a.svc.storage_calls();
    for i in 0..50 {
        let c = a.claim_in(&format!("w{i}"), &["a", "b"]).await;
        assert_eq!(c["job"], Value::Null);
        assert_eq!(c["system"]["pausedQueues"].as_array().unwrap().len(), 2);
    }
    assert_eq!(a.svc.storage_calls(), before, "no database round trip");
    // A claim that names an unpaused queue too goes to storage.
    a.claim_in("w", &["a", "c"]).await;
    assert!(a.svc.storage_calls() > before);
}

/// Quiesce of a queue reaches its running jobs through their lease
/// heartbeats (`pausedQueues` names the job's queue in quiesce mode), and
/// the leases go on.
async fn a_quiesced_queue_tells_its_running_jobs_to_hold(db: TestDb) {
    let a = api(db).await;
    a.enqueue_in("a").await;
    a.enqueue_in("b").await;
    let ja = a.claim_in("wa", &["a"]).await["job"].clone();
    let jb = a.claim_in("wb", &["b"]).await["job"].clone();
    a.post(
        "/api/queues/a/pause",
        json!({"mode": "quiesce", "reason": "hold a"}),
    )
    .await;
    let beat = |j: &Value, w: &str| {
        (
            format!("/api/queue/jobs/{}/heartbeat", j["id"].as_str().unwrap()),
            json!({"workerId": w, "leaseToken": j["leaseToken"], "pausedAtCheckpoint": true}),
        )
    };
    let (path, body) = beat(&ja, "wa");
    let h = a.post(&path, body).await;
    assert_eq!(
        h["system"]["pausedQueues"],
        json!([{"name": "a", "mode": "quiesce", "reason": "hold a", "version": 2}])
    );
    assert_eq!(h["job"]["pausedAtCheckpoint"], true);
    assert!(h["job"]["leaseExpiresAt"].is_string(), "the lease is kept");
    let (path, body) = beat(&jb, "wb");
    let h = a.post(&path, body).await;
    assert_eq!(h["system"]["pausedQueues"], json!([]), "only its own queue");
    // A worker heartbeat lists every paused queue.
    a.post(
        "/api/workers/register",
        json!({"workerId": "wa", "bootId": "b1"}),
    )
    .await;
    let wh = a
        .post(
            "/api/workers/wa/heartbeat",
            json!({"bootId": "b1", "state": "running", "activeJobs": [], "offlineBacklog": 0}),
        )
        .await;
    assert_eq!(wh["system"]["pausedQueues"][0]["name"], "a");
}

/// A timed queue pause ends by itself, audited with the actor `system`.
async fn a_timed_queue_pause_ends_by_itself(db: TestDb) {
    let a = Api::new(db, ServiceConfig::default(), true).await;
    let until = chrono::Utc::now() + chrono::Duration::milliseconds(600);
    let p = a
        .post(
            "/api/queues/q/pause",
            json!({"mode": "drain", "reason": "window", "until": until.to_rfc3339()}),
        )
        .await;
    assert!(p["until"].is_string());
    let mut rx = a.svc.queue_cache().subscribe();
    tokio::time::timeout(
        Duration::from_secs(10),
        rx.wait_for(|m| m.get("q").is_some_and(|s| !s.workers_paused)),
    )
    .await
    .expect("the timed queue pause ended")
    .unwrap();
    let ev = &a.get("/api/system/worker-pause/events").await["events"][0];
    assert_eq!(
        (
            ev["action"].clone(),
            ev["actor"].clone(),
            ev["queue"].clone()
        ),
        (json!("queue.resume"), json!("system"), json!("q"))
    );
    // A timed pause must end in the future.
    let (s, v) = a
        .call(
            Method::POST,
            "/api/queues/q/pause",
            Some(json!({"mode": "drain", "reason": "x", "until": "2020-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("until"))
    );
}

/// A claim long-polling on a queue is answered the moment that queue is
/// paused (with the pause in `pausedQueues`), and one waiting on a paused
/// and an open queue is woken by the paused one's resume.
async fn a_waiting_claim_follows_its_queues_pause_and_resume(db: TestDb) {
    let a = std::sync::Arc::new(api(db).await);
    let wait = |queues: Vec<&'static str>| {
        let a = a.clone();
        tokio::spawn(async move {
            a.post(
                "/api/queue/jobs/claim",
                json!({"workerId": "w", "queues": queues, "waitMs": 20000}),
            )
            .await
        })
    };
    let empty_before = common::empty_claims(&a.svc);
    let waiter = wait(vec!["a"]);
    common::wait_for("the claim to wait", Duration::from_secs(5), || {
        common::empty_claims(&a.svc) > empty_before
    })
    .await;
    let at = std::time::Instant::now();
    a.post(
        "/api/queues/a/pause",
        json!({"mode": "drain", "reason": "x"}),
    )
    .await;
    let c = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("answered by the pause")
        .unwrap();
    // Well inside the 1 s re-check: the pause itself woke it.
    assert!(
        at.elapsed() < Duration::from_millis(600),
        "{:?}",
        at.elapsed()
    );
    assert_eq!(c["job"], Value::Null);
    assert_eq!(c["system"]["pausedQueues"][0]["name"], "a");

    a.enqueue_in("a").await;
    let empty_before = common::empty_claims(&a.svc);
    let waiter = wait(vec!["a", "b"]);
    common::wait_for("the claim to wait", Duration::from_secs(5), || {
        common::empty_claims(&a.svc) > empty_before
    })
    .await;
    let at = std::time::Instant::now();
    a.post("/api/queues/a/resume", json!({"reason": "x"})).await;
    let c = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("woken by the resume")
        .unwrap();
    assert!(
        at.elapsed() < Duration::from_millis(600),
        "{:?}",
        at.elapsed()
    );
    assert_eq!(c["job"]["queue"], "a");
}

async fn metrics_have_gauges_per_queue(db: TestDb) {
    let a = api(db).await;
    a.enqueue_in("emails").await;
    a.enqueue_in("emails").await;
    a.claim_in("w", &["emails"]).await;
    a.post(
        "/api/queues/emails/pause",
        json!({"mode": "drain", "reason": "x"}),
    )
    .await;
    let (_, m) = a.raw(Method::GET, "/metrics", None).await;
    for line in [
        "lull_queue_paused{queue=\"emails\"} 1",
        "lull_queue_jobs{queue=\"emails\",status=\"queued\"} 1",
        "lull_queue_jobs{queue=\"emails\",status=\"running\"} 1",
        "lull_queue_pause_actions_total{action=\"pause\"} 1",
    ] {
        assert!(m.lines().any(|l| l == line), "{line} in\n{m}");
    }
}

on_both_stores!(
    a_queue_is_paused_and_resumed_through_the_api,
    a_queue_with_no_jobs_can_be_paused_ahead,
    claims_of_paused_queues_touch_no_storage,
    a_quiesced_queue_tells_its_running_jobs_to_hold,
    a_timed_queue_pause_ends_by_itself,
    a_waiting_claim_follows_its_queues_pause_and_resume,
    metrics_have_gauges_per_queue,
);
