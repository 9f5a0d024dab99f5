//! The performance scenarios of issue 7 (and scenario 7, the pause time
//! against the finished-job history, of issue 13; scenario 8, Lull against
//! graphile-worker, and scenario 9, the live stream's fan-out, of issue
//! 18). Each runs against freshly started
//! servers on a fresh database and returns plain figures; [`crate::report`]
//! turns them into `BENCHMARKS.md`. Comparisons are ratios measured in the
//! same run (same server, same connections), because the machine is noisy.

pub mod fanout;
pub mod fanout_report;
pub mod group_commit;
pub mod heartbeats;
pub mod latency;
pub mod pause_history;
pub mod paused_claim;
pub mod peer;
pub mod peer_report;
pub mod propagation;
pub mod throughput;

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use client::Client;
use wire::{PauseMode, PauseRequest};

use crate::db::{Backend, Database};
use crate::proc::{Server, ServerOptions};

/// What every scenario needs to know.
#[derive(Debug, Clone)]
pub struct Env {
    /// The `lull` binary under test (a release build).
    pub lull: PathBuf,
    /// Admin URL of the PostgreSQL that throwaway databases are created on.
    pub pg_admin: String,
    /// Shorter windows and fewer rounds (a trial run, not for the record).
    pub quick: bool,
}

impl Env {
    /// A measurement window: `full` normally, a third of it when quick.
    pub fn window(&self, full: Duration) -> Duration {
        if self.quick {
            full / 3
        } else {
            full
        }
    }

    /// A fresh database and one server on it.
    pub async fn fresh(&self, backend: Backend) -> Result<(Database, Server)> {
        self.fresh_with(backend, &ServerOptions::default()).await
    }

    /// [`Env::fresh`], the server started with `opts`.
    pub async fn fresh_with(
        &self,
        backend: Backend,
        opts: &ServerOptions,
    ) -> Result<(Database, Server)> {
        let db = Database::new(backend, &self.pg_admin).await?;
        let server = Server::start(&self.lull, &db.url, opts).await?;
        Ok((db, server))
    }
}

/// Runs `n` copies of a task (given its index) and collects their results.
pub async fn spawn_each<T, F, Fut>(n: usize, f: F) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<T>> + Send + 'static,
{
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(f(i))).collect();
    let mut out = Vec::with_capacity(n);
    for h in handles {
        out.push(h.await.map_err(|e| anyhow!("load task panicked: {e}"))??);
    }
    Ok(out)
}

/// Pauses (drain) and returns the new version, with the instant the answer
/// arrived.
pub async fn pause(c: &Client, reason: &str) -> Result<(i64, Instant)> {
    let status = c
        .change_pause(&PauseRequest::pause(PauseMode::Drain, reason))
        .await?;
    Ok((status.version, Instant::now()))
}

/// Resumes (forced: the benchmarks leave jobs running) and returns the new
/// version.
pub async fn resume(c: &Client, reason: &str) -> Result<i64> {
    Ok(c.change_pause(&PauseRequest::resume(reason, true))
        .await?
        .version)
}

/// Storage calls the server has made so far (`lull_storage_calls_total`).
/// Reading it costs the server two storage calls of its own, which it
/// counts before answering.
pub async fn storage_calls(c: &Client) -> Result<u64> {
    Ok(crate::http::metric(c, "lull_storage_calls_total").await? as u64)
}

/// Elapsed seconds as f64 (rates).
pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64().max(1e-9)
}
