//! Scenario 5: pause propagation under full claim load.
//!
//! (a) PostgreSQL: two server processes on one database; [`CLAIMERS`]
//! workers claim as fast as they can, half on each server. Each cycle
//! pauses through one server (alternating), keeps the load on for a while,
//! then resumes. Every claim is logged with the instant it was sent; a
//! claim sent after a pause answer arrived (and before the resume was sent)
//! that returned a job is a violation. Target: 0. SQLite runs the same with
//! its one server process.
//!
//! (b) Dashboard live-update subscribers (two per server) hold
//! `GET /api/system/worker-pause/stream` open through the same cycles; the
//! latency of one change is the time from the pause/resume answer to the
//! subscriber receiving a `state` event carrying that version (0 when it
//! arrived first). Target: p99 ≤ 200 ms.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use wire::{ClaimRequest, StreamMessage};

use super::{pause, resume, spawn_each, Env};
use crate::db::{Backend, Database};
use crate::ledger::{Claim, Ledger};
use crate::proc::{Server, ServerOptions};
use crate::stats::Latency;

pub const CLAIMERS: usize = 16;
pub const SUBSCRIBERS_PER_SERVER: usize = 2;

#[derive(Debug, Clone)]
pub struct Propagation {
    pub backend: Backend,
    pub servers: usize,
    pub cycles: usize,
    pub claims: usize,
    pub jobs_granted: usize,
    /// Claims sent while an acknowledged pause was in force.
    pub claims_while_paused: usize,
    pub violations: usize,
    pub subscribers: usize,
    /// Response → `state` event, per subscriber per change.
    pub live_latency: Latency,
    /// Changes a subscriber never saw (must be 0).
    pub live_missed: usize,
}

/// One subscriber's `state` events: (version, arrival).
type Arrivals = Vec<(i64, Instant)>;

/// The version a stream message carries, if it is a `state` message.
fn state_version(msg: &StreamMessage) -> Option<i64> {
    match msg {
        StreamMessage::State { status } => Some(status.version),
        StreamMessage::Metrics { .. } => None,
    }
}

pub async fn run(env: &Env, backend: Backend) -> Result<Propagation> {
    let db = Database::new(backend, &env.pg_admin).await?;
    let nservers = if backend == Backend::Postgres { 2 } else { 1 };
    let mut servers = Vec::new();
    for _ in 0..nservers {
        servers.push(Server::start(&env.lull, &db.url, &ServerOptions::default()).await?);
    }
    let pool = db.pool(1).await?;
    let cycles = if env.quick { 4 } else { 12 };
    // Claims are not completed (the running set just grows): enough jobs
    // for the whole run at a generous upper bound of the claim rate.
    pool.insert_jobs(
        if backend == Backend::Postgres {
            150_000
        } else {
            30_000
        },
        "bench",
    )
    .await?;
    pool.close().await;
    let clients = servers
        .iter()
        .map(|s| crate::http::client(s.addr))
        .collect::<Result<Vec<_>>>()?;

    // (b) subscribers: every state event with its arrival instant.
    let seen: Arc<Mutex<Vec<Arrivals>>> = Arc::default();
    let mut sub_tasks = Vec::new();
    for (k, c) in clients.iter().enumerate() {
        for j in 0..SUBSCRIBERS_PER_SERVER {
            let idx = k * SUBSCRIBERS_PER_SERVER + j;
            seen.lock()
                .map_err(|_| anyhow!("poisoned"))?
                .push(Vec::new());
            let mut stream = c.pause_stream().await?;
            let seen = seen.clone();
            sub_tasks.push(tokio::spawn(async move {
                while let Some(Ok(msg)) = stream.next().await {
                    if let Some(v) = state_version(&msg) {
                        let at = Instant::now();
                        if let Ok(mut s) = seen.lock() {
                            s[idx].push((v, at));
                        }
                    }
                }
            }));
        }
    }

    // (a) claim load on every server.
    let ledger = Arc::new(Ledger::default());
    let stop = Arc::new(AtomicBool::new(false));
    let hard_stop = Instant::now() + Duration::from_secs(120);
    let load = {
        let (ledger, stop, clients) = (ledger.clone(), stop.clone(), clients.clone());
        tokio::spawn(spawn_each(CLAIMERS, move |i| {
            let (ledger, stop) = (ledger.clone(), stop.clone());
            let server = i % clients.len();
            let c = clients[server].clone();
            async move {
                let claim = ClaimRequest {
                    worker_id: Some(format!("bench-{i}")),
                    ..Default::default()
                };
                while !stop.load(Ordering::SeqCst) && Instant::now() < hard_stop {
                    let sent = Instant::now();
                    let job = c.claim(&claim).await?.job.map(|j| j.id);
                    ledger.claim(Claim { sent, job, server });
                }
                Ok(())
            }
        }))
    };

    // (version, acknowledged at) of every change.
    let mut changes = Vec::new();
    let hold = Duration::from_millis(if env.quick { 250 } else { 400 });
    for cycle in 0..cycles {
        tokio::time::sleep(hold).await;
        let admin = &clients[cycle % clients.len()];
        let (v, acked) = pause(admin, &format!("benchmark cycle {cycle}")).await?;
        ledger.pause_acked(acked, v);
        changes.push((v, acked));
        tokio::time::sleep(hold).await;
        ledger.resume_sending(Instant::now());
        let v = resume(admin, &format!("benchmark cycle {cycle} done")).await?;
        changes.push((v, Instant::now()));
        ledger.resume_acked(v);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    load.await.map_err(|e| anyhow!("load panicked: {e}"))??;
    // Let the subscribers receive the last change.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for t in &sub_tasks {
        t.abort();
    }

    let seen = seen.lock().map_err(|_| anyhow!("poisoned"))?.clone();
    let mut samples = Vec::new();
    let mut missed = 0;
    for events in &seen {
        for &(v, acked) in &changes {
            match events.iter().find(|(ev, _)| *ev >= v) {
                Some(&(_, at)) => samples.push(at.saturating_duration_since(acked)),
                None => missed += 1,
            }
        }
    }
    Ok(Propagation {
        backend,
        servers: nservers,
        cycles,
        claims: ledger.claims(),
        jobs_granted: ledger.jobs_granted(),
        claims_while_paused: ledger.claims_while_paused(),
        violations: ledger.violations().len(),
        subscribers: seen.len(),
        live_latency: Latency::of(samples),
        live_missed: missed,
    })
}
