//! `lull wait --on-timeout cancel` with more blocking jobs than the drain
//! view lists (it names at most 50): it cancels them round after round
//! until the fleet is drained, and says "drained" only then. Real server,
//! worker and CLI processes, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::Duration;

use common::{eventually, lull_cli, Api, Db, Server, WorkerProc};
use serde_json::json;
use wire::JobStatus::Cancelled;
use wire::PauseMode;

const JOBS: usize = 60;

async fn wait_cancel_cancels_every_blocking_job_before_saying_drained(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Api::new(&server.base);
    let _w = WorkerProc::start(
        &server.base,
        "busy",
        &db.dir.0,
        &["--concurrency", "60", "--wait-ms", "1000"],
    );
    let mut jobs = Vec::new();
    for _ in 0..JOBS {
        jobs.push(api.enqueue("sleep", json!({"ms": 600_000})).await);
    }
    eventually("60 jobs to run", Duration::from_secs(60), || async {
        let m = api.client.pause_status().await.unwrap().metrics;
        (m.running == JOBS as i64).then_some(())
    })
    .await;
    api.pause(PauseMode::Drain, "maintenance").await;

    let base = server.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        lull_cli(
            &base,
            &[
                "wait",
                "--timeout",
                "1s",
                "--interval",
                "200ms",
                "--on-timeout",
                "cancel",
            ],
        )
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}\n{stdout}\n{stderr}", out.status);
    assert!(
        stdout.contains(&format!("drained by cancelling {JOBS} job(s)")),
        "{stdout}"
    );
    assert_eq!(stdout.matches("cancelled job ").count(), JOBS, "{stdout}");
    for id in &jobs {
        assert!(
            stdout.contains(&id.to_string()),
            "{id} not cancelled: {stdout}"
        );
        assert_eq!(api.job(*id).await.status, Cancelled);
    }
    let m = api.client.pause_status().await.unwrap().metrics;
    assert!(m.is_drained && m.running == 0, "{m:?}");
}

testkit::on_both_stores!(wait_cancel_cancels_every_blocking_job_before_saying_drained);
