//! Smoke versions of the fault scenarios (real `lull` processes, a few
//! seconds each). The full versions, and the PostgreSQL restart (which
//! would disturb anything else using the cluster), run with `lull-bench`.
//!
//! The PostgreSQL scenarios print SKIPPED and pass without
//! `LULL_TEST_POSTGRES_URL`, except under `CI=true`, where they fail.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::path::PathBuf;
use std::sync::OnceLock;

use bench::db::Backend;
use bench::faults::{self, FaultEnv, Size};

/// The debug `lull` binary, built once for all tests (cargo makes this a
/// no-op when it is current).
fn lull() -> PathBuf {
    static LULL: OnceLock<PathBuf> = OnceLock::new();
    LULL.get_or_init(|| bench::proc::build_lull(false).expect("build lull"))
        .clone()
}

fn env(pg: Option<String>) -> FaultEnv {
    FaultEnv {
        lull: lull(),
        pg_admin: pg,
        size: Size::Smoke,
    }
}

/// The PostgreSQL admin URL, or `None` (SKIPPED) outside CI.
fn postgres() -> Option<String> {
    testkit::postgres_admin_url()
}

fn report(name: &str, out: anyhow::Result<String>) {
    match out {
        Ok(summary) => eprintln!("{name}: {summary}"),
        Err(e) => panic!("{name}: {e:#}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_server_killed_mid_write_loses_no_acknowledged_write() {
    let env = env(None);
    report(
        "sqlite kill -9 mid-write",
        faults::sqlite_killed_mid_write(&env).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_server_killed_during_pause_cycles_keeps_state_and_audit() {
    let env = env(None);
    report(
        "sqlite kill -9 during pause cycles",
        faults::killed_during_pause_cycles(&env, Backend::Sqlite).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_server_killed_during_pause_cycles_keeps_state_and_audit() {
    let Some(pg) = postgres() else { return };
    let env = env(Some(pg));
    report(
        "postgres kill -9 during pause cycles",
        faults::killed_during_pause_cycles(&env, Backend::Postgres).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_killed_repeatedly_lose_nothing_acknowledged() {
    let Some(pg) = postgres() else { return };
    let env = env(Some(pg));
    report(
        "postgres connections killed",
        faults::connections_killed(&env).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_one_of_two_servers_killed_mid_load() {
    let Some(pg) = postgres() else { return };
    let env = env(Some(pg));
    report(
        "postgres one of two killed",
        faults::one_of_two_killed(&env).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_listen_killed_while_pausing_other_server_still_refuses_claims() {
    let Some(pg) = postgres() else { return };
    let env = env(Some(pg));
    report(
        "postgres LISTEN killed during pause",
        faults::listen_killed_during_pause(&env).await,
    );
}
