//! Retention: the background pass that deletes finished jobs older than
//! their status's age, finished worker result records as old as the
//! longest-kept finished job, and control events (only when configured), in small
//! batches — each its own short transaction, one server process at a time
//! (see `storage::retention`), never on a claim's or a request's path.

use chrono::{DateTime, Utc};

use super::{Service, ServiceResult};

/// What one retention pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Finished jobs deleted.
    pub jobs: u64,
    /// Finished worker result records deleted.
    pub results: u64,
    /// Control events deleted.
    pub events: u64,
    /// Another server process holds the retention lock: this pass stopped.
    pub skipped: bool,
}

/// One kind of record a pass prunes, with its cutoff.
enum Target<'a> {
    Jobs(&'a str),
    Results,
    Events,
}

impl Service {
    /// One retention pass as of `now`: finished jobs per status, then
    /// finished result records, then control events (when configured) —
    /// each batch after batch until a batch comes back short; stops early
    /// (`skipped`) when another server process is pruning.
    pub async fn prune_once(&self, now: DateTime<Utc>) -> ServiceResult<PruneReport> {
        let policy = &self.config.retention;
        let mut targets: Vec<(Target<'_>, DateTime<Utc>)> = policy
            .job_cutoffs(now)
            .into_iter()
            .map(|(status, before)| (Target::Jobs(status), before))
            .collect();
        targets.extend(policy.results_cutoff(now).map(|b| (Target::Results, b)));
        targets.extend(policy.events_cutoff(now).map(|b| (Target::Events, b)));
        let mut report = PruneReport::default();
        for (target, before) in targets {
            let Some(n) = self.prune_all(&target, before).await? else {
                report.skipped = true;
                return Ok(report);
            };
            match target {
                Target::Jobs(_) => report.jobs += n,
                Target::Results => report.results += n,
                Target::Events => report.events += n,
            }
        }
        if report.jobs + report.results + report.events > 0 {
            tracing::info!(
                jobs = report.jobs,
                results = report.results,
                events = report.events,
                "retention: deleted records past their age"
            );
        }
        Ok(report)
    }

    /// Batches of one target until a batch comes back short; `None` when
    /// another process holds the retention lock.
    async fn prune_all(
        &self,
        target: &Target<'_>,
        before: DateTime<Utc>,
    ) -> ServiceResult<Option<u64>> {
        let batch = self.config.retention_batch.max(1);
        let mut total = 0;
        loop {
            let n = match target {
                Target::Jobs(status) => self.store.prune_jobs(status, before, batch).await?,
                Target::Results => self.store.prune_results(before, batch).await?,
                Target::Events => self.store.prune_events(before, batch).await?,
            };
            let Some(n) = n else { return Ok(None) };
            total += n;
            if n < u64::from(batch) {
                return Ok(Some(total));
            }
            // Between batches, let the requests this process serves go first.
            tokio::task::yield_now().await;
        }
    }
}
