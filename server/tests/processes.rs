//! Real `lull` processes over real sockets: the pause survives `kill -9`,
//! several servers on one PostgreSQL never hand out a job after a pause has
//! been acknowledged, and replicas learn of changes through LISTEN/NOTIFY.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::Lull;
use serde_json::{json, Value};
use server::domain::{ClaimCommand, NewJob, PageLimit, PauseCommand};
use server::service::{Service, ServiceConfig};

/// A pause/resume request body, parsed as the REST route parses it.
fn pause_cmd(body: Value) -> PauseCommand {
    PauseCommand::parse(serde_json::from_value(body).unwrap()).unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn post(c: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    let r = c.post(url).json(&body).send().await.expect("request");
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn get(c: &reqwest::Client, url: &str) -> Value {
    c.get(url)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json")
}

async fn pause_survives_kill_9(url: String) {
    let c = client();
    let a = Lull::start(&url);
    let (s, p) = post(
        &c,
        &a.url("/api/system/worker-pause"),
        json!({"action":"pause","mode":"quiesce","reason":"disk swap"}),
    )
    .await;
    assert_eq!(s, 200, "{p}");
    let (s, _) = post(&c, &a.url("/api/queue/jobs"), json!({"type":"t"})).await;
    assert_eq!(s, 201);
    a.kill9();

    let b = Lull::start(&url);
    let st = get(&c, &b.url("/api/system/worker-pause")).await;
    assert_eq!(st["workersPaused"], true);
    assert_eq!(st["mode"], "quiesce");
    assert_eq!(st["reason"], "disk swap");
    assert_eq!(st["version"], 2);
    assert_eq!(
        st["metrics"]["queued"], 1,
        "the acknowledged enqueue survived"
    );
    assert_eq!(st["audit"]["latest"][0]["reason"], "disk swap");
    let (_, claim) = post(&c, &b.url("/api/queue/jobs/claim"), json!({"workerId":"w"})).await;
    assert_eq!(claim["job"], Value::Null, "still paused after kill -9");
    let rb = get(&c, &b.url("/scheduler/status")).await;
    assert_eq!(rb["state"], "paused");

    // Repeatedly killed during pause/resume cycles: the version never goes
    // back and the state always matches the last acknowledged action.
    let mut server = b;
    let mut version = 2;
    for i in 0..3 {
        let action = if i % 2 == 0 {
            json!({"action":"resume","reason":format!("cycle {i}")})
        } else {
            json!({"action":"pause","mode":"drain","reason":format!("cycle {i}")})
        };
        let (s, v) = post(&c, &server.url("/api/system/worker-pause"), action).await;
        assert_eq!(s, 200, "{v}");
        version += 1;
        assert_eq!(v["version"], version);
        server.kill9();
        server = Lull::start(&url);
        let st = get(&c, &server.url("/api/system/worker-pause")).await;
        assert_eq!(st["version"], version);
        assert_eq!(st["workersPaused"], i % 2 == 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_pause_survives_kill_9() {
    let db = common::empty_sqlite();
    pause_survives_kill_9(db.url.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_pause_survives_kill_9() {
    let Some(db) = common::empty_postgres().await else {
        return;
    };
    pause_survives_kill_9(db.url.clone()).await;
}

/// The guarantee (SPEC §2) across two server processes sharing PostgreSQL:
/// under concurrent claim load on both, no claim *sent after* the pause
/// response arrived receives a job.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_servers_grant_no_claim_after_a_pause() {
    let Some(db) = common::empty_postgres().await else {
        return;
    };
    let a = Lull::start(&db.url);
    let b = Lull::start(&db.url);
    let c = client();
    {
        let store = server::storage::connect(&db.url).await.unwrap();
        let job = server::domain::NewJob::simple("t", json!({}));
        for _ in 0..3000 {
            store.enqueue(&job, server::service::now()).await.unwrap();
        }
    }
    // (sent_at, got_a_job) for every claim.
    let log: Arc<Mutex<Vec<(Instant, bool)>>> = Arc::default();
    let done = Arc::new(tokio::sync::Notify::new());
    // Set after the pause: the claim count at which enough post-pause
    // claims have hit both servers (`reached` is then notified).
    let target = Arc::new(AtomicUsize::new(usize::MAX));
    let reached = Arc::new(tokio::sync::Notify::new());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let claims = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for w in 0..16 {
        let url = if w % 2 == 0 {
            a.url("/api/queue/jobs/claim")
        } else {
            b.url("/api/queue/jobs/claim")
        };
        let (c, log, stop, claims, done) = (
            c.clone(),
            log.clone(),
            stop.clone(),
            claims.clone(),
            done.clone(),
        );
        let (target, reached) = (target.clone(), reached.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let sent = Instant::now();
                let (s, v) = post(&c, &url, json!({"workerId": format!("w{w}")})).await;
                assert_eq!(s, 200, "{v}");
                log.lock().unwrap().push((sent, !v["job"].is_null()));
                let n = claims.fetch_add(1, Ordering::SeqCst);
                if n == 200 {
                    done.notify_one();
                }
                if n + 1 >= target.load(Ordering::SeqCst) {
                    reached.notify_one();
                }
            }
        }));
    }
    done.notified().await; // load is flowing on both servers
    let (s, v) = post(
        &c,
        &a.url("/api/system/worker-pause"),
        json!({"action":"pause","mode":"drain","reason":"guarantee test"}),
    )
    .await;
    let paused_at = Instant::now();
    assert_eq!(s, 200, "{v}");
    // Keep claiming until plenty of post-pause claims have hit both servers.
    target.store(claims.load(Ordering::SeqCst) + 400, Ordering::SeqCst);
    reached.notified().await;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    let log = log.lock().unwrap();
    let before_with_job = log.iter().filter(|(t, j)| *t < paused_at && *j).count();
    let after: Vec<_> = log.iter().filter(|(t, _)| *t > paused_at).collect();
    let violations = after.iter().filter(|(_, j)| *j).count();
    eprintln!(
        "claims: {} total, {} got jobs before the pause, {} sent after it, {} violations",
        log.len(),
        before_with_job,
        after.len(),
        violations
    );
    assert!(
        before_with_job > 50,
        "the test must have been handing out jobs"
    );
    assert!(after.len() >= 300, "enough claims after the pause");
    assert_eq!(
        violations, 0,
        "claims sent after the pause response received jobs"
    );
    drop((a, b));
}

/// A replica learns of a pause made elsewhere through NOTIFY (the periodic
/// refresh is set to a minute, so it cannot be what delivers it), and
/// re-reads the state when its LISTEN connection is killed and comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replicas_learn_changes_through_notify_and_reconnect() {
    let Some(db) = common::empty_postgres().await else {
        return;
    };
    // Every periodic read slowed to a minute: after start-up, only NOTIFY
    // can tell b of a change in time.
    let slow_refresh = ServiceConfig {
        pause_refresh_ms: 60_000,
        rollout_tick_ms: 60_000,
        metrics_tick_ms: 60_000,
        ..Default::default()
    };
    let a = Service::new(
        server::storage::connect(&db.url).await.unwrap(),
        slow_refresh.clone(),
    )
    .await
    .unwrap();
    let b = Service::new(
        server::storage::connect(&db.url).await.unwrap(),
        slow_refresh,
    )
    .await
    .unwrap();
    a.start().await.unwrap();
    b.start().await.unwrap();
    let mut rx = b.cache().subscribe();
    // b's start-up reads: the first tick of each periodic task (pause
    // refresh, rolling-restart step, metrics) and the re-read on LISTEN's
    // first connect.
    common::wait_for("b's start-up reads", Duration::from_secs(10), || {
        b.storage_calls() >= 4
    })
    .await;
    rx.mark_unchanged();

    let pause = json!({"action":"pause","mode":"drain","reason":"notify test"});
    a.change_pause("t", pause_cmd(pause)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(3), rx.changed())
        .await
        .expect("notified in time")
        .unwrap();
    assert!(b.cache().is_paused());
    assert_eq!(b.cache().version(), 2);

    // Kill b's LISTEN connection (and a's), then resume through a.
    let admin = server::storage::connect(&db.url).await.unwrap();
    drop(admin);
    {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert!(!killed.is_empty(), "found the LISTEN connections");
    }
    let resume = json!({"action":"resume","reason":"after kill"});
    a.change_pause("t", pause_cmd(resume)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while b.cache().is_paused() {
            rx.changed().await.unwrap();
        }
    })
    .await
    .expect("b learned of the resume after its LISTEN connection was killed");
    assert_eq!(b.cache().version(), 3);
}

/// A timed pause ends once, however many replicas watch it: three servers
/// share PostgreSQL, every one proposes the resume when it is due, and the
/// audit log has exactly one (actor `system`). A server that starts after
/// the time has passed (the pause outlived a restart) ends it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_timed_pause_ends_once_across_replicas_and_restarts() {
    let Some(db) = common::empty_postgres().await else {
        return;
    };
    let start = || async {
        let svc = Service::new(
            server::storage::connect(&db.url).await.unwrap(),
            ServiceConfig::default(),
        )
        .await
        .unwrap();
        svc.start().await.unwrap();
        svc
    };
    let replicas = [start().await, start().await, start().await];
    let timed = |ms: i64, reason: &str| {
        let until = chrono::Utc::now() + chrono::Duration::milliseconds(ms);
        let cmd = pause_cmd(json!({"action": "pause", "mode": "drain", "reason": reason,
            "until": until.to_rfc3339()}));
        (cmd, until)
    };
    let all_running = |svcs: &[Arc<Service>]| svcs.iter().all(|s| !s.cache().is_paused());
    let events = |svc: Arc<Service>| async move {
        let page = PageLimit::parse(Some(50), 50).unwrap();
        svc.events(page, None).await.unwrap().events
    };

    let (cmd, _) = timed(800, "window one");
    let paused = replicas[0].change_pause("ops", cmd).await.unwrap();
    // Every replica learns of the pause (NOTIFY, or its refresh).
    for s in &replicas {
        let mut rx = s.cache().subscribe();
        tokio::time::timeout(
            Duration::from_secs(5),
            rx.wait_for(|st| st.version >= paused.version),
        )
        .await
        .expect("every replica learned of the timed pause")
        .unwrap();
    }
    assert!(replicas.iter().all(|s| s.cache().is_paused()));
    let due = replicas[0].cache().current();
    for s in &replicas {
        let mut rx = s.cache().subscribe();
        tokio::time::timeout(
            Duration::from_secs(10),
            rx.wait_for(|st| !st.workers_paused),
        )
        .await
        .expect("the timed pause ended on every replica")
        .unwrap();
    }
    assert!(all_running(&replicas));
    // Whatever each replica proposed meanwhile, every one of them proposing
    // the same resume again (late, as a slow replica would) changes nothing.
    let late = server::domain::timed_resume(&due, due.until.unwrap()).unwrap();
    for s in &replicas {
        s.change_pause("system", late.clone()).await.unwrap();
    }
    let log = events(replicas[0].clone()).await;
    let resumes: Vec<_> = log.iter().filter(|e| e.action == "resume").collect();
    assert_eq!(resumes.len(), 1, "{log:?}");
    assert_eq!(resumes[0].actor, "system");

    // Outliving a restart: nobody watches while the time passes.
    let (cmd, until) = timed(300, "window two");
    replicas[0].change_pause("ops", cmd).await.unwrap();
    drop(replicas);
    // The condition is the clock itself: wait until the pause's end has
    // passed, with no server running.
    let left = (until - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(50)).await;
    let restarted_at = chrono::Utc::now();
    let later = start().await;
    let mut rx = later.cache().subscribe();
    tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|st| !st.workers_paused))
        .await
        .expect("a server started after the end resumed the fleet")
        .unwrap();
    let log = events(later.clone()).await;
    assert_eq!(
        log.iter().filter(|e| e.action == "resume").count(),
        2,
        "{log:?}"
    );
    assert_eq!(log[0].actor, "system");
    assert!(
        log[0].created_at >= restarted_at,
        "ended by the new server, after its restart"
    );
}

#[test]
fn check_config_reports_bad_configuration() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lull"))
            .arg("check-config")
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("LULL_LISTEN")
            .output()
            .unwrap()
    };
    let ok = run(&[]);
    assert!(ok.status.success());
    assert!(String::from_utf8_lossy(&ok.stdout).contains("configuration OK"));
    let bad = run(&["--database-url", "mysql://x/y"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not supported"));
    let bad = run(&["--listen", "nowhere"]);
    assert_eq!(bad.status.code(), Some(2));
    let bad = run(&["--retain-failed", "a month"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("retain_failed"));
    let kept = run(&["--retain-failed", "0", "--retain-events", "90d"]);
    let out = String::from_utf8_lossy(&kept.stdout);
    assert!(
        out.contains("retain_failed:          keep forever"),
        "{out}"
    );
    assert!(out.contains("retain_events:          7776000s"), "{out}");
    let bad = run(&["--config", "/nonexistent/lull.toml"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot read config file"));
}

/// A claimer long-polling on one replica is woken by an enqueue on another
/// (PostgreSQL NOTIFY), well before its wait or the 1 s re-check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_enqueue_on_one_replica_wakes_a_claimer_on_another() {
    let Some(db) = common::empty_postgres().await else {
        return;
    };
    let cfg = ServiceConfig::default();
    let a = Service::new(
        server::storage::connect(&db.url).await.unwrap(),
        cfg.clone(),
    )
    .await
    .unwrap();
    let b = Service::new(server::storage::connect(&db.url).await.unwrap(), cfg)
        .await
        .unwrap();
    a.start().await.unwrap();
    b.start().await.unwrap();
    let mut latencies = Vec::new();
    for _ in 0..5 {
        let empty_before = common::empty_claims(&b);
        let waiter = {
            let b = b.clone();
            tokio::spawn(async move {
                let req =
                    serde_json::from_value(json!({"workerId": "w", "waitMs": 20000})).unwrap();
                b.claim(ClaimCommand::parse(&req, None).unwrap())
                    .await
                    .unwrap()
            })
        };
        // Its first attempt found nothing: it is registered for wake-ups.
        common::wait_for("the claimer to wait", Duration::from_secs(5), || {
            common::empty_claims(&b) > empty_before
        })
        .await;
        let enqueued = Instant::now();
        let job = NewJob::parse(serde_json::from_value(json!({"type": "t"})).unwrap()).unwrap();
        a.enqueue(job).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        latencies.push(enqueued.elapsed());
        assert!(got.job.is_some());
    }
    latencies.sort();
    eprintln!("cross-replica wake-up latencies: {latencies:?}");
    // The re-check runs every second; a median well under it proves NOTIFY.
    assert!(latencies[2] < Duration::from_millis(500), "{latencies:?}");
}

/// The `lull_claims_total{outcome="empty"}` counter of a server.
async fn empty_claims_of(c: &reqwest::Client, server: &Lull) -> u64 {
    let text = c
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|l| l.strip_prefix("lull_claims_total{outcome=\"empty\"} "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the empty-claims counter")
}

/// A worker action taken on one replica reaches a claim the targeted
/// worker is long-polling on another replica at once (the action's
/// `FleetChanged` NOTIFY), instead of at the end of its 20 s wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_worker_action_on_one_replica_answers_a_claim_waiting_on_another() {
    let Some(db) = common::empty_postgres().await else {
        return;
    };
    let a = Lull::start(&db.url);
    let b = Lull::start(&db.url);
    let c = client();
    for id in ["w1", "w2"] {
        let (s, v) = post(
            &c,
            &a.url("/api/workers/register"),
            json!({"workerId": id, "bootId": "boot-1"}),
        )
        .await;
        assert_eq!(s, 200, "{v}");
    }
    let empty_before = empty_claims_of(&c, &b).await;
    let waiter = {
        let (c, url) = (c.clone(), b.url("/api/queue/jobs/claim"));
        tokio::spawn(async move {
            let (s, v) = post(&c, &url, json!({"workerId": "w1", "waitMs": 20000})).await;
            (s, v, Instant::now())
        })
    };
    // Its first attempt found nothing: it is waiting on b.
    testkit::eventually(
        "the claim to wait on b",
        Duration::from_secs(10),
        || async { (empty_claims_of(&c, &b).await > empty_before).then_some(()) },
    )
    .await;
    let acted = Instant::now();
    let (s, v) = post(
        &c,
        &a.url("/api/workers/actions"),
        json!({"action": "pause", "workerIds": ["w1"], "reason": "host maintenance"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, v, answered) = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("the waiting claim was answered")
        .unwrap();
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["job"], Value::Null);
    let latency = answered.saturating_duration_since(acted);
    eprintln!("worker action → waiting claim on the other replica answered in {latency:?}");
    // The wait was 20 s and the re-check every second does not answer a
    // fleet change: only the notification explains a prompt answer.
    assert!(latency < Duration::from_secs(3), "{latency:?}");
}
