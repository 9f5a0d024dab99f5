//! An in-process API for HTTP tests: the real router over a test store,
//! called with `Router::oneshot`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use server::service::{Service, ServiceConfig};
use tower::ServiceExt;

use super::TestDb;

pub struct Api {
    pub app: Router,
    pub svc: Arc<Service>,
    pub db: TestDb,
}

impl Api {
    /// The router over `db`; `start` runs the background tasks (listener,
    /// refreshers, controllers) as `lull serve` does.
    pub async fn new(db: TestDb, cfg: ServiceConfig, start: bool) -> Api {
        let svc = Service::new(db.store.clone(), cfg).await.unwrap();
        if start {
            svc.start().await.unwrap();
        }
        let app = super::router(svc.clone());
        Api { app, svc, db }
    }

    /// Any request; the body as text.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> (StatusCode, String) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).to_string())
    }

    /// A JSON request; the body as JSON (`Null` when it is not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, text) = self
            .raw(method, path, body.map(|b| b.to_string().into_bytes()))
            .await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A JSON request that must succeed.
    pub async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (s, v) = self.call(method, path, body).await;
        assert!(s.is_success(), "{path}: {s} {v}");
        v
    }

    pub async fn get(&self, path: &str) -> Value {
        self.ok(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.ok(Method::POST, path, Some(body)).await
    }

    /// Enqueues an `email` job; its id.
    pub async fn enqueue(&self) -> String {
        let v = self
            .post(
                "/api/queue/jobs",
                json!({"type": "email", "payload": {"to": "a@b"}}),
            )
            .await;
        v["id"].as_str().unwrap().to_string()
    }

    /// A claim by `worker`, which must succeed.
    pub async fn claim(&self, worker: &str) -> Value {
        self.post("/api/queue/jobs/claim", json!({"workerId": worker}))
            .await
    }

    /// A request with a raw body; the answer must be JSON.
    pub async fn call_raw_json(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
    ) -> (StatusCode, Value) {
        let (s, text) = self
            .raw(method, path, body.map(|b| b.as_bytes().to_vec()))
            .await;
        let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: not JSON: {text}"));
        (s, v)
    }
}
