//! Results against a real server: a late outcome from a lease that was lost
//! is refused and changes nothing (both a raw late `complete` and a real
//! worker that was frozen past its lease), and `/api/workers/results`
//! applies each idempotency key once. On SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::Duration;

use client::ApiError;
use common::{Api, Db, Server, WorkerProc};
use nix::sys::signal::Signal;
use serde_json::{json, Value};
use uuid::Uuid;
use wire::JobStatus::{Running, Succeeded};
use wire::{ClaimRequest, CompleteRequest, ExecutionResult, PayloadType, ResultEnvelope};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Claims one job by hand, as a worker would; returns (job id, lease token).
async fn claim(api: &Api, worker: &str, lease_seconds: u32) -> (Uuid, Uuid) {
    let req = ClaimRequest {
        worker_id: Some(worker.into()),
        lease_seconds: Some(lease_seconds),
        ..Default::default()
    };
    let c = api.client.claim(&req).await.unwrap();
    let job = c
        .job
        .unwrap_or_else(|| panic!("no job claimed: {:?}", c.system));
    (job.id, job.lease_token.unwrap())
}

/// An `execution_result` envelope as `lull-worker` sends it.
fn outcome(worker: &str, job: Uuid, token: Uuid, result: Value) -> ResultEnvelope {
    let payload = ExecutionResult {
        lease_token: token,
        status: "succeeded".into(),
        result: Some(result),
        error: None,
        retryable: None,
    };
    ResultEnvelope {
        idempotency_key: Some(format!("{job}:{token}")),
        payload_type: Some(PayloadType::ExecutionResult.as_str().into()),
        task_id: Some(job),
        worker_id: Some(worker.into()),
        payload: Some(serde_json::to_value(payload).unwrap()),
    }
}

/// The API's refusal of a call that had to fail.
fn refusal<T: std::fmt::Debug>(r: client::Result<T>) -> ApiError {
    match r {
        Err(client::Error::Api(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn a_late_result_from_a_lost_lease_changes_nothing(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Api::new(&server.base);
    // A ghost claims a job and goes silent.
    let ghost_job = api.enqueue("sleep", json!({"ms": 1})).await;
    let (claimed, ghost_token) = claim(&api, "ghost", 5).await;
    assert_eq!(claimed, ghost_job);
    // A real worker claims another and is frozen past its lease.
    let frozen = WorkerProc::start(&server.base, "frozen", &db.dir.0, &["--lease-seconds", "5"]);
    let frozen_job = api.enqueue("sleep", json!({"ms": 1500})).await;
    api.wait_status(frozen_job, Running, secs(15)).await;
    frozen.signal(Signal::SIGSTOP);

    // Once the leases expire, another worker finishes both jobs.
    let _b = WorkerProc::start(&server.base, "rescuer", &db.dir.0, &["--wait-ms", "1000"]);
    let mut finished = Vec::new();
    for job in [ghost_job, frozen_job] {
        let done = api.wait_status(job, Succeeded, secs(30)).await;
        assert_eq!(done.worker_id.as_deref(), Some("rescuer"), "{done:?}");
        finished.push(done);
    }

    // The ghost's late complete and result are refused.
    let late = CompleteRequest {
        worker_id: Some("ghost".into()),
        lease_token: Some(ghost_token),
        result: Some(json!({"late": true})),
    };
    let e = refusal(api.client.complete(ghost_job, &late).await);
    assert!(matches!(e, ApiError::LeaseLost { .. }), "{e:?}");
    let env = outcome("ghost", ghost_job, ghost_token, json!({"late": true}));
    let e = refusal(api.client.submit_result(&env).await);
    assert!(matches!(e, ApiError::LeaseLost { .. }), "{e:?}");

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
    let api = Api::new(&server.base);
    let job = api.enqueue("sleep", json!({"ms": 1})).await;
    let (_, token) = claim(&api, "w1", 30).await;
    let env = outcome("w1", job, token, json!({"n": 1}));

    let first = api.client.submit_result(&env).await.unwrap();
    assert!(first.applied_now, "{first:?}");
    let after_first = api.job(job).await;
    assert_eq!(after_first.status, Succeeded);
    assert_eq!(after_first.result, Some(json!({"n": 1})));

    let again = api.client.submit_result(&env).await.unwrap();
    assert!(!again.applied_now, "a repeat is acknowledged: {again:?}");
    assert_eq!(api.job(job).await, after_first, "and not applied twice");

    let other = outcome("w1", job, token, json!({"n": 2}));
    let e = refusal(api.client.submit_result(&other).await);
    assert_eq!(e.status(), 422, "same key, other payload: {e:?}");
    let unknown = ResultEnvelope {
        payload_type: Some("metrics".into()),
        idempotency_key: Some("other-key".into()),
        ..env.clone()
    };
    let e = refusal(api.client.submit_result(&unknown).await);
    assert_eq!(e.status(), 422, "unknown payload type: {e:?}");
    assert_eq!(api.job(job).await, after_first);
}

testkit::on_both_stores!(
    a_late_result_from_a_lost_lease_changes_nothing,
    results_are_applied_once_per_idempotency_key,
);
