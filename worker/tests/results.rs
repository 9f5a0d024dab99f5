//! Results against a real server: a late outcome from a lease that was lost
//! is refused and changes nothing (both a raw late `complete` and a real
//! worker that was frozen past its lease), and `/api/workers/results`
//! applies each idempotency key once. On SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::Duration;

use common::{Db, Http, Server, WorkerProc};
use nix::sys::signal::Signal;
use serde_json::{json, Value};
use uuid::Uuid;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Claims one job by hand, as a worker would; returns (job id, lease token).
async fn claim(api: &Http, worker: &str, lease_seconds: u32) -> (Uuid, Uuid) {
    let (s, c) = api
        .post(
            "/api/queue/jobs/claim",
            json!({"workerId": worker, "leaseSeconds": lease_seconds}),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    let job = &c["job"];
    assert!(job.is_object(), "no job claimed: {c}");
    (
        job["id"].as_str().unwrap().parse().unwrap(),
        job["leaseToken"].as_str().unwrap().parse().unwrap(),
    )
}

/// An `execution_result` envelope as `lull-worker` sends it.
fn outcome(worker: &str, job: Uuid, token: Uuid, result: Value) -> Value {
    json!({
        "idempotencyKey": format!("{job}:{token}"),
        "payloadType": "execution_result",
        "taskId": job,
        "workerId": worker,
        "payload": {"leaseToken": token, "status": "succeeded", "result": result},
    })
}

async fn a_late_result_from_a_lost_lease_changes_nothing(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Http::new(&server.base);
    // A ghost claims a job and goes silent.
    let ghost_job = api.enqueue("sleep", json!({"ms": 1})).await;
    let (claimed, ghost_token) = claim(&api, "ghost", 5).await;
    assert_eq!(claimed, ghost_job);
    // A real worker claims another and is frozen past its lease.
    let frozen = WorkerProc::start(&server.base, "frozen", &db.dir.0, &["--lease-seconds", "5"]);
    let frozen_job = api.enqueue("sleep", json!({"ms": 1500})).await;
    api.wait_status(frozen_job, "running", secs(15)).await;
    frozen.signal(Signal::SIGSTOP);

    // Once the leases expire, another worker finishes both jobs.
    let _b = WorkerProc::start(&server.base, "rescuer", &db.dir.0, &["--wait-ms", "1000"]);
    let mut finished = Vec::new();
    for job in [ghost_job, frozen_job] {
        let done = api.wait_status(job, "succeeded", secs(30)).await;
        assert_eq!(done["workerId"], "rescuer", "{done}");
        finished.push(done);
    }

    // The ghost's late complete and result are refused.
    let (s, e) = api
        .post(
            &format!("/api/queue/jobs/{ghost_job}/complete"),
            json!({"workerId": "ghost", "leaseToken": ghost_token, "result": {"late": true}}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("lease_lost")),
        "{e}"
    );
    let (s, e) = api
        .post(
            "/api/workers/results",
            outcome("ghost", ghost_job, ghost_token, json!({"late": true})),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("lease_lost")),
        "{e}"
    );

    // The frozen worker wakes: it abandons the job or has its result refused
    // (kept in rejected/, not retried) — whichever comes first.
    frozen.signal(Signal::SIGCONT);
    common::eventually("the frozen worker to give the job up", secs(15), || {
        let abandoned = frozen.logs("lease lost: job abandoned").len();
        let refused = frozen.logs("result refused by the server").len();
        std::future::ready((abandoned + refused > 0).then_some(()))
    })
    .await;
    for refused in frozen.logs("result refused by the server") {
        assert_eq!(refused["status"], 409, "{refused}");
    }
    for (job, before) in [ghost_job, frozen_job].into_iter().zip(finished) {
        assert_eq!(api.job(job).await, before, "nothing changed");
    }
}

async fn results_are_applied_once_per_idempotency_key(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Http::new(&server.base);
    let job = api.enqueue("sleep", json!({"ms": 1})).await;
    let (_, token) = claim(&api, "w1", 30).await;
    let env = outcome("w1", job, token, json!({"n": 1}));

    let (s, first) = api.post("/api/workers/results", env.clone()).await;
    assert_eq!((s, &first["appliedNow"]), (200, &json!(true)), "{first}");
    let after_first = api.job(job).await;
    assert_eq!(after_first["status"], "succeeded");
    assert_eq!(after_first["result"], json!({"n": 1}));

    let (s, again) = api.post("/api/workers/results", env.clone()).await;
    assert_eq!(
        (s, &again["appliedNow"]),
        (200, &json!(false)),
        "a repeat is acknowledged: {again}"
    );
    assert_eq!(api.job(job).await, after_first, "and not applied twice");

    let (s, e) = api
        .post(
            "/api/workers/results",
            outcome("w1", job, token, json!({"n": 2})),
        )
        .await;
    assert_eq!(s, 422, "same key, other payload: {e}");
    let mut unknown = env.clone();
    unknown["payloadType"] = json!("metrics");
    unknown["idempotencyKey"] = json!("other-key");
    let (s, e) = api.post("/api/workers/results", unknown).await;
    assert_eq!(s, 422, "unknown payload type: {e}");
    assert_eq!(api.job(job).await, after_first);
}

testkit::on_both_stores!(
    a_late_result_from_a_lost_lease_changes_nothing,
    results_are_applied_once_per_idempotency_key,
);
