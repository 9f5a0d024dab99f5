//! The MCP server at `/mcp`, driven by `rmcp`'s own client over
//! streamable HTTP against the real router on a TCP port: every tool, the
//! tool list per role, and the errors (our codes as tool errors), on both
//! stores.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::collections::BTreeSet;

use common::served::Served;
use common::TestDb;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{json, Value};
use server::auth::AuthMode;
use server::domain::{Registration, Role};
use server::service::tokens::create_token;
use server::service::{now, ServiceConfig};

type Client = RunningService<RoleClient, ClientConfig>;

async fn served(db: TestDb) -> Served {
    Served::start(
        db,
        ServiceConfig {
            auth_mode: AuthMode::Token,
            pause_poll_interval_ms: 1234,
            ..Default::default()
        },
    )
    .await
}

async fn token(s: &Served, name: &str, role: Role) -> String {
    create_token(s.db.store.as_ref(), name, role, now())
        .await
        .unwrap()
        .1
}

/// An MCP session as `token`'s holder.
async fn connect(s: &Served, token: &str) -> Client {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(s.url("/mcp")).auth_header(token),
    );
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("lull-mcp-test", "0.0.1"),
    )
    .serve(transport)
    .await
    .expect("MCP initialize")
}

async fn call(c: &Client, tool: &str, args: Value) -> CallToolResult {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    c.call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

/// A successful call's structured answer.
async fn ok(c: &Client, tool: &str, args: Value) -> Value {
    let r = call(c, tool, args).await;
    assert_ne!(r.is_error, Some(true), "{tool} failed: {r:?}");
    r.structured_content.expect("structured content")
}

/// A refused call's error body (`{"error": {code, message, field}}`).
async fn refused(c: &Client, tool: &str, args: Value) -> Value {
    let r = call(c, tool, args).await;
    assert_eq!(r.is_error, Some(true), "{tool} should have failed: {r:?}");
    r.structured_content.expect("structured error")
}

async fn tool_names(c: &Client) -> BTreeSet<String> {
    c.list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Each role sees exactly the tools its REST routes allow; schemas come
/// from the wire request types.
async fn tools_follow_the_role(db: TestDb) {
    let s = served(db).await;
    let viewer = connect(&s, &token(&s, "viewer-1", Role::Viewer).await).await;
    let worker = connect(&s, &token(&s, "w1", Role::Worker).await).await;
    let producer = connect(&s, &token(&s, "app-1", Role::Producer).await).await;
    let operator = connect(&s, &token(&s, "op-1", Role::Operator).await).await;
    assert_eq!(
        tool_names(&viewer).await,
        set(&["events.list", "system.status", "workers.list"])
    );
    assert_eq!(
        tool_names(&worker).await,
        set(&[
            "queue.claim",
            "queue.complete",
            "queue.fail",
            "queue.heartbeat"
        ])
    );
    assert_eq!(tool_names(&producer).await, set(&["queue.enqueue"]));
    assert_eq!(
        tool_names(&operator).await,
        set(&[
            "events.list",
            "queue.enqueue",
            "system.pause",
            "system.resume",
            "system.status",
            "workers.action",
            "workers.list"
        ])
    );
    let tools = worker.list_all_tools().await.unwrap();
    let claim = tools.iter().find(|t| t.name == "queue.claim").unwrap();
    let props = claim.input_schema["properties"].as_object().unwrap();
    for field in ["workerId", "types", "queues", "waitMs", "leaseSeconds"] {
        assert!(
            props.contains_key(field),
            "queue.claim schema lacks {field}"
        );
    }
    let hb = tools.iter().find(|t| t.name == "queue.heartbeat").unwrap();
    assert!(hb.input_schema["properties"]
        .as_object()
        .unwrap()
        .contains_key("jobId"));
    assert!(hb.input_schema["required"]
        .as_array()
        .unwrap()
        .contains(&json!("jobId")));
    // A tool the role lacks: refused with our code, nothing changed.
    let e = refused(
        &worker,
        "system.pause",
        json!({"mode": "drain", "reason": "not mine"}),
    )
    .await;
    assert_eq!(e["error"]["code"], "forbidden", "{e}");
    let e = refused(&viewer, "queue.enqueue", json!({"type": "x"})).await;
    assert_eq!(e["error"]["code"], "forbidden", "{e}");
    assert_eq!(s.svc.cache().version(), 1, "a refused call changed nothing");
    // No token: the endpoint itself refuses (401 before MCP).
    let r = reqwest::Client::new()
        .post(s.url("/mcp"))
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// The agent worker's cycle with the pause metadata inline: enqueue, pause,
/// claim while paused (job null + system), resume, claim, heartbeat,
/// complete, fail; the audit actor is the token's name.
async fn worker_cycle_with_pause_metadata(db: TestDb) {
    let s = served(db).await;
    let producer = connect(&s, &token(&s, "app-1", Role::Producer).await).await;
    let operator = connect(&s, &token(&s, "op-1", Role::Operator).await).await;
    let worker = connect(&s, &token(&s, "w1", Role::Worker).await).await;

    let job = ok(
        &producer,
        "queue.enqueue",
        json!({"type": "email", "payload": {"to": "a@b"}}),
    )
    .await;
    assert_eq!(job["status"], "queued");
    assert_eq!(job["duplicate"], false);
    ok(
        &operator,
        "queue.enqueue",
        json!({"type": "email", "payload": {"to": "c@d"}}),
    )
    .await;

    let paused = ok(
        &operator,
        "system.pause",
        json!({"mode": "drain", "reason": "deploy 42"}),
    )
    .await;
    assert_eq!(paused["workersPaused"], true);
    assert_eq!(paused["version"], 2);

    let c = ok(&worker, "queue.claim", json!({"workerId": "w1"})).await;
    assert_eq!(c["job"], Value::Null, "no job while paused: {c}");
    assert_eq!(c["system"]["workersPaused"], true);
    assert_eq!(c["system"]["mode"], "drain");
    assert_eq!(c["system"]["reason"], "deploy 42");
    assert_eq!(c["system"]["version"], 2);
    assert_eq!(c["system"]["pausePollIntervalMs"], 1234);

    let status = ok(&operator, "system.status", json!({})).await;
    assert_eq!(status["status"]["workersPaused"], true);
    assert_eq!(status["status"]["metrics"]["queued"], 2);
    assert_eq!(status["drain"]["metrics"]["isDrained"], true);

    let resumed = ok(&operator, "system.resume", json!({"reason": "deploy done"})).await;
    assert_eq!(resumed["workersPaused"], false);
    assert_eq!(resumed["version"], 3);

    let c = ok(
        &worker,
        "queue.claim",
        json!({"workerId": "w1", "types": ["email"]}),
    )
    .await;
    assert_eq!(c["system"]["workersPaused"], false);
    assert_eq!(c["system"]["version"], 3);
    let id = c["job"]["id"].as_str().unwrap().to_string();
    let lease = c["job"]["leaseToken"].as_str().unwrap().to_string();
    let hb = ok(
        &worker,
        "queue.heartbeat",
        json!({"jobId": id, "workerId": "w1", "leaseToken": lease}),
    )
    .await;
    assert_eq!(hb["system"]["workersPaused"], false);
    assert_eq!(hb["job"]["status"], "running");
    let done = ok(
        &worker,
        "queue.complete",
        json!({"jobId": id, "workerId": "w1", "leaseToken": lease, "result": {"sent": true}}),
    )
    .await;
    assert_eq!(done["status"], "succeeded");
    // The lease is gone now: a late call is refused with our code.
    let e = refused(
        &worker,
        "queue.complete",
        json!({"jobId": id, "workerId": "w1", "leaseToken": lease}),
    )
    .await;
    assert_eq!(e["error"]["code"], "lease_lost", "{e}");

    let c = ok(&worker, "queue.claim", json!({"workerId": "w1"})).await;
    let id2 = c["job"]["id"].as_str().unwrap().to_string();
    let lease2 = c["job"]["leaseToken"].as_str().unwrap().to_string();
    let failed = ok(
        &worker,
        "queue.fail",
        json!({"jobId": id2, "workerId": "w1", "leaseToken": lease2, "error": "smtp down", "retryable": false}),
    )
    .await;
    assert_eq!(failed["status"], "failed");

    let events = ok(&operator, "events.list", json!({"limit": 10})).await;
    let events = events["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["action"], "resume");
    assert_eq!(events[1]["action"], "pause");
    assert!(events.iter().all(|e| e["actor"] == "op-1"), "{events:?}");
}

/// A quiesce reaches a running job through its heartbeat; resuming before
/// the fleet drained answers the warning and audits `forceResume`.
async fn quiesce_then_resume_before_drained(db: TestDb) {
    let s = served(db).await;
    let operator = connect(&s, &token(&s, "op-1", Role::Operator).await).await;
    let worker = connect(&s, &token(&s, "w1", Role::Worker).await).await;
    ok(&operator, "queue.enqueue", json!({"type": "report"})).await;
    let c = ok(&worker, "queue.claim", json!({"workerId": "w1"})).await;
    let id = c["job"]["id"].as_str().unwrap().to_string();
    let lease = c["job"]["leaseToken"].as_str().unwrap().to_string();
    ok(
        &operator,
        "system.pause",
        json!({"mode": "quiesce", "reason": "incident"}),
    )
    .await;
    let hb = ok(
        &worker,
        "queue.heartbeat",
        json!({"jobId": id, "workerId": "w1", "leaseToken": lease, "pausedAtCheckpoint": true}),
    )
    .await;
    assert_eq!(hb["system"]["workersPaused"], true);
    assert_eq!(hb["system"]["mode"], "quiesce");
    assert_eq!(hb["system"]["reason"], "incident");
    let status = ok(&operator, "system.status", json!({})).await;
    assert_eq!(status["status"]["metrics"]["isDrained"], false);
    let blocking = status["drain"]["blocking"].as_array().unwrap();
    assert_eq!(blocking.len(), 1, "the running job blocks the drain");
    assert_eq!(blocking[0]["id"], json!(id));
    let r = ok(
        &operator,
        "system.resume",
        json!({"reason": "incident over", "forceResume": true}),
    )
    .await;
    assert_eq!(r["workersPaused"], false);
    assert!(r["warning"].as_str().unwrap().contains("1 running"), "{r}");
    let events = ok(&operator, "events.list", json!({"limit": 1})).await;
    assert_eq!(events["events"][0]["forceResume"], true);
    assert_eq!(events["events"][0]["actor"], "op-1");
}

/// Bad input is refused with the REST codes and names the field; a worker
/// token acts only as its own worker.
async fn errors_carry_our_codes(db: TestDb) {
    let s = served(db).await;
    let operator = connect(&s, &token(&s, "op-1", Role::Operator).await).await;
    let worker = connect(&s, &token(&s, "w1", Role::Worker).await).await;
    let e = refused(&operator, "system.pause", json!({"mode": "drain"})).await;
    assert_eq!(e["error"]["code"], "validation_failed", "{e}");
    assert_eq!(e["error"]["field"], "reason");
    let e = refused(
        &operator,
        "system.pause",
        json!({"mode": "drain", "reason": "x", "bogus": 1}),
    )
    .await;
    assert_eq!(e["error"]["code"], "invalid_field", "{e}");
    assert_eq!(e["error"]["field"], "bogus");
    let e = refused(
        &operator,
        "system.resume",
        json!({"action": "pause", "reason": "x"}),
    )
    .await;
    assert_eq!(e["error"]["field"], "action", "{e}");
    let e = refused(&worker, "queue.claim", json!({"workerId": "w2"})).await;
    assert_eq!(e["error"]["code"], "forbidden", "{e}");
    let e = refused(
        &worker,
        "queue.heartbeat",
        json!({"jobId": "nope", "workerId": "w1", "leaseToken": uuid::Uuid::new_v4()}),
    )
    .await;
    assert_eq!(e["error"]["field"], "jobId", "{e}");
    let e = refused(
        &worker,
        "queue.heartbeat",
        json!({"jobId": uuid::Uuid::new_v4(), "workerId": "w1", "leaseToken": uuid::Uuid::new_v4()}),
    )
    .await;
    assert_eq!(e["error"]["code"], "not_found", "{e}");
    assert_eq!(s.svc.cache().version(), 1, "nothing changed");
    assert!(s.db.store.list_events(10, None).await.unwrap().is_empty());
}

/// workers.list and workers.action (with the safety rule's refusal and its
/// confirmation) as an operator's agent sees them.
async fn fleet_tools(db: TestDb) {
    let s = served(db).await;
    let operator = connect(&s, &token(&s, "op-1", Role::Operator).await).await;
    s.svc
        .register_worker(
            Registration::parse(wire::RegisterRequest {
                worker_id: Some("w1".into()),
                boot_id: Some("boot-1".into()),
                ..Default::default()
            })
            .unwrap(),
        )
        .await
        .unwrap();
    let list = ok(&operator, "workers.list", json!({})).await;
    let workers = list["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 1);
    assert_eq!(workers[0]["id"], "w1");
    // Pausing the only worker would leave none available: refused.
    let e = refused(
        &operator,
        "workers.action",
        json!({"action": "pause", "workerIds": ["w1"], "reason": "disk full"}),
    )
    .await;
    assert_eq!(e["error"]["code"], "safety_check", "{e}");
    let phrase = e["confirmPhrase"].as_str().unwrap().to_string();
    let r = ok(
        &operator,
        "workers.action",
        json!({"action": "pause", "workerIds": ["w1"], "reason": "disk full", "confirm": phrase}),
    )
    .await;
    assert_eq!(r["results"][0]["desiredState"], "paused");
    assert_eq!(r["overrideUsed"], true);
    assert_eq!(r["event"]["actor"], "op-1");
}

/// `queue.complete` with `claimNext`: the next job comes in `next`, as
/// `queue.claim` answers it; a lost lease claims nothing.
async fn complete_claims_the_next_job(db: TestDb) {
    let s = served(db).await;
    let producer = connect(&s, &token(&s, "app-1", Role::Producer).await).await;
    let worker = connect(&s, &token(&s, "w1", Role::Worker).await).await;
    for to in ["a@b", "c@d", "e@f"] {
        ok(
            &producer,
            "queue.enqueue",
            json!({"type": "email", "payload": {"to": to}}),
        )
        .await;
    }
    let c = ok(&worker, "queue.claim", json!({"workerId": "w1"})).await;
    let (id, lease) = (c["job"]["id"].clone(), c["job"]["leaseToken"].clone());

    let done = ok(
        &worker,
        "queue.complete",
        json!({"jobId": id, "workerId": "w1", "leaseToken": lease, "claimNext": {"types": ["email"]}}),
    )
    .await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["id"], id);
    let next = &done["next"]["job"];
    assert_eq!(next["status"], "running", "{done}");
    assert_eq!(next["workerId"], "w1");
    assert_ne!(next["id"], id);
    assert_eq!(done["next"]["system"]["workersPaused"], false);

    // The first job's lease is gone: neither completed again nor a claim.
    let e = refused(
        &worker,
        "queue.complete",
        json!({"jobId": id, "workerId": "w1", "leaseToken": lease, "claimNext": {}}),
    )
    .await;
    assert_eq!(e["error"]["code"], "lease_lost", "{e}");
    let status = ok(&worker, "queue.claim", json!({"workerId": "w1"})).await;
    assert_eq!(
        status["job"]["payload"]["to"], "e@f",
        "one job was left: {status}"
    );
}

on_both_stores!(
    complete_claims_the_next_job,
    tools_follow_the_role,
    worker_cycle_with_pause_metadata,
    quiesce_then_resume_before_drained,
    errors_carry_our_codes,
    fleet_tools
);
