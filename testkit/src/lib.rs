//! What the tests of the client, the worker runtime and the benchmarks
//! share: a fresh database per test, and waiting for a condition with a
//! deadline instead of sleeping.
//!
//! A [`TestDb`] is a temp SQLite file (the server creates it) or a
//! throwaway PostgreSQL database created from `LULL_TEST_POSTGRES_URL` and
//! dropped with the value. Without that variable the PostgreSQL variants
//! print SKIPPED and pass — except under `CI=true`, where they fail: CI must
//! run both stores.
//!
//! [`modules`] reads a crate's module graph, for tests that keep it a DAG.
//!
//! Everything here panics on failure: it only runs inside tests, where a
//! panic is the failure report.

pub mod modules;

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use uuid::Uuid;

/// The variable naming the PostgreSQL server tests may create databases on.
pub const POSTGRES_URL_VAR: &str = "LULL_TEST_POSTGRES_URL";

/// A temp directory removed on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!("lull-test-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&p).expect("create a temp dir");
        TempDir(p)
    }
}

impl Default for TempDir {
    fn default() -> Self {
        TempDir::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The admin URL of the test PostgreSQL, or `None` (SKIPPED) when it is not
/// set — a panic under `CI=true`, where both stores are mandatory.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "CI=true but {POSTGRES_URL_VAR} is not set: the PostgreSQL variants are mandatory in CI"
            );
            eprintln!("SKIPPED: {POSTGRES_URL_VAR} is not set; PostgreSQL variant not run");
            None
        }
    }
}

/// A fresh database for one test, removed on drop; `dir` is scratch space
/// for the test (spools, files).
#[derive(Debug)]
pub struct TestDb {
    /// What the server is given as `--database-url`.
    pub url: String,
    pub dir: TempDir,
    /// PostgreSQL: (admin URL, database name), to drop it with.
    drop_pg: Option<(String, String)>,
}

impl TestDb {
    /// A SQLite file in a fresh temp directory (the server creates it).
    pub fn sqlite() -> TestDb {
        let dir = TempDir::new();
        TestDb {
            url: format!("sqlite://{}/lull.db", dir.0.display()),
            dir,
            drop_pg: None,
        }
    }

    /// A new, empty PostgreSQL database, or `None` (see
    /// [`postgres_admin_url`]).
    pub async fn postgres() -> Option<TestDb> {
        let admin = postgres_admin_url()?;
        Some(
            TestDb::postgres_on(&admin)
                .await
                .unwrap_or_else(|e| panic!("a test database through {POSTGRES_URL_VAR}: {e}")),
        )
    }

    /// A new, empty database on the PostgreSQL server that the admin URL
    /// `admin` (…/postgres) reaches; dropped with the value.
    pub async fn postgres_on(admin: &str) -> Result<TestDb, sqlx::Error> {
        use sqlx::Connection;
        let name = format!("lull_test_{}", Uuid::new_v4().simple());
        let mut c = sqlx::PgConnection::connect(admin).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut c)
            .await?;
        let base = admin.rsplit_once('/').map_or(admin, |x| x.0);
        Ok(TestDb {
            url: format!("{base}/{name}"),
            dir: TempDir::new(),
            drop_pg: Some((admin.to_string(), name)),
        })
    }

    /// The PostgreSQL database's name (`None` for SQLite).
    pub fn postgres_name(&self) -> Option<&str> {
        self.drop_pg.as_ref().map(|(_, n)| n.as_str())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.drop_pg.take() else {
            return;
        };
        // Drop is sync, and may run inside a runtime: use a thread with its
        // own. FORCE: a server of the test may still hold connections.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
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

/// Runs each listed `async fn(TestDb)` on SQLite and on PostgreSQL, as
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::TestDb::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = $crate::TestDb::postgres().await {
                        super::$name(db).await;
                    }
                }
            )*
        }
    };
}

/// Polls `f` every 50 ms until it gives `Some`, or panics naming `what`
/// once `timeout` has passed.
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
