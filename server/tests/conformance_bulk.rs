//! The storage conformance suite, operator side: the filtered job count,
//! the job listing's type filter, the bulk retry of failed jobs (exactly
//! the confirmed set or nothing, audited in the same transaction) and the
//! audit log filtered by action and actor before it is paged — every test
//! on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::store::*;
use common::TestDb;
use server::domain::{BulkRetryCommand, EventFilter, JobMatch, NewJob, Schedule};
use server::storage::{Store, StoreError};
use wire::{Job, JobStatus};

/// A job of `job_type` in `queue` that has failed for good (one attempt).
async fn failed(store: &Arc<dyn Store>, job_type: &str, queue: &str, now: DateTime<Utc>) -> Job {
    let job = add(
        store,
        &NewJob {
            max_attempts: 1,
            ..queued_in(queue, job_type)
        },
        now,
    )
    .await;
    let claimed = claim_job(store, "w", now)
        .await
        .expect("the job just added");
    assert_eq!(claimed.id, job.id, "nothing else is queued");
    let done = store
        .fail(&fence(&claimed, "w"), "boom", false, now)
        .await
        .unwrap();
    assert_eq!(done.status, JobStatus::Failed);
    done
}

fn matching(status: Option<&str>, job_type: Option<&str>, queue: Option<&str>) -> JobMatch {
    JobMatch::parse(status, job_type, queue).unwrap()
}

fn bulk(job_type: Option<&str>, queue: Option<&str>, expected: Option<i64>) -> BulkRetryCommand {
    BulkRetryCommand::parse(wire::BulkRetryRequest {
        job_type: job_type.map(str::to_string),
        queue: queue.map(str::to_string),
        reason: Some("provider back".into()),
        expected_count: expected,
    })
    .unwrap()
}

async fn status_of(store: &Arc<dyn Store>, job: &Job) -> JobStatus {
    store.get_job(job.id).await.unwrap().status
}

async fn counts_and_lists_match_status_type_and_queue(db: TestDb) {
    let now = t0();
    let s = &db.store;
    failed(s, "email", "emails", now).await;
    failed(s, "email", "other", now).await;
    failed(s, "report", "emails", now).await;
    add(s, &queued_in("emails", "email"), now).await;
    add(
        s,
        &NewJob {
            schedule: Schedule::At(now + Duration::hours(1)),
            ..queued_in("emails", "email")
        },
        now,
    )
    .await;
    let count = |status, t, q| {
        let m = matching(status, t, q);
        async move { s.count_jobs(&m, now).await.unwrap() }
    };
    assert_eq!(count(None, None, None).await, 5);
    assert_eq!(count(Some("failed"), None, None).await, 3);
    assert_eq!(count(Some("failed"), Some("email"), None).await, 2);
    assert_eq!(
        count(Some("failed"), Some("email"), Some("emails")).await,
        1
    );
    assert_eq!(count(None, None, Some("emails")).await, 4);
    assert_eq!(count(Some("queued"), Some("email"), None).await, 1);
    assert_eq!(count(Some("scheduled"), Some("email"), None).await, 1);
    assert_eq!(count(Some("failed"), Some("nothing"), None).await, 0);

    let filter = server::domain::JobFilter::search(&wire::JobSearch {
        status: Some("failed".into()),
        job_type: Some("email".into()),
        queue: None,
        limit: Some(10),
        include: None,
    })
    .unwrap();
    let listed = s.list_jobs(&filter, now).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed
        .iter()
        .all(|j| j.job_type == "email" && j.status == JobStatus::Failed));
}

async fn bulk_retry_queues_exactly_the_matching_failed_jobs(db: TestDb) {
    let now = t0();
    let s = &db.store;
    let a1 = failed(s, "email", "emails", now).await;
    let a2 = failed(s, "email", "emails", now).await;
    let other_type = failed(s, "report", "emails", now).await;
    let other_queue = failed(s, "email", "other", now).await;
    let later = now + Duration::seconds(5);
    let done = s
        .retry_failed(&bulk(Some("email"), Some("emails"), Some(2)), "ops", later)
        .await
        .unwrap();
    let mut ids = done.ids.clone();
    ids.sort();
    let mut want = vec![a1.id, a2.id];
    want.sort();
    assert_eq!(ids, want);
    for j in [&a1, &a2] {
        let got = s.get_job(j.id).await.unwrap();
        assert_eq!(got.status, JobStatus::Queued);
        assert_eq!(got.attempts, 0, "fresh attempts");
        assert_eq!(got.worker_id, None);
        assert_eq!(got.run_after, later);
    }
    assert_eq!(status_of(s, &other_type).await, JobStatus::Failed);
    assert_eq!(status_of(s, &other_queue).await, JobStatus::Failed);

    let ev = &done.event;
    assert_eq!(ev.action, "jobs.retry");
    assert_eq!(
        (ev.actor.as_str(), ev.reason.as_str()),
        ("ops", "provider back")
    );
    let details = ev.details.as_ref().unwrap();
    assert_eq!(details["retried"], 2);
    assert_eq!(details["type"], "email");
    assert_eq!(details["queue"], "emails");
    assert_eq!(
        ev.metrics.queued, 2,
        "the queue's live jobs after the retry"
    );
    assert_eq!(s.list_events(1, None).await.unwrap()[0], *ev);

    // Without filters: every failed job left; without a count: no guard.
    let rest = s
        .retry_failed(&bulk(None, None, None), "ops", later)
        .await
        .unwrap();
    assert_eq!(rest.ids.len(), 2);
    assert_eq!(status_of(s, &other_type).await, JobStatus::Queued);
    assert_eq!(status_of(s, &other_queue).await, JobStatus::Queued);
    // Nothing failed any more: a retry of "the 0 that match" is a no-op, audited.
    let none = s
        .retry_failed(&bulk(None, None, Some(0)), "ops", later)
        .await
        .unwrap();
    assert!(none.ids.is_empty());
}

async fn bulk_retry_with_a_stale_count_changes_nothing(db: TestDb) {
    let now = t0();
    let s = &db.store;
    let a = failed(s, "email", "emails", now).await;
    let b = failed(s, "email", "emails", now).await;
    let events = s.list_events(10, None).await.unwrap().len();
    for expected in [1, 3] {
        let err = s
            .retry_failed(&bulk(Some("email"), None, Some(expected)), "ops", now)
            .await
            .unwrap_err();
        match err {
            StoreError::Conflict(m) => {
                assert!(m.contains(&format!("2 match now, not {expected}")), "{m}");
                assert!(m.contains("nothing was retried"), "{m}");
            }
            other => panic!("expected Conflict, got {other:?}"),
        }
    }
    assert_eq!(status_of(s, &a).await, JobStatus::Failed);
    assert_eq!(status_of(s, &b).await, JobStatus::Failed);
    assert_eq!(
        s.list_events(10, None).await.unwrap().len(),
        events,
        "no event"
    );
}

async fn bulk_retry_is_all_or_nothing_when_a_unique_key_is_held(db: TestDb) {
    let now = t0();
    let s = &db.store;
    let plain = failed(s, "email", "emails", now).await;
    let keyed = add(
        s,
        &NewJob {
            max_attempts: 1,
            unique_key: Some("welcome:1".into()),
            ..queued_in("emails", "email")
        },
        now,
    )
    .await;
    let c = claim_job(s, "w", now).await.unwrap();
    assert_eq!(c.id, keyed.id);
    s.fail(&fence(&c, "w"), "boom", false, now).await.unwrap();
    // A new live job takes the key.
    let holder = add(
        s,
        &NewJob {
            unique_key: Some("welcome:1".into()),
            ..queued_in("emails", "email")
        },
        now,
    )
    .await;
    let err = s
        .retry_failed(&bulk(None, None, Some(2)), "ops", now)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("uniqueKey")),
        "{err:?}"
    );
    assert_eq!(
        status_of(s, &plain).await,
        JobStatus::Failed,
        "nothing retried"
    );
    assert_eq!(status_of(s, &keyed).await, JobStatus::Failed);
    assert_eq!(status_of(s, &holder).await, JobStatus::Queued);
}

async fn the_audit_log_is_filtered_before_it_is_paged(db: TestDb) {
    let now = t0();
    let s = &db.store;
    let mut t = now;
    for (actor, action) in [
        ("Ops-Alice", pause_drain()),
        ("bob", resume()),
        ("ops_bob", pause_drain()),
        ("Ops-Alice", resume()),
        ("opsXbob", pause_drain()),
    ] {
        t += Duration::seconds(1);
        s.transition_pause(&action, actor, t).await.unwrap();
    }
    let search = |action: Option<&str>, actor: Option<&str>, limit, before| {
        let f = EventFilter::parse(action, actor).unwrap();
        async move { s.search_events(&f, limit, before).await.unwrap() }
    };
    let actors =
        |evs: &[wire::ControlEvent]| evs.iter().map(|e| e.actor.clone()).collect::<Vec<_>>();
    let pauses = search(Some("pause"), None, 10, None).await;
    assert_eq!(actors(&pauses), ["opsXbob", "ops_bob", "Ops-Alice"]);
    assert!(pauses.iter().all(|e| e.action == "pause"));
    assert_eq!(
        actors(&search(None, Some("ALICE"), 10, None).await),
        ["Ops-Alice", "Ops-Alice"]
    );
    // `_` is a character to find, not LIKE's wildcard.
    assert_eq!(
        actors(&search(None, Some("s_b"), 10, None).await),
        ["ops_bob"]
    );
    assert_eq!(
        actors(&search(Some("resume"), Some("bob"), 10, None).await),
        ["bob"]
    );
    // A page of one match, then the next match below it.
    let first = search(Some("pause"), Some("bob"), 1, None).await;
    assert_eq!(actors(&first), ["opsXbob"]);
    let next = search(Some("pause"), Some("bob"), 1, Some(first[0].id)).await;
    assert_eq!(actors(&next), ["ops_bob"]);
    let last = search(Some("pause"), Some("bob"), 1, Some(next[0].id)).await;
    assert!(last.is_empty());
    assert!(search(Some("queue.pause"), None, 10, None).await.is_empty());
    assert_eq!(
        s.list_events(10, None).await.unwrap().len(),
        5,
        "unfiltered"
    );
}

on_every_store!(
    counts_and_lists_match_status_type_and_queue,
    bulk_retry_queues_exactly_the_matching_failed_jobs,
    bulk_retry_with_a_stale_count_changes_nothing,
    bulk_retry_is_all_or_nothing_when_a_unique_key_is_held,
    the_audit_log_is_filtered_before_it_is_paged,
);
