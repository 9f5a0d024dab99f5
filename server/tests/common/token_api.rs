//! A token-mode API for the authentication tests: the real router over a
//! test store, called with `Router::oneshot` from a chosen client address
//! (`ConnectInfo`), with a bearer token, a session cookie or neither.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use server::auth::AuthMode;
use server::domain::Role;
use server::service::tokens::create_token;
use server::service::{now, Service, ServiceConfig};
use tower::ServiceExt;

use super::TestDb;

pub struct Api {
    pub app: Router,
    pub svc: Arc<Service>,
    pub db: TestDb,
}

/// Token mode, with `burst` failed authentications per address.
pub async fn api(db: TestDb, burst: u32) -> Api {
    api_with(
        db,
        ServiceConfig {
            auth_failure_burst: burst,
            ..Default::default()
        },
    )
    .await
}

/// Token mode with these tunables (its background tasks running).
pub async fn api_with(db: TestDb, cfg: ServiceConfig) -> Api {
    let cfg = ServiceConfig {
        auth_mode: AuthMode::Token,
        ..cfg
    };
    let svc = Service::new(db.store.clone(), cfg).await.unwrap();
    svc.start().await.unwrap();
    let app = super::router(svc.clone());
    Api { app, svc, db }
}

/// What a request carries besides its method, path and body.
#[derive(Default, Clone)]
pub struct Req<'a> {
    pub bearer: Option<&'a str>,
    /// The `lull_session` cookie's value.
    pub cookie: Option<&'a str>,
    pub headers: Vec<(&'static str, &'a str)>,
    /// The socket peer [default: 192.0.2.1:5000].
    pub from: Option<&'static str>,
}

impl Api {
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        r: Req<'_>,
    ) -> (StatusCode, Value, HeaderMap) {
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

    /// A new token's bearer string.
    pub async fn token(&self, name: &str, role: Role) -> String {
        create_token(self.db.store.as_ref(), name, role, now())
            .await
            .unwrap()
            .1
    }

    /// Signs in to the dashboard with `token`: the session id (the
    /// `lull_session` cookie's value).
    pub async fn sign_in(&self, token: &str) -> String {
        self.sign_in_cookie(token)
            .await
            .strip_prefix("lull_session=")
            .and_then(|rest| rest.split(';').next())
            .unwrap()
            .to_string()
    }

    /// Signs in to the dashboard with `token`: the whole `Set-Cookie`.
    pub async fn sign_in_cookie(&self, token: &str) -> String {
        let (s, v, h) = self
            .send(
                Method::POST,
                "/auth/login",
                Some(json!({ "token": token })),
                Req::default(),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "sign-in: {v}");
        h.get("set-cookie").unwrap().to_str().unwrap().to_string()
    }

    /// Signs the session out.
    pub async fn sign_out(&self, session: &str) {
        let req = Req {
            cookie: Some(session),
            ..Default::default()
        };
        let (s, v, _) = self.send(Method::POST, "/auth/logout", None, req).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "sign-out: {v}");
    }

    /// What a refused request must not have changed.
    pub async fn state_fingerprint(&self) -> Value {
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
