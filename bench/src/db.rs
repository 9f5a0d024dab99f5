//! Fresh databases for one scenario, and the few direct-SQL operations the
//! scenarios need around the server (bulk job inserts, reading what really
//! got stored, killing connections). The server's own SQL stays in
//! `server/src/storage`; this is the benchmark's and fault checker's view.

use std::str::FromStr;

use anyhow::{Context, Result};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, PgPool, SqlitePool};
use testkit::TestDb;
use uuid::Uuid;

/// Which store a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// A database that exists for one scenario: a temp SQLite file, or a
/// throwaway PostgreSQL database ([`testkit::TestDb`]). Removed on drop.
pub struct Database {
    pub backend: Backend,
    /// The URL the server is given.
    pub url: String,
    db: TestDb,
}

impl Database {
    /// A new SQLite file in a fresh temp directory (created by the server).
    pub fn sqlite() -> Result<Database> {
        let db = TestDb::sqlite();
        Ok(Database {
            backend: Backend::Sqlite,
            url: db.url.clone(),
            db,
        })
    }

    /// A new, empty PostgreSQL database on the server named by `admin_url`.
    pub async fn postgres(admin_url: &str) -> Result<Database> {
        let db = TestDb::postgres_on(admin_url)
            .await
            .with_context(|| format!("creating a database through {admin_url}"))?;
        Ok(Database {
            backend: Backend::Postgres,
            url: db.url.clone(),
            db,
        })
    }

    pub async fn new(backend: Backend, admin_url: &str) -> Result<Database> {
        match backend {
            Backend::Sqlite => Database::sqlite(),
            Backend::Postgres => Database::postgres(admin_url).await,
        }
    }

    /// Scratch space that lives as long as the database (a worker's spool).
    pub fn scratch_dir(&self) -> &std::path::Path {
        &self.db.dir.0
    }

    /// The PostgreSQL database's name.
    pub fn pg_name(&self) -> Option<&str> {
        self.db.postgres_name()
    }

    /// A pool on this database, opened the way the server opens it (SQLite:
    /// WAL, synchronous FULL, a 10 s busy timeout), so a direct-SQL loop
    /// pays the same durability cost as the server.
    pub async fn pool(&self, max: u32) -> Result<Pool> {
        Ok(match self.backend {
            Backend::Postgres => Pool::Pg(
                PgPoolOptions::new()
                    .max_connections(max)
                    .min_connections(max)
                    // No ping before every query: the baseline loop is the
                    // leanest one can write.
                    .test_before_acquire(false)
                    .connect(&self.url)
                    .await?,
            ),
            Backend::Sqlite => {
                let opts = SqliteConnectOptions::from_str(&self.url)?
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(std::time::Duration::from_secs(10));
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(max)
                        .connect_with(opts)
                        .await?,
                )
            }
        })
    }
}

/// A direct connection pool on a scenario's database.
#[derive(Clone)]
pub enum Pool {
    Pg(PgPool),
    Sqlite(SqlitePool),
}

/// Milliseconds since the epoch (SQLite's timestamp encoding).
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Pool {
    /// Inserts `n` queued jobs of type `job_type` in one transaction, ready
    /// to run (run_after a second in the past).
    pub async fn insert_jobs(&self, n: usize, job_type: &str) -> Result<()> {
        match self {
            Pool::Pg(p) => {
                sqlx::query(
                    "INSERT INTO jobs (id, type, payload, priority, status, attempts, max_attempts, \
                       run_after, created_at, updated_at) \
                     SELECT gen_random_uuid(), $1, '{}'::jsonb, 0, 'queued', 0, 3, \
                       now() - interval '1 second', now() - interval '1 second', now() \
                     FROM generate_series(1, $2)",
                )
                .bind(job_type)
                .bind(n as i64)
                .execute(p)
                .await?;
            }
            Pool::Sqlite(p) => {
                let mut tx = p.begin().await?;
                let t = now_ms() - 1000;
                for _ in 0..n {
                    sqlx::query(
                        "INSERT INTO jobs (id, type, payload, priority, status, attempts, \
                           max_attempts, run_after, created_at, updated_at) \
                         VALUES ($1, $2, '{}', 0, 'queued', 0, 3, $3, $3, $3)",
                    )
                    .bind(Uuid::new_v4().to_string())
                    .bind(job_type)
                    .bind(t)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Registers `n` workers `bench-w0` … directly (boot id `boot-1`): the
    /// heartbeat scenario measures heartbeats, not registrations.
    pub async fn insert_workers(&self, n: usize) -> Result<()> {
        match self {
            Pool::Pg(p) => {
                sqlx::query(
                    "INSERT INTO workers (id, name, hostname, version, labels, boot_id, started_at, \
                       last_heartbeat_at, reported_state, active_jobs, offline_backlog, \
                       desired_state, registered_at) \
                     SELECT 'bench-w' || i, 'bench-w' || i, 'bench', 'bench', '{}', 'boot-1', \
                       now(), now(), 'running', '[]', 0, 'active', now() \
                     FROM generate_series(0, $1 - 1) AS i",
                )
                .bind(n as i64)
                .execute(p)
                .await?;
            }
            Pool::Sqlite(p) => {
                sqlx::query(
                    "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < $1) \
                     INSERT INTO workers (id, name, hostname, version, labels, boot_id, started_at, \
                       last_heartbeat_at, reported_state, active_jobs, offline_backlog, \
                       desired_state, registered_at) \
                     SELECT 'bench-w' || i, 'bench-w' || i, 'bench', 'bench', '{}', 'boot-1', \
                       $2, $2, 'running', '[]', 0, 'active', $2 FROM s",
                )
                .bind(n as i64)
                .bind(now_ms())
                .execute(p)
                .await?;
            }
        }
        Ok(())
    }

    /// The stored status of a job, or `None` when it does not exist.
    pub async fn job_status(&self, id: Uuid) -> Result<Option<String>> {
        Ok(match self {
            Pool::Pg(p) => {
                sqlx::query_scalar("SELECT status FROM jobs WHERE id = $1")
                    .bind(id)
                    .fetch_optional(p)
                    .await?
            }
            Pool::Sqlite(p) => {
                sqlx::query_scalar("SELECT status FROM jobs WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(p)
                    .await?
            }
        })
    }

    /// Every job id with its status.
    pub async fn all_jobs(&self) -> Result<std::collections::HashMap<Uuid, String>> {
        Ok(match self {
            Pool::Pg(p) => sqlx::query_as::<_, (Uuid, String)>("SELECT id, status FROM jobs")
                .fetch_all(p)
                .await?
                .into_iter()
                .collect(),
            Pool::Sqlite(p) => sqlx::query_as::<_, (String, String)>("SELECT id, status FROM jobs")
                .fetch_all(p)
                .await?
                .into_iter()
                .filter_map(|(id, s)| Uuid::parse_str(&id).ok().map(|id| (id, s)))
                .collect(),
        })
    }

    /// How many jobs are in each status.
    pub async fn status_counts(&self) -> Result<std::collections::BTreeMap<String, u64>> {
        let sql = "SELECT status, COUNT(*) FROM jobs GROUP BY status";
        let rows: Vec<(String, i64)> = match self {
            Pool::Pg(p) => sqlx::query_as(sql).fetch_all(p).await?,
            Pool::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await?,
        };
        Ok(rows
            .into_iter()
            .map(|(s, n)| (s, u64::try_from(n).unwrap_or(0)))
            .collect())
    }

    /// The pause row: (workers_paused, version).
    pub async fn pause_row(&self) -> Result<(bool, i64)> {
        Ok(match self {
            Pool::Pg(p) => {
                sqlx::query_as(
                    "SELECT workers_paused, version FROM worker_pause_state WHERE id = 1",
                )
                .fetch_one(p)
                .await?
            }
            Pool::Sqlite(p) => {
                sqlx::query_as(
                    "SELECT workers_paused, version FROM worker_pause_state WHERE id = 1",
                )
                .fetch_one(p)
                .await?
            }
        })
    }

    /// The audit log, oldest first: (action, version).
    pub async fn audit(&self) -> Result<Vec<(String, i64)>> {
        let sql = "SELECT action, version FROM system_control_events \
                   WHERE action IN ('pause', 'resume') ORDER BY id";
        Ok(match self {
            Pool::Pg(p) => sqlx::query_as(sql).fetch_all(p).await?,
            Pool::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await?,
        })
    }

    /// SQLite's `PRAGMA integrity_check` ("ok" when the file is sound).
    pub async fn integrity(&self) -> Result<String> {
        match self {
            Pool::Sqlite(p) => Ok(sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_one(p)
                .await?),
            Pool::Pg(_) => Ok("ok".into()),
        }
    }

    pub async fn close(&self) {
        match self {
            Pool::Pg(p) => p.close().await,
            Pool::Sqlite(p) => p.close().await,
        }
    }
}

/// Terminates the server connections to database `name` (all but the
/// caller's own), optionally only those whose last query matches `like`
/// (e.g. `LISTEN%`). Returns how many were killed.
pub async fn terminate_backends(admin_url: &str, name: &str, like: Option<&str>) -> Result<usize> {
    let mut c = sqlx::PgConnection::connect(admin_url).await?;
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid() \
           AND ($2::TEXT IS NULL OR query ILIKE $2)",
    )
    .bind(name)
    .bind(like)
    .fetch_all(&mut c)
    .await?;
    Ok(killed.into_iter().filter(|k| *k).count())
}
