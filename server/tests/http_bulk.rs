//! The Jobs page's endpoints over the HTTP API, in-process, on both
//! stores: the listing's type filter, the filtered count, the bulk retry of
//! failed jobs with its `expectedCount` guard and audit event, the events
//! API filtered by action and actor — and bad input on each: a JSON 4xx
//! naming the field, nothing changed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use axum::http::{Method, StatusCode};
use common::api::Api;
use common::TestDb;
use serde_json::{json, Value};
use server::service::ServiceConfig;

async fn api(db: TestDb) -> Api {
    Api::new(db, ServiceConfig::default(), false).await
}

/// A job of `job_type` in `queue` that failed for good; its id.
async fn failed(a: &Api, job_type: &str, queue: &str) -> String {
    let id = a
        .post(
            "/api/queue/jobs",
            json!({"type": job_type, "queue": queue, "maxAttempts": 1}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let claimed = a
        .post(
            "/api/queue/jobs/claim",
            json!({"workerId": "w", "queues": [queue], "types": [job_type]}),
        )
        .await;
    assert_eq!(claimed["job"]["id"], id.as_str());
    let lease = claimed["job"]["leaseToken"].as_str().unwrap();
    let v = a
        .post(
            &format!("/api/queue/jobs/{id}/fail"),
            json!({"workerId": "w", "leaseToken": lease, "error": "boom", "retryable": false}),
        )
        .await;
    assert_eq!(v["status"], "failed");
    id
}

async fn count(a: &Api, query: &str) -> i64 {
    a.get(&format!("/api/queue/jobs/count?{query}")).await["count"]
        .as_i64()
        .unwrap()
}

async fn statuses(a: &Api, ids: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for id in ids {
        let v = a.get(&format!("/api/queue/jobs/{id}")).await;
        out.push(v["status"].as_str().unwrap().to_string());
    }
    out
}

async fn a_bulk_retry_retries_exactly_what_the_operator_confirmed(db: TestDb) {
    let a = api(db).await;
    let e1 = failed(&a, "email", "emails").await;
    let e2 = failed(&a, "email", "emails").await;
    let report = failed(&a, "report", "emails").await;
    let elsewhere = failed(&a, "email", "other").await;
    a.post(
        "/api/queue/jobs",
        json!({"type": "email", "queue": "emails"}),
    )
    .await;

    assert_eq!(count(&a, "status=failed").await, 4);
    assert_eq!(count(&a, "status=failed&type=email").await, 3);
    assert_eq!(count(&a, "status=failed&type=email&queue=emails").await, 2);
    assert_eq!(count(&a, "type=email&queue=emails").await, 3);
    assert_eq!(count(&a, "").await, 5);
    let listed = a.get("/api/queue/jobs?type=report").await;
    let listed = listed["jobs"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], report.as_str());

    // The set changed since the confirmation: 409, nothing retried.
    let (s, v) = a
        .call(
            Method::POST,
            "/api/queue/jobs/retry-failed",
            Some(json!({"type": "email", "queue": "emails", "reason": "provider back", "expectedCount": 3})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "conflict");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("changed since the confirmation"),
        "{message}"
    );
    assert!(message.contains("2 match now, not 3"), "{message}");
    assert_eq!(
        statuses(&a, &[&e1, &e2]).await,
        ["failed", "failed"],
        "nothing retried"
    );

    let v = a
        .post(
            "/api/queue/jobs/retry-failed",
            json!({"type": "email", "queue": "emails", "reason": "provider back", "expectedCount": 2}),
        )
        .await;
    assert_eq!(v["retried"], 2);
    let mut ids: Vec<&str> = v["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut want = vec![e1.as_str(), e2.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want);
    assert_eq!(statuses(&a, &[&e1, &e2]).await, ["queued", "queued"]);
    assert_eq!(
        statuses(&a, &[&report, &elsewhere]).await,
        ["failed", "failed"]
    );
    assert_eq!(v["event"]["action"], "jobs.retry");
    assert_eq!(v["event"]["actor"], "local");
    assert_eq!(v["event"]["reason"], "provider back");
    assert_eq!(v["event"]["details"]["retried"], 2);

    // The audit log has it, and finds it by action.
    let evs = a
        .get("/api/system/worker-pause/events?action=jobs.retry")
        .await;
    assert_eq!(evs["events"].as_array().unwrap().len(), 1);
    assert_eq!(evs["events"][0]["id"], v["event"]["id"]);
    // A repeat finds none of those left: with the old count it is refused.
    let (s, _) = a
        .call(
            Method::POST,
            "/api/queue/jobs/retry-failed",
            Some(
                json!({"type": "email", "queue": "emails", "reason": "again", "expectedCount": 2}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
}

async fn the_events_api_filters_by_action_and_actor(db: TestDb) {
    let a = api(db).await;
    for body in [
        json!({"action": "pause", "mode": "drain", "reason": "one"}),
        json!({"action": "resume", "reason": "two"}),
        json!({"action": "pause", "mode": "quiesce", "reason": "three"}),
    ] {
        a.post("/api/system/worker-pause", body).await;
    }
    let reasons = |v: &Value| {
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["reason"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let v = a.get("/api/system/worker-pause/events?action=pause").await;
    assert_eq!(reasons(&v), ["three", "one"]);
    let v = a
        .get("/api/system/worker-pause/events?action=pause&actor=LOC&limit=1")
        .await;
    assert_eq!(reasons(&v), ["three"]);
    let before = v["nextBefore"].as_i64().unwrap();
    let v = a
        .get(&format!(
            "/api/system/worker-pause/events?action=pause&actor=LOC&limit=1&before={before}"
        ))
        .await;
    assert_eq!(reasons(&v), ["one"]);
    let v = a.get("/api/system/worker-pause/events?actor=nobody").await;
    assert!(reasons(&v).is_empty());
    assert!(v["nextBefore"].is_null());
    let v = a
        .get("/api/system/worker-pause/events?action=&actor=")
        .await;
    assert_eq!(reasons(&v).len(), 3, "empty filters match everything");
}

async fn bad_input_is_refused_with_the_field_and_changes_nothing(db: TestDb) {
    let a = api(db).await;
    let id = failed(&a, "email", "emails").await;
    let events_before = a.get("/api/system/worker-pause/events").await;
    for (path, status, field) in [
        ("/api/queue/jobs/count?status=lost", 422, Some("status")),
        ("/api/queue/jobs/count?type=a%20b", 422, Some("type")),
        ("/api/queue/jobs/count?queue=no%20way", 422, Some("queue")),
        ("/api/queue/jobs/count?limit=5", 400, None),
        ("/api/queue/jobs?type=%24%24", 422, Some("type")),
        (
            "/api/system/worker-pause/events?action=no%20such",
            422,
            Some("action"),
        ),
        ("/api/system/worker-pause/events?user=x", 400, None),
    ] {
        let (s, v) = a.call(Method::GET, path, None).await;
        assert_eq!(s.as_u16(), status, "{path}: {v}");
        assert!(v["error"]["code"].is_string(), "{path}: JSON error {v}");
        if let Some(field) = field {
            assert_eq!(v["error"]["field"], field, "{path}: {v}");
        }
    }
    let long_actor = format!("/api/system/worker-pause/events?actor={}", "x".repeat(200));
    let (s, v) = a.call(Method::GET, &long_actor, None).await;
    assert_eq!((s.as_u16(), &v["error"]["field"]), (422, &json!("actor")));

    let retry = "/api/queue/jobs/retry-failed";
    for (body, status, field) in [
        (json!({}), 422, Some("reason")),
        (json!({"reason": "   "}), 422, Some("reason")),
        (
            json!({"reason": "r", "expectedCount": -1}),
            422,
            Some("expectedCount"),
        ),
        (json!({"reason": "r", "type": "a b"}), 422, Some("type")),
        (
            json!({"reason": "r", "queue": "no way"}),
            422,
            Some("queue"),
        ),
        (
            json!({"reason": "r", "status": "failed"}),
            422,
            Some("status"),
        ),
        (
            json!({"reason": "r", "expectedCount": "one"}),
            422,
            Some("expectedCount"),
        ),
    ] {
        let (s, v) = a.call(Method::POST, retry, Some(body.clone())).await;
        assert_eq!(s.as_u16(), status, "{body}: {v}");
        assert!(v["error"]["code"].is_string(), "{body}: {v}");
        if let Some(field) = field {
            assert_eq!(v["error"]["field"], field, "{body}: {v}");
        }
    }
    let (s, v) = a
        .call_raw_json(Method::POST, retry, Some("{not json"))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(statuses(&a, &[&id]).await, ["failed"], "nothing retried");
    assert_eq!(
        a.get("/api/system/worker-pause/events").await,
        events_before,
        "nothing audited"
    );
}

on_both_stores!(
    a_bulk_retry_retries_exactly_what_the_operator_confirmed,
    the_events_api_filters_by_action_and_actor,
    bad_input_is_refused_with_the_field_and_changes_nothing,
);
