//! `/health` turns unhealthy or warns for each condition it checks, made
//! true here for real (workers stopped, a lease left to expire, a rolling
//! restart past its deadline, the LISTEN connection killed with
//! `pg_terminate_backend`, a pause some worker does not apply), and
//! `/readyz` waits for the start-up.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::api::Api;
use common::TestDb;
use serde_json::{json, Value};
use server::service::ServiceConfig;

async fn started(db: TestDb, cfg: ServiceConfig) -> Api {
    Api::new(db, cfg, true).await
}

async fn health(a: &Api) -> (StatusCode, Value) {
    let (s, h) = a.call(axum::http::Method::GET, "/health", None).await;
    assert_eq!(
        s == StatusCode::OK,
        h["healthy"] == true,
        "503 exactly when unhealthy: {h}"
    );
    (s, h)
}

/// Registers these workers (each with boot id `<id>-b`).
async fn register(a: &Api, workers: &[&str]) {
    for w in workers {
        a.post(
            "/api/workers/register",
            json!({"workerId": w, "bootId": format!("{w}-b")}),
        )
        .await;
    }
}

fn check<'a>(h: &'a Value, name: &str) -> &'a Value {
    h["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {h}"))
}

/// The `recent_events` lines of `kind` whose message contains `text`.
fn events<'a>(h: &'a Value, kind: &str, text: &str) -> Vec<&'a Value> {
    h["recent_events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind && e["message"].as_str().unwrap().contains(text))
        .collect()
}

/// `YYYY-MM-DD HH:MM:SS`, as the runbook's `date` comparison needs.
fn runbook_time(s: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").is_ok()
}

/// A fresh, started installation is healthy; every check is there.
async fn healthy_when_all_is_well(db: TestDb) {
    let a = started(db, ServiceConfig::default()).await;
    let (s, h) = health(&a).await;
    assert_eq!(s, StatusCode::OK, "{h}");
    for name in [
        "database",
        "listener",
        "background",
        "workers",
        "leases",
        "rollouts",
        "acknowledgement",
    ] {
        let c = check(&h, name);
        assert!(
            ["ok", "skipped"].contains(&c["status"].as_str().unwrap()),
            "{c}"
        );
    }
    assert!(check(&h, "database")["latency_ms"].as_f64().unwrap() >= 0.0);
    let listener = check(&h, "listener")["status"].clone();
    let expected = if a.db.url.starts_with("postgres") {
        "ok"
    } else {
        "skipped"
    };
    assert_eq!(listener, expected);
    assert!(check(&h, "background")["message"]
        .as_str()
        .unwrap()
        .contains("rollouts"));
}

/// Every registered worker stopped while a job waits: unhealthy with an
/// `error` event; with nothing waiting (or the fleet paused) a warning; one
/// worker back online: healthy, a warning while the other is offline.
async fn all_workers_stopped_is_unhealthy(db: TestDb) {
    let a = started(db, ServiceConfig::default()).await;
    register(&a, &["w1", "w2"]).await;
    let (_, h) = health(&a).await;
    assert_eq!(check(&h, "workers")["status"], "ok", "{h}");
    for w in ["w1", "w2"] {
        a.post(
            &format!("/api/workers/{w}/heartbeat"),
            json!({"bootId": format!("{w}-b"), "state": "stopped"}),
        )
        .await;
    }
    let (s, h) = health(&a).await;
    assert_eq!(s, StatusCode::OK, "nothing waits for a worker: {h}");
    assert_eq!(check(&h, "workers")["status"], "warning");

    a.enqueue().await;
    let (s, h) = health(&a).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{h}");
    assert_eq!(check(&h, "workers")["status"], "error");
    let e = events(&h, "error", "0 of 2 registered workers online");
    assert_eq!(e.len(), 1, "{h}");
    assert!(e[0]["message"].as_str().unwrap().contains("1 job(s) wait"));
    assert!(runbook_time(e[0]["created_at"].as_str().unwrap()));

    // Paused on purpose: no one is expected to claim.
    a.post(
        "/api/system/worker-pause",
        json!({"action": "pause", "mode": "drain", "reason": "maintenance"}),
    )
    .await;
    let (s, h) = health(&a).await;
    assert_eq!(s, StatusCode::OK, "{h}");
    assert_eq!(check(&h, "workers")["status"], "warning");
    a.post(
        "/api/system/worker-pause",
        json!({"action": "resume", "reason": "done"}),
    )
    .await;
    assert_eq!(health(&a).await.0, StatusCode::SERVICE_UNAVAILABLE);

    a.post(
        "/api/workers/w1/heartbeat",
        json!({"bootId": "w1-b", "state": "running"}),
    )
    .await;
    let (s, h) = health(&a).await;
    assert_eq!(s, StatusCode::OK, "{h}");
    assert_eq!(check(&h, "workers")["status"], "warning");
    assert_eq!(
        events(&h, "warning", "1 of 2 registered workers online").len(),
        1
    );
}

/// A pause some online worker has not applied after `ack_warn_after_ms`
/// is a warning naming it (not an error: the drain goes on); applied by
/// all, it is ok again.
async fn a_pause_not_applied_in_time_warns(db: TestDb) {
    let a = started(
        db,
        ServiceConfig {
            ack_warn_after_ms: 2000,
            ..Default::default()
        },
    )
    .await;
    register(&a, &["w1", "w2"]).await;
    let (_, h) = health(&a).await;
    assert_eq!(check(&h, "acknowledgement")["status"], "ok", "{h}");
    assert_eq!(
        check(&h, "acknowledgement")["message"],
        "the fleet is running"
    );
    let p = a
        .post(
            "/api/system/worker-pause",
            json!({"action": "pause", "mode": "drain", "reason": "migration"}),
        )
        .await;
    let version = p["version"].as_i64().unwrap();
    let (_, h) = health(&a).await;
    assert_eq!(
        check(&h, "acknowledgement")["status"],
        "ok",
        "not yet late: {h}"
    );

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (s, h) = health(&a).await;
    assert_eq!(s, StatusCode::OK, "a late acknowledgement warns only: {h}");
    let c = check(&h, "acknowledgement");
    assert_eq!(c["status"], "warning", "{h}");
    let msg = c["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("pause version {version} not applied")),
        "{msg}"
    );
    assert!(msg.contains("2 of 2 online workers: w1, w2"), "{msg}");
    let e = events(&h, "warning", "not applied");
    assert_eq!(e.len(), 1, "{h}");
    assert!(runbook_time(e[0]["created_at"].as_str().unwrap()));

    let beat = |w: &'static str| json!({"bootId": format!("{w}-b"), "state": "paused", "appliedVersion": version});
    a.post("/api/workers/w1/heartbeat", beat("w1")).await;
    let h = health_once(&a, |h| {
        check(h, "acknowledgement")["message"]
            .as_str()
            .unwrap()
            .contains("1 of 2 online workers: w2")
    })
    .await;
    assert_eq!(check(&h, "acknowledgement")["status"], "warning");
    a.post("/api/workers/w2/heartbeat", beat("w2")).await;
    let h = health_once(&a, |h| check(h, "acknowledgement")["status"] == "ok").await;
    assert_eq!(
        check(&h, "acknowledgement")["message"],
        format!("pause version {version} applied by 2 of 2 online workers")
    );
    assert!(events(&h, "warning", "not applied").is_empty());
}

/// `/health` once `done` holds, within 5 s (PostgreSQL coalesces
/// heartbeats: their write may land a moment after the answer).
async fn health_once(a: &Api, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (_, h) = health(a).await;
        if done(&h) {
            return h;
        }
        assert!(std::time::Instant::now() < deadline, "never: {h}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A lease left to expire is a warning naming the stale jobs; requeued by
/// the next claim, it is gone.
async fn a_stale_lease_warns(db: TestDb) {
    let a = started(db, ServiceConfig::default()).await;
    a.enqueue().await;
    let c = a
        .post(
            "/api/queue/jobs/claim",
            json!({"workerId": "w1", "leaseSeconds": 5}),
        )
        .await;
    assert!(c["job"]["id"].is_string());
    let (_, h) = health(&a).await;
    assert_eq!(check(&h, "leases")["status"], "ok", "{h}");
    tokio::time::sleep(Duration::from_millis(5300)).await;
    let (s, h) = health(&a).await;
    assert_eq!(s, StatusCode::OK, "a stale lease warns, it does not stop");
    assert_eq!(check(&h, "leases")["status"], "warning", "{h}");
    assert_eq!(
        events(&h, "warning", "1 running job(s) hold an expired lease").len(),
        1
    );
    // The next claim requeues it (and hands it out again).
    a.claim("w2").await;
    let (_, h) = health(&a).await;
    assert_eq!(check(&h, "leases")["status"], "ok", "{h}");
}

/// A rolling restart whose controller stopped stepping: a worker still
/// draining long past its deadline makes the process unhealthy.
async fn a_stalled_rollout_is_unhealthy(db: TestDb) {
    // The controller steps once at start, then not for an hour: stalled.
    let a = started(
        db,
        ServiceConfig {
            rollout_tick_ms: 3_600_000,
            min_available_workers: 0,
            ..Default::default()
        },
    )
    .await;
    a.post(
        "/api/workers/register",
        json!({"workerId": "w1", "bootId": "b1"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t0 = server::service::now() - chrono::Duration::hours(1);
    let rollout = wire::RollingRestart {
        id: uuid::Uuid::new_v4(),
        status: wire::RolloutStatus::Running,
        max_unavailable: 1,
        deadline_seconds: 60,
        reason: "new build".into(),
        actor: "op".into(),
        created_at: t0,
        finished_at: None,
        workers: vec![wire::RolloutWorker {
            worker_id: "w1".into(),
            state: wire::RolloutWorkerState::Draining,
            boot_id_before: Some("b1".into()),
            boot_id_after: None,
            started_at: Some(t0),
            finished_at: None,
            message: None,
        }],
        message: None,
    };
    let (_, h) = health(&a).await;
    assert_eq!(check(&h, "rollouts")["status"], "ok");
    a.db.store.create_rollout(&rollout).await.unwrap();
    let (s, h) = health(&a).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{h}");
    assert_eq!(check(&h, "rollouts")["status"], "error");
    let e = events(
        &h,
        "error",
        "is past its deadline: worker w1 has been draining",
    );
    assert_eq!(e.len(), 1, "{h}");
    // Cancelled, it no longer counts.
    a.post(
        &format!("/api/workers/rolling-restarts/{}/cancel", rollout.id),
        json!({}),
    )
    .await;
    let (s, h) = health(&a).await;
    assert_eq!(s, StatusCode::OK, "{h}");
}

/// `/readyz`: 503 until the background tasks run, then 200; `/livez`
/// answers either way.
async fn readyz_waits_for_start(db: TestDb) {
    let a = Api::new(db, ServiceConfig::default(), false).await;
    let (s, r) = a.call(axum::http::Method::GET, "/readyz", None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{r}");
    assert_eq!(r["ready"], false);
    assert!(r["reason"].is_string());
    let (s, _) = a.call(axum::http::Method::GET, "/livez", None).await;
    assert_eq!(s, StatusCode::OK);
    a.svc.start().await.unwrap();
    let (s, r) = a.call(axum::http::Method::GET, "/readyz", None).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r, json!({"ready": true}));
}

/// `/readyz` answers 503 once the process has begun to stop (the load
/// balancer drains it), while `/livez` still answers.
async fn readyz_turns_off_when_stopping(db: TestDb) {
    let svc = server::service::Service::new(db.store.clone(), ServiceConfig::default())
        .await
        .unwrap();
    svc.start().await.unwrap();
    let readiness = server::lifecycle::Readiness::default();
    let app = server::http::router(
        svc,
        &server::http::HttpOptions {
            static_dir: Some("/nonexistent".into()),
            readiness: readiness.clone(),
            ..Default::default()
        },
    );
    let get = |path: &'static str| {
        let app = app.clone();
        async move {
            use tower::ServiceExt;
            let req = axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap();
            app.oneshot(req).await.unwrap().status()
        }
    };
    readiness.set_ready("127.0.0.1:1".parse().unwrap());
    assert_eq!(get("/readyz").await, StatusCode::OK);
    readiness.set_stopping();
    assert_eq!(get("/readyz").await, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(get("/livez").await, StatusCode::OK);
}

on_both_stores!(
    readyz_turns_off_when_stopping,
    healthy_when_all_is_well,
    all_workers_stopped_is_unhealthy,
    a_stale_lease_warns,
    a_pause_not_applied_in_time_warns,
    a_stalled_rollout_is_unhealthy,
    readyz_waits_for_start
);

/// Terminates the LISTEN connection of database `dbname`.
async fn kill_listener(admin: &mut sqlx::PgConnection, dbname: &str) {
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND query ILIKE 'LISTEN%'",
    )
    .bind(dbname)
    .fetch_all(admin)
    .await
    .unwrap();
    assert_eq!(killed, vec![true], "one LISTEN connection");
}

/// PostgreSQL: the LISTEN connection killed with `pg_terminate_backend` is
/// reported once it is back (a warning with the time it was lost); while
/// it cannot come back (the database refuses connections) the process is
/// unhealthy with an `error`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_loss_is_reported() {
    let Some(db) = common::postgres().await else {
        return;
    };
    let url = db.url.clone();
    let a = started(db, ServiceConfig::default()).await;
    let (_, h) = health(&a).await;
    assert_eq!(check(&h, "listener")["status"], "ok", "{h}");

    let admin_url = {
        let (base, _) = url.rsplit_once('/').unwrap();
        format!("{base}/postgres")
    };
    let dbname = url
        .rsplit_once('/')
        .unwrap()
        .1
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
        .await
        .unwrap();
    // Killed, it reconnects: a warning telling when it was lost.
    kill_listener(&mut admin, &dbname).await;
    let mut h = Value::Null;
    for _ in 0..100 {
        h = health(&a).await.1;
        if check(&h, "listener")["status"] == "warning" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(check(&h, "listener")["status"], "warning", "{h}");
    assert_eq!(h["healthy"], true);
    let e = events(&h, "warning", "lost its connection at");
    assert_eq!(e.len(), 1, "{h}");
    assert!(runbook_time(e[0]["created_at"].as_str().unwrap()));

    // Killed while the database refuses new connections: unhealthy.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE \"{dbname}\" ALLOW_CONNECTIONS false"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    kill_listener(&mut admin, &dbname).await;
    let mut h = Value::Null;
    for _ in 0..100 {
        h = health(&a).await.1;
        if check(&h, "listener")["status"] == "error" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let allow = sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE \"{dbname}\" ALLOW_CONNECTIONS true"
    )))
    .execute(&mut admin)
    .await;
    assert_eq!(check(&h, "listener")["status"], "error", "{h}");
    assert_eq!(h["healthy"], false);
    assert_eq!(
        events(&h, "error", "listener is disconnected since").len(),
        1
    );
    allow.unwrap();
    // Connections allowed again: it reconnects within a second or so.
    let mut h = Value::Null;
    for _ in 0..100 {
        h = health(&a).await.1;
        if check(&h, "listener")["status"] != "error" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(h["healthy"], true, "{h}");
}
