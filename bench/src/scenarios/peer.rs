//! Scenario 8 (issue 18): Lull against graphile-worker on PostgreSQL, end
//! to end.
//!
//! The same N no-op jobs, the same concurrency (16), the same PostgreSQL,
//! a fresh database for every run, and the runs alternating between the
//! peer and Lull within each round:
//!
//! 1. graphile-worker: one `addJobs` call, then `run()` until every job is done;
//! 2. Lull, REST single: one `POST /api/queue/jobs` per job (16 producers),
//!    then 16 workers doing claim → complete, one job per request;
//! 3. Lull, REST batch: `POST /api/queue/jobs/batch` (1,000 per request, one
//!    after the other), then 16 workers doing batch claim (`limit` 16) →
//!    `batch-complete`;
//! 4. graphile-worker: one `addJob` per job (16 producers; timed over the
//!    first [`Size::single_timed`] jobs), then `run()` again;
//! 5. Lull, REST single with claim-next: a batch-enqueued queue, then 16
//!    workers that claim one job and then complete each with `claimNext`,
//!    which hands them the next (one request per job);
//! 6. Lull, the `lull-worker` runtime (the `worker` crate as a library, in
//!    this process, concurrency 16, a no-op handler) on a batch-enqueued
//!    queue.
//!
//! A drain is timed from its start (graphile-worker's `run()` call, the
//! first claim, the runtime's start) until the last job's completion is
//! committed, and each run checks that every one of the N jobs succeeded
//! exactly once. The result is its own section of `BENCHMARKS.md` (see
//! [`super::peer_report`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use async_trait::async_trait;
use client::Client;
use serde_json::Value;
use wire::{
    BatchCompleteItem, BatchCompleteRequest, BatchEnqueueRequest, ClaimManyRequest, ClaimNext,
    ClaimRequest, CompleteNextRequest, CompleteRequest, EnqueueRequest, Job,
};
use worker::{Config, Handler, JobContext, JobError, Registry, Worker};

use super::{secs, spawn_each, Env};
use crate::db::{Backend, Database, Pool};
use crate::peer::{Enqueue, Graphile};
use crate::proc::{Server, ServerOptions};

/// Concurrent jobs (graphile-worker's `concurrency`, Lull's REST workers,
/// the runtime's `concurrency`) and concurrent producers.
pub const CONCURRENCY: usize = 16;
/// Jobs per batch claim.
pub const CLAIM_BATCH: u32 = 16;
/// Jobs per batch enqueue request (the server's bound).
pub const ENQUEUE_BATCH: usize = 1_000;
/// The job type every run uses.
const JOB_TYPE: &str = "noop";
/// The longest a drain may take before the run counts as failed.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(600);

/// How big a run is.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Jobs per run (N).
    pub jobs: usize,
    /// Rounds of the six runs.
    pub rounds: usize,
    /// graphile-worker's one-by-one `addJob` is timed over this many jobs
    /// (at most N): it runs at a few hundred jobs a second here, so 20,000
    /// of them would take minutes.
    pub single_timed: usize,
}

impl Size {
    /// For the record: 20,000 jobs, two rounds.
    pub fn full() -> Size {
        Size {
            jobs: 20_000,
            rounds: 2,
            single_timed: 2_000,
        }
    }

    /// `--quick`: a trial.
    pub fn quick() -> Size {
        Size {
            jobs: 2_000,
            rounds: 1,
            single_timed: 500,
        }
    }
}

/// Who drains the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain {
    Peer,
    RestSingle,
    /// Single claims, each completion with `claimNext`.
    RestClaimNext,
    RestBatch,
    Runtime,
}

/// How the queue is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    PeerAddJobs,
    PeerAddJob,
    RestSingle,
    RestBatch,
}

/// `jobs` done in `seconds`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub jobs: usize,
    pub seconds: f64,
}

impl Sample {
    pub fn rate(&self) -> f64 {
        self.jobs as f64 / self.seconds.max(1e-9)
    }
}

/// Everything scenario 8 measured, in run order.
#[derive(Debug, Clone)]
pub struct PeerComparison {
    pub size: Size,
    pub peer_version: String,
    pub node: String,
    pub drains: Vec<(Drain, Sample)>,
    pub fills: Vec<(Fill, Sample)>,
    /// `/proc/loadavg` before the first run and after the last.
    pub load_before: String,
    pub load_after: String,
    pub took: Duration,
}

impl PeerComparison {
    fn samples<K: PartialEq + Copy>(of: &[(K, Sample)], k: K) -> impl Iterator<Item = Sample> + '_ {
        of.iter().filter(move |(x, _)| *x == k).map(|(_, s)| *s)
    }

    /// Jobs per second over every run of `d` (total jobs / total time).
    pub fn drain_rate(&self, d: Drain) -> Option<f64> {
        pooled(Self::samples(&self.drains, d))
    }

    /// The slowest and fastest run of `d`, in jobs per second.
    pub fn drain_range(&self, d: Drain) -> Option<(f64, f64)> {
        range(Self::samples(&self.drains, d))
    }

    /// Enqueue throughput over every run of `f`, in jobs per second.
    pub fn fill_rate(&self, f: Fill) -> Option<f64> {
        pooled(Self::samples(&self.fills, f))
    }

    /// The slowest and fastest run of `f`, in jobs per second.
    pub fn fill_range(&self, f: Fill) -> Option<(f64, f64)> {
        range(Self::samples(&self.fills, f))
    }

    /// `d`'s drain rate over the peer's.
    pub fn drain_ratio(&self, d: Drain) -> Option<f64> {
        Some(self.drain_rate(d)? / self.drain_rate(Drain::Peer)?)
    }

    /// The time `f` takes for N jobs over the time `addJobs` takes (at the
    /// pooled rates: lower is better).
    pub fn fill_time_ratio(&self, f: Fill) -> Option<f64> {
        Some(self.fill_rate(Fill::PeerAddJobs)? / self.fill_rate(f)?)
    }
}

fn pooled(s: impl Iterator<Item = Sample>) -> Option<f64> {
    let (jobs, secs) = s.fold((0usize, 0f64), |(j, t), s| (j + s.jobs, t + s.seconds));
    (jobs > 0).then(|| jobs as f64 / secs.max(1e-9))
}

fn range(s: impl Iterator<Item = Sample>) -> Option<(f64, f64)> {
    s.map(|s| s.rate()).fold(None, |acc, r| match acc {
        None => Some((r, r)),
        Some((lo, hi)) => Some((f64::min(lo, r), f64::max(hi, r))),
    })
}

/// The runtime's handler: does nothing, and counts the jobs it ran.
struct Noop(Arc<AtomicUsize>);

#[async_trait]
impl Handler for Noop {
    async fn run(&self, _ctx: JobContext, _payload: Value) -> Result<Value, JobError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(Value::Null)
    }
}

fn noop_job() -> EnqueueRequest {
    EnqueueRequest {
        job_type: Some(JOB_TYPE.into()),
        ..Default::default()
    }
}

/// `n` jobs, one request each, from [`CONCURRENCY`] producers.
async fn fill_single(c: &Client, n: usize) -> Result<Sample> {
    let next = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    spawn_each(CONCURRENCY, |_| {
        let (c, next) = (c.clone(), next.clone());
        async move {
            while next.fetch_add(1, Ordering::Relaxed) < n {
                c.enqueue(&noop_job()).await?;
            }
            Ok(())
        }
    })
    .await?;
    Ok(Sample {
        jobs: n,
        seconds: secs(t.elapsed()),
    })
}

/// `n` jobs, [`ENQUEUE_BATCH`] per request, one request after the other
/// (as one `addJobs` call is one request).
async fn fill_batch(c: &Client, n: usize) -> Result<Sample> {
    let t = Instant::now();
    let mut left = n;
    while left > 0 {
        let k = left.min(ENQUEUE_BATCH);
        let req = BatchEnqueueRequest {
            jobs: Some(vec![noop_job(); k]),
        };
        let got = c.enqueue_batch(&req).await?.jobs.len();
        if got != k {
            bail!("a batch enqueue of {k} answered {got} jobs");
        }
        left -= k;
    }
    Ok(Sample {
        jobs: n,
        seconds: secs(t.elapsed()),
    })
}

/// [`CONCURRENCY`] REST workers drain the queue as `drain` says (see
/// [`rest_worker`]) until a claim comes back empty. Returns the jobs they
/// completed.
async fn drain_rest(c: &Client, drain: Drain) -> Result<usize> {
    let done = spawn_each(CONCURRENCY, |i| {
        let c = c.clone();
        async move { rest_worker(&c, &format!("bench-{i}"), drain).await }
    })
    .await?;
    Ok(done.iter().sum())
}

/// One REST worker: claim one job and complete it (one request each);
/// claim up to [`CLAIM_BATCH`] and complete them in one `batch-complete`;
/// or claim one job, then complete each with `claimNext`, whose answer
/// carries the next job (one request per job).
async fn rest_worker(c: &Client, worker: &str, drain: Drain) -> Result<usize> {
    let mut n = 0usize;
    let claim = ClaimRequest {
        worker_id: Some(worker.to_string()),
        ..Default::default()
    };
    match drain {
        Drain::RestBatch => loop {
            let claim = ClaimManyRequest {
                worker_id: Some(worker.to_string()),
                limit: Some(CLAIM_BATCH),
                ..Default::default()
            };
            let jobs = c.claim_many(&claim).await?.jobs.unwrap_or_default();
            if jobs.is_empty() {
                return Ok(n);
            }
            let req = BatchCompleteRequest {
                worker_id: Some(worker.to_string()),
                jobs: Some(
                    jobs.iter()
                        .map(|j| BatchCompleteItem {
                            id: Some(j.id),
                            lease_token: j.lease_token,
                            result: None,
                        })
                        .collect(),
                ),
            };
            let outcome = c.complete_batch(&req).await?;
            if let Some(refused) = outcome.results.iter().find(|r| !r.ok) {
                bail!(
                    "batch complete refused job {}: {:?}",
                    refused.id,
                    refused.error
                );
            }
            n += jobs.len();
        },
        Drain::RestSingle => loop {
            let Some(job) = c.claim(&claim).await?.job else {
                return Ok(n);
            };
            let done = CompleteRequest {
                worker_id: Some(worker.to_string()),
                lease_token: job.lease_token,
                result: None,
            };
            c.complete(job.id, &done).await?;
            n += 1;
        },
        Drain::RestClaimNext => {
            let mut next: Option<Job> = c.claim(&claim).await?.job;
            while let Some(job) = next {
                let done = CompleteNextRequest {
                    worker_id: Some(worker.to_string()),
                    lease_token: job.lease_token,
                    result: None,
                    claim_next: Some(ClaimNext::default()),
                };
                let answer = c.complete_and_claim(job.id, &done).await?;
                n += 1;
                next = match answer.next {
                    Some(claimed) => claimed.job,
                    None => bail!("the claim after completing job {} failed", job.id),
                };
            }
            Ok(n)
        }
        Drain::Peer | Drain::Runtime => bail!("{drain:?} is not a REST worker"),
    }
}

/// Waits until no job of the database is unfinished, polling every 2 ms
/// (started only once the workers have run every job, so the polls cost
/// nothing while they run).
async fn until_all_succeeded(pool: &Pool, jobs: usize) -> Result<()> {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    loop {
        let counts = pool.status_counts().await?;
        let succeeded = counts.get("succeeded").copied().unwrap_or(0);
        if succeeded == jobs as u64 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("after {DRAIN_TIMEOUT:?} only {succeeded} of {jobs} jobs succeeded: {counts:?}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The `worker` runtime, in this process, until every job succeeded; then
/// it is drained.
async fn drain_runtime(server: &Server, db: &Database, pool: &Pool, jobs: usize) -> Result<()> {
    let ran = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::new();
    registry.register(JOB_TYPE, Noop(ran.clone()));
    let mut config = Config::new(server.url("")).map_err(|e| anyhow::anyhow!("{e}"))?;
    config.worker_id = "bench-runtime".into();
    config.name = "bench-runtime".into();
    config.concurrency = CONCURRENCY;
    config.spool_dir = db.scratch_dir().join("spool");
    config.pause_poll_interval = None;
    // Only the claims after the last job wait, and a drain lets a waiting
    // claim finish: a short wait ends the run sooner, at no cost before.
    config.wait_ms = 1000;
    let worker = Worker::new(config, registry)?;
    let shutdown = worker.shutdown_handle();
    let running = tokio::spawn(worker.run());
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while ran.load(Ordering::Relaxed) < jobs {
        if running.is_finished() || Instant::now() > deadline {
            bail!(
                "the runtime ran {} of {jobs} jobs and {}",
                ran.load(Ordering::Relaxed),
                if running.is_finished() {
                    "stopped"
                } else {
                    "timed out"
                }
            );
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    until_all_succeeded(pool, jobs).await?;
    shutdown.drain();
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .context("the runtime did not drain in 30 s")???;
    Ok(())
}

/// One Lull run on a fresh database and server: fill, then drain.
async fn lull_run(env: &Env, fill: Fill, drain: Drain, jobs: usize) -> Result<(Sample, Sample)> {
    let db = Database::new(Backend::Postgres, &env.pg_admin).await?;
    let server = Server::start(&env.lull, &db.url, &ServerOptions::default()).await?;
    let c = crate::http::client(server.addr)?;
    let pool = db.pool(1).await?;
    let filled = match fill {
        Fill::RestSingle => fill_single(&c, jobs).await?,
        Fill::RestBatch => fill_batch(&c, jobs).await?,
        Fill::PeerAddJobs | Fill::PeerAddJob => bail!("{fill:?} is the peer's"),
    };
    let t = Instant::now();
    match drain {
        Drain::RestSingle | Drain::RestClaimNext | Drain::RestBatch => {
            let n = drain_rest(&c, drain).await?;
            if n != jobs {
                bail!("{drain:?}: the workers completed {n} of {jobs} jobs");
            }
        }
        Drain::Runtime => drain_runtime(&server, &db, &pool, jobs).await?,
        Drain::Peer => bail!("the peer drains in its own run"),
    }
    let drained = Sample {
        jobs,
        seconds: secs(t.elapsed()),
    };
    // Every job succeeded, and there are no others.
    let counts = pool.status_counts().await?;
    if counts.get("succeeded").copied() != Some(jobs as u64) || counts.len() != 1 {
        bail!("{drain:?}: {jobs} jobs should have succeeded, the table holds {counts:?}");
    }
    pool.close().await;
    Ok((filled, drained))
}

/// One graphile-worker run on a fresh database.
async fn peer_run(
    env: &Env,
    peer: &Graphile,
    enqueue: Enqueue,
    jobs: usize,
) -> Result<(Sample, Sample)> {
    let db = Database::new(Backend::Postgres, &env.pg_admin).await?;
    let run = peer.run(&db.url, jobs, CONCURRENCY, enqueue).await?;
    Ok((
        Sample {
            jobs: run.enqueued,
            seconds: run.enqueue_seconds,
        },
        Sample {
            jobs: run.jobs,
            seconds: run.drain_seconds,
        },
    ))
}

pub async fn run(env: &Env, peer: &Graphile, size: Size) -> Result<PeerComparison> {
    let started = Instant::now();
    let mut r = PeerComparison {
        size,
        peer_version: peer.version.clone(),
        node: peer.node.clone(),
        drains: Vec::new(),
        fills: Vec::new(),
        load_before: crate::report::load_average(),
        load_after: String::new(),
        took: Duration::ZERO,
    };
    let n = size.jobs;
    let single = Enqueue::Single {
        timed: size.single_timed.min(n),
    };
    for round in 1..=size.rounds {
        eprintln!("lull-bench: 8. round {round}: graphile-worker (addJobs) …");
        let (f, d) = peer_run(env, peer, Enqueue::Batch, n).await?;
        r.fills.push((Fill::PeerAddJobs, f));
        r.drains.push((Drain::Peer, d));
        for (fill, drain) in [
            (Fill::RestSingle, Drain::RestSingle),
            (Fill::RestBatch, Drain::RestBatch),
        ] {
            eprintln!("lull-bench: 8. round {round}: Lull {drain:?} …");
            let (f, d) = lull_run(env, fill, drain, n).await?;
            r.fills.push((fill, f));
            r.drains.push((drain, d));
        }
        eprintln!("lull-bench: 8. round {round}: graphile-worker (addJob) …");
        let (f, d) = peer_run(env, peer, single, n).await?;
        r.fills.push((Fill::PeerAddJob, f));
        r.drains.push((Drain::Peer, d));
        eprintln!("lull-bench: 8. round {round}: Lull RestClaimNext …");
        let (f, d) = lull_run(env, Fill::RestBatch, Drain::RestClaimNext, n).await?;
        r.fills.push((Fill::RestBatch, f));
        r.drains.push((Drain::RestClaimNext, d));
        eprintln!("lull-bench: 8. round {round}: Lull runtime …");
        let (f, d) = lull_run(env, Fill::RestBatch, Drain::Runtime, n).await?;
        r.fills.push((Fill::RestBatch, f));
        r.drains.push((Drain::Runtime, d));
    }
    r.load_after = crate::report::load_average();
    r.took = started.elapsed();
    Ok(r)
}
