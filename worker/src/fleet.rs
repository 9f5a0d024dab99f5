//! What this worker knows of the global pause and of the paused queues.
//! Every `system` block (from claims, lease heartbeats and worker
//! heartbeats) goes through [`Fleet::observe`] and [`Fleet::observe_queues`],
//! so a pause is logged once per `version` however many channels report
//! it, and a quiesced checkpoint wakes as soon as any of them sees the
//! resume.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;
use wire::{PauseMode, PausedQueue, SystemBlock};

/// The paused queues this worker knows of, by name.
pub type PausedQueues = BTreeMap<String, PausedQueue>;

/// Poll interval before the server has told us its `pausePollIntervalMs`.
pub const DEFAULT_PAUSE_POLL: Duration = Duration::from_millis(5000);

/// The pause as last seen, shared through a watch channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FleetView {
    pub workers_paused: bool,
    pub mode: Option<PauseMode>,
    /// 0 until the server has answered once.
    pub version: i64,
    /// The server's `pausePollIntervalMs` (0 = not told yet).
    pub server_poll_ms: u64,
}

impl FleetView {
    /// Running jobs must hold at their next checkpoint.
    pub fn is_quiesced(&self) -> bool {
        self.workers_paused && self.mode == Some(PauseMode::Quiesce)
    }

    /// The pause version this worker has applied, reported to the server
    /// as `appliedVersion`: this view's version once the worker has acted
    /// on it, else `previous` (the last version it had applied).
    ///
    /// Acting on it means: for a drain, not claiming — which holds as soon
    /// as the view is seen, since the claim loop reads it before every
    /// claim and the server hands out nothing once the pause is answered;
    /// for a quiesce, also every running job (`holding`: one flag per job)
    /// held at a checkpoint, or none running; for a resume, claiming again,
    /// which again holds once it is seen. Queue pauses do not enter into it:
    /// the applied version is the global pause's.
    pub fn applied_version(&self, holding: impl IntoIterator<Item = bool>, previous: i64) -> i64 {
        if self.version <= previous {
            return previous;
        }
        if !self.is_quiesced() || holding.into_iter().all(|h| h) {
            self.version
        } else {
            previous
        }
    }
}

/// A log-worthy change of the pause, decided by [`PauseLog`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PauseNotice {
    Paused {
        version: i64,
        mode: Option<PauseMode>,
        reason: Option<String>,
    },
    Resumed {
        version: i64,
    },
}

/// Decides when to log the pause: once per paused `version` (a new mode or
/// reason is a new version, so it is logged again), once on resume, never
/// for a repeat or for a late answer carrying an older version.
#[derive(Debug, Default)]
pub struct PauseLog {
    /// Highest version seen; older blocks are stale answers.
    seen: i64,
    logged_paused: Option<i64>,
    paused: bool,
}

impl PauseLog {
    pub fn observe(&mut self, block: &SystemBlock) -> Option<PauseNotice> {
        if block.version < self.seen {
            return None;
        }
        self.seen = block.version;
        if block.workers_paused {
            self.paused = true;
            if self.logged_paused == Some(block.version) {
                return None;
            }
            self.logged_paused = Some(block.version);
            Some(PauseNotice::Paused {
                version: block.version,
                mode: block.mode,
                reason: block.reason.clone(),
            })
        } else if std::mem::take(&mut self.paused) {
            Some(PauseNotice::Resumed {
                version: block.version,
            })
        } else {
            None
        }
    }
}

/// The shared pause state of one worker process.
#[derive(Debug)]
pub struct Fleet {
    view: watch::Sender<FleetView>,
    log: Mutex<PauseLog>,
    /// `LULL_PAUSE_POLL_INTERVAL_MS`: wins over the server's value.
    poll_override: Option<Duration>,
    queues: watch::Sender<PausedQueues>,
    /// The queues this worker claims from (empty: every queue): only their
    /// pauses are worth a log line.
    mine: Vec<String>,
}

impl Fleet {
    pub fn new(poll_override: Option<Duration>) -> Fleet {
        Fleet {
            view: watch::Sender::new(FleetView::default()),
            log: Mutex::new(PauseLog::default()),
            poll_override,
            queues: watch::Sender::new(PausedQueues::new()),
            mine: Vec::new(),
        }
    }

    /// Logs the pauses of these queues only (empty: every queue).
    pub fn claiming_from(mut self, queues: Vec<String>) -> Fleet {
        self.mine = queues;
        self
    }

    fn is_mine(&self, queue: &str) -> bool {
        self.mine.is_empty() || self.mine.iter().any(|q| q == queue)
    }

    /// Takes in a `system` block's `pausedQueues`, which speaks for `scope`:
    /// the queues a claim named, a lease heartbeat's job's queue, or every
    /// queue (`None`: a claim that named none, a worker heartbeat). Within
    /// the scope the answer is the truth, except that a pause of a newer
    /// version already seen (a later answer on another channel) is kept.
    /// Logs each of this worker's queues' pauses once per version, and
    /// their resumes.
    pub fn observe_queues(&self, scope: Option<&[String]>, paused: &[PausedQueue]) {
        let in_scope = |name: &str| scope.is_none_or(|s| s.iter().any(|q| q == name));
        let mut newly_paused = Vec::new();
        let mut resumed = Vec::new();
        self.queues.send_if_modified(|known| {
            let before = known.clone();
            known.retain(|name, _| !in_scope(name));
            for p in paused.iter().filter(|p| in_scope(&p.name)) {
                let keep = before.get(&p.name).filter(|old| old.version > p.version);
                known.insert(p.name.clone(), keep.unwrap_or(p).clone());
            }
            for (name, p) in known.iter() {
                if before.get(name).is_none_or(|old| old.version != p.version) {
                    newly_paused.push(p.clone());
                }
            }
            resumed.extend(before.keys().filter(|n| !known.contains_key(*n)).cloned());
            *known != before
        });
        for p in newly_paused.iter().filter(|p| self.is_mine(&p.name)) {
            tracing::warn!(
                queue = %p.name,
                version = p.version,
                mode = p.mode.as_str(),
                reason = p.reason.as_deref().unwrap_or(""),
                "queue paused by the control plane: not claiming from it"
            );
        }
        for q in resumed.iter().filter(|q| self.is_mine(q)) {
            tracing::info!(queue = %q, "queue resumed: claiming from it again");
        }
    }

    /// The paused queues as last seen.
    pub fn paused_queues(&self) -> PausedQueues {
        self.queues.borrow().clone()
    }

    /// Whether every one of `queues` is paused (never for an empty list).
    pub fn all_paused(&self, queues: &[String]) -> bool {
        let known = self.queues.borrow();
        !queues.is_empty() && queues.iter().all(|q| known.contains_key(q))
    }

    pub fn subscribe_queues(&self) -> watch::Receiver<PausedQueues> {
        self.queues.subscribe()
    }

    /// Takes in a `system` block: logs a change once, wakes waiters only
    /// when something they care about changed.
    pub fn observe(&self, block: &SystemBlock) {
        let notice = match self.log.lock() {
            Ok(mut log) => log.observe(block),
            Err(poisoned) => poisoned.into_inner().observe(block),
        };
        match notice {
            Some(PauseNotice::Paused {
                version,
                mode,
                reason,
            }) => tracing::warn!(
                version,
                mode = mode.map(PauseMode::as_str).unwrap_or("drain"),
                reason = reason.as_deref().unwrap_or(""),
                "fleet paused by the control plane: not claiming"
            ),
            Some(PauseNotice::Resumed { version }) => {
                tracing::info!(version, "fleet resumed: claiming again")
            }
            None => {}
        }
        self.view.send_if_modified(|v| {
            if block.version < v.version {
                return false; // a late answer from before the last change
            }
            let next = FleetView {
                workers_paused: block.workers_paused,
                mode: block.mode,
                version: block.version,
                server_poll_ms: block.pause_poll_interval_ms,
            };
            let changed = *v != next;
            *v = next;
            changed
        });
    }

    pub fn current(&self) -> FleetView {
        *self.view.borrow()
    }

    pub fn subscribe(&self) -> watch::Receiver<FleetView> {
        self.view.subscribe()
    }

    /// The sleep between claims while paused: the environment's value, else
    /// the server's, else 5 s.
    pub fn poll_interval(&self) -> Duration {
        poll_interval(self.poll_override, self.current().server_poll_ms)
    }
}

fn poll_interval(overridden: Option<Duration>, server_ms: u64) -> Duration {
    match (overridden, server_ms) {
        (Some(d), _) => d,
        (None, 0) => DEFAULT_PAUSE_POLL,
        (None, ms) => Duration::from_millis(ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(paused: bool, version: i64, reason: &str) -> SystemBlock {
        SystemBlock {
            workers_paused: paused,
            mode: paused.then_some(PauseMode::Drain),
            reason: paused.then(|| reason.to_string()),
            version,
            pause_poll_interval_ms: 200,
            paused_queues: Vec::new(),
        }
    }

    fn view(paused: bool, mode: Option<PauseMode>, version: i64) -> FleetView {
        FleetView {
            workers_paused: paused,
            mode,
            version,
            server_poll_ms: 0,
        }
    }

    #[test]
    fn a_drain_is_applied_once_seen_even_with_jobs_running() {
        let drain = view(true, Some(PauseMode::Drain), 2);
        assert_eq!(drain.applied_version([false, false], 1), 2);
        assert_eq!(drain.applied_version([], 1), 2);
        // A resume is applied once seen too.
        assert_eq!(view(false, None, 3).applied_version([false], 2), 3);
    }

    #[test]
    fn a_quiesce_with_a_job_between_checkpoints_is_not_applied_yet() {
        let quiesce = view(true, Some(PauseMode::Quiesce), 5);
        assert_eq!(quiesce.applied_version([true, false], 4), 4);
        assert_eq!(quiesce.applied_version([true, true], 4), 5);
        assert_eq!(quiesce.applied_version([], 4), 5, "no job running");
        // Once applied it stays applied (the view did not move).
        assert_eq!(quiesce.applied_version([false], 5), 5);
    }

    #[test]
    fn an_unseen_or_older_view_never_moves_the_applied_version_back() {
        assert_eq!(FleetView::default().applied_version([], 0), 0);
        assert_eq!(
            view(true, Some(PauseMode::Drain), 2).applied_version([], 3),
            3
        );
    }

    #[test]
    fn a_pause_is_logged_once_per_version() {
        let mut log = PauseLog::default();
        assert_eq!(
            log.observe(&block(false, 1, "")),
            None,
            "running at start: quiet"
        );
        assert!(matches!(
            log.observe(&block(true, 2, "deploy")),
            Some(PauseNotice::Paused { version: 2, .. })
        ));
        for _ in 0..10 {
            assert_eq!(
                log.observe(&block(true, 2, "deploy")),
                None,
                "repeat polls stay quiet"
            );
        }
        // A new reason is a new version: logged again, once.
        assert!(matches!(
            log.observe(&block(true, 3, "deploy, take two")),
            Some(PauseNotice::Paused { version: 3, reason: Some(r), .. }) if r == "deploy, take two"
        ));
        assert_eq!(log.observe(&block(true, 3, "deploy, take two")), None);
        assert_eq!(
            log.observe(&block(false, 4, "")),
            Some(PauseNotice::Resumed { version: 4 })
        );
        assert_eq!(
            log.observe(&block(false, 4, "")),
            None,
            "resume logged once"
        );
    }

    #[test]
    fn late_answers_with_an_older_version_are_ignored() {
        let mut log = PauseLog::default();
        log.observe(&block(true, 2, "x"));
        log.observe(&block(false, 3, ""));
        assert_eq!(
            log.observe(&block(true, 2, "x")),
            None,
            "stale paused block"
        );
        let fleet = Fleet::new(None);
        fleet.observe(&block(false, 3, ""));
        fleet.observe(&block(true, 2, "x"));
        assert!(!fleet.current().workers_paused);
    }

    #[test]
    fn poll_interval_env_wins_then_server_then_default() {
        let ms = Duration::from_millis;
        assert_eq!(poll_interval(Some(ms(50)), 200), ms(50));
        assert_eq!(poll_interval(None, 200), ms(200));
        assert_eq!(poll_interval(None, 0), DEFAULT_PAUSE_POLL);
        let fleet = Fleet::new(None);
        assert_eq!(fleet.poll_interval(), DEFAULT_PAUSE_POLL);
        fleet.observe(&block(true, 2, "x"));
        assert_eq!(fleet.poll_interval(), ms(200));
    }

    fn paused(name: &str, version: i64) -> PausedQueue {
        PausedQueue {
            name: name.into(),
            mode: PauseMode::Quiesce,
            reason: Some("r".into()),
            version,
        }
    }

    #[test]
    fn queue_answers_speak_for_their_scope_only() {
        let fleet = Fleet::new(None);
        let all: Option<&[String]> = None;
        fleet.observe_queues(all, &[paused("a", 2), paused("b", 2)]);
        assert!(fleet.all_paused(&["a".into(), "b".into()]));
        // A lease heartbeat of a job in b says b resumed; a stays paused.
        fleet.observe_queues(Some(&["b".into()]), &[]);
        assert_eq!(fleet.paused_queues().keys().collect::<Vec<_>>(), vec!["a"]);
        // A late answer with an older version of a keeps the newer pause.
        fleet.observe_queues(Some(&["a".into()]), &[paused("a", 4)]);
        fleet.observe_queues(Some(&["a".into()]), &[paused("a", 3)]);
        assert_eq!(fleet.paused_queues()["a"].version, 4);
        // A claim for [a, c] that lists nothing: both are running.
        fleet.observe_queues(Some(&["a".into(), "c".into()]), &[]);
        assert!(fleet.paused_queues().is_empty());
        assert!(!fleet.all_paused(&[]), "an empty list is never all paused");
    }

    #[test]
    fn quiesce_is_a_paused_fleet_in_quiesce_mode() {
        let fleet = Fleet::new(None);
        let mut b = block(true, 2, "x");
        assert!(!fleet.current().is_quiesced());
        b.mode = Some(PauseMode::Quiesce);
        fleet.observe(&b);
        assert!(fleet.current().is_quiesced());
        b.mode = Some(PauseMode::Drain);
        b.version = 3;
        fleet.observe(&b);
        assert!(!fleet.current().is_quiesced(), "drain lets jobs run on");
    }
}
