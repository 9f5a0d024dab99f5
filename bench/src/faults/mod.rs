//! Fault scenarios: crash and outage safety with real processes.
//!
//! Each scenario runs a mixed load (producers enqueue, workers claim and
//! complete, an operator pauses and resumes) while something breaks, then
//! checks three things against the database:
//! - **no acknowledged job lost**: every enqueue answered 201 is stored, and
//!   every completion answered 200 is stored as succeeded;
//! - **no job granted while paused**: no claim sent after a pause answer
//!   arrived (and before the next resume was sent) received a job;
//! - **pause state and audit log intact**: the audit log's pause/resume
//!   versions run 2, 3, 4, … without a gap, the state row carries the last
//!   one and agrees with its action, and every acknowledged change is in it.
//!
//! [`Size::Smoke`] keeps each scenario to a few seconds (`cargo test`);
//! [`Size::Full`] is what `lull-bench` runs.

mod cases;

pub use cases::*;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use client::Client;
use wire::{ClaimRequest, CompleteRequest, EnqueueRequest, PauseMode, PauseRequest};

use crate::db::{Backend, Pool};
use crate::ledger::{Claim, Ledger};

/// How long and how hard a fault scenario runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// A few seconds each: the `cargo test` smoke run.
    Smoke,
    /// The bench run.
    Full,
}

impl Size {
    /// `smoke` or `full` of anything (durations, counts).
    pub fn pick<T>(self, smoke: T, full: T) -> T {
        match self {
            Size::Smoke => smoke,
            Size::Full => full,
        }
    }
}

/// What the fault scenarios need.
#[derive(Debug, Clone)]
pub struct FaultEnv {
    pub lull: PathBuf,
    /// Admin URL of the PostgreSQL; `None` skips the PostgreSQL scenarios.
    pub pg_admin: Option<String>,
    pub size: Size,
}

/// The result of one scenario, for the report.
#[derive(Debug, Clone)]
pub struct FaultOutcome {
    pub name: &'static str,
    pub backend: Backend,
    /// `Ok(summary)` when every check held; `Err(why)` otherwise.
    pub result: Result<String, String>,
    /// Skipped (with the reason) rather than run.
    pub skipped: Option<String>,
    pub took: Duration,
}

/// A small deterministic pseudo-random sequence (kill timings): the same
/// run twice kills at the same offsets.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Lcg {
        Lcg(seed.wrapping_mul(6364136223846793005).wrapping_add(1))
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

/// Background load: producers and workers, spread over `addrs`, recording
/// every acknowledgement in the ledger. Errors (a dead server, a database
/// outage) are expected: the request is simply not acknowledged and the
/// task retries after a short pause.
pub struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    pub fn start(
        addrs: &[SocketAddr],
        producers: usize,
        workers: usize,
        ledger: &Arc<Ledger>,
    ) -> Result<Load> {
        let stop = Arc::new(AtomicBool::new(false));
        // Bounded whatever happens to the caller.
        let hard_stop = Instant::now() + Duration::from_secs(300);
        // One client per server, shared by the tasks that use it.
        let clients = addrs
            .iter()
            .map(|a| crate::http::client(*a))
            .collect::<Result<Vec<_>>>()?;
        let mut tasks = Vec::new();
        for p in 0..producers {
            let (c, stop, ledger) = (
                clients[p % clients.len()].clone(),
                stop.clone(),
                ledger.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let job = EnqueueRequest {
                    job_type: Some("fault".into()),
                    ..Default::default()
                };
                while !stop.load(Ordering::SeqCst) && Instant::now() < hard_stop {
                    match c.enqueue(&job).await {
                        Ok(j) => ledger.enqueued(j.id),
                        Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
            }));
        }
        for w in 0..workers {
            let server = w % clients.len();
            let (c, stop, ledger) = (clients[server].clone(), stop.clone(), ledger.clone());
            tasks.push(tokio::spawn(async move {
                let worker = format!("fault-w{w}");
                // Short leases: jobs held by a killed server's workers come
                // back quickly.
                let claim = ClaimRequest {
                    worker_id: Some(worker.clone()),
                    lease_seconds: Some(5),
                    ..Default::default()
                };
                while !stop.load(Ordering::SeqCst) && Instant::now() < hard_stop {
                    let sent = Instant::now();
                    let Ok(answer) = c.claim(&claim).await else {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    };
                    ledger.claim(Claim {
                        sent,
                        job: answer.job.as_ref().map(|j| j.id),
                        server,
                    });
                    let Some(job) = answer.job else {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    };
                    let done = CompleteRequest {
                        worker_id: Some(worker.clone()),
                        lease_token: job.lease_token,
                        result: None,
                    };
                    if c.complete(job.id, &done).await.is_ok() {
                        ledger.completed(job.id);
                    }
                }
            }));
        }
        Ok(Load { stop, tasks })
    }

    pub async fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.tasks {
            // A task stuck on a dead connection ends with its request
            // timeout; do not wait longer than that.
            let _ = tokio::time::timeout(crate::http::REQUEST_TIMEOUT * 2, t).await;
        }
    }
}

/// Pauses through `c`, retrying until acknowledged (a retry of the same
/// pause is a no-op, so retrying is safe), and records the window.
pub async fn pause_until_acked(c: &Client, ledger: &Ledger, reason: &str) -> Result<i64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let req = PauseRequest::pause(PauseMode::Drain, reason);
    loop {
        if let Ok(status) = c.change_pause(&req).await {
            ledger.pause_acked(Instant::now(), status.version);
            return Ok(status.version);
        }
        if Instant::now() > deadline {
            bail!("no pause acknowledged within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Resumes through `c`, retrying until acknowledged; the pause window
/// closes when the first attempt is sent.
pub async fn resume_until_acked(c: &Client, ledger: &Ledger, reason: &str) -> Result<i64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let req = PauseRequest::resume(reason, true);
    ledger.resume_sending(Instant::now());
    loop {
        if let Ok(status) = c.change_pause(&req).await {
            ledger.resume_acked(status.version);
            return Ok(status.version);
        }
        if Instant::now() > deadline {
            bail!("no resume acknowledged within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the server answers a storage-backed request again (after an
/// outage): an enqueue succeeds (the job is recorded as acknowledged).
pub async fn wait_healthy(c: &Client, ledger: &Ledger, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    let job = EnqueueRequest {
        job_type: Some("fault".into()),
        ..Default::default()
    };
    loop {
        if let Ok(j) = c.enqueue(&job).await {
            ledger.enqueued(j.id);
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the server did not recover within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What [`verify`] found (all checks passed).
#[derive(Debug, Clone, Default)]
pub struct Verified {
    pub enqueued: usize,
    pub completed: usize,
    pub claims: usize,
    pub claims_while_paused: usize,
    pub pause_changes: usize,
    pub version: i64,
}

impl std::fmt::Display for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} acked enqueues and {} acked completions all stored; {} claims, {} sent while paused, 0 got a job; {} pause/resume events, state at version {}",
            self.enqueued,
            self.completed,
            self.claims,
            self.claims_while_paused,
            self.pause_changes,
            self.version
        )
    }
}

/// The three checks of every fault scenario, against the database.
pub async fn verify(pool: &Pool, ledger: &Ledger) -> Result<Verified> {
    let stored = pool.all_jobs().await?;
    let enqueued = ledger.enqueued_ids();
    let lost: Vec<_> = enqueued
        .iter()
        .filter(|id| !stored.contains_key(id))
        .collect();
    if !lost.is_empty() {
        bail!(
            "{} acknowledged enqueues are missing, e.g. {}",
            lost.len(),
            lost[0]
        );
    }
    let completed = ledger.completed_ids();
    let undone: Vec<_> = completed
        .iter()
        .filter(|id| stored.get(id).map(String::as_str) != Some("succeeded"))
        .collect();
    if !undone.is_empty() {
        bail!(
            "{} acknowledged completions are not stored as succeeded, e.g. {} is {:?}",
            undone.len(),
            undone[0],
            stored.get(undone[0])
        );
    }
    let violations = ledger.violations();
    if let Some(v) = violations.first() {
        bail!(
            "{} claims sent after a pause was acknowledged got a job (first: sent {:.1} ms after the ack, job {:?}, server {})",
            violations.len(),
            v.after_ack_ms,
            v.claim.job,
            v.claim.server
        );
    }
    let (paused, version) = pool.pause_row().await?;
    let audit = pool.audit().await?;
    check_audit(paused, version, &audit, &ledger.acked_versions())?;
    Ok(Verified {
        enqueued: enqueued.len(),
        completed: completed.len(),
        claims: ledger.claims(),
        claims_while_paused: ledger.claims_while_paused(),
        pause_changes: audit.len(),
        version,
    })
}

/// The pause row and the audit log agree, and hold every acknowledged change.
pub fn check_audit(
    paused: bool,
    version: i64,
    audit: &[(String, i64)],
    acked: &[(String, i64)],
) -> Result<()> {
    for (i, (_, v)) in audit.iter().enumerate() {
        if *v != i as i64 + 2 {
            bail!("audit versions are not 2, 3, 4, …: {audit:?}");
        }
    }
    let (last_action, last_version) = audit
        .last()
        .map(|(a, v)| (a.as_str(), *v))
        .unwrap_or(("resume", 1));
    if version != last_version {
        bail!("the state is at version {version}, the audit log at {last_version}");
    }
    if paused != (last_action == "pause") {
        bail!("the state says paused={paused}, the last audit event is a {last_action}");
    }
    for (action, v) in acked {
        match audit.iter().find(|(_, av)| av == v) {
            Some((a, _)) if a == action => {}
            other => bail!(
                "acknowledged {action} at version {v} is not in the audit log (found {other:?})"
            ),
        }
    }
    Ok(())
}

/// The server's view of the pause: (workersPaused, version).
pub async fn status(c: &Client) -> Result<(bool, i64)> {
    let s = c.pause_status().await?;
    Ok((s.workers_paused, s.version))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(a: &str, v: i64) -> (String, i64) {
        (a.to_string(), v)
    }

    #[test]
    fn audit_check_accepts_a_consistent_log_and_rejects_gaps_and_disagreement() {
        let audit = [ev("pause", 2), ev("resume", 3), ev("pause", 4)];
        assert!(check_audit(true, 4, &audit, &[ev("pause", 2), ev("pause", 4)]).is_ok());
        assert!(check_audit(false, 1, &[], &[]).is_ok());
        assert!(check_audit(false, 4, &audit, &[]).is_err(), "paused flag");
        assert!(check_audit(true, 3, &audit, &[]).is_err(), "version");
        let gap = [ev("pause", 2), ev("pause", 4)];
        assert!(check_audit(true, 4, &gap, &[]).is_err(), "gap");
        assert!(
            check_audit(true, 4, &audit, &[ev("resume", 4)]).is_err(),
            "acked change missing"
        );
    }

    #[test]
    fn lcg_is_deterministic_and_bounded() {
        let (mut a, mut b) = (Lcg::new(7), Lcg::new(7));
        for _ in 0..100 {
            let x = a.below(10);
            assert_eq!(x, b.below(10));
            assert!(x < 10);
        }
    }
}
