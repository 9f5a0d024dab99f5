//! The rolling-restart planner: pure, one step per tick.
//!
//! Targets are drained at most `max_unavailable` at a time; a worker counts
//! as restarted when it registers again with a new boot id. A worker that
//! does not come back within the deadline fails the rolling restart, and no
//! further worker is drained.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;
use wire::{
    DesiredState, ObservedState, RollingRestart, RolloutStatus, RolloutWorker, RolloutWorkerState,
};

use super::fleet::{observed_state, WorkerRecord};
use super::input::{FieldError, Reason, WorkerId};

/// Default for how long one worker may take to drain and come back.
pub const DEFAULT_DEADLINE_SECONDS: u32 = 300;

/// Which workers a rolling restart takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutTargets {
    /// Every worker that operators have not paused or are not draining.
    AllActive,
    /// These, in this order, without repeats.
    Ids(Vec<String>),
}

/// A validated `POST /api/workers/rolling-restarts`. What depends on the
/// fleet (who "all" is, unknown ids, how many may be unavailable at once)
/// is checked when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutCommand {
    pub targets: RolloutTargets,
    pub max_unavailable: u32,
    pub deadline_seconds: u32,
    pub reason: Reason,
    pub confirm: Option<String>,
}

impl RolloutCommand {
    pub fn parse(req: wire::RollingRestartRequest) -> Result<RolloutCommand, FieldError> {
        let reason = Reason::parse(req.reason.as_deref())?;
        let targets = match (req.worker_ids, req.all.unwrap_or(false)) {
            (Some(_), true) => {
                return Err(FieldError::new(
                    "all",
                    "give workerIds or all: true, not both",
                ))
            }
            (None, false) => {
                return Err(FieldError::new(
                    "workerIds",
                    "workerIds is required (or all: true)",
                ))
            }
            (None, true) => RolloutTargets::AllActive,
            (Some(ids), false) => {
                let mut out: Vec<String> = Vec::new();
                for id in ids {
                    let id = WorkerId::parse_field("workerIds", Some(&id))?.into_string();
                    if !out.contains(&id) {
                        out.push(id);
                    }
                }
                RolloutTargets::Ids(out)
            }
        };
        let max_unavailable = req
            .max_unavailable
            .ok_or_else(|| FieldError::new("maxUnavailable", "maxUnavailable is required"))?;
        let deadline_seconds = req.deadline_seconds.unwrap_or(DEFAULT_DEADLINE_SECONDS);
        if !(5..=86_400).contains(&deadline_seconds) {
            return Err(FieldError::new(
                "deadlineSeconds",
                "deadlineSeconds must be between 5 and 86400",
            ));
        }
        Ok(RolloutCommand {
            targets,
            max_unavailable,
            deadline_seconds,
            reason,
            confirm: req.confirm,
        })
    }
}

/// What the planner needs to know about a worker now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub boot_id: String,
    pub observed: ObservedState,
}

/// What the planner sees of the fleet now: each worker's boot and its
/// observed state (offline once its heartbeat is older than `stale_after`).
pub fn observe(
    fleet: &[WorkerRecord],
    now: DateTime<Utc>,
    stale_after: Duration,
) -> HashMap<String, Observation> {
    fleet
        .iter()
        .map(|w| {
            let observed = observed_state(w.reported_state, w.last_heartbeat_at, now, stale_after);
            let o = Observation {
                boot_id: w.boot_id.clone(),
                observed,
            };
            (w.id.clone(), o)
        })
        .collect()
}

/// A new rolling restart over `targets`, in the given order.
pub fn new_rollout(
    targets: Vec<String>,
    max_unavailable: u32,
    deadline_seconds: u32,
    reason: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> RollingRestart {
    RollingRestart {
        id: Uuid::new_v4(),
        status: RolloutStatus::Running,
        max_unavailable,
        deadline_seconds,
        reason: reason.to_string(),
        actor: actor.to_string(),
        created_at: now,
        finished_at: None,
        workers: targets
            .into_iter()
            .map(|worker_id| RolloutWorker {
                worker_id,
                state: RolloutWorkerState::Pending,
                boot_id_before: None,
                boot_id_after: None,
                started_at: None,
                finished_at: None,
                message: None,
            })
            .collect(),
        message: None,
    }
}

/// The outcome of one planning step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub rollout: RollingRestart,
    /// Desired states to write (workers to drain).
    pub set_desired: Vec<(String, DesiredState)>,
}

fn in_flight(s: RolloutWorkerState) -> bool {
    matches!(
        s,
        RolloutWorkerState::Draining | RolloutWorkerState::Restarting
    )
}

/// Advances a running rollout given what the workers look like now.
pub fn advance(
    mut r: RollingRestart,
    workers: &HashMap<String, Observation>,
    now: DateTime<Utc>,
) -> Step {
    let mut set_desired = Vec::new();
    if r.status != RolloutStatus::Running {
        return Step {
            rollout: r,
            set_desired,
        };
    }
    let deadline = Duration::seconds(i64::from(r.deadline_seconds));
    let mut failure = None;
    for w in r.workers.iter_mut().filter(|w| in_flight(w.state)) {
        let obs = workers.get(&w.worker_id);
        match obs {
            Some(o) if w.boot_id_before.as_deref() != Some(o.boot_id.as_str()) => {
                w.state = RolloutWorkerState::Done;
                w.boot_id_after = Some(o.boot_id.clone());
                w.finished_at = Some(now);
            }
            Some(o)
                if w.state == RolloutWorkerState::Draining
                    && matches!(o.observed, ObservedState::Stopped | ObservedState::Offline) =>
            {
                w.state = RolloutWorkerState::Restarting;
            }
            _ => {}
        }
        let overdue = w.started_at.is_some_and(|s| now - s > deadline);
        if in_flight(w.state) && overdue {
            w.state = RolloutWorkerState::Failed;
            w.finished_at = Some(now);
            let msg = format!(
                "worker {} did not come back within {} s",
                w.worker_id, r.deadline_seconds
            );
            w.message = Some(msg.clone());
            failure.get_or_insert(msg);
        }
    }
    if let Some(msg) = failure {
        r.status = RolloutStatus::Failed;
        r.finished_at = Some(now);
        r.message = Some(format!("{msg}; no further workers are drained"));
        return Step {
            rollout: r,
            set_desired,
        };
    }
    let mut busy = r.workers.iter().filter(|w| in_flight(w.state)).count();
    for w in r.workers.iter_mut() {
        if busy >= r.max_unavailable as usize {
            break;
        }
        if w.state != RolloutWorkerState::Pending {
            continue;
        }
        w.state = RolloutWorkerState::Draining;
        w.started_at = Some(now);
        w.boot_id_before = workers.get(&w.worker_id).map(|o| o.boot_id.clone());
        set_desired.push((w.worker_id.clone(), DesiredState::Draining));
        busy += 1;
    }
    if r.workers
        .iter()
        .all(|w| w.state == RolloutWorkerState::Done)
    {
        r.status = RolloutStatus::Done;
        r.finished_at = Some(now);
    }
    Step {
        rollout: r,
        set_desired,
    }
}

/// The message of a cancelled rollout.
pub const CANCEL_MESSAGE: &str = "cancelled; workers already draining finish their drain";

/// Stops a running rollout: no further drains (in-flight ones finish).
pub fn cancel(mut r: RollingRestart, now: DateTime<Utc>) -> RollingRestart {
    if r.status == RolloutStatus::Running {
        r.status = RolloutStatus::Cancelled;
        r.finished_at = Some(now);
        r.message = Some(CANCEL_MESSAGE.into());
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    /// A fake fleet: a drained worker exits one tick after it is told, and
    /// comes back with a new boot one tick later (unless it is `stuck`).
    struct Fleet {
        obs: HashMap<String, Observation>,
        drained_at: HashMap<String, u32>,
        stuck: Option<String>,
        boots: u32,
    }

    impl Fleet {
        fn new(n: usize) -> Fleet {
            Fleet {
                obs: (0..n)
                    .map(|i| {
                        (
                            format!("w{i}"),
                            Observation {
                                boot_id: format!("boot-w{i}-0"),
                                observed: ObservedState::Running,
                            },
                        )
                    })
                    .collect(),
                drained_at: HashMap::new(),
                stuck: None,
                boots: 0,
            }
        }

        fn tick(&mut self, tick: u32, desired: &[(String, DesiredState)]) {
            for (id, _) in desired {
                self.drained_at.insert(id.clone(), tick);
            }
            for (id, at) in self.drained_at.clone() {
                let o = self.obs.get_mut(&id).unwrap();
                if tick == at + 1 {
                    o.observed = ObservedState::Stopped;
                } else if tick == at + 2 && self.stuck.as_deref() != Some(id.as_str()) {
                    self.boots += 1;
                    o.boot_id = format!("boot-{id}-{}", self.boots);
                    o.observed = ObservedState::Running;
                    self.drained_at.remove(&id);
                }
            }
        }
    }

    fn unavailable(r: &RollingRestart) -> usize {
        r.workers.iter().filter(|w| in_flight(w.state)).count()
    }

    #[test]
    fn never_more_than_max_unavailable_and_everyone_restarts() {
        let mut fleet = Fleet::new(6);
        let targets: Vec<String> = (0..6).map(|i| format!("w{i}")).collect();
        let mut r = new_rollout(targets, 2, 60, "deploy", "alice", t(0));
        let mut desired = Vec::new();
        for tick in 0..40 {
            fleet.tick(tick, &desired);
            let step = advance(r, &fleet.obs, t(i64::from(tick)));
            r = step.rollout;
            desired = step.set_desired;
            assert!(
                unavailable(&r) <= 2,
                "tick {tick}: {} unavailable",
                unavailable(&r)
            );
            if r.status == RolloutStatus::Done {
                break;
            }
        }
        assert_eq!(r.status, RolloutStatus::Done);
        for w in &r.workers {
            assert_eq!(w.state, RolloutWorkerState::Done);
            assert_ne!(
                w.boot_id_after, w.boot_id_before,
                "restarted with a new boot id"
            );
        }
    }

    #[test]
    fn a_worker_that_does_not_come_back_fails_the_rollout_and_stops_it() {
        let mut fleet = Fleet::new(4);
        fleet.stuck = Some("w0".into());
        let targets: Vec<String> = (0..4).map(|i| format!("w{i}")).collect();
        let mut r = new_rollout(targets, 1, 10, "deploy", "alice", t(0));
        let mut desired = Vec::new();
        let mut drained = 0;
        for tick in 0..30 {
            fleet.tick(tick, &desired);
            let step = advance(r, &fleet.obs, t(i64::from(tick)));
            r = step.rollout;
            desired = step.set_desired;
            drained += desired.len();
        }
        assert_eq!(r.status, RolloutStatus::Failed);
        assert_eq!(drained, 1, "nothing drained after w0 got stuck");
        assert_eq!(r.workers[0].state, RolloutWorkerState::Failed);
        assert!(r.message.unwrap().contains("did not come back"));
        assert!(r.workers[1..]
            .iter()
            .all(|w| w.state == RolloutWorkerState::Pending));
    }

    #[test]
    fn cancel_stops_further_drains() {
        let fleet = Fleet::new(3);
        let targets: Vec<String> = (0..3).map(|i| format!("w{i}")).collect();
        let r = new_rollout(targets, 1, 60, "deploy", "alice", t(0));
        let step = advance(r, &fleet.obs, t(0));
        assert_eq!(step.set_desired.len(), 1);
        let r = cancel(step.rollout, t(1));
        assert_eq!(r.status, RolloutStatus::Cancelled);
        let step = advance(r, &fleet.obs, t(2));
        assert!(step.set_desired.is_empty());
    }
}
