//! `lull queues` and `lull enqueue` against a real server, on both stores:
//! enqueue with a queue, a schedule and a unique key; list the queues;
//! pause one (timed), refuse to resume it while its job runs, force it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use common::process::{lull, text, Lull};
use wire::ClaimRequest;

async fn cli_runs_named_queues(url: &str) {
    let server = Lull::start(url);
    let c = client::Client::new(&server.base).unwrap();
    let out = lull(
        &server,
        &[
            "enqueue",
            "email",
            "--queue",
            "emails",
            "--payload",
            r#"{"to":"a@b"}"#,
            "--unique-key",
            "user:1",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("queue emails, queued"),
        "{}",
        text(&out)
    );
    let out = lull(
        &server,
        &[
            "enqueue",
            "email",
            "--queue",
            "emails",
            "--unique-key",
            "user:1",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).starts_with("duplicate: job "), "{}", text(&out));
    let out = lull(
        &server,
        &["enqueue", "report", "--queue", "reports", "--delay", "10m"],
    );
    assert!(text(&out).contains("scheduled until "), "{}", text(&out));
    let out = lull(&server, &["enqueue", "report", "--run-at", "next week"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("runAt"), "{}", text(&out));
    let out = lull(&server, &["enqueue", "report", "--payload", "{oops"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    let out = lull(&server, &["queues"]);
    assert!(out.status.success(), "{}", text(&out));
    let table = text(&out);
    let rows: Vec<&str> = table.lines().collect();
    assert!(rows[0].starts_with("QUEUE"), "{table}");
    assert!(
        rows[1].starts_with("emails ") && rows[1].contains("running"),
        "{table}"
    );
    assert!(
        rows[2].starts_with("reports ") && rows[2].contains("      1 "),
        "{table}"
    );

    // A running emails job: the queue is not drained after its pause.
    let claim = c
        .claim(&ClaimRequest {
            worker_id: Some("w".into()),
            queues: Some(vec!["emails".into()]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(claim.job.is_some());
    let out = lull(
        &server,
        &[
            "queues",
            "pause",
            "emails",
            "--mode",
            "drain",
            "--reason",
            "provider down",
            "--for",
            "30m",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).starts_with("Queue emails: paused (drain) · resumes by itself at "),
        "{}",
        text(&out)
    );
    let out = lull(&server, &["queues", "pause", "emails", "--reason", "x"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--mode is required: {}",
        text(&out)
    );
    let out = lull(
        &server,
        &[
            "queues",
            "pause",
            "emails",
            "--mode",
            "quiesce",
            "--reason",
            "x",
            "--expected-version",
            "1",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let out = lull(&server, &["queues", "--json"]);
    let list: wire::QueueList = serde_json::from_slice(&out.stdout).unwrap();
    assert!(list.queues[0].paused && list.queues[0].until.is_some());

    let out = lull(
        &server,
        &["queues", "resume", "emails", "--reason", "too early"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("has not drained"), "{}", text(&out));
    let out = lull(
        &server,
        &["queues", "resume", "emails", "--reason", "back", "--force"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("Queue emails: running"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("warning: "), "{}", text(&out));
    let out = lull(&server, &["events", "--limit", "2"]);
    let events = text(&out);
    assert!(
        events.lines().next().unwrap().contains("queue.resume"),
        "{events}"
    );
    assert!(
        events.lines().all(|l| l.ends_with("[queue emails]")),
        "{events}"
    );
}

/// A reader that stops early (`lull queues | grep -q …`) is no error: the
/// CLI exits 0 instead of panicking on the broken pipe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_is_not_a_failure() {
    let db = common::empty_sqlite();
    let server = Lull::start(&db.url);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lull"))
        .args(["queues", "--json"])
        .env("LULL_SERVER", &server.base)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Gone before the answer comes back from the server.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_cli_runs_named_queues() {
    let db = common::empty_sqlite();
    cli_runs_named_queues(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cli_runs_named_queues() {
    let Some(db) = common::empty_postgres().await else {
        return;
    };
    cli_runs_named_queues(&db.url).await;
}
