//! Retention: the background pass that deletes finished jobs older than
//! their status's age (and control events, only when configured), in small
//! batches — each its own short transaction, one server process at a time
//! (see `storage::retention`), never on a claim's or a request's path.

use chrono::{DateTime, Utc};

use super::{Service, ServiceResult};

/// What one retention pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Finished jobs deleted.
    pub jobs: u64,
    /// Control events deleted.
    pub events: u64,
    /// Another server process holds the retention lock: this pass stopped.
    pub skipped: bool,
}

impl Service {
    /// One retention pass as of `now`: per status, batch after batch until a
    /// batch comes back short; stops early (`skipped`) when another server
    /// process is pruning.
    pub async fn prune_once(&self, now: DateTime<Utc>) -> ServiceResult<PruneReport> {
        let batch = self.config.retention_batch.max(1);
        let mut report = PruneReport::default();
        for (status, before) in self.config.retention.job_cutoffs(now) {
            loop {
                let Some(n) = self.store.prune_jobs(status, before, batch).await? else {
                    report.skipped = true;
                    return Ok(report);
                };
                report.jobs += n;
                if n < u64::from(batch) {
                    break;
                }
                // Between batches, let the requests this process serves go first.
                tokio::task::yield_now().await;
            }
        }
        if let Some(before) = self.config.retention.events_cutoff(now) {
            loop {
                let Some(n) = self.store.prune_events(before, batch).await? else {
                    report.skipped = true;
                    return Ok(report);
                };
                report.events += n;
                if n < u64::from(batch) {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        if report.jobs + report.events > 0 {
            tracing::info!(
                jobs = report.jobs,
                events = report.events,
                "retention: deleted finished jobs past their age"
            );
        }
        Ok(report)
    }
}
