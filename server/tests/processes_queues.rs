//! Named queues across real `lull` processes on one PostgreSQL: the
//! per-queue guarantee under concurrent claim load on two replicas (no
//! claim sent after a queue pause has answered gets a job of that queue,
//! while the other queues keep going), and a replica learning of a queue
//! pause through NOTIFY alone. And `lull serve`'s retention settings
//! reaching its pruner, on both stores.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::Lull;
use serde_json::{json, Value};
use server::domain::{NewJob, QueuePauseCommand};
use server::service::{Service, ServiceConfig};

async fn post(c: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    let r = c.post(url).json(&body).send().await.expect("request");
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// One claim: when it was sent, and the queues of the jobs it got.
type Sent = (Instant, Vec<String>);

/// The jobs a claim answer handed out (`job`, or `jobs` of a batch claim).
fn handed_out(v: &Value) -> Vec<Value> {
    match v["jobs"].as_array() {
        Some(jobs) => jobs.clone(),
        None => v["job"]
            .is_object()
            .then(|| v["job"].clone())
            .into_iter()
            .collect(),
    }
}

/// The per-queue guarantee across two server processes sharing
/// PostgreSQL: claimers on both (single and batch claims, with and without
/// a queue list) keep claiming while queue `a` is paused through one of
/// them; no claim sent after the pause answered receives an `a` job, and
/// `b` jobs keep flowing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_servers_hand_out_nothing_of_a_queue_after_its_pause() {
    let Some(db) = common::empty_postgres().await else {
        return;
    };
    let a = Lull::start(&db.url);
    let b = Lull::start(&db.url);
    {
        let store = server::storage::connect(&db.url).await.unwrap();
        let mut jobs = Vec::new();
        for i in 0..3000 {
            jobs.push(NewJob {
                queue: if i % 2 == 0 { "a" } else { "b" }.into(),
                ..NewJob::simple("t", json!({}))
            });
        }
        for chunk in jobs.chunks(1000) {
            store
                .enqueue_batch(chunk, server::service::now())
                .await
                .unwrap();
        }
    }
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let log: Arc<Mutex<Vec<Sent>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let claims = Arc::new(AtomicUsize::new(0));
    let flowing = Arc::new(tokio::sync::Notify::new());
    let target = Arc::new(AtomicUsize::new(usize::MAX));
    let reached = Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::new();
    for w in 0..16 {
        let url = if w % 2 == 0 {
            a.url("/api/queue/jobs/claim")
        } else {
            b.url("/api/queue/jobs/claim")
        };
        // Four kinds of claim: any queue, both named, batch, a alone.
        let body = match w % 4 {
            0 => json!({"workerId": format!("w{w}")}),
            1 => json!({"workerId": format!("w{w}"), "queues": ["a", "b"]}),
            2 => json!({"workerId": format!("w{w}"), "limit": 3}),
            _ => json!({"workerId": format!("w{w}"), "queues": ["a"]}),
        };
        let (c, log, stop, claims) = (c.clone(), log.clone(), stop.clone(), claims.clone());
        let (flowing, target, reached) = (flowing.clone(), target.clone(), reached.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let sent = Instant::now();
                let (s, v) = post(&c, &url, body.clone()).await;
                assert_eq!(s, 200, "{v}");
                let queues = handed_out(&v)
                    .iter()
                    .map(|j| j["queue"].as_str().unwrap().to_string())
                    .collect();
                log.lock().unwrap().push((sent, queues));
                let n = claims.fetch_add(1, Ordering::SeqCst);
                if n == 200 {
                    flowing.notify_one();
                }
                if n + 1 >= target.load(Ordering::SeqCst) {
                    reached.notify_one();
                }
            }
        }));
    }
    flowing.notified().await;
    let (s, v) = post(
        &c,
        &a.url("/api/queues/a/pause"),
        json!({"mode": "drain", "reason": "guarantee test"}),
    )
    .await;
    let paused_at = Instant::now();
    assert_eq!(s, 200, "{v}");
    target.store(claims.load(Ordering::SeqCst) + 400, Ordering::SeqCst);
    reached.notified().await;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    let log = log.lock().unwrap();
    let got = |before: bool, q: &str| {
        log.iter()
            .filter(|(t, _)| (*t < paused_at) == before)
            .flat_map(|(_, qs)| qs.iter())
            .filter(|x| x.as_str() == q)
            .count()
    };
    let after = log.iter().filter(|(t, _)| *t > paused_at).count();
    eprintln!(
        "claims: {} total, {after} sent after the pause; a jobs before {}, after {}; b jobs after {}",
        log.len(),
        got(true, "a"),
        got(false, "a"),
        got(false, "b")
    );
    assert!(got(true, "a") > 50, "queue a was being handed out before");
    assert!(after >= 300, "enough claims after the pause");
    assert_eq!(
        got(false, "a"),
        0,
        "claims sent after the queue pause answered got its jobs"
    );
    assert!(got(false, "b") > 50, "queue b kept flowing");
    drop((a, b));
}

/// A replica learns of a queue pause made elsewhere through NOTIFY (its
/// periodic refresh slowed to a minute), and then answers a claim for that
/// queue from its cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_replica_learns_of_a_queue_pause_through_notify() {
    let Some(db) = common::empty_postgres().await else {
        return;
    };
    let slow = ServiceConfig {
        pause_refresh_ms: 60_000,
        rollout_tick_ms: 60_000,
        metrics_tick_ms: 60_000,
        retention_interval_ms: 60_000,
        ..Default::default()
    };
    let start = || async {
        let svc = Service::new(
            server::storage::connect(&db.url).await.unwrap(),
            slow.clone(),
        )
        .await
        .unwrap();
        svc.start().await.unwrap();
        svc
    };
    let (a, b) = (start().await, start().await);
    let mut rx = b.queue_cache().subscribe();
    let cmd = QueuePauseCommand::pause(
        "emails",
        serde_json::from_value(json!({"mode": "quiesce", "reason": "notify test"})).unwrap(),
    )
    .unwrap();
    a.change_queue_pause("ops", cmd).await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        rx.wait_for(|m| m.get("emails").is_some_and(|s| s.workers_paused)),
    )
    .await
    .expect("b learned of the queue pause in time")
    .unwrap();
    let before = b.storage_calls();
    let req = serde_json::from_value(json!({"workerId": "w", "queues": ["emails"]})).unwrap();
    let resp = b
        .claim(server::domain::ClaimCommand::parse(&req, None).unwrap())
        .await
        .unwrap();
    assert!(resp.job.is_none());
    assert_eq!(resp.system.paused_queues[0].name, "emails");
    assert_eq!(b.storage_calls(), before, "answered from b's cache");
}

/// `lull serve --retain-succeeded 1s --retention-interval-ms 100`: a
/// finished job disappears by itself, a live one stays.
async fn serve_prunes_with_its_retention_settings(url: &str) {
    let server = Lull::start_with(
        url,
        &["--retain-succeeded", "1s", "--retention-interval-ms", "100"],
        &[],
    );
    let c = client::Client::new(&server.base).unwrap();
    let job = |t: &str| wire::EnqueueRequest {
        job_type: Some(t.into()),
        ..Default::default()
    };
    let done = c.enqueue(&job("t")).await.unwrap();
    let claim = c
        .claim(&wire::ClaimRequest {
            worker_id: Some("w".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .job
        .unwrap();
    assert_eq!(claim.id, done.id);
    let live = c.enqueue(&job("t")).await.unwrap();
    c.complete(
        done.id,
        &wire::CompleteRequest {
            worker_id: Some("w".into()),
            lease_token: claim.lease_token,
            result: None,
        },
    )
    .await
    .unwrap();
    testkit::eventually(
        "the finished job to be pruned",
        Duration::from_secs(15),
        || async { c.job(done.id).await.is_err().then_some(()) },
    )
    .await;
    assert_eq!(
        c.job(live.id).await.unwrap().status,
        wire::JobStatus::Queued
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_serve_prunes_with_its_retention_settings() {
    let db = common::empty_sqlite();
    serve_prunes_with_its_retention_settings(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_serve_prunes_with_its_retention_settings() {
    let Some(db) = common::empty_postgres().await else {
        return;
    };
    serve_prunes_with_its_retention_settings(&db.url).await;
}
