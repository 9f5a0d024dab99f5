//! The job queue, operator side: enqueue, read, list, cancel, retry.

use uuid::Uuid;
use wire::Job;

use super::{now, Service, ServiceError, ServiceResult};
use crate::domain::{JobFilter, NewJob};

/// `NotFound` as "no job with id …".
pub(super) fn no_job(id: Uuid) -> impl FnOnce(crate::storage::StoreError) -> ServiceError {
    ServiceError::not_found(move || format!("no job with id {id}"))
}

impl Service {
    pub async fn enqueue(&self, job: NewJob) -> ServiceResult<Job> {
        let job = self.store.enqueue(&job, now()).await?;
        self.jobs_available();
        tracing::debug!(job_id = %job.id, job_type = %job.job_type, "job enqueued");
        Ok(job)
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
        self.store.get_job(id).await.map_err(no_job(id))
    }

    pub async fn list_jobs(&self, filter: JobFilter) -> ServiceResult<Vec<Job>> {
        Ok(self
            .store
            .list_jobs(filter.status, filter.limit.get())
            .await?)
    }
}
