//! Issue 14 with real `lull-worker` processes, on SQLite and PostgreSQL:
//! every worker applies a pause within a bound and the status says so; a
//! stopped process (SIGSTOP) stays pending, named, until its heartbeat goes
//! stale and it moves to offline; `lull wait --applied` exits 0 / 4
//! accordingly; a quiesce is applied only once the running job has reached
//! its checkpoint.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::{Duration, Instant};

use common::{lull_cli, Api, Db, Server, WorkerProc};
use nix::sys::signal::Signal;
use serde_json::json;
use wire::JobStatus::Running;
use wire::{PauseAcknowledgement, PauseMode};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ids(list: &[wire::AcknowledgingWorker]) -> Vec<&str> {
    list.iter().map(|w| w.worker_id.as_str()).collect()
}

async fn ack(api: &Api) -> PauseAcknowledgement {
    api.client
        .pause_status()
        .await
        .unwrap()
        .acknowledgement
        .expect("the status carries the acknowledgement")
}

fn output(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn three_workers_apply_a_pause_and_a_stopped_one_is_named(db: Db) {
    // Heartbeats every 300 ms; stale after 3 s, so the SIGSTOPped worker
    // goes offline within the test.
    let server = Server::start_with(&db.url, 0, &[("LULL_WORKER_STALE_SECONDS", "3")]);
    let api = Api::new(&server.base);
    let workers: Vec<WorkerProc> = ["w1", "w2", "w3"]
        .iter()
        .map(|id| WorkerProc::start(&server.base, id, &db.dir.0, &[]))
        .collect();
    // Running at version 1: each applies it as soon as it has heard of it.
    common::eventually(
        "three workers applying the running state",
        secs(20),
        || async {
            let a = ack(&api).await;
            (a.total == 3 && a.complete).then_some(())
        },
    )
    .await;

    let paused_at = Instant::now();
    let v = api.pause(PauseMode::Drain, "migration 42").await;
    let waited = api.client.pause_status_applied(secs(20)).await.unwrap();
    let a = waited.acknowledgement.unwrap();
    let took = paused_at.elapsed();
    assert!(a.complete, "{a:?}");
    assert_eq!((a.version, a.applied, a.total), (v, 3, 3));
    // The bound: a claim answer or a worker heartbeat (300 ms) tells the
    // worker, and its next local check (200 ms) sends the heartbeat.
    assert!(took < secs(5), "applied by all after {took:?}");
    for w in api.workers().await {
        assert_eq!(w.applied_version, Some(v), "{}", w.id);
    }
    let done = lull_cli(&server.base, &["wait", "--applied", "--timeout", "10s"]);
    assert_eq!(done.status.code(), Some(0), "{}", output(&done));
    assert!(
        output(&done).contains("applied by all 3 online workers"),
        "{}",
        output(&done)
    );

    // w3 stops (SIGSTOP): a new pause version stays pending on it, named.
    workers[2].signal(Signal::SIGSTOP);
    let v2 = api.pause(PauseMode::Drain, "migration 43").await;
    let a = common::eventually("w1 and w2 to apply the new version", secs(10), || async {
        let a = ack(&api).await;
        (a.applied == 2).then_some(a)
    })
    .await;
    assert_eq!((a.version, a.total, a.complete), (v2, 3, false));
    assert_eq!(ids(&a.pending), ["w3"]);
    assert_eq!(a.pending[0].applied_version, Some(v));
    let timed_out = lull_cli(&server.base, &["wait", "--applied", "--timeout", "1s"]);
    assert_eq!(timed_out.status.code(), Some(4), "{}", output(&timed_out));
    let text = output(&timed_out);
    assert!(text.contains("applied by 2 of 3 workers"), "{text}");
    assert!(text.contains("pending: w3"), "{text}");

    // Its heartbeat goes stale: offline, listed apart, no longer pending.
    let a = common::eventually("w3 to go offline", secs(15), || async {
        let a = ack(&api).await;
        (!a.offline.is_empty()).then_some(a)
    })
    .await;
    assert_eq!(ids(&a.offline), ["w3"]);
    assert!(a.pending.is_empty() && a.complete, "{a:?}");
    assert_eq!((a.applied, a.total), (2, 2));
    let done = lull_cli(&server.base, &["wait", "--applied", "--timeout", "5s"]);
    assert_eq!(done.status.code(), Some(0), "{}", output(&done));
    assert!(
        output(&done).contains("offline, not counted: w3"),
        "{}",
        output(&done)
    );

    // Back (SIGCONT): it applies the version it finds.
    workers[2].signal(Signal::SIGCONT);
    common::eventually("w3 to come back and apply", secs(15), || async {
        let a = ack(&api).await;
        (a.total == 3 && a.complete).then_some(())
    })
    .await;
    // `lull pause --wait-applied`: pauses, then waits for all three.
    let paused = lull_cli(
        &server.base,
        &[
            "pause",
            "--mode",
            "quiesce",
            "--reason",
            "migration 44",
            "--wait-applied",
            "--timeout",
            "20s",
        ],
    );
    let text = output(&paused);
    assert_eq!(paused.status.code(), Some(0), "{text}");
    assert!(text.contains("applied by all 3 online workers"), "{text}");
    assert_eq!(ack(&api).await.version, v2 + 1);
}

async fn a_quiesce_is_applied_once_the_running_job_reaches_its_checkpoint(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Api::new(&server.base);
    let _w = WorkerProc::start(&server.base, "q1", &db.dir.0, &[]);
    // One checkpoint, 3 s into the job.
    let job = api
        .enqueue("sleep", json!({"ms": 4000, "checkpointEveryMs": 3000}))
        .await;
    let running = api.wait_status(job, Running, secs(15)).await;
    let v = api.pause(PauseMode::Quiesce, "database failover").await;

    // Between checkpoints: the worker knows of the pause (it would log it
    // and stop claiming) but has not applied it.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let a = ack(&api).await;
    assert_eq!((a.version, a.applied, a.complete), (v, 0, false), "{a:?}");
    assert_eq!(ids(&a.pending), ["q1"]);
    assert!(!api.job(job).await.paused_at_checkpoint);

    let waited = api.client.pause_status_applied(secs(10)).await.unwrap();
    assert!(waited.acknowledgement.unwrap().complete);
    let me = api.worker("q1").await;
    let applied_at = me.applied_at.unwrap();
    let started = running.started_at.unwrap();
    assert!(
        applied_at - started >= chrono::Duration::milliseconds(2900),
        "applied {} after the job started, before its checkpoint",
        applied_at - started
    );
    common::eventually("the job to be held", secs(5), || async {
        api.job(job).await.paused_at_checkpoint.then_some(())
    })
    .await;
    api.resume("failover done").await;
}

testkit::on_both_stores!(
    three_workers_apply_a_pause_and_a_stopped_one_is_named,
    a_quiesce_is_applied_once_the_running_job_reaches_its_checkpoint,
);
