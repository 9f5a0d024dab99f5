//! Complete-and-claim-next: a worker that runs one job at a time completes
//! it and claims its next one in the same request (`claimNext` on
//! `POST /api/queue/jobs/{id}/complete`), saving a request per job.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{ClaimRequest, ClaimResponse, CompleteRequest, Job};

/// `POST /api/queue/jobs/{id}/complete` as the server reads it:
/// [`CompleteRequest`] plus an optional `claimNext`. A separate type
/// because clients build [`CompleteRequest`] as a struct literal; convert
/// with [`CompleteNextRequest::split`].
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CompleteNextRequest {
    #[serde(default)]
    pub worker_id: Option<String>,
    #[serde(default)]
    pub lease_token: Option<Uuid>,
    #[serde(default)]
    pub result: Option<serde_json::Value>,
    /// Once this job's completion is committed, claim the worker's next
    /// job (the same `workerId`) exactly as `POST /api/queue/jobs/claim`
    /// would with these fields, and answer it in `next`. A lost lease
    /// refuses the whole request (409): nothing is completed or claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_next: Option<ClaimNext>,
}

impl CompleteNextRequest {
    /// The plain complete, and the claim asked for (if any) as the worker's
    /// own claim request.
    pub fn split(self) -> (CompleteRequest, Option<ClaimRequest>) {
        let claim = self.claim_next.map(|n| ClaimRequest {
            worker_id: self.worker_id.clone(),
            types: n.types,
            queues: n.queues,
            lease_seconds: n.lease_seconds,
            wait_ms: n.wait_ms,
            applied_version: n.applied_version,
        });
        (
            CompleteRequest {
                worker_id: self.worker_id,
                lease_token: self.lease_token,
                result: self.result,
            },
            claim,
        )
    }
}

/// The claim that follows a completion: a claim request's fields, for the
/// completing worker (no `workerId` of its own, no batch `limit`).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClaimNext {
    /// Only claim jobs of these types (all types when absent).
    #[serde(default)]
    pub types: Option<Vec<String>>,
    /// Only claim jobs of these queues (every queue when absent).
    #[serde(default)]
    pub queues: Option<Vec<String>>,
    #[serde(default)]
    pub lease_seconds: Option<u32>,
    /// Long poll, as on a claim: wait up to this long (≤ 30 000) for a job.
    #[serde(default)]
    pub wait_ms: Option<u32>,
    #[serde(default)]
    pub applied_version: Option<i64>,
}

/// The answer to a complete: the job, succeeded — the same fields as
/// without `claimNext` — and, when the request asked for it, the claim's
/// answer in `next`. `next` is absent when the claim could not be made
/// after the completion was committed (a database error): the completion
/// stands; claim with a plain request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Completed {
    #[serde(flatten)]
    pub job: Job,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<ClaimResponse>,
}
