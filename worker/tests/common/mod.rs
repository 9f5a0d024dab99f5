//! Process-test harness: a real `lull serve` (built by `cargo build -p
//! server`, found beside the `lull-worker` binary) on a fresh database
//! ([`testkit::TestDb`]: SQLite in a temp dir, or a throwaway PostgreSQL
//! database from `LULL_TEST_POSTGRES_URL`, SKIPPED without it except under
//! `CI=true`), real `lull-worker` processes logging JSON, and polling
//! helpers with deadlines (no fixed sleeps to wait for things).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report
#![allow(dead_code)] // each test binary uses a different part

pub mod procs;
pub mod proxy;
pub mod supervisor;

use std::time::Duration;

use client::{ApiError, Client};
use serde_json::Value;
use uuid::Uuid;
use wire::{
    EnqueueRequest, Job, JobStatus, PauseMode, PauseRequest, WorkerActionKind, WorkerActionRequest,
    WorkerActionResponse, WorkerInfo,
};

#[allow(unused_imports)] // not every test binary starts workers
pub use procs::{lull_cli, Server, WorkerProc};
#[allow(unused_imports)] // only the fleet tests supervise workers
pub use supervisor::Supervisor;

/// A fresh database for one test (`dir` is scratch space: spools).
pub use testkit::{eventually, TestDb as Db};

/// The tests' view of one server: the typed client, and the few steps the
/// tests repeat, each panicking with the server's answer when it fails.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub client: Client,
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api {
            base: base.to_string(),
            client: Client::builder(base)
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
        }
    }

    /// [`Api::new`] sending `token` (a server in token mode).
    pub fn with_token(base: &str, token: &str) -> Api {
        Api {
            base: base.to_string(),
            client: Client::builder(base)
                .token(token)
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
        }
    }

    pub async fn enqueue(&self, job_type: &str, payload: Value) -> Uuid {
        let req = EnqueueRequest {
            job_type: Some(job_type.into()),
            payload: Some(payload),
            ..Default::default()
        };
        let job = self.client.enqueue(&req).await.unwrap();
        assert_eq!(job.status, JobStatus::Queued);
        job.id
    }

    pub async fn job(&self, id: Uuid) -> Job {
        self.client
            .job(id)
            .await
            .unwrap_or_else(|e| panic!("job {id}: {e}"))
    }

    /// Waits until the job's status is `status`; returns the job.
    pub async fn wait_status(&self, id: Uuid, status: JobStatus, timeout: Duration) -> Job {
        let what = format!("job {id} to be {}", status.as_str());
        eventually(&what, timeout, || async {
            let j = self.job(id).await;
            (j.status == status).then_some(j)
        })
        .await
    }

    /// Pauses the fleet; returns the new version.
    pub async fn pause(&self, mode: PauseMode, reason: &str) -> i64 {
        let req = PauseRequest::pause(mode, reason);
        self.client.change_pause(&req).await.unwrap().version
    }

    /// Resumes the fleet (forced); returns the new version.
    pub async fn resume(&self, reason: &str) -> i64 {
        let req = PauseRequest::resume(reason, true);
        self.client.change_pause(&req).await.unwrap().version
    }

    /// `POST /api/workers/actions`: the answer, or the API's refusal.
    pub async fn worker_action(
        &self,
        action: WorkerActionKind,
        worker_ids: &[&str],
        reason: &str,
        confirm: Option<&str>,
    ) -> Result<WorkerActionResponse, ApiError> {
        let req = WorkerActionRequest {
            action: Some(action.as_str().into()),
            worker_ids: Some(worker_ids.iter().map(|w| w.to_string()).collect()),
            reason: Some(reason.into()),
            confirm: confirm.map(str::to_string),
            dry_run: None,
        };
        self.client.worker_action(&req).await.map_err(|e| match e {
            client::Error::Api(api) => api,
            other => panic!("worker action: {other}"),
        })
    }

    /// A worker action the test means to go through: when the safety rule
    /// refuses it (test fleets are small), it is sent again with the phrase
    /// the refusal names, as an operator would type it. Returns the answer.
    pub async fn worker_action_confirmed(
        &self,
        action: WorkerActionKind,
        worker_ids: &[&str],
        reason: &str,
    ) -> WorkerActionResponse {
        match self.worker_action(action, worker_ids, reason, None).await {
            Ok(r) => r,
            Err(ApiError::SafetyRefused {
                confirm_phrase: Some(phrase),
                ..
            }) => self
                .worker_action(action, worker_ids, reason, Some(&phrase))
                .await
                .unwrap_or_else(|e| panic!("{action:?} {worker_ids:?}: {e}")),
            Err(e) => panic!("{action:?} {worker_ids:?}: {e}"),
        }
    }

    /// `GET /api/workers`: the fleet.
    pub async fn workers(&self) -> Vec<WorkerInfo> {
        self.client.list_workers().await.unwrap().workers
    }

    /// One worker of `GET /api/workers`.
    pub async fn worker(&self, id: &str) -> WorkerInfo {
        self.workers()
            .await
            .into_iter()
            .find(|w| w.id == id)
            .unwrap_or_else(|| panic!("worker {id} is not registered"))
    }
}
