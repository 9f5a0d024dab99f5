//! The authentication middleware (one per route, with that route's
//! [`Access`]), the dashboard's sign-in endpoints, and the cross-site check
//! for cookie-authenticated writes.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use wire::Session;

use super::error::ApiError;
use super::extract::ApiJson;
use crate::auth::{Access, AuthFailure, AuthMode, Authenticator, Caller};
use crate::service::{now, Service, ServiceError};
use crate::storage::StoreError;

/// The dashboard's session cookie: an opaque session id (never the token),
/// HttpOnly.
pub const SESSION_COOKIE: &str = "lull_session";

/// The client's address for the failure limiter: the socket peer, or what
/// trusted proxies say it is (see [`crate::auth::TrustedProxies`]).
fn client_ip(auth: &Authenticator, req: &Request) -> IpAddr {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    auth.trusted_proxies.client_addr(peer, req.headers())
}

/// A presented credential.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Credential {
    Bearer(String),
    /// The dashboard's session id, from its cookie.
    Session(String),
}

/// The presented credential: the bearer token, else the session cookie.
fn credential(headers: &HeaderMap) -> Option<Credential> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let token = v.strip_prefix("Bearer ").unwrap_or("").trim();
        return Some(Credential::Bearer(token.to_string()));
    }
    session_cookie(headers).map(Credential::Session)
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// The caller a credential stands for.
async fn resolve(
    auth: &Authenticator,
    credential: &Credential,
) -> Result<Caller, Result<AuthFailure, StoreError>> {
    match credential {
        Credential::Bearer(token) => auth.verify(token).await,
        Credential::Session(id) => auth.resume_session(id, now()).await,
    }
}

/// A failed credential: charged to the client's address, and 429 instead
/// of `refusal` once the address has used up its failures. Only failures
/// get here, so a valid credential is never limited, however many
/// failures its address (or its proxy) has had.
fn failed(
    auth: &Authenticator,
    ip: IpAddr,
    path: &str,
    reason: AuthFailure,
    refusal: Response,
) -> Response {
    match auth.limiter.fail(ip) {
        Ok(()) => {
            tracing::warn!(%ip, %path, reason = reason.as_str(), "authentication failed");
            refusal
        }
        Err(wait) => {
            tracing::warn!(%ip, %path, reason = reason.as_str(), "authentication failures rate-limited");
            rate_limited(wait)
        }
    }
}

fn rate_limited(wait: Duration) -> Response {
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    let mut r = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many failed authentication attempts; retry in {secs} s"),
        None,
    )
    .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    r
}

fn storage_failure(e: StoreError) -> Response {
    ApiError::from(ServiceError::from(e)).into_response()
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A cookie-authenticated write must come from our own pages: the browser
/// says so in `Sec-Fetch-Site`, or in an `Origin` that matches `Host`.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let get = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site") {
        return site == "same-origin" || site == "none";
    }
    match (get("origin"), get("host")) {
        (Some(origin), Some(host)) => {
            let origin_host = origin.split_once("://").map(|x| x.1).unwrap_or(origin);
            origin_host.eq_ignore_ascii_case(host)
        }
        _ => false,
    }
}

fn unauthorized(message: &str) -> Response {
    let mut r =
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message, None).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"lull\""),
    );
    r
}

/// Checks the caller against the route's access rule and puts the
/// [`Caller`] into the request for the handlers (the audit actor).
pub async fn require(
    State((svc, access)): State<(Arc<Service>, Access)>,
    mut req: Request,
    next: Next,
) -> Response {
    let auth = svc.auth();
    if auth.mode == AuthMode::Disabled {
        req.extensions_mut().insert(Caller::local());
        return next.run(req).await;
    }
    // An `Open` route without a credential is public; one that is sent is
    // checked below like anywhere else (a bad one is 401, not a silent
    // downgrade to the public answer).
    if access == Access::Public || (access == Access::Open && credential(req.headers()).is_none()) {
        return next.run(req).await;
    }
    let path = req.uri().path().to_string();
    let Some(credential) = credential(req.headers()) else {
        // Not charged to the limiter: a missing credential guesses nothing
        // and costs no lookup, and anonymous requests from behind a shared
        // address must not slow down anyone else there.
        tracing::info!(%path, "request without credentials refused");
        return unauthorized("authentication required: send Authorization: Bearer <token>");
    };
    let from_cookie = matches!(credential, Credential::Session(_));
    let caller = match resolve(auth, &credential).await {
        Ok(c) => c,
        Err(Ok(reason)) => {
            let message = if from_cookie {
                "your dashboard session has ended: sign in again"
            } else {
                "invalid or revoked token"
            };
            return failed(
                auth,
                client_ip(auth, &req),
                &path,
                reason,
                unauthorized(message),
            );
        }
        Err(Err(e)) => return storage_failure(e),
    };
    if !caller.allows(access) {
        tracing::warn!(actor = %caller.name, role = caller.role.map(|r| r.as_str()).unwrap_or(""), %path, "forbidden by role");
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "the {} role may not do this",
                caller.role.map(|r| r.as_str()).unwrap_or("local")
            ),
            None,
        )
        .into_response();
    }
    if from_cookie && is_write(req.method()) && !same_origin(req.headers()) {
        tracing::warn!(actor = %caller.name, %path, "cross-site request with a session cookie refused");
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site",
            "cross-site request refused",
            None,
        )
        .into_response();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    token: Option<String>,
}

fn session_of(mode: AuthMode, caller: Option<&Caller>) -> Session {
    Session {
        auth_mode: match mode {
            AuthMode::Disabled => "disabled",
            AuthMode::Token => "token",
        }
        .into(),
        signed_in: caller.is_some(),
        name: caller.map(|c| c.name.clone()),
        // Disabled mode: the local user may do everything, like an operator.
        role: caller.map(|c| c.role.map(|r| r.as_str()).unwrap_or("operator").to_string()),
    }
}

#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, description = "Signed in: the session (and its cookie)", body = Session),
        (status = 401, description = "`unauthorized`: invalid or revoked token", body = wire::ErrorBody),
        (status = 429, description = "`rate_limited`: too many failed attempts", body = wire::ErrorBody)))]
pub async fn login_route(State(s): State<super::AppState>, req: Request) -> Response {
    login(s.service, req).await
}

#[utoipa::path(get, path = "/auth/me", tag = "auth",
    responses((status = 200, description = "Who the caller is (never an error)", body = Session)))]
pub async fn me_route(State(s): State<super::AppState>, headers: HeaderMap) -> Json<Session> {
    me(s.service, headers).await
}

/// `POST /auth/login {token}`: verifies the token and sets the session cookie.
pub async fn login(svc: Arc<Service>, req: Request) -> Response {
    let auth = svc.auth();
    if auth.mode == AuthMode::Disabled {
        return Json(session_of(auth.mode, Some(&Caller::local()))).into_response();
    }
    if req.headers().get("origin").is_some() && !same_origin(req.headers()) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site",
            "cross-site sign-in refused",
            None,
        )
        .into_response();
    }
    let ip = client_ip(auth, &req);
    let secure = req
        .headers()
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let body: LoginRequest =
        match <ApiJson<LoginRequest> as axum::extract::FromRequest<()>>::from_request(req, &())
            .await
        {
            Ok(ApiJson(b)) => b,
            Err(e) => return e.into_response(),
        };
    let token = body.token.unwrap_or_default();
    match auth.sign_in(token.trim(), now()).await {
        Ok((caller, session)) => {
            tracing::info!(actor = %caller.name, "dashboard sign-in");
            let cookie = format!(
                "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
                session.id,
                session.lifetime.as_secs_f64().ceil() as u64,
                if secure { "; Secure" } else { "" }
            );
            let mut r = Json(session_of(auth.mode, Some(&caller))).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(Ok(reason)) => {
            let refusal = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "invalid or revoked token",
                Some("token"),
            )
            .into_response();
            failed(auth, ip, "/auth/login", reason, refusal)
        }
        Err(Err(e)) => storage_failure(e),
    }
}

#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses((status = 204, description = "Signed out: the session ended and its cookie cleared")))]
pub async fn logout_route(State(s): State<super::AppState>, headers: HeaderMap) -> Response {
    logout(s.service, headers).await
}

/// `POST /auth/logout`: ends the session (a replayed cookie is refused
/// from now on, on every server) and clears the cookie.
pub async fn logout(svc: Arc<Service>, headers: HeaderMap) -> Response {
    if let Some(id) = session_cookie(&headers) {
        match svc.auth().end_session(&id).await {
            Ok(true) => tracing::info!("dashboard sign-out"),
            Ok(false) => {}
            Err(e) => return storage_failure(e),
        }
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("lull_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    r
}

/// `GET /auth/me`: who the browser is signed in as (never an error).
pub async fn me(svc: Arc<Service>, headers: HeaderMap) -> Json<Session> {
    let auth = svc.auth();
    if auth.mode == AuthMode::Disabled {
        return Json(session_of(auth.mode, Some(&Caller::local())));
    }
    let caller = match credential(&headers) {
        Some(c) => resolve(auth, &c).await.ok(),
        None => None,
    };
    Json(session_of(auth.mode, caller.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn same_origin_trusts_fetch_metadata_then_origin() {
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_origin(&headers(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://h"),
            ("host", "h")
        ])));
        assert!(same_origin(&headers(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080")
        ])));
        assert!(!same_origin(&headers(&[
            ("origin", "http://evil.example"),
            ("host", "127.0.0.1:8080")
        ])));
        assert!(
            !same_origin(&headers(&[("host", "127.0.0.1:8080")])),
            "no proof: refused"
        );
    }

    #[test]
    fn credential_prefers_bearer_then_cookie() {
        let h = headers(&[
            ("authorization", "Bearer abc"),
            ("cookie", "lull_session=def"),
        ]);
        assert_eq!(credential(&h), Some(Credential::Bearer("abc".into())));
        let h = headers(&[("cookie", "x=1; lull_session=def; y=2")]);
        assert_eq!(credential(&h), Some(Credential::Session("def".into())));
        assert_eq!(credential(&headers(&[("cookie", "x=1")])), None);
    }
}
