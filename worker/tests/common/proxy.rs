//! A reverse proxy in front of `lull serve`, as a load balancer or an auth
//! layer is in production: it forwards every request as it is, except those
//! the test tells it to answer itself with an error page of its own (an
//! HTML 404 while a deploy swaps the backend, a 403 from an auth layer), a
//! given number of times. Real HTTP on both sides (axum in, reqwest out),
//! on its own thread and runtime so it outlives any one test future.

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;

/// Answer requests whose path contains `path_contains` with `status` and
/// `page` (HTML), `left` more times.
struct Rule {
    path_contains: String,
    status: u16,
    page: &'static str,
    left: usize,
    answered: usize,
}

#[derive(Clone)]
struct Forwarder {
    upstream: String,
    http: reqwest::Client,
    rules: Arc<Mutex<Vec<Rule>>>,
}

/// A running proxy; requests to `base` reach the server behind it.
pub struct Proxy {
    pub base: String,
    rules: Arc<Mutex<Vec<Rule>>>,
}

impl Proxy {
    pub fn start(upstream: &str) -> Proxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let rules: Arc<Mutex<Vec<Rule>>> = Arc::default();
        let state = Forwarder {
            upstream: upstream.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
            rules: rules.clone(),
        };
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = axum::Router::new().fallback(forward).with_state(state);
                axum::serve(listener, app).await.unwrap();
            });
        });
        Proxy { base, rules }
    }

    /// The next `times` requests whose path contains `path_contains` get
    /// `status` with an HTML `page` from the proxy; the server never sees
    /// them.
    pub fn intercept(&self, path_contains: &str, status: u16, page: &'static str, times: usize) {
        self.rules.lock().unwrap().push(Rule {
            path_contains: path_contains.to_string(),
            status,
            page,
            left: times,
            answered: 0,
        });
    }

    /// How many requests whose path contains `path_contains` the proxy
    /// answered itself.
    pub fn intercepted(&self, path_contains: &str) -> usize {
        self.rules
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path_contains == path_contains)
            .map(|r| r.answered)
            .sum()
    }
}

impl Forwarder {
    fn take_rule(&self, path: &str) -> Option<(u16, &'static str)> {
        let mut rules = self.rules.lock().unwrap();
        let rule = rules
            .iter_mut()
            .find(|r| r.left > 0 && path.contains(&r.path_contains))?;
        rule.left -= 1;
        rule.answered += 1;
        Some((rule.status, rule.page))
    }
}

async fn forward(
    State(s): State<Forwarder>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some((status, page)) = s.take_rule(uri.path()) {
        return Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/html")
            .body(Body::from(page))
            .unwrap();
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = s
        .http
        .request(method, format!("{}{path}", s.upstream))
        .body(body);
    for (k, v) in &headers {
        if k != header::HOST && k != header::CONTENT_LENGTH {
            req = req.header(k, v);
        }
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            return Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(Body::from(format!("proxy: {e}")))
                .unwrap()
        }
    };
    let mut out = Response::builder().status(resp.status().as_u16());
    for (k, v) in resp.headers() {
        if k != header::TRANSFER_ENCODING && k != header::CONTENT_LENGTH && k != header::CONNECTION
        {
            out = out.header(k, v);
        }
    }
    let body = resp.bytes().await.unwrap_or_default();
    out.body(Body::from(body)).unwrap()
}
