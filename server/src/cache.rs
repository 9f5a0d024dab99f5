//! The in-memory pause cache, keyed by version.
//!
//! Claims consult it first: while it says "paused" a claim answers without a
//! database round trip. It only ever moves forward (a higher version wins),
//! so a slow reader can never roll it back to an older state. When it says
//! "running" the claim still confirms the state inside its transaction, so a
//! stale "running" is harmless; a stale "paused" only delays a resume until
//! the next notification or periodic refresh.

use tokio::sync::watch;

use crate::domain::PauseState;

pub struct PauseCache {
    tx: watch::Sender<PauseState>,
}

impl PauseCache {
    pub fn new(initial: PauseState) -> Self {
        let (tx, _rx) = watch::channel(initial);
        PauseCache { tx }
    }

    /// The newest state this process knows of.
    pub fn current(&self) -> PauseState {
        self.tx.borrow().clone()
    }

    /// Reads the newest known state under the lock (no clone).
    pub fn read<R>(&self, f: impl FnOnce(&PauseState) -> R) -> R {
        f(&self.tx.borrow())
    }

    /// Whether the newest known state is paused (no clone).
    pub fn is_paused(&self) -> bool {
        self.tx.borrow().workers_paused
    }

    /// The `system` block of the newest known state if it is paused,
    /// built under the read lock (no clone of the whole state).
    pub fn paused_system_block(&self, pause_poll_interval_ms: u64) -> Option<wire::SystemBlock> {
        let state = self.tx.borrow();
        state
            .workers_paused
            .then(|| state.system_block(pause_poll_interval_ms))
    }

    pub fn version(&self) -> i64 {
        self.tx.borrow().version
    }

    /// Takes `state` if it is newer than what the cache holds; returns
    /// whether it was. Subscribers are woken only on a real change.
    pub fn observe(&self, state: PauseState) -> bool {
        self.tx.send_if_modified(|cur| {
            if state.version > cur.version {
                *cur = state;
                true
            } else {
                false
            }
        })
    }

    /// A receiver woken on every version change (live updates, long polls).
    pub fn subscribe(&self) -> watch::Receiver<PauseState> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn state(version: i64, paused: bool) -> PauseState {
        let mut s = PauseState::initial(DateTime::from_timestamp(0, 0).unwrap());
        s.version = version;
        s.workers_paused = paused;
        s
    }

    #[test]
    fn newer_version_replaces_older_never_the_reverse() {
        let cache = PauseCache::new(state(1, false));
        assert!(cache.observe(state(2, true)));
        assert!(cache.is_paused());
        assert!(!cache.observe(state(1, false)), "older state ignored");
        assert!(!cache.observe(state(2, false)), "same version ignored");
        assert!(cache.is_paused());
        assert_eq!(cache.version(), 2);
    }

    #[tokio::test]
    async fn subscribers_wake_only_on_change() {
        let cache = PauseCache::new(state(1, false));
        let mut rx = cache.subscribe();
        cache.observe(state(1, true));
        assert!(!rx.has_changed().unwrap());
        cache.observe(state(3, true));
        assert!(rx.has_changed().unwrap());
        rx.changed().await.unwrap();
        assert_eq!(rx.borrow().version, 3);
    }
}
