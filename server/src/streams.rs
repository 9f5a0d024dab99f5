//! Open event streams, counted so they stay bounded: each one holds a
//! connection and a task for as long as the client keeps it, so without a
//! cap one client could hold them all. At most `total` are open at once,
//! and at most `per_token` per API token (so one token cannot starve the
//! others); each ends when its token is revoked. The service decides when
//! a token is revoked (`service::streams`); this module only counts and
//! signals, like `live` it knows nothing of the service.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// The caps on open event streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Open at once in this process, whoever holds them.
    pub total: usize,
    /// Open at once with one API token (disabled auth mode has no tokens:
    /// only `total` applies there).
    pub per_token: usize,
}

impl Default for StreamLimits {
    /// A dashboard tab holds one stream: 16 tabs per token, 512 in all.
    fn default() -> Self {
        StreamLimits {
            total: 512,
            per_token: 16,
        }
    }
}

/// Why a stream was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StreamsFull {
    #[error("{0} event streams are open, the most this server allows")]
    Total(usize),
    #[error("{0} event streams are open with this token, the most one token may hold")]
    PerToken(usize),
}

/// The open streams of one token, and the signal that ends them.
struct TokenStreams {
    open: usize,
    end: watch::Sender<bool>,
}

#[derive(Default)]
struct Open {
    total: usize,
    by_token: HashMap<String, TokenStreams>,
}

#[derive(Default)]
pub struct Streams {
    limits: StreamLimits,
    open: Mutex<Open>,
}

impl Streams {
    pub fn new(limits: StreamLimits) -> Arc<Streams> {
        Arc::new(Streams {
            limits,
            open: Mutex::default(),
        })
    }

    /// Counts a new stream of `token` (`None`: disabled auth mode), or
    /// refuses it when a cap is reached. The stream is counted until the
    /// permit is dropped.
    pub fn open(self: &Arc<Self>, token: Option<&str>) -> Result<StreamPermit, StreamsFull> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.total >= self.limits.total {
            return Err(StreamsFull::Total(open.total));
        }
        let ended = match token {
            None => None,
            Some(t) => {
                let entry = open
                    .by_token
                    .entry(t.to_string())
                    .or_insert_with(|| TokenStreams {
                        open: 0,
                        end: watch::channel(false).0,
                    });
                if entry.open >= self.limits.per_token {
                    return Err(StreamsFull::PerToken(entry.open));
                }
                entry.open += 1;
                Some(entry.end.subscribe())
            }
        };
        open.total += 1;
        Ok(StreamPermit {
            streams: self.clone(),
            token: token.map(str::to_string),
            ended,
        })
    }

    /// Open streams in all.
    pub fn count(&self) -> usize {
        self.open.lock().map(|o| o.total).unwrap_or_default()
    }

    /// The tokens that hold open streams.
    pub fn tokens(&self) -> Vec<String> {
        self.open
            .lock()
            .map(|o| o.by_token.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Ends every open stream of `token`; returns how many there were.
    pub fn end_token(&self, token: &str) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        match open.by_token.get(token) {
            Some(t) => {
                t.end.send_replace(true);
                t.open
            }
            None => 0,
        }
    }

    fn close(&self, token: Option<&str>) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(t) = token {
            if let Some(entry) = open.by_token.get_mut(t) {
                entry.open = entry.open.saturating_sub(1);
                if entry.open == 0 {
                    open.by_token.remove(t);
                }
            }
        }
    }
}

/// One open stream: counted until dropped.
pub struct StreamPermit {
    streams: Arc<Streams>,
    token: Option<String>,
    ended: Option<watch::Receiver<bool>>,
}

impl StreamPermit {
    /// Resolves when this stream's token is revoked; never without a token.
    pub async fn revoked(&mut self) {
        match self.ended.as_mut() {
            Some(rx) => {
                // An error means the signal is gone with its token's entry,
                // which outlives every permit of that token: wait forever.
                if rx.wait_for(|ended| *ended).await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending().await,
        }
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        self.streams.close(self.token.as_deref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn streams(total: usize, per_token: usize) -> Arc<Streams> {
        Streams::new(StreamLimits { total, per_token })
    }

    #[test]
    fn caps_per_token_then_in_total_and_frees_on_drop() {
        let s = streams(3, 2);
        let a1 = s.open(Some("a")).unwrap();
        let _a2 = s.open(Some("a")).unwrap();
        assert_eq!(s.open(Some("a")).err(), Some(StreamsFull::PerToken(2)));
        let _b1 = s.open(Some("b")).unwrap();
        assert_eq!(s.open(Some("c")).err(), Some(StreamsFull::Total(3)));
        assert_eq!(s.open(None).err(), Some(StreamsFull::Total(3)));
        drop(a1);
        assert_eq!(s.count(), 2);
        let _c1 = s.open(Some("c")).unwrap();
        let mut tokens = s.tokens();
        tokens.sort();
        assert_eq!(tokens, ["a", "b", "c"]);
    }

    #[tokio::test]
    async fn ending_a_token_ends_its_streams_only() {
        let s = streams(10, 10);
        let mut a = s.open(Some("a")).unwrap();
        let mut b = s.open(Some("b")).unwrap();
        let mut local = s.open(None).unwrap();
        assert_eq!(s.end_token("a"), 1);
        tokio::time::timeout(Duration::from_secs(1), a.revoked())
            .await
            .expect("a's stream is told");
        let quiet = Duration::from_millis(50);
        assert!(tokio::time::timeout(quiet, b.revoked()).await.is_err());
        assert!(tokio::time::timeout(quiet, local.revoked()).await.is_err());
        drop(a);
        assert_eq!(s.end_token("a"), 0, "gone with its last stream");
    }
}
