//! The live stream's shared fan-out (issue #18), over real HTTP on both
//! stores: a pause reaches every open stream with one status read in the
//! process, not one per stream, and opening a stream reads nothing; on
//! PostgreSQL a change made on another replica reaches its streams (NOTIFY)
//! with one build there too.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::Duration;

use common::served::Served;
use common::TestDb;
use serde_json::json;
use server::service::{Service, ServiceConfig};

const STREAM: &str = "/api/system/worker-pause/stream";

/// Streams held open at once: enough that a read per stream would show.
const STREAMS: usize = 200;

/// Every periodic read slowed to ten minutes: after start-up, the storage
/// calls counted are the requests' and the fan-out's.
fn quiet() -> ServiceConfig {
    let long = 600_000;
    ServiceConfig {
        pause_refresh_ms: long,
        metrics_tick_ms: long,
        rollout_tick_ms: long,
        retention_interval_ms: long,
        auth_cache_ms: long,
        ..Default::default()
    }
}

/// Opens `n` streams and reads the first event of each (a `state`).
async fn open_streams(s: &Served, n: usize) -> Vec<reqwest::Response> {
    let client = reqwest::Client::new();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut r = client.get(s.url(STREAM)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let first = tokio::time::timeout(Duration::from_secs(5), r.chunk())
            .await
            .expect("the first event comes at once")
            .unwrap()
            .expect("the first event");
        assert!(String::from_utf8_lossy(&first).starts_with("event: state\n"));
        out.push(r);
    }
    out
}

/// Reads every stream until it carries a `state` event of `version`.
async fn all_see(streams: Vec<reqwest::Response>, version: i64) -> Vec<reqwest::Response> {
    let needle = format!("\"version\":{version},");
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|mut r| {
            let needle = needle.clone();
            tokio::spawn(async move {
                // Whole events only: a chunk may hold more than one, or
                // part of one.
                let mut text = String::new();
                loop {
                    let chunk = r.chunk().await.unwrap().expect("the stream is open");
                    text.push_str(&String::from_utf8_lossy(&chunk));
                    while let Some(end) = text.find("\n\n") {
                        let event: String = text.drain(..end + 2).collect();
                        if event.starts_with("event: state\n") && event.contains(&needle) {
                            return r;
                        }
                    }
                }
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        let r = tokio::time::timeout(Duration::from_secs(10), t)
            .await
            .expect("every stream sees the change")
            .unwrap();
        out.push(r);
    }
    out
}

/// Lets the start-up reads (each periodic task's first tick, LISTEN's
/// first connect) finish, then returns the storage calls so far.
async fn settled_calls(svc: &Service) -> u64 {
    let mut last = svc.storage_calls();
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = svc.storage_calls();
        if now == last {
            return now;
        }
        last = now;
    }
}

async fn pause(s: &Served, reason: &str) -> i64 {
    let r = reqwest::Client::new()
        .post(s.url("/api/system/worker-pause"))
        .json(&json!({"action": "pause", "mode": "drain", "reason": reason}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<serde_json::Value>().await.unwrap()["version"]
        .as_i64()
        .unwrap()
}

/// Opening streams reads nothing (the first event is the shared newest
/// frame), and a pause reaches all of them with a constant number of
/// storage calls (the request's own and one status read), not one per
/// stream; one frame is built for the version.
async fn a_pause_reaches_every_stream_with_one_status_read(db: TestDb) {
    let s = Served::start(db, quiet()).await;
    let first = open_streams(&s, 1).await;
    let before_open = settled_calls(&s.svc).await;
    let mut streams = open_streams(&s, STREAMS - 1).await;
    streams.extend(first);
    assert_eq!(
        s.svc.storage_calls(),
        before_open,
        "opening a stream reads nothing"
    );
    let builds = s.svc.state_frame_builds();

    let before = s.svc.storage_calls();
    let version = pause(&s, "fan-out").await;
    let streams = all_see(streams, version).await;
    let calls = s.svc.storage_calls() - before;
    // The request: the transition and its answer's reads (a handful); the
    // fan-out: one status read (four calls). A read per stream: 800.
    assert!(calls <= 16, "{calls} storage calls for {STREAMS} streams");
    assert_eq!(
        s.svc.state_frame_builds() - builds,
        1,
        "one build per version"
    );
    drop(streams);
}

/// PostgreSQL: a pause made on another replica reaches this one's streams
/// through NOTIFY (every periodic re-read is slowed to ten minutes), with
/// one build in this process.
async fn another_replicas_change_is_built_once_here(db: TestDb) {
    if db.store.backend() != "postgres" {
        return;
    }
    let other = db.beside().await;
    let b = Served::start(db, quiet()).await;
    let a = Served::start(other, quiet()).await;
    let streams = open_streams(&b, 20).await;
    settled_calls(&b.svc).await;
    let builds = b.svc.state_frame_builds();
    let version = pause(&a, "on the other replica").await;
    let streams = all_see(streams, version).await;
    assert_eq!(b.svc.state_frame_builds() - builds, 1);
    drop(streams);
}

/// A stream opened after the metrics moved (the shared `state` event is
/// from its version's change) gets the newest metrics tick with it, in the
/// same chunk, so the page never starts from stale metrics.
async fn a_late_stream_gets_the_newest_metrics_with_the_state(db: TestDb) {
    let s = Served::start(
        db,
        ServiceConfig {
            metrics_tick_ms: 100,
            ..Default::default()
        },
    )
    .await;
    drop(open_streams(&s, 1).await);
    let r = reqwest::Client::new()
        .post(s.url("/api/queue/jobs"))
        .json(&json!({"type": "email"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let mut rx = s.svc.live().subscribe();
    tokio::time::timeout(
        Duration::from_secs(5),
        rx.wait_for(|t| t.as_ref().is_some_and(|t| t.tick.metrics.queued == 1)),
    )
    .await
    .expect("the tick saw the job")
    .unwrap();
    let mut late = reqwest::Client::new()
        .get(s.url(STREAM))
        .send()
        .await
        .unwrap();
    let first = late.chunk().await.unwrap().expect("the first chunk");
    let text = String::from_utf8_lossy(&first);
    let (state, metrics) = text.split_once("\n\nevent: metrics\n").expect(&text);
    assert!(
        state.starts_with("event: state\n") && state.contains("\"queued\":0"),
        "{text}"
    );
    assert!(metrics.contains("\"queued\":1"), "{text}");
}

on_both_stores!(
    a_pause_reaches_every_stream_with_one_status_read,
    another_replicas_change_is_built_once_here,
    a_late_stream_gets_the_newest_metrics_with_the_state,
);
