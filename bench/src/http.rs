//! A minimal HTTP/1.1 client over one kept-alive connection.
//!
//! The load loops give each simulated worker exactly one [`Conn`], so a
//! scenario runs on a fixed, known number of connections and every request
//! reuses its connection (no pool, no connection churn in the figures). A
//! connection that breaks (a killed server) is re-opened on the next
//! request, which the fault scenarios rely on.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// The longest any single request may take before it counts as failed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// One HTTP/1.1 connection to a server, re-opened when it breaks.
pub struct Conn {
    addr: SocketAddr,
    host: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

/// A response: status and body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

async fn open(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

impl Conn {
    /// A connection to `addr`, opened lazily by the first request.
    pub fn new(addr: SocketAddr) -> Conn {
        Conn {
            addr,
            host: addr.to_string(),
            sender: None,
        }
    }

    /// Opens the connection now (so a load loop does not time its set-up).
    pub async fn connect(addr: SocketAddr) -> Result<Conn> {
        let mut c = Conn::new(addr);
        c.sender = Some(open(addr).await?);
        Ok(c)
    }

    /// Sends one request and reads the whole body.
    pub async fn send(&mut self, method: Method, path: &str, body: Option<Bytes>) -> Result<Reply> {
        let out = tokio::time::timeout(REQUEST_TIMEOUT, self.send_inner(method, path, body)).await;
        match out {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => {
                self.sender = None;
                Err(e)
            }
            Err(_) => {
                self.sender = None;
                Err(anyhow!("{path}: no answer within {REQUEST_TIMEOUT:?}"))
            }
        }
    }

    async fn send_inner(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Reply> {
        let sender = match &mut self.sender {
            Some(s) if !s.is_closed() => s,
            _ => self.sender.insert(open(self.addr).await?),
        };
        sender.ready().await?;
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, &self.host);
        if body.is_some() {
            req = req.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(Full::new(body.unwrap_or_default()))?;
        let resp = sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Reply { status, body })
    }

    /// POST with a prepared JSON body (the hot loops serialize once).
    pub async fn post_raw(&mut self, path: &str, body: Bytes) -> Result<Reply> {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn post(&mut self, path: &str, body: &Value) -> Result<Reply> {
        self.post_raw(path, Bytes::from(body.to_string())).await
    }

    pub async fn get(&mut self, path: &str) -> Result<Reply> {
        self.send(Method::GET, path, None).await
    }

    /// POST, requiring a 2xx answer; returns the JSON body.
    pub async fn post_ok(&mut self, path: &str, body: &Value) -> Result<Value> {
        let r = self.post(path, body).await?;
        if !(200..300).contains(&r.status) {
            return Err(anyhow!(
                "POST {path} answered {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ));
        }
        Ok(r.json())
    }

    /// GET, requiring a 2xx answer; returns the JSON body.
    pub async fn get_ok(&mut self, path: &str) -> Result<Value> {
        let r = self.get(path).await?;
        if !(200..300).contains(&r.status) {
            return Err(anyhow!(
                "GET {path} answered {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ));
        }
        Ok(r.json())
    }

    /// One counter of `/metrics` (the first sample named exactly `name`).
    pub async fn metric(&mut self, name: &str) -> Result<f64> {
        let r = self.get("/metrics").await?;
        let text = String::from_utf8_lossy(&r.body);
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|l| {
                let (k, v) = l.rsplit_once(' ')?;
                (k == name).then(|| v.parse().ok()).flatten()
            })
            .ok_or_else(|| anyhow!("/metrics has no {name}"))
    }
}

/// A live-update subscriber: the server-sent events of
/// `/api/system/worker-pause/stream`, delivered as `(event, data)` pairs.
pub struct EventStream {
    rx: tokio::sync::mpsc::Receiver<(String, String)>,
    _task: tokio::task::JoinHandle<()>,
}

impl EventStream {
    /// Connects and starts reading; events arrive on [`EventStream::next`].
    pub async fn open(addr: SocketAddr, path: &str) -> Result<EventStream> {
        let mut sender = open(addr).await?;
        sender.ready().await?;
        let req = Request::builder()
            .method(Method::GET)
            .uri(path)
            .header(hyper::header::HOST, addr.to_string())
            .header(hyper::header::ACCEPT, "text/event-stream")
            .body(Full::new(Bytes::new()))?;
        let resp = sender.send_request(req).await?;
        if !resp.status().is_success() {
            return Err(anyhow!("{path} answered {}", resp.status()));
        }
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        let task = tokio::spawn(async move {
            // Keep the connection's sender alive as long as we read.
            let _sender = sender;
            let mut body = resp.into_body().into_data_stream();
            let mut buf = String::new();
            let (mut event, mut data) = (String::new(), String::new());
            while let Some(Ok(chunk)) = body.next().await {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(nl) = buf.find('\n') {
                    let line: String = buf.drain(..=nl).collect();
                    let line = line.trim_end_matches(['\n', '\r']);
                    if line.is_empty() {
                        if !event.is_empty() || !data.is_empty() {
                            let ev = (std::mem::take(&mut event), std::mem::take(&mut data));
                            if tx.send(ev).await.is_err() {
                                return;
                            }
                        }
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim_start().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        if !data.is_empty() {
                            data.push('\n');
                        }
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
            }
        });
        Ok(EventStream { rx, _task: task })
    }

    /// The next event, or `None` when the stream ended.
    pub async fn next(&mut self) -> Option<(String, String)> {
        self.rx.recv().await
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self._task.abort();
    }
}
