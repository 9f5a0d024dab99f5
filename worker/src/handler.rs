//! Handlers: what a job type does. A [`Handler`] gets a [`JobContext`] (its
//! job, and [`JobContext::checkpoint`] for quiesce) and the payload, and
//! returns a JSON result or a [`JobError`]. The registry of handlers by job
//! type is [`crate::registry`].

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::{watch, Notify};
use uuid::Uuid;

use crate::fleet::{FleetView, PausedQueues};
use crate::shutdown::StopLevel;

/// What a job type does. Cancellation is by drop: when the lease is lost or
/// the worker stops at once, the future is dropped at its next `.await`, so
/// hold external resources in guards that clean up on drop.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn run(&self, ctx: JobContext, payload: Value) -> Result<Value, JobError>;
}

/// Plain async closures are handlers too:
/// `registry.register("echo", |_ctx, p| async move { Ok(p) })`.
#[async_trait]
impl<F, Fut> Handler for F
where
    F: Fn(JobContext, Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, JobError>> + Send + 'static,
{
    async fn run(&self, ctx: JobContext, payload: Value) -> Result<Value, JobError> {
        self(ctx, payload).await
    }
}

/// A failed job. `retryable` tells the server whether another attempt may
/// succeed (it retries while attempts remain); `details` travels as the
/// result's `result` field (e.g. a script's output).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct JobError {
    pub message: String,
    pub retryable: bool,
    pub details: Option<Value>,
}

impl JobError {
    /// Another attempt may succeed (a timeout, a flaky dependency).
    pub fn retryable(message: impl Into<String>) -> JobError {
        JobError {
            message: message.into(),
            retryable: true,
            details: None,
        }
    }

    /// Retrying cannot help (a malformed payload).
    pub fn fatal(message: impl Into<String>) -> JobError {
        JobError {
            message: message.into(),
            retryable: false,
            details: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> JobError {
        self.details = Some(details);
        self
    }
}

/// Whether the job is holding at a checkpoint; read by its lease heartbeat.
#[derive(Debug, Default)]
pub(crate) struct CheckpointState {
    pub(crate) holding: AtomicBool,
    /// Wakes the lease heartbeat so the server learns of a hold (or its end)
    /// at once rather than a third of a lease later.
    pub(crate) changed: Notify,
    /// [`JobContext::checkpoint`] answered [`Checkpoint::Stop`]: the job is
    /// handed back, whatever its handler returns is not reported.
    pub(crate) stopped: AtomicBool,
}

/// What [`JobContext::checkpoint`] tells the handler.
#[must_use = "on `Stop` the handler should return at once"]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoint {
    /// Go on with the work.
    Continue,
    /// The worker is going away (SIGTERM, its `drain` directive, a rolling
    /// restart) while this job is held by a quiesce: return now, with any
    /// value. The job is handed back — its outcome is not reported, its
    /// lease expires and the server requeues it — so the worker can exit
    /// instead of holding until its supervisor's deadline.
    Stop,
}

/// The running job as its handler sees it.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub(crate) job_id: Uuid,
    pub(crate) job_type: String,
    pub(crate) queue: String,
    pub(crate) attempt: i32,
    pub(crate) worker_id: String,
    pub(crate) fleet: watch::Receiver<FleetView>,
    /// The paused queues: a quiesce of this job's queue holds it too.
    pub(crate) queues: watch::Receiver<PausedQueues>,
    pub(crate) checkpoint: Arc<CheckpointState>,
    /// The worker's own stop level (SIGTERM, an embedding program's drain).
    pub(crate) shutdown: watch::Receiver<StopLevel>,
    /// The control plane's directive for this worker (`drain`: a drain
    /// action or a rolling restart).
    pub(crate) directive: watch::Receiver<wire::Directive>,
}

impl JobContext {
    pub fn job_id(&self) -> Uuid {
        self.job_id
    }

    pub fn job_type(&self) -> &str {
        &self.job_type
    }

    /// The queue the job came from.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// 1 on the first attempt.
    pub fn attempt(&self) -> i32 {
        self.attempt
    }

    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// A safe stopping point. Returns [`Checkpoint::Continue`] at once
    /// unless the fleet, or this job's queue, is quiesced; then it holds
    /// (the lease heartbeats go on, reporting `pausedAtCheckpoint: true`)
    /// until the pause clears or turns into a drain. Call it between steps
    /// of long work.
    ///
    /// A worker told to drain while a job holds here could never finish
    /// that job before the quiesce ends, so a drain (SIGTERM, the worker's
    /// `drain` directive, a rolling restart) ends the hold with
    /// [`Checkpoint::Stop`]: return at once. Outside a quiesce a drain does
    /// not stop the job; it runs to its end, as a drain promises.
    pub async fn checkpoint(&self) -> Checkpoint {
        let (mut fleet, mut queues) = (self.fleet.clone(), self.queues.clone());
        let (mut shutdown, mut directive) = (self.shutdown.clone(), self.directive.clone());
        let (mut fleet_open, mut queues_open) = (true, true);
        let (mut shutdown_open, mut directive_open) = (true, true);
        loop {
            let view = *fleet.borrow_and_update();
            let queue_version = queues
                .borrow_and_update()
                .get(&self.queue)
                .filter(|q| q.mode == wire::PauseMode::Quiesce)
                .map(|q| q.version);
            if !view.is_quiesced() && queue_version.is_none() {
                if self.checkpoint.holding.swap(false, Ordering::SeqCst) {
                    self.checkpoint.changed.notify_one();
                    tracing::info!(job_id = %self.job_id, version = view.version, queue = %self.queue, "leaving checkpoint: no longer quiesced");
                }
                return Checkpoint::Continue;
            }
            let draining = *shutdown.borrow_and_update() >= StopLevel::Drain
                || *directive.borrow_and_update() == wire::Directive::Drain;
            if draining {
                // `holding` stays set: the job did stop at a safe point, and
                // its last heartbeats say so until the worker exits.
                self.checkpoint.stopped.store(true, Ordering::SeqCst);
                tracing::info!(job_id = %self.job_id, queue = %self.queue, "stopping at checkpoint: the worker is draining while the job is quiesced; the job is handed back (its lease expires and the server requeues it)");
                return Checkpoint::Stop;
            }
            if !self.checkpoint.holding.swap(true, Ordering::SeqCst) {
                self.checkpoint.changed.notify_one();
                match queue_version.filter(|_| !view.is_quiesced()) {
                    Some(v) => {
                        tracing::info!(job_id = %self.job_id, queue = %self.queue, queue_version = v, "holding at checkpoint: queue quiesced")
                    }
                    None => {
                        tracing::info!(job_id = %self.job_id, version = view.version, "holding at checkpoint: fleet quiesced")
                    }
                }
            }
            tokio::select! {
                r = fleet.changed(), if fleet_open => fleet_open = r.is_ok(),
                r = queues.changed(), if queues_open => queues_open = r.is_ok(),
                r = shutdown.changed(), if shutdown_open => shutdown_open = r.is_ok(),
                r = directive.changed(), if directive_open => directive_open = r.is_ok(),
                // The runtime is gone; nothing will ever clear the pause.
                else => return Checkpoint::Continue,
            }
        }
    }

    /// A context outside a worker (for testing handlers): never quiesced.
    pub fn detached(job_type: &str) -> JobContext {
        let (_tx, fleet) = watch::channel(FleetView::default());
        let (_tx, queues) = watch::channel(PausedQueues::new());
        let (_tx, shutdown) = watch::channel(StopLevel::Run);
        let (_tx, directive) = watch::channel(wire::Directive::Run);
        JobContext {
            job_id: Uuid::nil(),
            job_type: job_type.to_string(),
            queue: wire::DEFAULT_QUEUE.to_string(),
            queues,
            attempt: 1,
            worker_id: "detached".into(),
            fleet,
            checkpoint: Arc::default(),
            shutdown,
            directive,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn checkpoint_holds_while_quiesced_and_returns_on_resume() {
        let (tx, rx) = watch::channel(FleetView::default());
        let mut ctx = JobContext::detached("t");
        ctx.fleet = rx;
        assert_eq!(ctx.checkpoint().await, Checkpoint::Continue); // running
        tx.send_replace(FleetView {
            workers_paused: true,
            mode: Some(wire::PauseMode::Quiesce),
            version: 2,
            server_poll_ms: 100,
        });
        let state = ctx.checkpoint.clone();
        let held = tokio::spawn(async move { ctx.checkpoint().await });
        // Wait for the hold to be announced (what the lease heartbeat sees).
        tokio::time::timeout(Duration::from_secs(5), state.changed.notified())
            .await
            .unwrap();
        assert!(state.holding.load(Ordering::SeqCst));
        assert!(!held.is_finished());
        tx.send_replace(FleetView {
            version: 3,
            ..FleetView::default()
        });
        let said = tokio::time::timeout(Duration::from_secs(5), held)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(said, Checkpoint::Continue);
        assert!(!state.holding.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn checkpoint_holds_while_its_queue_is_quiesced_only() {
        let (tx, rx) = watch::channel(PausedQueues::new());
        let mut ctx = JobContext::detached("t");
        ctx.queue = "a".into();
        ctx.queues = rx;
        let pause = |name: &str, mode| wire::PausedQueue {
            name: name.into(),
            mode,
            reason: None,
            version: 2,
        };
        // Another queue's quiesce, and a drain of its own: no hold.
        tx.send_replace(
            [
                ("b".to_string(), pause("b", wire::PauseMode::Quiesce)),
                ("a".to_string(), pause("a", wire::PauseMode::Drain)),
            ]
            .into(),
        );
        assert_eq!(ctx.checkpoint().await, Checkpoint::Continue);
        tx.send_replace([("a".to_string(), pause("a", wire::PauseMode::Quiesce))].into());
        let state = ctx.checkpoint.clone();
        let held = tokio::spawn(async move { ctx.checkpoint().await });
        tokio::time::timeout(Duration::from_secs(5), state.changed.notified())
            .await
            .unwrap();
        assert!(state.holding.load(Ordering::SeqCst));
        assert!(!held.is_finished());
        tx.send_replace(PausedQueues::new());
        let said = tokio::time::timeout(Duration::from_secs(5), held)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(said, Checkpoint::Continue);
        assert!(!state.holding.load(Ordering::SeqCst));
    }

    fn quiesced() -> FleetView {
        FleetView {
            workers_paused: true,
            mode: Some(wire::PauseMode::Quiesce),
            version: 2,
            server_poll_ms: 100,
        }
    }

    /// A job held under a quiesce, with the worker's stop level and
    /// directive under the test's control.
    fn held_context() -> (
        JobContext,
        watch::Sender<FleetView>,
        watch::Sender<StopLevel>,
        watch::Sender<wire::Directive>,
    ) {
        let mut ctx = JobContext::detached("t");
        let (fleet, rx) = watch::channel(quiesced());
        ctx.fleet = rx;
        let (stop, rx) = watch::channel(StopLevel::Run);
        ctx.shutdown = rx;
        let (directive, rx) = watch::channel(wire::Directive::Run);
        ctx.directive = rx;
        (ctx, fleet, stop, directive)
    }

    async fn wait_held(state: &CheckpointState) {
        tokio::time::timeout(Duration::from_secs(5), state.changed.notified())
            .await
            .unwrap();
        assert!(state.holding.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_drain_ends_a_hold_with_stop() {
        // SIGTERM (the worker's own drain) and the control plane's drain
        // directive each release a held job with `Stop`.
        for by_directive in [false, true] {
            let (ctx, _fleet, stop, directive) = held_context();
            let state = ctx.checkpoint.clone();
            let held = tokio::spawn(async move { ctx.checkpoint().await });
            wait_held(&state).await;
            assert!(!held.is_finished());
            if by_directive {
                directive.send_replace(wire::Directive::Drain);
            } else {
                stop.send_replace(StopLevel::Drain);
            }
            let said = tokio::time::timeout(Duration::from_secs(5), held)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(said, Checkpoint::Stop, "by directive: {by_directive}");
            assert!(state.stopped.load(Ordering::SeqCst));
        }
    }

    #[tokio::test]
    async fn a_draining_worker_stops_at_a_quiesced_checkpoint_at_once() {
        let (ctx, _fleet, stop, _directive) = held_context();
        stop.send_replace(StopLevel::Drain);
        assert_eq!(ctx.checkpoint().await, Checkpoint::Stop);
    }

    #[tokio::test]
    async fn outside_a_quiesce_a_drain_lets_the_job_go_on() {
        let (ctx, fleet, stop, directive) = held_context();
        fleet.send_replace(FleetView::default());
        stop.send_replace(StopLevel::Drain);
        directive.send_replace(wire::Directive::Drain);
        assert_eq!(ctx.checkpoint().await, Checkpoint::Continue);
        assert!(!ctx.checkpoint.stopped.load(Ordering::SeqCst));
    }
}
