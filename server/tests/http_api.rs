//! The HTTP API in-process (`Router::oneshot`), on both stores: the seed
//! quickstart, the claim guard, conflicts and the runbook endpoints. (Bad
//! input: `http_input.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use axum::http::{Method, StatusCode};
use chrono::SubsecRound;
use common::api::Api;
use common::TestDb;
use serde_json::{json, Value};
use server::service::ServiceConfig;

async fn api(db: TestDb) -> Api {
    Api::new(db, ServiceConfig::default(), false).await
}

/// The seed quickstart, steps 1–7, over the API.
async fn quickstart_flow(db: TestDb) {
    let a = api(db).await;
    let s = a.get("/api/system/worker-pause").await;
    assert_eq!(s["workersPaused"], false);
    assert_eq!(s["version"], 1);
    assert_eq!(
        s["metrics"],
        json!({"queued": 0, "running": 0, "staleRunning": 0, "isDrained": true})
    );
    for key in [
        "mode",
        "reason",
        "requestedBy",
        "requestedAt",
        "updatedAt",
        "audit",
    ] {
        assert!(s.get(key).is_some(), "status has {key}");
    }

    let p = a
        .post(
            "/api/system/worker-pause",
            json!({"action": "pause", "mode": "drain", "reason": "Rolling API migration"}),
        )
        .await;
    assert_eq!(
        (
            p["workersPaused"].clone(),
            p["mode"].clone(),
            p["version"].clone()
        ),
        (json!(true), json!("drain"), json!(2))
    );
    assert_eq!(p["requestedBy"], "local");
    assert!(p.get("warning").is_none());

    a.enqueue().await;
    let c = a.claim("w1").await;
    assert_eq!(c["job"], Value::Null);
    assert_eq!(
        c["system"],
        json!({"workersPaused": true, "mode": "drain", "reason": "Rolling API migration", "version": 2, "pausePollIntervalMs": 5000, "pausedQueues": []})
    );

    let q = a
        .post(
            "/api/system/worker-pause",
            json!({"action": "pause", "mode": "quiesce", "reason": "Short-lived infra tweak"}),
        )
        .await;
    assert_eq!(
        (q["mode"].clone(), q["version"].clone()),
        (json!("quiesce"), json!(3))
    );

    let r = a
        .post(
            "/api/system/worker-pause",
            json!({"action": "resume", "reason": "Maintenance complete"}),
        )
        .await;
    assert_eq!(
        (
            r["workersPaused"].clone(),
            r["mode"].clone(),
            r["version"].clone()
        ),
        (json!(false), Value::Null, json!(4))
    );
    assert!(r.get("warning").is_none(), "drained: no warning");

    let latest = r["audit"]["latest"].as_array().unwrap();
    let actions: Vec<_> = latest
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["resume", "pause", "pause"]);
    assert_eq!(latest[0]["reason"], "Maintenance complete");
    assert_eq!(latest[2]["reason"], "Rolling API migration");

    let c = a.claim("w1").await;
    assert_eq!(c["job"]["type"], "email");
    assert_eq!(c["system"]["workersPaused"], false);
}

/// While paused, claims answer from the cache: no storage call at all.
async fn paused_claims_touch_no_storage(db: TestDb) {
    let a = api(db).await;
    a.enqueue().await;
    a.post(
        "/api/system/worker-pause",
        json!({"action": "pause", "mode": "drain", "reason": "x"}),
    )
    .await;
    let before = a.svc.storage_calls();
    for i in 0..50 {
        let c = a.claim(&format!("w{i}")).await;
        assert_eq!(c["job"], Value::Null);
        assert_eq!(c["system"]["workersPaused"], true);
    }
    assert_eq!(
        a.svc.storage_calls(),
        before,
        "no database round trip while paused"
    );
    let m = a.raw(Method::GET, "/metrics", None).await.1;
    assert!(
        m.contains("lull_claims_total{outcome=\"paused\"} 50"),
        "{m}"
    );
}

async fn heartbeat_carries_the_system_block_and_fencing_is_409(db: TestDb) {
    let a = api(db).await;
    let id = a.enqueue().await;
    let c = a.claim("w1").await;
    let token = c["job"]["leaseToken"].as_str().unwrap().to_string();
    a.post(
        "/api/system/worker-pause",
        json!({"action": "pause", "mode": "quiesce", "reason": "x"}),
    )
    .await;
    let hb = a
        .post(
            &format!("/api/queue/jobs/{id}/heartbeat"),
            json!({"workerId": "w1", "leaseToken": token, "pausedAtCheckpoint": true}),
        )
        .await;
    assert_eq!(hb["system"]["mode"], "quiesce");
    assert_eq!(hb["job"]["pausedAtCheckpoint"], true);
    let job = a.get(&format!("/api/queue/jobs/{id}")).await;
    for key in [
        "id",
        "type",
        "status",
        "attempts",
        "workerId",
        "leaseExpiresAt",
    ] {
        assert!(job.get(key).is_some(), "job has {key}");
    }
    assert_eq!(job["status"], "running");
    assert!(job.get("leaseToken").is_none());
    // Wrong token: 409 and nothing changes.
    let wrong = uuid::Uuid::new_v4().to_string();
    for ep in ["heartbeat", "complete", "fail"] {
        let mut body = json!({"workerId": "w1", "leaseToken": wrong});
        if ep == "fail" {
            body["error"] = json!("x");
        }
        let (s, v) = a
            .call(
                Method::POST,
                &format!("/api/queue/jobs/{id}/{ep}"),
                Some(body),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{ep}: {v}");
        assert_eq!(v["error"]["code"], "lease_lost");
    }
    assert_eq!(a.get(&format!("/api/queue/jobs/{id}")).await, job);
    let done = a
        .post(
            &format!("/api/queue/jobs/{id}/complete"),
            json!({"workerId": "w1", "leaseToken": token, "result": {"ok": 1}}),
        )
        .await;
    assert_eq!(done["status"], "succeeded");
}

async fn resume_before_drained_warns_and_audits_force_resume(db: TestDb) {
    let a = api(db).await;
    a.enqueue().await;
    a.claim("w1").await;
    let drain = a.get("/api/system/worker-pause/drain").await;
    assert_eq!(drain["metrics"]["running"], 1);
    assert_eq!(drain["blocking"][0]["workerId"], "w1");
    assert_eq!(drain["blocking"][0]["stale"], false);
    assert!(drain["blocking"][0]["leaseExpiresAt"].is_string());
    a.post(
        "/api/system/worker-pause",
        json!({"action": "pause", "mode": "drain", "reason": "x"}),
    )
    .await;
    let r = a
        .post(
            "/api/system/worker-pause",
            json!({"action": "resume", "reason": "hurry", "forceResume": true}),
        )
        .await;
    assert!(r["warning"].as_str().unwrap().contains("1 running"));
    let ev = &a.get("/api/system/worker-pause/events?limit=1").await["events"][0];
    assert_eq!(ev["action"], "resume");
    assert_eq!(ev["forceResume"], true);
    assert_eq!(ev["metrics"]["running"], 1);
    assert_eq!(ev["metrics"]["isDrained"], false);
}

async fn expected_version_conflict_is_409_with_the_current_state(db: TestDb) {
    let a = api(db).await;
    a.post(
        "/api/system/worker-pause",
        json!({"action": "pause", "mode": "drain", "reason": "x"}),
    )
    .await;
    let (s, v) = a
        .call(
            Method::POST,
            "/api/system/worker-pause",
            Some(json!({"action": "resume", "reason": "y", "expectedVersion": 1})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(v["error"]["code"], "version_conflict");
    assert_eq!(v["current"]["version"], 2);
    assert_eq!(v["current"]["workersPaused"], true);
    assert_eq!(
        a.get("/api/system/worker-pause").await["workersPaused"],
        true
    );
    let ok = a
        .post(
            "/api/system/worker-pause",
            json!({"action": "resume", "reason": "y", "expectedVersion": 2}),
        )
        .await;
    assert_eq!(ok["version"], 3);
}

async fn no_op_requests_keep_the_version(db: TestDb) {
    let a = api(db).await;
    let r = a
        .post(
            "/api/system/worker-pause",
            json!({"action": "resume", "reason": "nothing to resume"}),
        )
        .await;
    assert_eq!(r["version"], 1);
    a.post(
        "/api/system/worker-pause",
        json!({"action": "pause", "mode": "drain", "reason": "x"}),
    )
    .await;
    let again = a
        .post(
            "/api/system/worker-pause",
            json!({"action": "pause", "mode": "drain", "reason": "  x  "}),
        )
        .await;
    assert_eq!(
        again["version"], 2,
        "same mode and (trimmed) reason is a no-op"
    );
    assert_eq!(
        a.get("/api/system/worker-pause/events").await["events"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// The maintenance runbook's pause / verify / resume / verify snippets.
async fn runbook_endpoints_share_the_api_state(db: TestDb) {
    let a = api(db).await;
    let h = a.get("/health").await;
    assert_eq!(h["healthy"], true);
    let st = a.get("/scheduler/status").await;
    assert_eq!(
        (st["state"].clone(), st["version"].clone()),
        (json!("running"), json!(1))
    );

    let id = a.enqueue().await;
    a.claim("w1").await;
    let (s, _) = a.raw(Method::POST, "/scheduler/pause", None).await;
    assert_eq!(s, StatusCode::OK);
    let st = a.get("/scheduler/status").await;
    assert_eq!(st["state"], "paused");
    assert!(
        st["paused_at"].as_str().unwrap().len() == 19,
        "YYYY-MM-DD HH:MM:SS"
    );
    assert_eq!(
        a.get("/api/system/worker-pause").await["workersPaused"],
        true
    );
    // A second bare pause changes nothing.
    a.raw(Method::POST, "/scheduler/pause", None).await;
    assert_eq!(a.get("/scheduler/status").await["version"], 2);

    let status = a.get("/status").await;
    assert_eq!(status["running_count"], 1);
    assert_eq!(status["queued_count"], 0);
    assert_eq!(
        status["recent_dispatch_count"], 0,
        "no dispatch since the pause"
    );

    let d = a.get(&format!("/dispatches/{id}")).await;
    assert_eq!(d["status"], "running");
    assert_eq!(d["worker_id"], "w1");
    let c = a
        .post(&format!("/dispatches/{id}/cancel"), json!(null))
        .await;
    assert_eq!(c["status"], "cancelled");
    let r = a
        .post(&format!("/dispatches/{id}/retry"), json!(null))
        .await;
    assert_eq!(r["status"], "queued");

    let (s, body) = a.raw(Method::POST, "/scheduler/resume", None).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let st = a.get("/scheduler/status").await;
    assert_eq!(st["state"], "running");
    assert!(st["resumed_at"].is_string());
    a.claim("w2").await;
    assert_eq!(
        a.get("/status").await["recent_dispatch_count"],
        1,
        "dispatches resumed"
    );

    let h = a.get("/health").await;
    let events = h["recent_events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert!(events[0]["message"].as_str().unwrap().contains("resume"));
    assert!(events
        .iter()
        .all(|e| e["type"] == "info" || e["type"] == "warning"));

    let (s, m) = a.raw(Method::GET, "/metrics", None).await;
    assert_eq!(s, StatusCode::OK);
    for needle in [
        "lull_workers_paused 0",
        "lull_pause_version 3",
        "lull_pause_actions_total{action=\"pause\"} 1",
        "lull_pause_actions_total{action=\"resume\"} 1",
        "lull_claims_total{outcome=\"claimed\"} 2",
        "lull_jobs{status=\"running\"} 1",
        "lull_job_latency_seconds_count",
        "lull_dispatch_failures_total 0",
    ] {
        assert!(m.contains(needle), "metrics lacks {needle}:\n{m}");
    }
}

/// A timed pause shows its end, then ends by itself: resumed by `system`,
/// audited once, workers told at once.
async fn a_timed_pause_resumes_by_itself(db: TestDb) {
    let a = Api::new(db, ServiceConfig::default(), true).await;
    let until = chrono::Utc::now() + chrono::Duration::milliseconds(1200);
    let until_text = until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let p = a
        .post(
            "/api/system/worker-pause",
            json!({"action": "pause", "mode": "quiesce", "reason": "DB failover window", "until": until_text}),
        )
        .await;
    assert_eq!(p["workersPaused"], true);
    let shown = p["until"].as_str().expect("until in the status");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(shown).unwrap(),
        until.trunc_subsecs(3)
    );
    assert_eq!(a.claim("w1").await["system"]["workersPaused"], true);
    // The server's own timed-resume check ends it: wait for its cache.
    let mut rx = a.svc.cache().subscribe();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        rx.wait_for(|st| !st.workers_paused),
    )
    .await;
    let s = a.get("/api/system/worker-pause").await;
    assert_eq!(
        s["workersPaused"], false,
        "the timed pause did not end: {s}"
    );
    assert!(s.get("until").is_none(), "{s}");
    let resumed_at =
        chrono::DateTime::parse_from_rfc3339(s["requestedAt"].as_str().unwrap()).unwrap();
    assert!(
        resumed_at >= until.trunc_subsecs(3),
        "resumed before its time"
    );
    assert_eq!(s["requestedBy"], "system");
    let events = a.get("/api/system/worker-pause/events").await;
    let events = events["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(
        (events[0]["action"].clone(), events[0]["actor"].clone()),
        (json!("resume"), json!("system"))
    );
    assert!(events[0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("timed pause ended"));
    assert!(events[1]["details"]["until"].is_string(), "{}", events[1]);
    assert_eq!(a.claim("w1").await["system"]["workersPaused"], false);
}

async fn events_endpoint_pages(db: TestDb) {
    let a = api(db).await;
    for i in 0..3 {
        a.post(
            "/api/system/worker-pause",
            json!({"action": "pause", "mode": "drain", "reason": format!("r{i}")}),
        )
        .await;
    }
    let p1 = a.get("/api/system/worker-pause/events?limit=2").await;
    assert_eq!(p1["events"].as_array().unwrap().len(), 2);
    let before = p1["nextBefore"].as_i64().unwrap();
    let p2 = a
        .get(&format!(
            "/api/system/worker-pause/events?limit=2&before={before}"
        ))
        .await;
    assert_eq!(p2["events"].as_array().unwrap().len(), 1);
    assert_eq!(p2["events"][0]["reason"], "r0");
    assert_eq!(p2["nextBefore"], Value::Null);
}

on_both_stores!(
    quickstart_flow,
    paused_claims_touch_no_storage,
    heartbeat_carries_the_system_block_and_fencing_is_409,
    resume_before_drained_warns_and_audits_force_resume,
    expected_version_conflict_is_409_with_the_current_state,
    no_op_requests_keep_the_version,
    runbook_endpoints_share_the_api_state,
    a_timed_pause_resumes_by_itself,
    events_endpoint_pages,
);
