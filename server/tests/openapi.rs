//! The OpenAPI document at `/api/openapi.json`, served by a real server in
//! token mode: it is OpenAPI 3.1, it names every REST route of the route
//! table (the one the role matrix walks) with its method and nothing else,
//! every `$ref` in it resolves, and every route carries the error answers
//! and the security requirement its access rule implies. The fuzzing run
//! over this document is end2end/schemathesis/run.sh (scripts/test.sh).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::collections::BTreeSet;

use common::served::Served;
use common::TestDb;
use serde_json::Value;
use server::auth::{Access, AuthMode};
use server::http::RouteSpec;
use server::service::ServiceConfig;

/// Routes that are not the REST API: the dashboard's server functions
/// (its private calls) and MCP (a protocol that lists its own tools).
fn is_rest(spec: &RouteSpec) -> bool {
    !spec.path.starts_with("/sfn/") && spec.path != "/mcp"
}

/// The document as served, fetched without a credential (its access rule
/// is Public) from a server in token mode.
async fn served_document(db: TestDb, metrics_public: bool) -> (Served, Value) {
    let cfg = ServiceConfig {
        auth_mode: AuthMode::Token,
        metrics_public,
        ..Default::default()
    };
    let s = Served::start(db, cfg).await;
    let resp = reqwest::get(s.url("/api/openapi.json")).await.unwrap();
    assert_eq!(resp.status(), 200, "public in token mode");
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("application/json"), "{ct}");
    let doc: Value = resp.json().await.unwrap();
    (s, doc)
}

/// (METHOD, path) of every operation in the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch", "head", "options"]
                .contains(&method.as_str())
            {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

fn operation<'a>(doc: &'a Value, spec: &RouteSpec) -> &'a Value {
    &doc["paths"][spec.path][spec.method.as_str().to_lowercase()]
}

/// Every `$ref` in `v` (JSON pointers into this document).
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

async fn document_is_openapi_3_1_and_resolves(db: TestDb) {
    let (_s, doc) = served_document(db, false).await;
    let version = doc["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1."), "OpenAPI 3.1, got {version}");
    assert_eq!(doc["info"]["title"], "Lull");
    assert!(doc["info"]["version"].is_string());
    // Every operation answers something documented and names its tag
    // (utoipa's own typed model cannot read back a `{}` "any" schema, so
    // the structure is checked here and the document is read by
    // schemathesis, a consumer we did not write, in the fuzzing run).
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                !op["responses"].as_object().unwrap().is_empty(),
                "{method} {path}"
            );
            assert!(op["tags"][0].is_string(), "{method} {path}: a tag");
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 100, "schemas and shared errors are referenced");
    for r in all {
        let pointer = r.strip_prefix('#').expect("a local reference");
        assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["type"], "apiKey");
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], "lull_session");
    assert_eq!(
        doc["components"]["schemas"]["ErrorBody"]["required"],
        serde_json::json!(["error"])
    );
}

async fn every_rest_route_is_documented(db: TestDb) {
    for metrics_public in [false, true] {
        let (_s, doc) = served_document(db_again(&db).await, metrics_public).await;
        let specs: Vec<RouteSpec> = server::http::route_specs(metrics_public)
            .into_iter()
            .filter(is_rest)
            .collect();
        let table: BTreeSet<(String, String)> = specs
            .iter()
            .map(|s| (s.method.to_string(), s.path.to_string()))
            .collect();
        let doc_ops = documented(&doc);
        let missing: Vec<_> = table.difference(&doc_ops).collect();
        assert!(
            missing.is_empty(),
            "routes missing from the document: {missing:?}"
        );
        let unknown: Vec<_> = doc_ops.difference(&table).collect();
        assert!(unknown.is_empty(), "documented but not routes: {unknown:?}");

        let mut ids = BTreeSet::new();
        for spec in &specs {
            let op = operation(&doc, spec);
            let id = op["operationId"].as_str().unwrap();
            assert!(ids.insert(id), "operationId {id} is not unique");
            let responses = op["responses"].as_object().unwrap();
            let has = |code: &str| responses.contains_key(code);
            let label = format!("{} {}", spec.method, spec.path);
            assert!(
                responses.keys().any(|c| c.starts_with('2')),
                "{label}: a success answer"
            );
            assert!(has("421"), "{label}: the host check's 421");
            let write = spec.method == axum::http::Method::POST;
            if write {
                for code in ["403", "413", "415"] {
                    assert!(has(code), "{label}: a write's {code}");
                }
            }
            let security = op["security"].as_array().expect("security is explicit");
            if spec.access == Access::Public {
                assert!(security.is_empty(), "{label}: public");
            } else {
                let names: BTreeSet<&str> = security
                    .iter()
                    .flat_map(|r| r.as_object().unwrap().keys().map(String::as_str))
                    .collect();
                assert_eq!(names, BTreeSet::from(["bearer", "session"]), "{label}");
                for code in ["401", "403", "429"] {
                    assert!(has(code), "{label}: authentication's {code}");
                }
            }
            if spec.path.contains('{') {
                assert!(has("400") && has("404"), "{label}: a path parameter");
            }
            if op.get("requestBody").is_some() {
                assert!(has("400") && has("422"), "{label}: a body");
            }
            // Every error answer carries the one error shape.
            for (code, r) in responses {
                if code.starts_with('4') {
                    let schema = match r.get("$ref") {
                        Some(Value::String(name)) => {
                            let r = doc.pointer(name.trim_start_matches('#')).unwrap();
                            &r["content"]["application/json"]["schema"]["$ref"]
                        }
                        _ => &r["content"]["application/json"]["schema"]["$ref"],
                    };
                    assert_eq!(schema, "#/components/schemas/ErrorBody", "{label}: {code}");
                }
            }
        }
    }
}

/// The answers the fuzzer found outside the document, kept as a sweep over
/// every documented operation in local mode (where nothing stops a request
/// before its handler's extractors): malformed path text (invalid UTF-8),
/// a broken JSON body and an unknown query parameter each get an answer
/// the document lists for that operation, as the one JSON error shape.
/// (Before: `/api/workers/{id}/heartbeat` answered invalid UTF-8 in its id
/// with axum's plain-text 400.)
async fn malformed_requests_get_documented_json_errors(db: TestDb) {
    let s = Served::start(db, ServiceConfig::default()).await;
    let doc: Value = reqwest::get(s.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let mut tried = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if path.ends_with("/stream") {
                continue; // answers 200 and never ends
            }
            let has_body = op.get("requestBody").is_some();
            let has_query = op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
            let mut cases = Vec::new();
            if path.contains('{') {
                let bad = path
                    .split('/')
                    .map(|seg| if seg.starts_with('{') { "%FF" } else { seg })
                    .collect::<Vec<_>>()
                    .join("/");
                cases.push((bad, Some("{}")));
            }
            let concrete = path
                .replace("{id}", "00000000-0000-0000-0000-000000000000")
                .replace("{name}", "default");
            if has_body {
                cases.push((concrete.clone(), Some("{")));
            }
            if has_query {
                cases.push((format!("{concrete}?noSuchParameter=1"), None));
            }
            for (url, body) in cases {
                let mut req = http.request(method.to_uppercase().parse().unwrap(), s.url(&url));
                if let Some(b) = body.filter(|_| method == "post") {
                    req = req.header("content-type", "application/json").body(b);
                }
                let resp = req.send().await.unwrap();
                let status = resp.status().as_u16().to_string();
                let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
                let text = resp.text().await.unwrap();
                let label = format!("{method} {url} {body:?} -> {status} {text}");
                assert!(
                    op["responses"].get(&status).is_some(),
                    "{label}: status not in the document"
                );
                assert!(ct.starts_with("application/json"), "{label}: {ct}");
                let v: Value = serde_json::from_str(&text).unwrap();
                // (Local mode's sign-in answers without reading a body.)
                if !status.starts_with('2') {
                    assert!(v["error"]["code"].is_string(), "{label}");
                }
                tried += 1;
            }
        }
    }
    assert!(tried > 30, "{tried} malformed requests");
}

/// A second fresh database of the same kind (each served document gets
/// its own server).
async fn db_again(db: &TestDb) -> TestDb {
    if db.url.starts_with("postgres") {
        common::postgres().await.unwrap()
    } else {
        common::sqlite().await
    }
}

on_both_stores!(
    document_is_openapi_3_1_and_resolves,
    every_rest_route_is_documented,
    malformed_requests_get_documented_json_errors,
);
