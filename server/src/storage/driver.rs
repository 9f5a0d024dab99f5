//! What a backend driver supplies, and the one-connection session the
//! queries run on.
//!
//! The queries and operations are written once against [`Exec`]: run this
//! statement with these [`Arg`]s, read the rows through [`RowReader`]. A
//! driver binds each argument in its own storage type (SQLite keeps
//! timestamps as integer milliseconds, ids and JSON as text; PostgreSQL
//! has native types), so the same query serves both dialects.

use std::future::Future;

use futures::future::BoxFuture;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use sqlx::pool::PoolConnection;
use sqlx::query::Query;
use sqlx::{Database, Decode, Executor, IntoArguments, Pool, Row, Transaction, Type};
use uuid::Uuid;

use super::error::{StoreError, StoreResult};
use super::notice::Notice;
use crate::domain::{Fence, PauseState, WorkerBeat, WorkerRecord};
use wire::Job;

/// A claim as storage runs it (see `leases`): the worker, the types and
/// queues it takes, its lease, and the time of this attempt.
#[derive(Debug, Clone)]
pub struct ClaimParams {
    pub worker_id: String,
    pub types: Option<Vec<String>>,
    /// `None`: every queue.
    pub queues: Option<Vec<String>>,
    pub lease_seconds: u32,
    pub now: DateTime<Utc>,
}

/// One bound statement parameter, in the domain's types.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    I32(i32),
    OptI32(Option<i32>),
    I64(i64),
    OptI64(Option<i64>),
    Bool(bool),
    OptBool(Option<bool>),
    Time(DateTime<Utc>),
    OptTime(Option<DateTime<Utc>>),
    Id(Uuid),
    OptId(Option<Uuid>),
    Json(&'a serde_json::Value),
    OptJson(Option<&'a serde_json::Value>),
    /// A list of strings (SQLite: a JSON array for `json_each`;
    /// PostgreSQL: `TEXT[]` for `= ANY`).
    OptTextList(Option<&'a [String]>),
}

/// Reads a column of a result row in the domain's types.
pub trait RowReader {
    fn text(&self, col: &str) -> StoreResult<String>;
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>>;
    fn i32(&self, col: &str) -> StoreResult<i32>;
    fn i64(&self, col: &str) -> StoreResult<i64>;
    fn opt_i64(&self, col: &str) -> StoreResult<Option<i64>>;
    fn opt_f64(&self, col: &str) -> StoreResult<Option<f64>>;
    fn bool(&self, col: &str) -> StoreResult<bool>;
    fn opt_time(&self, col: &str) -> StoreResult<Option<DateTime<Utc>>>;
    fn opt_id(&self, col: &str) -> StoreResult<Option<Uuid>>;
    fn opt_json<T: DeserializeOwned>(&self, col: &str) -> StoreResult<Option<T>>;

    fn time(&self, col: &str) -> StoreResult<DateTime<Utc>> {
        self.opt_time(col)?.ok_or_else(|| null(col))
    }

    fn id(&self, col: &str) -> StoreResult<Uuid> {
        self.opt_id(col)?.ok_or_else(|| null(col))
    }

    fn json<T: DeserializeOwned>(&self, col: &str) -> StoreResult<T> {
        self.opt_json(col)?.ok_or_else(|| null(col))
    }
}

fn null(col: &str) -> StoreError {
    StoreError::corrupt(col, "NULL in a NOT NULL column")
}

/// One connection, inside a write transaction or not, running one
/// statement at a time. The futures are `Send` so operations can run on
/// any task.
pub trait Exec: Send + Sized {
    type Row: RowReader + Send;

    /// The statements whose text differs between dialects.
    fn sql(&self) -> &'static Statements;

    fn fetch_one(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = StoreResult<Self::Row>> + Send;

    fn fetch_optional(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = StoreResult<Option<Self::Row>>> + Send;

    fn fetch_all(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = StoreResult<Vec<Self::Row>>> + Send;

    /// Runs a statement; the number of rows it changed.
    fn execute(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Commits a transaction (a session outside one has nothing to commit).
    /// Dropping a session without committing rolls its transaction back.
    fn commit(self) -> impl Future<Output = StoreResult<()>> + Send;

    /// Tells other server processes about a change, delivered when (and
    /// only if) the transaction commits: PostgreSQL's `pg_notify` inside
    /// it. SQLite has no other processes: nothing is sent, and the service
    /// wakes its own waiters when the call returns.
    fn notify(&mut self, notice: &Notice) -> impl Future<Output = StoreResult<()>> + Send {
        async move {
            if let (Some(sql), Some((channel, payload))) = (self.sql().notify, notice.channel()) {
                self.execute(sql, &[Arg::Text(channel), Arg::Text(&payload)])
                    .await?;
            }
            Ok(())
        }
    }
}

/// The statements whose SQL differs between the dialects (row locks, time
/// arithmetic, list parameters). Each dialect has one table of them; every
/// other statement is written once, next to the query that runs it.
#[derive(Debug)]
pub struct Statements {
    /// The pause row for a transition. PostgreSQL: `FOR UPDATE`, which
    /// conflicts with the claims' `FOR SHARE`.
    pub lock_pause_state: &'static str,
    /// The pause row for a claim. PostgreSQL: `FOR SHARE` (see leases).
    pub share_pause_state: &'static str,
    /// Inserts a job unless a live job holds its unique key (`ON CONFLICT
    /// … DO NOTHING`: no row back); PostgreSQL also notifies `lull_jobs`
    /// in the same statement (delivered at commit).
    pub insert_job: &'static str,
    /// Claims the next queued job of an unpaused queue (`$6`: the type
    /// filter, `$7`: the queue filter, each a list or NULL). PostgreSQL:
    /// `FOR UPDATE SKIP LOCKED`.
    pub claim_next_job: &'static str,
    /// A queue's row for a claim. PostgreSQL: `FOR SHARE`, which conflicts
    /// with a queue pause's `FOR UPDATE` (see `queue_pause`).
    pub share_queue: &'static str,
    /// A queue's row for its pause transition. PostgreSQL: `FOR UPDATE`.
    pub lock_queue: &'static str,
    /// Extends a held lease by `$4` (or the job's own) seconds from `$5`.
    pub extend_lease: &'static str,
    /// Attempts of a job whose lease is held. PostgreSQL: `FOR UPDATE`.
    pub held_attempts: &'static str,
    /// Mean claim-to-finish milliseconds per type since `$1`.
    pub mean_durations_ms: &'static str,
    /// Mean claim-to-finish milliseconds since `$1`.
    pub mean_latency_ms: &'static str,
    /// Every worker. PostgreSQL: `FOR UPDATE` (worker actions).
    pub lock_fleet: &'static str,
    /// A worker's boot and desired state. PostgreSQL: `FOR UPDATE`.
    pub lock_worker: &'static str,
    /// Sets the desired state (`$2`) of the workers listed in `$1`.
    pub set_desired_states: &'static str,
    /// The running rolling restart. PostgreSQL: `FOR UPDATE SKIP LOCKED`.
    pub lock_running_rollout: &'static str,
    /// A result submission by key. PostgreSQL: `FOR UPDATE`.
    pub lock_result: &'static str,
    /// Tells other processes (`$1` channel, `$2` payload) at commit;
    /// `None` where there are no other processes (SQLite).
    pub notify: Option<&'static str>,
    /// Takes the retention lock for this transaction, answering `locked`
    /// (false while another server process prunes); `None` where there is
    /// one process (SQLite).
    pub retention_lock: Option<&'static str>,
}

/// A backend's SQL dialect: its statements, how it binds our arguments and
/// reads the values it stores in its own way. Everything else about
/// running a statement is written once, below.
pub trait Dialect: Database {
    fn statements() -> &'static Statements;

    /// A statement to run, with this dialect's encoding of each argument.
    fn bind(sql: &'static str, args: &[Arg<'_>]) -> DialectQuery<Self>;

    fn rows_affected(done: &Self::QueryResult) -> u64;

    fn opt_time(row: &Self::Row, col: &str) -> StoreResult<Option<DateTime<Utc>>>;

    fn opt_id(row: &Self::Row, col: &str) -> StoreResult<Option<Uuid>>;

    fn opt_json<T: DeserializeOwned>(row: &Self::Row, col: &str) -> StoreResult<Option<T>>;
}

/// A statement with its arguments bound, ready to run.
pub type DialectQuery<DB> = Query<'static, DB, <DB as Database>::Arguments>;

/// A session on one pooled connection: in a transaction, or autocommit.
pub struct Session<DB: Database> {
    conn: Conn<DB>,
}

enum Conn<DB: Database> {
    Tx(Transaction<'static, DB>),
    Pooled(PoolConnection<DB>),
    Held(Box<dyn Held<DB>>),
}

/// A connection a driver lends for one write and commits in its own way
/// (SQLite's group commit): statements run on [`Held::conn`]; `commit`
/// answers once the write is durable; dropping it undoes the write.
pub trait Held<DB: Database>: Send {
    fn conn(&mut self) -> &mut DB::Connection;

    fn commit(self: Box<Self>) -> BoxFuture<'static, StoreResult<()>>;
}

impl<DB: Database> Session<DB> {
    /// A write transaction on `pool`.
    pub(crate) async fn begin(pool: &Pool<DB>) -> StoreResult<Self> {
        Ok(Session {
            conn: Conn::Tx(pool.begin().await?),
        })
    }

    /// A transaction on `pool` opened with `statement` (SQLite's `BEGIN
    /// IMMEDIATE`).
    pub(crate) async fn begin_with(pool: &Pool<DB>, statement: &'static str) -> StoreResult<Self> {
        Ok(Session {
            conn: Conn::Tx(pool.begin_with(statement).await?),
        })
    }

    /// A write on a connection the driver lends (see [`Held`]).
    pub(crate) fn held(held: impl Held<DB> + 'static) -> Self {
        Session {
            conn: Conn::Held(Box::new(held)),
        }
    }

    /// One connection of `pool`, each statement committing by itself.
    pub(crate) async fn acquire(pool: &Pool<DB>) -> StoreResult<Self> {
        Ok(Session {
            conn: Conn::Pooled(pool.acquire().await?),
        })
    }

    fn conn(&mut self) -> &mut DB::Connection {
        match &mut self.conn {
            Conn::Tx(tx) => tx,
            Conn::Pooled(c) => c,
            Conn::Held(h) => h.conn(),
        }
    }
}

impl<DB> Exec for Session<DB>
where
    DB: Dialect,
    DB::Row: RowReader,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    type Row = DB::Row;

    fn sql(&self) -> &'static Statements {
        DB::statements()
    }

    async fn fetch_one(&mut self, sql: &'static str, args: &[Arg<'_>]) -> StoreResult<DB::Row> {
        Ok(DB::bind(sql, args).fetch_one(self.conn()).await?)
    }

    async fn fetch_optional(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> StoreResult<Option<DB::Row>> {
        Ok(DB::bind(sql, args).fetch_optional(self.conn()).await?)
    }

    async fn fetch_all(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> StoreResult<Vec<DB::Row>> {
        Ok(DB::bind(sql, args).fetch_all(self.conn()).await?)
    }

    async fn execute(&mut self, sql: &'static str, args: &[Arg<'_>]) -> StoreResult<u64> {
        let done = DB::bind(sql, args).execute(self.conn()).await?;
        Ok(DB::rows_affected(&done))
    }

    async fn commit(self) -> StoreResult<()> {
        match self.conn {
            Conn::Tx(tx) => tx.commit().await?,
            Conn::Held(h) => h.commit().await?,
            Conn::Pooled(_) => {}
        }
        Ok(())
    }
}

/// Every dialect reads plain values the same way; only time, ids and JSON
/// are stored differently.
impl<R> RowReader for R
where
    R: Row,
    R::Database: Dialect<Row = R>,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i32: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> f64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, col: &str) -> StoreResult<String> {
        Ok(self.try_get(col)?)
    }

    fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        Ok(self.try_get(col)?)
    }

    fn i32(&self, col: &str) -> StoreResult<i32> {
        Ok(self.try_get(col)?)
    }

    fn i64(&self, col: &str) -> StoreResult<i64> {
        Ok(self.try_get(col)?)
    }

    fn opt_i64(&self, col: &str) -> StoreResult<Option<i64>> {
        Ok(self.try_get(col)?)
    }

    fn opt_f64(&self, col: &str) -> StoreResult<Option<f64>> {
        Ok(self.try_get(col)?)
    }

    fn bool(&self, col: &str) -> StoreResult<bool> {
        Ok(self.try_get(col)?)
    }

    fn opt_time(&self, col: &str) -> StoreResult<Option<DateTime<Utc>>> {
        R::Database::opt_time(self, col)
    }

    fn opt_id(&self, col: &str) -> StoreResult<Option<Uuid>> {
        R::Database::opt_id(self, col)
    }

    fn opt_json<T: DeserializeOwned>(&self, col: &str) -> StoreResult<Option<T>> {
        R::Database::opt_json(self, col)
    }
}

/// What a complete-and-claim statement did
/// ([`Driver::complete_and_claim_in_one_statement`]).
#[derive(Debug)]
// Short-lived return values; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum CompletedClaim {
    /// The lease is not held: nothing was completed, nothing claimed.
    LeaseLost,
    Completed {
        job: Job,
        /// The state with the claimed jobs, as
        /// [`Driver::claim_in_one_statement`] answers; `None` when a lease
        /// had expired (nothing claimed: the caller requeues first).
        claim: Option<(PauseState, Vec<Job>)>,
    },
}

/// A storage backend: its connections and its measured fast paths.
pub trait Driver: Send + Sync + 'static {
    type Session: Exec;

    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// A write transaction. Concurrent ones are serialized by the database
    /// (SQLite: one writer connection; PostgreSQL: row locks).
    fn begin(&self) -> impl Future<Output = StoreResult<Self::Session>> + Send;

    /// A connection for a single write statement, atomic by itself.
    /// Commit it like a transaction: with SQLite's group commit the
    /// statement is kept (and durable) only once committed, and dropping
    /// the session undoes it.
    fn write(&self) -> impl Future<Output = StoreResult<Self::Session>> + Send;

    /// A connection for reads.
    fn read(&self) -> impl Future<Output = StoreResult<Self::Session>> + Send;

    /// A claim of up to `limit` jobs on the backend's fast path, when it
    /// has one (one statement on PostgreSQL, two on SQLite's writer): the
    /// state with the claimed jobs, or `None` when the caller must take the
    /// transaction path (no fast path here, or a lease has expired and must
    /// be requeued first).
    fn claim_in_one_statement(
        &self,
        _p: &ClaimParams,
        _limit: u32,
    ) -> impl Future<Output = StoreResult<Option<(PauseState, Vec<Job>)>>> + Send {
        async { Ok(None) }
    }

    /// Completes a held job and claims up to `limit` jobs for the same
    /// worker (`claimNext`): one statement on PostgreSQL, one write on
    /// SQLite; one commit for both.
    fn complete_and_claim_in_one_statement(
        &self,
        f: &Fence,
        result: Option<&serde_json::Value>,
        p: &ClaimParams,
        limit: u32,
    ) -> impl Future<Output = StoreResult<CompletedClaim>> + Send;

    /// A statement that inserts many queued jobs at once, when the backend
    /// has one: `$1` the jobs as a JSON array of rows (see
    /// `enqueue::insert_jobs`, which builds and binds it), `$2` now; it
    /// returns the rows it added (`ON CONFLICT … DO NOTHING` on the live
    /// unique keys, as `insert_job`). `None`: one insert per job.
    fn insert_jobs_statement(&self) -> Option<&'static str> {
        None
    }

    /// The statement that completes many held jobs at once: `$1` the jobs
    /// as a JSON array of `{id, worker, token, result?}` (see
    /// `leases::complete_many`, which builds and binds it), `$2` now; each
    /// row fenced as `leases::complete_job` fences one, returning the rows
    /// it completed.
    fn complete_jobs_statement(&self) -> &'static str;

    /// Writes a worker heartbeat: the worker's row, or `None` when no row
    /// matched (unknown id, or a newer boot registered since).
    fn write_worker_beat(
        &self,
        beat: &WorkerBeat,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Option<WorkerRecord>>> + Send;

    /// Group commit's figures since the process started: (commits, writes
    /// they made durable); `None` where each write commits by itself.
    fn commit_counts(&self) -> Option<(u64, u64)> {
        None
    }

    /// Starts listening for other processes' changes (see [`Notice`]).
    fn listen(
        &self,
    ) -> impl Future<Output = StoreResult<Option<tokio::sync::mpsc::Receiver<Notice>>>> + Send {
        async { Ok(None) }
    }
}
