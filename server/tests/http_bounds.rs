//! Bounded and need-to-know answers (issue #15, findings 4 and 7 and the
//! listing caps), over real HTTP on both stores: `/health` shows its
//! details only to readers; the event list needs read access; event
//! streams are capped in total and per token, and end when their token is
//! revoked; job listings cap `limit` and leave payloads out unless asked.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::{Duration, Instant};

use common::served::Served;
use common::TestDb;
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::auth::AuthMode;
use server::domain::Role;
use server::service::tokens::create_token;
use server::service::{now, ServiceConfig};
use server::streams::StreamLimits;

const STREAM: &str = "/api/system/worker-pause/stream";

fn token_mode() -> ServiceConfig {
    ServiceConfig {
        auth_mode: AuthMode::Token,
        // Failed credentials are part of these tests, not their subject.
        auth_failure_burst: 1_000_000,
        ..Default::default()
    }
}

async fn token(s: &Served, name: &str, role: Role) -> String {
    create_token(s.db.store.as_ref(), name, role, now())
        .await
        .unwrap()
        .1
}

async fn get(s: &Served, path: &str, bearer: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(s.url(path));
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

async fn get_json(s: &Served, path: &str, bearer: Option<&str>) -> (StatusCode, Value) {
    let r = get(s, path, bearer).await;
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post_json(s: &Served, path: &str, bearer: &str, body: Value) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(s.url(path))
        .bearer_auth(bearer)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Opens an event stream and reads its first event (the state).
async fn open_stream(s: &Served, bearer: &str) -> reqwest::Response {
    let mut r = get(s, STREAM, Some(bearer)).await;
    assert_eq!(r.status(), StatusCode::OK, "{bearer}");
    let first = tokio::time::timeout(Duration::from_secs(5), r.chunk())
        .await
        .expect("the first event comes at once")
        .unwrap()
        .expect("the first event");
    assert!(String::from_utf8_lossy(&first).contains("event: state"));
    r
}

/// Reads a stream until the server ends it; `Err` when it is still open
/// after `within`.
async fn ends_within(r: &mut reqwest::Response, within: Duration) -> Result<(), ()> {
    tokio::time::timeout(within, async { while let Ok(Some(_)) = r.chunk().await {} })
        .await
        .map_err(|_| ())
}

/// Finding 4: the public `/health` names no actor, reason or event; a
/// reader (or the local user) gets the full body; a worker token is not a
/// reader; a bad credential is refused, not downgraded.
async fn health_details_are_for_readers(db: TestDb) {
    let s = Served::start(db, token_mode()).await;
    let op = token(&s, "op-alice", Role::Operator).await;
    let viewer = token(&s, "viewer-1", Role::Viewer).await;
    let worker = token(&s, "w1", Role::Worker).await;
    let reason = "swapping the disk under ticket OPS-7";
    let (st, v) = post_json(
        &s,
        "/api/system/worker-pause",
        &op,
        json!({"action": "pause", "mode": "drain", "reason": reason}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");

    for (who, bearer) in [("anonymous", None), ("worker", Some(worker.as_str()))] {
        let r = get(&s, "/health", bearer).await;
        assert_eq!(r.status(), StatusCode::OK, "{who}");
        let text = r.text().await.unwrap();
        for secret in ["op-alice", reason, "version", "sqlite", "postgres"] {
            assert!(!text.contains(secret), "{who} sees {secret:?}: {text}");
        }
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["healthy"], true, "{who}");
        assert_eq!(v["recent_events"], json!([]), "{who}");
        assert!(v.get("database").is_none(), "{who}: {v}");
        let checks = v["checks"].as_array().unwrap();
        let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"database") && names.contains(&"acknowledgement"));
        for c in checks {
            let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["name", "status"], "{who}: only name and status");
        }
    }

    let (st, v) = get_json(&s, "/health", Some(&viewer)).await;
    assert_eq!(st, StatusCode::OK);
    let events = v["recent_events"].to_string();
    assert!(
        events.contains("op-alice") && events.contains(reason),
        "{v}"
    );
    assert_eq!(v["database"], s.db.store.backend());
    assert!(v["checks"][0]["message"].is_string(), "{v}");

    let (st, v) = get_json(&s, "/health", Some("lull_abcdef123456_bad")).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(v["error"]["code"], "unauthorized");
}

/// Disabled auth mode: the local user is everyone, and sees everything.
async fn health_is_full_in_local_mode(db: TestDb) {
    let s = Served::start(db, ServiceConfig::default()).await;
    let (st, v) = get_json(&s, "/health", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["database"], s.db.store.backend());
    assert!(v["checks"][0]["message"].is_string(), "{v}");
}

/// The audit log itself needs read access.
async fn events_need_read_access(db: TestDb) {
    let s = Served::start(db, token_mode()).await;
    let worker = token(&s, "w1", Role::Worker).await;
    let viewer = token(&s, "viewer-1", Role::Viewer).await;
    let path = "/api/system/worker-pause/events";
    let (st, v) = get_json(&s, path, None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(
        get_json(&s, path, Some(&worker)).await.0,
        StatusCode::FORBIDDEN
    );
    let (st, v) = get_json(&s, path, Some(&viewer)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(v["events"].is_array(), "{v}");
}

fn assert_too_many(st: StatusCode, retry_after: Option<&str>, v: &Value, which: &str) {
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{which}: {v}");
    assert_eq!(v["error"]["code"], "too_many_streams", "{which}");
    assert!(
        retry_after.unwrap().parse::<u64>().unwrap() >= 1,
        "{which}: Retry-After"
    );
}

async fn refused_stream(s: &Served, bearer: &str) -> (StatusCode, Option<String>, Value) {
    let r = get(s, STREAM, Some(bearer)).await;
    let st = r.status();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (st, retry, r.json().await.unwrap_or(Value::Null))
}

/// Finding 7: a token may hold `per_token` streams, the server `total`;
/// over either is 429 `too_many_streams` with `Retry-After`, while other
/// tokens still connect; a closed stream frees its place.
async fn event_streams_are_capped(db: TestDb) {
    let cfg = ServiceConfig {
        streams: StreamLimits {
            total: 3,
            per_token: 2,
        },
        ..token_mode()
    };
    let s = Served::start(db, cfg).await;
    let a = token(&s, "viewer-a", Role::Viewer).await;
    let b = token(&s, "viewer-b", Role::Viewer).await;
    let c = token(&s, "viewer-c", Role::Viewer).await;
    let a1 = open_stream(&s, &a).await;
    let _a2 = open_stream(&s, &a).await;
    let (st, retry, v) = refused_stream(&s, &a).await;
    assert_too_many(st, retry.as_deref(), &v, "third stream of one token");
    let _b1 = open_stream(&s, &b).await;
    assert_eq!(s.svc.open_streams(), 3);
    let (st, retry, v) = refused_stream(&s, &c).await;
    assert_too_many(st, retry.as_deref(), &v, "over the total");

    // A client that goes away frees its place: the server sees the
    // connection close (no event needs to be written for it).
    drop(a1);
    common::wait_for(
        "a closed stream is uncounted",
        Duration::from_secs(5),
        || s.svc.open_streams() == 2,
    )
    .await;
    let _c1 = open_stream(&s, &c).await;
}

/// Finding 7: revoking a token (as `lull token revoke` does, from another
/// connection) ends its open stream promptly — at once on PostgreSQL
/// (NOTIFY), within the one-second token cache on SQLite — while another
/// token's stream stays; the revoked token's next stream is 401.
async fn revoking_a_token_ends_its_streams(db: TestDb) {
    let s = Served::start(db, token_mode()).await;
    let gone = token(&s, "viewer-gone", Role::Viewer).await;
    let kept = token(&s, "viewer-kept", Role::Viewer).await;
    let mut doomed = open_stream(&s, &gone).await;
    let mut other = open_stream(&s, &kept).await;

    let elsewhere = server::storage::connect(&s.db.url).await.unwrap();
    elsewhere.revoke_token("viewer-gone", now()).await.unwrap();
    let revoked_at = Instant::now();
    ends_within(&mut doomed, Duration::from_secs(3))
        .await
        .expect("the revoked token's stream ends");
    let took = revoked_at.elapsed();
    eprintln!(
        "{}: stream ended {took:?} after revocation",
        s.db.store.backend()
    );
    if s.db.store.backend() == "postgres" {
        assert!(
            took < Duration::from_millis(900),
            "NOTIFY: at once ({took:?})"
        );
    }
    assert!(
        ends_within(&mut other, Duration::from_millis(300))
            .await
            .is_err(),
        "another token's stream stays open"
    );
    assert_eq!(s.svc.open_streams(), 1);
    let (st, v) = get_json(&s, STREAM, Some(&gone)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
}

/// The listing caps: `limit` over 500 is 422 (not clamped: the caller
/// learns its page is not what it asked for); payloads and results are
/// left out unless `include=payload`; the single job has them.
async fn job_listings_are_bounded(db: TestDb) {
    let s = Served::start(db, token_mode()).await;
    let op = token(&s, "op", Role::Operator).await;
    let w = token(&s, "w1", Role::Worker).await;
    let payload = json!({"card": "card-number-kept-private", "blob": "x".repeat(10_000)});
    let (st, job) = post_json(
        &s,
        "/api/queue/jobs",
        &op,
        json!({"type": "charge", "payload": payload}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{job}");
    let (st, claim) = post_json(&s, "/api/queue/jobs/claim", &w, json!({"workerId": "w1"})).await;
    assert_eq!(st, StatusCode::OK, "{claim}");
    assert_eq!(claim["job"]["payload"], payload, "a claim carries it");
    let id = claim["job"]["id"].as_str().unwrap().to_string();
    let (st, v) = post_json(
        &s,
        &format!("/api/queue/jobs/{id}/complete"),
        &w,
        json!({"workerId": "w1", "leaseToken": claim["job"]["leaseToken"], "result": {"receipt": "receipt-kept-private"}}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    post_json(&s, "/api/queue/jobs", &op, json!({"type": "other"})).await;

    let (st, v) = get_json(&s, "/api/queue/jobs?limit=501", Some(&op)).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "limit");
    assert!(v["error"]["message"].as_str().unwrap().contains("500"));
    let (st, v) = get_json(&s, "/api/queue/jobs?limit=500", Some(&op)).await;
    assert_eq!(st, StatusCode::OK, "{v}");

    let r = get(&s, "/api/queue/jobs", Some(&op)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    // Markers no id or timestamp can contain (not hex, not digits).
    assert!(!text.contains("kept-private"), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let listed = v["jobs"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    for j in listed {
        assert!(
            j.get("payload").is_none() && j.get("result").is_none(),
            "{j}"
        );
        assert!(j["status"].is_string() && j["type"].is_string());
    }

    let (st, v) = get_json(&s, "/api/queue/jobs?include=payload&type=charge", Some(&op)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["jobs"][0]["payload"], payload);
    assert_eq!(
        v["jobs"][0]["result"],
        json!({"receipt": "receipt-kept-private"})
    );
    let (st, v) = get_json(&s, "/api/queue/jobs?include=everything", Some(&op)).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "include");
    let (_, v) = get_json(&s, &format!("/api/queue/jobs/{id}"), Some(&op)).await;
    assert_eq!(v["payload"], payload, "the single job has it");
}

on_both_stores!(
    health_details_are_for_readers,
    health_is_full_in_local_mode,
    events_need_read_access,
    event_streams_are_capped,
    revoking_a_token_ends_its_streams,
    job_listings_are_bounded,
);
