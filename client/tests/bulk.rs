//! The client's calls behind the Jobs page and the audit filter, against
//! the real server on both stores: the job search with its type filter,
//! the filtered count, the bulk retry of failed jobs (and its 409 when the
//! confirmed count no longer holds), the events filtered by action and
//! actor — each answer read as its `wire` type, each refusal as its typed
//! error.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use common::TestServer;
use testkit::TestDb;
use wire::{
    ApiError, BulkRetryRequest, ClaimRequest, EnqueueRequest, EventsSearch, FailRequest,
    JobCountQuery, JobSearch, JobStatus, PauseRequest,
};

async fn bulk_retry_and_filters_as_wire_types(db: TestDb) {
    let server = TestServer::start(&db).await;
    let c = server.client();
    // Two failed `hook` jobs and one queued `mail` job, all in `web`.
    let mut failed = Vec::new();
    for _ in 0..2 {
        c.enqueue(&EnqueueRequest {
            job_type: Some("hook".into()),
            queue: Some("web".into()),
            max_attempts: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
        let job = c
            .claim(&ClaimRequest {
                worker_id: Some("w".into()),
                ..Default::default()
            })
            .await
            .unwrap()
            .job
            .unwrap();
        let done = c
            .fail(
                job.id,
                &FailRequest {
                    worker_id: Some("w".into()),
                    lease_token: job.lease_token,
                    error: Some("down".into()),
                    retryable: Some(false),
                },
            )
            .await
            .unwrap();
        assert_eq!(done.status, JobStatus::Failed);
        failed.push(done.id);
    }
    c.enqueue(&EnqueueRequest {
        job_type: Some("mail".into()),
        queue: Some("web".into()),
        ..Default::default()
    })
    .await
    .unwrap();

    let hooks = c
        .search_jobs(&JobSearch {
            job_type: Some("hook".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(hooks.jobs.len(), 2);
    let failed_in_web = JobCountQuery {
        status: Some("failed".into()),
        queue: Some("web".into()),
        ..Default::default()
    };
    assert_eq!(c.count_jobs(&failed_in_web).await.unwrap().count, 2);
    let bad = c
        .count_jobs(&JobCountQuery {
            job_type: Some("no way".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(bad.api(), Some(ApiError::Invalid { field: Some(f), .. }) if f == "type"),
        "{bad}"
    );

    let request = |expected| BulkRetryRequest {
        queue: Some("web".into()),
        reason: Some("endpoint back".into()),
        expected_count: Some(expected),
        ..Default::default()
    };
    let stale = c.retry_failed(&request(3)).await.unwrap_err();
    assert!(
        matches!(stale.api(), Some(ApiError::Conflict { message }) if message.contains("2 match now, not 3")),
        "{stale}"
    );
    let done = c.retry_failed(&request(2)).await.unwrap();
    assert_eq!(done.retried, 2);
    let (mut got, mut want) = (done.ids.clone(), failed.clone());
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(done.event.action, "jobs.retry");
    assert_eq!(c.count_jobs(&failed_in_web).await.unwrap().count, 0);

    c.change_pause(&PauseRequest {
        action: Some("pause".into()),
        mode: Some("drain".into()),
        reason: Some("deploy".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let retries = c
        .search_events(&EventsSearch {
            action: Some("jobs.retry".into()),
            actor: Some("LOC".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(retries.events.len(), 1);
    assert_eq!(retries.events[0].reason, "endpoint back");
    assert!(retries.next_before.is_none());
    let none = c
        .search_events(&EventsSearch {
            actor: Some("nobody".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.events.is_empty());
}

testkit::on_both_stores!(bulk_retry_and_filters_as_wire_types);
