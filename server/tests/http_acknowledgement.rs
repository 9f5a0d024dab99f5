//! Issue 14 over HTTP (in-process), on both stores: active jobs from
//! leases in `GET /api/workers`, the acknowledgement of a pause by the
//! workers (`appliedVersion`, `?waitApplied=`), and dry runs that answer
//! the impact and change nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use common::api::Api;
use common::TestDb;
use serde_json::{json, Value};
use server::service::ServiceConfig;
use wire::{EventsPage, WorkerList, WorkerPauseStatus};

async fn api(db: TestDb) -> Api {
    Api::new(db, ServiceConfig::default(), true).await
}

async fn status(a: &Api) -> WorkerPauseStatus {
    serde_json::from_value(a.get("/api/system/worker-pause").await).unwrap()
}

async fn workers(a: &Api) -> WorkerList {
    serde_json::from_value(a.get("/api/workers").await).unwrap()
}

async fn events(a: &Api) -> EventsPage {
    serde_json::from_value(a.get("/api/system/worker-pause/events?limit=200").await).unwrap()
}

async fn register(a: &Api, id: &str) {
    a.post(
        "/api/workers/register",
        json!({"workerId": id, "name": format!("{id}-name"), "bootId": "b1"}),
    )
    .await;
}

async fn beat(a: &Api, id: &str, extra: Value) -> Value {
    let mut body = json!({"bootId": "b1", "state": "running"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    a.post(&format!("/api/workers/{id}/heartbeat"), body).await
}

/// The operator report: three workers each claimed a job over REST
/// and the Workers tab said "Active jobs 0". The jobs come from the leases.
async fn workers_show_the_jobs_leased_to_them(db: TestDb) {
    let a = api(db).await;
    let mut jobs = Vec::new();
    for id in ["w1", "w2", "w3"] {
        register(&a, id).await;
        a.enqueue().await;
        let claimed = a.claim(id).await;
        jobs.push(
            claimed["job"]["id"]
                .as_str()
                .unwrap()
                .parse::<uuid::Uuid>()
                .unwrap(),
        );
    }
    // w1 reports nothing (warned), w2 reports its job (agrees), w3 reports
    // a job it does not hold.
    beat(&a, "w1", json!({"activeJobs": []})).await;
    beat(&a, "w2", json!({"activeJobs": [jobs[1]]})).await;
    let ghost = uuid::Uuid::new_v4();
    beat(&a, "w3", json!({"activeJobs": [jobs[2], ghost]})).await;
    let list = workers(&a).await.workers;
    for (w, job) in list.iter().zip(&jobs) {
        assert_eq!(w.active_jobs, vec![*job], "{}", w.id);
    }
    assert_eq!(list[0].reported_active_jobs, Some(Vec::new()));
    assert_eq!(
        list[0].warning.as_deref(),
        Some("reports no active jobs but holds 1 lease")
    );
    assert_eq!(
        (
            list[1].reported_active_jobs.clone(),
            list[1].warning.clone()
        ),
        (None, None)
    );
    assert_eq!(list[2].reported_active_jobs, Some(vec![jobs[2], ghost]));
    assert_eq!(list[2].warning, None);
    // The raw JSON leaves the agreeing worker's field out altogether.
    let raw = a.get("/api/workers").await;
    assert!(
        raw["workers"][1].get("reportedActiveJobs").is_none(),
        "{raw}"
    );
    // The pause impact counts the same jobs.
    let dry = a
        .post(
            "/api/system/worker-pause",
            json!({"action": "pause", "mode": "drain", "reason": "deploy", "dryRun": true}),
        )
        .await;
    let dry: WorkerPauseStatus = serde_json::from_value(dry).unwrap();
    let impact = dry.impact.expect("a dry run answers its impact");
    assert_eq!((impact.running_jobs_finish, impact.workers), (3, 3));
}

/// Workers report `appliedVersion` in heartbeats; the status counts them.
async fn the_status_counts_workers_as_they_apply_the_pause(db: TestDb) {
    let a = api(db).await;
    for id in ["w1", "w2", "w3"] {
        register(&a, id).await;
    }
    let before = status(&a).await;
    let ack = before.acknowledgement.unwrap();
    assert_eq!(
        (ack.total, ack.applied, ack.complete),
        (3, 0, false),
        "nobody reported yet"
    );
    let paused: WorkerPauseStatus = serde_json::from_value(
        a.post(
            "/api/system/worker-pause",
            json!({"action": "pause", "mode": "drain", "reason": "migration"}),
        )
        .await,
    )
    .unwrap();
    let v = paused.version;
    assert_eq!(paused.acknowledgement.as_ref().unwrap().version, v);
    let hb = beat(&a, "w1", json!({"appliedVersion": v})).await;
    assert_eq!(hb["worker"]["appliedVersion"], v);
    beat(&a, "w2", json!({"appliedVersion": v - 1})).await;
    let ack = status(&a).await.acknowledgement.unwrap();
    assert_eq!(
        (ack.version, ack.total, ack.applied, ack.complete),
        (v, 3, 1, false)
    );
    let pending: Vec<_> = ack.pending.iter().map(|p| p.worker_id.as_str()).collect();
    assert_eq!(pending, ["w2", "w3"]);
    assert_eq!(ack.pending[0].name, "w2-name");
    assert_eq!(ack.pending[0].applied_version, Some(v - 1));
    assert_eq!(ack.pending[1].applied_version, None);
    let listed = workers(&a).await.workers;
    assert_eq!(listed[0].applied_version, Some(v));
    assert!(listed[0].applied_at.is_some());

    // A bounded wait that is not met answers at its end, still pending.
    let started = Instant::now();
    let waited: WorkerPauseStatus =
        serde_json::from_value(a.get("/api/system/worker-pause?waitApplied=300ms").await).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(!waited.acknowledgement.unwrap().complete);
    // A wait that is met answers as soon as the last worker applies.
    let late = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        beat(&a, "w2", json!({"appliedVersion": v})).await;
        beat(&a, "w3", json!({"appliedVersion": v})).await;
    };
    let started = Instant::now();
    let (waited, ()) = tokio::join!(a.get("/api/system/worker-pause?waitApplied=20s"), late);
    let waited: WorkerPauseStatus = serde_json::from_value(waited).unwrap();
    let ack = waited.acknowledgement.unwrap();
    assert!(ack.complete, "{ack:?}");
    assert_eq!((ack.applied, ack.total), (3, 3));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // Bad waits: 422 on the field, for the status and for the wait alike.
    for bad in ["soon", "61s", "-1s"] {
        let (s, e) = a
            .call(
                Method::GET,
                &format!("/api/system/worker-pause?waitApplied={bad}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {e}");
        assert_eq!(e["error"]["field"], "waitApplied", "{bad}");
    }
    let (s, _) = a
        .call(
            Method::POST,
            "/api/workers/w1/heartbeat",
            Some(json!({"bootId": "b1", "state": "running", "appliedVersion": -1})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Offline workers are listed apart and not counted; stopped ones not at
/// all.
async fn offline_workers_are_listed_apart(db: TestDb) {
    let cfg = ServiceConfig {
        worker_stale_seconds: 1,
        ..ServiceConfig::default()
    };
    let a = Api::new(db, cfg, true).await;
    for id in ["w1", "w2", "w3"] {
        register(&a, id).await;
    }
    beat(&a, "w3", json!({"state": "stopped"})).await;
    a.post(
        "/api/system/worker-pause",
        json!({"action": "pause", "mode": "quiesce", "reason": "db"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let v = status(&a).await.version;
    beat(&a, "w1", json!({"appliedVersion": v})).await;
    let ack = status(&a).await.acknowledgement.unwrap();
    assert_eq!(
        (ack.total, ack.applied, ack.complete),
        (1, 1, true),
        "{ack:?}"
    );
    let offline: Vec<_> = ack.offline.iter().map(|p| p.worker_id.as_str()).collect();
    assert_eq!(offline, ["w2"]);
    assert!(ack.pending.is_empty());
}

/// `dryRun` answers what the request would do, from the state it shows,
/// and changes nothing: no version, no event, no state; bad input is the
/// same 4xx as the real request.
async fn a_dry_run_answers_the_impact_and_changes_nothing(db: TestDb) {
    let a = api(db).await;
    register(&a, "w1").await;
    register(&a, "w2").await;
    for _ in 0..5 {
        a.enqueue().await;
    }
    a.claim("w1").await;
    a.claim("w2").await;
    let before = status(&a).await;
    let events_before = events(&a).await.events.len();
    let dry: WorkerPauseStatus = serde_json::from_value(
        a.post(
            "/api/system/worker-pause",
            json!({"action": "pause", "mode": "quiesce", "reason": "db migration", "dryRun": true}),
        )
        .await,
    )
    .unwrap();
    let impact = dry.impact.clone().unwrap();
    assert!(impact.would_change);
    assert_eq!(impact.next_version, before.version + 1);
    assert_eq!(impact.running_jobs_hold, dry.metrics.running);
    assert_eq!(
        (impact.running_jobs_hold, impact.running_jobs_finish),
        (2, 0)
    );
    assert_eq!(impact.queued_jobs, dry.metrics.queued);
    assert_eq!(impact.queued_jobs, 3);
    assert_eq!(impact.workers, 2);
    assert_eq!(
        impact.summary,
        "Pausing in quiesce mode stops 2 workers from claiming; 2 running jobs will hold at their next checkpoint; 3 queued jobs will wait."
    );
    assert_eq!((dry.version, dry.workers_paused), (before.version, false));
    let after = status(&a).await;
    assert_eq!(
        (after.version, after.workers_paused),
        (before.version, false)
    );
    assert_eq!(events(&a).await.events.len(), events_before, "no event");
    // A claim still gets a job: nothing was paused.
    assert!(a.claim("w1").await["job"].is_object());

    // Bad input: the same status and field as the real request.
    for body in [
        json!({"action": "pause", "mode": "drain"}),
        json!({"action": "pause", "mode": "sideways", "reason": "x"}),
        json!({"action": "pause", "mode": "drain", "reason": "x", "until": "2001-01-01T00:00:00Z"}),
        json!({"action": "pause", "mode": "drain", "reason": "x", "expectedVersion": before.version + 7}),
    ] {
        let (real_s, real_e) = a
            .call(Method::POST, "/api/system/worker-pause", Some(body.clone()))
            .await;
        let mut dry_body = body.clone();
        dry_body["dryRun"] = json!(true);
        let (dry_s, dry_e) = a
            .call(Method::POST, "/api/system/worker-pause", Some(dry_body))
            .await;
        assert!(real_s.is_client_error(), "{body}: {real_s}");
        assert_eq!(
            (dry_s, &dry_e["error"]["code"], &dry_e["error"]["field"]),
            (real_s, &real_e["error"]["code"], &real_e["error"]["field"]),
            "{body}"
        );
    }
    assert_eq!(status(&a).await.version, before.version);

    // Paused: a dry-run resume says it would be a force-resume, and the
    // fleet stays paused.
    a.post(
        "/api/system/worker-pause",
        json!({"action": "pause", "mode": "drain", "reason": "deploy"}),
    )
    .await;
    let paused = status(&a).await;
    let events_paused = events(&a).await.events.len();
    let dry: WorkerPauseStatus = serde_json::from_value(
        a.post(
            "/api/system/worker-pause",
            json!({"action": "resume", "reason": "done", "dryRun": true}),
        )
        .await,
    )
    .unwrap();
    let impact = dry.impact.unwrap();
    assert!(impact.would_change && impact.force_resume, "{impact:?}");
    assert_eq!(impact.stale_running + dry.metrics.running, 3);
    let again = status(&a).await;
    assert_eq!(
        (again.version, again.workers_paused),
        (paused.version, true)
    );
    assert_eq!(events(&a).await.events.len(), events_paused);
    // The same pause again would change nothing.
    let same: WorkerPauseStatus = serde_json::from_value(
        a.post(
            "/api/system/worker-pause",
            json!({"action": "pause", "mode": "drain", "reason": "deploy", "dryRun": true}),
        )
        .await,
    )
    .unwrap();
    let impact = same.impact.unwrap();
    assert!(!impact.would_change);
    assert_eq!(impact.next_version, paused.version);
}

/// A worker action's dry run: what it would do, the same refusals as the
/// real action, nothing written (desired states, audit events).
async fn a_worker_action_dry_run_answers_the_impact_and_changes_nothing(db: TestDb) {
    let a = api(db).await;
    for id in ["w1", "w2"] {
        register(&a, id).await;
        beat(&a, id, json!({})).await;
    }
    a.enqueue().await;
    a.claim("w1").await;
    let events_before = events(&a).await.events.len();
    let dry: wire::WorkerActionDryRun = serde_json::from_value(
        a.post(
            "/api/workers/actions",
            json!({"action": "drain", "workerIds": ["w1"], "reason": "kernel update", "dryRun": true}),
        )
        .await,
    )
    .unwrap();
    assert!(dry.dry_run);
    assert_eq!(dry.results.len(), 1);
    assert_eq!(dry.results[0].running_jobs, 1, "from w1's lease");
    assert_eq!(dry.results[0].desired_state, wire::DesiredState::Draining);
    assert_eq!(
        (
            dry.impact.available_before,
            dry.impact.available_after,
            dry.impact.running_jobs
        ),
        (2, 1, 1)
    );
    assert_eq!(dry.impact.affected_workers, ["w1"]);
    assert!(!dry.override_used);
    let fleet = workers(&a).await.workers;
    assert!(fleet
        .iter()
        .all(|w| w.desired_state == wire::DesiredState::Active));
    assert_eq!(events(&a).await.events.len(), events_before, "no event");

    // The same refusals as the real action (which audits its refusal; the
    // dry run does not).
    for body in [
        json!({"action": "drain", "workerIds": ["w1", "w2"], "reason": "all of them"}),
        json!({"action": "drain", "workerIds": ["ghost"], "reason": "who"}),
        json!({"action": "explode", "workerIds": ["w1"], "reason": "x"}),
        json!({"action": "pause", "workerIds": ["w1"]}),
    ] {
        let mut dry_body = body.clone();
        dry_body["dryRun"] = json!(true);
        let before = events(&a).await.events.len();
        let (dry_s, dry_e) = a
            .call(Method::POST, "/api/workers/actions", Some(dry_body))
            .await;
        assert_eq!(
            events(&a).await.events.len(),
            before,
            "{body}: the dry run wrote an event"
        );
        let (real_s, real_e) = a
            .call(Method::POST, "/api/workers/actions", Some(body.clone()))
            .await;
        assert!(real_s.is_client_error(), "{body}: {real_s}");
        assert_eq!(
            (
                dry_s,
                &dry_e["error"]["code"],
                &dry_e["error"]["field"],
                &dry_e["confirmPhrase"]
            ),
            (
                real_s,
                &real_e["error"]["code"],
                &real_e["error"]["field"],
                &real_e["confirmPhrase"]
            ),
            "{body}"
        );
    }
    // With the phrase, the dry run says the override would be used.
    let dry: wire::WorkerActionDryRun = serde_json::from_value(
        a.post(
            "/api/workers/actions",
            json!({"action": "drain", "workerIds": ["w1", "w2"], "reason": "all", "confirm": "drain 2 workers", "dryRun": true}),
        )
        .await,
    )
    .unwrap();
    assert!(dry.override_used);
    assert_eq!(dry.impact.available_after, 0);
    assert!(workers(&a)
        .await
        .workers
        .iter()
        .all(|w| w.desired_state == wire::DesiredState::Active));
}

/// A queue's pause and resume take `dryRun` too: the queue's own figures,
/// the same refusals, nothing written.
async fn a_queue_pause_dry_run_answers_the_impact_and_changes_nothing(db: TestDb) {
    let a = api(db).await;
    register(&a, "w1").await;
    for _ in 0..3 {
        a.post(
            "/api/queue/jobs",
            json!({"type": "mail", "queue": "emails", "payload": {}}),
        )
        .await;
    }
    a.post(
        "/api/queue/jobs/claim",
        json!({"workerId": "w1", "queues": ["emails"]}),
    )
    .await;
    let before: wire::QueueInfo =
        serde_json::from_value(a.get("/api/queues/emails").await).unwrap();
    let events_before = events(&a).await.events.len();
    let dry: wire::QueueInfo = serde_json::from_value(
        a.post(
            "/api/queues/emails/pause",
            json!({"mode": "drain", "reason": "provider down", "dryRun": true}),
        )
        .await,
    )
    .unwrap();
    let impact = dry.impact.clone().unwrap();
    assert!(impact.would_change);
    assert_eq!(
        (impact.running_jobs_finish, impact.queued_jobs),
        (dry.running, dry.queued)
    );
    assert_eq!(
        (
            impact.running_jobs_finish,
            impact.queued_jobs,
            impact.workers
        ),
        (1, 2, 1)
    );
    assert_eq!(impact.next_version, before.version + 1);
    assert_eq!(
        impact.summary,
        "Pausing queue emails in drain mode stops 1 worker from claiming from it; 1 running job will finish; 2 queued jobs will wait."
    );
    let after: wire::QueueInfo = serde_json::from_value(a.get("/api/queues/emails").await).unwrap();
    assert_eq!((after.paused, after.version), (false, before.version));
    assert_eq!(events(&a).await.events.len(), events_before);
    // The same refusals as the real request.
    for body in [
        json!({"mode": "drain"}),
        json!({"mode": "drain", "reason": "x", "expectedVersion": before.version + 3}),
    ] {
        let (real_s, real_e) = a
            .call(Method::POST, "/api/queues/emails/pause", Some(body.clone()))
            .await;
        let mut dry_body = body.clone();
        dry_body["dryRun"] = json!(true);
        let (dry_s, dry_e) = a
            .call(Method::POST, "/api/queues/emails/pause", Some(dry_body))
            .await;
        assert!(real_s.is_client_error(), "{body}");
        assert_eq!(
            (dry_s, &dry_e["error"]["code"]),
            (real_s, &real_e["error"]["code"]),
            "{body}"
        );
    }
    // Paused for real, a dry-run resume is a force-resume and resumes nothing.
    a.post(
        "/api/queues/emails/pause",
        json!({"mode": "quiesce", "reason": "provider down"}),
    )
    .await;
    let dry: wire::QueueInfo = serde_json::from_value(
        a.post(
            "/api/queues/emails/resume",
            json!({"reason": "back", "dryRun": true}),
        )
        .await,
    )
    .unwrap();
    let impact = dry.impact.unwrap();
    assert!(impact.would_change && impact.force_resume, "{impact:?}");
    let still: wire::QueueInfo = serde_json::from_value(a.get("/api/queues/emails").await).unwrap();
    assert!(still.paused);
}

/// A claim carries `appliedVersion` too (often the first word after a
/// pause); it is written once per new version, so a paused worker's polls
/// still cost no database round trip.
async fn a_claim_reports_the_applied_version_once_per_version(db: TestDb) {
    let a = api(db).await;
    register(&a, "w1").await;
    let v: WorkerPauseStatus = serde_json::from_value(
        a.post(
            "/api/system/worker-pause",
            json!({"action": "pause", "mode": "drain", "reason": "deploy"}),
        )
        .await,
    )
    .unwrap();
    let claim = json!({"workerId": "w1", "appliedVersion": v.version});
    let answer = a.post("/api/queue/jobs/claim", claim.clone()).await;
    assert!(answer["job"].is_null());
    let w = &workers(&a).await.workers[0];
    assert_eq!(w.applied_version, Some(v.version));
    let ack = status(&a).await.acknowledgement.unwrap();
    assert!(ack.complete, "{ack:?}");
    // The same version again: answered from the cache, no storage call.
    let calls = a.db.store.calls();
    for _ in 0..3 {
        a.post("/api/queue/jobs/claim", claim.clone()).await;
    }
    assert_eq!(
        a.db.store.calls(),
        calls,
        "paused claims of a known version touch no storage"
    );
    let (s, e) = a
        .call(
            Method::POST,
            "/api/queue/jobs/claim",
            Some(json!({"workerId": "w1", "appliedVersion": -2})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "appliedVersion");
}

on_both_stores!(
    a_claim_reports_the_applied_version_once_per_version,
    a_queue_pause_dry_run_answers_the_impact_and_changes_nothing,
    a_worker_action_dry_run_answers_the_impact_and_changes_nothing,
    workers_show_the_jobs_leased_to_them,
    the_status_counts_workers_as_they_apply_the_pause,
    offline_workers_are_listed_apart,
    a_dry_run_answers_the_impact_and_changes_nothing,
);
