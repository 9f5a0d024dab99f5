//! `--database-session-url`: with the pool behind a transaction-mode pooler,
//! LISTEN and the migrations (which need a session of their own) go to the
//! session URL, and only there. PostgreSQL only; SKIPPED without
//! `LULL_TEST_POSTGRES_URL` except under `CI=true`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::Duration;

use server::storage::{self, StoreOptions};
use sqlx::Connection;

fn with_params(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

/// The pool's URL in this test: every transaction read-only, so nothing
/// that writes (the migrations of this empty database) can have used it.
fn read_only_pool(url: &str) -> String {
    with_params(
        url,
        "application_name=lull-pool&options=-c%20default_transaction_read_only%3Don",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_and_migrations_use_the_session_url() {
    let Some(db) = common::empty_postgres().await else {
        return;
    };
    // The premise: migrations through the read-only pool fail.
    let alone = storage::connect(&read_only_pool(&db.url)).await;
    assert!(alone.is_err(), "the read-only pool cannot migrate");

    let opts = StoreOptions {
        pg_session_url: Some(with_params(&db.url, "application_name=lull-session")),
        ..Default::default()
    };
    let store = storage::connect_with(&read_only_pool(&db.url), &opts)
        .await
        .expect("the migrations ran on the session URL");
    store.ping().await.unwrap();
    let _notices = store.listen().await.unwrap().expect("PostgreSQL listens");

    let mut admin = sqlx::PgConnection::connect(&db.url).await.unwrap();
    // LISTEN is issued by a background task: wait for it.
    let mut listeners: Vec<String> = Vec::new();
    for _ in 0..100 {
        listeners = sqlx::query_scalar(
            "SELECT application_name FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .fetch_all(&mut admin)
        .await
        .unwrap();
        if !listeners.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        listeners,
        ["lull-session"],
        "LISTEN runs on the session URL"
    );
    let pool_apps: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT application_name FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name LIKE 'lull-%'",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(
        pool_apps.contains(&"lull-pool".to_string()),
        "{pool_apps:?}"
    );
    admin.close().await.unwrap();
}
