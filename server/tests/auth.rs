//! Authentication and roles, on both stores: the role matrix over the
//! router's own route table, the actor taken from the token, and
//! revocation. Dashboard sessions: `auth_sessions.rs`; the failure limit
//! and trusted proxies: `auth_limits.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use common::token_api::{api, Req};
use common::TestDb;
use serde_json::json;
use server::auth::{Access, AuthMode};
use server::domain::Role;
use server::service::{now, Service, ServiceConfig};

fn concrete(path: &str) -> String {
    path.replace("{name}", "default")
        .replace("{id}/heartbeat", "w1/heartbeat")
        .replace("{id}", &uuid::Uuid::new_v4().to_string())
        .replace("{*fn_name}", "not_a_function")
}

fn bearer(token: &str) -> Req<'_> {
    Req {
        bearer: Some(token),
        ..Default::default()
    }
}

fn cookie(session: &str) -> Req<'_> {
    Req {
        cookie: Some(session),
        ..Default::default()
    }
}

fn denied(s: StatusCode) -> bool {
    s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN
}

/// Every route × {no token, bad token, revoked token, viewer, worker,
/// operator}, from the router's own table; no refused request changes state.
async fn role_matrix(db: TestDb) {
    let a = api(db, 1_000_000).await;
    let viewer = a.token("viewer-1", Role::Viewer).await;
    let worker = a.token("w1", Role::Worker).await;
    let operator = a.token("op-1", Role::Operator).await;
    let producer = a.token("app-1", Role::Producer).await;
    let revoked = a.token("gone", Role::Operator).await;
    // Dashboard sessions: live ones act as their token's role; one signed
    // out and one whose token was revoked are refused like a bad token.
    let viewer_session = a.sign_in(&viewer).await;
    let operator_session = a.sign_in(&operator).await;
    let signed_out = a.sign_in(&operator).await;
    a.sign_out(&signed_out).await;
    let revoked_session = a.sign_in(&revoked).await;
    a.db.store.revoke_token("gone", now()).await.unwrap();
    a.svc.auth().invalidate();
    let bad = "lull_abcdef123456_0000000000000000000000000000000000000000000000000000000000000000"
        .to_string();

    let routes = server::http::route_specs(true);
    assert!(routes.len() >= 30, "the table lists every route");
    let creds: Vec<(&str, Req, Option<Role>)> = vec![
        ("none", Req::default(), None),
        ("bad", bearer(&bad), None),
        ("revoked", bearer(&revoked), None),
        ("signed-out session", cookie(&signed_out), None),
        ("revoked token's session", cookie(&revoked_session), None),
        ("viewer", bearer(&viewer), Some(Role::Viewer)),
        ("worker", bearer(&worker), Some(Role::Worker)),
        ("operator", bearer(&operator), Some(Role::Operator)),
        ("producer", bearer(&producer), Some(Role::Producer)),
        (
            "viewer session",
            cookie(&viewer_session),
            Some(Role::Viewer),
        ),
        (
            "operator session",
            cookie(&operator_session),
            Some(Role::Operator),
        ),
    ];
    let expect_allowed = |access: Access, req: &Req, role: Option<Role>| match (access, role) {
        (Access::Public, _) => true,
        // Open to everyone, but a credential that is sent must be good.
        (Access::Open, _) => (req.bearer.is_none() && req.cookie.is_none()) || role.is_some(),
        (_, None) => false,
        (Access::Read, Some(r)) => matches!(r, Role::Viewer | Role::Operator),
        (Access::ReadJobs, Some(r)) => r != Role::Worker,
        (Access::Enqueue, Some(r)) => matches!(r, Role::Producer | Role::Operator),
        (Access::Work, Some(r)) => r == Role::Worker,
        (Access::Operate, Some(r)) => r == Role::Operator,
        (Access::SignedIn, Some(_)) => true,
    };
    let before = a.state_fingerprint().await;
    // Phase 1: everything that must be refused, then the state is checked.
    let mut refused = 0;
    for spec in &routes {
        for (label, req, role) in &creds {
            if expect_allowed(spec.access, req, *role) {
                continue;
            }
            let (s, v, _) = a
                .send(
                    spec.method.clone(),
                    &concrete(spec.path),
                    Some(json!({})),
                    req.clone(),
                )
                .await;
            let want = if role.is_none() {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(s, want, "{} {} as {label}: {v}", spec.method, spec.path);
            assert!(
                v["error"]["code"].is_string(),
                "JSON error for {} {}",
                spec.method,
                spec.path
            );
            refused += 1;
        }
    }
    assert!(refused > 100, "{refused}");
    assert_eq!(
        a.state_fingerprint().await,
        before,
        "no refused request changed anything"
    );
    // Phase 2: everything allowed gets past authentication.
    for spec in &routes {
        for (label, req, role) in &creds {
            // The stream never ends; sign-in with `{}` is a failed sign-in
            // (401 naming the token field), covered by its own test; a
            // session's sign-out would end it for the routes after.
            if !expect_allowed(spec.access, req, *role)
                || spec.path.ends_with("/stream")
                || spec.path == "/auth/login"
                || (spec.path == "/auth/logout" && req.cookie.is_some())
            {
                continue;
            }
            // Server functions, and every request with the session cookie,
            // are the dashboard's: a browser's same-origin call (the guard
            // phase checks they refuse everything else).
            let mut req = req.clone();
            if spec.path.starts_with("/sfn/") || req.cookie.is_some() {
                req.headers.push(("sec-fetch-site", "same-origin"));
            }
            let (s, v, _) = a
                .send(
                    spec.method.clone(),
                    &concrete(spec.path),
                    Some(json!({})),
                    req,
                )
                .await;
            assert!(
                !denied(s),
                "{} {} as {label} was refused: {s} {v}",
                spec.method,
                spec.path
            );
        }
    }
}

/// The matrix's guard phase, in both auth modes (issue #15): every route ×
/// the request guard. A rebinding `Host` is 421 everywhere; every write
/// from another origin is 403 and every non-JSON REST write 415 — even
/// with an operator's token; nothing refused changes anything.
async fn role_matrix_request_guard(db: TestDb) {
    let mut a = api(db, 1_000_000).await;
    let operator = a.token("op-1", Role::Operator).await;
    let local = ServiceConfig {
        auth_mode: AuthMode::Disabled,
        ..Default::default()
    };
    let local = Service::new(a.db.store.clone(), local).await.unwrap();
    let local = common::router(local);
    let routes = server::http::route_specs(true);
    let before = a.state_fingerprint().await;
    let mut writes = 0;
    for app in [a.app.clone(), local] {
        a.app = app;
        for spec in &routes {
            let path = concrete(spec.path);
            let as_operator = |headers: Vec<(&'static str, &'static str)>| Req {
                bearer: Some(&operator),
                headers,
                ..Default::default()
            };
            let (s, v, _) = a
                .send(
                    spec.method.clone(),
                    &path,
                    Some(json!({})),
                    as_operator(vec![("host", "rebind.evil.example")]),
                )
                .await;
            assert_eq!(
                s,
                StatusCode::MISDIRECTED_REQUEST,
                "{} {path}: {v}",
                spec.method
            );
            if spec.method == Method::GET {
                continue;
            }
            writes += 1;
            for cross in [
                vec![("sec-fetch-site", "cross-site")],
                vec![
                    ("origin", "http://evil.example"),
                    ("host", "127.0.0.1:8080"),
                ],
                vec![("origin", "null"), ("host", "127.0.0.1:8080")],
            ] {
                let (s, v, _) = a
                    .send(
                        spec.method.clone(),
                        &path,
                        Some(json!({})),
                        as_operator(cross.clone()),
                    )
                    .await;
                assert_eq!(
                    s,
                    StatusCode::FORBIDDEN,
                    "{} {path} {cross:?}: {v}",
                    spec.method
                );
                assert_eq!(v["error"]["code"], "cross_site");
            }
            let (s, v, _) = a
                .send(
                    spec.method.clone(),
                    &path,
                    Some(json!({})),
                    as_operator(vec![("content-type", "text/plain")]),
                )
                .await;
            let want = if spec.path.starts_with("/sfn/") {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            };
            assert_eq!(s, want, "{} {path} as text/plain: {v}", spec.method);
        }
    }
    assert!(writes > 40, "{writes}");
    assert_eq!(
        a.state_fingerprint().await,
        before,
        "no refused request changed anything"
    );
}

async fn actor_comes_from_the_token_and_workers_act_for_themselves(db: TestDb) {
    let a = api(db, 100).await;
    let op = a.token("alice", Role::Operator).await;
    let w = a.token("w1", Role::Worker).await;
    let auth = Req {
        bearer: Some(&op),
        ..Default::default()
    };
    let (s, v, _) = a
        .send(
            Method::POST,
            "/api/system/worker-pause",
            Some(json!({"action": "pause", "mode": "drain", "reason": "x"})),
            auth.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["requestedBy"], "alice");
    assert_eq!(v["audit"]["latest"][0]["actor"], "alice");
    let (s, _, _) = a
        .send(
            Method::POST,
            "/api/system/worker-pause",
            Some(json!({"action": "resume", "reason": "x", "actor": "mallory"})),
            auth,
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a client-supplied actor is refused"
    );
    let wreq = Req {
        bearer: Some(&w),
        ..Default::default()
    };
    let (s, v, _) = a
        .send(
            Method::POST,
            "/api/queue/jobs/claim",
            Some(json!({"workerId": "w2"})),
            wreq.clone(),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].clone()),
        (StatusCode::FORBIDDEN, json!("workerId"))
    );
    let (s, _, _) = a
        .send(
            Method::POST,
            "/api/queue/jobs/claim",
            Some(json!({"workerId": "w1"})),
            wreq.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = a
        .send(
            Method::POST,
            "/api/workers/w2/heartbeat",
            Some(json!({"bootId": "b", "state": "running"})),
            wreq,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// Revoking (as `lull token revoke` does, from another connection) takes
/// effect on the running server: at once on PostgreSQL (NOTIFY), within the
/// one-second token cache on SQLite.
async fn revocation_takes_effect_on_a_running_server(db: TestDb) {
    let a = api(db, 1000).await;
    let op = a.token("op", Role::Operator).await;
    let req = || Req {
        bearer: Some(&op),
        ..Default::default()
    };
    assert_eq!(
        a.send(Method::GET, "/status", None, req()).await.0,
        StatusCode::OK
    );
    let other = server::storage::connect(&a.db.url).await.unwrap();
    other.revoke_token("op", now()).await.unwrap();
    let revoked_at = Instant::now();
    loop {
        let (s, _, _) = a.send(Method::GET, "/status", None, req()).await;
        if s == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(3),
            "still accepted after 3 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = revoked_at.elapsed();
    eprintln!(
        "{}: revocation effective after {took:?}",
        a.db.store.backend()
    );
    if a.db.store.backend() == "postgres" {
        assert!(
            took < Duration::from_millis(500),
            "NOTIFY makes it immediate: {took:?}"
        );
    }
}

on_both_stores!(
    role_matrix,
    role_matrix_request_guard,
    actor_comes_from_the_token_and_workers_act_for_themselves,
    revocation_takes_effect_on_a_running_server,
);
