//! Which workers have applied the current pause, and what a pause or
//! resume would do before it is made (a dry run). Pure: the callers read
//! the fleet, the state and the drain metrics, and pass `now`.

use chrono::{DateTime, Duration, Utc};
use wire::{
    AcknowledgingWorker, DrainMetrics, ObservedState, PauseAcknowledgement, PauseImpact, PauseMode,
};

use super::fleet::{observed_state, WorkerRecord};
use super::pause::{decide, DecideError, Decision, PauseState};
use super::pause_command::{PauseAction, PauseCommand};

/// Whether the worker is reachable (heartbeat fresh, not said goodbye),
/// gone for good (`None`: stopped), or offline.
fn presence(w: &WorkerRecord, now: DateTime<Utc>, stale_after: Duration) -> Option<bool> {
    match observed_state(w.reported_state, w.last_heartbeat_at, now, stale_after) {
        ObservedState::Stopped => None,
        ObservedState::Offline => Some(false),
        _ => Some(true),
    }
}

/// The acknowledgement of `version` by `fleet`: a worker that said goodbye
/// (`stopped`) is left out; one with a stale heartbeat is listed as offline,
/// not pending; every other worker has applied the version when the one it
/// last reported is at least `version` (versions only grow).
pub fn acknowledgement(
    version: i64,
    fleet: &[WorkerRecord],
    now: DateTime<Utc>,
    stale_after: Duration,
) -> PauseAcknowledgement {
    let entry = |w: &WorkerRecord| AcknowledgingWorker {
        worker_id: w.id.clone(),
        name: w.name.clone(),
        last_heartbeat_at: w.last_heartbeat_at,
        applied_version: w.applied_version,
    };
    let (mut total, mut applied) = (0, 0);
    let (mut pending, mut offline) = (Vec::new(), Vec::new());
    for w in fleet {
        match presence(w, now, stale_after) {
            None => {}
            Some(false) => offline.push(entry(w)),
            Some(true) => {
                total += 1;
                if w.applied_version.is_some_and(|v| v >= version) {
                    applied += 1;
                } else {
                    pending.push(entry(w));
                }
            }
        }
    }
    PauseAcknowledgement {
        version,
        total,
        applied,
        complete: pending.is_empty(),
        pending,
        offline,
    }
}

/// What `cmd` would do to the fleet now, by the same rules as the real
/// request ([`decide`]: a version conflict is the same refusal).
pub fn pause_impact(
    current: &PauseState,
    metrics: DrainMetrics,
    fleet: &[WorkerRecord],
    cmd: &PauseCommand,
    actor: &str,
    now: DateTime<Utc>,
    stale_after: Duration,
) -> Result<PauseImpact, DecideError> {
    scoped_pause_impact(None, current, metrics, fleet, cmd, actor, now, stale_after)
}

/// [`pause_impact`] of one queue's pause or resume: `current` and `metrics`
/// are the queue's; `workers` counts the online workers (each may claim
/// from it), and the summary names the queue.
#[allow(clippy::too_many_arguments)] // the same inputs as pause_impact, plus the queue
pub fn queue_pause_impact(
    queue: &str,
    current: &PauseState,
    metrics: DrainMetrics,
    fleet: &[WorkerRecord],
    cmd: &PauseCommand,
    actor: &str,
    now: DateTime<Utc>,
    stale_after: Duration,
) -> Result<PauseImpact, DecideError> {
    scoped_pause_impact(
        Some(queue),
        current,
        metrics,
        fleet,
        cmd,
        actor,
        now,
        stale_after,
    )
}

#[allow(clippy::too_many_arguments)]
fn scoped_pause_impact(
    queue: Option<&str>,
    current: &PauseState,
    metrics: DrainMetrics,
    fleet: &[WorkerRecord],
    cmd: &PauseCommand,
    actor: &str,
    now: DateTime<Utc>,
    stale_after: Duration,
) -> Result<PauseImpact, DecideError> {
    let subject = match queue {
        None => "The fleet".to_string(),
        Some(q) => format!("Queue {q}"),
    };
    let decision = decide(current, metrics, cmd, actor, now)?;
    let would_change = matches!(decision, Decision::Changed { .. });
    let workers = fleet
        .iter()
        .filter(|w| presence(w, now, stale_after) == Some(true))
        .count() as u32;
    let plural = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let (mode, finish, hold, force_resume, summary) = match cmd.action {
        PauseAction::Pause { mode, .. } => {
            let (finish, hold) = match mode {
                PauseMode::Drain => (metrics.running, 0),
                PauseMode::Quiesce => (0, metrics.running),
            };
            let jobs = match mode {
                PauseMode::Drain => format!(
                    "{} will finish",
                    plural(metrics.running, "running job", "running jobs")
                ),
                PauseMode::Quiesce => format!(
                    "{} will hold at their next checkpoint",
                    plural(metrics.running, "running job", "running jobs")
                ),
            };
            let summary = match (would_change, queue) {
                (false, _) => format!("{subject} is already paused so: nothing would change."),
                (true, None) => format!(
                    "Pausing in {} mode stops {} from claiming; {jobs}; {} will wait.",
                    mode.as_str(),
                    plural(workers.into(), "worker", "workers"),
                    plural(metrics.queued, "queued job", "queued jobs"),
                ),
                (true, Some(q)) => format!(
                    "Pausing queue {q} in {} mode stops {} from claiming from it; {jobs}; {} will wait.",
                    mode.as_str(),
                    plural(workers.into(), "worker", "workers"),
                    plural(metrics.queued, "queued job", "queued jobs"),
                ),
            };
            (Some(mode), finish, hold, false, summary)
        }
        PauseAction::Resume { .. } => {
            let force = would_change && !metrics.is_drained;
            let summary = if !would_change {
                format!("{subject} is not paused: nothing would change.")
            } else if force {
                format!(
                    "Resuming now is a force-resume: {} running and {} still in flight; {} start claiming {}.",
                    metrics.running,
                    plural(metrics.stale_running, "stale job is", "stale jobs are"),
                    plural(workers.into(), "worker", "workers"),
                    plural(metrics.queued, "queued job", "queued jobs"),
                )
            } else {
                format!(
                    "Resuming lets {} start claiming {}.",
                    plural(workers.into(), "worker", "workers"),
                    plural(metrics.queued, "queued job", "queued jobs"),
                )
            };
            (current.mode, 0, 0, force, summary)
        }
    };
    Ok(PauseImpact {
        action: cmd.action.name().to_string(),
        mode,
        would_change,
        next_version: current.version + i64::from(would_change),
        running_jobs_finish: finish,
        running_jobs_hold: hold,
        stale_running: metrics.stale_running,
        queued_jobs: metrics.queued,
        workers,
        force_resume,
        summary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Reason;
    use wire::{DesiredState, ReportedState};

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn w(id: &str, state: ReportedState, beat: i64, applied: Option<i64>) -> WorkerRecord {
        WorkerRecord {
            id: id.into(),
            name: format!("{id}-name"),
            hostname: "h".into(),
            version: "1".into(),
            labels: Default::default(),
            boot_id: "b".into(),
            started_at: t(0),
            last_heartbeat_at: t(beat),
            reported_state: state,
            active_jobs: Vec::new(),
            leased_jobs: None,
            offline_backlog: 0,
            desired_state: DesiredState::Active,
            applied_version: applied,
            applied_at: None,
        }
    }

    #[test]
    fn online_workers_are_applied_or_pending_offline_ones_apart_stopped_ones_out() {
        let fleet = [
            w("a", ReportedState::Paused, 95, Some(3)),
            w("b", ReportedState::Running, 95, Some(2)),
            w("c", ReportedState::Running, 95, None),
            w("d", ReportedState::Running, 50, Some(2)),
            w("e", ReportedState::Stopped, 95, Some(1)),
            w("f", ReportedState::Paused, 95, Some(4)),
        ];
        let ack = acknowledgement(3, &fleet, t(100), Duration::seconds(15));
        assert_eq!((ack.version, ack.total, ack.applied), (3, 4, 2));
        let ids =
            |v: &[AcknowledgingWorker]| v.iter().map(|w| w.worker_id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&ack.pending), ["b", "c"]);
        assert_eq!(ack.pending[0].applied_version, Some(2));
        assert_eq!(ids(&ack.offline), ["d"]);
        assert!(!ack.complete);
        let done = acknowledgement(2, &fleet[..2], t(100), Duration::seconds(15));
        assert!(done.complete && done.applied == 2);
        assert!(acknowledgement(9, &[], t(100), Duration::seconds(15)).complete);
    }

    fn cmd(json: serde_json::Value) -> PauseCommand {
        PauseCommand::parse(serde_json::from_value(json).unwrap()).unwrap()
    }

    #[test]
    fn a_dry_run_counts_what_the_pause_would_touch() {
        let state = PauseState::initial(t(0));
        let fleet = [
            w("a", ReportedState::Running, 95, None),
            w("b", ReportedState::Running, 10, None),
        ];
        let m = DrainMetrics::new(230, 14, 1);
        let drain =
            cmd(serde_json::json!({"action": "pause", "mode": "drain", "reason": "deploy"}));
        let i = pause_impact(
            &state,
            m,
            &fleet,
            &drain,
            "op",
            t(100),
            Duration::seconds(15),
        )
        .unwrap();
        assert!(i.would_change);
        assert_eq!(i.next_version, state.version + 1);
        assert_eq!(
            (
                i.running_jobs_finish,
                i.running_jobs_hold,
                i.queued_jobs,
                i.workers
            ),
            (14, 0, 230, 1)
        );
        assert_eq!(
            i.summary,
            "Pausing in drain mode stops 1 worker from claiming; 14 running jobs will finish; 230 queued jobs will wait."
        );
        let quiesce =
            cmd(serde_json::json!({"action": "pause", "mode": "quiesce", "reason": "db"}));
        let i = pause_impact(
            &state,
            m,
            &fleet,
            &quiesce,
            "op",
            t(100),
            Duration::seconds(15),
        )
        .unwrap();
        assert_eq!((i.running_jobs_finish, i.running_jobs_hold), (0, 14));
        // Resuming a fleet that is not paused changes nothing.
        let resume = cmd(serde_json::json!({"action": "resume", "reason": "done"}));
        let i = pause_impact(
            &state,
            m,
            &fleet,
            &resume,
            "op",
            t(100),
            Duration::seconds(15),
        )
        .unwrap();
        assert!(!i.would_change && !i.force_resume);
        assert_eq!(i.next_version, state.version);
    }

    #[test]
    fn a_dry_run_resume_before_the_drain_is_a_force_resume_and_conflicts_as_the_real_one() {
        let paused = PauseState {
            workers_paused: true,
            mode: Some(PauseMode::Drain),
            reason: Some(Reason::parse(Some("deploy")).unwrap().as_str().to_string()),
            version: 2,
            ..PauseState::initial(t(0))
        };
        let resume = cmd(serde_json::json!({"action": "resume", "reason": "done"}));
        let busy = DrainMetrics::new(0, 2, 0);
        let i = pause_impact(
            &paused,
            busy,
            &[],
            &resume,
            "op",
            t(1),
            Duration::seconds(15),
        )
        .unwrap();
        assert!(i.would_change && i.force_resume);
        let idle = DrainMetrics::new(0, 0, 0);
        let i = pause_impact(
            &paused,
            idle,
            &[],
            &resume,
            "op",
            t(1),
            Duration::seconds(15),
        )
        .unwrap();
        assert!(!i.force_resume);
        let stale =
            cmd(serde_json::json!({"action": "resume", "reason": "done", "expectedVersion": 1}));
        assert!(matches!(
            pause_impact(
                &paused,
                idle,
                &[],
                &stale,
                "op",
                t(1),
                Duration::seconds(15)
            ),
            Err(DecideError::VersionConflict {
                expected: 1,
                current: 2
            })
        ));
    }
}

/// The longest `waitApplied` a status request may hold its answer.
pub const MAX_WAIT_APPLIED: std::time::Duration = std::time::Duration::from_secs(60);

/// `waitApplied` of `GET /api/system/worker-pause` (`10s`, `500ms`, plain
/// seconds), at most [`MAX_WAIT_APPLIED`].
pub fn parse_wait_applied(
    raw: Option<&str>,
) -> Result<Option<std::time::Duration>, super::input::FieldError> {
    let Some(raw) = raw else { return Ok(None) };
    let d = super::input::parse_duration(raw)
        .map_err(|m| super::input::FieldError::new("waitApplied", m))?;
    if d > MAX_WAIT_APPLIED {
        return Err(super::input::FieldError::new(
            "waitApplied",
            format!("waitApplied is at most {}s", MAX_WAIT_APPLIED.as_secs()),
        ));
    }
    Ok(Some(d))
}

#[cfg(test)]
mod wait_tests {
    use super::*;

    #[test]
    fn wait_applied_is_a_bounded_duration() {
        use std::time::Duration;
        assert_eq!(parse_wait_applied(None).unwrap(), None);
        assert_eq!(
            parse_wait_applied(Some("10s")).unwrap(),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_wait_applied(Some("250ms")).unwrap(),
            Some(Duration::from_millis(250))
        );
        for bad in ["ten", "2m", "-1s", ""] {
            let e = parse_wait_applied(Some(bad)).unwrap_err();
            assert_eq!(e.field, "waitApplied", "{bad}");
        }
    }
}
