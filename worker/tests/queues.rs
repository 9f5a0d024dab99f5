//! Named queues with real `lull-worker` processes against a real server,
//! on SQLite and PostgreSQL: a worker on `--queues a` never gets a job of
//! `b`; pausing `a` idles its workers while `b`'s keep working; a quiesce
//! of `a` holds its running job at the checkpoint with the lease kept.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::{Api, Db, Server, WorkerProc};
use serde_json::{json, Value};
use uuid::Uuid;
use wire::JobStatus::{Queued, Running, Succeeded};
use wire::{EnqueueRequest, QueuePauseRequest, QueueResumeRequest};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

async fn enqueue_in(api: &Api, queue: &str, payload: Value) -> Uuid {
    let req = EnqueueRequest {
        job_type: Some("sleep".into()),
        payload: Some(payload),
        queue: Some(queue.into()),
        ..Default::default()
    };
    api.client.enqueue(&req).await.unwrap().id
}

async fn pause_queue(api: &Api, queue: &str, mode: &str) -> i64 {
    let req = QueuePauseRequest {
        mode: Some(mode.into()),
        reason: Some(format!("{queue} {mode}")),
        ..Default::default()
    };
    api.client.pause_queue(queue, &req).await.unwrap().version
}

async fn resume_queue(api: &Api, queue: &str) {
    let req = QueueResumeRequest {
        reason: Some("back".into()),
        force_resume: Some(true),
        ..Default::default()
    };
    api.client.resume_queue(queue, &req).await.unwrap();
}

async fn a_worker_on_queue_a_never_gets_a_job_of_b(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Api::new(&server.base);
    let wa = WorkerProc::start(&server.base, "wa", &db.dir.0, &["--queues", "a"]);
    let wb = WorkerProc::start(
        &server.base,
        "wb",
        &db.dir.0,
        &["--queues", "b", "--concurrency", "2"],
    );
    let mut jobs = Vec::new();
    for i in 0..6 {
        let q = if i % 2 == 0 { "a" } else { "b" };
        jobs.push((q, enqueue_in(&api, q, json!({"ms": 20})).await));
    }
    for (q, id) in jobs {
        let done = api.wait_status(id, Succeeded, secs(20)).await;
        assert_eq!(done.queue, q);
        let expected = if q == "a" { "wa" } else { "wb" };
        assert_eq!(done.worker_id.as_deref(), Some(expected), "{done:?}");
    }
    assert_eq!(wa.logs("job started").len(), 3);
    assert_eq!(wb.logs("job started").len(), 3);
}

async fn pausing_a_idles_its_workers_while_b_workers_keep_working(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Api::new(&server.base);
    let wa = WorkerProc::start(&server.base, "wa", &db.dir.0, &["--queues", "a"]);
    let _wb = WorkerProc::start(&server.base, "wb", &db.dir.0, &["--queues", "b"]);
    let warm = enqueue_in(&api, "a", json!({"ms": 1})).await;
    api.wait_status(warm, Succeeded, secs(20)).await;

    let v = pause_queue(&api, "a", "drain").await;
    let held = enqueue_in(&api, "a", json!({"ms": 1})).await;
    for _ in 0..3 {
        let b = enqueue_in(&api, "b", json!({"ms": 1})).await;
        api.wait_status(b, Succeeded, secs(20)).await;
    }
    // The a worker sleeps between paused claims (the server's 300 ms),
    // logging the queue's pause once for this version.
    wa.wait_logs("every queue of this worker is paused", 3, secs(10), |_| {
        true
    })
    .await;
    let logged = wa.logs("queue paused by the control plane");
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(
        (logged[0]["queue"].clone(), logged[0]["version"].clone()),
        (json!("a"), json!(v))
    );
    assert_eq!(
        api.job(held).await.status,
        Queued,
        "nothing of a handed out"
    );

    resume_queue(&api, "a").await;
    let done = api.wait_status(held, Succeeded, secs(20)).await;
    assert_eq!(done.worker_id.as_deref(), Some("wa"));
    wa.wait_logs("queue resumed", 1, secs(5), |l| l["queue"] == "a")
        .await;
}

async fn quiesce_of_a_holds_its_running_job_at_the_checkpoint_with_the_lease_kept(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Api::new(&server.base);
    let w = WorkerProc::start(
        &server.base,
        "wa",
        &db.dir.0,
        &["--queues", "a", "--lease-seconds", "5"],
    );
    let _wb = WorkerProc::start(&server.base, "wb", &db.dir.0, &["--queues", "b"]);
    let job = enqueue_in(&api, "a", json!({"ms": 2000, "checkpointEveryMs": 100})).await;
    api.wait_status(job, Running, secs(15)).await;

    pause_queue(&api, "a", "quiesce").await;
    let held = common::eventually("the job to hold at a checkpoint", secs(10), || async {
        let j = api.job(job).await;
        j.paused_at_checkpoint.then_some(j)
    })
    .await;
    w.wait_logs("holding at checkpoint", 1, secs(5), |l| l["queue"] == "a")
        .await;
    // Another queue is not held.
    let b = enqueue_in(&api, "b", json!({"ms": 200, "checkpointEveryMs": 50})).await;
    api.wait_status(b, Succeeded, secs(15)).await;

    // Watch for longer than the lease: running, held, the lease always in
    // the future (heartbeats go on), never stale.
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
        let q = api.client.queue("a").await.unwrap();
        assert_eq!((q.running, q.stale_running), (1, 0), "{q:?}");
        last = j;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        last.lease_expires_at.unwrap() > first_expiry + chrono::Duration::seconds(5),
        "lease extended: {last:?}"
    );
    resume_queue(&api, "a").await;
    let done = api.wait_status(job, Succeeded, secs(15)).await;
    assert_eq!(done.attempts, 1, "the same attempt finished: {done:?}");
    w.wait_logs("leaving checkpoint", 1, secs(5), |_| true)
        .await;
}

testkit::on_both_stores!(
    a_worker_on_queue_a_never_gets_a_job_of_b,
    pausing_a_idles_its_workers_while_b_workers_keep_working,
    quiesce_of_a_holds_its_running_job_at_the_checkpoint_with_the_lease_kept,
);
