//! A drain reaches a job held at a checkpoint by a quiesce: `checkpoint()`
//! answers `Stop`, the job is handed back (no result; its lease expires and
//! the server requeues it) and the worker exits — on SIGTERM within a few
//! seconds, and under a rolling restart before the restart's deadline.
//! Without it the held job kept the worker from ever draining. Real server
//! and worker processes, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::{Duration, Instant};

use common::{eventually, Api, Db, Server, Supervisor, WorkerProc};
use nix::sys::signal::Signal;
use serde_json::json;
use uuid::Uuid;
use wire::JobStatus::{Running, Succeeded};
use wire::{PauseMode, RollingRestartRequest, RolloutStatus};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Short leases so a handed-back job is requeued quickly; short long
/// polls so a drain is not held up by one.
const FLAGS: &[&str] = &["--lease-seconds", "5", "--wait-ms", "1000"];

/// Enqueues a checkpointing job, waits for it to run, quiesces the fleet
/// and waits until the job holds at a checkpoint.
async fn a_held_job(api: &Api) -> Uuid {
    let job = api
        .enqueue("sleep", json!({"ms": 3000, "checkpointEveryMs": 100}))
        .await;
    api.wait_status(job, Running, secs(15)).await;
    api.pause(PauseMode::Quiesce, "storage failover").await;
    eventually("the job to hold at a checkpoint", secs(10), || async {
        api.job(job).await.paused_at_checkpoint.then_some(())
    })
    .await;
    job
}

/// Resumes the fleet and waits for the handed-back job to finish on a
/// second attempt (its lease expired, the server requeued it).
async fn runs_again_after_the_resume(api: &Api, job: Uuid) {
    let held = api.job(job).await;
    assert_eq!(
        held.status, Running,
        "nothing was reported for it: {held:?}"
    );
    assert_eq!(held.attempts, 1, "{held:?}");
    api.resume("failover done").await;
    let done = api.wait_status(job, Succeeded, secs(30)).await;
    assert_eq!(done.attempts, 2, "a second attempt ran it: {done:?}");
    assert_eq!(done.result.as_ref().unwrap()["sleptMs"], 3000, "{done:?}");
}

async fn sigterm_during_a_quiesce_stops_the_held_job_and_exits_in_time(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Api::new(&server.base);
    let mut w = WorkerProc::start(&server.base, "held", &db.dir.0, FLAGS);
    let job = a_held_job(&api).await;

    let sent = Instant::now();
    w.signal(Signal::SIGTERM);
    let status = w.wait_exit(secs(5)).await;
    assert!(status.success(), "a drain exits 0: {status}");
    assert!(sent.elapsed() < secs(5), "{:?}", sent.elapsed());
    let stop = w.logs("stopping at checkpoint");
    assert_eq!(stop.len(), 1, "{stop:?}");
    assert_eq!(stop[0]["job_id"], job.to_string());
    assert_eq!(w.logs("job stopped at a checkpoint: handed back").len(), 1);
    assert!(w.logs("result acknowledged").is_empty());

    let _next = WorkerProc::start(&server.base, "next", &db.dir.0, FLAGS);
    runs_again_after_the_resume(&api, job).await;
}

async fn a_rolling_restart_during_a_quiesce_ends_before_its_deadline(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Api::new(&server.base);
    let mut fleet = Supervisor::start(&server.base, &["r1"], &db.dir.0, FLAGS);
    let job = a_held_job(&api).await;

    let mut req = RollingRestartRequest {
        all: Some(true),
        max_unavailable: Some(1),
        deadline_seconds: Some(20),
        reason: Some("deploy during failover".into()),
        ..Default::default()
    };
    let r = match api.client.start_rolling_restart(&req).await {
        Ok(r) => r,
        // One worker: the safety rule asks for the phrase; an operator types it.
        Err(e) => match e.api() {
            Some(client::ApiError::SafetyRefused {
                confirm_phrase: Some(phrase),
                ..
            }) => {
                req.confirm = Some(phrase.clone());
                api.client.start_rolling_restart(&req).await.unwrap()
            }
            _ => panic!("rolling restart: {e}"),
        },
    };
    let started = Instant::now();
    let r = eventually("the rolling restart to end", secs(30), || async {
        let r = api.client.rolling_restart(r.id).await.unwrap();
        (r.status != RolloutStatus::Running).then_some(r)
    })
    .await;
    assert_eq!(r.status, RolloutStatus::Done, "{r:?}");
    assert!(started.elapsed() < secs(20), "{:?}", started.elapsed());
    assert_eq!(fleet.starts("r1"), 2, "r1 drained and came back");
    assert!(fleet.exits("r1")[0].success(), "{:?}", fleet.exits("r1"));
    assert_eq!(fleet.logs("r1", "stopping at checkpoint").len(), 1);

    runs_again_after_the_resume(&api, job).await;
    fleet.stop(secs(10)).await;
}

testkit::on_both_stores!(
    sigterm_during_a_quiesce_stops_the_held_job_and_exits_in_time,
    a_rolling_restart_during_a_quiesce_ends_before_its_deadline,
);
