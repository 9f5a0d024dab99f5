//! Extractors that turn malformed requests into [`ApiError`]s naming the
//! field at fault, instead of axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::error::ApiError;

/// Turns a body-read failure into 413 (too large) or 400.
fn body_error(e: axum::extract::rejection::BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "request body is too large",
            None,
        )
    } else {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text(), None)
    }
}

/// Parses JSON bytes, naming the offending field: syntax errors are 400,
/// wrong types and unknown fields 422.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    refuse_nul(bytes)?;
    // Nearly every body is well formed: parse it without path tracking
    // (measurably cheaper on the hot claim path), and re-parse only a
    // failure to name the field at fault.
    if let Ok(v) = serde_json::from_slice(bytes) {
        return Ok(v);
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let field = (path != ".").then_some(path);
        if inner.is_syntax() || inner.is_eof() {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("request body is not valid JSON: {inner}"),
                None,
            )
        } else {
            let mut err = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                inner.to_string(),
                None,
            );
            // An unknown field is named by serde in the message; the path
            // points at its parent.
            err.body.error.field = field.or_else(|| unknown_field_name(&err.body.error.message));
            err
        }
    })
}

/// NUL (`\u0000`) anywhere in a JSON body — a payload, a result, an
/// error, a name — is refused with 422 naming where: PostgreSQL cannot store
/// it (in `text` or `jsonb`) while SQLite would, and the answer must be the
/// same on both stores. JSON can carry NUL only as that escape, so bodies
/// without a `\u` escape (nearly all) are not walked at all.
fn refuse_nul(bytes: &[u8]) -> Result<(), ApiError> {
    if !bytes.windows(2).any(|w| w == b"\\u") {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Ok(()); // not JSON: the parse below says why
    };
    match nul_at(&value, String::new()) {
        None => Ok(()),
        Some(path) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "NUL characters (\\u0000) are not accepted in request bodies",
            Some(if path.is_empty() { "." } else { &path }),
        )),
    }
}

/// The path of the first string or key holding a NUL.
fn nul_at(v: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    match v {
        Value::String(s) => s.contains('\0').then_some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| nul_at(x, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, x)| {
            let here = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                Some(here)
            } else {
                nul_at(x, here)
            }
        }),
        _ => None,
    }
}

fn unknown_field_name(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_string())
}

/// A JSON body that must be present.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "a JSON request body is required",
                None,
            ));
        }
        parse_json(&bytes).map(ApiJson)
    }
}

/// A JSON body that may be absent (the runbook's bare `curl -X POST`).
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        parse_json(&bytes).map(OptionalJson)
    }
}

/// Query parameters, with errors as 400 JSON naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    format!("invalid query parameter: {}", e.into_inner()),
                    (path != ".").then_some(path.as_str()),
                )
            })
    }
}

/// An id from the path (a job, a rolling restart): a UUID, else 400.
pub struct PathId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|e| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_path",
                        e.body_text(),
                        Some("id"),
                    )
                })?;
        Uuid::parse_str(&raw).map(PathId).map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_id",
                format!("{raw:?} is not a valid id (a UUID)"),
                Some("id"),
            )
        })
    }
}

/// Text from the path, with malformed percent-encoding (invalid UTF-8) a
/// JSON 400 naming `field` like every other bad request, instead of axum's
/// plain-text rejection.
async fn path_text<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    field: &str,
) -> Result<String, ApiError> {
    axum::extract::Path::<String>::from_request_parts(parts, state)
        .await
        .map(|axum::extract::Path(raw)| raw)
        .map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_path",
                e.body_text(),
                Some(field),
            )
        })
}

/// A name from the path (a queue), as text (the handler parses the name).
pub struct PathName(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathName {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        path_text(parts, state, "name").await.map(PathName)
    }
}

/// A worker's id from the path, as text (the handler parses it).
pub struct PathWorkerId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathWorkerId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        path_text(parts, state, "id").await.map(PathWorkerId)
    }
}

/// Who is acting: the authenticated caller (the auth middleware put it
/// there; in disabled mode it is `local`). The audit log records its name,
/// never a client-supplied field.
pub struct Actor(pub String, pub crate::auth::Caller);

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<crate::auth::Caller>() {
            Some(c) => Ok(Actor(c.name.clone(), c.clone())),
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "authentication required",
                None,
            )),
        }
    }
}

impl Actor {
    /// A worker token acts only as its own worker: 403 otherwise.
    pub fn check_worker(&self, worker_id: Option<&str>) -> Result<(), ApiError> {
        match worker_id {
            Some(id) if !self.1.may_act_as_worker(id) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "the token {:?} may act only as worker {:?}, not {id:?}",
                    self.0, self.0
                ),
                Some("workerId"),
            )),
            _ => Ok(()),
        }
    }
}
