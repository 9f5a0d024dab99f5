//! Storage: all SQL in the project lives under this module.
//!
//! Three layers, written so that every rule exists once:
//!
//! - **Queries** — one documented function per SQL statement, named for what
//!   it does (`lock_pause_state`, `requeue_expired_leases`, `claim_next_job`),
//!   grouped by aggregate: [`pause`], [`queue`] (its enqueue in `enqueue`),
//!   [`bulk`], [`queue_pause`], [`claims`], [`leases`], [`fleet`],
//!   [`rollouts`], [`results`], [`tokens`], [`sessions`], [`retention`].
//!   They run on any [`Exec`] (one
//!   connection, in a transaction or not). Where the two dialects need
//!   different SQL, the text comes from the dialect's [`Statements`] table;
//!   otherwise it sits next to the function, once.
//! - **Operations** — every multi-statement unit of work (the pause
//!   transition, a claim with its lease requeue, complete/fail, a worker
//!   action under the safety rule, a rolling-restart step, a result's
//!   begin, a token change), written once over a [`Driver`]'s transaction,
//!   with the races it avoids documented where it runs.
//! - **The store** — [`Storage`] implements the [`Store`] façade the service
//!   sees (one trait per aggregate) once, for any driver.
//!
//! A driver per backend ([`sqlite`], [`postgres`]) supplies connections, its
//! SQL dialect, how it binds and reads values, and its measured fast paths
//! (PostgreSQL: the one-statement claim, coalesced worker heartbeats,
//! LISTEN/NOTIFY). The backend is chosen from the URL in one place,
//! [`connect`].
//!
//! Where to add things: a new statement is a function in its aggregate's
//! file (plus a [`Statements`] field if the dialects differ); a new
//! multi-statement rule is an operation there; a new façade method goes on
//! that aggregate's trait and its `impl … for Storage<D>`.

/// The columns of a job row, in the order every job query returns them.
macro_rules! job_columns {
    () => {
        "id, type, payload, priority, status, attempts, max_attempts, worker_id, lease_token, \
         lease_expires_at, run_after, paused_at_checkpoint, result, error, created_at, \
         updated_at, started_at, finished_at, queue, unique_key"
    };
}

/// The `WHERE` condition of a [`crate::domain::JobMatch`], bound by
/// `queue::match_args`: `$1` status (as stored), `$2` whether `run_after`
/// is later than `$3` (now) — `queued` vs `scheduled` — `$4` type, `$5`
/// queue; a NULL matches all.
macro_rules! job_match {
    () => {
        "(CAST($1 AS TEXT) IS NULL OR status = $1) \
         AND (CAST($2 AS BOOLEAN) IS NULL OR (run_after > $3) = $2) \
         AND (CAST($4 AS TEXT) IS NULL OR type = $4) \
         AND (CAST($5 AS TEXT) IS NULL OR queue = $5)"
    };
}

/// The columns of the pause-state row.
macro_rules! state_columns {
    () => {
        "workers_paused, mode, reason, requested_by, requested_at, paused_at, resumed_at, \
         updated_at, version, until_at"
    };
}

/// The columns of a queue's row: its name and its pause state (named as
/// `rows::QUEUE_STATE` reads them).
macro_rules! queue_columns {
    () => {
        "name, paused, mode, reason, requested_by, requested_at, paused_at, resumed_at, \
         updated_at, version, until_at"
    };
}

/// The columns of an audit event.
macro_rules! event_columns {
    () => {
        "id, action, mode, reason, actor, force_resume, queued, running, stale_running, \
         is_drained, version, success, request_id, created_at, targets, details, queue"
    };
}

/// The columns of a worker row.
macro_rules! worker_columns {
    () => {
        "id, name, hostname, version, labels, boot_id, started_at, last_heartbeat_at, \
         reported_state, active_jobs, offline_backlog, desired_state, applied_version, applied_at"
    };
}

/// The columns of a rolling restart.
macro_rules! rollout_columns {
    () => {
        "id, status, max_unavailable, deadline_seconds, reason, actor, workers, message, \
         created_at, finished_at"
    };
}

/// The columns of a token.
macro_rules! token_columns {
    () => {
        "id, name, role, secret_hash, created_at, revoked_at"
    };
}

mod beats;
mod driver;
mod error;
mod notice;
mod rows;

pub mod bulk;
pub mod claims;
mod enqueue;
pub mod fleet;
pub mod leases;
pub mod pause;
pub mod postgres;
pub mod queue;
pub mod queue_pause;
pub mod results;
pub mod retention;
pub mod rollouts;
pub mod sessions;
pub mod sqlite;
pub mod tokens;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use async_trait::async_trait;

pub use bulk::{BulkRetried, BulkStore};
pub use claims::{ClaimOutcome, ClaimParams, ClaimStore, ClaimedMany};
pub use driver::{Arg, Driver, Exec, RowReader, Statements};
pub use error::{StoreError, StoreResult};
pub use fleet::{FleetStore, WorkerActionOutcome};
pub use leases::{Fence, LeaseStore};
pub use notice::Notice;
pub use pause::{PauseStore, TransitionOutcome};
pub use queue::QueueStore;
pub use queue_pause::{QueuePauseStore, QueueSummary};
pub use results::{ResultBegin, ResultStore};
pub use retention::RetentionStore;
pub use rollouts::RolloutStore;
pub use sessions::SessionStore;
pub use tokens::TokenStore;

/// Everything the service needs from storage: one trait per aggregate, and
/// the store-wide calls here. Implemented once, by [`Storage`].
#[async_trait]
pub trait Store:
    PauseStore
    + QueueStore
    + BulkStore
    + QueuePauseStore
    + ClaimStore
    + LeaseStore
    + FleetStore
    + RolloutStore
    + ResultStore
    + TokenStore
    + SessionStore
    + RetentionStore
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// How many storage calls (each at least one database round trip) this
    /// store has served. Tests and benchmarks use it to prove that a path
    /// does not touch the database.
    fn calls(&self) -> u64;

    async fn ping(&self) -> StoreResult<()>;

    /// SQLite's group commit: (commits, writes they made durable) since
    /// the process started; `None` where each write commits by itself.
    fn commit_counts(&self) -> Option<(u64, u64)>;

    /// Records each storage call's duration into `histogram` from now on
    /// (the service's `lull_storage_call_duration_seconds`; set once).
    fn observe_latency(&self, histogram: metrics::Histogram);

    /// PostgreSQL: starts listening for changes made by other processes.
    /// SQLite: `None` (one process: the service wakes its own waiters).
    async fn listen(&self) -> StoreResult<Option<tokio::sync::mpsc::Receiver<Notice>>>;
}

/// The store over one driver: counts and times calls and runs the
/// operations.
pub struct Storage<D: Driver> {
    driver: D,
    calls: CallCounter,
    latency: OnceLock<metrics::Histogram>,
}

impl<D: Driver> Storage<D> {
    pub fn new(driver: D) -> Self {
        Storage {
            driver,
            calls: CallCounter::default(),
            latency: OnceLock::new(),
        }
    }

    /// Counts one storage call and hands out the driver, timing the call
    /// until the handle is dropped (every operation holds it to its end).
    fn call(&self) -> Call<'_, D> {
        self.calls.0.fetch_add(1, Ordering::Relaxed);
        Call {
            driver: &self.driver,
            started: Instant::now(),
            latency: self.latency.get(),
        }
    }
}

/// One storage call in progress: the driver, and the clock of the call.
struct Call<'a, D> {
    driver: &'a D,
    started: Instant,
    latency: Option<&'a metrics::Histogram>,
}

impl<D> std::ops::Deref for Call<'_, D> {
    type Target = D;

    fn deref(&self) -> &D {
        self.driver
    }
}

impl<D> Drop for Call<'_, D> {
    fn drop(&mut self) {
        if let Some(h) = self.latency {
            h.record(self.started.elapsed().as_secs_f64());
        }
    }
}

#[async_trait]
impl<D: Driver> Store for Storage<D> {
    fn backend(&self) -> &'static str {
        self.driver.backend()
    }

    fn calls(&self) -> u64 {
        self.calls.0.load(Ordering::Relaxed)
    }

    async fn ping(&self) -> StoreResult<()> {
        let call = self.call();
        let mut s = call.read().await?;
        s.execute("SELECT 1", &[]).await?;
        Ok(())
    }

    fn commit_counts(&self) -> Option<(u64, u64)> {
        self.driver.commit_counts()
    }

    fn observe_latency(&self, histogram: metrics::Histogram) {
        let _ = self.latency.set(histogram);
    }

    async fn listen(&self) -> StoreResult<Option<tokio::sync::mpsc::Receiver<Notice>>> {
        self.driver.listen().await
    }
}

/// Counts storage calls (see [`Store::calls`]).
#[derive(Debug, Default)]
struct CallCounter(AtomicU64);

/// How a store is opened, beyond its URL.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// SQLite: group commit (the default) or a commit per write.
    pub sqlite_commit: sqlite::CommitMode,
    /// PostgreSQL: the URL of the connections that need a session of their
    /// own — LISTEN and the migrations' advisory lock — when the pool's URL
    /// goes through a transaction-mode pooler (PgBouncer). `None`: the
    /// pool's URL.
    pub pg_session_url: Option<String>,
}

/// Opens the store named by `url` (`sqlite:` or `postgres:`/`postgresql:`),
/// creating a SQLite file if missing, and runs the embedded migrations.
pub async fn connect(url: &str) -> StoreResult<Arc<dyn Store>> {
    connect_with(url, &StoreOptions::default()).await
}

/// [`connect`], with options.
pub async fn connect_with(url: &str, opts: &StoreOptions) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(Storage::new(
            sqlite::SqliteDriver::connect(url, opts.sqlite_commit).await?,
        )))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(Storage::new(
            postgres::PgDriver::connect(url, opts.pg_session_url.as_deref()).await?,
        )))
    } else {
        Err(StoreError::Database(format!(
            "unsupported database URL {:?}: use sqlite://… or postgres://…",
            redact(url)
        )))
    }
}

/// The URL without its password, for logs and error messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}://{}:***{}", &url[..s], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_the_password_only() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://./data/x.db"), "sqlite://./data/x.db");
    }
}
