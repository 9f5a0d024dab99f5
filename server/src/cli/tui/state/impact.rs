//! What a dialog says an action will do, from what the TUI last read:
//! the workers affected, the jobs running on them, and the server's own
//! estimates (the drain view's ETA and each running job's expected end,
//! computed once by the server in `domain::drain`; nothing is estimated
//! here). At the phrase step, the server's refusal says the rest.

use wire::{DrainView, RolloutWorkerState, WorkerActionKind};

use super::dialog::{Dialog, DialogKind, Step};
use super::format::{clock, count, eta, short};
use super::{Level, State};

/// One line of a dialog's impact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub level: Level,
    pub text: String,
}

fn info(text: impl Into<String>) -> Note {
    Note {
        level: Level::Info,
        text: text.into(),
    }
}

fn warn(text: impl Into<String>) -> Note {
    Note {
        level: Level::Warn,
        text: text.into(),
    }
}

/// The dialog's impact lines.
pub fn notes(s: &State, d: &Dialog) -> Vec<Note> {
    match &d.step {
        Step::Phrase {
            phrase,
            message,
            impact,
        } => {
            let mut out = vec![warn(message.clone())];
            if let Some(i) = impact {
                out.push(info(format!(
                    "Available workers: {} → {} (minimum {})",
                    i.available_before, i.available_after, i.minimum
                )));
                out.push(info(format!("Running jobs affected: {}", i.running_jobs)));
            }
            out.push(info(format!("Type the phrase to do it anyway: {phrase}")));
            return out;
        }
        Step::ForceResume => {
            if let DialogKind::ResumeQueue { name } = &d.kind {
                let (running, stale) = s
                    .queues
                    .get(name)
                    .map_or((0, 0), |q| (q.running, q.stale_running));
                return vec![
                    warn(format!(
                        "Queue {name} has not drained: {running} running, {stale} stale."
                    )),
                    info("Resuming now lets workers claim its jobs while these still run;"),
                    info("the audit log records it as a force resume."),
                ];
            }
            let m = s.pause.as_ref().map(|p| p.metrics).unwrap_or_default();
            return vec![
                warn(format!(
                    "The fleet has not drained: {} running, {} stale.",
                    m.running, m.stale_running
                )),
                info("Resuming now lets workers claim new jobs while these still run;"),
                info("the audit log records it as a force resume."),
            ];
        }
        Step::Form => {}
    }
    match &d.kind {
        DialogKind::Workers { action, ids } => {
            let mut out = affected(s, ids);
            if *action == WorkerActionKind::Drain {
                out.push(info(format!("Idle: {}", idle_eta(s, ids))));
            }
            out.push(info(match action {
                WorkerActionKind::Drain => "They stop claiming, finish their jobs, then exit.",
                WorkerActionKind::Pause => {
                    "They stop claiming and keep their current jobs; resume them later."
                }
                WorkerActionKind::Resume => "They claim jobs again.",
            }));
            out
        }
        DialogKind::Rollout { ids } => {
            let all: Vec<String>;
            let ids = match ids {
                Some(ids) => ids,
                None => {
                    all = s.fleet.workers.iter().map(|w| w.id.clone()).collect();
                    &all
                }
            };
            let mut out = affected(s, ids);
            out.push(info(
                "Each drains, exits and must come back with a new boot id;",
            ));
            out.push(info(format!(
                "at most {} unavailable at a time.",
                d.max_unavailable.parse::<u32>().unwrap_or(0)
            )));
            out
        }
        DialogKind::Pause => pause_notes(s, d),
        DialogKind::Resume => {
            let m = s.pause.as_ref().map(|p| p.metrics).unwrap_or_default();
            vec![
                info(format!(
                    "Jobs: {} running · {} stale · {} queued · {}",
                    m.running,
                    m.stale_running,
                    m.queued,
                    if m.is_drained {
                        "drained"
                    } else {
                        "NOT drained"
                    }
                )),
                info("Workers claim jobs again."),
            ]
        }
        DialogKind::CancelRollout { id } => {
            let r = s.rollout.as_ref().filter(|r| r.id == *id);
            let done = r.map_or(0, |r| {
                r.workers
                    .iter()
                    .filter(|w| w.state == RolloutWorkerState::Done)
                    .count()
            });
            let total = r.map_or(0, |r| r.workers.len());
            vec![
                info(format!(
                    "Rolling restart {}: {done} of {total} restarted.",
                    short(&id.to_string())
                )),
                info("No further drains; workers already draining go on."),
            ]
        }
        DialogKind::PauseQueue { name } => queue_pause_notes(s, d, name),
        DialogKind::ResumeQueue { name } => {
            let mut out = queue_jobs(s, name);
            out.push(info(format!("Workers claim the jobs of {name} again.")));
            out
        }
    }
}

/// A queue's jobs, as last read.
fn queue_jobs(s: &State, name: &str) -> Vec<Note> {
    match s.queues.get(name) {
        Some(q) => vec![info(format!(
            "Queue {name}: {} queued · {} scheduled · {} running · {} stale · {}",
            q.queued,
            q.scheduled,
            q.running,
            q.stale_running,
            if q.is_drained {
                "drained"
            } else {
                "NOT drained"
            }
        ))],
        None => vec![info(format!("Queue {name}: no jobs read yet"))],
    }
}

fn queue_pause_notes(s: &State, d: &Dialog, name: &str) -> Vec<Note> {
    let mut out = queue_jobs(s, name);
    if let Some(q) = s.queues.get(name).filter(|q| q.paused) {
        out.push(warn(format!(
            "Already paused ({}): this changes its mode or reason.",
            q.mode.map(|m| m.as_str()).unwrap_or("?")
        )));
    }
    out.push(info(match d.mode {
        wire::PauseMode::Drain => {
            format!("Drain: no worker claims a job of {name}; its running jobs finish.")
        }
        wire::PauseMode::Quiesce => {
            format!("Quiesce: no claims of {name}; its running jobs hold at their next checkpoint.")
        }
    }));
    out.push(info("Other queues keep running."));
    out
}

/// Workers affected and the jobs they run.
fn affected(s: &State, ids: &[String]) -> Vec<Note> {
    const LISTED: usize = 4;
    let mut list = ids
        .iter()
        .take(LISTED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > LISTED {
        list.push_str(&format!(", … (+{})", ids.len() - LISTED));
    }
    vec![
        info(format!("Workers affected: {} — {list}", ids.len())),
        info(format!("Running jobs on them: {}", s.fleet.jobs_of(ids))),
    ]
}

fn pause_notes(s: &State, d: &Dialog) -> Vec<Note> {
    let online = s
        .fleet
        .workers
        .iter()
        .filter(|w| !s.fleet.is_stale(w, s.now))
        .count();
    let m = s.pause.as_ref().map(|p| p.metrics).unwrap_or_default();
    let mut out = vec![
        info(format!(
            "Fleet: {} online of {}",
            online,
            count(s.fleet.workers.len(), "worker", "workers")
        )),
        info(format!(
            "Jobs: {} running · {} stale · {} queued",
            m.running, m.stale_running, m.queued
        )),
    ];
    if let Some(p) = s.pause.as_ref().filter(|p| p.workers_paused) {
        out.push(warn(format!(
            "Already paused ({}): this changes its mode or reason.",
            p.mode.map(|m| m.as_str()).unwrap_or("?")
        )));
    }
    out.push(info(match d.mode {
        wire::PauseMode::Drain => format!(
            "Drain: no new claims; running jobs finish. Drained: {}",
            drained_eta(s.drain.as_ref())
        ),
        wire::PauseMode::Quiesce => {
            "Quiesce: no new claims; running jobs stop at their next checkpoint.".into()
        }
    }));
    out
}

/// The fleet's drain ETA, as the server estimates it.
fn drained_eta(d: Option<&DrainView>) -> String {
    match d {
        None => "unknown".into(),
        Some(d) if d.metrics.is_drained => "already".into(),
        Some(d) => match d.eta_seconds {
            Some(e) => eta(e),
            None => "unknown (nothing finished recently)".into(),
        },
    }
}

/// When the drained workers should be idle: the latest expected end (the
/// server's) of the jobs they run, "now" when they run none, "unknown"
/// when one of their jobs has no estimate.
pub fn idle_eta(s: &State, ids: &[String]) -> String {
    let blocking = s.drain.as_ref().map_or(&[][..], |d| &d.blocking[..]);
    let mut latest = None;
    let mut any = false;
    for j in blocking {
        if !j.worker_id.as_ref().is_some_and(|w| ids.contains(w)) {
            continue;
        }
        any = true;
        match j.expected_end_at {
            Some(t) => latest = latest.max(Some(t)),
            None => return "unknown".into(),
        }
    }
    match latest {
        Some(t) => format!(
            "{} (by {})",
            eta((t - s.now).num_milliseconds() as f64 / 1000.0),
            clock(t)
        ),
        None if !any && s.fleet.jobs_of(ids) == 0 => "now (they run no jobs)".into(),
        None => "unknown".into(),
    }
}
