//! Scenario 1: the paused claim costs no more than the cheapest endpoint.
//!
//! With the fleet paused, the same connections alternate between windows of
//! `GET /livez` (the cheapest JSON endpoint: no storage) and windows of
//! `POST /api/queue/jobs/claim`. The figure is claim req/s ÷ livez req/s.
//!
//! Database queries are counted with `lull_storage_calls_total` around
//! every window. The server's background timers (pause refresh, metrics
//! tick, rolling-restart step) make storage calls at a fixed rate whatever
//! the load, so the livez windows — which certainly make none — measure
//! that background; the claims' own queries are the claim windows' calls
//! minus the livez windows' calls over the same total time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use bytes::Bytes;

use super::{pause, secs, spawn_each, storage_calls, Env};
use crate::db::Backend;
use crate::http::Conn;

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

/// One window: every connection loops until the deadline. Returns the
/// number of requests answered as expected.
async fn window(conns: &mut Vec<Conn>, kind: Kind, length: Duration) -> Result<u64> {
    let taken = std::mem::take(conns);
    let deadline = Instant::now() + length;
    let shared = Arc::new(std::sync::Mutex::new(taken));
    let n = shared.lock().map(|c| c.len()).unwrap_or(0);
    let results = spawn_each(n, |i| {
        let shared = shared.clone();
        async move {
            let mut conn = {
                let mut g = shared.lock().unwrap_or_else(|e| e.into_inner());
                g.pop().ok_or_else(|| anyhow::anyhow!("no connection"))?
            };
            let body = Bytes::from(format!(r#"{{"workerId":"bench-{i}"}}"#));
            let mut ok = 0u64;
            while Instant::now() < deadline {
                let r = match kind {
                    Kind::Livez => conn.get("/livez").await?,
                    Kind::Claim => conn.post_raw("/api/queue/jobs/claim", body.clone()).await?,
                };
                if r.status != 200 {
                    bail!("status {}: {}", r.status, String::from_utf8_lossy(&r.body));
                }
                if let Kind::Claim = kind {
                    // A paused claim must answer {"job":null,...}.
                    if !r.body.starts_with(br#"{"job":null"#) {
                        bail!(
                            "a paused claim returned {}",
                            String::from_utf8_lossy(&r.body)
                        );
                    }
                }
                ok += 1;
            }
            Ok((ok, conn))
        }
    })
    .await?;
    let mut total = 0;
    for (ok, conn) in results {
        total += ok;
        conns.push(conn);
    }
    Ok(total)
}

pub async fn run(env: &Env, backend: Backend) -> Result<PausedClaim> {
    let (_db, server) = env.fresh(backend).await?;
    let mut admin = Conn::connect(server.addr).await?;
    pause(&mut admin, "benchmark: paused claim cost").await?;
    let mut conns = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        conns.push(Conn::connect(server.addr).await?);
    }
    let length = env.window(Duration::from_secs(4));
    // Warm-up: both paths, not counted.
    window(&mut conns, Kind::Livez, Duration::from_millis(500)).await?;
    window(&mut conns, Kind::Claim, Duration::from_millis(500)).await?;
    let (mut livez, mut claims) = (0u64, 0u64);
    let (mut livez_time, mut claim_time) = (Duration::ZERO, Duration::ZERO);
    let (mut calls_livez, mut calls_claim) = (0u64, 0u64);
    for _ in 0..ROUNDS {
        for kind in [Kind::Livez, Kind::Claim] {
            let before = storage_calls(&mut admin).await?;
            let t = Instant::now();
            let n = window(&mut conns, kind, length).await?;
            let took = t.elapsed();
            let calls = storage_calls(&mut admin).await? - before;
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
