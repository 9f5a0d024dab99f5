//! Every method of the client against the real server, on both stores:
//! the worker's conversation, the operator's, the runbook's, the live
//! stream — each answer read as its `wire` type.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::Duration;

use common::TestServer;
use testkit::TestDb;
use uuid::Uuid;
use wire::runbook::SchedulerActionRequest;
use wire::{
    ClaimManyRequest, ClaimRequest, CompleteRequest, Directive, EnqueueRequest, EventsQuery,
    ExecutionResult, FailRequest, HeartbeatRequest, JobStatus, PauseMode, PauseRequest,
    PayloadType, RegisterRequest, ReportedState, ResultEnvelope, RollingRestartCancelRequest,
    RollingRestartRequest, RolloutStatus, StreamMessage, WorkerActionKind, WorkerActionRequest,
    WorkerHeartbeatRequest,
};

fn job(job_type: &str) -> EnqueueRequest {
    EnqueueRequest {
        job_type: Some(job_type.into()),
        payload: Some(serde_json::json!({"n": 1})),
        ..Default::default()
    }
}

fn claim(worker: &str) -> ClaimRequest {
    ClaimRequest {
        worker_id: Some(worker.into()),
        ..Default::default()
    }
}

fn alive() -> WorkerHeartbeatRequest {
    WorkerHeartbeatRequest {
        boot_id: Some("boot-1".into()),
        state: Some(ReportedState::Running),
        ..Default::default()
    }
}

fn register(worker: &str) -> RegisterRequest {
    RegisterRequest {
        worker_id: Some(worker.into()),
        boot_id: Some("boot-1".into()),
        ..Default::default()
    }
}

/// The queue: enqueue, claim (single, batch, long poll), lease heartbeat,
/// complete, fail, result submission, and the operator's side.
async fn the_queue_round_trips_as_wire_types(db: TestDb) {
    let server = TestServer::start(&db).await;
    let c = server.client();
    assert!(c.livez().await.unwrap().ok);

    let a = c.enqueue(&job("t")).await.unwrap();
    let b = c.enqueue(&job("t")).await.unwrap();
    assert_eq!(a.status, JobStatus::Queued);
    let queued = c.list_jobs(Some(JobStatus::Queued), None).await.unwrap();
    assert_eq!(queued.jobs.len(), 2);
    assert_eq!(c.list_jobs(None, Some(1)).await.unwrap().jobs.len(), 1);
    assert_eq!(c.job(b.id).await.unwrap().id, b.id);

    // Claim, extend the lease, complete.
    let got = c.claim(&claim("w1")).await.unwrap();
    let first = got.job.expect("a job");
    assert!(!got.system.workers_paused);
    let token = first.lease_token.expect("a lease token");
    let beat = c
        .job_heartbeat(
            first.id,
            &HeartbeatRequest {
                worker_id: Some("w1".into()),
                lease_token: Some(token),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(beat.job.id, first.id);
    let done = c
        .complete(
            first.id,
            &CompleteRequest {
                worker_id: Some("w1".into()),
                lease_token: Some(token),
                result: Some(serde_json::json!({"ok": true})),
            },
        )
        .await
        .unwrap();
    assert_eq!(done.status, JobStatus::Succeeded);

    // The batch claim hands out the other one; fail it for good, retry it.
    let batch = c
        .claim_many(&ClaimManyRequest {
            worker_id: Some("w1".into()),
            limit: Some(5),
            ..Default::default()
        })
        .await
        .unwrap();
    let jobs = batch.jobs.expect("a batch answer carries jobs");
    assert_eq!(jobs.len(), 1);
    let second = &jobs[0];
    let failed = c
        .fail(
            second.id,
            &FailRequest {
                worker_id: Some("w1".into()),
                lease_token: second.lease_token,
                error: Some("broken".into()),
                retryable: Some(false),
            },
        )
        .await
        .unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(
        c.retry_job(second.id).await.unwrap().status,
        JobStatus::Queued
    );
    assert_eq!(
        c.cancel_job(second.id).await.unwrap().status,
        JobStatus::Cancelled
    );

    // A long poll answers as soon as a job arrives.
    let waiting = {
        let c = c.clone();
        tokio::spawn(async move {
            c.claim(&ClaimRequest {
                wait_ms: Some(10_000),
                ..claim("w2")
            })
            .await
        })
    };
    let third = c.enqueue(&job("t")).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(8), waiting)
        .await
        .expect("the long poll answered before its wait")
        .unwrap()
        .unwrap();
    let held = got.job.expect("the long poll got the new job");
    assert_eq!(held.id, third.id);

    // An execution result, applied once however often it is sent.
    let env = ResultEnvelope {
        idempotency_key: Some(format!("{}:{}", held.id, held.lease_token.unwrap())),
        payload_type: Some(PayloadType::ExecutionResult.as_str().into()),
        task_id: Some(held.id),
        worker_id: Some("w2".into()),
        payload: Some(
            serde_json::to_value(ExecutionResult {
                lease_token: held.lease_token.unwrap(),
                status: "succeeded".into(),
                result: None,
                error: None,
                retryable: None,
            })
            .unwrap(),
        ),
    };
    assert!(c.submit_result(&env).await.unwrap().applied_now);
    assert!(!c.submit_result(&env).await.unwrap().applied_now);
    assert_eq!(c.job(held.id).await.unwrap().status, JobStatus::Succeeded);

    // The same jobs under the runbook's names.
    let d = c.dispatch(third.id).await.unwrap();
    assert_eq!(
        (d.id, d.status.as_str()),
        (third.id.to_string(), "succeeded")
    );
    let queued = c.enqueue(&job("t")).await.unwrap();
    assert_eq!(
        c.cancel_dispatch(queued.id).await.unwrap().status,
        "cancelled"
    );
    assert_eq!(c.retry_dispatch(queued.id).await.unwrap().status, "queued");
    let status = c.system_status().await.unwrap();
    assert_eq!(status.queued_count, 1);
}

/// The fleet: registration, heartbeats, views, actions, rolling restarts.
async fn the_fleet_round_trips_as_wire_types(db: TestDb) {
    let server = TestServer::start(&db).await;
    let c = server.client();
    let w1 = c.register(&register("w1")).await.unwrap();
    assert_eq!(
        (w1.worker.id.as_str(), w1.directive),
        ("w1", Directive::Run)
    );
    c.register(&register("w2")).await.unwrap();
    let beat = c.worker_heartbeat("w1", &alive()).await.unwrap();
    assert_eq!(beat.directive, Directive::Run);
    let workers = c.list_workers().await.unwrap().workers;
    assert_eq!(workers.len(), 2);
    assert_eq!(c.fleet_health().await.unwrap().online, 2);
    assert_eq!(c.fleet_metrics().await.unwrap().workers.len(), 2);

    let paused = c
        .worker_action(&WorkerActionRequest {
            action: Some("pause".into()),
            worker_ids: Some(vec!["w1".into()]),
            reason: Some("debug".into()),
            confirm: None,
            dry_run: None,
        })
        .await
        .unwrap();
    assert_eq!(paused.action, WorkerActionKind::Pause);
    assert!(paused.results[0].ok);
    let beat = c.worker_heartbeat("w1", &alive()).await.unwrap();
    assert_eq!(beat.directive, Directive::Pause);
    c.worker_action(&WorkerActionRequest {
        action: Some("resume".into()),
        worker_ids: Some(vec!["w1".into()]),
        reason: Some("done".into()),
        confirm: None,
        dry_run: None,
    })
    .await
    .unwrap();

    let rollout = c
        .start_rolling_restart(&RollingRestartRequest {
            worker_ids: Some(vec!["w2".into()]),
            max_unavailable: Some(1),
            reason: Some("deploy".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rollout.status, RolloutStatus::Running);
    assert_eq!(
        c.rolling_restart(rollout.id).await.unwrap().workers[0].worker_id,
        "w2"
    );
    assert!(c
        .rolling_restarts()
        .await
        .unwrap()
        .iter()
        .any(|r| r.id == rollout.id));
    let cancelled = c
        .cancel_rolling_restart(
            rollout.id,
            &RollingRestartCancelRequest {
                reason: Some("wrong build".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(cancelled.status, RolloutStatus::Cancelled);
}

/// The pause through `/api`, the runbook's `/scheduler/*`, the audit log,
/// the drain view, the live stream, `/health`, `/metrics` and `/auth/me`.
async fn the_pause_round_trips_as_wire_types(db: TestDb) {
    let server = TestServer::start(&db).await;
    let c = server.client();
    let before = c.pause_status().await.unwrap();
    assert!(!before.workers_paused);
    let mut stream = c.pause_stream().await.unwrap();
    let first = next(&mut stream).await;
    assert!(
        matches!(&first, StreamMessage::State { status } if status.version == before.version),
        "{first:?}"
    );

    let paused = c
        .change_pause(&PauseRequest::pause(PauseMode::Quiesce, "maintenance"))
        .await
        .unwrap();
    assert!(paused.workers_paused);
    assert_eq!(paused.mode, Some(PauseMode::Quiesce));
    // The stream carries the change (metrics ticks may come first).
    let pushed = loop {
        if let StreamMessage::State { status } = next(&mut stream).await {
            if status.version == paused.version {
                break status;
            }
        }
    };
    assert!(pushed.workers_paused);
    let refused = c.claim(&claim("w1")).await.unwrap();
    assert!(refused.job.is_none() && refused.system.workers_paused);
    assert_eq!(c.scheduler_status().await.unwrap().state, "paused");
    assert!(c.drain_view().await.unwrap().metrics.is_drained);

    let resumed = c
        .scheduler_resume(&SchedulerActionRequest::default())
        .await
        .unwrap();
    assert_eq!(resumed.state, "running");
    let again = c
        .scheduler_pause(&SchedulerActionRequest {
            reason: Some("runbook".into()),
            mode: None,
        })
        .await
        .unwrap();
    assert_eq!(
        (again.state.as_str(), again.version),
        ("paused", resumed.version + 1)
    );
    let back = c
        .change_pause(&PauseRequest::resume("done", true))
        .await
        .unwrap();
    assert!(!back.workers_paused);

    // The audit log, paged.
    let page = c
        .events(&EventsQuery {
            limit: Some(2),
            before: None,
        })
        .await
        .unwrap();
    assert_eq!(page.events.len(), 2);
    assert_eq!(page.events[0].version, back.version, "newest first");
    let older = c
        .events(&EventsQuery {
            limit: Some(50),
            before: page.next_before,
        })
        .await
        .unwrap();
    assert_eq!(older.events.len(), 2, "4 changes in all");
    assert!(older
        .events
        .iter()
        .all(|e| e.version < page.events[1].version));

    let health = c.health().await.unwrap();
    assert!(health.healthy);
    let metrics = c.metrics_text().await.unwrap();
    assert!(metrics.contains("lull_"), "{metrics}");
    let me = c.me().await.unwrap();
    assert_eq!((me.auth_mode.as_str(), me.signed_in), ("disabled", true));
}

async fn next(stream: &mut client::PauseStream) -> StreamMessage {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a stream message within 10 s")
        .expect("the stream is open")
        .unwrap()
}

/// Ids are path segments, encoded: an id with a slash reaches the worker
/// route (and is refused there), not another route.
async fn ids_cannot_leave_their_path_segment(db: TestDb) {
    let server = TestServer::start(&db).await;
    let c = server.client();
    let e = c
        .worker_heartbeat("x/../../livez", &alive())
        .await
        .unwrap_err();
    assert!(e.status().is_some_and(|s| s == 404 || s == 422), "{e}");
    assert!(c.job(Uuid::new_v4()).await.is_err());
}

testkit::on_both_stores!(
    the_queue_round_trips_as_wire_types,
    the_fleet_round_trips_as_wire_types,
    the_pause_round_trips_as_wire_types,
    ids_cannot_leave_their_path_segment,
);
