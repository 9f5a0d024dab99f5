//! The in-memory pause caches, keyed by version: the fleet's
//! ([`PauseCache`]) and each named queue's ([`QueueCache`]).
//!
//! Claims consult them first: while they say "paused" (the fleet, or every
//! queue the claim asks for) a claim answers without a database round trip.
//! They only ever move forward (a higher version wins), so a slow reader can
//! never roll them back to an older state. When they say "running" the
//! claim still confirms the state inside its transaction, so a stale
//! "running" is harmless; a stale "paused" only delays a resume until the
//! next notification or periodic refresh.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use wire::PausedQueue;

use crate::domain::{self, PauseCommand, PauseState, QueuePause};

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

/// Every queue's pause this process knows of (queues with no row are
/// running at version 1), each kept at its highest version.
pub struct QueueCache {
    tx: watch::Sender<BTreeMap<String, PauseState>>,
}

impl Default for QueueCache {
    fn default() -> Self {
        QueueCache {
            tx: watch::channel(BTreeMap::new()).0,
        }
    }
}

impl QueueCache {
    /// Takes the states that are newer than what the cache holds; returns
    /// whether any was. Subscribers are woken only on a real change.
    pub fn observe(&self, queues: impl IntoIterator<Item = QueuePause>) -> bool {
        let queues: Vec<QueuePause> = queues.into_iter().collect();
        self.tx.send_if_modified(|cur| {
            let mut changed = false;
            for q in queues {
                if cur.get(&q.name).is_none_or(|c| q.state.version > c.version) {
                    cur.insert(q.name, q.state);
                    changed = true;
                }
            }
            changed
        })
    }

    /// The newest known state of a queue (`None`: never seen, running).
    pub fn state(&self, queue: &str) -> Option<PauseState> {
        self.tx.borrow().get(queue).cloned()
    }

    /// The newest known version of a queue (1 for one never seen).
    pub fn version(&self, queue: &str) -> i64 {
        self.tx.borrow().get(queue).map_or(1, |s| s.version)
    }

    /// The paused queues among `queues` (every queue when `None`), by name.
    pub fn paused_among(&self, queues: Option<&[String]>) -> Vec<PausedQueue> {
        let all = self.tx.borrow();
        match queues {
            None => all
                .iter()
                .filter_map(|(name, st)| domain::paused_queue(name, st))
                .collect(),
            Some(names) => {
                let mut out: Vec<PausedQueue> = names
                    .iter()
                    .filter_map(|n| domain::paused_queue(n, all.get(n)?))
                    .collect();
                out.sort_by(|a, b| a.name.cmp(&b.name));
                out
            }
        }
    }

    /// Whether every one of `queues` is paused (a claim for them can be
    /// answered from the cache). Never true for an empty list.
    pub fn all_paused(&self, queues: &[String]) -> bool {
        let all = self.tx.borrow();
        !queues.is_empty()
            && queues
                .iter()
                .all(|q| all.get(q).is_some_and(|s| s.workers_paused))
    }

    /// The resumes that end the queues' timed pauses due at `now`.
    pub fn due_resumes(&self, now: DateTime<Utc>) -> Vec<(String, PauseCommand)> {
        self.tx
            .borrow()
            .iter()
            .filter_map(|(name, st)| {
                Some((name.clone(), domain::timed_queue_resume(name, st, now)?))
            })
            .collect()
    }

    /// A receiver woken on every change of any queue's pause.
    pub fn subscribe(&self) -> watch::Receiver<BTreeMap<String, PauseState>> {
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

    fn queue(name: &str, version: i64, paused: bool) -> QueuePause {
        let mut s = state(version, paused);
        s.mode = paused.then_some(wire::PauseMode::Quiesce);
        QueuePause {
            name: name.into(),
            state: s,
        }
    }

    #[test]
    fn queues_move_forward_one_by_one_and_answer_for_a_claims_queues() {
        let cache = QueueCache::default();
        assert!(!cache.all_paused(&["a".into()]), "unknown: running");
        assert!(cache.observe([queue("a", 2, true), queue("b", 1, false)]));
        assert!(!cache.observe([queue("a", 1, false)]), "older ignored");
        assert!(cache.all_paused(&["a".into()]));
        assert!(!cache.all_paused(&["a".into(), "b".into()]));
        assert!(!cache.all_paused(&[]));
        let listed = cache.paused_among(Some(&["b".into(), "a".into(), "c".into()]));
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (listed[0].name.as_str(), listed[0].mode, listed[0].version),
            ("a", wire::PauseMode::Quiesce, 2)
        );
        assert_eq!(cache.paused_among(None).len(), 1);
        assert_eq!((cache.version("a"), cache.version("zzz")), (2, 1));
        let rx = cache.subscribe();
        assert!(cache.observe([queue("a", 3, false)]));
        assert!(rx.has_changed().unwrap());
        assert!(cache.paused_among(None).is_empty());
    }

    #[test]
    fn a_due_timed_queue_pause_is_proposed_for_resume() {
        let cache = QueueCache::default();
        let mut q = queue("a", 2, true);
        q.state.until = DateTime::from_timestamp(100, 0);
        cache.observe([q, queue("b", 2, true)]);
        assert!(cache
            .due_resumes(DateTime::from_timestamp(99, 0).unwrap())
            .is_empty());
        let due = cache.due_resumes(DateTime::from_timestamp(100, 0).unwrap());
        assert_eq!(due.len(), 1);
        assert_eq!(
            (due[0].0.as_str(), due[0].1.expected_version),
            ("a", Some(2))
        );
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
