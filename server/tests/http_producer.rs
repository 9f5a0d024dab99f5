//! The producer's and the batch endpoints over the HTTP API, in-process, on
//! both stores: unique jobs (201, then 200 with `duplicate`), scheduled
//! jobs (`scheduled` status and filter), batch enqueue, batch complete and
//! fail with a lost lease, the retention task — and every bad input of the
//! new endpoints as a JSON 4xx that changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::api::Api;
use common::TestDb;
use serde_json::{json, Value};
use server::domain::RetentionPolicy;
use server::service::ServiceConfig;

async fn api(db: TestDb) -> Api {
    Api::new(db, ServiceConfig::default(), false).await
}

async fn unique_and_scheduled_enqueues(db: TestDb) {
    let a = api(db).await;
    let body = json!({"type": "welcome", "uniqueKey": "user:42", "payload": {"user": 42}});
    let (s, first) = a
        .call(Method::POST, "/api/queue/jobs", Some(body.clone()))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert_eq!(
        (first["duplicate"].clone(), first["uniqueKey"].clone()),
        (json!(false), json!("user:42"))
    );
    let (s, again) = a.call(Method::POST, "/api/queue/jobs", Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(
        (again["duplicate"].clone(), again["id"].clone()),
        (json!(true), first["id"].clone())
    );

    let (s, later) = a
        .call(
            Method::POST,
            "/api/queue/jobs",
            Some(json!({"type": "t", "delaySeconds": 3600})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(later["status"], "scheduled");
    let at = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let (_, at_job) = a
        .call(
            Method::POST,
            "/api/queue/jobs",
            Some(json!({"type": "t", "runAt": at, "queue": "q"})),
        )
        .await;
    assert_eq!(
        (at_job["status"].clone(), at_job["queue"].clone()),
        (json!("scheduled"), json!("q"))
    );
    let scheduled = a.get("/api/queue/jobs?status=scheduled").await;
    assert_eq!(scheduled["jobs"].as_array().unwrap().len(), 2);
    let queued = a.get("/api/queue/jobs?status=queued").await;
    assert_eq!(
        queued["jobs"].as_array().unwrap().len(),
        1,
        "only the ready one"
    );
    assert_eq!(
        a.get("/api/queue/jobs?queue=q").await["jobs"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let got = a
        .get(&format!(
            "/api/queue/jobs/{}",
            later["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(got["status"], "scheduled");
    // Nothing scheduled is handed out now.
    let c = a.claim("w").await;
    assert_eq!(c["job"]["id"], first["id"]);
    assert_eq!(a.claim("w2").await["job"], Value::Null);
    let q = a.get("/api/queues/q").await;
    assert_eq!(
        (q["queued"].clone(), q["scheduled"].clone()),
        (json!(0), json!(1))
    );
}

async fn batches_enqueue_complete_and_fail(db: TestDb) {
    let a = api(db).await;
    let jobs: Vec<Value> = (0..5)
        .map(|i| json!({"type": "t", "payload": {"i": i}}))
        .collect();
    let (s, b) = a
        .call(
            Method::POST,
            "/api/queue/jobs/batch",
            Some(json!({"jobs": jobs})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["jobs"].as_array().unwrap().len(), 5);
    assert_eq!(b["jobs"][3]["payload"], json!({"i": 3}));
    let claimed = a
        .post(
            "/api/queue/jobs/claim",
            json!({"workerId": "w", "limit": 5}),
        )
        .await["jobs"]
        .clone();
    let ids: Vec<Value> = claimed
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].clone())
        .collect();
    let token = |i: usize| claimed[i]["leaseToken"].clone();
    // Job 1 was cancelled meanwhile: its lease is gone.
    a.post(
        &format!("/api/queue/jobs/{}/cancel", ids[1].as_str().unwrap()),
        json!({}),
    )
    .await;
    let done = a
        .post(
            "/api/queue/jobs/batch-complete",
            json!({"workerId": "w", "jobs": [
                {"id": ids[0], "leaseToken": token(0), "result": {"ok": 0}},
                {"id": ids[1], "leaseToken": token(1)},
                {"id": ids[2], "leaseToken": token(2)}
            ]}),
        )
        .await;
    let r = done["results"].as_array().unwrap();
    assert_eq!(
        r.iter().map(|o| o["ok"].clone()).collect::<Vec<_>>(),
        vec![json!(true), json!(false), json!(true)]
    );
    assert_eq!(r[0]["job"]["status"], "succeeded");
    assert_eq!(r[1]["error"]["code"], "lease_lost");
    assert_eq!(r[1]["id"], ids[1]);
    let failed = a
        .post(
            "/api/queue/jobs/batch-fail",
            json!({"workerId": "w", "jobs": [
                {"id": ids[3], "leaseToken": token(3), "error": "flaky", "retryable": true},
                {"id": ids[4], "leaseToken": token(4), "error": "bad", "retryable": false}
            ]}),
        )
        .await;
    let r = failed["results"].as_array().unwrap();
    assert_eq!(
        r[0]["job"]["status"], "scheduled",
        "a retry waits out its backoff"
    );
    assert_eq!(r[1]["job"]["status"], "failed");
    let (_, m) = a.raw(Method::GET, "/metrics", None).await;
    assert!(m.contains("lull_job_completions_total 2"), "{m}");
    assert!(m.contains("lull_lease_conflicts_total 1"), "{m}");
}

/// The retention task prunes finished jobs past their age in the
/// background; live jobs and (by default) control events stay.
async fn the_retention_task_prunes_finished_jobs(db: TestDb) {
    let cfg = ServiceConfig {
        retention: RetentionPolicy {
            succeeded: Some(chrono::Duration::milliseconds(1)),
            ..RetentionPolicy::default()
        },
        retention_interval_ms: 50,
        ..ServiceConfig::default()
    };
    let a = Api::new(db, cfg, true).await;
    a.post(
        "/api/system/worker-pause",
        json!({"action": "pause", "mode": "drain", "reason": "x"}),
    )
    .await;
    a.post(
        "/api/system/worker-pause",
        json!({"action": "resume", "reason": "x"}),
    )
    .await;
    let done = a.enqueue().await;
    let live = a.enqueue().await;
    let c = a.claim("w").await["job"].clone();
    assert_eq!(c["id"], done.as_str());
    a.post(
        &format!("/api/queue/jobs/{done}/complete"),
        json!({"workerId": "w", "leaseToken": c["leaseToken"]}),
    )
    .await;
    testkit::eventually(
        "the succeeded job to be pruned",
        Duration::from_secs(10),
        || async {
            let (s, _) = a
                .call(Method::GET, &format!("/api/queue/jobs/{done}"), None)
                .await;
            (s == StatusCode::NOT_FOUND).then_some(())
        },
    )
    .await;
    a.get(&format!("/api/queue/jobs/{live}")).await;
    let events = a.get("/api/system/worker-pause/events").await;
    assert_eq!(
        events["events"].as_array().unwrap().len(),
        2,
        "events are kept"
    );
}

/// (method, path, body, expected status, error code, error field)
type BadCase = (
    Method,
    String,
    String,
    StatusCode,
    &'static str,
    Option<&'static str>,
);

async fn bad_input_of_the_new_endpoints_is_a_json_4xx_and_changes_nothing(db: TestDb) {
    let a = api(db).await;
    let id = a.enqueue().await;
    let before = fingerprint(&a).await;
    let over: Vec<Value> = (0..1001).map(|_| json!({"type": "t"})).collect();
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let cases: Vec<BadCase> = vec![
        (
            Method::POST,
            "/api/queue/jobs".into(),
            json!({"type": "t", "queue": "a b"}).to_string(),
            unprocessable,
            "validation_failed",
            Some("queue"),
        ),
        (
            Method::POST,
            "/api/queue/jobs".into(),
            json!({"type": "t", "queue": "é"}).to_string(),
            unprocessable,
            "validation_failed",
            Some("queue"),
        ),
        (
            Method::POST,
            "/api/queue/jobs".into(),
            json!({"type": "t", "runAt": "next tuesday"}).to_string(),
            unprocessable,
            "validation_failed",
            Some("runAt"),
        ),
        (
            Method::POST,
            "/api/queue/jobs".into(),
            json!({"type": "t", "runAt": "2030-01-01T00:00:00Z", "delaySeconds": 1}).to_string(),
            unprocessable,
            "validation_failed",
            Some("runAt"),
        ),
        (
            Method::POST,
            "/api/queue/jobs".into(),
            json!({"type": "t", "delaySeconds": -1}).to_string(),
            unprocessable,
            "invalid_field",
            Some("delaySeconds"),
        ),
        (
            Method::POST,
            "/api/queue/jobs".into(),
            json!({"type": "t", "uniqueKey": "has space"}).to_string(),
            unprocessable,
            "validation_failed",
            Some("uniqueKey"),
        ),
        (
            Method::POST,
            "/api/queue/jobs/batch".into(),
            json!({"jobs": over}).to_string(),
            unprocessable,
            "validation_failed",
            Some("jobs"),
        ),
        (
            Method::POST,
            "/api/queue/jobs/batch".into(),
            json!({"jobs": []}).to_string(),
            unprocessable,
            "validation_failed",
            Some("jobs"),
        ),
        (
            Method::POST,
            "/api/queue/jobs/batch".into(),
            json!({"jobs": [{"type": "t"}, {"type": "t", "queue": "no good"}]}).to_string(),
            unprocessable,
            "validation_failed",
            Some("jobs"),
        ),
        (
            Method::POST,
            "/api/queue/jobs/batch".into(),
            "{\"jobs\": [".into(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
            None,
        ),
        (
            Method::POST,
            "/api/queue/jobs/batch-complete".into(),
            json!({"jobs": [{"id": id, "leaseToken": id}]}).to_string(),
            unprocessable,
            "validation_failed",
            Some("workerId"),
        ),
        (
            Method::POST,
            "/api/queue/jobs/batch-complete".into(),
            json!({"workerId": "w", "jobs": [{"leaseToken": id}]}).to_string(),
            unprocessable,
            "validation_failed",
            Some("jobs"),
        ),
        (
            Method::POST,
            "/api/queue/jobs/batch-fail".into(),
            json!({"workerId": "w", "jobs": [{"id": id, "leaseToken": id}]}).to_string(),
            unprocessable,
            "validation_failed",
            Some("jobs"),
        ),
        (
            Method::POST,
            "/api/queue/jobs/claim".into(),
            json!({"workerId": "w", "queues": ["ok", "not ok"]}).to_string(),
            unprocessable,
            "validation_failed",
            Some("queues"),
        ),
        (
            Method::POST,
            "/api/queue/jobs/claim".into(),
            json!({"workerId": "w", "queues": []}).to_string(),
            unprocessable,
            "validation_failed",
            Some("queues"),
        ),
        (
            Method::POST,
            "/api/queues/emails/pause".into(),
            json!({"reason": "x"}).to_string(),
            unprocessable,
            "validation_failed",
            Some("mode"),
        ),
        (
            Method::POST,
            "/api/queues/emails/pause".into(),
            json!({"mode": "nap", "reason": "x"}).to_string(),
            unprocessable,
            "validation_failed",
            Some("mode"),
        ),
        (
            Method::POST,
            "/api/queues/emails/pause".into(),
            json!({"mode": "drain"}).to_string(),
            unprocessable,
            "validation_failed",
            Some("reason"),
        ),
        (
            Method::POST,
            "/api/queues/emails/pause".into(),
            json!({"mode": "drain", "reason": "x", "until": "soon"}).to_string(),
            unprocessable,
            "validation_failed",
            Some("until"),
        ),
        (
            Method::POST,
            "/api/queues/emails/pause".into(),
            json!({"mode": "drain", "reason": "x", "action": "pause"}).to_string(),
            unprocessable,
            "invalid_field",
            Some("action"),
        ),
        (
            Method::POST,
            "/api/queues/a%20b/pause".into(),
            json!({"mode": "drain", "reason": "x"}).to_string(),
            unprocessable,
            "validation_failed",
            Some("name"),
        ),
        (
            Method::POST,
            "/api/queues/a%FFb/pause".into(),
            json!({"mode": "drain", "reason": "x"}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_path",
            Some("name"),
        ),
        (
            Method::POST,
            "/api/queues/emails/resume".into(),
            json!({"reason": "x", "mode": "drain"}).to_string(),
            unprocessable,
            "invalid_field",
            Some("mode"),
        ),
        (
            Method::POST,
            "/api/queues/emails/resume".into(),
            json!({}).to_string(),
            unprocessable,
            "validation_failed",
            Some("reason"),
        ),
        (
            Method::GET,
            "/api/queues/a%20b".into(),
            String::new(),
            unprocessable,
            "validation_failed",
            Some("name"),
        ),
        (
            Method::GET,
            "/api/queue/jobs?queue=a%20b".into(),
            String::new(),
            unprocessable,
            "validation_failed",
            Some("queue"),
        ),
        (
            Method::GET,
            "/api/queue/jobs?status=later".into(),
            String::new(),
            unprocessable,
            "validation_failed",
            Some("status"),
        ),
    ];
    for (method, path, body, status, code, field) in cases {
        let body = (!body.is_empty()).then_some(&*Box::leak(body.into_boxed_str()));
        let (s, v) = a.call_raw_json(method.clone(), &path, body).await;
        assert_eq!(s, status, "{method} {path}: {v}");
        assert_eq!(v["error"]["code"], code, "{method} {path}: {v}");
        assert_eq!(v["error"]["field"].as_str(), field, "{method} {path}: {v}");
    }
    assert_eq!(fingerprint(&a).await, before, "nothing changed");
}

/// Everything a refused request could have changed.
async fn fingerprint(a: &Api) -> (Value, Value, Value) {
    (
        a.get("/api/queue/jobs").await,
        a.get("/api/queues").await,
        a.get("/api/system/worker-pause/events").await,
    )
}

on_both_stores!(
    unique_and_scheduled_enqueues,
    batches_enqueue_complete_and_fail,
    the_retention_task_prunes_finished_jobs,
    bad_input_of_the_new_endpoints_is_a_json_4xx_and_changes_nothing,
);
