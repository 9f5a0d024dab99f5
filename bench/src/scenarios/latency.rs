//! Scenario 3: enqueue → start latency with long-poll claims.
//!
//! [`CLAIMERS`] workers wait in `POST /api/queue/jobs/claim {waitMs}`. One
//! producer enqueues a job, notes the instant just before sending it, and
//! waits until a worker has it before enqueuing the next (so the figure is
//! the latency of one hand-over, not of a backlog). The job's payload
//! carries its sequence number; the worker notes when the claim answer with
//! that job arrived. Latency = claim answer received − enqueue sent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use serde_json::json;
use wire::{ClaimRequest, CompleteRequest, EnqueueRequest};

use super::{spawn_each, Env};
use crate::db::Backend;
use crate::proc::ServerOptions;
use crate::stats::Latency;

pub const CLAIMERS: usize = 4;

#[derive(Debug, Clone)]
pub struct StartLatency {
    pub backend: Backend,
    pub jobs: usize,
    pub latency: Latency,
}

pub async fn run(env: &Env, backend: Backend) -> Result<StartLatency> {
    run_with(env, backend, &ServerOptions::default()).await
}

/// [`run`] against a server started with `opts` (scenario 10: SQLite's
/// commit modes).
pub async fn run_with(env: &Env, backend: Backend, opts: &ServerOptions) -> Result<StartLatency> {
    let (_db, server) = env.fresh_with(backend, opts).await?;
    let jobs = if env.quick { 100 } else { 300 };
    let (got_tx, mut got_rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let c = crate::http::client(server.addr)?;
    let claimers = {
        let (stop, c) = (stop.clone(), c.clone());
        tokio::spawn(spawn_each(CLAIMERS, move |i| {
            let (got_tx, stop, c) = (got_tx.clone(), stop.clone(), c.clone());
            async move {
                let worker = format!("bench-{i}");
                let claim = ClaimRequest {
                    worker_id: Some(worker.clone()),
                    wait_ms: Some(2000),
                    ..Default::default()
                };
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let answer = c.claim(&claim).await?;
                    let at = Instant::now();
                    let Some(job) = answer.job else {
                        continue;
                    };
                    let seq = job.payload["seq"]
                        .as_u64()
                        .ok_or_else(|| anyhow!("job without seq: {}", job.payload))?;
                    let _ = got_tx.send((seq as usize, at));
                    let done = CompleteRequest {
                        worker_id: Some(worker.clone()),
                        lease_token: job.lease_token,
                        result: None,
                    };
                    c.complete(job.id, &done).await?;
                }
                Ok(())
            }
        }))
    };
    // Let every claimer reach its wait.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut samples = Vec::with_capacity(jobs);
    for seq in 0..jobs {
        let job = EnqueueRequest {
            job_type: Some("bench".into()),
            payload: Some(json!({ "seq": seq })),
            ..Default::default()
        };
        let t0 = Instant::now();
        c.enqueue(&job).await?;
        let (got, at) = tokio::time::timeout(Duration::from_secs(10), got_rx.recv())
            .await
            .map_err(|_| anyhow!("job {seq} was not started within 10 s"))?
            .ok_or_else(|| anyhow!("claimers stopped"))?;
        if got != seq {
            bail!("expected job {seq}, a worker started {got}");
        }
        samples.push(at - t0);
        // Let the worker complete it and wait again, so the next enqueue
        // finds waiting claimers (as a fleet at rest would be).
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    // Waiting claimers return within their waitMs.
    tokio::time::timeout(Duration::from_secs(10), claimers)
        .await
        .map_err(|_| anyhow!("claimers did not stop"))???;
    Ok(StartLatency {
        backend,
        jobs,
        latency: Latency::of(samples),
    })
}
