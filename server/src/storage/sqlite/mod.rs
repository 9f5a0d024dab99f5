//! The SQLite driver: the embedded default, one server process.
//!
//! SQLite allows one writer at a time, so every write goes through a pool of
//! exactly one connection: a read-check-write transaction on it (a claim
//! re-reading the pause state, a pause computing metrics) cannot interleave
//! with another write. Reads use a separate pool; WAL gives them a
//! consistent snapshot while a write is in progress.
//!
//! By default the writes of concurrent requests share commits (see
//! [`group`]); `--sqlite-commit each` keeps one commit per write.
//!
//! Timestamps are stored as INTEGER milliseconds (exact ordering), ids as
//! UUID text, JSON as text: the `Dialect` below converts.

// First: its `claim_jobs!` text is used by `claim`.
#[macro_use]
mod sql;

mod beats;
mod claim;
mod group;

pub use group::CommitCounts;

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, SqlitePool};
use uuid::Uuid;

use super::driver::{ClaimParams, CompletedClaim, Dialect, DialectQuery, Session};
use super::{Arg, Driver, Statements, StoreError, StoreResult};
use crate::domain::{Fence, PauseState, WorkerBeat, WorkerRecord};
use wire::Job;

pub struct SqliteDriver {
    writer: Writer,
    reader: SqlitePool,
    /// Worker heartbeats go to the writer through this gatherer.
    beats: tokio::sync::mpsc::Sender<crate::storage::beats::Pending>,
}

/// Single-statement writes on the one writer, wherever they come from (the
/// driver, the heartbeat gatherer's task).
#[derive(Clone)]
pub(super) struct Writer {
    /// Exactly one connection: the single writer.
    pool: SqlitePool,
    /// The writer, lent out for group commit (`None`: a commit per write).
    group: Option<group::GroupWriter>,
}

impl Writer {
    /// With group commit a single statement is a write like any other (its
    /// own savepoint in the group).
    async fn write(&self) -> StoreResult<Session<Sqlite>> {
        match &self.group {
            Some(g) => Ok(Session::held(g.turn().await?)),
            None => Session::acquire(&self.pool).await,
        }
    }
}

/// How SQLite commits writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CommitMode {
    /// Concurrent writes share a commit (and its fsync); see [`group`].
    #[default]
    Group,
    /// Every write commits (and fsyncs) by itself.
    Each,
}

impl std::str::FromStr for CommitMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "group" => Ok(CommitMode::Group),
            "each" => Ok(CommitMode::Each),
            other => Err(format!(
                "SQLite commit mode {other:?} is unknown: use group (the default) or each"
            )),
        }
    }
}

impl SqliteDriver {
    /// Opens (creating if missing) the database file named by `url`, in WAL
    /// mode, and runs the embedded migrations. An in-memory database
    /// commits each write by itself (its readers share the one connection).
    pub async fn connect(url: &str, mode: CommitMode) -> StoreResult<SqliteDriver> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory {
            create_parent_dir(url)?;
        }
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged pause survives power loss, not only kill -9.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(10))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(opts.clone())
            .await?;
        sqlx::migrate!("../migrations/sqlite").run(&writer).await?;
        // An in-memory database exists per connection: share the writer.
        let reader = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(4)
                .acquire_timeout(std::time::Duration::from_secs(10))
                .connect_with(opts)
                .await?
        };
        let group = if mode == CommitMode::Group && !in_memory {
            Some(group::GroupWriter::new(&writer).await?)
        } else {
            None
        };
        let writer = Writer {
            pool: writer,
            group,
        };
        let beats =
            crate::storage::beats::start(beats::SqliteBeats(writer.clone()), beats::WRITERS);
        Ok(SqliteDriver {
            writer,
            reader,
            beats,
        })
    }
}

/// The file a `sqlite:` URL names (`None` for an in-memory database).
pub fn database_path(url: &str) -> Option<std::path::PathBuf> {
    if !url.starts_with("sqlite:") || url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    (!path.is_empty()).then(|| std::path::PathBuf::from(path))
}

/// The server's exclusive hold on a SQLite database: `<file>.lock`, locked
/// for as long as this value lives. SQLite itself would let a second
/// server open the file, and the two would then fail each other's writes
/// with `SQLITE_BUSY` and keep separate caches of the pause state.
#[derive(Debug)]
pub struct ServerLock {
    _file: std::fs::File,
}

impl ServerLock {
    /// Takes the lock, or says which server holds it.
    pub fn acquire(url: &str) -> StoreResult<Option<ServerLock>> {
        let Some(db) = database_path(url) else {
            return Ok(None);
        };
        create_parent_dir(url)?;
        let mut lock_path = db.clone().into_os_string();
        lock_path.push(".lock");
        let lock_path = std::path::PathBuf::from(lock_path);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot open {}: {e}", lock_path.display()))
            })?;
        match file.try_lock() {
            Ok(()) => Ok(Some(ServerLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Unavailable(format!(
                "another lull server is already using {} (it holds {}): stop it first; \
                 to run several servers, use PostgreSQL",
                db.display(),
                lock_path.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Unavailable(format!(
                "cannot lock {}: {e}",
                lock_path.display()
            ))),
        }
    }
}

fn create_parent_dir(url: &str) -> StoreResult<()> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    match std::path::Path::new(path).parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", parent.display()))
            })
        }
        _ => Ok(()),
    }
}

impl Driver for SqliteDriver {
    type Session = Session<Sqlite>;

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    /// `BEGIN IMMEDIATE`: the write lock is taken at the start, waiting up
    /// to the busy timeout for another process's writer (the CLI's `tokens`
    /// commands open the file too). A deferred `BEGIN` reads first and then
    /// fails at once with `SQLITE_BUSY` when another connection wrote
    /// meanwhile — the busy timeout cannot help an upgrade from a stale
    /// snapshot.
    async fn begin(&self) -> StoreResult<Session<Sqlite>> {
        match &self.writer.group {
            Some(g) => Ok(Session::held(g.turn().await?)),
            None => Session::begin_with(&self.writer.pool, "BEGIN IMMEDIATE").await,
        }
    }

    async fn write(&self) -> StoreResult<Session<Sqlite>> {
        self.writer.write().await
    }

    async fn read(&self) -> StoreResult<Session<Sqlite>> {
        Session::acquire(&self.reader).await
    }

    /// Two statements on the writer (see [`claim`]).
    async fn claim_in_one_statement(
        &self,
        p: &ClaimParams,
        limit: u32,
    ) -> StoreResult<Option<(PauseState, Vec<Job>)>> {
        claim::in_two_statements(self, p, limit).await
    }

    /// One write for both (see [`claim`]).
    async fn complete_and_claim_in_one_statement(
        &self,
        f: &Fence,
        result: Option<&serde_json::Value>,
        p: &ClaimParams,
        limit: u32,
    ) -> StoreResult<CompletedClaim> {
        claim::completing(self, f, result, p, limit).await
    }

    fn complete_jobs_statement(&self) -> &'static str {
        sql::COMPLETE_JOBS
    }

    /// Coalesced with the heartbeats that arrive meanwhile (see [`beats`]).
    async fn write_worker_beat(
        &self,
        beat: &WorkerBeat,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<WorkerRecord>> {
        crate::storage::beats::write(&self.beats, beat, now).await
    }

    fn commit_counts(&self) -> Option<(u64, u64)> {
        self.writer.group.as_ref().map(|g| g.counts().read())
    }
}

impl Dialect for Sqlite {
    fn statements() -> &'static Statements {
        &sql::STATEMENTS
    }

    /// Timestamps as milliseconds, ids as hyphenated text, JSON as text,
    /// lists as a JSON array (read back with `json_each`).
    fn bind(sql: &'static str, args: &[Arg<'_>]) -> DialectQuery<Sqlite> {
        let ms = |t: DateTime<Utc>| t.timestamp_millis();
        args.iter().fold(sqlx::query(sql), |q, arg| match *arg {
            Arg::Text(v) => q.bind(v),
            Arg::OptText(v) => q.bind(v),
            Arg::I32(v) => q.bind(v),
            Arg::OptI32(v) => q.bind(v),
            Arg::I64(v) => q.bind(v),
            Arg::OptI64(v) => q.bind(v),
            Arg::Bool(v) => q.bind(v),
            Arg::OptBool(v) => q.bind(v),
            Arg::Time(v) => q.bind(ms(v)),
            Arg::OptTime(v) => q.bind(v.map(ms)),
            Arg::Id(v) => q.bind(v.hyphenated()),
            Arg::OptId(v) => q.bind(v.map(|v| v.hyphenated())),
            Arg::Json(v) => q.bind(v),
            Arg::OptJson(v) => q.bind(v),
            Arg::OptTextList(v) => q.bind(v.map(|l| serde_json::Value::from(l).to_string())),
        })
    }

    fn rows_affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    fn opt_time(row: &SqliteRow, col: &str) -> StoreResult<Option<DateTime<Utc>>> {
        let ms: Option<i64> = row.try_get(col)?;
        ms.map(|v| DateTime::from_timestamp_millis(v).ok_or_else(|| StoreError::corrupt(col, v)))
            .transpose()
    }

    fn opt_id(row: &SqliteRow, col: &str) -> StoreResult<Option<Uuid>> {
        let text: Option<String> = row.try_get(col)?;
        text.map(|t| Uuid::parse_str(&t).map_err(|e| StoreError::corrupt(col, e)))
            .transpose()
    }

    fn opt_json<T: DeserializeOwned>(row: &SqliteRow, col: &str) -> StoreResult<Option<T>> {
        let text: Option<&str> = row.try_get(col)?;
        text.map(|t| serde_json::from_str(t).map_err(|e| StoreError::corrupt(col, e)))
            .transpose()
    }
}
