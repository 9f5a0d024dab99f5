//! The job queue, producer and operator side: enqueue (single, unique,
//! batch), read, list, cancel, retry.

use uuid::Uuid;
use wire::{BatchEnqueueResponse, BulkRetryResponse, Enqueued, Job, JobCount};

use super::{now, Service, ServiceError, ServiceResult};
use crate::domain::{self, BatchEnqueue, BulkRetryCommand, JobFilter, JobMatch, NewJob};

/// `NotFound` as "no job with id …".
pub(super) fn no_job(id: Uuid) -> impl FnOnce(crate::storage::StoreError) -> ServiceError {
    ServiceError::not_found(move || format!("no job with id {id}"))
}

impl Service {
    /// Adds a job (or, for a `uniqueKey` a live job holds, answers that
    /// one as a duplicate and adds nothing).
    pub async fn enqueue(&self, job: NewJob) -> ServiceResult<Enqueued> {
        let t = now();
        let mut e = self.store.enqueue(&job, t).await?;
        if !e.duplicate {
            self.jobs_available();
        }
        tracing::debug!(job_id = %e.job.id, job_type = %e.job.job_type, queue = %e.job.queue, duplicate = e.duplicate, "job enqueued");
        e.job = domain::shown(e.job, t);
        Ok(e)
    }

    /// Up to 1,000 jobs in one transaction: all are enqueued (or found as
    /// duplicates) or none.
    pub async fn enqueue_batch(&self, batch: BatchEnqueue) -> ServiceResult<BatchEnqueueResponse> {
        let t = now();
        let jobs = self.store.enqueue_batch(&batch.0, t).await?;
        let created = jobs.iter().filter(|e| !e.duplicate).count();
        if created > 0 {
            self.jobs_available();
        }
        tracing::info!(jobs = jobs.len(), created, "batch enqueued");
        Ok(BatchEnqueueResponse {
            jobs: jobs
                .into_iter()
                .map(|e| Enqueued {
                    job: domain::shown(e.job, t),
                    duplicate: e.duplicate,
                })
                .collect(),
        })
    }

    pub async fn cancel(&self, actor: &str, id: Uuid) -> ServiceResult<Job> {
        let job = self.store.cancel(id, now()).await.map_err(no_job(id))?;
        tracing::info!(actor, job_id = %id, "job cancelled");
        Ok(job)
    }

    pub async fn retry(&self, actor: &str, id: Uuid) -> ServiceResult<Job> {
        let job = self.store.retry(id, now()).await.map_err(no_job(id))?;
        self.jobs_available();
        tracing::info!(actor, job_id = %id, "job queued for retry");
        Ok(job)
    }

    pub async fn get_job(&self, id: Uuid) -> ServiceResult<Job> {
        let job = self.store.get_job(id).await.map_err(no_job(id))?;
        Ok(domain::shown(job, now()))
    }

    /// Newest first, by status (`scheduled` included) and queue: what the
    /// Jobs page lists.
    pub async fn list_jobs(&self, filter: JobFilter) -> ServiceResult<Vec<Job>> {
        let t = now();
        let jobs = self.store.list_jobs(&filter, t).await?;
        Ok(jobs.into_iter().map(|j| domain::shown(j, t)).collect())
    }

    /// How many jobs match a filter: the count a bulk action's
    /// confirmation states (`GET /api/queue/jobs/count`).
    pub async fn count_jobs(&self, m: JobMatch) -> ServiceResult<JobCount> {
        Ok(JobCount {
            count: self.store.count_jobs(&m, now()).await?,
        })
    }

    /// Queues again every failed job of a type and/or queue — exactly the
    /// confirmed number, or nothing (409) — audited with actor and reason.
    pub async fn retry_failed(
        &self,
        actor: &str,
        cmd: BulkRetryCommand,
    ) -> ServiceResult<BulkRetryResponse> {
        let done = self.store.retry_failed(&cmd, actor, now()).await?;
        if !done.ids.is_empty() {
            self.jobs_available();
        }
        tracing::info!(
            actor,
            retried = done.ids.len(),
            job_type = cmd.job_type.as_deref().unwrap_or("*"),
            queue = cmd.queue.as_ref().map_or("*", |q| q.as_str()),
            reason = cmd.reason.as_str(),
            "failed jobs queued for retry"
        );
        Ok(BulkRetryResponse {
            retried: done.ids.len() as i64,
            ids: done.ids,
            event: done.event,
        })
    }
}
