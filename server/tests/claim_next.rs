//! Complete-and-claim-next (`claimNext` on `POST /api/queue/jobs/{id}/complete`)
//! over the HTTP API, in-process, on both stores: the next job handed out
//! in the same answer, fenced like a claim — nothing while the fleet or the
//! claim's queues are paused, even when the pause reached storage but not
//! this process's cache — a stale lease completing and claiming nothing,
//! both in one storage call, an expired lease requeued first, the long
//! poll when nothing is queued, and bad input refused with a JSON 422.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use axum::http::{Method, StatusCode};
use common::api::Api;
use common::store::{cmd, pause_drain, t0};
use common::TestDb;
use serde_json::{json, Value};
use server::service::ServiceConfig;
use server::storage::{ClaimOutcome, ClaimParams};

async fn api(db: TestDb) -> Api {
    Api::new(db, ServiceConfig::default(), false).await
}

/// Enqueues a job of type `t` in `queue`; its id.
async fn enqueue_in(a: &Api, queue: &str) -> String {
    let v = a
        .post("/api/queue/jobs", json!({"type": "t", "queue": queue}))
        .await;
    v["id"].as_str().unwrap().to_string()
}

/// `POST …/{id}/complete` for `claimed` (a job of a claim answer) by
/// `worker`, with `claimNext` when given.
async fn complete(
    a: &Api,
    worker: &str,
    claimed: &Value,
    next: Option<Value>,
) -> (StatusCode, Value) {
    let mut body = json!({"workerId": worker, "leaseToken": claimed["leaseToken"]});
    if let Some(n) = next {
        body["claimNext"] = n;
    }
    let id = claimed["id"].as_str().unwrap();
    a.call(
        Method::POST,
        &format!("/api/queue/jobs/{id}/complete"),
        Some(body),
    )
    .await
}

async fn status_of(a: &Api, id: &str) -> Value {
    a.get(&format!("/api/queue/jobs/{id}")).await["status"].clone()
}

async fn the_next_job_comes_with_the_completion(db: TestDb) {
    let a = api(db).await;
    let first = enqueue_in(&a, "default").await;
    let second = enqueue_in(&a, "default").await;
    let claimed = a.claim("w1").await["job"].clone();
    assert_eq!(claimed["id"], first.as_str());

    let (s, done) = complete(&a, "w1", &claimed, Some(json!({}))).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(
        (&done["id"], &done["status"]),
        (&json!(first), &json!("succeeded"))
    );
    let next = &done["next"]["job"];
    assert_eq!(next["id"], second.as_str());
    assert_eq!(next["workerId"], "w1", "claimed for the completing worker");
    assert!(next["leaseToken"].is_string(), "with its lease: {next}");
    assert_eq!(done["next"]["system"]["workersPaused"], false);
    assert_eq!(status_of(&a, &second).await, "running");

    // The last job: its completion answers an empty claim.
    let (s, last) = complete(&a, "w1", next, Some(json!({}))).await;
    assert_eq!(s, StatusCode::OK, "{last}");
    assert_eq!(last["status"], "succeeded");
    assert_eq!(last["next"]["job"], Value::Null);

    // Without `claimNext` the answer is the job alone, as it always was.
    enqueue_in(&a, "default").await;
    let third = a.claim("w1").await["job"].clone();
    let (s, plain) = complete(&a, "w1", &third, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(plain.get("next").is_none(), "{plain}");
    assert_eq!(plain["status"], "succeeded");
}

/// The pause committed in storage by another process (this one's cache
/// never heard of it): the claim after the completion re-reads it under
/// lock and hands out nothing.
async fn no_next_job_while_the_fleet_is_paused(db: TestDb) {
    let a = api(db).await;
    enqueue_in(&a, "default").await;
    let waiting = enqueue_in(&a, "default").await;
    let claimed = a.claim("w1").await["job"].clone();
    a.db.store
        .transition_pause(&pause_drain(), "ops", t0())
        .await
        .unwrap();

    let (s, done) = complete(&a, "w1", &claimed, Some(json!({}))).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(
        done["status"], "succeeded",
        "a pause lets running jobs finish"
    );
    assert_eq!(done["next"]["job"], Value::Null);
    assert_eq!(done["next"]["system"]["workersPaused"], true);
    assert_eq!(status_of(&a, &waiting).await, "queued");

    // Paused through this process's API too (its cache knows): the same.
    // (The claim saw the pause, so this process's cache has it now.)
    a.post(
        "/api/system/worker-pause",
        json!({"action": "resume", "reason": "done"}),
    )
    .await;
    let claimed = a.claim("w1").await["job"].clone();
    assert_eq!(claimed["id"], waiting.as_str());
    enqueue_in(&a, "default").await;
    a.post(
        "/api/system/worker-pause",
        json!({"action": "pause", "mode": "drain", "reason": "deploy"}),
    )
    .await;
    let (s, done) = complete(&a, "w1", &claimed, Some(json!({}))).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["next"]["job"], Value::Null);
    assert_eq!(done["next"]["system"]["workersPaused"], true);
}

async fn no_next_job_from_a_paused_queue(db: TestDb) {
    let a = api(db).await;
    enqueue_in(&a, "emails").await;
    let held = enqueue_in(&a, "emails").await;
    let claimed = a
        .post(
            "/api/queue/jobs/claim",
            json!({"workerId": "w1", "queues": ["emails"]}),
        )
        .await["job"]
        .clone();
    // Paused in storage only (as by another process).
    let pause = cmd(json!({"action": "pause", "mode": "drain", "reason": "provider down"}));
    a.db.store
        .transition_queue_pause("emails", &pause, "ops", t0())
        .await
        .unwrap();

    let (s, done) = complete(&a, "w1", &claimed, Some(json!({"queues": ["emails"]}))).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["next"]["job"], Value::Null);
    assert_eq!(status_of(&a, &held).await, "queued");

    // A claim of any queue still skips the paused one's job.
    let other = enqueue_in(&a, "reports").await;
    let claimed = a
        .post(
            "/api/queue/jobs/claim",
            json!({"workerId": "w1", "queues": ["reports"]}),
        )
        .await["job"]
        .clone();
    assert_eq!(claimed["id"], other.as_str());
    let (s, done) = complete(&a, "w1", &claimed, Some(json!({}))).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["next"]["job"], Value::Null);
    assert_eq!(status_of(&a, &held).await, "queued");
}

/// A stale lease token (or another worker's id) completes nothing and
/// claims nothing: 409, the job still running, the next one still queued.
async fn a_stale_lease_neither_completes_nor_claims(db: TestDb) {
    let a = api(db).await;
    let first = enqueue_in(&a, "default").await;
    let waiting = enqueue_in(&a, "default").await;
    let claimed = a.claim("w1").await["job"].clone();
    let mut stale = claimed.clone();
    stale["leaseToken"] = json!(uuid::Uuid::new_v4());

    let (s, v) = complete(&a, "w1", &stale, Some(json!({}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "lease_lost");
    let (s, v) = complete(&a, "w2", &claimed, Some(json!({}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(status_of(&a, &first).await, "running");
    assert_eq!(
        status_of(&a, &waiting).await,
        "queued",
        "nothing was claimed"
    );

    // Completed once; a second completion of it claims nothing either.
    let (s, _) = complete(&a, "w1", &claimed, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = complete(&a, "w1", &claimed, Some(json!({}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(status_of(&a, &waiting).await, "queued");
}

async fn bad_claim_next_input_is_a_json_422(db: TestDb) {
    let a = api(db).await;
    enqueue_in(&a, "default").await;
    let waiting = enqueue_in(&a, "default").await;
    let claimed = a.claim("w1").await["job"].clone();
    for (next, field) in [
        (json!({"waitMs": 3_600_000}), "claimNext"),
        (json!({"leaseSeconds": 0}), "claimNext"),
        (json!({"types": []}), "claimNext"),
    ] {
        let (s, v) = complete(&a, "w1", &claimed, Some(next.clone())).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{next}: {v}");
        assert_eq!(v["error"]["code"], "validation_failed", "{v}");
        assert_eq!(v["error"]["field"], field, "{v}");
    }
    for next in [json!({"limit": 5}), json!("yes"), json!({"workerId": "w2"})] {
        let (s, v) = complete(&a, "w1", &claimed, Some(next.clone())).await;
        assert!(s.is_client_error(), "{next}: {s}");
        assert!(v["error"]["code"].is_string(), "{next}: a JSON error: {v}");
    }
    // Nothing of the refused requests happened.
    let id = claimed["id"].as_str().unwrap();
    assert_eq!(status_of(&a, id).await, "running");
    assert_eq!(status_of(&a, &waiting).await, "queued");
}

/// The completion and the claim are one storage call (one statement on
/// PostgreSQL, one write on SQLite): one round trip and one commit for
/// both. Without `claimNext` a completion is one call too.
async fn the_completion_and_the_claim_are_one_storage_call(db: TestDb) {
    let a = api(db).await;
    for _ in 0..3 {
        enqueue_in(&a, "default").await;
    }
    let claimed = a.claim("w1").await["job"].clone();

    let before = a.db.store.calls();
    let (s, done) = complete(&a, "w1", &claimed, Some(json!({}))).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert!(done["next"]["job"]["leaseToken"].is_string(), "{done}");
    assert_eq!(
        a.db.store.calls() - before,
        1,
        "complete + claim in one call"
    );

    let before = a.db.store.calls();
    let (s, _) = complete(&a, "w1", &done["next"]["job"], None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(a.db.store.calls() - before, 1);
}

/// Another job's lease has expired: the completion stands and the claim
/// after it requeues that job first and hands it out, as a plain claim
/// would — on the path after the one-statement completion.
async fn an_expired_lease_is_requeued_and_handed_out_next(db: TestDb) {
    let a = api(db).await;
    // Ahead in the queue by priority, whatever the clock says.
    let mine = a
        .post("/api/queue/jobs", json!({"type": "t", "priority": 5}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let stale = enqueue_in(&a, "default").await;
    let claimed = a.claim("w1").await["job"].clone();
    assert_eq!(claimed["id"], mine.as_str());
    // A lease of no time at all (the API allows 5 s at least): expired by
    // the next millisecond.
    let gone = ClaimParams {
        worker_id: "gone".into(),
        types: None,
        queues: None,
        lease_seconds: 0,
        now: t0(),
    };
    let lost = match a.db.store.claim(&gone).await.unwrap() {
        ClaimOutcome::Running { job: Some(j), .. } => j,
        other => panic!("{other:?}"),
    };
    assert_eq!(lost.id.to_string(), stale);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    let (s, done) = complete(&a, "w1", &claimed, Some(json!({}))).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "succeeded");
    let next = &done["next"]["job"];
    assert_eq!(
        next["id"],
        stale.as_str(),
        "the expired job, requeued: {done}"
    );
    assert_eq!(next["workerId"], "w1");
    assert_eq!(next["attempts"], 2);
    assert_ne!(next["leaseToken"], json!(lost.lease_token));
    assert_eq!(status_of(&a, &mine).await, "succeeded");
}

/// With `waitMs` and nothing queued, the claim after the completion waits
/// (the long poll), and a job enqueued meanwhile is handed out.
async fn an_empty_claim_next_waits_for_a_job(db: TestDb) {
    let a = std::sync::Arc::new(api(db).await);
    enqueue_in(&a, "default").await;
    let claimed = a.claim("w1").await["job"].clone();
    let producer = {
        let a = a.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            enqueue_in(&a, "default").await
        })
    };
    let (s, done) = complete(&a, "w1", &claimed, Some(json!({"waitMs": 5_000}))).await;
    let late = producer.await.unwrap();
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["next"]["job"]["id"], late.as_str(), "{done}");
}

on_both_stores!(
    the_completion_and_the_claim_are_one_storage_call,
    an_expired_lease_is_requeued_and_handed_out_next,
    an_empty_claim_next_waits_for_a_job,
    the_next_job_comes_with_the_completion,
    no_next_job_while_the_fleet_is_paused,
    no_next_job_from_a_paused_queue,
    a_stale_lease_neither_completes_nor_claims,
    bad_claim_next_input_is_a_json_422,
);
