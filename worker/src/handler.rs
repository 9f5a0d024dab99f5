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

use crate::fleet::FleetView;

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
}

/// The running job as its handler sees it.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub(crate) job_id: Uuid,
    pub(crate) job_type: String,
    pub(crate) attempt: i32,
    pub(crate) worker_id: String,
    pub(crate) fleet: watch::Receiver<FleetView>,
    pub(crate) checkpoint: Arc<CheckpointState>,
}

impl JobContext {
    pub fn job_id(&self) -> Uuid {
        self.job_id
    }

    pub fn job_type(&self) -> &str {
        &self.job_type
    }

    /// 1 on the first attempt.
    pub fn attempt(&self) -> i32 {
        self.attempt
    }

    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// A safe stopping point. Returns at once unless the fleet is quiesced;
    /// then it holds (the lease heartbeats go on, reporting
    /// `pausedAtCheckpoint: true`) until the pause clears or turns into a
    /// drain. Call it between steps of long work.
    pub async fn checkpoint(&self) {
        let mut fleet = self.fleet.clone();
        loop {
            let view = *fleet.borrow_and_update();
            if !view.is_quiesced() {
                if self.checkpoint.holding.swap(false, Ordering::SeqCst) {
                    self.checkpoint.changed.notify_one();
                    tracing::info!(job_id = %self.job_id, version = view.version, "leaving checkpoint: fleet no longer quiesced");
                }
                return;
            }
            if !self.checkpoint.holding.swap(true, Ordering::SeqCst) {
                self.checkpoint.changed.notify_one();
                tracing::info!(job_id = %self.job_id, version = view.version, "holding at checkpoint: fleet quiesced");
            }
            if fleet.changed().await.is_err() {
                // The runtime is gone; nothing will ever clear the pause.
                return;
            }
        }
    }

    /// A context outside a worker (for testing handlers): never quiesced.
    pub fn detached(job_type: &str) -> JobContext {
        let (_tx, fleet) = watch::channel(FleetView::default());
        JobContext {
            job_id: Uuid::nil(),
            job_type: job_type.to_string(),
            attempt: 1,
            worker_id: "detached".into(),
            fleet,
            checkpoint: Arc::default(),
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
        ctx.checkpoint().await; // running: returns at once
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
        tokio::time::timeout(Duration::from_secs(5), held)
            .await
            .unwrap()
            .unwrap();
        assert!(!state.holding.load(Ordering::SeqCst));
    }
}
