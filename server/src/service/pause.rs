//! The global pause: its status (state, drain metrics, latest audit
//! events), pause and resume, and the audit log.

use wire::{AuditBlock, ControlEvent, EventsPage, WorkerPauseStatus};

use super::{now, Service, ServiceError, ServiceResult};
use crate::domain::{self, EventFilter, PageLimit, PauseCommand, PauseState};
use crate::storage::StoreError;

/// How often a `waitApplied` status request re-reads the fleet.
const ACK_POLL: std::time::Duration = std::time::Duration::from_millis(250);

impl Service {
    /// The full status: state read from storage (authoritative), drain
    /// metrics and the latest audit events.
    pub async fn pause_status(&self) -> ServiceResult<WorkerPauseStatus> {
        let state = self.store.pause_state().await?;
        self.cache.observe(state.clone());
        self.status_of(state, None).await
    }

    /// The status, held until every online worker has applied the current
    /// version or `wait` has passed (`GET …?waitApplied=`): the answer is
    /// the status at that moment, its `acknowledgement.complete` saying
    /// which. Re-read every [`ACK_POLL`] (workers report through their
    /// heartbeats, which wake nothing here) and at once on a new version.
    pub async fn pause_status_applied(
        &self,
        wait: Option<std::time::Duration>,
    ) -> ServiceResult<WorkerPauseStatus> {
        let Some(wait) = wait else {
            return self.pause_status().await;
        };
        let deadline = tokio::time::Instant::now() + wait;
        let mut versions = self.cache.subscribe();
        loop {
            versions.mark_unchanged();
            let status = self.pause_status().await?;
            let complete = status.acknowledgement.as_ref().is_none_or(|a| a.complete);
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if complete || left.is_zero() {
                return Ok(status);
            }
            tokio::select! {
                () = tokio::time::sleep(left.min(ACK_POLL)) => {}
                _ = versions.changed() => {}
            }
        }
    }

    /// What a pause or resume would do (`dryRun`), validated as the real
    /// request is (a timed pause in the past, a version conflict: the same
    /// refusal). Nothing is written: no event, no new version.
    pub async fn pause_dry_run(
        &self,
        actor: &str,
        cmd: PauseCommand,
    ) -> ServiceResult<WorkerPauseStatus> {
        let t = now();
        domain::check_until(&cmd, t)?;
        let state = self.store.pause_state().await?;
        let metrics = self.store.live_counts(t, None).await?.drain_metrics();
        let fleet = self.store.list_workers().await?;
        let stale = self.stale_after();
        match domain::pause_impact(&state, metrics, &fleet, &cmd, actor, t, stale) {
            Ok(impact) => {
                let mut status = self.status_of(state, None).await?;
                status.impact = Some(impact);
                Ok(status)
            }
            Err(domain::DecideError::VersionConflict { expected, .. }) => {
                Err(ServiceError::VersionConflict {
                    expected,
                    current: Box::new(self.status_of(state, None).await?),
                })
            }
        }
    }

    async fn status_of(
        &self,
        state: PauseState,
        warning: Option<String>,
    ) -> ServiceResult<WorkerPauseStatus> {
        let t = now();
        let fleet = self.store.list_workers().await?;
        let acknowledgement = domain::acknowledgement(state.version, &fleet, t, self.stale_after());
        let metrics = self.store.live_counts(t, None).await?.drain_metrics();
        let latest = self
            .store
            .list_events(self.config.audit_latest, None)
            .await?;
        Ok(WorkerPauseStatus {
            workers_paused: state.workers_paused,
            mode: state.mode,
            reason: state.reason,
            version: state.version,
            requested_by: state.requested_by,
            requested_at: state.requested_at,
            updated_at: state.updated_at,
            metrics,
            audit: AuditBlock { latest },
            warning,
            until: state.until,
            acknowledgement: Some(acknowledgement),
            impact: None,
        })
    }

    /// Pause or resume on an operator's request. See [`domain::decide`] for
    /// the rules; a timed pause must end in the future.
    pub async fn change_pause(
        &self,
        actor: &str,
        cmd: PauseCommand,
    ) -> ServiceResult<WorkerPauseStatus> {
        domain::check_until(&cmd, now())?;
        self.apply_pause(actor, &cmd).await
    }

    /// Applies a pause command (an operator's, the runbook's, or the end of
    /// a timed pause), keeps the cache current and logs what happened.
    pub(super) async fn apply_pause(
        &self,
        actor: &str,
        cmd: &PauseCommand,
    ) -> ServiceResult<WorkerPauseStatus> {
        let outcome = match self.store.transition_pause(cmd, actor, now()).await {
            Ok(o) => o,
            Err(StoreError::VersionConflict { expected, current }) => {
                let current = self.status_of(*current, None).await?;
                tracing::info!(
                    actor,
                    expected,
                    version = current.version,
                    "pause request refused: version conflict"
                );
                return Err(ServiceError::VersionConflict {
                    expected,
                    current: Box::new(current),
                });
            }
            Err(e) => return Err(e.into()),
        };
        self.cache.observe(outcome.state.clone());
        self.set_pause_gauges();
        match &outcome.event {
            Some(ev) => self.count_change(ev),
            None => {
                self.metrics.pause_action("noop");
                tracing::info!(
                    actor,
                    action = cmd.action.name(),
                    version = outcome.state.version,
                    replayed = outcome.replayed,
                    "pause request changed nothing"
                );
            }
        }
        self.status_of(outcome.state, outcome.warning).await
    }

    /// Counts and logs an applied pause or resume, of the fleet or of a
    /// queue.
    pub(super) fn count_change(&self, ev: &ControlEvent) {
        match ev.action.as_str() {
            "pause" => self.metrics.pause_action("pause"),
            "queue.pause" => self.metrics.queue_pause_action("pause"),
            "queue.resume" => self.metrics.queue_pause_action("resume"),
            _ => {
                self.metrics.pause_action("resume");
                if ev.force_resume {
                    self.metrics.pause_action("force_resume");
                }
            }
        }
        // One line for the fleet's and a queue's changes: `queue` is empty
        // for the fleet.
        tracing::info!(
            actor = %ev.actor,
            action = %ev.action,
            queue = ev.queue.as_deref().unwrap_or(""),
            mode = ev.mode.map(|m| m.as_str()).unwrap_or(""),
            // A `str` value: the text format escapes it (quoted, `\n` as
            // text), so a reason cannot forge log lines; JSON stays a string.
            reason = ev.reason.as_str(),
            version = ev.version,
            force_resume = ev.force_resume,
            running = ev.metrics.running,
            stale_running = ev.metrics.stale_running,
            "pause state changed"
        );
    }

    /// The audit log, newest first, paged by event id.
    pub async fn events(&self, limit: PageLimit, before: Option<i64>) -> ServiceResult<EventsPage> {
        self.search_events(&EventFilter::default(), limit, before)
            .await
    }

    /// The audit log's events matching `filter` (action, actor), newest
    /// first, paged by event id among the matches.
    pub async fn search_events(
        &self,
        filter: &EventFilter,
        limit: PageLimit,
        before: Option<i64>,
    ) -> ServiceResult<EventsPage> {
        let limit = limit.get();
        let events: Vec<ControlEvent> = self.store.search_events(filter, limit, before).await?;
        let next_before = if events.len() as u32 == limit {
            events.last().map(|e| e.id)
        } else {
            None
        };
        Ok(EventsPage {
            events,
            next_before,
        })
    }
}
