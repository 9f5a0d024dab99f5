//! Fleet controls over HTTP (in-process), on both stores: per-worker
//! actions, the safety rule and its typed override, unknown ids, and
//! rolling restarts stepped by the controller.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use common::api::Api;
use common::TestDb;
use serde_json::{json, Value};
use server::service::{Service, ServiceConfig};

async fn api(db: TestDb) -> Api {
    let cfg = ServiceConfig {
        rollout_tick_ms: 3_600_000, // tests step the controller themselves
        ..Default::default()
    };
    Api::new(db, cfg, false).await
}

impl Api {
    async fn register(&self, id: &str, boot: &str) -> Value {
        self.ok(
            Method::POST,
            "/api/workers/register",
            Some(json!({"workerId": id, "bootId": boot})),
        )
        .await
    }

    async fn beat(&self, id: &str, boot: &str, state: &str) -> Value {
        self.ok(
            Method::POST,
            &format!("/api/workers/{id}/heartbeat"),
            Some(json!({"bootId": boot, "state": state})),
        )
        .await
    }

    async fn list_rollouts_empty(&self) -> bool {
        let v = self
            .ok(Method::GET, "/api/workers/rolling-restarts", None)
            .await;
        v.as_array().is_some_and(|a| a.is_empty())
    }

    async fn desired(&self) -> Vec<(String, String)> {
        let v = self.ok(Method::GET, "/api/workers", None).await;
        v["workers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                (
                    w["id"].as_str().unwrap().to_string(),
                    w["desiredState"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

async fn per_worker_actions_change_directives_and_are_audited(db: TestDb) {
    let a = api(db).await;
    for w in ["w1", "w2", "w3"] {
        a.register(w, "b1").await;
    }
    let r = a
        .ok(
            Method::POST,
            "/api/workers/actions",
            Some(json!({"action": "pause", "workerIds": ["w1"], "reason": "debugging w1"})),
        )
        .await;
    assert_eq!(r["results"][0]["workerId"], "w1");
    assert_eq!(r["results"][0]["previousDesiredState"], "active");
    assert_eq!(r["results"][0]["desiredState"], "paused");
    assert_eq!(a.beat("w1", "b1", "running").await["directive"], "pause");
    assert_eq!(a.beat("w2", "b1", "running").await["directive"], "run");
    // A paused worker gets no job, whatever its runtime does; others do.
    a.ok(Method::POST, "/api/queue/jobs", Some(json!({"type": "t"})))
        .await;
    let c = a
        .ok(
            Method::POST,
            "/api/queue/jobs/claim",
            Some(json!({"workerId": "w1"})),
        )
        .await;
    assert_eq!(c["job"], Value::Null, "paused worker claimed a job");
    let c = a
        .ok(
            Method::POST,
            "/api/queue/jobs/claim",
            Some(json!({"workerId": "w2"})),
        )
        .await;
    assert_eq!(c["job"]["type"], "t");
    // The job's lease heartbeat carries w2's directive too.
    let id = c["job"]["id"].as_str().unwrap();
    let hb = a
        .ok(
            Method::POST,
            &format!("/api/queue/jobs/{id}/heartbeat"),
            Some(json!({"workerId": "w2", "leaseToken": c["job"]["leaseToken"]})),
        )
        .await;
    assert_eq!(hb["directive"], "run");

    let d = a
        .ok(
            Method::POST,
            "/api/workers/actions",
            Some(json!({"action": "drain", "workerIds": ["w2"], "reason": "host reboot"})),
        )
        .await;
    assert!(d["etaSeconds"].is_number() || d["etaSeconds"].is_null());
    assert_eq!(a.beat("w2", "b1", "draining").await["directive"], "drain");
    let r = a
        .ok(
            Method::POST,
            "/api/workers/actions",
            Some(json!({"action": "resume", "workerIds": ["w1"], "reason": "fixed"})),
        )
        .await;
    assert_eq!(r["results"][0]["desiredState"], "active");
    let events = a
        .ok(
            Method::GET,
            "/api/system/worker-pause/events?limit=10",
            None,
        )
        .await;
    let actions: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["worker.resume", "worker.drain", "worker.pause"]);
    let drain = &events["events"][1];
    assert_eq!(drain["targets"], json!(["w2"]));
    assert_eq!(drain["actor"], "local");
    assert_eq!(drain["reason"], "host reboot");
    assert_eq!(drain["details"]["results"][0]["ok"], true);
}

async fn the_safety_rule_refuses_then_accepts_the_typed_phrase(db: TestDb) {
    let a = api(db).await;
    a.register("w1", "b").await;
    a.register("w2", "b").await;
    let before = a.desired().await;
    let body = json!({"action": "drain", "workerIds": ["w1", "w2"], "reason": "all of them"});
    let (s, v) = a
        .call(Method::POST, "/api/workers/actions", Some(body.clone()))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "safety_check");
    assert_eq!(v["impact"]["availableAfter"], 0);
    assert_eq!(v["impact"]["affectedWorkers"], json!(["w1", "w2"]));
    assert_eq!(v["confirmPhrase"], "drain 2 workers");
    assert_eq!(a.desired().await, before, "nothing changed");
    // The refusal is audited: who tried what, on which workers, and why not.
    let newest = |page: serde_json::Value| page["events"][0].clone();
    let refused = newest(
        a.ok(Method::GET, "/api/system/worker-pause/events?limit=1", None)
            .await,
    );
    assert_eq!(refused["action"], "worker.drain");
    assert_eq!(refused["success"], false);
    assert_eq!(refused["actor"], "local");
    assert_eq!(refused["reason"], "all of them");
    assert_eq!(refused["targets"], json!(["w1", "w2"]));
    assert_eq!(refused["details"]["refused"], "safety_check");
    assert_eq!(refused["details"]["availableAfter"], 0);
    let mut wrong = body.clone();
    wrong["confirm"] = json!("yes please");
    assert_eq!(
        a.call(Method::POST, "/api/workers/actions", Some(wrong))
            .await
            .0,
        StatusCode::CONFLICT
    );
    let again = newest(
        a.ok(Method::GET, "/api/system/worker-pause/events?limit=1", None)
            .await,
    );
    assert_eq!(again["success"], false);
    assert!(again["id"].as_i64() > refused["id"].as_i64(), "{again}");
    let mut confirmed = body;
    confirmed["confirm"] = v["confirmPhrase"].clone();
    let r = a
        .ok(Method::POST, "/api/workers/actions", Some(confirmed))
        .await;
    assert_eq!(r["overrideUsed"], true);
    assert_eq!(r["event"]["details"]["overrideUsed"], true);
    assert_eq!(r["event"]["success"], true);
    assert!(a.desired().await.iter().all(|(_, d)| d == "draining"));
}

async fn unknown_workers_are_404_and_nothing_is_applied(db: TestDb) {
    let a = api(db).await;
    a.register("w1", "b").await;
    a.register("w2", "b").await;
    let (s, v) = a
        .call(
            Method::POST,
            "/api/workers/actions",
            Some(
                json!({"action": "pause", "workerIds": ["w1", "ghost", "phantom"], "reason": "x"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["field"], "workerIds");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("ghost") && msg.contains("phantom"), "{msg}");
    assert!(
        a.desired().await.iter().all(|(_, d)| d == "active"),
        "w1 untouched"
    );
    let (s, v) = a
        .call(
            Method::POST,
            "/api/workers/actions",
            Some(json!({"action": "nap", "workerIds": ["w1"], "reason": "x"})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("action"))
    );
    assert!(a
        .ok(Method::GET, "/api/system/worker-pause/events", None)
        .await["events"]
        .as_array()
        .unwrap()
        .is_empty());
}

/// A rolling restart over simulated workers: at most maxUnavailable drain
/// at once, each counts as restarted on a new boot id, state is stored.
async fn rolling_restart_drains_at_most_max_unavailable(db: TestDb) {
    let a = api(db).await;
    let ids = ["w0", "w1", "w2", "w3", "w4"];
    let mut boots: std::collections::HashMap<&str, u32> = ids.iter().map(|i| (*i, 0)).collect();
    for id in ids {
        a.register(id, "boot-0").await;
    }
    let (s, r) = a
        .call(
            Method::POST,
            "/api/workers/rolling-restarts",
            Some(json!({"all": true, "maxUnavailable": 2, "reason": "deploy v2"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    assert_eq!(r["status"], "running");
    let (s, _) = a
        .call(
            Method::POST,
            "/api/workers/rolling-restarts",
            Some(json!({"all": true, "maxUnavailable": 1, "reason": "again"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "only one at a time");
    for round in 0..20 {
        let r = a
            .ok(
                Method::GET,
                &format!("/api/workers/rolling-restarts/{id}"),
                None,
            )
            .await;
        let workers = r["workers"].as_array().unwrap();
        let busy: Vec<String> = workers
            .iter()
            .filter(|w| w["state"] == "draining" || w["state"] == "restarting")
            .map(|w| w["workerId"].as_str().unwrap().to_string())
            .collect();
        assert!(busy.len() <= 2, "round {round}: {busy:?}");
        if r["status"] == "done" {
            assert!(workers
                .iter()
                .all(|w| w["state"] == "done" && w["bootIdAfter"] != w["bootIdBefore"]));
            // The state is stored: a fresh service (a restarted server) sees it.
            let again = Service::new(a.db.store.clone(), ServiceConfig::default())
                .await
                .unwrap();
            let stored = again
                .get_rolling_restart(id.parse().unwrap())
                .await
                .unwrap();
            assert_eq!(stored.status, wire::RolloutStatus::Done);
            let events = a
                .ok(Method::GET, "/api/system/worker-pause/events?limit=5", None)
                .await;
            let actions: Vec<&str> = events["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["action"].as_str().unwrap())
                .collect();
            assert_eq!(actions, ["rolling_restart.done", "rolling_restart.start"]);
            return;
        }
        // Draining workers exit and come back with a new boot.
        for w in &busy {
            let w = w.as_str();
            let n = boots.get_mut(w).unwrap();
            a.beat(w, &format!("boot-{n}"), "stopped").await;
            *n += 1;
            a.register(w, &format!("boot-{n}")).await;
        }
        a.svc.advance_rollouts().await.unwrap();
    }
    panic!("the rolling restart did not finish");
}

async fn rolling_restart_validation_and_cancel(db: TestDb) {
    let a = api(db).await;
    for id in ["w0", "w1", "w2"] {
        a.register(id, "b").await;
    }
    for (body, field) in [
        (json!({"maxUnavailable": 1, "reason": "x"}), "workerIds"),
        (json!({"all": true, "reason": "x"}), "maxUnavailable"),
        (
            json!({"all": true, "maxUnavailable": 0, "reason": "x"}),
            "maxUnavailable",
        ),
        (json!({"all": true, "maxUnavailable": 1}), "reason"),
        (
            json!({"all": true, "workerIds": ["w0"], "maxUnavailable": 1, "reason": "x"}),
            "all",
        ),
    ] {
        let (s, v) = a
            .call(
                Method::POST,
                "/api/workers/rolling-restarts",
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (s, v["error"]["field"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!(field)),
            "{body}"
        );
    }
    let (s, _) = a
        .call(
            Method::POST,
            "/api/workers/rolling-restarts",
            Some(json!({"workerIds": ["w0", "ghost"], "maxUnavailable": 1, "reason": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // maxUnavailable = everyone would leave nobody: the safety rule.
    let (s, v) = a
        .call(
            Method::POST,
            "/api/workers/rolling-restarts",
            Some(json!({"all": true, "maxUnavailable": 3, "reason": "x"})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("safety_check"))
    );
    let events = a
        .ok(Method::GET, "/api/system/worker-pause/events?limit=1", None)
        .await;
    let refused = &events["events"][0];
    assert_eq!(
        (refused["action"].clone(), refused["success"].clone()),
        (json!("rolling_restart.start"), json!(false)),
        "{refused}"
    );
    assert_eq!(refused["details"]["refused"], "safety_check");
    assert!(a.list_rollouts_empty().await, "nothing was started");
    let r = a
        .ok(
            Method::POST,
            "/api/workers/rolling-restarts",
            Some(json!({"workerIds": ["w0", "w1"], "maxUnavailable": 1, "reason": "x"})),
        )
        .await;
    let id = r["id"].as_str().unwrap();
    let c = a
        .ok(
            Method::POST,
            &format!("/api/workers/rolling-restarts/{id}/cancel"),
            None,
        )
        .await;
    assert_eq!(c["status"], "cancelled");
    let (s, _) = a
        .call(
            Method::POST,
            &format!("/api/workers/rolling-restarts/{id}/cancel"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    a.svc.advance_rollouts().await.unwrap();
    let draining = a
        .desired()
        .await
        .into_iter()
        .filter(|(_, d)| d == "draining")
        .count();
    assert_eq!(
        draining, 1,
        "only the first worker was drained before the cancel"
    );
    let (s, _) = a
        .call(
            Method::GET,
            &format!("/api/workers/rolling-restarts/{}", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// Paused workers are left out of `all` and refused by name; a waiting
/// claim of a worker being paused is answered at once.
async fn rolling_restarts_leave_paused_workers_alone(db: TestDb) {
    let a = Arc::new(api(db).await);
    for id in ["w0", "w1", "w2"] {
        a.register(id, "b").await;
    }
    a.ok(
        Method::POST,
        "/api/workers/actions",
        Some(json!({"action": "pause", "workerIds": ["w2"], "reason": "debug"})),
    )
    .await;
    let (s, v) = a
        .call(
            Method::POST,
            "/api/workers/rolling-restarts",
            Some(json!({"workerIds": ["w1", "w2"], "maxUnavailable": 1, "reason": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("w2 (paused)"));
    let r = a
        .ok(
            Method::POST,
            "/api/workers/rolling-restarts",
            Some(json!({"all": true, "maxUnavailable": 1, "reason": "x"})),
        )
        .await;
    let targets: Vec<&str> = r["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["workerId"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["w0", "w1"]);
    let id = r["id"].as_str().unwrap();
    let c = a
        .ok(
            Method::POST,
            &format!("/api/workers/rolling-restarts/{id}/cancel"),
            Some(json!({"reason": "wrong build"})),
        )
        .await;
    assert_eq!(c["status"], "cancelled");
    let ev = a
        .ok(Method::GET, "/api/system/worker-pause/events?limit=1", None)
        .await;
    assert_eq!(
        (
            ev["events"][0]["action"].clone(),
            ev["events"][0]["reason"].clone()
        ),
        (json!("rolling_restart.cancel"), json!("wrong build"))
    );

    // w1 waits for a job; pausing it answers the wait at once. (w0 is
    // draining since the cancelled rollout, so w1 is the last available
    // worker: the pause needs the typed confirmation.)
    let empty_before = common::empty_claims(&a.svc);
    let waiter = {
        let a = a.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let v = a
                .ok(
                    Method::POST,
                    "/api/queue/jobs/claim",
                    Some(json!({"workerId": "w1", "waitMs": 20000})),
                )
                .await;
            (v, started.elapsed())
        })
    };
    // Its first attempt found nothing: it is registered for wake-ups.
    common::wait_for(
        "the claimer to wait",
        std::time::Duration::from_secs(5),
        || common::empty_claims(&a.svc) > empty_before,
    )
    .await;
    a.ok(
        Method::POST,
        "/api/workers/actions",
        Some(json!({"action": "pause", "workerIds": ["w1"], "reason": "x", "confirm": "pause 1 worker"})),
    )
    .await;
    let (v, waited) = tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v["job"], Value::Null);
    assert!(waited < std::time::Duration::from_secs(3), "{waited:?}");
}

on_both_stores!(
    rolling_restarts_leave_paused_workers_alone,
    per_worker_actions_change_directives_and_are_audited,
    the_safety_rule_refuses_then_accepts_the_typed_phrase,
    unknown_workers_are_404_and_nothing_is_applied,
    rolling_restart_drains_at_most_max_unavailable,
    rolling_restart_validation_and_cancel,
);
