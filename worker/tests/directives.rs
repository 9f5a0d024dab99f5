//! Per-worker directives reaching a real `lull-worker` through its
//! heartbeats: `drain` finishes the running job and exits 0; `pause` stops
//! claiming (the worker keeps heartbeating, reported `paused`) until `run`.
//! The operator acts through `POST /api/workers/actions`; each test runs a
//! single worker, so the safety rule refuses taking it out of service and
//! the action is confirmed with the phrase the refusal names. On SQLite and
//! PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::{Duration, Instant};

use common::{Api, Db, Server, WorkerProc};
use serde_json::{json, Value};
use wire::JobStatus::{Queued, Running, Succeeded};
use wire::{ObservedState, WorkerActionKind};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn directive_to(to: &'static str) -> impl Fn(&Value) -> bool {
    move |l| l["to"] == to
}

async fn a_drain_directive_finishes_the_job_and_exits_0(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Api::new(&server.base);
    let mut w = WorkerProc::start(&server.base, "drained", &db.dir.0, &[]);
    let running = api.enqueue("sleep", json!({"ms": 1500})).await;
    api.wait_status(running, Running, secs(15)).await;
    let next = api.enqueue("sleep", json!({"ms": 1})).await;

    let drain = api
        .worker_action_confirmed(WorkerActionKind::Drain, &["drained"], "host reboot")
        .await;
    assert!(drain.override_used, "{drain:?}");
    let status = w.wait_exit(secs(20)).await;
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(w.logs("directive from the control plane").len(), 1);
    assert_eq!(api.job(running).await.status, Succeeded);
    assert_eq!(api.job(next).await.status, Queued, "nothing new claimed");
}

async fn a_pause_directive_stops_claims_until_run(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Api::new(&server.base);
    let w = WorkerProc::start(&server.base, "paused", &db.dir.0, &["--wait-ms", "1000"]);
    w.wait_logs("registered", 1, secs(15), |_| true).await;

    api.worker_action_confirmed(WorkerActionKind::Pause, &["paused"], "debugging")
        .await;
    w.wait_logs(
        "directive from the control plane",
        1,
        secs(10),
        directive_to("pause"),
    )
    .await;
    // A claim already in flight when the directive arrived may still run
    // its course (at most --wait-ms); let it, then enqueue.
    w.wait_claims("no claim in flight", secs(5), |n| n == 0)
        .await;
    let job = api.enqueue("sleep", json!({"ms": 1})).await;
    let watch_until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < watch_until {
        assert_eq!(api.job(job).await.status, Queued, "claimed while paused");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let me = &api.workers().await[0];
    assert_eq!(
        me.observed_state,
        ObservedState::Paused,
        "still heartbeating, paused: {me:?}"
    );

    let resume = api
        .worker_action_confirmed(WorkerActionKind::Resume, &["paused"], "debugged")
        .await;
    assert!(!resume.override_used, "resuming is always safe");
    w.wait_logs(
        "directive from the control plane",
        1,
        secs(10),
        directive_to("run"),
    )
    .await;
    api.wait_status(job, Succeeded, secs(15)).await;
}

testkit::on_both_stores!(
    a_drain_directive_finishes_the_job_and_exits_0,
    a_pause_directive_stops_claims_until_run,
);
