//! Batches, parsed: up to [`MAX_BATCH`] jobs enqueued all or none, and a
//! worker's completes or fails of many leased jobs in one request. Each
//! element is parsed exactly as its single request would be; a bad one
//! refuses the whole batch, naming its index.

use uuid::Uuid;

use super::enqueue::NewJob;
use super::input::{FieldError, WorkerId};
use super::queue::{CompleteCommand, FailCommand};

/// The most jobs one batch may carry.
pub const MAX_BATCH: usize = 1000;

/// The batch's elements, checked for count.
fn elements<T>(raw: Option<Vec<T>>) -> Result<Vec<T>, FieldError> {
    let items = raw.ok_or_else(|| FieldError::new("jobs", "jobs is required"))?;
    if items.is_empty() {
        return Err(FieldError::new("jobs", "jobs must not be empty"));
    }
    if items.len() > MAX_BATCH {
        return Err(FieldError::new(
            "jobs",
            format!(
                "{} jobs in one batch; at most {MAX_BATCH} are allowed",
                items.len()
            ),
        ));
    }
    Ok(items)
}

/// An element's error as the batch's: `jobs[3].type: type is required`.
fn at(i: usize) -> impl Fn(FieldError) -> FieldError {
    move |e| FieldError::new("jobs", format!("jobs[{i}].{}: {}", e.field, e.message))
}

/// `POST /api/queue/jobs/batch`, parsed: every job valid, or nothing is
/// enqueued.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchEnqueue(pub Vec<NewJob>);

impl BatchEnqueue {
    pub fn parse(req: wire::BatchEnqueueRequest) -> Result<BatchEnqueue, FieldError> {
        elements(req.jobs)?
            .into_iter()
            .enumerate()
            .map(|(i, job)| NewJob::parse(job).map_err(at(i)))
            .collect::<Result<_, _>>()
            .map(BatchEnqueue)
    }
}

/// A worker's batch: its id, then each element parsed with it and the
/// element's job id (each element's own parser checks its lease token).
fn leased<I, T>(
    worker_id: Option<&str>,
    jobs: Option<Vec<I>>,
    id_of: impl Fn(&I) -> Option<Uuid>,
    parse: impl Fn(Uuid, String, I) -> Result<T, FieldError>,
) -> Result<Vec<T>, FieldError> {
    let worker = WorkerId::parse(worker_id)?;
    elements(jobs)?
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let id = id_of(&item)
                .ok_or_else(|| FieldError::new("id", "id is required"))
                .map_err(at(i))?;
            parse(id, worker.as_str().to_string(), item).map_err(at(i))
        })
        .collect()
}

/// `POST /api/queue/jobs/batch-complete`, parsed: one worker, each job
/// with its own lease token.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchComplete(pub Vec<CompleteCommand>);

impl BatchComplete {
    pub fn parse(req: wire::BatchCompleteRequest) -> Result<BatchComplete, FieldError> {
        leased(
            req.worker_id.as_deref(),
            req.jobs,
            |j| j.id,
            |id, worker, j| {
                let req = wire::CompleteRequest {
                    worker_id: Some(worker),
                    lease_token: j.lease_token,
                    result: j.result,
                };
                CompleteCommand::parse(id, req)
            },
        )
        .map(BatchComplete)
    }
}

/// `POST /api/queue/jobs/batch-fail`, parsed like [`BatchComplete`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFail(pub Vec<FailCommand>);

impl BatchFail {
    pub fn parse(req: wire::BatchFailRequest) -> Result<BatchFail, FieldError> {
        leased(
            req.worker_id.as_deref(),
            req.jobs,
            |j| j.id,
            |id, worker, j| {
                let req = wire::FailRequest {
                    worker_id: Some(worker),
                    lease_token: j.lease_token,
                    error: j.error,
                    retryable: j.retryable,
                };
                FailCommand::parse(id, req)
            },
        )
        .map(BatchFail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_batch_enqueue_is_bounded_and_names_the_bad_element() {
        let parse = |v: serde_json::Value| BatchEnqueue::parse(serde_json::from_value(v).unwrap());
        assert_eq!(parse(json!({})).unwrap_err().field, "jobs");
        assert_eq!(parse(json!({"jobs": []})).unwrap_err().field, "jobs");
        let many: Vec<_> = (0..=MAX_BATCH).map(|_| json!({"type": "t"})).collect();
        let err = parse(json!({ "jobs": many })).unwrap_err();
        assert!(err.message.contains("1001 jobs"), "{}", err.message);
        let err =
            parse(json!({"jobs": [{"type": "t"}, {"type": "t", "runAt": "later"}]})).unwrap_err();
        assert_eq!(err.field, "jobs");
        assert!(
            err.message.starts_with("jobs[1].runAt: "),
            "{}",
            err.message
        );
        let ok = parse(json!({"jobs": [{"type": "a"}, {"type": "b", "queue": "q"}]})).unwrap();
        assert_eq!(ok.0.len(), 2);
        assert_eq!(ok.0[1].queue, "q");
    }

    #[test]
    fn batch_completes_and_fails_need_a_worker_and_each_job_its_lease() {
        let id = uuid::Uuid::new_v4();
        let token = uuid::Uuid::new_v4();
        let c = BatchComplete::parse(
            serde_json::from_value(json!({"workerId": "w", "jobs": [
                {"id": id, "leaseToken": token, "result": {"n": 1}}
            ]}))
            .unwrap(),
        )
        .unwrap();
        assert_eq!(c.0[0].fence.worker_id, "w");
        assert_eq!(c.0[0].fence.lease_token, token);
        let no_worker = BatchComplete::parse(
            serde_json::from_value(json!({"jobs": [{"id": id, "leaseToken": token}]})).unwrap(),
        );
        assert_eq!(no_worker.unwrap_err().field, "workerId");
        let no_token = BatchFail::parse(
            serde_json::from_value(json!({"workerId": "w", "jobs": [{"id": id, "error": "x"}]}))
                .unwrap(),
        )
        .unwrap_err();
        assert!(
            no_token.message.starts_with("jobs[0].leaseToken"),
            "{}",
            no_token.message
        );
        let no_error = BatchFail::parse(
            serde_json::from_value(
                json!({"workerId": "w", "jobs": [{"id": id, "leaseToken": token}]}),
            )
            .unwrap(),
        )
        .unwrap_err();
        assert!(
            no_error.message.starts_with("jobs[0].error"),
            "{}",
            no_error.message
        );
    }
}
