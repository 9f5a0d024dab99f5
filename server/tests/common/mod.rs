//! Test harness: a fresh store per test, on SQLite (a temp file, so WAL and
//! the reader/writer pools are exercised) and on PostgreSQL (a throwaway
//! database created from `LULL_TEST_POSTGRES_URL`, dropped afterwards).
//!
//! Without `LULL_TEST_POSTGRES_URL` the PostgreSQL variants print SKIPPED and
//! pass — except under `CI=true`, where they fail: CI must run both.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report
#![allow(dead_code)]

pub mod api;
pub mod process;
pub mod store;

use std::sync::Arc;

use server::storage::{self, Store};

/// Waits until `cond` holds, checking every few milliseconds; fails the
/// test with `what` after `timeout`. For conditions no event announces (a
/// counter, another process's state); where a watch channel exists, wait
/// on it instead.
pub async fn wait_for(what: &str, timeout: std::time::Duration, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Claims that came back empty on `svc` so far: a long-polling claimer
/// has made its first attempt (and registered for wake-ups) once this
/// grows.
pub fn empty_claims(svc: &server::service::Service) -> u64 {
    svc.metrics()
        .claims_empty
        .load(std::sync::atomic::Ordering::SeqCst)
}

pub struct TestDb {
    pub url: String,
    pub store: Arc<dyn Store>,
    _guard: DbGuard,
}

/// Removes the test database (PostgreSQL) or directory (SQLite) on drop.
pub struct DbGuard {
    drop_db: Option<(String, String)>,
    _dir: Option<TempDir>,
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.drop_db.take() {
            // Drop on a separate thread with its own runtime: Drop is sync.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
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
}

/// A temp directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!("lull-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn sqlite() -> TestDb {
    let db = empty_sqlite();
    let store = storage::connect(&db.url).await.expect("sqlite store");
    TestDb {
        url: db.url,
        store,
        _guard: db.guard,
    }
}

/// The admin URL of the test PostgreSQL, or `None` (SKIPPED) outside CI.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("LULL_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true but LULL_TEST_POSTGRES_URL is not set: the PostgreSQL suite is mandatory in CI");
            }
            eprintln!("SKIPPED: LULL_TEST_POSTGRES_URL is not set; PostgreSQL variant not run");
            None
        }
    }
}

/// A fresh, empty PostgreSQL database URL (dropped with the returned guard).
pub async fn postgres_database() -> Option<(String, String, String)> {
    use sqlx::Connection;
    let admin = postgres_admin_url()?;
    let name = format!("lull_test_{}", uuid::Uuid::new_v4().simple());
    let mut c = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to LULL_TEST_POSTGRES_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut c)
        .await
        .expect("create test database");
    let base = admin
        .rsplit_once('/')
        .map(|x| x.0)
        .unwrap_or(&admin)
        .to_string();
    Some((format!("{base}/{name}"), admin, name))
}

pub async fn postgres() -> Option<TestDb> {
    let db = empty_postgres().await?;
    let store = storage::connect(&db.url).await.expect("postgres store");
    Some(TestDb {
        url: db.url,
        store,
        _guard: db.guard,
    })
}

/// A database with no store opened yet (for process-level tests).
pub struct EmptyDb {
    pub url: String,
    pub guard: DbGuard,
}

pub fn empty_sqlite() -> EmptyDb {
    let dir = TempDir::new();
    EmptyDb {
        url: format!("sqlite://{}/lull.db", dir.0.display()),
        guard: DbGuard {
            drop_db: None,
            _dir: Some(dir),
        },
    }
}

pub async fn empty_postgres() -> Option<EmptyDb> {
    let (url, admin, name) = postgres_database().await?;
    Some(EmptyDb {
        url,
        guard: DbGuard {
            drop_db: Some((admin, name)),
            _dir: None,
        },
    })
}

/// Runs each listed async test function (taking a `TestDb`) on both stores.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::common::sqlite().await;
                    super::$name(db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = $crate::common::postgres().await {
                        super::$name(db).await;
                    }
                }
            )*
        }
    };
}
