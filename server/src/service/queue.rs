//! The job queue, producer and operator side: enqueue (single, unique,
//! batch), read, list, cancel, retry.

use uuid::Uuid;
use wire::{BatchEnqueueResponse, Enqueued, Job};

use super::{now, Service, ServiceError, ServiceResult};
use crate::domain::{self, BatchEnqueue, JobFilter, NewJob};

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
}
