//! Live data for the dashboard, in memory: the latest metrics tick shared
//! by every stream subscriber (one database query per tick, however many
//! pages are open, and its `metrics` event encoded once for all of them)
//! and the running-jobs history for the chart. The service feeds it
//! (`service::live`); this module knows nothing of the service.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::watch;
use wire::{DrainMetrics, RunningSample, StreamMessage};

use crate::fanout::sse_frame;

/// Samples kept for the chart (at the default 2 s tick: ten minutes).
const HISTORY_LEN: usize = 300;

/// One metrics tick, as published to stream subscribers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsTick {
    pub version: i64,
    pub metrics: DrainMetrics,
    pub at: DateTime<Utc>,
}

/// A tick with its `metrics` event, encoded once for every subscriber.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedTick {
    pub tick: MetricsTick,
    pub frame: Bytes,
}

impl SharedTick {
    fn new(tick: MetricsTick) -> Self {
        let msg = StreamMessage::Metrics {
            version: tick.version,
            metrics: tick.metrics,
            at: tick.at,
        };
        let data = serde_json::to_string(&msg).unwrap_or_default();
        SharedTick {
            tick,
            frame: sse_frame("metrics", &data),
        }
    }
}

pub struct Live {
    tick: watch::Sender<Option<SharedTick>>,
    history: Mutex<VecDeque<RunningSample>>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            tick: watch::channel(None).0,
            history: Mutex::new(VecDeque::with_capacity(HISTORY_LEN)),
        }
    }
}

impl Live {
    pub fn subscribe(&self) -> watch::Receiver<Option<SharedTick>> {
        self.tick.subscribe()
    }

    /// Open subscriptions: one per live event stream.
    pub fn subscriber_count(&self) -> usize {
        self.tick.receiver_count()
    }

    /// Records a sample and wakes subscribers only when something changed.
    pub fn record(&self, tick: MetricsTick) {
        if let Ok(mut h) = self.history.lock() {
            if h.len() == HISTORY_LEN {
                h.pop_front();
            }
            h.push_back(RunningSample {
                at: tick.at,
                running: tick.metrics.running,
                stale_running: tick.metrics.stale_running,
            });
        }
        self.tick.send_if_modified(|cur| {
            let changed = cur
                .as_ref()
                .is_none_or(|c| c.tick.version != tick.version || c.tick.metrics != tick.metrics);
            // Encoded only when it changed: that is when subscribers send it.
            if changed {
                *cur = Some(SharedTick::new(tick));
            }
            changed
        });
    }

    pub fn history(&self) -> Vec<RunningSample> {
        self.history
            .lock()
            .map(|h| h.iter().copied().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn history_is_bounded_and_ticks_wake_only_on_change() {
        let live = Live::default();
        let mut rx = live.subscribe();
        let at = Utc::now();
        let tick = MetricsTick {
            version: 1,
            metrics: DrainMetrics::new(1, 1, 0),
            at,
        };
        live.record(tick);
        assert!(rx.has_changed().unwrap());
        rx.mark_unchanged();
        live.record(MetricsTick {
            at: at + Duration::seconds(2),
            ..tick
        });
        assert!(!rx.has_changed().unwrap(), "same numbers: no wake-up");
        let shared = rx.borrow().clone().unwrap();
        assert_eq!(shared.tick.at, at, "kept as first sent");
        assert!(shared.frame.starts_with(b"event: metrics\ndata: {"));
        for _ in 0..HISTORY_LEN + 10 {
            live.record(tick);
        }
        assert_eq!(live.history().len(), HISTORY_LEN);
    }
}
