//! The hardening of issue #15, on both stores, one test per finding:
//! cross-site writes and DNS rebinding in local mode, the body limit of
//! every route (server functions included). See `docs/security.md`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode};
use common::api::Api;
use common::TestDb;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use server::service::ServiceConfig;
use tower::ServiceExt;

/// A request with exactly these headers (no JSON content type unless
/// listed): what a browser, a form or curl would send.
async fn send(
    a: &Api,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Body,
) -> (StatusCode, Value) {
    let mut b = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = a.app.clone().oneshot(b.body(body).unwrap()).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn paused(a: &Api) -> (bool, i64) {
    let s = a.get("/api/system/worker-pause").await;
    (
        s["workersPaused"].as_bool().unwrap(),
        s["version"].as_i64().unwrap(),
    )
}

const HOST: (&str, &str) = ("host", "127.0.0.1:8080");
const JSON: (&str, &str) = ("content-type", "application/json");

/// Finding 1: local mode (auth disabled, the default) refuses what a web
/// page can make the operator's browser send, and still takes curl's.
async fn local_mode_refuses_cross_site_writes(db: TestDb) {
    let a = Api::new(db, ServiceConfig::default(), false).await;
    // The runbook's bare `curl -X POST` (no body, no type) still pauses.
    let (s, v) = send(&a, Method::POST, "/scheduler/pause", &[HOST], Body::empty()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let before = paused(&a).await;
    assert!(before.0);

    // An auto-submitted cross-site form: the browser sends its origin.
    let form = [
        HOST,
        ("content-type", "application/x-www-form-urlencoded"),
        ("origin", "http://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ];
    for path in ["/scheduler/resume", "/api/system/worker-pause"] {
        let (s, v) = send(&a, Method::POST, path, &form, Body::from("x=1")).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {v}");
        assert_eq!(v["error"]["code"], "cross_site");
    }
    // The same form with an empty body, and a cross-site fetch of JSON.
    let (s, _) = send(&a, Method::POST, "/scheduler/resume", &form, Body::empty()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = send(
        &a,
        Method::POST,
        "/api/system/worker-pause",
        &[HOST, JSON, ("origin", "http://evil.example")],
        Body::from(json!({"action": "resume", "reason": "x"}).to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A server function, form-encoded as Leptos sends it.
    let (s, v) = send(
        &a,
        Method::POST,
        "/sfn/change_pause",
        &[
            HOST,
            ("content-type", "application/x-www-form-urlencoded"),
            ("origin", "http://evil.example"),
        ],
        Body::from("request[action]=resume&request[reason]=csrf"),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    // A browser that sends no origin at all (or a script): a form body is
    // not JSON → 415, and a server function needs the same-origin proof.
    for ct in [
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data; boundary=x",
    ] {
        let (s, v) = send(
            &a,
            Method::POST,
            "/scheduler/resume",
            &[HOST, ("content-type", ct)],
            Body::from("{}"),
        )
        .await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}: {v}");
        assert_eq!(v["error"]["code"], "unsupported_media_type");
    }
    let (s, _) = send(
        &a,
        Method::POST,
        "/scheduler/resume",
        &[HOST],
        Body::from(r#"{"reason":"no type"}"#),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "a body without a type"
    );
    let (s, _) = send(
        &a,
        Method::POST,
        "/sfn/change_pause",
        &[HOST, ("content-type", "application/x-www-form-urlencoded")],
        Body::from("request[action]=resume&request[reason]=csrf"),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(paused(&a).await, before, "nothing refused changed anything");

    // The dashboard's own calls (same origin) and curl with JSON work.
    let (s, v) = send(
        &a,
        Method::POST,
        "/sfn/get_pause_state",
        &[
            HOST,
            ("content-type", "application/x-www-form-urlencoded"),
            ("sec-fetch-site", "same-origin"),
            ("origin", "http://127.0.0.1:8080"),
        ],
        Body::empty(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["workersPaused"], true);
    let (s, v) = send(
        &a,
        Method::POST,
        "/scheduler/resume",
        &[
            HOST,
            JSON,
            ("origin", "http://127.0.0.1:8080"),
            ("sec-fetch-site", "same-origin"),
        ],
        Body::from(r#"{"reason":"done"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(!paused(&a).await.0);
}

/// Finding 1: a DNS-rebinding page reaches us under its own name → 421,
/// for reads and writes; names configured with `--allowed-hosts` (or the
/// public URL's) are served.
async fn rebinding_hosts_are_misdirected(db: TestDb) {
    let a = Api::new(db, ServiceConfig::default(), false).await;
    let evil = [("host", "rebind.evil.example:8080")];
    for (method, path) in [
        (Method::GET, "/api/system/worker-pause"),
        (Method::GET, "/api/system/worker-pause/events"),
        (Method::GET, "/health"),
        (Method::GET, "/"),
        (Method::POST, "/scheduler/pause"),
    ] {
        let (s, v) = send(&a, method.clone(), path, &evil, Body::empty()).await;
        assert_eq!(s, StatusCode::MISDIRECTED_REQUEST, "{method} {path}: {v}");
        assert_eq!(v["error"]["code"], "unknown_host");
    }
    assert!(!paused(&a).await.0, "the rebinding write changed nothing");
    for host in ["localhost:8080", "[::1]:8080", "127.0.0.1"] {
        let (s, _) = send(
            &a,
            Method::GET,
            "/api/system/worker-pause",
            &[("host", host)],
            Body::empty(),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{host}");
    }

    let db = a.db;
    let app = server::http::router(
        a.svc.clone(),
        &server::http::HttpOptions {
            static_dir: Some("/nonexistent".into()),
            allowed_hosts: server::http::guard::AllowedHosts::new(["lull.example.com".into()]),
            ..Default::default()
        },
    );
    let b = Api {
        app,
        svc: a.svc,
        db,
    };
    let (s, _) = send(
        &b,
        Method::GET,
        "/api/system/worker-pause",
        &[("host", "LULL.example.com")],
        Body::empty(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = send(&b, Method::GET, "/health", &evil, Body::empty()).await;
    assert_eq!(s, StatusCode::MISDIRECTED_REQUEST);
}

/// A body that counts how much of it the server pulled.
fn counted(total: u64, pulled: Arc<AtomicU64>) -> Body {
    let chunk = Bytes::from(vec![b'a'; 64 * 1024]);
    let stream = futures::stream::unfold(0u64, move |sent| {
        let chunk = chunk.clone();
        let pulled = pulled.clone();
        async move {
            (sent < total).then(|| {
                pulled.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                (
                    Ok::<_, std::io::Error>(chunk.clone()),
                    sent + chunk.len() as u64,
                )
            })
        }
    });
    Body::from_stream(stream)
}

/// Finding 3: one body limit for every route, server functions included:
/// a 100 MB body is 413 JSON, and the server stops reading it at the limit
/// (its memory stays flat), whether the length is declared or streamed.
async fn every_route_has_one_body_limit(db: TestDb) {
    let a = Api::new(db, ServiceConfig::default(), false).await;
    const HUNDRED_MB: u64 = 100 * 1024 * 1024;
    let browser = [
        HOST,
        ("content-type", "application/x-www-form-urlencoded"),
        ("sec-fetch-site", "same-origin"),
    ];
    for path in [
        "/sfn/change_pause",
        "/sfn/get_events",
        "/api/queue/jobs",
        "/scheduler/pause",
    ] {
        let headers: &[(&str, &str)] = if path.starts_with("/sfn/") {
            &browser
        } else {
            &[HOST, JSON]
        };
        // Streamed (chunked): read up to the limit, then refused.
        let pulled = Arc::new(AtomicU64::new(0));
        let (s, v) = send(
            &a,
            Method::POST,
            path,
            headers,
            counted(HUNDRED_MB, pulled.clone()),
        )
        .await;
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {v}");
        assert_eq!(v["error"]["code"], "payload_too_large", "{path}");
        let read = pulled.load(Ordering::SeqCst);
        assert!(
            read <= 2 * server::http::MAX_BODY_BYTES as u64,
            "{path}: the server read {read} bytes of a 100 MB body"
        );
        // Declared: refused before a byte is read.
        let pulled = Arc::new(AtomicU64::new(0));
        let len = HUNDRED_MB.to_string();
        let mut with_len = headers.to_vec();
        with_len.push(("content-length", &len));
        let (s, _) = send(
            &a,
            Method::POST,
            path,
            &with_len,
            counted(HUNDRED_MB, pulled.clone()),
        )
        .await;
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{path} (declared)");
        assert_eq!(pulled.load(Ordering::SeqCst), 0, "{path}: nothing read");
    }
    assert!(!paused(&a).await.0);
}

/// Finding 5 over HTTP: a different request with a used `requestId` is 409
/// `request_id_reused` (a resume reusing a pause's id no longer "succeeds"
/// doing nothing), and the server's own id prefixes are refused
/// (a client pre-claiming `timed-resume-v2` could keep a timed pause from
/// ever ending).
async fn request_ids_remember_their_request(db: TestDb) {
    let a = Api::new(db, ServiceConfig::default(), false).await;
    let pause =
        json!({"action": "pause", "mode": "drain", "reason": "deploy", "requestId": "deploy-42"});
    a.post("/api/system/worker-pause", pause.clone()).await;
    let replay = a.post("/api/system/worker-pause", pause).await;
    assert_eq!(replay["version"], 2, "the same request replays");
    for (path, body) in [
        (
            "/api/system/worker-pause",
            json!({"action": "resume", "reason": "deploy", "requestId": "deploy-42"}),
        ),
        (
            "/api/queues/emails/pause",
            json!({"mode": "drain", "reason": "deploy", "requestId": "deploy-42"}),
        ),
    ] {
        let (s, v) = a.call(Method::POST, path, Some(body)).await;
        assert_eq!(s, StatusCode::CONFLICT, "{path}: {v}");
        assert_eq!(v["error"]["code"], "request_id_reused", "{path}");
        assert_eq!(v["error"]["field"], "requestId");
    }
    assert_eq!(paused(&a).await, (true, 2), "nothing changed");

    for (path, body) in [
        (
            "/api/system/worker-pause",
            json!({"action": "resume", "reason": "x", "requestId": "timed-resume-v2"}),
        ),
        (
            "/api/system/worker-pause",
            json!({"action": "pause", "mode": "drain", "reason": "x", "requestId": "timed-resume-v3"}),
        ),
        (
            "/api/queues/emails/pause",
            json!({"mode": "drain", "reason": "x", "requestId": "timed-resume-queue-v1-emails"}),
        ),
    ] {
        let (s, v) = a.call(Method::POST, path, Some(body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {v}");
        assert_eq!(v["error"]["field"], "requestId");
    }
    assert_eq!(paused(&a).await, (true, 2), "nothing changed");
}

/// Finding 6: NUL in any JSON body (payload, result, error, name, label)
/// and other control characters in text fields are 422 at validation —
/// the same answer on both stores (PostgreSQL used to answer 500, SQLite
/// stored it) — and nothing is stored.
async fn nul_and_control_characters_are_refused_on_both_stores(db: TestDb) {
    let a = Api::new(db, ServiceConfig::default(), false).await;
    // Raw bodies: serde_json would escape a NUL the same way.
    let refused =
        |path: &str, body: String, field: &str| (path.to_string(), body, field.to_string());
    let job = a.enqueue().await;
    let claim = a.claim("w1").await;
    let token = claim["job"]["leaseToken"].as_str().unwrap().to_string();
    let cases = [
        refused(
            "/api/queue/jobs",
            r#"{"type":"email","payload":{"to":"a\u0000b"}}"#.into(),
            "payload.to",
        ),
        refused(
            "/api/queue/jobs",
            r#"{"type":"email","payload":{"k\u0000":1}}"#.into(),
            "payload.k\u{0}",
        ),
        refused(
            "/api/queue/jobs/batch",
            r#"{"jobs":[{"type":"email","payload":["ok","\u0000"]}]}"#.into(),
            "jobs[0].payload[1]",
        ),
        refused(
            "/api/system/worker-pause",
            r#"{"action":"pause","mode":"drain","reason":"deploy\u0000"}"#.into(),
            "reason",
        ),
        refused(
            "/api/workers/register",
            r#"{"workerId":"w1","hostname":"h","labels":{"zone":"a\u0000"}}"#.into(),
            "labels.zone",
        ),
    ];
    let mut cases = cases.to_vec();
    for (what, body) in [
        (
            "complete",
            format!(r#"{{"workerId":"w1","leaseToken":"{token}","result":{{"out":"\u0000"}}}}"#),
        ),
        (
            "fail",
            format!(r#"{{"workerId":"w1","leaseToken":"{token}","error":"boom\u0000"}}"#),
        ),
    ] {
        let field = if what == "complete" {
            "result.out"
        } else {
            "error"
        };
        cases.push(refused(
            &format!("/api/queue/jobs/{job}/{what}"),
            body,
            field,
        ));
    }
    cases.push(refused(
        "/api/workers/results",
        format!(
            r#"{{"idempotencyKey":"k-nul","payloadType":"execution_result","taskId":"{job}","workerId":"w1","payload":{{"leaseToken":"{token}","status":"succeeded","result":"\u0000"}}}}"#
        ),
        "payload.result",
    ));
    for (path, body, field) in &cases {
        let (s, v) = a.call_raw_json(Method::POST, path, Some(body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path} {body}: {v}");
        assert_eq!(v["error"]["field"], field.as_str(), "{path}: {v}");
    }
    // Other control characters in text fields: an error with an escape
    // sequence (terminal injection), a reason with a bell.
    for (path, body) in [
        (
            format!("/api/queue/jobs/{job}/fail"),
            format!(r#"{{"workerId":"w1","leaseToken":"{token}","error":"boom\u001b[2J"}}"#),
        ),
        (
            "/api/system/worker-pause".to_string(),
            r#"{"action":"pause","mode":"drain","reason":"x\u0007"}"#.to_string(),
        ),
    ] {
        let (s, v) = a.call_raw_json(Method::POST, &path, Some(&body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path} {body}: {v}");
    }
    // Nothing was stored: the job is still running, nothing was enqueued,
    // the fleet is not paused; a stack trace's line breaks are fine.
    let j = a.get(&format!("/api/queue/jobs/{job}")).await;
    assert_eq!(j["status"], "running", "{j}");
    let list = a.get("/api/queue/jobs").await;
    assert_eq!(list["jobs"].as_array().unwrap().len(), 1, "{list}");
    assert!(!paused(&a).await.0);
    let (s, v) = a
        .call_raw_json(
            Method::POST,
            &format!("/api/queue/jobs/{job}/fail"),
            Some(&format!(
                r#"{{"workerId":"w1","leaseToken":"{token}","error":"boom\r\n\tat main.rs:1","retryable":false}}"#
            )),
        )
        .await;
    assert!(s.is_success(), "{v}");
}

on_both_stores!(
    local_mode_refuses_cross_site_writes,
    rebinding_hosts_are_misdirected,
    every_route_has_one_body_limit,
    request_ids_remember_their_request,
    nul_and_control_characters_are_refused_on_both_stores,
);

/// Finding 9: one server per SQLite file — a second `lull serve` on the
/// same database refuses to start with a clear message (it used to start,
/// and the two failed each other's writes with `SQLITE_BUSY` → 500); once
/// the first stops, a new one starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_one_sqlite_file_refuses_to_start() {
    let db = testkit::TestDb::sqlite();
    let cfg = server::config::ConfigArgs {
        listen: Some("127.0.0.1:0".into()),
        database_url: Some(db.url.clone()),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (_, _, first) = server::start(&cfg, async {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    let err = server::start(&cfg, std::future::pending())
        .await
        .map(|_| ())
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("another lull server is already using"),
        "{msg}"
    );
    assert!(msg.contains("lull.db.lock"), "{msg}");
    stop.send(()).unwrap();
    first.await.unwrap().unwrap();
    let (_, _, again) = server::start(&cfg, async {}).await.unwrap();
    again.await.unwrap().unwrap();
}

/// Finding 9: SQLite writers take the write lock at `BEGIN` (IMMEDIATE)
/// and wait for each other up to the busy timeout. Two processes' stores
/// on one file (the server and the CLI's token commands) toggling the
/// pause concurrently: no transition fails. With a deferred `BEGIN`
/// the read-then-write transactions failed at once with `SQLITE_BUSY`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writers_in_two_processes_wait_for_each_other() {
    let db = testkit::TestDb::sqlite();
    let a = server::storage::connect(&db.url).await.unwrap();
    let b = server::storage::connect(&db.url).await.unwrap();
    let toggles = |store: Arc<dyn server::storage::Store>, who: &'static str| async move {
        let mut failures = Vec::new();
        for i in 0..40 {
            let raw = if i % 2 == 0 {
                json!({"action": "pause", "mode": "drain", "reason": format!("{who} {i}")})
            } else {
                json!({"action": "resume", "reason": format!("{who} {i}")})
            };
            let cmd =
                server::domain::PauseCommand::parse(serde_json::from_value(raw).unwrap()).unwrap();
            if let Err(e) = store
                .transition_pause(&cmd, who, server::service::now())
                .await
            {
                failures.push(e.to_string());
            }
        }
        failures
    };
    let (fa, fb) = tokio::join!(
        tokio::spawn(toggles(a.clone(), "a")),
        tokio::spawn(toggles(b.clone(), "b"))
    );
    let failures: Vec<String> = fa.unwrap().into_iter().chain(fb.unwrap()).collect();
    assert!(
        failures.is_empty(),
        "{} failed: {failures:?}",
        failures.len()
    );
    // A resume of a running fleet changes nothing, so not all 80 are events.
    assert!(!a.list_events(200, None).await.unwrap().is_empty());
}
