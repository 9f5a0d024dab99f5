//! The worker process: register, then claim and run jobs until asked to
//! drain (per-worker directive or [`ShutdownHandle`]), while background
//! tasks send worker heartbeats and replay the spool.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use uuid::Uuid;
use wire::{ClaimRequest, Directive, Job, ReportedState, WorkerDirectiveResponse};

use crate::api::{Api, ApiError};
use crate::config::Config;
use crate::fleet::Fleet;
use crate::handler::Registry;
use crate::results::Results;
use crate::shutdown::{ShutdownHandle, StopLevel};
use crate::spool::Spool;

/// An empty claim answer sooner than this means the server did not hold the
/// request (no long-poll, or `--wait-ms 0`): wait out the rest before the
/// next claim rather than spin.
const MIN_CLAIM_CYCLE: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Why [`Worker::run`] could not run.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("spool directory {dir}: {source}")]
    Spool { dir: String, source: std::io::Error },
    #[error("the server refused to register this worker: {0}")]
    Register(ApiError),
}

/// How [`Worker::run`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Drained: every job it had started finished and was reported (or
    /// spooled). The binary exits 0.
    Drained,
    /// Stopped at once: running jobs were abandoned; their leases expire and
    /// the server requeues them.
    Stopped,
}

/// A configured worker, ready to [`run`](Worker::run).
#[derive(Debug)]
pub struct Worker {
    config: Config,
    registry: Registry,
    shutdown: ShutdownHandle,
}

/// What the worker's tasks share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) registry: Registry,
    pub(crate) api: Api,
    pub(crate) fleet: Fleet,
    pub(crate) results: Results,
    pub(crate) boot_id: String,
    pub(crate) directive: watch::Sender<Directive>,
    pub(crate) shutdown: ShutdownHandle,
    /// Jobs this process is running now (reported in worker heartbeats).
    active: Mutex<BTreeSet<Uuid>>,
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
        let api = Api::new(&config.server, config.token.clone())
            .map_err(|e| WorkerError::Config(e.to_string()))?;
        let shared = Arc::new(Shared {
            fleet: Fleet::new(config.pause_poll_interval),
            results: Results {
                api: api.clone(),
                spool,
            },
            api,
            registry: self.registry,
            boot_id: Uuid::new_v4().to_string(),
            directive: watch::Sender::new(Directive::Run),
            shutdown: self.shutdown,
            active: Mutex::default(),
            config,
        });
        tracing::info!(
            worker_id = %shared.config.worker_id,
            server = %shared.config.server,
            types = %shared.claim_types().join(","),
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

impl Shared {
    /// `--types`, or every registered type.
    pub(crate) fn claim_types(&self) -> Vec<String> {
        if self.config.types.is_empty() {
            self.registry.types()
        } else {
            self.config.types.clone()
        }
    }

    pub(crate) fn active_jobs(&self) -> Vec<Uuid> {
        lock(&self.active).iter().copied().collect()
    }

    /// Drain requested by the operator (directive) or the process owner.
    fn stop_level(&self) -> StopLevel {
        let own = self.shutdown.level();
        if own == StopLevel::Run && *self.directive.borrow() == Directive::Drain {
            StopLevel::Drain
        } else {
            own
        }
    }

    pub(crate) fn reported_state(&self) -> ReportedState {
        if self.stop_level() != StopLevel::Run {
            ReportedState::Draining
        } else if *self.directive.borrow() == Directive::Pause
            || self.fleet.current().workers_paused
        {
            ReportedState::Paused
        } else {
            ReportedState::Running
        }
    }

    /// Takes in a register or worker-heartbeat answer.
    pub(crate) fn apply(&self, resp: &WorkerDirectiveResponse) {
        self.fleet.observe(&resp.system);
        self.apply_directive(resp.directive);
    }

    /// Takes in a directive (worker heartbeats, and lease heartbeats, which
    /// carry it too); logs a change once.
    pub(crate) fn apply_directive(&self, next: Directive) {
        self.directive.send_if_modified(|d| {
            if *d == next {
                return false;
            }
            tracing::info!(
                from = directive_name(*d),
                to = directive_name(next),
                "directive from the control plane"
            );
            *d = next;
            true
        });
    }
}

/// As the wire spells it (`run`, `pause`, `drain`), for log fields.
pub(crate) fn directive_name(d: Directive) -> &'static str {
    match d {
        Directive::Run => "run",
        Directive::Pause => "pause",
        Directive::Drain => "drain",
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Removes a job from the active set however its task ends (even aborted).
struct ActiveGuard(Arc<Shared>, Uuid);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        lock(&self.0.active).remove(&self.1);
    }
}

fn spawn_job(shared: &Arc<Shared>, jobs: &mut JoinSet<()>, job: Job, permit: OwnedSemaphorePermit) {
    lock(&shared.active).insert(job.id);
    let guard = ActiveGuard(shared.clone(), job.id);
    let s = shared.clone();
    jobs.spawn(async move {
        let _slot = permit;
        let _active = guard;
        crate::job::run(s, job).await;
    });
}

/// Claims while there is a free slot, until a drain or stop is asked for.
/// A claim already in flight is not cancelled by a drain: the server may
/// have handed out a job, and dropping the answer would strand it until its
/// lease expired (and cost it an attempt). It is bounded by `--wait-ms`.
async fn claim_loop(shared: &Arc<Shared>, jobs: &mut JoinSet<()>) -> Exit {
    let slots = Arc::new(Semaphore::new(shared.config.concurrency));
    let mut stop = shared.shutdown.subscribe();
    let mut directive = shared.directive.subscribe();
    let mut fleet = shared.fleet.subscribe();
    let mut backoff = Duration::from_millis(500);
    let mut failing = false;
    loop {
        while jobs.try_join_next().is_some() {}
        match shared.stop_level() {
            StopLevel::Now => return Exit::Stopped,
            StopLevel::Drain => return Exit::Drained,
            StopLevel::Run => {}
        }
        let permit = tokio::select! {
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
        let req = ClaimRequest {
            worker_id: Some(shared.config.worker_id.clone()),
            types: Some(shared.claim_types()),
            lease_seconds: Some(shared.config.lease_seconds),
            wait_ms: Some(shared.config.wait_ms),
        };
        let sent = Instant::now();
        let answer = tokio::select! {
            a = shared.api.claim(&req) => a,
            () = reached(&mut stop, StopLevel::Now) => return Exit::Stopped,
        };
        let (pause, wake_on_resume) = match answer {
            Ok(resp) => {
                if std::mem::take(&mut failing) {
                    tracing::info!("claims going again");
                }
                backoff = Duration::from_millis(500);
                shared.fleet.observe(&resp.system);
                match resp.job {
                    Some(job) => {
                        spawn_job(shared, jobs, job, permit);
                        continue;
                    }
                    None if resp.system.workers_paused => {
                        tracing::debug!(
                            version = resp.system.version,
                            "fleet still paused; sleeping"
                        );
                        (shared.fleet.poll_interval(), true)
                    }
                    None => (MIN_CLAIM_CYCLE.saturating_sub(sent.elapsed()), false),
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
        let deadline = tokio::time::sleep(pause);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = &mut deadline => break,
                _ = stop.changed() => break,
                _ = directive.changed() => break,
                r = fleet.changed(), if wake_on_resume => {
                    if r.is_err() || !fleet.borrow_and_update().workers_paused {
                        break;
                    }
                }
            }
        }
    }
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
