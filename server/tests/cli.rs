//! The operator CLI against a real server: status, pause, resume refusing
//! until drained, wait with its deadline choices, workers, events.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::process::Command;

use common::process::{lull, text, Lull};
use wire::{ClaimRequest, EnqueueRequest, RegisterRequest};

async fn cli_walks_the_runbook(url: &str) {
    let server = Lull::start(url);
    let c = client::Client::new(&server.base).unwrap();
    let out = lull(&server, &["status"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Workers: Running"));

    // A running job, so the fleet is not drained.
    c.enqueue(&EnqueueRequest {
        job_type: Some("t".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let claim = c
        .claim(&ClaimRequest {
            worker_id: Some("w1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let job = claim.job.unwrap().id.to_string();

    let out = lull(
        &server,
        &["pause", "--mode", "drain", "--reason", "cli deploy"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Workers: Paused (drain)"));
    let out = lull(
        &server,
        &[
            "pause",
            "--mode",
            "quiesce",
            "--reason",
            "x",
            "--expected-version",
            "1",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "version moved on: {}",
        text(&out)
    );

    let out = lull(&server, &["resume", "--reason", "too early"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("not drained"));

    let out = lull(&server, &["wait", "--timeout", "1s", "--interval", "200ms"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(text(&out).contains("1 running"));

    let out = lull(
        &server,
        &[
            "wait",
            "--timeout",
            "1s",
            "--interval",
            "200ms",
            "--on-timeout",
            "cancel",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("cancelled job {job}")));
    let out = lull(&server, &["wait", "--timeout", "5s"]);
    assert!(
        out.status.success() && text(&out).contains("drained"),
        "{}",
        text(&out)
    );

    let out = lull(&server, &["resume", "--reason", "done"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Workers: Running"));

    for id in ["w1", "w2"] {
        c.register(&RegisterRequest {
            worker_id: Some(id.into()),
            boot_id: Some("b".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let out = lull(&server, &["workers", "list"]);
    assert!(
        text(&out).contains("w1") && text(&out).contains("active"),
        "{}",
        text(&out)
    );
    let out = lull(
        &server,
        &["workers", "drain", "w1", "w2", "--reason", "all"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("--confirm \"drain 2 workers\""),
        "{}",
        text(&out)
    );
    let out = lull(&server, &["workers", "pause", "w1", "--reason", "debug"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("w1: active → paused"), "{}", text(&out));

    let out = lull(
        &server,
        &[
            "rolling-restart",
            "w2",
            "--max-unavailable",
            "1",
            "--reason",
            "deploy",
            "--deadline-seconds",
            "60",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "w2 is the last available worker: {}",
        text(&out)
    );
    let out = lull(
        &server,
        &[
            "rolling-restart",
            "w2",
            "--max-unavailable",
            "1",
            "--reason",
            "deploy",
            "--confirm",
            "drain 1 worker",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let id = text(&out).split_whitespace().nth(2).unwrap().to_string();
    let out = lull(
        &server,
        &["cancel-rolling-restart", &id, "--reason", "wrong build"],
    );
    assert!(
        out.status.success() && text(&out).contains("cancelled"),
        "{}",
        text(&out)
    );

    let out = lull(&server, &["events", "--limit", "10"]);
    let t = text(&out);
    assert!(
        t.contains("worker.pause") && t.contains("cli deploy") && t.contains("resume"),
        "{t}"
    );
    // The refused drain and rolling restart above are in the trail, marked.
    assert!(t.contains("worker.drain") && t.contains("[refused]"), "{t}");
    let out = lull(&server, &["status", "--json"]);
    // `--json` prints the answer itself: it reads back as the wire type.
    let v: wire::WorkerPauseStatus = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!v.workers_paused);

    // A timed pause: shown with its end, then over by itself.
    let out = lull(
        &server,
        &["pause", "--reason", "short window", "--for", "2s"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("resumes by itself at "),
        "{}",
        text(&out)
    );
    let out = lull(
        &server,
        &[
            "pause",
            "--reason",
            "x",
            "--for",
            "1s",
            "--until",
            "2030-01-01T00:00:00Z",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "--for and --until together: {}",
        text(&out)
    );
    let out = lull(
        &server,
        &["pause", "--reason", "x", "--until", "2001-01-01T00:00:00Z"],
    );
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("until must be in the future"),
        "{}",
        text(&out)
    );
    // Wait for the end of the window (2 s), not a fixed time.
    let out = testkit::eventually(
        "the timed pause to end by itself",
        std::time::Duration::from_secs(15),
        || async {
            let out = lull(&server, &["status"]);
            text(&out).contains("Workers: Running").then_some(out)
        },
    )
    .await;
    assert!(text(&out).contains("by system"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_cli_walks_the_runbook() {
    let db = common::empty_sqlite();
    cli_walks_the_runbook(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cli_walks_the_runbook() {
    let Some(db) = common::empty_postgres().await else {
        return;
    };
    cli_walks_the_runbook(&db.url).await;
}

#[test]
fn cli_reports_an_unreachable_server() {
    let out = Command::new(env!("CARGO_BIN_EXE_lull"))
        .args(["status", "--server", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach"));
}
