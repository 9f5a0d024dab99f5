//! The client's queue methods against the real server, on both stores:
//! named queues and their pause, unique and batch enqueues, batch
//! complete and fail, the job list's filters — each answer read as its
//! `wire` type, each refusal as its typed error.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use common::TestServer;
use testkit::TestDb;
use wire::{
    ApiError, BatchCompleteItem, BatchCompleteRequest, BatchEnqueueRequest, BatchFailItem,
    BatchFailRequest, ClaimManyRequest, ClaimRequest, EnqueueRequest, JobListQuery, JobStatus,
    PauseMode, QueuePauseRequest, QueueResumeRequest,
};

fn job_in(queue: &str) -> EnqueueRequest {
    EnqueueRequest {
        job_type: Some("t".into()),
        queue: Some(queue.into()),
        ..Default::default()
    }
}

async fn queues_pause_and_resume_as_wire_types(db: TestDb) {
    let server = TestServer::start(&db).await;
    let c = server.client();
    c.enqueue(&job_in("emails")).await.unwrap();
    let q = c
        .pause_queue(
            "emails",
            &QueuePauseRequest {
                mode: Some("quiesce".into()),
                reason: Some("provider down".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (q.paused, q.mode, q.version, q.queued),
        (true, Some(PauseMode::Quiesce), 2, 1)
    );
    let list = c.queues().await.unwrap();
    assert_eq!(list.queues.len(), 1);
    assert_eq!(list.queues[0].actor.as_deref(), Some("local"));
    let claim = c
        .claim(&ClaimRequest {
            worker_id: Some("w".into()),
            queues: Some(vec!["emails".into()]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(claim.job.is_none());
    assert_eq!(claim.system.paused_queues[0].mode, PauseMode::Quiesce);
    let conflict = c
        .pause_queue(
            "emails",
            &QueuePauseRequest {
                mode: Some("drain".into()),
                reason: Some("x".into()),
                expected_version: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(conflict.api(), Some(ApiError::VersionConflict { .. })),
        "{conflict}"
    );
    let bad = c.queue("a b").await.unwrap_err();
    assert!(
        matches!(bad.api(), Some(ApiError::Invalid { field: Some(f), .. }) if f == "name"),
        "{bad}"
    );
    let r = c
        .resume_queue(
            "emails",
            &QueueResumeRequest {
                reason: Some("back".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!r.paused && r.version == 3);
    assert_eq!(c.queue("emails").await.unwrap().version, 3);
}

async fn unique_batches_and_filters_as_wire_types(db: TestDb) {
    let server = TestServer::start(&db).await;
    let c = server.client();
    let unique = EnqueueRequest {
        unique_key: Some("k".into()),
        ..job_in("default")
    };
    let first = c.enqueue_job(&unique).await.unwrap();
    let again = c.enqueue_job(&unique).await.unwrap();
    assert!(!first.duplicate && again.duplicate && again.job.id == first.job.id);
    let later = c
        .enqueue_job(&EnqueueRequest {
            delay_seconds: Some(600),
            ..job_in("later")
        })
        .await
        .unwrap();
    assert_eq!(later.job.status, JobStatus::Scheduled);
    let batch = c
        .enqueue_batch(&BatchEnqueueRequest {
            jobs: Some(vec![job_in("b"), job_in("b"), unique.clone()]),
        })
        .await
        .unwrap();
    assert_eq!(
        batch.jobs.iter().map(|e| e.duplicate).collect::<Vec<_>>(),
        vec![false, false, true]
    );
    let scheduled = c
        .jobs(&JobListQuery {
            status: Some("scheduled".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(scheduled.jobs.len(), 1);
    let in_b = c
        .jobs(&JobListQuery {
            queue: Some("b".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(in_b.jobs.len(), 2);
    let claimed = c
        .claim_many(&ClaimManyRequest {
            worker_id: Some("w".into()),
            queues: Some(vec!["b".into()]),
            limit: Some(5),
            ..Default::default()
        })
        .await
        .unwrap()
        .jobs
        .unwrap();
    assert_eq!(claimed.len(), 2);
    let done = c
        .complete_batch(&BatchCompleteRequest {
            worker_id: Some("w".into()),
            jobs: Some(vec![BatchCompleteItem {
                id: Some(claimed[0].id),
                lease_token: claimed[0].lease_token,
                result: None,
            }]),
        })
        .await
        .unwrap();
    assert!(done.results[0].ok);
    let failed = c
        .fail_batch(&BatchFailRequest {
            worker_id: Some("w".into()),
            jobs: Some(vec![
                BatchFailItem {
                    id: Some(claimed[1].id),
                    lease_token: claimed[1].lease_token,
                    error: Some("bad".into()),
                    retryable: Some(false),
                },
                BatchFailItem {
                    id: Some(claimed[0].id),
                    lease_token: claimed[0].lease_token,
                    error: Some("late".into()),
                    retryable: Some(false),
                },
            ]),
        })
        .await
        .unwrap();
    assert_eq!(
        failed.results[0].job.as_ref().map(|j| j.status),
        Some(JobStatus::Failed)
    );
    assert_eq!(
        failed.results[1].error.as_ref().map(|e| e.code.as_str()),
        Some("lease_lost")
    );
    let too_many = c
        .enqueue_batch(&BatchEnqueueRequest {
            jobs: Some((0..1001).map(|_| job_in("x")).collect()),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(too_many.api(), Some(ApiError::Invalid { field: Some(f), .. }) if f == "jobs")
    );
}

/// A producer token enqueues (single and batch) and reads jobs; nothing
/// else.
async fn a_producer_enqueues_and_reads_jobs_only(db: TestDb) {
    let server = TestServer::start_token_mode(&db).await;
    let token = server.mint_token("app-1", "producer").await;
    let c = server.client_with(&token);
    let job = c.enqueue(&job_in("emails")).await.unwrap();
    c.enqueue_batch(&BatchEnqueueRequest {
        jobs: Some(vec![job_in("emails")]),
    })
    .await
    .unwrap();
    assert_eq!(c.job(job.id).await.unwrap().id, job.id);
    assert_eq!(c.list_jobs(None, None).await.unwrap().jobs.len(), 2);
    for refused in [
        c.queues().await.err(),
        c.pause_status().await.err(),
        c.cancel_job(job.id).await.err(),
        c.claim(&ClaimRequest {
            worker_id: Some("app-1".into()),
            ..Default::default()
        })
        .await
        .err(),
    ] {
        let e = refused.expect("refused");
        assert!(matches!(e.api(), Some(ApiError::Forbidden { .. })), "{e}");
    }
}

testkit::on_both_stores!(
    queues_pause_and_resume_as_wire_types,
    unique_batches_and_filters_as_wire_types,
    a_producer_enqueues_and_reads_jobs_only,
);
