//! The runtime fills its free slots with one claim request (a batch claim),
//! not one request per slot, with a real `lull-worker` against a real
//! server on SQLite and PostgreSQL; every job of the batch runs and
//! completes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Api, Db, Server, WorkerProc};
use serde_json::json;
use uuid::Uuid;
use wire::JobStatus::{Running, Succeeded};

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

testkit::on_both_stores!(free_slots_are_filled_by_one_claim_and_every_job_of_it_completes,);
