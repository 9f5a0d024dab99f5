//! The worker process: register, then claim and run jobs until asked to
//! drain (per-worker directive or [`ShutdownHandle`]), while background
//! tasks send worker heartbeats and replay the spool.

use std::sync::Arc;
use std::time::{Duration, Instant};

use client::Client;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use wire::{ClaimManyRequest, ClaimRequest, ClaimResponse, Directive, Job};

use crate::config::Config;
use crate::handler::CheckpointState;
use crate::registry::Registry;
use crate::results::Results;
use crate::shared::Shared;
pub use crate::shared::{Exit, WorkerError};
use crate::shutdown::{ShutdownHandle, StopLevel};
use crate::spool::Spool;

/// An empty claim answer sooner than this means the server did not hold the
/// request (no long-poll, or `--wait-ms 0`): wait out the rest before the
/// next claim rather than spin.
const MIN_CLAIM_CYCLE: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Timeout of every request but a long-poll claim (which gets its
/// `waitMs` on top: the server may answer a little after it).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A configured worker, ready to [`run`](Worker::run).
#[derive(Debug)]
pub struct Worker {
    config: Config,
    registry: Registry,
    shutdown: ShutdownHandle,
}

impl Worker {
    /// Checks the configuration against the registry (claiming a type with
    /// no handler would only fail jobs).
    pub fn new(config: Config, registry: Registry) -> Result<Worker, WorkerError> {
        if registry.types().is_empty() {
            return Err(WorkerError::Config("no handler is registered".into()));
        }
        if let Some(t) = config.types.iter().find(|t| registry.get(t).is_none()) {
            return Err(WorkerError::Config(format!(
                "--types names {t:?}, but no handler is registered for it (known: {})",
                registry.types().join(", ")
            )));
        }
        Ok(Worker {
            config,
            registry,
            shutdown: ShutdownHandle::default(),
        })
    }

    /// Asks the running worker to drain or stop.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Runs until drained (directive `drain` or [`ShutdownHandle::drain`])
    /// or stopped at once.
    pub async fn run(self) -> Result<Exit, WorkerError> {
        let config = self.config;
        let spool = Spool::open(&config.spool_dir).map_err(|source| WorkerError::Spool {
            dir: config.spool_dir.display().to_string(),
            source,
        })?;
        let api = Client::builder(&config.server)
            .token_opt(config.token.clone())
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| WorkerError::Config(e.to_string()))?;
        let results = Results {
            api: api.clone(),
            spool,
        };
        let shared = Arc::new(Shared::new(
            config,
            self.registry,
            api,
            results,
            self.shutdown,
        ));
        tracing::info!(
            worker_id = %shared.config.worker_id,
            server = %shared.config.server,
            types = %shared.claim_types().join(","),
            queues = %shared.claim_queues().map_or("*".to_string(), |q| q.join(",")),
            concurrency = shared.config.concurrency,
            spool_dir = %shared.config.spool_dir.display(),
            "worker starting"
        );
        if let Some(exit) = crate::background::register(&shared).await? {
            return Ok(exit);
        }
        let (done, done_rx) = watch::channel(false);
        let heartbeats = tokio::spawn(crate::background::heartbeats(
            shared.clone(),
            done_rx.clone(),
        ));
        let replay = tokio::spawn(crate::background::replay(shared.clone(), done_rx));

        let mut jobs = JoinSet::new();
        let mut exit = claim_loop(&shared, &mut jobs).await;
        if exit == Exit::Drained && !jobs.is_empty() {
            tracing::info!(
                running = jobs.len(),
                "draining: waiting for running jobs to finish"
            );
            exit = finish_jobs(&shared, &mut jobs).await;
        }
        if exit == Exit::Stopped {
            tracing::warn!(
                abandoned = jobs.len(),
                "stopping at once: running jobs abandoned"
            );
            jobs.abort_all();
        }
        while jobs.join_next().await.is_some() {}
        let _ = done.send(true);
        let _ = heartbeats.await;
        let _ = replay.await;
        crate::background::farewell(&shared, exit).await;
        Ok(exit)
    }
}

/// Runs `job` in its own task, holding its slot (`None` only for a job the
/// server handed out beyond the claim's `limit`, which it never does: such a
/// job still runs, since dropping it would strand it).
fn spawn_job(
    shared: &Arc<Shared>,
    jobs: &mut JoinSet<()>,
    job: Job,
    permit: Option<OwnedSemaphorePermit>,
) {
    let checkpoint = Arc::new(CheckpointState::default());
    let guard = shared.track(job.id, checkpoint.clone());
    let s = shared.clone();
    jobs.spawn(async move {
        let _slot = permit;
        let _active = guard;
        crate::job::run(s, job, checkpoint).await;
    });
}

/// Claims while there is a free slot, until a drain or stop is asked for.
/// One request asks for as many jobs as there are free slots (a batch claim
/// when that is more than one), so a busy worker does not pay a round trip
/// per job. A claim already in flight is not cancelled by a drain: the
/// server may have handed out jobs, and dropping the answer would strand
/// them until their leases expired (and cost each an attempt). It is
/// bounded by `--wait-ms`, and every job of its answer is run.
async fn claim_loop(shared: &Arc<Shared>, jobs: &mut JoinSet<()>) -> Exit {
    let slots = Arc::new(Semaphore::new(shared.config.concurrency));
    let mut stop = shared.shutdown.subscribe();
    let mut directive = shared.directive.subscribe();
    let mut fleet = shared.fleet.subscribe();
    let mut queues = shared.fleet.subscribe_queues();
    let mut backoff = Duration::from_millis(500);
    let mut failing = false;
    loop {
        while jobs.try_join_next().is_some() {}
        match shared.stop_level() {
            StopLevel::Now => return Exit::Stopped,
            StopLevel::Drain => return Exit::Drained,
            StopLevel::Run => {}
        }
        let mut permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return Exit::Drained, // never closed
            },
            _ = stop.changed() => continue,
            _ = directive.changed() => continue,
        };
        if *directive.borrow_and_update() == Directive::Pause {
            drop(permit);
            tokio::select! {
                _ = directive.changed() => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        // Every other slot free right now rides on the same request (this
        // loop is the only taker, so the count cannot shrink meanwhile).
        let free = slots
            .available_permits()
            .min(wire::MAX_CLAIM_BATCH as usize - 1);
        if let Ok(more) = slots.clone().try_acquire_many_owned(free as u32) {
            permit.merge(more);
        }
        let limit = permit.num_permits();
        // "claim sent" / "claim answered" (debug) let an observer tell
        // whether a long poll is in flight.
        tracing::debug!(wait_ms = shared.config.wait_ms, limit, "claim sent");
        let sent = Instant::now();
        let answer = tokio::select! {
            a = claim(shared, limit) => a,
            () = reached(&mut stop, StopLevel::Now) => return Exit::Stopped,
        };
        tracing::debug!(
            ok = answer.is_ok(),
            job = answer
                .as_ref()
                .ok()
                .and_then(|(jobs, _)| jobs.first())
                .map(|j| j.id.to_string()),
            jobs = answer.as_ref().map_or(0, |(jobs, _)| jobs.len()),
            "claim answered"
        );
        let (pause, wake_on_resume) = match answer {
            Ok((claimed, system)) => {
                if std::mem::take(&mut failing) {
                    tracing::info!("claims going again");
                }
                backoff = Duration::from_millis(500);
                shared.fleet.observe(&system);
                shared
                    .fleet
                    .observe_queues(shared.claim_queues(), &system.paused_queues);
                match claimed.len() {
                    1.. => {
                        // Each job takes one slot; the slots left over go
                        // back when `permit` drops. No stop check in
                        // between: every job handed out is run.
                        for job in claimed {
                            let slot = permit.split(1);
                            spawn_job(shared, jobs, job, slot);
                        }
                        continue;
                    }
                    0 if system.workers_paused => {
                        tracing::debug!(version = system.version, "fleet still paused; sleeping");
                        (shared.fleet.poll_interval(), true)
                    }
                    0 if shared.own_queues_paused() => {
                        tracing::debug!("every queue of this worker is paused; sleeping");
                        (shared.fleet.poll_interval(), true)
                    }
                    0 => (MIN_CLAIM_CYCLE.saturating_sub(sent.elapsed()), false),
                }
            }
            Err(e) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!(error = %e, "claim failed; retrying with backoff");
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                (backoff, false)
            }
        };
        drop(permit);
        // Sleep, but wake for a stop, a directive, or (while paused) a resume
        // seen on another channel: a worker or lease heartbeat.
        fleet.borrow_and_update();
        queues.borrow_and_update();
        let still_paused = || shared.fleet.current().workers_paused || shared.own_queues_paused();
        let deadline = tokio::time::sleep(pause);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = &mut deadline => break,
                _ = stop.changed() => break,
                _ = directive.changed() => break,
                r = fleet.changed(), if wake_on_resume => {
                    fleet.borrow_and_update();
                    if r.is_err() || !still_paused() {
                        break;
                    }
                }
                r = queues.changed(), if wake_on_resume => {
                    queues.borrow_and_update();
                    if r.is_err() || !still_paused() {
                        break;
                    }
                }
            }
        }
    }
}

/// One claim request for up to `limit` jobs (`limit` ≥ 1): the plain claim
/// for one, the batch claim for more (it long-polls the same way, answering
/// once at least one job is handed out). Answers the jobs handed out and the
/// `system` block.
async fn claim(
    shared: &Shared,
    limit: usize,
) -> Result<(Vec<Job>, wire::SystemBlock), client::Error> {
    let req = ClaimRequest {
        worker_id: Some(shared.config.worker_id.clone()),
        types: Some(shared.claim_types()),
        queues: shared.claim_queues().map(<[String]>::to_vec),
        lease_seconds: Some(shared.config.lease_seconds),
        wait_ms: Some(shared.config.wait_ms),
        applied_version: Some(shared.applied_version()).filter(|v| *v > 0),
    };
    if limit <= 1 {
        let resp = shared.api.claim(&req).await?;
        return Ok((resp.job.into_iter().collect(), resp.system));
    }
    let req = ClaimManyRequest {
        worker_id: req.worker_id,
        types: req.types,
        queues: req.queues,
        lease_seconds: req.lease_seconds,
        wait_ms: req.wait_ms,
        applied_version: req.applied_version,
        limit: u32::try_from(limit).ok(),
    };
    let ClaimResponse { job, jobs, system } = shared.api.claim_many(&req).await?;
    // `jobs` is always there on a batch answer; `job` (its first) is the
    // fallback should a server leave it out.
    Ok((jobs.unwrap_or_else(|| job.into_iter().collect()), system))
}

/// Waits for the running jobs; a stop request abandons them.
async fn finish_jobs(shared: &Shared, jobs: &mut JoinSet<()>) -> Exit {
    let mut stop = shared.shutdown.subscribe();
    loop {
        tokio::select! {
            next = jobs.join_next() => if next.is_none() { return Exit::Drained },
            () = reached(&mut stop, StopLevel::Now) => return Exit::Stopped,
        }
    }
}

/// Resolves once the stop level is at least `level` (never if the handle is
/// gone, which cannot happen while the worker holds it).
async fn reached(stop: &mut watch::Receiver<StopLevel>, level: StopLevel) {
    if stop.wait_for(|l| *l >= level).await.is_err() {
        std::future::pending::<()>().await;
    }
}
