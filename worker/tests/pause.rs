//! A real `lull-worker` against a real server under the control plane:
//! drain lets the running job finish and claims nothing more (the reason
//! logged once per version), quiesce holds a job at a checkpoint past its
//! lease length without losing the lease, and a long-polling worker picks an
//! enqueued job up at once. On SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{Db, Http, Server, WorkerProc};
use serde_json::{json, Value};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

async fn drain_finishes_the_running_job_and_claims_nothing_more(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Http::new(&server.base);
    let w = WorkerProc::start(&server.base, "drainer", &db.dir.0, &[]);
    let running = api.enqueue("sleep", json!({"ms": 1500})).await;
    api.wait_status(running, "running", secs(15)).await;

    let v1 = api.pause("drain", "deploy 1").await;
    let waiting = api.enqueue("sleep", json!({"ms": 10})).await;
    let done = api.wait_status(running, "succeeded", secs(15)).await;
    assert_eq!(done["attempts"], 1);

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
        api.job(waiting).await["status"],
        "queued",
        "no claim while paused"
    );

    // A new reason is a new version: logged once more.
    let v2 = api.pause("drain", "deploy 2").await;
    assert_eq!(v2, v1 + 1);
    w.wait_logs("fleet still paused", 3, secs(10), still(v2))
        .await;
    let paused = w.logs("fleet paused by the control plane");
    assert_eq!(paused.len(), 2, "{paused:?}");
    assert_eq!(paused[1]["reason"], "deploy 2");

    // The worker reports itself paused while idling.
    let workers = api.get("/api/workers").await;
    let me = &workers["workers"].as_array().unwrap()[0];
    assert_eq!(
        (me["id"].as_str(), me["observedState"].as_str()),
        (Some("drainer"), Some("paused"))
    );

    api.resume("deploy done").await;
    api.wait_status(waiting, "succeeded", secs(15)).await;
    assert_eq!(w.logs("fleet resumed").len(), 1);
    assert_eq!(w.logs("fleet paused by the control plane").len(), 2);
}

async fn quiesce_holds_a_job_at_a_checkpoint_past_its_lease(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Http::new(&server.base);
    let w = WorkerProc::start(
        &server.base,
        "quiescer",
        &db.dir.0,
        &["--lease-seconds", "5"],
    );
    let job = api
        .enqueue("sleep", json!({"ms": 2000, "checkpointEveryMs": 100}))
        .await;
    api.wait_status(job, "running", secs(15)).await;

    api.pause("quiesce", "database failover").await;
    let held = common::eventually("the job to hold at a checkpoint", secs(10), || async {
        let j = api.job(job).await;
        (j["pausedAtCheckpoint"] == true).then_some(j)
    })
    .await;
    w.wait_logs("holding at checkpoint", 1, secs(5), |_| true)
        .await;

    // Watch for longer than the lease: the job stays running and held, its
    // lease always in the future (heartbeats go on), never stale.
    let first_expiry = at(&held["leaseExpiresAt"]);
    let watch_until = Instant::now() + secs(7);
    let mut last = held;
    while Instant::now() < watch_until {
        let j = api.job(job).await;
        assert_eq!(j["status"], "running", "{j}");
        assert_eq!(j["pausedAtCheckpoint"], true, "{j}");
        assert!(
            at(&j["leaseExpiresAt"]) > Utc::now(),
            "lease expired while held: {j}"
        );
        let status = api.get("/api/system/worker-pause").await;
        assert_eq!(status["metrics"]["staleRunning"], 0, "{status}");
        last = j;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        at(&last["leaseExpiresAt"]) > first_expiry + chrono::Duration::seconds(5),
        "lease extended: {last}"
    );
    assert_eq!(last["attempts"], 1);

    api.resume("failover done").await;
    let done = api.wait_status(job, "succeeded", secs(15)).await;
    assert_eq!(done["attempts"], 1, "the same attempt finished: {done}");
    assert!(
        done["result"]["checkpoints"].as_u64().unwrap() >= 1,
        "{done}"
    );
    assert_eq!(done["result"]["sleptMs"], 2000);
    w.wait_logs("leaving checkpoint", 1, secs(5), |_| true)
        .await;
}

async fn a_long_polling_worker_picks_up_an_enqueued_job_at_once(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Http::new(&server.base);
    let w = WorkerProc::start(&server.base, "poller", &db.dir.0, &["--wait-ms", "20000"]);
    let warm = api.enqueue("sleep", json!({"ms": 1})).await;
    api.wait_status(warm, "succeeded", secs(15)).await;
    // The scenario: the worker is parked in a 20 s long poll.
    w.wait_claims("a long poll in flight", secs(10), |n| n == 1)
        .await;
    let job = api.enqueue("sleep", json!({"ms": 1})).await;
    let done = api.wait_status(job, "succeeded", secs(10)).await;
    let picked_up = at(&done["startedAt"]) - at(&done["createdAt"]);
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
