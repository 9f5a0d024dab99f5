//! The runtime fills its free slots with one claim request (a batch claim),
//! not one request per slot, with a real `lull-worker` against a real
//! server on SQLite and PostgreSQL; every job of the batch runs and
//! completes, even when a drain was asked while the batch was in flight.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Api, Db, Server, WorkerProc};
use nix::sys::signal::Signal;
use serde_json::json;
use uuid::Uuid;
use wire::JobStatus::{Running, Succeeded};
use wire::{BatchEnqueueRequest, EnqueueRequest};

const CONCURRENCY: usize = 4;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A job whose handler blocks until `release` exists (a barrier the test
/// opens), so the worker's slots stay full for as long as the test looks.
async fn enqueue_blocked(api: &Api, release: &Path) -> Uuid {
    let script = format!(
        "while [ ! -e '{}' ]; do sleep 0.05; done",
        release.display()
    );
    api.enqueue("execute_script", json!({ "script": script }))
        .await
}

/// Claim requests that handed out at least one job, as the server counts
/// them (`lull_claims_total{outcome="claimed"}` on `/metrics`).
async fn claims_that_handed_out_jobs(api: &Api) -> f64 {
    let text = api.client.metrics_text().await.unwrap();
    let name = r#"lull_claims_total{outcome="claimed"}"#;
    text.lines()
        .filter_map(|l| l.rsplit_once(' '))
        .find(|(k, _)| *k == name)
        .map_or(0.0, |(_, v)| v.parse().unwrap())
}

async fn free_slots_are_filled_by_one_claim_and_every_job_of_it_completes(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Api::new(&server.base);
    let release = db.dir.0.join("release");
    // More jobs than slots, all queued before the worker asks.
    let mut ids = Vec::new();
    for _ in 0..CONCURRENCY * 2 {
        ids.push(enqueue_blocked(&api, &release).await);
    }
    let w = WorkerProc::start(
        &server.base,
        "batch",
        &db.dir.0,
        &["--concurrency", &CONCURRENCY.to_string()],
    );

    let held = common::eventually("the worker to fill its slots", secs(20), || async {
        let running = api.client.list_jobs(Some(Running), None).await.unwrap();
        (running.jobs.len() >= CONCURRENCY).then_some(running.jobs)
    })
    .await;
    assert_eq!(
        held.len(),
        CONCURRENCY,
        "never more than its slots: {held:?}"
    );
    assert!(held.iter().all(|j| j.worker_id.as_deref() == Some("batch")));
    let claims = claims_that_handed_out_jobs(&api).await;
    assert!(
        claims < CONCURRENCY as f64,
        "{CONCURRENCY} slots filled by {claims} claim requests"
    );
    // The worker's own account: one claim answered with every slot's job.
    let batches = w.logs("claim answered");
    assert!(
        batches
            .iter()
            .any(|l| l["jobs"].as_u64() == Some(CONCURRENCY as u64)),
        "{batches:?}"
    );

    std::fs::write(&release, b"").unwrap();
    for id in ids {
        let done = api.wait_status(id, Succeeded, secs(30)).await;
        assert_eq!(done.worker_id.as_deref(), Some("batch"), "{done:?}");
        assert_eq!(done.attempts, 1, "{done:?}");
    }
}

async fn a_drain_during_a_batch_claim_still_runs_every_job_it_hands_out(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Api::new(&server.base);
    let mut w = WorkerProc::start(
        &server.base,
        "drainer",
        &db.dir.0,
        &[
            "--concurrency",
            &CONCURRENCY.to_string(),
            "--wait-ms",
            "20000",
        ],
    );
    // Parked in a long poll asking for every slot.
    w.wait_claims("a long poll in flight", secs(10), |n| n == 1)
        .await;
    let sent = w.logs("claim sent");
    assert_eq!(
        sent.last().unwrap()["limit"].as_u64(),
        Some(CONCURRENCY as u64),
        "{sent:?}"
    );
    w.signal(Signal::SIGTERM);
    w.wait_logs("draining: finishing running jobs", 1, secs(5), |_| true)
        .await;
    assert_eq!(w.claims_in_flight(), 1, "a drain does not cancel the claim");

    // One transaction: the waiting claim finds all of them at once.
    let sleep = EnqueueRequest {
        job_type: Some("sleep".into()),
        payload: Some(json!({"ms": 100})),
        ..Default::default()
    };
    let req = BatchEnqueueRequest {
        jobs: Some(vec![sleep; CONCURRENCY - 1]),
    };
    let enqueued = api.client.enqueue_batch(&req).await.unwrap().jobs;

    let status = w.wait_exit(secs(20)).await;
    assert!(status.success(), "drained: {status:?}");
    for e in enqueued {
        let done = api.job(e.job.id).await;
        assert_eq!(done.status, Succeeded, "not stranded: {done:?}");
        assert_eq!(done.worker_id.as_deref(), Some("drainer"), "{done:?}");
        assert_eq!(done.attempts, 1, "{done:?}");
    }
}

testkit::on_both_stores!(
    free_slots_are_filled_by_one_claim_and_every_job_of_it_completes,
    a_drain_during_a_batch_claim_still_runs_every_job_it_hands_out,
);
