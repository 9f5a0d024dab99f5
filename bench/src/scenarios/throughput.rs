//! Scenario 2: claim + complete throughput over REST, against a direct-SQL
//! loop on the same database in the same run.
//!
//! `WORKERS` concurrent workers; each does claim → complete as fast as it
//! can. Three kinds of window alternate on one server and one database
//! (so table growth and vacuum hit every kind alike):
//! - **direct**: the baseline: no server in the path. PostgreSQL: one
//!   `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED) RETURNING` to
//!   claim and one fenced `UPDATE` to complete, autocommit, one connection
//!   per worker. SQLite: the equivalent single `UPDATE … RETURNING`, on one
//!   writer connection shared by the workers (SQLite has one writer; more
//!   connections would only fight over the lock), opened like the server's
//!   (WAL, synchronous FULL).
//! - **rest**: `POST /api/queue/jobs/claim` then `…/{id}/complete`, through
//!   the typed client: one kept-alive HTTP connection per worker.
//! - **rest-batch**: claim with `limit` (up to [`BATCH`] jobs per request),
//!   then complete each job.
//!
//! The server's RSS is read at the end (scenario 6).

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use client::Client;
use uuid::Uuid;
use wire::{ClaimManyRequest, ClaimRequest, CompleteRequest, Job};

use super::{secs, spawn_each, Env};
use crate::db::{Backend, Pool};

pub const WORKERS: usize = 16;
/// Jobs per batch claim.
pub const BATCH: usize = 16;
const ROUNDS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Direct,
    Rest,
    RestBatch,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Direct => "direct SQL",
            Mode::Rest => "REST",
            Mode::RestBatch => "REST, batch claim",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Throughput {
    pub backend: Backend,
    pub workers: usize,
    pub window: Duration,
    pub direct_per_sec: f64,
    pub rest_per_sec: f64,
    /// `None` when the server has no batch claim.
    pub batch_per_sec: Option<f64>,
    /// Server RSS (KiB) before any load, and after the last window.
    pub rss_idle_kib: u64,
    pub rss_after_kib: u64,
}

impl Throughput {
    pub fn ratio(&self) -> f64 {
        self.rest_per_sec / self.direct_per_sec
    }
    pub fn batch_ratio(&self) -> Option<f64> {
        self.batch_per_sec.map(|b| b / self.direct_per_sec)
    }
}

/// Direct-SQL claim + complete, one job.
async fn direct_once(pool: &Pool, worker: &str) -> Result<bool> {
    let token = Uuid::new_v4();
    match pool {
        Pool::Pg(p) => {
            let id: Option<Uuid> = sqlx::query_scalar(
                "UPDATE jobs SET status = 'running', worker_id = $1, lease_token = $2, \
                   lease_seconds = 30, lease_expires_at = now() + interval '30 seconds', \
                   attempts = attempts + 1, started_at = now(), updated_at = now() \
                 WHERE id = (SELECT id FROM jobs WHERE status = 'queued' AND run_after <= now() \
                             ORDER BY priority DESC, run_after, created_at \
                             LIMIT 1 FOR UPDATE SKIP LOCKED) \
                 RETURNING id",
            )
            .bind(worker)
            .bind(token)
            .fetch_optional(p)
            .await?;
            let Some(id) = id else { return Ok(false) };
            let done = sqlx::query(
                "UPDATE jobs SET status = 'succeeded', lease_token = NULL, lease_expires_at = NULL, \
                   finished_at = now(), updated_at = now() \
                 WHERE id = $1 AND status = 'running' AND worker_id = $2 AND lease_token = $3",
            )
            .bind(id)
            .bind(worker)
            .bind(token)
            .execute(p)
            .await?
            .rows_affected();
            Ok(done == 1)
        }
        // In claim order through the claim index, as the server's claim
        // reads it: left to itself SQLite's planner (no statistics) sorts
        // every queued job for each claim (issue 18).
        Pool::Sqlite(p) => {
            let now = chrono::Utc::now().timestamp_millis();
            let id: Option<String> = sqlx::query_scalar(
                "UPDATE jobs SET status = 'running', worker_id = $1, lease_token = $2, \
                   lease_seconds = 30, lease_expires_at = $3 + 30000, attempts = attempts + 1, \
                   started_at = $3, updated_at = $3 \
                 WHERE id = (SELECT id FROM jobs INDEXED BY jobs_claimable \
                             WHERE status = 'queued' AND run_after <= $3 \
                             ORDER BY priority DESC, run_after, created_at LIMIT 1) \
                 RETURNING id",
            )
            .bind(worker)
            .bind(token.to_string())
            .bind(now)
            .fetch_optional(p)
            .await?;
            let Some(id) = id else { return Ok(false) };
            let now = chrono::Utc::now().timestamp_millis();
            let done = sqlx::query(
                "UPDATE jobs SET status = 'succeeded', lease_token = NULL, lease_expires_at = NULL, \
                   finished_at = $4, updated_at = $4 \
                 WHERE id = $1 AND status = 'running' AND worker_id = $2 AND lease_token = $3",
            )
            .bind(id)
            .bind(worker)
            .bind(token.to_string())
            .bind(now)
            .execute(p)
            .await?
            .rows_affected();
            Ok(done == 1)
        }
    }
}

/// Completes one claimed job over REST.
async fn complete(c: &Client, worker: &str, job: &Job) -> Result<()> {
    let done = CompleteRequest {
        worker_id: Some(worker.to_string()),
        lease_token: job.lease_token,
        result: None,
    };
    c.complete(job.id, &done).await?;
    Ok(())
}

/// A worker's claim request, built once per window.
enum Claim {
    One(ClaimRequest),
    Batch(ClaimManyRequest),
}

/// REST claim (single or batch) + complete; returns jobs completed.
async fn rest_once(c: &Client, worker: &str, claim: &Claim) -> Result<usize> {
    let jobs = match claim {
        Claim::One(req) => c.claim(req).await?.job.into_iter().collect(),
        Claim::Batch(req) => c.claim_many(req).await?.jobs.unwrap_or_default(),
    };
    for job in &jobs {
        complete(c, worker, job).await?;
    }
    Ok(jobs.len())
}

/// One window of `mode`; returns jobs completed and the elapsed time.
/// The client's connections were opened by the warm-up, before any clock.
pub async fn window(
    c: &Client,
    pool: &Pool,
    mode: Mode,
    length: Duration,
) -> Result<(u64, Duration)> {
    let start = Instant::now();
    let deadline = start + length;
    let done = spawn_each(WORKERS, |i| {
        let (pool, c) = (pool.clone(), c.clone());
        async move {
            let worker = format!("bench-{i}");
            let mut n = 0u64;
            if mode == Mode::Direct {
                while Instant::now() < deadline {
                    if direct_once(&pool, &worker).await? {
                        n += 1;
                    } else {
                        bail!("the queue ran dry: enqueue more jobs");
                    }
                }
                return Ok(n);
            }
            let claim = if mode == Mode::RestBatch {
                Claim::Batch(ClaimManyRequest {
                    worker_id: Some(worker.clone()),
                    limit: Some(BATCH as u32),
                    ..Default::default()
                })
            } else {
                Claim::One(ClaimRequest {
                    worker_id: Some(worker.clone()),
                    ..Default::default()
                })
            };
            while Instant::now() < deadline {
                match rest_once(&c, &worker, &claim).await? {
                    0 => bail!("the queue ran dry: enqueue more jobs"),
                    k => n += k as u64,
                }
            }
            Ok(n)
        }
    })
    .await?;
    Ok((done.iter().sum(), start.elapsed()))
}

/// Whether the server hands out batches (`limit` on claim): a server
/// without it refuses the unknown field.
async fn has_batch_claim(c: &Client) -> Result<bool> {
    let probe = ClaimManyRequest {
        worker_id: Some("probe".into()),
        limit: Some(1),
        ..Default::default()
    };
    let Ok(answer) = c.claim_many(&probe).await else {
        return Ok(false);
    };
    // Complete what the probe got, so no job is left running.
    for job in answer.jobs.iter().flatten() {
        complete(c, "probe", job).await?;
    }
    Ok(answer.jobs.is_some())
}

pub async fn run(env: &Env, backend: Backend) -> Result<Throughput> {
    let (db, server) = env.fresh(backend).await?;
    let rss_idle_kib = server.rss_kib()?;
    let pool = db
        .pool(if backend == Backend::Sqlite {
            1
        } else {
            WORKERS as u32
        })
        .await?;
    let length = env.window(Duration::from_secs(4));
    // Enough jobs that no window runs dry: the fastest kind at a generous
    // upper bound of this machine's rate (SQLite's batch claim drains
    // 2,000+ jobs/s since its claims read the claim index in order).
    let per_window = match backend {
        Backend::Postgres => 30_000,
        Backend::Sqlite => 20_000,
    };
    let jobs = per_window * ROUNDS * 3 * length.as_secs().max(1) as usize / 4 + 5_000;
    pool.insert_jobs(jobs, "bench").await?;
    let c = crate::http::client(server.addr)?;
    let batch = has_batch_claim(&c).await?;
    let mut modes = vec![Mode::Direct, Mode::Rest];
    if batch {
        modes.push(Mode::RestBatch);
    }
    // Warm-up (connections, caches, prepared statements).
    for &m in &modes {
        window(&c, &pool, m, Duration::from_millis(500)).await?;
    }
    let mut totals = [(0u64, Duration::ZERO); 3];
    for _ in 0..ROUNDS {
        for (k, &m) in modes.iter().enumerate() {
            let (n, t) = window(&c, &pool, m, length).await?;
            totals[k].0 += n;
            totals[k].1 += t;
        }
    }
    let rate = |k: usize| totals[k].0 as f64 / secs(totals[k].1);
    let rss_after_kib = server.rss_kib()?;
    pool.close().await;
    Ok(Throughput {
        backend,
        workers: WORKERS,
        window: length,
        direct_per_sec: rate(0),
        rest_per_sec: rate(1),
        batch_per_sec: batch.then(|| rate(2)),
        rss_idle_kib,
        rss_after_kib,
    })
}
