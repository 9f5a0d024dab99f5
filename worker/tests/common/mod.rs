//! Process-test harness: a real `lull serve` (built by `cargo build -p
//! server`, found beside the `lull-worker` binary) on a fresh database
//! ([`testkit::TestDb`]: SQLite in a temp dir, or a throwaway PostgreSQL
//! database from `LULL_TEST_POSTGRES_URL`, SKIPPED without it except under
//! `CI=true`), real `lull-worker` processes logging JSON, and polling
//! helpers with deadlines (no fixed sleeps to wait for things).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report
#![allow(dead_code)] // each test binary uses a different part

pub mod procs;
pub mod supervisor;

use std::time::Duration;

use serde_json::{json, Value};
use uuid::Uuid;

#[allow(unused_imports)] // not every test binary starts workers
pub use procs::{Server, WorkerProc};
#[allow(unused_imports)] // only the fleet tests supervise workers
pub use supervisor::Supervisor;

/// A fresh database for one test (`dir` is scratch space: spools).
pub use testkit::{eventually, TestDb as Db};

/// A small JSON client for one server.
#[derive(Clone)]
pub struct Http {
    pub base: String,
    client: reqwest::Client,
}

impl Http {
    pub fn new(base: &str) -> Http {
        Http {
            base: base.to_string(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> Value {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    pub async fn enqueue(&self, job_type: &str, payload: Value) -> Uuid {
        let (s, job) = self
            .post(
                "/api/queue/jobs",
                json!({"type": job_type, "payload": payload}),
            )
            .await;
        assert_eq!(s, 201, "{job}");
        job["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn job(&self, id: Uuid) -> Value {
        self.get(&format!("/api/queue/jobs/{id}")).await
    }

    /// Waits until the job's status is `status`; returns the job.
    pub async fn wait_status(&self, id: Uuid, status: &str, timeout: Duration) -> Value {
        eventually(&format!("job {id} to be {status}"), timeout, || async {
            let j = self.job(id).await;
            (j["status"] == status).then_some(j)
        })
        .await
    }

    /// Pauses the fleet; returns the new version.
    pub async fn pause(&self, mode: &str, reason: &str) -> i64 {
        let (s, v) = self
            .post(
                "/api/system/worker-pause",
                json!({"action": "pause", "mode": mode, "reason": reason}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v["version"].as_i64().unwrap()
    }

    /// `POST /api/workers/actions`: (status, body).
    pub async fn worker_action(
        &self,
        action: &str,
        worker_ids: &[&str],
        reason: &str,
        confirm: Option<&str>,
    ) -> (u16, Value) {
        let mut body = json!({"action": action, "workerIds": worker_ids, "reason": reason});
        if let Some(c) = confirm {
            body["confirm"] = json!(c);
        }
        self.post("/api/workers/actions", body).await
    }

    /// A worker action the test means to go through: when the safety rule
    /// refuses it (test fleets are small), it is sent again with the phrase
    /// the refusal names, as an operator would type it. Returns the answer.
    pub async fn worker_action_confirmed(
        &self,
        action: &str,
        worker_ids: &[&str],
        reason: &str,
    ) -> Value {
        let (mut s, mut v) = self.worker_action(action, worker_ids, reason, None).await;
        if s == 409 && v["error"]["code"] == "safety_check" {
            let phrase = v["confirmPhrase"].as_str().unwrap().to_string();
            (s, v) = self
                .worker_action(action, worker_ids, reason, Some(&phrase))
                .await;
        }
        assert_eq!(s, 200, "{action} {worker_ids:?}: {v}");
        v
    }

    /// `GET /api/workers`: the fleet.
    pub async fn workers(&self) -> Vec<Value> {
        self.get("/api/workers").await["workers"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// One worker of `GET /api/workers`.
    pub async fn worker(&self, id: &str) -> Value {
        self.workers()
            .await
            .into_iter()
            .find(|w| w["id"] == id)
            .unwrap_or_else(|| panic!("worker {id} is not registered"))
    }

    pub async fn resume(&self, reason: &str) -> i64 {
        let (s, v) = self
            .post(
                "/api/system/worker-pause",
                json!({"action": "resume", "reason": reason, "forceResume": true}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v["version"].as_i64().unwrap()
    }
}
