//! The live stream's shared `state` frames: one server-sent event per pause
//! version, built once (the status read once, serialized once) and handed
//! to every subscriber as the same [`Bytes`] — a reference count, not a
//! copy, per subscriber. Without it every open stream read the status from
//! storage and serialized it on every change, so a pause cost one database
//! read per dashboard and slowed down with their number.
//!
//! A [`watch`] channel carries the frames: a subscriber that fell behind
//! (a slow client) skips the versions it missed and gets the latest one,
//! never an older one, and never misses the last. Like `live`, this module
//! knows nothing of the service; `service::fanout` builds the frames.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use wire::DrainMetrics;

use crate::domain::PauseState;

/// How long the builder waits before trying again after a failed read.
const RETRY: Duration = Duration::from_millis(250);

/// One pause version's `state` event, encoded for the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct StateFrame {
    pub version: i64,
    /// The drain metrics the event carries (a subscriber joining later is
    /// also sent the newest metrics tick when they differ).
    pub metrics: DrainMetrics,
    /// `event: state\ndata: {…}\n\n`.
    pub bytes: Bytes,
}

/// Publishes [`StateFrame`]s to every open stream.
#[derive(Default)]
pub struct StatePublisher {
    tx: watch::Sender<Option<StateFrame>>,
    builds: AtomicU64,
    started: AtomicBool,
}

impl StatePublisher {
    /// A receiver of the frames; the current one (if any) counts as seen.
    pub fn subscribe(&self) -> watch::Receiver<Option<StateFrame>> {
        self.tx.subscribe()
    }

    /// The version of the newest frame (0: none yet).
    pub fn version(&self) -> i64 {
        self.tx.borrow().as_ref().map_or(0, |f| f.version)
    }

    /// Frames built so far (tests and benchmarks: one per version).
    pub fn builds(&self) -> u64 {
        self.builds.load(Ordering::Relaxed)
    }

    /// True the first time only: whoever gets it starts the builder.
    pub fn claim_start(&self) -> bool {
        !self.started.swap(true, Ordering::AcqRel)
    }

    /// Takes `frame` if it is newer than the newest one, waking every
    /// subscriber; returns whether it was.
    pub fn publish(&self, frame: StateFrame) -> bool {
        self.tx.send_if_modified(|cur| {
            if cur.as_ref().is_none_or(|c| frame.version > c.version) {
                *cur = Some(frame);
                true
            } else {
                false
            }
        })
    }

    /// Builds and publishes a frame for every version `versions` moves to,
    /// coalescing a burst into one build of the newest; `build` returns
    /// `None` when there is nothing left to build for (the service is
    /// gone), and the loop ends then or when `versions` closes. A failed
    /// build is tried again after [`RETRY`]: the last version always gets
    /// its frame.
    pub async fn follow<B, Fut>(&self, mut versions: watch::Receiver<PauseState>, mut build: B)
    where
        B: FnMut() -> Fut,
        Fut: Future<Output = Option<Result<StateFrame, String>>>,
    {
        loop {
            let target = versions.borrow_and_update().version;
            while self.version() < target {
                self.builds.fetch_add(1, Ordering::Relaxed);
                match build().await {
                    None => return,
                    Some(Ok(frame)) if frame.version >= target => {
                        self.publish(frame);
                    }
                    // Storage answered with an older state than the cache
                    // holds (a replica's read racing a notice): read again.
                    Some(Ok(frame)) => {
                        self.publish(frame);
                        tokio::time::sleep(RETRY).await;
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "live stream: could not build the state event; retrying");
                        tokio::time::sleep(RETRY).await;
                    }
                }
            }
            if versions.changed().await.is_err() {
                return;
            }
        }
    }
}

/// One server-sent event: `event: {name}` and `data` as `data:` lines.
pub fn sse_frame(name: &str, data: &str) -> Bytes {
    let mut out = String::with_capacity(data.len() + name.len() + 16);
    out.push_str("event: ");
    out.push_str(name);
    out.push('\n');
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

/// The keep-alive: an empty SSE comment.
pub const KEEP_ALIVE: Bytes = Bytes::from_static(b":\n\n");

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn state(version: i64) -> PauseState {
        let mut s = PauseState::initial(chrono::DateTime::from_timestamp(0, 0).unwrap());
        s.version = version;
        s
    }

    fn frame(version: i64) -> StateFrame {
        StateFrame {
            version,
            metrics: DrainMetrics::new(0, 0, 0),
            bytes: sse_frame("state", &format!("{{\"version\":{version}}}")),
        }
    }

    /// Waits until the publisher holds `version`.
    async fn published(p: &StatePublisher, version: i64) {
        let mut rx = p.subscribe();
        tokio::time::timeout(
            Duration::from_secs(5),
            rx.wait_for(|f| f.as_ref().is_some_and(|f| f.version >= version)),
        )
        .await
        .expect("published in time")
        .unwrap();
    }

    /// A builder over `cache` that counts its builds, reading the cache's
    /// version as storage would.
    fn spawn_builder(
        p: &Arc<StatePublisher>,
        cache: &watch::Sender<PauseState>,
    ) -> tokio::task::JoinHandle<()> {
        let (p, versions, source) = (p.clone(), cache.subscribe(), cache.subscribe());
        tokio::spawn(async move {
            p.follow(versions, || {
                let v = source.borrow().version;
                async move { Some(Ok(frame(v))) }
            })
            .await
        })
    }

    #[tokio::test]
    async fn every_subscriber_gets_the_same_frame_built_once_per_version() {
        let p = Arc::new(StatePublisher::default());
        let cache = watch::channel(state(1)).0;
        let builder = spawn_builder(&p, &cache);
        published(&p, 1).await;
        assert_eq!(p.builds(), 1);
        let mut subs: Vec<_> = (0..500).map(|_| p.subscribe()).collect();
        for v in 2..=4 {
            cache.send_replace(state(v));
            published(&p, v).await;
            let mut seen = Vec::new();
            for rx in &mut subs {
                rx.changed().await.unwrap();
                let f = rx.borrow_and_update().clone().unwrap();
                assert_eq!(f.version, v);
                seen.push(f.bytes);
            }
            // The same buffer, not a copy per subscriber.
            assert!(seen.iter().all(|b| b.as_ptr() == seen[0].as_ptr()));
            assert_eq!(
                p.builds(),
                v as u64,
                "one build per version, not per subscriber"
            );
        }
        builder.abort();
    }

    #[tokio::test]
    async fn a_lagging_subscriber_gets_the_latest_version() {
        let p = StatePublisher::default();
        let mut slow = p.subscribe();
        for v in 1..=5 {
            assert!(p.publish(frame(v)));
        }
        assert!(
            !p.publish(frame(3)),
            "an older frame never replaces a newer"
        );
        slow.changed().await.unwrap();
        assert_eq!(slow.borrow_and_update().as_ref().unwrap().version, 5);
        assert!(!slow.has_changed().unwrap(), "one wake-up for the five");
    }

    #[tokio::test]
    async fn a_failed_build_is_tried_again_until_the_version_has_its_frame() {
        let p = Arc::new(StatePublisher::default());
        let cache = watch::channel(state(7)).0;
        let failures = Arc::new(AtomicU64::new(2));
        let builder = {
            let (p, versions, failures) = (p.clone(), cache.subscribe(), failures.clone());
            tokio::spawn(async move {
                p.follow(versions, || {
                    let fail = failures
                        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
                        .is_ok();
                    async move {
                        Some(if fail {
                            Err("down".into())
                        } else {
                            Ok(frame(7))
                        })
                    }
                })
                .await
            })
        };
        published(&p, 7).await;
        assert_eq!(p.builds(), 3);
        builder.abort();
    }

    #[tokio::test]
    async fn the_builder_ends_with_its_source() {
        let p = Arc::new(StatePublisher::default());
        let cache = watch::channel(state(1)).0;
        let builder = spawn_builder(&p, &cache);
        published(&p, 1).await;
        drop(cache);
        tokio::time::timeout(Duration::from_secs(5), builder)
            .await
            .expect("ended")
            .unwrap();
        assert!(p.claim_start() && !p.claim_start(), "started once");
    }

    #[test]
    fn frames_are_server_sent_events() {
        assert_eq!(
            &sse_frame("state", "{\"a\":1}")[..],
            b"event: state\ndata: {\"a\":1}\n\n"
        );
        assert_eq!(
            &sse_frame("x", "a\nb")[..],
            b"event: x\ndata: a\ndata: b\n\n"
        );
    }
}
