//! The PostgreSQL driver: several server processes share one database.
//!
//! Row locks do what SQLite's single writer does (see `sql`), and three
//! fast paths, each measured to matter, sit behind the [`Driver`] trait:
//! the one-statement claim (`claim`), coalesced worker heartbeats
//! (`beats`) and LISTEN/NOTIFY between processes (`listen`).

mod beats;
mod claim;
mod listen;
mod sql;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use sqlx::postgres::{PgPoolOptions, PgQueryResult, PgRow};
use sqlx::{PgPool, Postgres, Row};
use uuid::Uuid;

use super::driver::{ClaimParams, CompletedClaim, Dialect, DialectQuery, Session};
use super::{Arg, Driver, Notice, Statements, StoreError, StoreResult};
use crate::domain::{Fence, PauseState, WorkerBeat, WorkerRecord};
use wire::Job;

pub struct PgDriver {
    pool: PgPool,
    /// LISTEN's URL: a session of its own (see [`PgDriver::connect`]).
    listen_url: String,
    /// Worker heartbeats go to the database through this writer.
    beats: tokio::sync::mpsc::Sender<crate::storage::beats::Pending>,
}

impl PgDriver {
    /// The pool on `url`; LISTEN and the migrations on `session_url` when
    /// given: both need a session of their own (LISTEN's registration, the
    /// migrator's session-level advisory lock), which a transaction-mode
    /// pooler does not keep, while every statement of the pool is one
    /// autocommit statement or one transaction.
    pub async fn connect(url: &str, session_url: Option<&str>) -> StoreResult<PgDriver> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(std::time::Duration::from_secs(5))
            // sqlx pings every connection before handing it out by default:
            // one more round trip per storage call. Ping only a connection
            // that sat idle (it may have been cut meanwhile); a busy one
            // that breaks fails its call, is dropped, and the next call
            // gets a new one.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= std::time::Duration::from_secs(1) {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect(url)
            .await?;
        match session_url {
            Some(session) => {
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(session).await?;
                sqlx::migrate!("../migrations/postgres")
                    .run(&mut conn)
                    .await?;
                sqlx::Connection::close(conn).await?;
            }
            None => sqlx::migrate!("../migrations/postgres").run(&pool).await?,
        }
        Ok(PgDriver {
            beats: crate::storage::beats::start(beats::PgBeats(pool.clone()), beats::WRITERS),
            pool,
            listen_url: session_url.unwrap_or(url).to_string(),
        })
    }
}

impl Driver for PgDriver {
    type Session = Session<Postgres>;

    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn begin(&self) -> StoreResult<Session<Postgres>> {
        Session::begin(&self.pool).await
    }

    async fn write(&self) -> StoreResult<Session<Postgres>> {
        Session::acquire(&self.pool).await
    }

    async fn read(&self) -> StoreResult<Session<Postgres>> {
        Session::acquire(&self.pool).await
    }

    async fn claim_in_one_statement(
        &self,
        p: &ClaimParams,
        limit: u32,
    ) -> StoreResult<Option<(PauseState, Vec<Job>)>> {
        claim::in_one_statement(&self.pool, p, limit).await
    }

    async fn complete_and_claim_in_one_statement(
        &self,
        f: &Fence,
        result: Option<&serde_json::Value>,
        p: &ClaimParams,
        limit: u32,
    ) -> StoreResult<CompletedClaim> {
        let done = claim::Completing { fence: f, result };
        let c = claim::completing(&self.pool, done, p, limit).await?;
        Ok(match c.completed {
            None => CompletedClaim::LeaseLost,
            Some(job) => CompletedClaim::Completed {
                job,
                claim: (c.state.workers_paused || !c.expired).then_some((c.state, c.jobs)),
            },
        })
    }

    fn insert_jobs_statement(&self) -> Option<&'static str> {
        Some(sql::INSERT_JOBS)
    }

    fn complete_jobs_statement(&self) -> &'static str {
        sql::COMPLETE_JOBS
    }

    async fn write_worker_beat(
        &self,
        beat: &WorkerBeat,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<WorkerRecord>> {
        crate::storage::beats::write(&self.beats, beat, now).await
    }

    async fn listen(&self) -> StoreResult<Option<tokio::sync::mpsc::Receiver<Notice>>> {
        listen::start(&self.listen_url).await.map(Some)
    }
}

impl Dialect for Postgres {
    fn statements() -> &'static Statements {
        &sql::STATEMENTS
    }

    /// Every argument in its native type.
    fn bind(sql: &'static str, args: &[Arg<'_>]) -> DialectQuery<Postgres> {
        args.iter().fold(sqlx::query(sql), |q, arg| match *arg {
            Arg::Text(v) => q.bind(v),
            Arg::OptText(v) => q.bind(v),
            Arg::I32(v) => q.bind(v),
            Arg::OptI32(v) => q.bind(v),
            Arg::I64(v) => q.bind(v),
            Arg::OptI64(v) => q.bind(v),
            Arg::Bool(v) => q.bind(v),
            Arg::OptBool(v) => q.bind(v),
            Arg::Time(v) => q.bind(v),
            Arg::OptTime(v) => q.bind(v),
            Arg::Id(v) => q.bind(v),
            Arg::OptId(v) => q.bind(v),
            Arg::Json(v) => q.bind(v),
            Arg::OptJson(v) => q.bind(v),
            Arg::OptTextList(v) => q.bind(v),
        })
    }

    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }

    fn opt_time(row: &PgRow, col: &str) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(row.try_get(col)?)
    }

    fn opt_id(row: &PgRow, col: &str) -> StoreResult<Option<Uuid>> {
        Ok(row.try_get(col)?)
    }

    fn opt_json<T: DeserializeOwned>(row: &PgRow, col: &str) -> StoreResult<Option<T>> {
        let v: Option<sqlx::types::Json<T>> =
            row.try_get(col).map_err(|e| StoreError::corrupt(col, e))?;
        Ok(v.map(|j| j.0))
    }
}
