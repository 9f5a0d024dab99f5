//! Process-test harness: a real `lull serve` (built by `cargo build -p
//! server`, found beside the `lull-worker` binary) on a fresh database —
//! SQLite in a temp dir, or a throwaway PostgreSQL database from
//! `LULL_TEST_POSTGRES_URL` (SKIPPED without it, except under `CI=true`) —
//! real `lull-worker` processes logging JSON, and polling helpers with
//! deadlines (no fixed sleeps to wait for things).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report
#![allow(dead_code)] // each test binary uses a different part

pub mod procs;
pub mod supervisor;

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use uuid::Uuid;

#[allow(unused_imports)] // not every test binary starts workers
pub use procs::{Server, WorkerProc};
#[allow(unused_imports)] // only the fleet tests supervise workers
pub use supervisor::Supervisor;

/// A temp directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!("lull-wtest-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh database for one test, removed on drop; `dir` is scratch space
/// (spools) for the test.
pub struct Db {
    pub url: String,
    pub dir: TempDir,
    drop_pg: Option<(String, String)>,
}

impl Db {
    pub fn sqlite() -> Db {
        let dir = TempDir::new();
        Db {
            url: format!("sqlite://{}/lull.db", dir.0.display()),
            dir,
            drop_pg: None,
        }
    }

    /// `None` (SKIPPED) without `LULL_TEST_POSTGRES_URL`; a panic under CI.
    pub async fn postgres() -> Option<Db> {
        use sqlx::Connection;
        let admin = match std::env::var("LULL_TEST_POSTGRES_URL") {
            Ok(u) if !u.is_empty() => u,
            _ => {
                assert_ne!(
                    std::env::var("CI").as_deref(),
                    Ok("true"),
                    "CI=true but LULL_TEST_POSTGRES_URL is not set: the PostgreSQL variants are mandatory in CI"
                );
                eprintln!("SKIPPED: LULL_TEST_POSTGRES_URL is not set; PostgreSQL variant not run");
                return None;
            }
        };
        let name = format!("lull_wtest_{}", Uuid::new_v4().simple());
        let mut c = sqlx::PgConnection::connect(&admin)
            .await
            .expect("connect to LULL_TEST_POSTGRES_URL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut c)
            .await
            .expect("create test database");
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |x| x.0);
        Some(Db {
            url: format!("{base}/{name}"),
            dir: TempDir::new(),
            drop_pg: Some((admin.clone(), name)),
        })
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let Some((admin, name)) = self.drop_pg.take() else {
            return;
        };
        // Drop is sync: use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                use sqlx::Connection;
                if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut c)
                    .await;
                }
            });
        })
        .join();
    }
}

/// Runs each listed `async fn(Db)` on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Db::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = $crate::common::Db::postgres().await {
                        super::$name(db).await;
                    }
                }
            )*
        }
    };
}

/// Polls `f` every 50 ms until it gives `Some`, or panics naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

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
