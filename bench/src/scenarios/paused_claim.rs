//! Scenario 1: the paused claim costs no more than the cheapest endpoint.
//!
//! With the fleet paused, [`CONNECTIONS`] load tasks on one client (so the
//! same connections) alternate between windows of `GET /livez` (the
//! cheapest JSON endpoint: no storage) and windows of
//! `POST /api/queue/jobs/claim`, each answer read as its type. The figure is
//! claim req/s ÷ livez req/s.
//!
//! Database queries are counted with `lull_storage_calls_total` around
//! every window. The server's background timers (pause refresh, metrics
//! tick, rolling-restart step) make storage calls at a fixed rate whatever
//! the load, so the livez windows — which certainly make none — measure
//! that background; the claims' own queries are the claim windows' calls
//! minus the livez windows' calls over the same total time.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use client::Client;
use wire::ClaimRequest;

use super::{pause, secs, spawn_each, storage_calls, Env};
use crate::db::Backend;

/// Connections used for both kinds of window.
pub const CONNECTIONS: usize = 32;
/// Alternating windows of each kind.
const ROUNDS: usize = 3;

#[derive(Debug, Clone)]
pub struct PausedClaim {
    pub backend: Backend,
    pub connections: usize,
    pub window: Duration,
    pub livez_per_sec: f64,
    pub claim_per_sec: f64,
    pub claims: u64,
    /// Storage calls during the claim windows, and during the equally long
    /// livez windows (the background).
    pub calls_claim_windows: u64,
    pub calls_livez_windows: u64,
}

impl PausedClaim {
    pub fn ratio(&self) -> f64 {
        self.claim_per_sec / self.livez_per_sec
    }

    /// Queries attributable to the claims (background subtracted).
    pub fn claim_queries(&self) -> i64 {
        self.calls_claim_windows as i64 - self.calls_livez_windows as i64
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Livez,
    Claim,
}

/// One window: every load task loops until the deadline. Returns the
/// number of requests answered as expected.
async fn window(c: &Client, kind: Kind, length: Duration) -> Result<u64> {
    let deadline = Instant::now() + length;
    let counts = spawn_each(CONNECTIONS, |i| {
        let c = c.clone();
        async move {
            let claim = ClaimRequest {
                worker_id: Some(format!("bench-{i}")),
                ..Default::default()
            };
            let mut ok = 0u64;
            while Instant::now() < deadline {
                match kind {
                    Kind::Livez => {
                        if !c.livez().await?.ok {
                            bail!("/livez answered not ok");
                        }
                    }
                    Kind::Claim => {
                        // A paused claim must answer {"job": null, …}.
                        let r = c.claim(&claim).await?;
                        if let Some(job) = r.job {
                            bail!("a paused claim returned job {}", job.id);
                        }
                    }
                }
                ok += 1;
            }
            Ok(ok)
        }
    })
    .await?;
    Ok(counts.iter().sum())
}

pub async fn run(env: &Env, backend: Backend) -> Result<PausedClaim> {
    let (_db, server) = env.fresh(backend).await?;
    let c = crate::http::client(server.addr)?;
    pause(&c, "benchmark: paused claim cost").await?;
    let length = env.window(Duration::from_secs(4));
    // Warm-up: both paths, not counted.
    window(&c, Kind::Livez, Duration::from_millis(500)).await?;
    window(&c, Kind::Claim, Duration::from_millis(500)).await?;
    let (mut livez, mut claims) = (0u64, 0u64);
    let (mut livez_time, mut claim_time) = (Duration::ZERO, Duration::ZERO);
    let (mut calls_livez, mut calls_claim) = (0u64, 0u64);
    for _ in 0..ROUNDS {
        for kind in [Kind::Livez, Kind::Claim] {
            let before = storage_calls(&c).await?;
            let t = Instant::now();
            let n = window(&c, kind, length).await?;
            let took = t.elapsed();
            let calls = storage_calls(&c).await? - before;
            match kind {
                Kind::Livez => {
                    livez += n;
                    livez_time += took;
                    calls_livez += calls;
                }
                Kind::Claim => {
                    claims += n;
                    claim_time += took;
                    calls_claim += calls;
                }
            }
        }
    }
    Ok(PausedClaim {
        backend,
        connections: CONNECTIONS,
        window: length,
        livez_per_sec: livez as f64 / secs(livez_time),
        claim_per_sec: claims as f64 / secs(claim_time),
        claims,
        calls_claim_windows: calls_claim,
        calls_livez_windows: calls_livez,
    })
}
