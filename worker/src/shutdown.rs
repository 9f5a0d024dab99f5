//! Stopping a worker from outside (signals in the binary, anything in an
//! embedding program): first a drain, then, if asked again, at once.

use std::sync::Arc;

use tokio::sync::watch;

/// How far the worker has been asked to stop; only ever grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StopLevel {
    Run,
    /// Claim nothing more, finish the running jobs, exit.
    Drain,
    /// Abandon the running jobs (their leases expire and they are requeued)
    /// and exit now.
    Now,
}

/// A cloneable handle that asks a [`crate::Worker`] to stop.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    level: Arc<watch::Sender<StopLevel>>,
}

impl Default for ShutdownHandle {
    fn default() -> Self {
        ShutdownHandle {
            level: Arc::new(watch::Sender::new(StopLevel::Run)),
        }
    }
}

impl ShutdownHandle {
    /// Drain: finish the running jobs, then exit. Idempotent.
    pub fn drain(&self) {
        self.raise(StopLevel::Drain);
    }

    /// Stop at once, abandoning running jobs.
    pub fn stop_now(&self) {
        self.raise(StopLevel::Now);
    }

    /// Drain the first time, stop at once the second (what SIGTERM does).
    /// Returns the level reached.
    pub fn escalate(&self) -> StopLevel {
        let mut reached = StopLevel::Run;
        self.level.send_modify(|l| {
            *l = if *l == StopLevel::Run {
                StopLevel::Drain
            } else {
                StopLevel::Now
            };
            reached = *l;
        });
        reached
    }

    pub fn level(&self) -> StopLevel {
        *self.level.borrow()
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<StopLevel> {
        self.level.subscribe()
    }

    fn raise(&self, to: StopLevel) {
        self.level.send_if_modified(|l| {
            let raise = to > *l;
            if raise {
                *l = to;
            }
            raise
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_only_grow() {
        let h = ShutdownHandle::default();
        h.stop_now();
        h.drain();
        assert_eq!(h.level(), StopLevel::Now);
    }

    #[test]
    fn a_second_request_stops_at_once() {
        let h = ShutdownHandle::default();
        assert_eq!(h.escalate(), StopLevel::Drain);
        assert_eq!(h.escalate(), StopLevel::Now);
        assert_eq!(h.escalate(), StopLevel::Now);
    }
}
