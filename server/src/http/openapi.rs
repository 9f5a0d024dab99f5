//! The OpenAPI 3.1 document of the REST API, served at
//! `GET /api/openapi.json` and generated from the code, never written by
//! hand: each handler's `#[utoipa::path]` gives its route, parameters, body
//! and own answers (success, 404, 409), the wire types give the schemas,
//! and [`complete`] adds what the route table and the layers in front of
//! every handler decide — the security requirement (from the route's
//! [`Access`]) and the error answers every route shares (the guard's 421,
//! 403, 413 and 415, authentication's 401, 403 and 429, the extractors'
//! 400 and 422, storage's 503). A test walks the route table against this
//! document (server/tests/openapi.rs), so a route cannot go undocumented.
//!
//! Not in it: the dashboard's server functions (`/sfn/*`, its private
//! calls) and `/mcp` (the MCP protocol describes its own tools).

use utoipa::openapi::header::Header;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    Content, HttpMethod, Object, OpenApi as Document, Ref, RefOr, Response, SecurityRequirement,
    Type,
};
use utoipa::OpenApi;

use axum::extract::State;
use axum::Json;

use super::{AppState, RouteSpec};
use crate::auth::Access;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lull",
        description = "Lull's REST API: the job queue (producers and workers), the fleet's pause and workers, named queues, and the maintenance runbook's endpoints. Every error is `{\"error\": {code, message, field}}` (the `ErrorBody` schema) with a stable `code`. In local mode (`LULL_AUTH=disabled`, the default) no credential is needed; in token mode send `Authorization: Bearer <token>` (or the dashboard's session cookie)."
    ),
    paths(
        super::pause::get_status,
        super::pause::post_action,
        super::pause::get_events,
        super::pause::get_drain,
        super::pause::stream,
        super::queue::list,
        super::queue::enqueue,
        super::queue::count,
        super::queue::retry_failed,
        super::queue::enqueue_batch,
        super::queue::complete_batch,
        super::queue::fail_batch,
        super::queue::claim,
        super::queue::get,
        super::queue::heartbeat,
        super::queue::complete,
        super::queue::fail,
        super::queue::cancel,
        super::queue::retry,
        super::queues::list,
        super::queues::get,
        super::queues::pause,
        super::queues::resume,
        super::workers::list,
        super::workers::register,
        super::workers::health,
        super::workers::metrics,
        super::workers::results,
        super::workers::heartbeat,
        super::workers::action,
        super::workers::list_rolling_restarts,
        super::workers::start_rolling_restart,
        super::workers::get_rolling_restart,
        super::workers::cancel_rolling_restart,
        super::runbook::pause,
        super::runbook::resume,
        super::runbook::status,
        super::runbook::system_status,
        super::runbook::health,
        super::livez,
        super::runbook::readyz,
        super::runbook::metrics,
        super::runbook::get_dispatch,
        super::runbook::cancel_dispatch,
        super::runbook::retry_dispatch,
        super::auth::login_route,
        super::auth::logout_route,
        super::auth::me_route,
        serve,
    ),
    components(schemas(wire::ErrorBody))
)]
struct ApiDoc;

/// The document for a server whose route table is `specs`.
pub fn document(specs: &[RouteSpec]) -> Document {
    let mut doc = ApiDoc::openapi();
    complete(&mut doc, specs);
    doc
}

/// `GET /api/openapi.json`: this document, for this server's route table
/// (whether `/metrics` is public depends on its configuration). Built per
/// call: it is asked for rarely, and this keeps no second copy to go stale.
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = serde_json::Value)))]
pub async fn serve(State(s): State<AppState>) -> Json<Document> {
    Json(document(&super::route_specs(
        s.service.auth().metrics_public,
    )))
}

/// The shared error answers, as reusable responses: (name, status,
/// description). Every one carries an `ErrorBody`.
const ERRORS: &[(&str, &str, &str)] = &[
    ("BadRequest", "400", "Malformed request: `invalid_json` (the body is not JSON, or is missing), `invalid_body`, `invalid_query`, `invalid_path` or `invalid_id` (a path id that is not a UUID)."),
    ("Unauthorized", "401", "`unauthorized` (token mode): no credential, or an invalid or revoked one."),
    ("Forbidden", "403", "`forbidden`: the caller's role may not do this (or a worker token acting as another worker); `cross_site`: a write a browser sent from another site."),
    ("NotFound", "404", "`not_found`: no such resource."),
    ("PayloadTooLarge", "413", "`payload_too_large`: the body is over the server's limit."),
    ("UnsupportedMediaType", "415", "`unsupported_media_type`: a write's body must be sent as `Content-Type: application/json`."),
    ("MisdirectedRequest", "421", "`unknown_host`: the `Host` header names neither a loopback name, an IP address nor a configured host (DNS rebinding)."),
    ("UnprocessableEntity", "422", "`invalid_field` or `validation_failed`: a field has the wrong type, is unknown, or fails validation; `field` names it."),
    ("TooManyRequests", "429", "`rate_limited`: too many failed authentication attempts from this client; retry after `Retry-After` seconds."),
    ("ServiceUnavailable", "503", "`unavailable`: the database is unavailable; retry shortly."),
];

/// Routes that never read storage (no 503 from them) or document their own.
const NO_STORAGE: &[&str] = &[
    "/livez",
    "/api/openapi.json",
    "/auth/logout",
    "/health",
    "/readyz",
];

/// Adds the security schemes, each route's security requirement and the
/// error answers the layers in front of the handlers give.
fn complete(doc: &mut Document, specs: &[RouteSpec]) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            super::auth::SESSION_COOKIE,
            "The dashboard's session (set by POST /auth/login); writes with it must come from the dashboard's own origin.",
        ))),
    );
    for (name, status, description) in ERRORS {
        let mut response = Response::new(*description);
        response.content.insert(
            "application/json".into(),
            RefOr::T(Content::new(Some(Ref::from_schema_name("ErrorBody")))),
        );
        match *status {
            "401" => {
                response.headers.insert(
                    "WWW-Authenticate".into(),
                    RefOr::T(Header::new(Object::with_type(Type::String))),
                );
            }
            "429" => {
                response.headers.insert(
                    "Retry-After".into(),
                    RefOr::T(Header::new(Object::with_type(Type::Integer))),
                );
            }
            _ => {}
        }
        components
            .responses
            .insert((*name).into(), RefOr::T(response));
    }

    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            (HttpMethod::Get, item.get.as_mut()),
            (HttpMethod::Post, item.post.as_mut()),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            // Handler names repeat across modules (`list`, `heartbeat`):
            // the tag makes the operation id unique, as OpenAPI requires.
            if let (Some(tag), Some(id)) = (
                op.tags.as_ref().and_then(|t| t.first()),
                op.operation_id.as_mut(),
            ) {
                *id = format!("{tag}_{id}");
            }
            let Some(spec) = specs
                .iter()
                .find(|s| s.path == path.as_str() && method_of(&s.method) == Some(method.clone()))
            else {
                continue; // the route-table test reports it
            };
            let write = method == HttpMethod::Post;
            let params = op.parameters.as_deref().unwrap_or_default();
            let has_path = params.iter().any(|p| {
                matches!(p, RefOr::T(p) if p.parameter_in == utoipa::openapi::path::ParameterIn::Path)
            });
            let has_query = params.iter().any(|p| {
                matches!(p, RefOr::T(p) if p.parameter_in == utoipa::openapi::path::ParameterIn::Query)
            });
            let has_body = op.request_body.is_some();
            let mut add = |status: &str, name: &str| {
                op.responses
                    .responses
                    .entry(status.into())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
            };
            add("421", "MisdirectedRequest");
            if has_path || has_query || has_body {
                add("400", "BadRequest");
            }
            if has_path {
                add("404", "NotFound");
            }
            if has_query || has_body {
                add("422", "UnprocessableEntity");
            }
            if write {
                add("403", "Forbidden");
                add("413", "PayloadTooLarge");
                add("415", "UnsupportedMediaType");
            }
            if spec.access != Access::Public {
                add("401", "Unauthorized");
                add("403", "Forbidden");
                add("429", "TooManyRequests");
            }
            if !NO_STORAGE.contains(&spec.path) {
                add("503", "ServiceUnavailable");
            }
            op.security = Some(if spec.access == Access::Public {
                Vec::new() // explicitly none: anyone may call it
            } else {
                vec![
                    SecurityRequirement::new("bearer", Vec::<String>::new()),
                    SecurityRequirement::new("session", Vec::<String>::new()),
                ]
            });
        }
    }
}

/// The document's method for a route table's.
pub fn method_of(m: &axum::http::Method) -> Option<HttpMethod> {
    match *m {
        axum::http::Method::GET => Some(HttpMethod::Get),
        axum::http::Method::POST => Some(HttpMethod::Post),
        axum::http::Method::PUT => Some(HttpMethod::Put),
        axum::http::Method::DELETE => Some(HttpMethod::Delete),
        axum::http::Method::PATCH => Some(HttpMethod::Patch),
        _ => None,
    }
}
