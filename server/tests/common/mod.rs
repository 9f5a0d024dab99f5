//! Test harness: a fresh store per test, on SQLite (a temp file, so WAL and
//! the reader/writer pools are exercised) and on PostgreSQL (a throwaway
//! database created from `LULL_TEST_POSTGRES_URL`, dropped afterwards) —
//! the databases themselves come from [`testkit`], as for every other
//! crate's tests.
//!
//! Without `LULL_TEST_POSTGRES_URL` the PostgreSQL variants print SKIPPED and
//! pass — except under `CI=true`, where they fail: CI must run both.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report
#![allow(dead_code)]

pub mod api;
pub mod process;
pub mod served;
pub mod store;
pub mod token_api;

use std::sync::Arc;

use server::storage::{self, Store};

/// The real router over `svc`, as `lull serve` builds it, with no
/// dashboard files (the tests speak to the API).
pub fn router(svc: Arc<server::service::Service>) -> axum::Router {
    server::http::router(
        svc,
        &server::http::HttpOptions {
            static_dir: Some("/nonexistent".into()),
            ..Default::default()
        },
    )
}

/// Waits until `cond` holds, checking every few tens of milliseconds;
/// fails the test with `what` after `timeout`. For conditions no event
/// announces (a counter, another process's state); where a watch channel
/// exists, wait on it instead.
pub async fn wait_for(what: &str, timeout: std::time::Duration, mut cond: impl FnMut() -> bool) {
    testkit::eventually(what, timeout, || std::future::ready(cond().then_some(()))).await
}

/// Claims that came back empty on `svc` so far: a long-polling claimer
/// has made its first attempt (and registered for wake-ups) once this
/// grows.
pub fn empty_claims(svc: &server::service::Service) -> u64 {
    svc.metrics().empty_claims()
}

/// A fresh store for one test: the database comes from [`testkit`] (a
/// temp SQLite file, or a throwaway PostgreSQL database dropped with it).
pub struct TestDb {
    pub url: String,
    pub store: Arc<dyn Store>,
    /// `None` for a store [`TestDb::beside`] another: that one owns it.
    _db: Option<testkit::TestDb>,
}

impl TestDb {
    async fn open(db: testkit::TestDb) -> TestDb {
        TestDb::open_with(db, &storage::StoreOptions::default()).await
    }

    async fn open_with(db: testkit::TestDb, opts: &storage::StoreOptions) -> TestDb {
        let store = storage::connect_with(&db.url, opts)
            .await
            .expect("open the test store");
        TestDb {
            url: db.url.clone(),
            store,
            _db: Some(db),
        }
    }

    /// Another store on the same database, as another server process
    /// would open it. Drop it before `self`, which owns the database.
    pub async fn beside(&self) -> TestDb {
        TestDb {
            url: self.url.clone(),
            store: storage::connect(&self.url)
                .await
                .expect("open the store again"),
            _db: None,
        }
    }
}

/// SQLite as the server opens it: concurrent writes share commits.
pub async fn sqlite() -> TestDb {
    TestDb::open(empty_sqlite()).await
}

/// SQLite with a commit per write (`--sqlite-commit each`).
pub async fn sqlite_each() -> TestDb {
    let opts = storage::StoreOptions {
        sqlite_commit: storage::sqlite::CommitMode::Each,
        ..Default::default()
    };
    TestDb::open_with(empty_sqlite(), &opts).await
}

pub async fn postgres() -> Option<TestDb> {
    Some(TestDb::open(empty_postgres().await?).await)
}

/// A database with no store opened yet (for process-level tests).
pub type EmptyDb = testkit::TestDb;

pub fn empty_sqlite() -> EmptyDb {
    testkit::TestDb::sqlite()
}

/// `None` (SKIPPED) without `LULL_TEST_POSTGRES_URL`, except under `CI=true`.
pub async fn empty_postgres() -> Option<EmptyDb> {
    testkit::TestDb::postgres().await
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

/// The storage conformance suites: each test on both stores, and on SQLite
/// a second time with a commit per write (`--sqlite-commit each`), so both
/// of SQLite's commit paths keep every rule.
#[macro_export]
macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        $crate::on_both_stores!($($name),*);
        mod sqlite_each {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::common::sqlite_each().await;
                    super::$name(db).await;
                }
            )*
        }
    };
}
