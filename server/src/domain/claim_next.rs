//! A complete with `claimNext`, parsed: the completion, and the claim that
//! follows it for the same worker.

use uuid::Uuid;

use super::input::FieldError;
use super::queue::{ClaimCommand, CompleteCommand};

/// `POST /api/queue/jobs/{id}/complete`, parsed: both parts valid, or the
/// request is refused before anything is completed.
#[derive(Debug, Clone)]
pub struct CompleteNext {
    pub complete: CompleteCommand,
    /// The claim to make once the completion is committed (`claimNext`).
    pub claim: Option<ClaimCommand>,
}

impl CompleteNext {
    pub fn parse(job_id: Uuid, req: wire::CompleteNextRequest) -> Result<CompleteNext, FieldError> {
        let (complete, claim) = req.split();
        let claim = claim
            .map(|c| ClaimCommand::parse(&c, None))
            .transpose()
            .map_err(|e| {
                FieldError::new("claimNext", format!("claimNext.{}: {}", e.field, e.message))
            })?;
        Ok(CompleteNext {
            complete: CompleteCommand::parse(job_id, complete)?,
            claim,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use wire::{ClaimNext, CompleteNextRequest};

    fn request(next: Option<ClaimNext>) -> CompleteNextRequest {
        CompleteNextRequest {
            worker_id: Some("w1".into()),
            lease_token: Some(Uuid::new_v4()),
            result: None,
            claim_next: next,
        }
    }

    #[test]
    fn the_next_claim_is_the_completing_workers() {
        let next = ClaimNext {
            types: Some(vec!["email".into()]),
            wait_ms: Some(500),
            ..Default::default()
        };
        let parsed = CompleteNext::parse(Uuid::new_v4(), request(Some(next))).unwrap();
        let claim = parsed.claim.unwrap();
        assert_eq!(claim.worker_id.as_str(), "w1");
        assert_eq!(claim.wait.get(), 500);
        assert!(claim.limit.is_none(), "one job, as a plain claim");
        assert_eq!(parsed.complete.fence.worker_id, "w1");
    }

    #[test]
    fn no_claim_next_is_a_plain_complete() {
        let parsed = CompleteNext::parse(Uuid::new_v4(), request(None)).unwrap();
        assert!(parsed.claim.is_none());
    }

    #[test]
    fn a_bad_claim_next_names_its_field() {
        let next = ClaimNext {
            wait_ms: Some(3_600_000),
            ..Default::default()
        };
        let e = CompleteNext::parse(Uuid::new_v4(), request(Some(next))).unwrap_err();
        assert_eq!(e.field, "claimNext");
        assert!(e.message.starts_with("claimNext.waitMs"), "{}", e.message);
    }
}
