//! Authentication and roles, on both stores: the role matrix over the
//! router's own route table, the actor taken from the token, the session
//! cookie and its cross-site refusal, rate limiting and revocation.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use common::TestDb;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use server::auth::{Access, AuthMode};
use server::domain::Role;
use server::service::tokens::create_token;
use server::service::{now, Service, ServiceConfig};
use tower::ServiceExt;

struct Api {
    app: Router,
    svc: Arc<Service>,
    db: TestDb,
}

async fn api(db: TestDb, burst: u32) -> Api {
    let cfg = ServiceConfig {
        auth_mode: AuthMode::Token,
        auth_failure_burst: burst,
        ..Default::default()
    };
    let svc = Service::new(db.store.clone(), cfg).await.unwrap();
    svc.start().await.unwrap();
    let app = server::http::router(
        svc.clone(),
        &server::http::HttpOptions {
            static_dir: Some("/nonexistent".into()),
            ..Default::default()
        },
    );
    Api { app, svc, db }
}

#[derive(Default, Clone)]
struct Req<'a> {
    bearer: Option<&'a str>,
    cookie: Option<&'a str>,
    headers: Vec<(&'static str, &'a str)>,
    from: Option<&'static str>,
}

impl Api {
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        r: Req<'_>,
    ) -> (StatusCode, Value, axum::http::HeaderMap) {
        let mut b = Request::builder().method(method).uri(path);
        if !r.headers.iter().any(|(k, _)| *k == "content-type") {
            b = b.header("content-type", "application/json");
        }
        if let Some(t) = r.bearer {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        if let Some(c) = r.cookie {
            b = b.header("cookie", format!("lull_session={c}"));
        }
        for (k, v) in &r.headers {
            b = b.header(*k, *v);
        }
        let mut req = b
            .body(
                body.map(|v| Body::from(v.to_string()))
                    .unwrap_or_else(Body::empty),
            )
            .unwrap();
        let addr: SocketAddr = r.from.unwrap_or("192.0.2.1:5000").parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            headers,
        )
    }

    async fn token(&self, name: &str, role: Role) -> String {
        create_token(self.db.store.as_ref(), name, role, now())
            .await
            .unwrap()
            .1
    }

    async fn state_fingerprint(&self) -> Value {
        let s = self.db.store.as_ref();
        json!({
            "version": s.pause_state().await.unwrap().version,
            "events": s.list_events(100, None).await.unwrap().len(),
            "jobs": format!("{:?}", s.live_counts(now(), None).await.unwrap()),
            "queues": format!("{:?}", s.queue_pauses().await.unwrap()),
            "workers": s.list_workers().await.unwrap().len(),
        })
    }
}

fn concrete(path: &str) -> String {
    path.replace("{name}", "default")
        .replace("{id}/heartbeat", "w1/heartbeat")
        .replace("{id}", &uuid::Uuid::new_v4().to_string())
        .replace("{*fn_name}", "not_a_function")
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
    a.db.store.revoke_token("gone", now()).await.unwrap();
    a.svc.auth().invalidate();
    let bad = "lull_abcdef123456_0000000000000000000000000000000000000000000000000000000000000000"
        .to_string();

    let routes = server::http::route_specs(true);
    assert!(routes.len() >= 30, "the table lists every route");
    let creds: Vec<(&str, Option<&str>, Option<Role>)> = vec![
        ("none", None, None),
        ("bad", Some(&bad), None),
        ("revoked", Some(&revoked), None),
        ("viewer", Some(&viewer), Some(Role::Viewer)),
        ("worker", Some(&worker), Some(Role::Worker)),
        ("operator", Some(&operator), Some(Role::Operator)),
        ("producer", Some(&producer), Some(Role::Producer)),
    ];
    let expect_allowed =
        |access: Access, token: Option<&str>, role: Option<Role>| match (access, role) {
            (Access::Public, _) => true,
            // Open to everyone, but a credential that is sent must be good.
            (Access::Open, _) => token.is_none() || role.is_some(),
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
        for (label, token, role) in &creds {
            if expect_allowed(spec.access, *token, *role) {
                continue;
            }
            let (s, v, _) = a
                .send(
                    spec.method.clone(),
                    &concrete(spec.path),
                    Some(json!({})),
                    Req {
                        bearer: *token,
                        ..Default::default()
                    },
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
        for (label, token, role) in &creds {
            // The stream never ends; sign-in with `{}` is a failed sign-in
            // (401 naming the token field), covered by its own test.
            if !expect_allowed(spec.access, *token, *role)
                || spec.path.ends_with("/stream")
                || spec.path == "/auth/login"
            {
                continue;
            }
            // Server functions are the dashboard's: a browser's same-origin
            // call (the guard phase checks they refuse everything else).
            let headers = if spec.path.starts_with("/sfn/") {
                vec![("sec-fetch-site", "same-origin")]
            } else {
                vec![]
            };
            let (s, v, _) = a
                .send(
                    spec.method.clone(),
                    &concrete(spec.path),
                    Some(json!({})),
                    Req {
                        bearer: *token,
                        headers,
                        ..Default::default()
                    },
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
    let local = server::http::router(
        local,
        &server::http::HttpOptions {
            static_dir: Some("/nonexistent".into()),
            ..Default::default()
        },
    );
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

async fn session_cookie_signs_in_and_refuses_cross_site_writes(db: TestDb) {
    let a = api(db, 100).await;
    let op = a.token("op", Role::Operator).await;
    let viewer = a.token("viewer", Role::Viewer).await;
    let (s, v, h) = a
        .send(
            Method::POST,
            "/auth/login",
            Some(json!({"token": op})),
            Req::default(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["name"].clone(), v["role"].clone()),
        (json!("op"), json!("operator"))
    );
    let cookie = h.get("set-cookie").unwrap().to_str().unwrap().to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: not Secure");
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
    assert!(h
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("; Secure"));
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

    let me = a
        .send(
            Method::GET,
            "/auth/me",
            None,
            Req {
                cookie: Some(&op),
                ..Default::default()
            },
        )
        .await
        .1;
    assert_eq!(
        (me["signedIn"].clone(), me["role"].clone()),
        (json!(true), json!("operator"))
    );
    let anon = a
        .send(Method::GET, "/auth/me", None, Req::default())
        .await
        .1;
    assert_eq!(
        (anon["signedIn"].clone(), anon["authMode"].clone()),
        (json!(false), json!("token"))
    );

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
    assert_eq!(a.state_fingerprint().await, before);
    // Reads with the cookie need no origin proof; same-origin writes pass.
    let (s, _, _) = a
        .send(
            Method::GET,
            "/api/system/worker-pause",
            None,
            Req {
                cookie: Some(&op),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v, _) = a
        .send(
            Method::POST,
            "/api/system/worker-pause",
            Some(pause.clone()),
            Req {
                cookie: Some(&op),
                headers: vec![("sec-fetch-site", "same-origin")],
                ..Default::default()
            },
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // A viewer's cookie may read but not pause.
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
    let (s, _, h) = a
        .send(Method::POST, "/auth/logout", None, Req::default())
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(h
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
}

async fn auth_failures_are_rate_limited_per_address(db: TestDb) {
    let a = api(db, 5).await;
    let op = a.token("op", Role::Operator).await;
    for _ in 0..5 {
        let (s, _, _) = a
            .send(
                Method::GET,
                "/status",
                None,
                Req {
                    bearer: Some("lull_bad_bad"),
                    from: Some("198.51.100.7:1"),
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (s, v, h) = a
        .send(
            Method::GET,
            "/status",
            None,
            Req {
                bearer: Some(&op),
                from: Some("198.51.100.7:2"),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert!(
        h.get("retry-after")
            .unwrap()
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let (s, _, _) = a
        .send(
            Method::GET,
            "/status",
            None,
            Req {
                bearer: Some(&op),
                from: Some("198.51.100.8:1"),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(s, StatusCode::OK, "another address is not limited");
    let (s, _, _) = a
        .send(
            Method::GET,
            "/health",
            None,
            Req {
                from: Some("198.51.100.7:3"),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(s, StatusCode::OK, "public routes stay public");
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
    session_cookie_signs_in_and_refuses_cross_site_writes,
    auth_failures_are_rate_limited_per_address,
    revocation_takes_effect_on_a_running_server,
);
