//! Dashboard sessions (issue 15), on both stores: sign-in hands the browser
//! an opaque session id (never the token); the session acts as its token
//! (the audit actor is unchanged) until it is signed out, its token is
//! revoked, or it idles or ages past its limits — on every server sharing
//! the database, on the very next request.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode};
use common::token_api::{api, api_with, Api, Req};
use common::TestDb;
use serde_json::{json, Value};
use server::auth::{hash_secret, parse_token, Caller, SessionPolicy};
use server::domain::Role;
use server::service::{now, ServiceConfig};

fn set_cookie(h: &HeaderMap) -> String {
    h.get("set-cookie").unwrap().to_str().unwrap().to_string()
}

/// A request carrying only the session cookie (or none).
async fn with_cookie(
    a: &Api,
    method: Method,
    path: &str,
    session: Option<&str>,
) -> (StatusCode, Value, HeaderMap) {
    let req = Req {
        cookie: session,
        ..Default::default()
    };
    a.send(method, path, None, req).await
}

/// A cookie-authenticated read's status.
async fn read_with(a: &Api, session: &str) -> StatusCode {
    with_cookie(a, Method::GET, "/status", Some(session))
        .await
        .0
}

async fn me(a: &Api, session: &str) -> Value {
    with_cookie(a, Method::GET, "/auth/me", Some(session))
        .await
        .1
}

async fn sign_in_sets_an_opaque_session_that_acts_as_its_token(db: TestDb) {
    let a = api(db, 100).await;
    let op = a.token("op", Role::Operator).await;
    let cookie = a.sign_in_cookie(&op).await;
    let id = a.sign_in(&op).await;
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: not Secure");
    let (_, secret) = op.rsplit_once('_').unwrap();
    assert!(
        !cookie.contains(&op) && !cookie.contains(secret),
        "the cookie is not the token: {cookie}"
    );
    // Only the id's hash is stored.
    let store = a.db.store.as_ref();
    let (later, idle) = (now(), now() - chrono::Duration::hours(1));
    let found = store
        .find_session(&hash_secret(&id), later, idle)
        .await
        .unwrap();
    assert_eq!(found.map(|(t, _)| t.name).as_deref(), Some("op"));
    assert!(store
        .find_session(&id, later, idle)
        .await
        .unwrap()
        .is_none());

    // The session's caller is the token's: name, role and token id (what
    // the audit log and the per-token stream caps key on).
    let caller = a.svc.auth().resume_session(&id, now()).await.unwrap();
    let (token_id, _) = parse_token(&op).unwrap();
    assert_eq!(
        caller,
        Caller {
            name: "op".into(),
            role: Some(Role::Operator),
            token_id: Some(token_id.into()),
        }
    );

    let me = me(&a, &id).await;
    assert_eq!(
        (
            me["signedIn"].clone(),
            me["name"].clone(),
            me["role"].clone()
        ),
        (json!(true), json!("op"), json!("operator"))
    );
    // A same-origin write with the session: the audit actor is the token's.
    let (s, v, _) = a
        .send(
            Method::POST,
            "/api/system/worker-pause",
            Some(json!({"action": "pause", "mode": "drain", "reason": "cookie"})),
            Req {
                cookie: Some(&id),
                headers: vec![("sec-fetch-site", "same-origin")],
                ..Default::default()
            },
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["audit"]["latest"][0]["actor"], "op");
    // Behind an HTTPS proxy the cookie is Secure.
    let (_, _, h) = a
        .send(
            Method::POST,
            "/auth/login",
            Some(json!({"token": op})),
            Req {
                headers: vec![("x-forwarded-proto", "https")],
                ..Default::default()
            },
        )
        .await;
    assert!(set_cookie(&h).contains("; Secure"));
    // A cookie holding a raw token (as before sessions) is no session.
    assert_eq!(read_with(&a, &op).await, StatusCode::UNAUTHORIZED);
    let (s, v, _) = a
        .send(
            Method::POST,
            "/auth/login",
            Some(json!({"token": "lull_x_y"})),
            Req::default(),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].clone()),
        (StatusCode::UNAUTHORIZED, json!("token"))
    );
}

async fn session_writes_need_our_own_origin_and_the_role(db: TestDb) {
    let a = api(db, 100).await;
    let op = a.sign_in(&a.token("op", Role::Operator).await).await;
    let viewer = a.sign_in(&a.token("viewer", Role::Viewer).await).await;
    let pause = json!({"action": "pause", "mode": "drain", "reason": "cookie"});
    let before = a.state_fingerprint().await;
    for headers in [
        vec![
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://evil.example"),
        ],
        vec![("origin", "http://evil.example"), ("host", "lull.local")],
        vec![],
    ] {
        let (s, v, _) = a
            .send(
                Method::POST,
                "/api/system/worker-pause",
                Some(pause.clone()),
                Req {
                    cookie: Some(&op),
                    headers: headers.clone(),
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(
            (s, v["error"]["code"].clone()),
            (StatusCode::FORBIDDEN, json!("cross_site")),
            "{headers:?}"
        );
    }
    // A viewer's session may read but not pause.
    assert_eq!(read_with(&a, &viewer).await, StatusCode::OK);
    let (s, _, _) = a
        .send(
            Method::POST,
            "/api/system/worker-pause",
            Some(pause),
            Req {
                cookie: Some(&viewer),
                headers: vec![("sec-fetch-site", "same-origin")],
                ..Default::default()
            },
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(a.state_fingerprint().await, before);
}

async fn sign_out_ends_the_session_and_a_replayed_cookie_is_refused(db: TestDb) {
    let a = api(db, 100).await;
    let op = a.token("op", Role::Operator).await;
    let id = a.sign_in(&op).await;
    let other = a.sign_in(&op).await;
    assert_eq!(read_with(&a, &id).await, StatusCode::OK);
    let (s, _, h) = with_cookie(&a, Method::POST, "/auth/logout", Some(&id)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(set_cookie(&h).contains("Max-Age=0"));
    let (s, v, _) = with_cookie(&a, Method::GET, "/status", Some(&id)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "replayed cookie: {v}");
    assert_eq!(v["error"]["code"], "unauthorized");
    assert_eq!(me(&a, &id).await["signedIn"], json!(false));
    assert_eq!(
        read_with(&a, &other).await,
        StatusCode::OK,
        "only that session ended"
    );
    // Signing out again, or without a session, is harmless.
    for cookie in [Some(id.as_str()), None] {
        let (s, _, _) = with_cookie(&a, Method::POST, "/auth/logout", cookie).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
    }
}

/// Revoking the token from another connection (as `lull token revoke`
/// does) ends its sessions on the very next request, and the token can no
/// longer sign in.
async fn revoking_a_token_ends_its_sessions(db: TestDb) {
    let a = api(db, 100).await;
    let op = a.token("op", Role::Operator).await;
    let keep = a.token("keep", Role::Viewer).await;
    let first = a.sign_in(&op).await;
    let second = a.sign_in(&op).await;
    let kept = a.sign_in(&keep).await;
    assert_eq!(read_with(&a, &first).await, StatusCode::OK);
    let other = server::storage::connect(&a.db.url).await.unwrap();
    other.revoke_token("op", now()).await.unwrap();
    for id in [&first, &second] {
        assert_eq!(read_with(&a, id).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(read_with(&a, &kept).await, StatusCode::OK);
    let (s, _, _) = a
        .send(
            Method::POST,
            "/auth/login",
            Some(json!({"token": op})),
            Req::default(),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

async fn sessions_end_when_idle_and_at_their_lifetime(db: TestDb) {
    let beside = db.beside().await;
    let idle = api_with(
        db,
        ServiceConfig {
            sessions: SessionPolicy {
                idle: Duration::from_millis(1000),
                lifetime: Duration::from_secs(60),
            },
            ..Default::default()
        },
    )
    .await;
    let op = idle.token("op", Role::Operator).await;
    let id = idle.sign_in(&op).await;
    // Used more often than the idle limit: it lives on past it.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(read_with(&idle, &id).await, StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(
        read_with(&idle, &id).await,
        StatusCode::UNAUTHORIZED,
        "idle"
    );

    let aged = api_with(
        beside,
        ServiceConfig {
            sessions: SessionPolicy {
                idle: Duration::from_secs(60),
                lifetime: Duration::from_millis(1500),
            },
            ..Default::default()
        },
    )
    .await;
    let cookie = aged.sign_in_cookie(&op).await;
    let id = aged.sign_in(&op).await;
    assert!(
        cookie.split("; ").any(|attr| attr == "Max-Age=2"),
        "whole seconds, rounded up: {cookie}"
    );
    assert_eq!(read_with(&aged, &id).await, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(read_with(&aged, &id).await, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        read_with(&aged, &id).await,
        StatusCode::UNAUTHORIZED,
        "past its lifetime, however active"
    );
}

/// Two servers on one database: a session started on one works on the
/// other, and a sign-out on either ends it on both.
async fn sessions_work_across_servers(db: TestDb) {
    let beside = db.beside().await;
    let a = api(db, 100).await;
    let b = api(beside, 100).await;
    let op = a.token("op", Role::Operator).await;
    let id = a.sign_in(&op).await;
    assert_eq!(read_with(&b, &id).await, StatusCode::OK);
    let (s, _, _) = with_cookie(&b, Method::POST, "/auth/logout", Some(&id)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(read_with(&a, &id).await, StatusCode::UNAUTHORIZED);
}

on_both_stores!(
    sign_in_sets_an_opaque_session_that_acts_as_its_token,
    session_writes_need_our_own_origin_and_the_role,
    sign_out_ends_the_session_and_a_replayed_cookie_is_refused,
    revoking_a_token_ends_its_sessions,
    sessions_end_when_idle_and_at_their_lifetime,
    sessions_work_across_servers,
);
