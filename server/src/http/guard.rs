//! The request guard in front of every route, in both auth modes (see
//! `docs/security.md`): it is what keeps the zero-config local mode safe
//! from the web pages its operator opens.
//!
//! - `Host` must name this server: a loopback name, an IP address, or a
//!   name configured with `--public-url` / `--allowed-hosts`; otherwise
//!   421. A DNS-rebinding page reaches us under *its own* name, so this is
//!   what stops it reading and writing with the browser's help.
//! - A write sent by a browser (it carries `Sec-Fetch-Site` or `Origin`)
//!   must be same-origin; otherwise 403 — whatever the credential.
//! - A REST write carries `Content-Type: application/json`, or no body at
//!   all (the runbook's bare `curl -X POST`); otherwise 415. A cross-site
//!   HTML form can only send form or text bodies, and a cross-site `fetch`
//!   with a JSON type needs a CORS preflight we never grant.
//! - Server functions (`/sfn/*`, form-encoded by Leptos) are the
//!   dashboard's private calls: they need the browser's same-origin proof
//!   ([`sfn_request`], after authentication).
//! - No body is larger than [`super::MAX_BODY_BYTES`]: a declared length
//!   over it is 413 before anything is read, a REST body is read under
//!   axum's `DefaultBodyLimit`, and a server function's body under the same
//!   limit by [`sfn_request`] (the Leptos handler reads it whole, out of
//!   reach of `DefaultBodyLimit`).

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::body::HttpBody as _;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::MAX_BODY_BYTES;

/// Host names accepted besides loopback names and IP addresses
/// (lower-case, without port).
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts(Arc<Vec<String>>);

impl AllowedHosts {
    pub fn new(names: impl IntoIterator<Item = String>) -> Self {
        AllowedHosts(Arc::new(
            names
                .into_iter()
                .map(|n| n.trim().to_ascii_lowercase())
                .filter(|n| !n.is_empty())
                .collect(),
        ))
    }

    /// Whether `host` (a `Host` header value, with or without a port)
    /// names this server.
    pub fn allows(&self, host: &str) -> bool {
        let name = host_name(host).to_ascii_lowercase();
        // An IP address cannot be rebound: a page reaching us by address
        // is on that address's own origin, not the attacker's.
        if name.parse::<IpAddr>().is_ok() {
            return true;
        }
        name == "localhost" || name.ends_with(".localhost") || self.0.contains(&name)
    }
}

/// The name part of a `Host` value: `[::1]:8080` → `::1`, `a.b:80` → `a.b`.
fn host_name(host: &str) -> &str {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// What a browser says about where a request comes from: `None` when it
/// carries neither `Sec-Fetch-Site` nor `Origin` (curl, scripts, the typed
/// client, the worker — not a browser, so not a cross-site forgery);
/// `Some(true)` when same-origin.
pub fn browser_same_origin(headers: &HeaderMap) -> Option<bool> {
    let get = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site") {
        // `none`: the user's own action (typed URL, bookmark).
        return Some(site == "same-origin" || site == "none");
    }
    let origin = get("origin")?;
    let host = get("host").unwrap_or("");
    let origin_host = origin.split_once("://").map(|x| x.1).unwrap_or(origin);
    Some(!host.is_empty() && origin_host.eq_ignore_ascii_case(host))
}

fn is_json(headers: &HeaderMap) -> Option<bool> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    Some(mime.eq_ignore_ascii_case("application/json"))
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

pub fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("request body is too large (the limit is {MAX_BODY_BYTES} bytes)"),
        None,
    )
}

pub async fn guard(State(hosts): State<AllowedHosts>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let write = is_write(req.method());
    // A browser's word on the origin comes first: a forged write is
    // refused as cross-site whatever else is wrong with it.
    if write && browser_same_origin(headers) == Some(false) {
        tracing::warn!(path = ?req.uri().path(), "cross-site write refused");
        return cross_site("cross-site request refused");
    }
    // HTTP/1.1 requires Host; HTTP/2 carries the authority in the URI.
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    if let Some(host) = &host {
        if !hosts.allows(host) {
            tracing::warn!(host = ?host, path = ?req.uri().path(), "request for an unknown host refused");
            return ApiError::new(
                StatusCode::MISDIRECTED_REQUEST,
                "unknown_host",
                format!(
                    "this server does not answer for host {:?}: add it with --allowed-hosts (LULL_ALLOWED_HOSTS) or --public-url",
                    host_name(host)
                ),
                None,
            )
            .into_response();
        }
    }
    if declared_length(headers).is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return too_large().into_response();
    }
    // Server functions are checked by their handler, after authentication
    // (see [`sfn_request`]).
    if !write || req.uri().path().starts_with("/sfn/") {
        return next.run(req).await;
    }
    let empty = req.body().size_hint().upper() == Some(0);
    match is_json(headers) {
        Some(true) => {}
        None if empty => {}
        _ => {
            return ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "a write's body must be JSON, sent with Content-Type: application/json",
                None,
            )
            .into_response()
        }
    }
    next.run(req).await
}

fn cross_site(message: &str) -> Response {
    ApiError::new(StatusCode::FORBIDDEN, "cross_site", message, None).into_response()
}

/// A server function call as the Leptos handler may take it: from a
/// browser on our own origin (a script has the REST API), with its body
/// read here under the limit — 413 past it, without reading further —
/// since the handler would read it whole.
pub async fn sfn_request(req: Request) -> Result<Request, Response> {
    if browser_same_origin(req.headers()) != Some(true) {
        return Err(cross_site(
            "server functions are the dashboard's: the browser's same-origin proof (Sec-Fetch-Site or Origin) is required",
        ));
    }
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => Ok(Request::from_parts(parts, Body::from(bytes))),
        Err(e) => {
            let too_big = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            Err(if too_big {
                too_large().into_response()
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.to_string(), None)
                    .into_response()
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn hosts_are_loopback_addresses_or_configured() {
        let h = AllowedHosts::new(["Lull.Example.com".to_string()]);
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST",
            "app.localhost:1",
            "[::1]:8080",
            "10.0.0.5:8080",
            "lull.example.com",
            "lull.example.com:443",
        ] {
            assert!(h.allows(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "localhost.evil.example",
            "example.com:8080",
            "",
        ] {
            assert!(!h.allows(bad), "{bad}");
        }
    }

    #[test]
    fn browsers_are_recognised_by_their_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(browser_same_origin(&h), None, "curl");
        h.insert("host", HeaderValue::from_static("127.0.0.1:8080"));
        h.insert("origin", HeaderValue::from_static("http://127.0.0.1:8080"));
        assert_eq!(browser_same_origin(&h), Some(true));
        h.insert("origin", HeaderValue::from_static("null"));
        assert_eq!(browser_same_origin(&h), Some(false));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-site"));
        assert_eq!(browser_same_origin(&h), Some(false));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert_eq!(browser_same_origin(&h), Some(true));
    }
}
