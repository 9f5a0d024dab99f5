//! The HTTP API in-process (`Router::oneshot`), on both stores: the seed
//! quickstart, the claim guard, bad input, conflicts and the runbook
//! endpoints.

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

impl Api {
    async fn enqueue(&self) -> String {
        let v = self
            .post(
                "/api/queue/jobs",
                json!({"type": "email", "payload": {"to": "a@b"}}),
            )
            .await;
        v["id"].as_str().unwrap().to_string()
    }

    async fn claim(&self, worker: &str) -> Value {
        self.post("/api/queue/jobs/claim", json!({"workerId": worker}))
            .await
    }
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
        json!({"workersPaused": true, "mode": "drain", "reason": "Rolling API migration", "version": 2, "pausePollIntervalMs": 5000})
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

/// (method, path, body, expected status, error code, error field)
type BadCase = (
    Method,
    String,
    Option<&'static str>,
    StatusCode,
    &'static str,
    Option<&'static str>,
);

/// Every malformed request: a JSON error with the right status and field,
/// and the state unchanged.
async fn bad_input_is_a_json_4xx_and_changes_nothing(db: TestDb) {
    let a = api(db).await;
    let id = a.enqueue().await;
    let before_state = a.get("/api/system/worker-pause").await;
    let before_jobs = a.get("/api/queue/jobs").await;
    let long = "r".repeat(501);
    let cases: Vec<BadCase> = vec![
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some("{not json"),
            StatusCode::BAD_REQUEST,
            "invalid_json",
            None,
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_json",
            None,
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(r#"{"action":"pause","mode":"drain","reason":7}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("reason"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(r#"{"action":"pause","mode":"drain","reason":"x","forceResume":"yes"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("forceResume"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(r#"{"action":"pause","mode":"drain","reason":"x","extra":1}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("extra"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(r#"{"action":"halt","reason":"x"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("action"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(r#"{"action":"pause","mode":"drain","reason":"x","until":"in an hour"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("until"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(
                r#"{"action":"pause","mode":"drain","reason":"x","until":"2001-01-01T00:00:00Z"}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("until"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(r#"{"action":"resume","reason":"x","until":"2999-01-01T00:00:00Z"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("until"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(r#"{"action":"pause","mode":"nap","reason":"x"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("mode"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(r#"{"action":"pause","reason":"x"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("mode"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(r#"{"action":"pause","mode":"drain"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("reason"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(r#"{"action":"pause","mode":"drain","reason":"   "}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("reason"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(Box::leak(
                format!(r#"{{"action":"pause","mode":"drain","reason":"{long}"}}"#)
                    .into_boxed_str(),
            )),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("reason"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(r#"{"action":"resume"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("reason"),
        ),
        (
            Method::GET,
            "/api/system/worker-pause/events?limit=0".into(),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("limit"),
        ),
        (
            Method::GET,
            "/api/system/worker-pause/events?limit=abc".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_query",
            Some("limit"),
        ),
        (
            Method::POST,
            "/api/queue/jobs".into(),
            Some(r#"{"payload":{}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("type"),
        ),
        (
            Method::POST,
            "/api/queue/jobs".into(),
            Some(r#"{"type":"a","maxAttempts":0}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("maxAttempts"),
        ),
        (
            Method::POST,
            "/api/queue/jobs/claim".into(),
            Some(r#"{}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("workerId"),
        ),
        (
            Method::POST,
            "/api/queue/jobs/claim".into(),
            Some(r#"{"workerId":"w","leaseSeconds":1}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("leaseSeconds"),
        ),
        (
            Method::POST,
            "/api/queue/jobs/claim".into(),
            Some(r#"{"workerId":"w","leaseSeconds":-5}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("leaseSeconds"),
        ),
        (
            Method::GET,
            "/api/queue/jobs/not-a-uuid".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_id",
            Some("id"),
        ),
        (
            Method::GET,
            format!("/api/queue/jobs/{}", uuid::Uuid::new_v4()),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        ),
        (
            Method::POST,
            format!("/api/queue/jobs/{}/cancel", uuid::Uuid::new_v4()),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        ),
        (
            Method::POST,
            format!("/api/queue/jobs/{id}/heartbeat"),
            Some(r#"{"workerId":"w"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("leaseToken"),
        ),
        (
            Method::POST,
            format!("/api/queue/jobs/{id}/complete"),
            Some(r#"{"workerId":"w","leaseToken":"nope"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("leaseToken"),
        ),
        (
            Method::POST,
            format!("/api/queue/jobs/{id}/retry"),
            None,
            StatusCode::CONFLICT,
            "conflict",
            None,
        ),
        (
            Method::GET,
            "/api/queue/jobs?status=bogus".into(),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("status"),
        ),
        (
            Method::GET,
            "/api/no/such/route".into(),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        ),
        (
            Method::DELETE,
            "/api/system/worker-pause".into(),
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            None,
        ),
        (
            Method::POST,
            "/scheduler/pause".into(),
            Some(r#"{"mode":"nap"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("mode"),
        ),
        (
            Method::POST,
            "/scheduler/pause".into(),
            Some(r#"{"reason":""}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("reason"),
        ),
        (
            Method::GET,
            "/dispatches/xyz".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_id",
            Some("id"),
        ),
    ];
    for (method, path, body, status, code, field) in cases {
        let (s, v) = a.call_raw_json(method.clone(), &path, body).await;
        assert_eq!(s, status, "{method} {path} {body:?}: {v}");
        assert_eq!(v["error"]["code"], code, "{method} {path} {body:?}: {v}");
        assert!(v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
        assert_eq!(
            v["error"]["field"].as_str(),
            field,
            "{method} {path} {body:?}: {v}"
        );
    }
    // Oversized body: 413, JSON.
    let huge = format!(
        r#"{{"type":"a","payload":"{}"}}"#,
        "x".repeat(server::http::MAX_BODY_BYTES + 10)
    );
    let (s, v) = a
        .call_raw_json(
            Method::POST,
            "/api/queue/jobs",
            Some(Box::leak(huge.into_boxed_str())),
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(v["error"]["code"], "payload_too_large");

    assert_eq!(
        a.get("/api/system/worker-pause").await,
        before_state,
        "pause state unchanged"
    );
    assert_eq!(
        a.get("/api/queue/jobs").await,
        before_jobs,
        "jobs unchanged"
    );
}

impl Api {
    async fn call_raw_json(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
    ) -> (StatusCode, Value) {
        let (s, text) = self
            .raw(method, path, body.map(|b| b.as_bytes().to_vec()))
            .await;
        let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: not JSON: {text}"));
        (s, v)
    }
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
    bad_input_is_a_json_4xx_and_changes_nothing,
    runbook_endpoints_share_the_api_state,
    a_timed_pause_resumes_by_itself,
    events_endpoint_pages,
);
