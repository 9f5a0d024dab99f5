//! Fleet controls end to end: a real `lull serve`, real `lull-worker`
//! processes (some kept running by a supervisor, as systemd would), and the
//! operator's API — a rolling restart under load that never takes more than
//! `maxUnavailable` workers out and loses no job, per-worker pause, the
//! safety refusal and its typed override, and a worker that does not come
//! back failing the rolling restart. On SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{eventually, Db, Http, Server, Supervisor, WorkerProc};
use serde_json::{json, Value};
use uuid::Uuid;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

/// A claim in flight when a drain arrives runs out its long poll: keep it
/// short so drains (and so the rolling restarts) are quick.
const FAST: &[&str] = &["--wait-ms", "1000"];

/// Waits until exactly `ids` are registered and each is running, wanted
/// active; returns their boot ids.
async fn fleet_up(api: &Http, ids: &[&str]) -> HashMap<String, String> {
    eventually("the fleet to be up", secs(30), || async {
        let ws = api.workers().await;
        let up = ws.len() == ids.len()
            && ws
                .iter()
                .all(|w| w["observedState"] == "running" && w["desiredState"] == "active");
        up.then(|| {
            ws.iter()
                .map(|w| (string(&w["id"]), string(&w["bootId"])))
                .collect()
        })
    })
    .await
}

fn string(v: &Value) -> String {
    v.as_str().unwrap().to_string()
}

/// A worker taken out of service, as an operator sees it.
fn unavailable(w: &Value) -> bool {
    w["desiredState"] != "active" || w["observedState"] != "running"
}

/// A rollout's workers draining or restarting right now.
fn in_flight(r: &Value) -> Vec<String> {
    r["workers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["state"] == "draining" || w["state"] == "restarting")
        .map(|w| string(&w["workerId"]))
        .collect()
}

async fn events(api: &Http) -> Vec<Value> {
    api.get("/api/system/worker-pause/events?limit=50").await["events"]
        .as_array()
        .unwrap()
        .clone()
}

/// Enqueues short `sleep` jobs (50–200 ms) every 125 ms until told to stop;
/// gives back every id it enqueued.
fn produce(api: Http, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Vec<Uuid>> {
    tokio::spawn(async move {
        let mut ids = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(125));
        while !stop.load(Ordering::SeqCst) {
            tick.tick().await;
            let ms = 50 + (ids.len() * 53) % 151;
            ids.push(api.enqueue("sleep", json!({ "ms": ms })).await);
        }
        ids
    })
}

async fn a_rolling_restart_under_load_keeps_at_most_two_out_and_loses_no_job(db: Db) {
    const IDS: [&str; 6] = ["w1", "w2", "w3", "w4", "w5", "w6"];
    let server = Server::start(&db.url, 0);
    let api = Http::new(&server.base);
    let mut fleet = Supervisor::start(&server.base, &IDS, &db.dir.0, FAST);
    let boots_before = fleet_up(&api, &IDS).await;

    let stop = Arc::new(AtomicBool::new(false));
    let producer = produce(api.clone(), stop.clone());
    eventually("jobs to flow", secs(15), || async {
        let done = api.get("/api/queue/jobs?status=succeeded&limit=5").await;
        (done["jobs"].as_array().unwrap().len() >= 5).then_some(())
    })
    .await;

    let (s, r) = api
        .post(
            "/api/workers/rolling-restarts",
            json!({"all": true, "maxUnavailable": 2, "reason": "deploy v2"}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["status"], "running");
    assert_eq!(in_flight(&r).len(), 2, "two drained at once: {r}");
    let path = format!("/api/workers/rolling-restarts/{}", string(&r["id"]));

    // Sample the fleet and the rollout until it ends: never more than two
    // workers out of service, by either account.
    let deadline = Instant::now() + secs(60);
    let (mut samples, mut most_out) = (0, 0);
    let r = loop {
        let out: Vec<String> = api
            .workers()
            .await
            .iter()
            .filter(|w| unavailable(w))
            .map(|w| string(&w["id"]))
            .collect();
        assert!(out.len() <= 2, "more than 2 workers out: {out:?}");
        let r = api.get(&path).await;
        let busy = in_flight(&r);
        assert!(busy.len() <= 2, "more than 2 in flight: {busy:?}");
        samples += 1;
        most_out = most_out.max(out.len());
        if r["status"] != "running" {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "rolling restart still running: {r}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(r["status"], "done", "{r}");
    assert!(most_out >= 1, "the samples ({samples}) saw the restart");

    // Everyone restarted exactly once, cleanly, with a new boot id.
    let boots_after = fleet_up(&api, &IDS).await;
    for w in r["workers"].as_array().unwrap() {
        let id = string(&w["workerId"]);
        assert_eq!(w["state"], "done", "{w}");
        assert_eq!(w["bootIdBefore"].as_str(), Some(boots_before[&id].as_str()));
        assert_eq!(w["bootIdAfter"].as_str(), Some(boots_after[&id].as_str()));
        assert_ne!(boots_before[&id], boots_after[&id], "{id} has a new boot");
        assert_eq!(fleet.starts(&id), 2, "{id} started twice");
        let exits: Vec<Option<i32>> = fleet.exits(&id).iter().map(|e| e.code()).collect();
        assert_eq!(exits, [Some(0)], "{id} drained and exited 0");
    }

    // Stop producing, let the queue drain: every job succeeded, run once.
    stop.store(true, Ordering::SeqCst);
    let ids = producer.await.unwrap();
    eventually("the queue to drain", secs(30), || async {
        let m = api.get("/api/system/worker-pause").await["metrics"].clone();
        (m["queued"] == 0 && m["running"] == 0 && m["staleRunning"] == 0).then_some(())
    })
    .await;
    let (started, finished) = (at(&r["createdAt"]), at(&r["finishedAt"]));
    let mut during = 0;
    for id in &ids {
        let j = api.job(*id).await;
        assert_eq!(j["status"], "succeeded", "{j}");
        // No worker was killed, so no lease could be lost: no retry either.
        assert_eq!(j["attempts"], 1, "{j}");
        let end = at(&j["finishedAt"]);
        if started < end && end < finished {
            during += 1;
        }
    }
    assert!(
        during >= 5,
        "jobs kept flowing during the restart: {during}"
    );
    let mut runs: HashMap<String, usize> = HashMap::new();
    for id in IDS {
        for l in fleet.logs(id, "job started") {
            *runs.entry(string(&l["job_id"])).or_default() += 1;
        }
    }
    for id in &ids {
        assert_eq!(runs.get(&id.to_string()), Some(&1), "job {id} ran once");
    }
    eprintln!(
        "{} jobs, {samples} samples, at most {most_out} out, restart took {}",
        ids.len(),
        finished - started
    );

    let actions: Vec<Value> = events(&api)
        .await
        .iter()
        .map(|e| e["action"].clone())
        .collect();
    assert_eq!(actions, ["rolling_restart.done", "rolling_restart.start"]);
    fleet.stop(secs(15)).await;
}

async fn pausing_one_worker_stops_its_claims_only(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Http::new(&server.base);
    let left = WorkerProc::start(&server.base, "left", &db.dir.0, FAST);
    let right = WorkerProc::start(&server.base, "right", &db.dir.0, FAST);
    fleet_up(&api, &["left", "right"]).await;

    let (s, r) = api
        .worker_action("pause", &["left"], "debugging left", None)
        .await;
    assert_eq!(s, 200, "one of two may pause: {r}");
    assert_eq!(r["overrideUsed"], false);
    assert_eq!(r["results"][0]["ok"], true);
    assert_eq!(r["results"][0]["previousDesiredState"], "active");
    assert_eq!(r["results"][0]["desiredState"], "paused");
    // From the 200 on, whatever `left` has in flight gets nothing.
    let mut jobs = Vec::new();
    for _ in 0..6 {
        jobs.push(api.enqueue("sleep", json!({"ms": 100})).await);
    }
    for j in &jobs {
        let done = api.wait_status(*j, "succeeded", secs(20)).await;
        assert_eq!(done["workerId"], "right", "{done}");
    }
    left.wait_logs("directive from the control plane", 1, secs(10), |l| {
        l["to"] == "pause"
    })
    .await;
    let paused = eventually("left to report paused", secs(10), || async {
        let w = api.worker("left").await;
        (w["observedState"] == "paused").then_some(w)
    })
    .await;
    assert_eq!(paused["desiredState"], "paused");
    assert!(left.logs("job started").is_empty(), "left claimed nothing");
    // Still heartbeating while paused.
    let beat = at(&paused["lastHeartbeatAt"]);
    eventually("left to heartbeat on", secs(5), || async {
        (at(&api.worker("left").await["lastHeartbeatAt"]) > beat).then_some(())
    })
    .await;

    // Resume left, then pause right: now only left can run the work.
    let (s, r) = api.worker_action("resume", &["left"], "fixed", None).await;
    assert_eq!(
        (s, &r["results"][0]["desiredState"]),
        (200, &json!("active"))
    );
    left.wait_logs("directive from the control plane", 1, secs(10), |l| {
        l["to"] == "run"
    })
    .await;
    fleet_up(&api, &["left", "right"]).await;
    let (s, r) = api
        .worker_action("pause", &["right"], "debugging right", None)
        .await;
    assert_eq!(s, 200, "{r}");
    let job = api.enqueue("sleep", json!({"ms": 100})).await;
    let done = api.wait_status(job, "succeeded", secs(20)).await;
    assert_eq!(done["workerId"], "left", "{done}");
    assert_eq!(right.logs("job started").len(), jobs.len());
}

async fn draining_every_worker_is_refused_until_the_phrase_is_typed(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Http::new(&server.base);
    let mut x = WorkerProc::start(&server.base, "x", &db.dir.0, FAST);
    let mut y = WorkerProc::start(&server.base, "y", &db.dir.0, FAST);
    fleet_up(&api, &["x", "y"]).await;
    // A finished job gives the ETA its history; a second one keeps running.
    let warm = api.enqueue("sleep", json!({"ms": 1000})).await;
    api.wait_status(warm, "succeeded", secs(15)).await;
    let long = api.enqueue("sleep", json!({"ms": 1500})).await;
    let running = api.wait_status(long, "running", secs(15)).await;
    let runner = string(&running["workerId"]);
    eventually(
        "the fleet view to show the running job",
        secs(10),
        || async {
            let w = api.worker(&runner).await;
            (w["activeJobs"] == json!([long])).then_some(())
        },
    )
    .await;

    let both = ["x", "y"];
    let (s, v) = api
        .worker_action("drain", &both, "decommission", None)
        .await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["error"]["code"], "safety_check");
    assert_eq!(v["error"]["field"], "confirm");
    assert_eq!(v["confirmPhrase"], "drain 2 workers");
    let impact = &v["impact"];
    assert_eq!(
        (&impact["availableBefore"], &impact["availableAfter"]),
        (&json!(2), &json!(0))
    );
    assert_eq!(impact["minimum"], 1);
    assert_eq!(impact["runningJobs"], 1);
    let affected: BTreeSet<String> = impact["affectedWorkers"]
        .as_array()
        .unwrap()
        .iter()
        .map(string)
        .collect();
    assert_eq!(affected, BTreeSet::from(["x".into(), "y".into()]));
    let (s, _) = api
        .worker_action("drain", &both, "decommission", Some("yes"))
        .await;
    assert_eq!(s, 409, "a wrong phrase is refused too");
    assert!(
        api.workers()
            .await
            .iter()
            .all(|w| w["desiredState"] == "active"),
        "nothing applied"
    );
    assert!(x.try_exit().is_none() && y.try_exit().is_none());

    let (s, r) = api
        .worker_action("drain", &both, "decommission", Some("drain 2 workers"))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["overrideUsed"], true);
    let eta = r["etaSeconds"].as_f64().expect("an ETA from the history");
    assert!((0.0..=1.5).contains(&eta), "ETA {eta}");
    for w in [&mut x, &mut y] {
        let status = w.wait_exit(secs(20)).await;
        assert_eq!(status.code(), Some(0), "{} drained: {status:?}", w.id);
    }
    let done = api.job(long).await;
    assert_eq!(
        (&done["status"], &done["attempts"]),
        (&json!("succeeded"), &json!(1))
    );
    for w in api.workers().await {
        assert_eq!(
            (&w["desiredState"], &w["observedState"]),
            (&json!("draining"), &json!("stopped")),
            "{w}"
        );
    }
    let ev = &events(&api).await[0];
    assert_eq!(ev["action"], "worker.drain", "{ev}");
    assert_eq!(ev["actor"], "local");
    assert_eq!(ev["reason"], "decommission");
    assert_eq!(ev["targets"], json!(both));
    assert_eq!(ev["details"]["overrideUsed"], true, "{ev}");
}

async fn a_worker_that_does_not_come_back_fails_the_rollout_and_nothing_more_is_drained(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Http::new(&server.base);
    // `first` is supervised and comes back; `stuck` is not; `last` waits.
    let mut first = Supervisor::start(&server.base, &["first"], &db.dir.0, FAST);
    let mut stuck = WorkerProc::start(&server.base, "stuck", &db.dir.0, FAST);
    let mut last = WorkerProc::start(&server.base, "last", &db.dir.0, FAST);
    let boots = fleet_up(&api, &["first", "stuck", "last"]).await;

    let (s, r) = api
        .post(
            "/api/workers/rolling-restarts",
            json!({
                "workerIds": ["first", "stuck", "last"],
                "maxUnavailable": 1,
                "deadlineSeconds": 5,
                "reason": "deploy v3",
            }),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(in_flight(&r), ["first"]);
    let path = format!("/api/workers/rolling-restarts/{}", string(&r["id"]));
    let r = eventually("the rolling restart to end", secs(40), || async {
        let r = api.get(&path).await;
        assert!(in_flight(&r).len() <= 1, "{r}");
        (r["status"] != "running").then_some(r)
    })
    .await;
    assert_eq!(r["status"], "failed", "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("did not come back"),
        "{r}"
    );
    let states: Vec<&Value> = r["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| &w["state"])
        .collect();
    assert_eq!(
        states,
        [&json!("done"), &json!("failed"), &json!("pending")]
    );
    assert_eq!(r["workers"][2]["startedAt"], Value::Null);
    assert_eq!(first.starts("first"), 2, "first came back");
    let status = stuck.wait_exit(secs(5)).await;
    assert_eq!(status.code(), Some(0), "stuck drained: {status:?}");

    // No further drain, now or at the controller's next ticks (one a
    // second): `last` keeps its boot, keeps running, never told to drain.
    let watch_until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < watch_until {
        let w = api.worker("last").await;
        assert_eq!(
            (&w["desiredState"], &w["observedState"]),
            (&json!("active"), &json!("running")),
            "{w}"
        );
        assert_eq!(w["bootId"].as_str(), Some(boots["last"].as_str()));
        assert_eq!(api.get(&path).await["status"], "failed");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(last.try_exit().is_none(), "last still runs");
    assert!(last.logs("directive from the control plane").is_empty());

    let list = api.get("/api/workers/rolling-restarts").await;
    assert_eq!(list[0]["id"], r["id"], "newest first");
    let ev = events(&api).await;
    let failed = ev
        .iter()
        .find(|e| e["action"] == "rolling_restart.failed")
        .expect("a rolling_restart.failed event");
    assert_eq!(failed["success"], false, "{failed}");
    assert_eq!(failed["details"]["rollingRestartId"], r["id"]);
    first.stop(secs(15)).await;
}

testkit::on_both_stores!(
    a_rolling_restart_under_load_keeps_at_most_two_out_and_loses_no_job,
    pausing_one_worker_stops_its_claims_only,
    draining_every_worker_is_refused_until_the_phrase_is_typed,
    a_worker_that_does_not_come_back_fails_the_rollout_and_nothing_more_is_drained,
);
