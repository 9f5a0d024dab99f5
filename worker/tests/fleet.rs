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

use client::ApiError;
use common::{eventually, Api, Db, Server, Supervisor, WorkerProc};
use serde_json::{json, Value};
use uuid::Uuid;
use wire::JobStatus::{Running, Succeeded};
use wire::WorkerActionKind::{Drain, Pause, Resume};
use wire::{
    ControlEvent, DesiredState, EventsQuery, ObservedState, RollingRestart, RollingRestartRequest,
    RolloutStatus, RolloutWorkerState, WorkerInfo,
};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A claim in flight when a drain arrives runs out its long poll: keep it
/// short so drains (and so the rolling restarts) are quick.
const FAST: &[&str] = &["--wait-ms", "1000"];

/// Waits until exactly `ids` are registered and each is running, wanted
/// active; returns their boot ids.
async fn fleet_up(api: &Api, ids: &[&str]) -> HashMap<String, String> {
    eventually("the fleet to be up", secs(30), || async {
        let ws = api.workers().await;
        let up = ws.len() == ids.len()
            && ws.iter().all(|w| {
                w.observed_state == ObservedState::Running
                    && w.desired_state == DesiredState::Active
            });
        up.then(|| {
            ws.iter()
                .map(|w| (w.id.clone(), w.boot_id.clone()))
                .collect()
        })
    })
    .await
}

/// A field of a worker's log line.
fn string(v: &Value) -> String {
    v.as_str().unwrap().to_string()
}

/// A worker taken out of service, as an operator sees it.
fn unavailable(w: &WorkerInfo) -> bool {
    w.desired_state != DesiredState::Active || w.observed_state != ObservedState::Running
}

/// A rollout's workers draining or restarting right now.
fn in_flight(r: &RollingRestart) -> Vec<String> {
    r.workers
        .iter()
        .filter(|w| {
            matches!(
                w.state,
                RolloutWorkerState::Draining | RolloutWorkerState::Restarting
            )
        })
        .map(|w| w.worker_id.clone())
        .collect()
}

async fn events(api: &Api) -> Vec<ControlEvent> {
    let query = EventsQuery {
        limit: Some(50),
        before: None,
    };
    api.client.events(&query).await.unwrap().events
}

async fn rollout(api: &Api, id: Uuid) -> RollingRestart {
    api.client.rolling_restart(id).await.unwrap()
}

/// Enqueues short `sleep` jobs (50–200 ms) every 125 ms until told to stop;
/// gives back every id it enqueued.
fn produce(api: Api, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Vec<Uuid>> {
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
    let api = Api::new(&server.base);
    let mut fleet = Supervisor::start(&server.base, &IDS, &db.dir.0, FAST);
    let boots_before = fleet_up(&api, &IDS).await;

    let stop = Arc::new(AtomicBool::new(false));
    let producer = produce(api.clone(), stop.clone());
    eventually("jobs to flow", secs(15), || async {
        let done = api
            .client
            .list_jobs(Some(Succeeded), Some(5))
            .await
            .unwrap();
        (done.jobs.len() >= 5).then_some(())
    })
    .await;

    let req = RollingRestartRequest {
        all: Some(true),
        max_unavailable: Some(2),
        reason: Some("deploy v2".into()),
        ..Default::default()
    };
    let r = api.client.start_rolling_restart(&req).await.unwrap();
    assert_eq!(r.status, RolloutStatus::Running);
    assert_eq!(in_flight(&r).len(), 2, "two drained at once: {r:?}");
    let id = r.id;

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
            .map(|w| w.id.clone())
            .collect();
        assert!(out.len() <= 2, "more than 2 workers out: {out:?}");
        let r = rollout(&api, id).await;
        let busy = in_flight(&r);
        assert!(busy.len() <= 2, "more than 2 in flight: {busy:?}");
        samples += 1;
        most_out = most_out.max(out.len());
        if r.status != RolloutStatus::Running {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "rolling restart still running: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(r.status, RolloutStatus::Done, "{r:?}");
    assert!(most_out >= 1, "the samples ({samples}) saw the restart");

    // Everyone restarted exactly once, cleanly, with a new boot id.
    let boots_after = fleet_up(&api, &IDS).await;
    for w in &r.workers {
        let id = w.worker_id.clone();
        assert_eq!(w.state, RolloutWorkerState::Done, "{w:?}");
        assert_eq!(w.boot_id_before.as_ref(), Some(&boots_before[&id]));
        assert_eq!(w.boot_id_after.as_ref(), Some(&boots_after[&id]));
        assert_ne!(boots_before[&id], boots_after[&id], "{id} has a new boot");
        assert_eq!(fleet.starts(&id), 2, "{id} started twice");
        let exits: Vec<Option<i32>> = fleet.exits(&id).iter().map(|e| e.code()).collect();
        assert_eq!(exits, [Some(0)], "{id} drained and exited 0");
    }

    // Stop producing, let the queue drain: every job succeeded, run once.
    stop.store(true, Ordering::SeqCst);
    let ids = producer.await.unwrap();
    eventually("the queue to drain", secs(30), || async {
        let m = api.client.pause_status().await.unwrap().metrics;
        (m.queued == 0 && m.running == 0 && m.stale_running == 0).then_some(())
    })
    .await;
    let (started, finished) = (r.created_at, r.finished_at.unwrap());
    let mut during = 0;
    for id in &ids {
        let j = api.job(*id).await;
        assert_eq!(j.status, Succeeded, "{j:?}");
        // No worker was killed, so no lease could be lost: no retry either.
        assert_eq!(j.attempts, 1, "{j:?}");
        let end = j.finished_at.unwrap();
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

    let actions: Vec<String> = events(&api).await.into_iter().map(|e| e.action).collect();
    assert_eq!(actions, ["rolling_restart.done", "rolling_restart.start"]);
    fleet.stop(secs(15)).await;
}

async fn pausing_one_worker_stops_its_claims_only(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Api::new(&server.base);
    let left = WorkerProc::start(&server.base, "left", &db.dir.0, FAST);
    let right = WorkerProc::start(&server.base, "right", &db.dir.0, FAST);
    fleet_up(&api, &["left", "right"]).await;

    let r = api
        .worker_action(Pause, &["left"], "debugging left", None)
        .await
        .unwrap_or_else(|e| panic!("one of two may pause: {e}"));
    assert!(!r.override_used);
    assert!(r.results[0].ok);
    assert_eq!(r.results[0].previous_desired_state, DesiredState::Active);
    assert_eq!(r.results[0].desired_state, DesiredState::Paused);
    // From the 200 on, whatever `left` has in flight gets nothing.
    let mut jobs = Vec::new();
    for _ in 0..6 {
        jobs.push(api.enqueue("sleep", json!({"ms": 100})).await);
    }
    for j in &jobs {
        let done = api.wait_status(*j, Succeeded, secs(20)).await;
        assert_eq!(done.worker_id.as_deref(), Some("right"), "{done:?}");
    }
    left.wait_logs("directive from the control plane", 1, secs(10), |l| {
        l["to"] == "pause"
    })
    .await;
    let paused = eventually("left to report paused", secs(10), || async {
        let w = api.worker("left").await;
        (w.observed_state == ObservedState::Paused).then_some(w)
    })
    .await;
    assert_eq!(paused.desired_state, DesiredState::Paused);
    assert!(left.logs("job started").is_empty(), "left claimed nothing");
    // Still heartbeating while paused.
    let beat = paused.last_heartbeat_at;
    eventually("left to heartbeat on", secs(5), || async {
        (api.worker("left").await.last_heartbeat_at > beat).then_some(())
    })
    .await;

    // Resume left, then pause right: now only left can run the work.
    let r = api
        .worker_action(Resume, &["left"], "fixed", None)
        .await
        .unwrap();
    assert_eq!(r.results[0].desired_state, DesiredState::Active);
    left.wait_logs("directive from the control plane", 1, secs(10), |l| {
        l["to"] == "run"
    })
    .await;
    fleet_up(&api, &["left", "right"]).await;
    api.worker_action(Pause, &["right"], "debugging right", None)
        .await
        .unwrap();
    let job = api.enqueue("sleep", json!({"ms": 100})).await;
    let done = api.wait_status(job, Succeeded, secs(20)).await;
    assert_eq!(done.worker_id.as_deref(), Some("left"), "{done:?}");
    assert_eq!(right.logs("job started").len(), jobs.len());
}

async fn draining_every_worker_is_refused_until_the_phrase_is_typed(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Api::new(&server.base);
    let mut x = WorkerProc::start(&server.base, "x", &db.dir.0, FAST);
    let mut y = WorkerProc::start(&server.base, "y", &db.dir.0, FAST);
    fleet_up(&api, &["x", "y"]).await;
    // A finished job gives the ETA its history; a second one keeps running.
    let warm = api.enqueue("sleep", json!({"ms": 1000})).await;
    api.wait_status(warm, Succeeded, secs(15)).await;
    let long = api.enqueue("sleep", json!({"ms": 1500})).await;
    let running = api.wait_status(long, Running, secs(15)).await;
    let runner = running.worker_id.unwrap();
    // Wait until the fleet view shows that job, and only it: the worker
    // that ran the warm-up job may report it in one more heartbeat.
    eventually(
        "the fleet view to show the running job alone",
        secs(10),
        || async {
            let active: Vec<(String, Uuid)> = api
                .workers()
                .await
                .into_iter()
                .flat_map(|w| w.active_jobs.into_iter().map(move |j| (w.id.clone(), j)))
                .collect();
            (active == [(runner.clone(), long)]).then_some(())
        },
    )
    .await;

    let both = ["x", "y"];
    let e = api
        .worker_action(Drain, &both, "decommission", None)
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.code()), (409, "safety_check"), "{e:?}");
    assert_eq!(e.field(), Some("confirm"));
    let ApiError::SafetyRefused {
        confirm_phrase: Some(phrase),
        impact: Some(impact),
        ..
    } = e
    else {
        panic!("a safety refusal with its phrase and impact: {e:?}");
    };
    assert_eq!(phrase, "drain 2 workers");
    assert_eq!((impact.available_before, impact.available_after), (2, 0));
    assert_eq!(impact.minimum, 1);
    assert_eq!(impact.running_jobs, 1);
    let affected: BTreeSet<String> = impact.affected_workers.into_iter().collect();
    assert_eq!(affected, BTreeSet::from(["x".into(), "y".into()]));
    let e = api
        .worker_action(Drain, &both, "decommission", Some("yes"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), 409, "a wrong phrase is refused too: {e:?}");
    assert!(
        api.workers()
            .await
            .iter()
            .all(|w| w.desired_state == DesiredState::Active),
        "nothing applied"
    );
    assert!(x.try_exit().is_none() && y.try_exit().is_none());

    let r = api
        .worker_action(Drain, &both, "decommission", Some("drain 2 workers"))
        .await
        .unwrap();
    assert!(r.override_used);
    let eta = r.eta_seconds.expect("an ETA from the history");
    assert!((0.0..=1.5).contains(&eta), "ETA {eta}");
    for w in [&mut x, &mut y] {
        let status = w.wait_exit(secs(20)).await;
        assert_eq!(status.code(), Some(0), "{} drained: {status:?}", w.id);
    }
    let done = api.job(long).await;
    assert_eq!((done.status, done.attempts), (Succeeded, 1));
    for w in api.workers().await {
        assert_eq!(
            (w.desired_state, w.observed_state),
            (DesiredState::Draining, ObservedState::Stopped),
            "{w:?}"
        );
    }
    let ev = &events(&api).await[0];
    assert_eq!(ev.action, "worker.drain", "{ev:?}");
    assert_eq!(ev.actor, "local");
    assert_eq!(ev.reason, "decommission");
    assert_eq!(ev.targets, both);
    // The event's free-form details (what the action saw), not a wire type.
    let details = ev.details.as_ref().unwrap();
    assert_eq!(details["overrideUsed"], true, "{ev:?}");
}

async fn a_worker_that_does_not_come_back_fails_the_rollout_and_nothing_more_is_drained(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Api::new(&server.base);
    // `first` is supervised and comes back; `stuck` is not; `last` waits.
    let mut first = Supervisor::start(&server.base, &["first"], &db.dir.0, FAST);
    let mut stuck = WorkerProc::start(&server.base, "stuck", &db.dir.0, FAST);
    let mut last = WorkerProc::start(&server.base, "last", &db.dir.0, FAST);
    let boots = fleet_up(&api, &["first", "stuck", "last"]).await;

    let req = RollingRestartRequest {
        worker_ids: Some(vec!["first".into(), "stuck".into(), "last".into()]),
        max_unavailable: Some(1),
        deadline_seconds: Some(5),
        reason: Some("deploy v3".into()),
        ..Default::default()
    };
    let r = api.client.start_rolling_restart(&req).await.unwrap();
    assert_eq!(in_flight(&r), ["first"]);
    let id = r.id;
    let r = eventually("the rolling restart to end", secs(40), || async {
        let r = rollout(&api, id).await;
        assert!(in_flight(&r).len() <= 1, "{r:?}");
        (r.status != RolloutStatus::Running).then_some(r)
    })
    .await;
    assert_eq!(r.status, RolloutStatus::Failed, "{r:?}");
    assert!(
        r.message.as_deref().unwrap().contains("did not come back"),
        "{r:?}"
    );
    let states: Vec<RolloutWorkerState> = r.workers.iter().map(|w| w.state).collect();
    assert_eq!(
        states,
        [
            RolloutWorkerState::Done,
            RolloutWorkerState::Failed,
            RolloutWorkerState::Pending
        ]
    );
    assert_eq!(r.workers[2].started_at, None);
    assert_eq!(first.starts("first"), 2, "first came back");
    let status = stuck.wait_exit(secs(5)).await;
    assert_eq!(status.code(), Some(0), "stuck drained: {status:?}");

    // No further drain, now or at the controller's next ticks (one a
    // second): `last` keeps its boot, keeps running, never told to drain.
    let watch_until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < watch_until {
        let w = api.worker("last").await;
        assert_eq!(
            (w.desired_state, w.observed_state),
            (DesiredState::Active, ObservedState::Running),
            "{w:?}"
        );
        assert_eq!(w.boot_id, boots["last"]);
        assert_eq!(rollout(&api, id).await.status, RolloutStatus::Failed);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(last.try_exit().is_none(), "last still runs");
    assert!(last.logs("directive from the control plane").is_empty());

    let list = api.client.rolling_restarts().await.unwrap();
    assert_eq!(list[0].id, r.id, "newest first");
    let ev = events(&api).await;
    let failed = ev
        .iter()
        .find(|e| e.action == "rolling_restart.failed")
        .expect("a rolling_restart.failed event");
    assert!(!failed.success, "{failed:?}");
    let details = failed.details.as_ref().unwrap();
    assert_eq!(details["rollingRestartId"], json!(r.id));
    first.stop(secs(15)).await;
}

testkit::on_both_stores!(
    a_rolling_restart_under_load_keeps_at_most_two_out_and_loses_no_job,
    pausing_one_worker_stops_its_claims_only,
    draining_every_worker_is_refused_until_the_phrase_is_typed,
    a_worker_that_does_not_come_back_fails_the_rollout_and_nothing_more_is_drained,
);
