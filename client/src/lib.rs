//! A typed client for the Lull REST API.
//!
//! Every endpoint a program may call is a method of [`Client`] taking and
//! returning the [`wire`] types the server itself speaks, so nothing reads
//! Lull's JSON by string keys. A failed call is an [`Error`]: the server's
//! error answer decoded once by its stable code into [`wire::ApiError`]
//! (`LeaseLost`, `VersionConflict { current }`, `Invalid { field }`,
//! `SafetyRefused { confirm_phrase }`, `Unauthorized`, …, with
//! `Unreachable` when nobody answered), or a success it cannot read.
//!
//! The methods, by the part of the API they belong to:
//! - [`pause`](Client::pause_status) — the global pause, its audit log,
//!   the drain view and the live stream (`pause` module);
//! - [`queue`](Client::enqueue) — enqueue, claim, lease heartbeat,
//!   complete, fail, and the operator's get/list/cancel/retry;
//! - [`queues`](Client::queues) — named queues and their pause and
//!   resume, unique and batch enqueues, batch complete and fail;
//! - [`fleet`](Client::register) — worker registration and heartbeats,
//!   fleet views, worker actions, rolling restarts, result submission;
//! - [`runbook`](Client::scheduler_status) — the maintenance runbook's
//!   `/scheduler/*`, `/status`, `/health`, `/dispatches/*`, and `/livez`,
//!   `/metrics`, `/auth/me`.
//!
//! Not here: the dashboard's own routes (`/sfn/*` server functions and the
//! cookie sign-in `/auth/login|logout`), which only a browser calls.
//!
//! A [`Client`] is cheap to clone and keeps its connections alive across
//! calls: build one per server and share it.

mod error;
mod fleet;
mod pause;
mod queue;
mod queues;
mod runbook;

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::{Method, RequestBuilder, Response, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use error::{Error, ErrorKind};
pub use pause::PauseStream;
pub use wire::ApiError;

/// The result of every call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Timeout of one call when the builder is not told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long opening a connection may take.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection-reusing client bound to one Lull server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// The server's base URL; paths are appended to its path.
    base: Arc<Url>,
    /// `Bearer <token>`, built once (marked sensitive: never logged).
    auth: Option<HeaderValue>,
    /// Of one call; a long-poll claim adds its `waitMs` to it.
    timeout: Duration,
}

/// Settings of a [`Client`]: [`Client::builder`] → … → [`build`](ClientBuilder::build).
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base: String,
    token: Option<String>,
    timeout: Duration,
    connect_timeout: Duration,
}

impl ClientBuilder {
    /// A bearer token (token mode); without one the server sees an
    /// anonymous caller (fine with authentication disabled).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The same, optional.
    pub fn token_opt(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    /// How long one call may take before it fails as
    /// [`ApiError::Unreachable`] (default [`DEFAULT_TIMEOUT`]). A
    /// long-poll claim gets its `waitMs` on top.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long opening a connection may take (default
    /// [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Checks the base URL and the token, and starts the HTTP stack.
    pub fn build(self) -> Result<Client> {
        let base = Url::parse(self.base.trim_end_matches('/'))
            .map_err(|e| Error::Setup(format!("base URL {:?}: {e}", self.base)))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(Error::Setup(format!(
                "base URL {:?}: use http://host:port",
                self.base
            )));
        }
        let auth = match self.token {
            Some(t) => {
                let mut v = HeaderValue::try_from(format!("Bearer {t}")).map_err(|_| {
                    Error::Setup("the token has characters a header cannot carry".into())
                })?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        let http = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .build()
            .map_err(|e| Error::Setup(e.to_string()))?;
        Ok(Client {
            http,
            base: Arc::new(base),
            auth,
            timeout: self.timeout,
        })
    }
}

impl Client {
    /// Settings for a client of the server at `base` (`http://host:port`,
    /// optionally with a path prefix).
    pub fn builder(base: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base: base.into(),
            token: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// A client of the server at `base` with the default settings and no
    /// token.
    pub fn new(base: impl Into<String>) -> Result<Client> {
        Client::builder(base).build()
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The URL of a path given as segments; each is percent-encoded, so an
    /// id can never reach another route.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = Url::clone(&self.base);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// A request with the token and the call timeout set.
    fn request(&self, method: Method, segments: &[&str], timeout: Duration) -> RequestBuilder {
        let mut req = self
            .http
            .request(method, self.url(segments))
            .timeout(timeout);
        if let Some(auth) = &self.auth {
            req = req.header(AUTHORIZATION, auth.clone());
        }
        req
    }

    /// Sends, and turns anything but a 2xx (or one of `also_ok`) into the
    /// API's typed error.
    async fn send(&self, endpoint: &Endpoint<'_>, req: RequestBuilder) -> Result<Response> {
        let resp = req
            .send()
            .await
            .map_err(|e| error::unreachable(&endpoint.name(), &e))?;
        let status = resp.status().as_u16();
        if resp.status().is_success() || endpoint.also_ok.contains(&status) {
            return Ok(resp);
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| error::unreachable(&endpoint.name(), &e))?;
        Err(Error::Api(error::from_answer(status, &body)))
    }

    /// Reads a success's JSON body as `R`.
    async fn decode<R: DeserializeOwned>(endpoint: &Endpoint<'_>, resp: Response) -> Result<R> {
        let body = resp
            .bytes()
            .await
            .map_err(|e| error::unreachable(&endpoint.name(), &e))?;
        serde_json::from_slice(&body).map_err(|e| Error::Decode {
            endpoint: endpoint.name(),
            message: e.to_string(),
        })
    }

    /// `GET` a JSON answer.
    async fn get<R: DeserializeOwned>(&self, endpoint: Endpoint<'_>) -> Result<R> {
        let req = self.request(Method::GET, endpoint.segments, self.timeout);
        let resp = self.send(&endpoint, req).await?;
        Self::decode(&endpoint, resp).await
    }

    /// `GET` with a query string.
    async fn get_query<Q, R>(&self, endpoint: Endpoint<'_>, query: &Q) -> Result<R>
    where
        Q: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let req = self
            .request(Method::GET, endpoint.segments, self.timeout)
            .query(query);
        let resp = self.send(&endpoint, req).await?;
        Self::decode(&endpoint, resp).await
    }

    /// [`Client::get_query`] with its own timeout (long polls).
    async fn get_query_within<Q, R>(
        &self,
        endpoint: Endpoint<'_>,
        query: &Q,
        timeout: Duration,
    ) -> Result<R>
    where
        Q: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let req = self
            .request(Method::GET, endpoint.segments, timeout)
            .query(query);
        let resp = self.send(&endpoint, req).await?;
        Self::decode(&endpoint, resp).await
    }

    /// `POST` a JSON body (`None`: no body at all) for a JSON answer.
    async fn post<B, R>(&self, endpoint: Endpoint<'_>, body: Option<&B>) -> Result<R>
    where
        B: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        self.post_within(endpoint, body, self.timeout).await
    }

    /// [`Client::post`] with its own timeout (long polls).
    async fn post_within<B, R>(
        &self,
        endpoint: Endpoint<'_>,
        body: Option<&B>,
        timeout: Duration,
    ) -> Result<R>
    where
        B: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let mut req = self.request(Method::POST, endpoint.segments, timeout);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = self.send(&endpoint, req).await?;
        Self::decode(&endpoint, resp).await
    }
}

/// One route as called: its path segments, for messages its method, and
/// the non-2xx statuses whose body is still the answer (`/health`'s 503).
struct Endpoint<'a> {
    method: &'static str,
    segments: &'a [&'a str],
    also_ok: &'static [u16],
}

impl<'a> Endpoint<'a> {
    fn get(segments: &'a [&'a str]) -> Self {
        Endpoint {
            method: "GET",
            segments,
            also_ok: &[],
        }
    }

    fn post(segments: &'a [&'a str]) -> Self {
        Endpoint {
            method: "POST",
            segments,
            also_ok: &[],
        }
    }

    /// `GET /api/queue/jobs`, for messages.
    fn name(&self) -> String {
        format!("{} /{}", self.method, self.segments.join("/"))
    }
}

/// Body type of a `POST` that sends none (`None::<&NoBody>`).
type NoBody = ();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_appended_to_the_base_and_ids_are_encoded() {
        let c = Client::new("http://127.0.0.1:8080/").unwrap();
        assert_eq!(
            c.url(&["api", "workers", "w 1/../x", "heartbeat"]).as_str(),
            "http://127.0.0.1:8080/api/workers/w%201%2F..%2Fx/heartbeat"
        );
        let behind_proxy = Client::new("http://h/lull").unwrap();
        assert_eq!(behind_proxy.url(&["livez"]).as_str(), "http://h/lull/livez");
    }

    #[test]
    fn a_base_that_is_not_http_is_refused_up_front() {
        for bad in ["127.0.0.1:8080", "ftp://h", "not a url", "mailto:x@y"] {
            assert!(matches!(Client::new(bad), Err(Error::Setup(_))), "{bad}");
        }
        assert!(matches!(
            Client::builder("http://h").token("a\nb").build(),
            Err(Error::Setup(_))
        ));
    }
}
