//! Failures as values: each error answer of the real server arrives as the
//! `ApiError` variant a program matches on, with what it needs to act
//! (the field, the current state, the confirm phrase); a server that cannot
//! be reached, or something in between that does not speak Lull, too.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use client::{ApiError, Client, Error};
use common::TestServer;
use testkit::TestDb;
use uuid::Uuid;
use wire::{
    ClaimRequest, EnqueueRequest, HeartbeatRequest, PauseMode, PauseRequest, RegisterRequest,
    WorkerActionRequest,
};

fn api(e: Error) -> ApiError {
    match e {
        Error::Api(a) => a,
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn refusals_arrive_as_typed_errors(db: TestDb) {
    let server = TestServer::start(&db).await;
    let c = server.client();

    // 422 with the field at fault; nothing changed.
    let e = api(c
        .change_pause(&PauseRequest {
            action: Some("pause".into()),
            mode: Some("drain".into()),
            ..Default::default()
        })
        .await
        .unwrap_err());
    assert!(
        matches!(&e, ApiError::Invalid { status: 422, field: Some(f), .. } if f == "reason"),
        "{e:?}"
    );
    assert_eq!(c.pause_status().await.unwrap().version, 1);

    // 409 version conflict, with the state as it is now.
    let now = c
        .change_pause(&PauseRequest::pause(PauseMode::Drain, "deploy"))
        .await
        .unwrap();
    let e = api(c
        .change_pause(&PauseRequest {
            expected_version: Some(1),
            ..PauseRequest::resume("too late", true)
        })
        .await
        .unwrap_err());
    match e {
        ApiError::VersionConflict {
            current: Some(current),
            ..
        } => {
            assert_eq!(current.version, now.version);
            assert!(current.workers_paused);
        }
        other => panic!("expected a version conflict, got {other:?}"),
    }
    c.change_pause(&PauseRequest::resume("go", true))
        .await
        .unwrap();

    // 409 lease lost: the job was cancelled under its worker.
    let job = c
        .enqueue(&EnqueueRequest {
            job_type: Some("t".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let claimed = c
        .claim(&ClaimRequest {
            worker_id: Some("w1".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .job
        .unwrap();
    assert_eq!(claimed.id, job.id);
    c.cancel_job(job.id).await.unwrap();
    let e = api(c
        .job_heartbeat(
            job.id,
            &HeartbeatRequest {
                worker_id: Some("w1".into()),
                lease_token: claimed.lease_token,
                ..Default::default()
            },
        )
        .await
        .unwrap_err());
    assert!(matches!(e, ApiError::LeaseLost { .. }), "{e:?}");
    assert!(!e.is_transient());

    // 409 conflict: a cancelled job cannot be cancelled again.
    let e = api(c.cancel_job(job.id).await.unwrap_err());
    assert!(matches!(e, ApiError::Conflict { .. }), "{e:?}");

    // 404.
    let e = api(c.job(Uuid::new_v4()).await.unwrap_err());
    assert!(matches!(e, ApiError::NotFound { .. }), "{e:?}");
    let e = api(c
        .worker_action(&WorkerActionRequest {
            action: Some("pause".into()),
            worker_ids: Some(vec!["ghost".into()]),
            reason: Some("r".into()),
            confirm: None,
            dry_run: None,
        })
        .await
        .unwrap_err());
    assert!(
        matches!(&e, ApiError::NotFound { field: Some(f), .. } if f == "workerIds"),
        "{e:?}"
    );

    // 409 safety refusal, naming the phrase that overrides it.
    c.register(&RegisterRequest {
        worker_id: Some("only".into()),
        boot_id: Some("b".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let drain = WorkerActionRequest {
        action: Some("drain".into()),
        worker_ids: Some(vec!["only".into()]),
        reason: Some("r".into()),
        confirm: None,
        dry_run: None,
    };
    let phrase = match api(c.worker_action(&drain).await.unwrap_err()) {
        ApiError::SafetyRefused {
            confirm_phrase: Some(p),
            impact: Some(impact),
            ..
        } => {
            assert_eq!(impact.available_after, 0);
            p
        }
        other => panic!("expected a safety refusal, got {other:?}"),
    };
    let done = c
        .worker_action(&WorkerActionRequest {
            confirm: Some(phrase),
            ..drain
        })
        .await
        .unwrap();
    assert!(done.override_used);
}

async fn token_mode_refuses_without_a_valid_token(db: TestDb) {
    let server = TestServer::start_token_mode(&db).await;
    let anonymous = server.client();
    let e = api(anonymous.pause_status().await.unwrap_err());
    assert!(matches!(e, ApiError::Unauthorized { .. }), "{e:?}");
    // The public routes answer anyone.
    assert!(anonymous.livez().await.unwrap().ok);
    let health = anonymous.health().await.unwrap();
    assert!(health.healthy);
    // Anyone sees the verdict and the checks' names, not the details.
    assert!(health.database.is_none() && health.recent_events.is_empty());
    assert!(health
        .checks
        .iter()
        .all(|c| !c.name.is_empty() && c.message.is_none()));
    assert!(!anonymous.me().await.unwrap().signed_in);

    let e = api(server
        .client_with("lull_nosuch_token")
        .pause_status()
        .await
        .unwrap_err());
    assert!(matches!(e, ApiError::Unauthorized { .. }), "{e:?}");

    // A viewer may read but not operate; an operator may both.
    let viewer = server.client_with(&server.mint_token("eve", "viewer").await);
    viewer.pause_status().await.unwrap();
    let e = api(viewer
        .change_pause(&PauseRequest::pause(PauseMode::Drain, "nope"))
        .await
        .unwrap_err());
    assert!(matches!(e, ApiError::Forbidden { .. }), "{e:?}");
    let operator = server.client_with(&server.mint_token("ops", "operator").await);
    let me = operator.me().await.unwrap();
    assert_eq!(
        (me.name.as_deref(), me.role.as_deref()),
        (Some("ops"), Some("operator"))
    );
    let status = operator
        .change_pause(&PauseRequest::pause(PauseMode::Drain, "by token"))
        .await
        .unwrap();
    assert_eq!(status.requested_by.as_deref(), Some("ops"));
}

testkit::on_both_stores!(
    refusals_arrive_as_typed_errors,
    token_mode_refuses_without_a_valid_token
);

#[tokio::test]
async fn an_unreachable_server_is_a_transient_error() {
    // Port 9 (discard) is closed on loopback here.
    let c = Client::new("http://127.0.0.1:9").unwrap();
    let e = c.livez().await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(
        matches!(&e, Error::Api(ApiError::Unreachable { message }) if message.contains("GET /livez")),
        "{e:?}"
    );
}

/// An HTTP server that answers every request with `answer` (what a
/// misconfigured proxy in front of Lull would send). Plain std I/O on its
/// own thread: the workspace's tokio has no `io-util`.
fn not_lull(answer: &'static str) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().map_while(Result::ok) {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(answer.as_bytes());
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn an_error_page_that_is_not_json_is_still_a_typed_error() {
    let base = not_lull(
        "HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\ncontent-length: 24\r\nconnection: close\r\n\r\n<html>bad gateway</html>",
    );
    let e = Client::new(base).unwrap().pause_status().await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    match api(e) {
        ApiError::Other {
            status: 502,
            code,
            message,
            ..
        } => {
            assert_eq!(code, "http_502");
            assert!(message.contains("bad gateway"), "{message}");
        }
        other => panic!("expected Other 502, got {other:?}"),
    }
}

#[tokio::test]
async fn a_success_that_is_not_the_expected_shape_is_a_decode_error() {
    let base = not_lull(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{\"ok\":true}",
    );
    let e = Client::new(base).unwrap().pause_status().await.unwrap_err();
    assert!(
        matches!(&e, Error::Decode { endpoint, .. } if endpoint == "GET /api/system/worker-pause"),
        "{e:?}"
    );
    assert!(!e.is_transient(), "the server acted: do not resend blindly");
}
