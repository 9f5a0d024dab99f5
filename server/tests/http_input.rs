//! Bad input over the HTTP API, on both stores: every malformed or invalid
//! request is a JSON 4xx naming the field at fault, and changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use axum::http::{Method, StatusCode};
use common::api::Api;
use common::TestDb;
use server::service::ServiceConfig;

/// (method, path, body, expected status, error code, error field)
type BadCase = (
    Method,
    String,
    Option<&'static str>,
    StatusCode,
    &'static str,
    Option<&'static str>,
);

async fn api(db: TestDb) -> Api {
    Api::new(db, ServiceConfig::default(), false).await
}

/// Every malformed request: a JSON error with the right status and field,
/// and the state unchanged.
async fn bad_input_is_a_json_4xx_and_changes_nothing(db: TestDb) {
    let a = api(db).await;
    let id = a.enqueue().await;
    let before_state = a.get("/api/system/worker-pause").await;
    let before_jobs = a.get("/api/queue/jobs").await;
    let long = "r".repeat(501);
    let cases: Vec<BadCase> = vec![
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some("{not json"),
            StatusCode::BAD_REQUEST,
            "invalid_json",
            None,
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_json",
            None,
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(r#"{"action":"pause","mode":"drain","reason":7}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("reason"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(r#"{"action":"pause","mode":"drain","reason":"x","forceResume":"yes"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("forceResume"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(r#"{"action":"pause","mode":"drain","reason":"x","extra":1}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("extra"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(r#"{"action":"halt","reason":"x"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("action"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(r#"{"action":"pause","mode":"drain","reason":"x","until":"in an hour"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("until"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(
                r#"{"action":"pause","mode":"drain","reason":"x","until":"2001-01-01T00:00:00Z"}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("until"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(r#"{"action":"resume","reason":"x","until":"2999-01-01T00:00:00Z"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("until"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(r#"{"action":"pause","mode":"nap","reason":"x"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("mode"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(r#"{"action":"pause","reason":"x"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("mode"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(r#"{"action":"pause","mode":"drain"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("reason"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(r#"{"action":"pause","mode":"drain","reason":"   "}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("reason"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(Box::leak(
                format!(r#"{{"action":"pause","mode":"drain","reason":"{long}"}}"#)
                    .into_boxed_str(),
            )),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("reason"),
        ),
        (
            Method::POST,
            "/api/system/worker-pause".into(),
            Some(r#"{"action":"resume"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("reason"),
        ),
        (
            Method::GET,
            "/api/system/worker-pause/events?limit=0".into(),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("limit"),
        ),
        (
            Method::GET,
            "/api/system/worker-pause/events?limit=abc".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_query",
            Some("limit"),
        ),
        (
            Method::POST,
            "/api/queue/jobs".into(),
            Some(r#"{"payload":{}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("type"),
        ),
        (
            Method::POST,
            "/api/queue/jobs".into(),
            Some(r#"{"type":"a","maxAttempts":0}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("maxAttempts"),
        ),
        (
            Method::POST,
            "/api/queue/jobs/claim".into(),
            Some(r#"{}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("workerId"),
        ),
        (
            Method::POST,
            "/api/queue/jobs/claim".into(),
            Some(r#"{"workerId":"w","leaseSeconds":1}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("leaseSeconds"),
        ),
        (
            Method::POST,
            "/api/queue/jobs/claim".into(),
            Some(r#"{"workerId":"w","leaseSeconds":-5}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("leaseSeconds"),
        ),
        (
            Method::GET,
            "/api/queue/jobs/not-a-uuid".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_id",
            Some("id"),
        ),
        (
            Method::GET,
            format!("/api/queue/jobs/{}", uuid::Uuid::new_v4()),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        ),
        (
            Method::POST,
            format!("/api/queue/jobs/{}/cancel", uuid::Uuid::new_v4()),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        ),
        (
            Method::POST,
            format!("/api/queue/jobs/{id}/heartbeat"),
            Some(r#"{"workerId":"w"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("leaseToken"),
        ),
        (
            Method::POST,
            format!("/api/queue/jobs/{id}/complete"),
            Some(r#"{"workerId":"w","leaseToken":"nope"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("leaseToken"),
        ),
        (
            Method::POST,
            format!("/api/queue/jobs/{id}/retry"),
            None,
            StatusCode::CONFLICT,
            "conflict",
            None,
        ),
        (
            Method::GET,
            "/api/queue/jobs?status=bogus".into(),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("status"),
        ),
        (
            Method::GET,
            "/api/no/such/route".into(),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        ),
        (
            Method::DELETE,
            "/api/system/worker-pause".into(),
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            None,
        ),
        (
            Method::POST,
            "/scheduler/pause".into(),
            Some(r#"{"mode":"nap"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("mode"),
        ),
        (
            Method::POST,
            "/scheduler/pause".into(),
            Some(r#"{"reason":""}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("reason"),
        ),
        (
            Method::GET,
            "/dispatches/xyz".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_id",
            Some("id"),
        ),
    ];
    for (method, path, body, status, code, field) in cases {
        let (s, v) = a.call_raw_json(method.clone(), &path, body).await;
        assert_eq!(s, status, "{method} {path} {body:?}: {v}");
        assert_eq!(v["error"]["code"], code, "{method} {path} {body:?}: {v}");
        assert!(v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
        assert_eq!(
            v["error"]["field"].as_str(),
            field,
            "{method} {path} {body:?}: {v}"
        );
    }
    // Oversized body: 413, JSON.
    let huge = format!(
        r#"{{"type":"a","payload":"{}"}}"#,
        "x".repeat(server::http::MAX_BODY_BYTES + 10)
    );
    let (s, v) = a
        .call_raw_json(
            Method::POST,
            "/api/queue/jobs",
            Some(Box::leak(huge.into_boxed_str())),
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(v["error"]["code"], "payload_too_large");

    assert_eq!(
        a.get("/api/system/worker-pause").await,
        before_state,
        "pause state unchanged"
    );
    assert_eq!(
        a.get("/api/queue/jobs").await,
        before_jobs,
        "jobs unchanged"
    );
}

on_both_stores!(bad_input_is_a_json_4xx_and_changes_nothing);
