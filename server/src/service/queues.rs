//! Named queues: the list (each with its pause and live counts), and one
//! queue's pause and resume — the global pause's semantics applied to that
//! queue's jobs (drain: no new claims of it; quiesce: its running jobs hold
//! at their next checkpoint; `until`; a resume before drained warns and
//! records `forceResume`), audited, and made known to every replica (the
//! storage notice, the periodic refresh, the re-read on reconnect).

use wire::{QueueInfo, QueueList};

use super::{now, Service, ServiceError, ServiceResult, SYSTEM_ACTOR};
use crate::domain::{
    self, LiveCounts, PauseCommand, PauseState, QueueName, QueuePause, QueuePauseCommand,
};
use crate::storage::StoreError;

/// A queue as the API shows it.
pub(super) fn queue_info(
    name: &str,
    state: &PauseState,
    counts: LiveCounts,
    warning: Option<String>,
) -> QueueInfo {
    QueueInfo {
        name: name.to_string(),
        paused: state.workers_paused,
        mode: state.mode.filter(|_| state.workers_paused),
        reason: state.reason.clone(),
        actor: state.requested_by.clone(),
        since: state.paused_at.filter(|_| state.workers_paused),
        until: state.until,
        version: state.version,
        queued: counts.queued,
        scheduled: counts.scheduled,
        running: counts.running,
        stale_running: counts.stale_running,
        is_drained: counts.running == 0 && counts.stale_running == 0,
        warning,
        impact: None,
    }
}

impl Service {
    /// `GET /api/queues`: every queue that has jobs or a pause, by name
    /// (what the dashboard's Queues card shows). Also brings this process's
    /// queue cache up to date.
    pub async fn list_queues(&self) -> ServiceResult<QueueList> {
        let summaries = self.store.list_queues(now()).await?;
        self.queues
            .observe(summaries.iter().map(|s| s.pause.clone()));
        Ok(QueueList {
            queues: summaries
                .iter()
                .map(|s| queue_info(&s.pause.name, &s.pause.state, s.counts, None))
                .collect(),
        })
    }

    /// One queue, whether or not it has jobs (a queue never seen is running
    /// at version 1, empty).
    pub async fn queue_status(&self, name: &QueueName) -> ServiceResult<QueueInfo> {
        let t = now();
        let state = self.store.queue_pause(name.as_str(), t).await?;
        let counts = self.store.live_counts(t, Some(name.as_str())).await?;
        Ok(queue_info(name.as_str(), &state, counts, None))
    }

    /// `POST /api/queues/{name}/pause` and `…/resume` (and the dashboard's
    /// Queues card): pause or resume one queue on an operator's request. A
    /// timed pause must end in the future. Once this has answered, no claim
    /// on any replica hands out a job of a paused queue.
    pub async fn change_queue_pause(
        &self,
        actor: &str,
        cmd: QueuePauseCommand,
    ) -> ServiceResult<QueueInfo> {
        domain::check_until(&cmd.cmd, now())?;
        self.apply_queue_pause(actor, cmd.queue.as_str(), &cmd.cmd)
            .await
    }

    /// What a queue's pause or resume would do (`dryRun`), validated as the
    /// real request (a timed end in the past, a stale `expectedVersion`:
    /// the same refusal). Nothing is written: no event, no new version.
    pub async fn queue_pause_dry_run(
        &self,
        actor: &str,
        cmd: QueuePauseCommand,
    ) -> ServiceResult<QueueInfo> {
        let t = now();
        domain::check_until(&cmd.cmd, t)?;
        let queue = cmd.queue.as_str();
        let state = self.store.queue_pause(queue, t).await?;
        let counts = self.store.live_counts(t, Some(queue)).await?;
        let fleet = self.store.list_workers().await?;
        let metrics = counts.drain_metrics();
        let impact = domain::acknowledgement::queue_pause_impact(
            queue,
            &state,
            metrics,
            &fleet,
            &cmd.cmd,
            actor,
            t,
            self.stale_after(),
        )
        .map_err(
            |domain::DecideError::VersionConflict { expected, current }| {
                ServiceError::QueueVersionConflict {
                    queue: queue.to_string(),
                    expected,
                    current,
                }
            },
        )?;
        let mut info = queue_info(queue, &state, counts, None);
        info.impact = Some(impact);
        Ok(info)
    }

    /// Applies a queue pause command (an operator's, or the end of a timed
    /// pause), keeps the cache current (which wakes this process's waiting
    /// claims) and logs what happened.
    async fn apply_queue_pause(
        &self,
        actor: &str,
        queue: &str,
        cmd: &PauseCommand,
    ) -> ServiceResult<QueueInfo> {
        let outcome = match self
            .store
            .transition_queue_pause(queue, cmd, actor, now())
            .await
        {
            Ok(o) => o,
            Err(StoreError::VersionConflict { expected, current }) => {
                return Err(ServiceError::QueueVersionConflict {
                    queue: queue.to_string(),
                    expected,
                    current: current.version,
                })
            }
            Err(e) => return Err(e.into()),
        };
        self.queues.observe([QueuePause {
            name: queue.to_string(),
            state: outcome.state.clone(),
        }]);
        match &outcome.event {
            Some(ev) => self.count_change(ev),
            None => tracing::info!(
                actor,
                queue,
                action = cmd.action.name(),
                version = outcome.state.version,
                replayed = outcome.replayed,
                "queue pause request changed nothing"
            ),
        }
        let counts = self.store.live_counts(now(), Some(queue)).await?;
        Ok(queue_info(queue, &outcome.state, counts, outcome.warning))
    }

    /// Re-reads every queue's pause into the cache.
    pub async fn refresh_queue_pauses(&self) {
        match self.store.queue_pauses().await {
            Ok(queues) => {
                if self.queues.observe(queues) {
                    tracing::info!("queue pauses changed elsewhere; cache updated");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not refresh the queue pauses"),
        }
    }

    /// Applies the resumes that end queues' timed pauses, once due. Every
    /// replica proposes them; the version fence applies each once.
    pub(super) async fn resume_queues_if_due(&self) {
        for (queue, cmd) in self.queues.due_resumes(now()) {
            match self.apply_queue_pause(SYSTEM_ACTOR, &queue, &cmd).await {
                Ok(q) => tracing::info!(
                    queue,
                    version = q.version,
                    "timed queue pause ended: the queue resumed by itself"
                ),
                Err(ServiceError::QueueVersionConflict { .. }) => self.refresh_queue_pauses().await,
                Err(e) => {
                    tracing::warn!(error = %e, queue, "could not end a timed queue pause; retrying")
                }
            }
        }
    }
}
