//! A real `lull-worker` against a real server under the control plane:
//! drain lets the running job finish and claims nothing more (the reason
//! logged once per version), quiesce holds a job at a checkpoint past its
//! lease length without losing the lease, and a long-polling worker picks an
//! enqueued job up at once. On SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::{Api, Db, Server, WorkerProc};
use serde_json::{json, Value};
use wire::JobStatus::{Queued, Running, Succeeded};
use wire::{ObservedState, PauseMode};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

async fn drain_finishes_the_running_job_and_claims_nothing_more(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Api::new(&server.base);
    let w = WorkerProc::start(&server.base, "drainer", &db.dir.0, &[]);
    let running = api.enqueue("sleep", json!({"ms": 1500})).await;
    api.wait_status(running, Running, secs(15)).await;

    let v1 = api.pause(PauseMode::Drain, "deploy 1").await;
    let waiting = api.enqueue("sleep", json!({"ms": 10})).await;
    let done = api.wait_status(running, Succeeded, secs(15)).await;
    assert_eq!(done.attempts, 1);

    // Several paused polls (300 ms apart, the server's interval)...
    let still = |v: i64| move |l: &Value| l["version"] == v;
    w.wait_logs("fleet still paused", 3, secs(10), still(v1))
        .await;
    // ...but the reason is logged once for this version, with its fields.
    let paused = w.logs("fleet paused by the control plane");
    assert_eq!(paused.len(), 1, "{paused:?}");
    assert_eq!(paused[0]["version"], v1);
    assert_eq!(paused[0]["mode"], "drain");
    assert_eq!(paused[0]["reason"], "deploy 1");
    assert_eq!(
        api.job(waiting).await.status,
        Queued,
        "no claim while paused"
    );

    // A new reason is a new version: logged once more.
    let v2 = api.pause(PauseMode::Drain, "deploy 2").await;
    assert_eq!(v2, v1 + 1);
    w.wait_logs("fleet still paused", 3, secs(10), still(v2))
        .await;
    let paused = w.logs("fleet paused by the control plane");
    assert_eq!(paused.len(), 2, "{paused:?}");
    assert_eq!(paused[1]["reason"], "deploy 2");

    // The worker reports itself paused while idling.
    let workers = api.workers().await;
    let me = &workers[0];
    assert_eq!(
        (me.id.as_str(), me.observed_state),
        ("drainer", ObservedState::Paused)
    );

    api.resume("deploy done").await;
    api.wait_status(waiting, Succeeded, secs(15)).await;
    assert_eq!(w.logs("fleet resumed").len(), 1);
    assert_eq!(w.logs("fleet paused by the control plane").len(), 2);
}

async fn quiesce_holds_a_job_at_a_checkpoint_past_its_lease(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Api::new(&server.base);
    let w = WorkerProc::start(
        &server.base,
        "quiescer",
        &db.dir.0,
        &["--lease-seconds", "5"],
    );
    let job = api
        .enqueue("sleep", json!({"ms": 2000, "checkpointEveryMs": 100}))
        .await;
    api.wait_status(job, Running, secs(15)).await;

    api.pause(PauseMode::Quiesce, "database failover").await;
    let held = common::eventually("the job to hold at a checkpoint", secs(10), || async {
        let j = api.job(job).await;
        j.paused_at_checkpoint.then_some(j)
    })
    .await;
    w.wait_logs("holding at checkpoint", 1, secs(5), |_| true)
        .await;

    // Watch for longer than the lease: the job stays running and held, its
    // lease always in the future (heartbeats go on), never stale.
    let first_expiry = held.lease_expires_at.unwrap();
    let watch_until = Instant::now() + secs(7);
    let mut last = held;
    while Instant::now() < watch_until {
        let j = api.job(job).await;
        assert_eq!(j.status, Running, "{j:?}");
        assert!(j.paused_at_checkpoint, "{j:?}");
        assert!(
            j.lease_expires_at.unwrap() > Utc::now(),
            "lease expired while held: {j:?}"
        );
        let status = api.client.pause_status().await.unwrap();
        assert_eq!(status.metrics.stale_running, 0, "{status:?}");
        last = j;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        last.lease_expires_at.unwrap() > first_expiry + chrono::Duration::seconds(5),
        "lease extended: {last:?}"
    );
    assert_eq!(last.attempts, 1);

    api.resume("failover done").await;
    let done = api.wait_status(job, Succeeded, secs(15)).await;
    assert_eq!(done.attempts, 1, "the same attempt finished: {done:?}");
    // The job's own result (the sleep handler's JSON), not the API's.
    let result: Value = done.result.clone().unwrap();
    assert!(result["checkpoints"].as_u64().unwrap() >= 1, "{done:?}");
    assert_eq!(result["sleptMs"], 2000);
    w.wait_logs("leaving checkpoint", 1, secs(5), |_| true)
        .await;
}

async fn a_long_polling_worker_picks_up_an_enqueued_job_at_once(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Api::new(&server.base);
    let w = WorkerProc::start(&server.base, "poller", &db.dir.0, &["--wait-ms", "20000"]);
    let warm = api.enqueue("sleep", json!({"ms": 1})).await;
    api.wait_status(warm, Succeeded, secs(15)).await;
    // The scenario: the worker is parked in a 20 s long poll.
    w.wait_claims("a long poll in flight", secs(10), |n| n == 1)
        .await;
    let job = api.enqueue("sleep", json!({"ms": 1})).await;
    let done = api.wait_status(job, Succeeded, secs(10)).await;
    let picked_up = done.started_at.unwrap() - done.created_at;
    // Without the wake-up it would take up to 20 s (or the 5 s poll).
    assert!(
        picked_up < chrono::Duration::milliseconds(1500),
        "picked up after {picked_up}"
    );
}

testkit::on_both_stores!(
    drain_finishes_the_running_job_and_claims_nothing_more,
    quiesce_holds_a_job_at_a_checkpoint_past_its_lease,
    a_long_polling_worker_picks_up_an_enqueued_job_at_once,
);
