//! What a running worker's tasks share — the claim loop ([`crate::runtime`]),
//! each job ([`crate::job`]) and the background conversations
//! ([`crate::background`]) — and how a run ends. It sits below all three,
//! so none of them reaches up into another.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use client::Client;
use tokio::sync::watch;
use uuid::Uuid;
use wire::{Directive, ReportedState, WorkerDirectiveResponse};

use crate::config::Config;
use crate::fleet::Fleet;
use crate::handler::CheckpointState;
use crate::registry::Registry;
use crate::results::Results;
use crate::shutdown::{ShutdownHandle, StopLevel};

/// Why [`Worker::run`](crate::Worker::run) could not run.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("spool directory {dir}: {source}")]
    Spool { dir: String, source: std::io::Error },
    /// The server looked at the registration and said no (a 4xx): retrying
    /// would not change its answer.
    #[error("the server refused to register this worker: {0}")]
    Register(client::Error),
}

/// How [`Worker::run`](crate::Worker::run) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Drained: every job it had started finished and was reported (or
    /// spooled). The binary exits 0.
    Drained,
    /// Stopped at once: running jobs were abandoned; their leases expire and
    /// the server requeues them.
    Stopped,
}

/// The state of one running worker, shared by its tasks.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) registry: Registry,
    /// One client (one connection pool) for every conversation.
    pub(crate) api: Client,
    pub(crate) fleet: Fleet,
    pub(crate) results: Results,
    pub(crate) boot_id: String,
    pub(crate) directive: watch::Sender<Directive>,
    pub(crate) shutdown: ShutdownHandle,
    /// Jobs this process is running now (reported in worker heartbeats),
    /// each with its checkpoint (whether it is held: a quiesce is applied
    /// once every one is).
    active: Mutex<BTreeMap<Uuid, Arc<CheckpointState>>>,
    /// The last pause version applied (see [`Shared::applied_version`]).
    applied: Mutex<i64>,
}

impl Shared {
    pub(crate) fn new(
        config: Config,
        registry: Registry,
        api: Client,
        results: Results,
        shutdown: ShutdownHandle,
    ) -> Shared {
        Shared {
            fleet: Fleet::new(config.pause_poll_interval).claiming_from(config.queues.clone()),
            results,
            api,
            registry,
            boot_id: Uuid::new_v4().to_string(),
            directive: watch::Sender::new(Directive::Run),
            shutdown,
            active: Mutex::default(),
            applied: Mutex::new(0),
            config,
        }
    }

    /// `--types`, or every registered type.
    pub(crate) fn claim_types(&self) -> Vec<String> {
        if self.config.types.is_empty() {
            self.registry.types()
        } else {
            self.config.types.clone()
        }
    }

    /// `--queues`, or `None`: every queue.
    pub(crate) fn claim_queues(&self) -> Option<&[String]> {
        (!self.config.queues.is_empty()).then_some(self.config.queues.as_slice())
    }

    /// Whether every queue this worker claims from is paused (never when it
    /// claims from every queue).
    pub(crate) fn own_queues_paused(&self) -> bool {
        self.claim_queues()
            .is_some_and(|q| self.fleet.all_paused(q))
    }

    pub(crate) fn active_jobs(&self) -> Vec<Uuid> {
        lock(&self.active).keys().copied().collect()
    }

    /// Counts `job` as active until the returned guard is dropped — however
    /// its task ends, even aborted.
    pub(crate) fn track(
        self: &Arc<Self>,
        job: Uuid,
        checkpoint: Arc<CheckpointState>,
    ) -> ActiveGuard {
        lock(&self.active).insert(job, checkpoint);
        ActiveGuard(self.clone(), job)
    }

    /// The global pause version this worker has applied, as of now
    /// ([`crate::fleet::FleetView::applied_version`] over its running jobs'
    /// checkpoints). It only grows.
    pub(crate) fn applied_version(&self) -> i64 {
        let view = self.fleet.current();
        let mut applied = lock(&self.applied);
        let active = lock(&self.active);
        let holding = active.values().map(|c| c.holding.load(Ordering::SeqCst));
        *applied = view.applied_version(holding, *applied);
        *applied
    }

    /// Drain requested by the operator (directive) or the process owner.
    pub(crate) fn stop_level(&self) -> StopLevel {
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

    /// Takes in a register or worker-heartbeat answer (its `pausedQueues`
    /// speak for every queue).
    pub(crate) fn apply(&self, resp: &WorkerDirectiveResponse) {
        self.fleet.observe(&resp.system);
        self.fleet.observe_queues(None, &resp.system.paused_queues);
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

/// Removes a job from the active set when dropped.
pub(crate) struct ActiveGuard(Arc<Shared>, Uuid);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        lock(&self.0.active).remove(&self.1);
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
