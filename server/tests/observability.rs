//! `/metrics` through the metrics facade, parsed with a Prometheus text
//! parser (not string matching), and the StatsD exporter received on a UDP
//! socket — on both stores.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::Duration;

use common::served::Served;
use common::TestDb;
use prometheus_parse::{Scrape, Value as Prom};
use serde_json::{json, Value};
use server::domain::Registration;
use server::metrics::StatsdTarget;
use server::service::ServiceConfig;

fn cfg() -> ServiceConfig {
    ServiceConfig {
        min_available_workers: 1,
        ..Default::default()
    }
}

async fn post(s: &Served, path: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(s.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn scrape(s: &Served) -> Scrape {
    let r = reqwest::get(s.url("/metrics")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap()
}

/// The value of the sample `name` with exactly `labels` (a histogram: its
/// count, the `+Inf` bucket).
fn value(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    s.samples
        .iter()
        .filter(|x| x.metric == name)
        .find(|x| {
            x.labels.len() == labels.len()
                && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v))
        })
        .map(|x| match &x.value {
            Prom::Counter(v) | Prom::Gauge(v) | Prom::Untyped(v) => *v,
            Prom::Histogram(b) => b
                .iter()
                .find(|c| c.less_than.is_infinite())
                .map(|c| c.count)
                .unwrap_or(f64::NAN),
            Prom::Summary(_) => f64::NAN,
        })
}

fn expect(s: &Scrape, name: &str, labels: &[(&str, &str)], want: f64) {
    assert_eq!(
        value(s, name, labels),
        Some(want),
        "{name}{labels:?} (have: {:?})",
        s.samples
            .iter()
            .filter(|x| x.metric.starts_with(name))
            .map(|x| (&x.labels, &x.value))
            .collect::<Vec<_>>()
    );
}

async fn register(s: &Served, id: &str) {
    s.svc
        .register_worker(
            Registration::parse(wire::RegisterRequest {
                worker_id: Some(id.into()),
                boot_id: Some(format!("{id}-boot")),
                ..Default::default()
            })
            .unwrap(),
        )
        .await
        .unwrap();
}

/// After a pause, a refused and an applied worker action, a rolling
/// restart, claims (paused, claimed, one long-polling) and an open event
/// stream, every new series is there with the right value, next to the
/// old names.
async fn scrape_shows_each_new_series(db: TestDb) {
    let s = Served::start(db, cfg()).await;
    for w in ["w1", "w2", "w3"] {
        register(&s, w).await;
    }
    let before = scrape(&s).await;
    expect(&before, "lull_workers_paused", &[], 0.0);
    expect(&before, "lull_pause_duration_seconds", &[], 0.0);
    expect(
        &before,
        "lull_fleet_actions_total",
        &[("action", "pause")],
        0.0,
    );
    expect(&before, "lull_fleet_workers", &[("state", "running")], 3.0);
    expect(&before, "lull_fleet_workers", &[("state", "offline")], 0.0);

    // A pause, and a claim answered paused.
    let (st, _) = post(&s, "/api/queue/jobs", json!({"type": "email"})).await;
    assert_eq!(st, 201);
    let (st, _) = post(
        &s,
        "/api/system/worker-pause",
        json!({"action": "pause", "mode": "quiesce", "reason": "db migration"}),
    )
    .await;
    assert_eq!(st, 200);
    let (_, c) = post(&s, "/api/queue/jobs/claim", json!({"workerId": "w1"})).await;
    assert_eq!(c["job"], Value::Null);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let m = scrape(&s).await;
    expect(&m, "lull_workers_paused", &[], 1.0);
    expect(&m, "lull_pause_mode", &[("mode", "quiesce")], 1.0);
    expect(&m, "lull_pause_mode", &[("mode", "drain")], 0.0);
    expect(&m, "lull_pause_version", &[], 2.0);
    expect(&m, "lull_pause_actions_total", &[("action", "pause")], 1.0);
    expect(&m, "lull_claims_total", &[("outcome", "paused")], 1.0);
    let paused_for = value(&m, "lull_pause_duration_seconds", &[]).unwrap();
    assert!(
        (1.0..60.0).contains(&paused_for),
        "paused for {paused_for} s"
    );

    // A worker action refused by the safety rule, then one applied.
    let (st, e) = post(
        &s,
        "/api/workers/actions",
        json!({"action": "pause", "workerIds": ["w1", "w2", "w3"], "reason": "all of them"}),
    )
    .await;
    assert_eq!(st, 409, "{e}");
    let (st, _) = post(
        &s,
        "/api/workers/actions",
        json!({"action": "pause", "workerIds": ["w3"], "reason": "bad disk"}),
    )
    .await;
    assert_eq!(st, 200);
    // A rolling restart of w1 (leaves w2 available).
    let (st, r) = post(
        &s,
        "/api/workers/rolling-restarts",
        json!({"workerIds": ["w1"], "maxUnavailable": 1, "reason": "new build"}),
    )
    .await;
    assert_eq!(st, 201, "{r}");
    // Resume, then a claim that gets the job and one that long-polls.
    let (st, _) = post(
        &s,
        "/api/system/worker-pause",
        json!({"action": "resume", "reason": "done"}),
    )
    .await;
    assert_eq!(st, 200);
    let (_, c) = post(&s, "/api/queue/jobs/claim", json!({"workerId": "w2"})).await;
    assert!(c["job"]["id"].is_string(), "{c}");
    let waiter = {
        let url = s.url("/api/queue/jobs/claim");
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .json(&json!({"workerId": "w2", "waitMs": 3000}))
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    // An open live stream.
    let stream = reqwest::get(s.url("/api/system/worker-pause/stream"))
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let svc = s.svc.clone();
    common::wait_for("the long poll to wait", Duration::from_secs(5), || {
        common::empty_claims(&svc) > 0
    })
    .await;

    let m = scrape(&s).await;
    expect(&m, "lull_workers_paused", &[], 0.0);
    expect(&m, "lull_pause_duration_seconds", &[], 0.0);
    expect(&m, "lull_pause_actions_total", &[("action", "resume")], 1.0);
    expect(&m, "lull_fleet_actions_total", &[("action", "pause")], 1.0);
    expect(&m, "lull_fleet_actions_total", &[("action", "drain")], 0.0);
    expect(
        &m,
        "lull_fleet_action_refusals_total",
        &[("action", "pause")],
        1.0,
    );
    expect(&m, "lull_rolling_restarts", &[("status", "running")], 1.0);
    expect(&m, "lull_rolling_restarts", &[("status", "failed")], 0.0);
    expect(&m, "lull_rolling_restarts_started_total", &[], 1.0);
    expect(&m, "lull_claims_total", &[("outcome", "claimed")], 1.0);
    expect(&m, "lull_claim_waiters", &[], 1.0);
    expect(&m, "lull_stream_subscribers", &[], 1.0);
    expect(&m, "lull_jobs", &[("status", "running")], 1.0);
    expect(&m, "lull_fleet_workers", &[("state", "running")], 3.0);
    let calls = value(&m, "lull_storage_call_duration_seconds", &[]).unwrap();
    assert!(calls > 10.0, "storage calls timed: {calls}");
    assert!(value(&m, "lull_storage_calls_total", &[]).unwrap() >= calls);
    assert!(m.docs.contains_key("lull_fleet_workers"), "HELP lines");

    assert_eq!(waiter.await.unwrap(), 200);
    drop(stream);
    let m = scrape(&s).await;
    expect(&m, "lull_claim_waiters", &[], 0.0);
    expect(&m, "lull_stream_subscribers", &[], 0.0);
}

/// With `LULL_STATSD` set, a pause reaches a StatsD server as the state
/// gauge and the action counter (and a resume as its counter and gauge 0).
async fn statsd_receives_pause_gauge_and_counters(db: TestDb) {
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = udp.local_addr().unwrap().port();
    let s = Served::start(
        db,
        ServiceConfig {
            statsd: Some(StatsdTarget::parse(&format!("127.0.0.1:{port}")).unwrap()),
            ..cfg()
        },
    )
    .await;
    let (st, _) = post(
        &s,
        "/api/system/worker-pause",
        json!({"action": "pause", "mode": "drain", "reason": "deploy"}),
    )
    .await;
    assert_eq!(st, 200);
    let lines = receive_until(
        &udp,
        &[
            "lull_workers_paused:1|g",
            "lull_pause_actions_total:1|c|#action:pause",
        ],
    )
    .await;
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("lull_pause_version:2|g")),
        "{lines:?}"
    );
    let (st, _) = post(
        &s,
        "/api/system/worker-pause",
        json!({"action": "resume", "reason": "deployed"}),
    )
    .await;
    assert_eq!(st, 200);
    receive_until(
        &udp,
        &[
            "lull_workers_paused:0|g",
            "lull_pause_actions_total:1|c|#action:resume",
        ],
    )
    .await;
}

/// Reads StatsD datagrams (each may carry several lines) until every one
/// of `want` was seen; all lines read.
async fn receive_until(udp: &tokio::net::UdpSocket, want: &[&str]) -> Vec<String> {
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 65536];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !want.iter().all(|w| seen.iter().any(|l: &String| l == w)) {
        let n = tokio::time::timeout_at(deadline, udp.recv(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no {want:?} within 10 s; got {seen:?}"))
            .unwrap();
        seen.extend(
            String::from_utf8_lossy(&buf[..n])
                .lines()
                .map(str::to_string),
        );
    }
    seen
}

/// The acknowledgement gauges: online workers that have applied the
/// current pause version, and those that have not yet.
async fn scrape_counts_the_workers_that_applied_the_pause(db: TestDb) {
    let s = Served::start(db, cfg()).await;
    for w in ["w1", "w2"] {
        register(&s, w).await;
    }
    let (st, p) = post(
        &s,
        "/api/system/worker-pause",
        json!({"action": "pause", "mode": "drain", "reason": "db migration"}),
    )
    .await;
    assert_eq!(st, 200);
    let version = p["version"].as_i64().unwrap();
    let m = scrape(&s).await;
    expect(&m, "lull_pause_applied_workers", &[], 0.0);
    expect(&m, "lull_pause_pending_workers", &[], 2.0);

    let (st, _) = post(
        &s,
        "/api/workers/w1/heartbeat",
        json!({"bootId": "w1-boot", "state": "paused", "appliedVersion": version}),
    )
    .await;
    assert_eq!(st, 200);
    // PostgreSQL coalesces heartbeats: the write may land a moment later.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let m = scrape(&s).await;
        if value(&m, "lull_pause_applied_workers", &[]) == Some(1.0) {
            expect(&m, "lull_pause_pending_workers", &[], 1.0);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "w1's applied version never counted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

on_both_stores!(
    scrape_counts_the_workers_that_applied_the_pause,
    scrape_shows_each_new_series,
    statsd_receives_pause_gauge_and_counters
);
