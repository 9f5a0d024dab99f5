//! Scenario 4: worker heartbeats from a fleet of [`FLEET`] simulated
//! workers.
//!
//! The workers are registered up front (directly in the database: the
//! figure is about heartbeats, not registrations). Then [`CONNECTIONS`]
//! load tasks on one client (one kept-alive connection each) send
//! `POST /api/workers/{id}/heartbeat` as fast as the server answers, each
//! cycling through its share of the fleet, so every worker heartbeats about
//! equally often. The figure is the sustained rate
//! over the window and the p99 latency of one heartbeat at that rate.

use std::time::{Duration, Instant};

use anyhow::Result;
use wire::{ReportedState, WorkerHeartbeatRequest};

use super::{secs, spawn_each, Env};
use crate::db::Backend;
use crate::proc::ServerOptions;
use crate::stats::Latency;

pub const FLEET: usize = 10_000;
pub const CONNECTIONS: usize = 64;

#[derive(Debug, Clone)]
pub struct Heartbeats {
    pub backend: Backend,
    pub fleet: usize,
    pub connections: usize,
    pub window: Duration,
    pub per_sec: f64,
    pub latency: Latency,
    /// Distinct workers that heartbeated at least once.
    pub workers_seen: usize,
}

pub async fn run(env: &Env, backend: Backend) -> Result<Heartbeats> {
    run_with(env, backend, &ServerOptions::default()).await
}

/// [`run`] against a server started with `opts` (scenario 10: SQLite's
/// commit modes).
pub async fn run_with(env: &Env, backend: Backend, opts: &ServerOptions) -> Result<Heartbeats> {
    let (db, server) = env.fresh_with(backend, opts).await?;
    let pool = db.pool(1).await?;
    pool.insert_workers(FLEET).await?;
    pool.close().await;
    let length = env.window(Duration::from_secs(10));
    let beat = WorkerHeartbeatRequest {
        boot_id: Some("boot-1".into()),
        state: Some(ReportedState::Running),
        ..Default::default()
    };
    let c = crate::http::client(server.addr)?;
    let run_for = |length: Duration| {
        let (beat, c) = (beat.clone(), c.clone());
        spawn_each(CONNECTIONS, move |i| {
            let (beat, c) = (beat.clone(), c.clone());
            async move {
                let start = Instant::now();
                let deadline = start + length;
                let mut samples = Vec::with_capacity(4096);
                let mut next = i;
                while Instant::now() < deadline {
                    let worker = format!("bench-w{next}");
                    let t = Instant::now();
                    c.worker_heartbeat(&worker, &beat).await?;
                    samples.push(t.elapsed());
                    next += CONNECTIONS;
                    if next >= FLEET {
                        next = i;
                    }
                }
                Ok((samples, start.elapsed(), next))
            }
        })
    };
    run_for(Duration::from_millis(500)).await?; // warm-up
    let per_conn = run_for(length).await?;
    let mut all = Vec::new();
    let mut elapsed = Duration::ZERO;
    let mut sent = 0usize;
    for (samples, took, _) in per_conn {
        sent += samples.len();
        elapsed = elapsed.max(took);
        all.extend(samples);
    }
    let rounds = sent / FLEET;
    Ok(Heartbeats {
        backend,
        fleet: FLEET,
        connections: CONNECTIONS,
        window: length,
        per_sec: sent as f64 / secs(elapsed),
        latency: Latency::of(all),
        workers_seen: if rounds >= 1 { FLEET } else { sent },
    })
}
