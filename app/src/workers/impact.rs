//! What a fleet action will do, as its confirmation says it: the workers
//! and jobs affected, when drained workers should be idle, and (after a
//! safety refusal) the server's impact; and the words for what was applied.

use leptos::prelude::*;
use wire::{
    ActionImpact, BlockingJob, RollingRestart, WorkerActionKind, WorkerActionResponse, WorkerInfo,
};

use super::Fleet;
use crate::format;
use crate::state::Dashboard;

/// What the action bar can do to the selected workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetAction {
    Workers(WorkerActionKind),
    RollingRestart,
}

/// An action waiting for the person's confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub action: FleetAction,
    pub ids: Vec<String>,
    pub reason: String,
    pub max_unavailable: u32,
    /// The phrase the server's safety check asks to type.
    pub phrase: Option<String>,
    pub impact: Option<ActionImpact>,
    /// Why the server refused (shown above the impact).
    pub message: Option<String>,
}

pub fn dialog_title(p: &Pending) -> String {
    if p.phrase.is_some() {
        return "Confirm: this would leave too few workers available".into();
    }
    let verb = match p.action {
        FleetAction::RollingRestart => "Rolling restart of",
        FleetAction::Workers(WorkerActionKind::Pause) => "Pause",
        FleetAction::Workers(WorkerActionKind::Resume) => "Resume",
        FleetAction::Workers(WorkerActionKind::Drain) => "Drain",
    };
    format!(
        "{verb} {}?",
        format::count(p.ids.len() as i64, "worker", "workers")
    )
}

/// The jobs the workers `ids` are running.
fn jobs_of(ids: &[String], workers: &[WorkerInfo]) -> usize {
    workers
        .iter()
        .filter(|w| ids.contains(&w.id))
        .map(|w| w.active_jobs.len())
        .sum()
}

/// When the drained workers should be idle: from the expected end of the
/// jobs they run (the drain view's blocking jobs), or "unknown".
pub fn drain_eta(
    ids: &[String],
    workers: &[WorkerInfo],
    blocking: &[BlockingJob],
    now_ms: i64,
) -> String {
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
            format::eta(((t.timestamp_millis() - now_ms) / 1000) as f64),
            format::clock(t)
        ),
        None if jobs_of(ids, workers) == 0 && !any => "now: they run no jobs".into(),
        None => "unknown".into(),
    }
}

/// "Drain applied to 2 workers (w-1, w-2). Idle in about 3 min."
pub fn action_message(r: &WorkerActionResponse) -> String {
    let ids: Vec<&str> = r.results.iter().map(|x| x.worker_id.as_str()).collect();
    let action = r.action.as_str();
    let mut text = format!(
        "{}{} applied to {} ({}).",
        action[..1].to_uppercase(),
        &action[1..],
        format::count(ids.len() as i64, "worker", "workers"),
        ids.join(", ")
    );
    if r.action == WorkerActionKind::Drain {
        match r.eta_seconds {
            Some(s) => text.push_str(&format!(" Idle in {}.", format::eta(s))),
            None => text.push_str(" Idle time: unknown."),
        }
    }
    if r.override_used {
        text.push_str(" The safety override is recorded in the audit log.");
    }
    text
}

pub fn restart_message(r: &RollingRestart) -> String {
    format!(
        "Rolling restart started: {}, at most {} unavailable at a time.",
        format::count(r.workers.len() as i64, "worker", "workers"),
        r.max_unavailable
    )
}

/// What the dialog says the action will do.
#[component]
pub fn Impact(pending: Pending) -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let fleet = expect_context::<Fleet>();
    let p = pending;
    let workers = fleet.workers();
    let jobs = jobs_of(&p.ids, &workers);
    let ids = p.ids.clone();
    let what = match p.action {
        FleetAction::Workers(WorkerActionKind::Drain) => {
            let eta = move || {
                let blocking = dash.drain.with(|d| d.as_ref().map(|d| d.blocking.clone()).unwrap_or_default());
                drain_eta(&ids, &workers, &blocking, dash.now_ms.get_untracked())
            };
            view! { <li>"They finish their jobs, then exit. Idle: " <strong data-eta>{eta}</strong></li> }.into_any()
        }
        FleetAction::Workers(WorkerActionKind::Pause) => view! {
            <li>"They stop claiming new jobs and keep running their current ones; resume them later."</li>
        }
        .into_any(),
        FleetAction::Workers(WorkerActionKind::Resume) => view! { <li>"They claim jobs again."</li> }.into_any(),
        FleetAction::RollingRestart => view! {
            <li>
                "At most " <strong>{p.max_unavailable}</strong>
                " drained or restarting at a time; each must come back with a new boot id."
            </li>
        }
        .into_any(),
    };
    view! {
        {p.message.map(|m| view! { <p class="impact-warning">{m}</p> })}
        <ul class="impact">
            <li>"Workers affected: " <strong>{p.ids.len()}</strong> " — " {p.ids.join(", ")}</li>
            <li>"Jobs they are running: " <strong>{jobs}</strong></li>
            {what}
        </ul>
        {p.impact.map(|i| view! {
            <ul class="impact">
                <li>"Available workers: " <strong>{format!("{} → {}", i.available_before, i.available_after)}</strong> " (minimum " {i.minimum} ")"</li>
                <li>"Running jobs affected: " <strong>{i.running_jobs}</strong></li>
            </ul>
        })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workers::tests::w;
    use chrono::DateTime;
    use wire::ObservedState::Running;

    #[test]
    fn the_drain_eta_comes_from_the_expected_end_of_their_jobs() {
        let fleet = [w("a", Running, 0, 1), w("b", Running, 0, 0)];
        let job = |worker: &str, end: Option<i64>| BlockingJob {
            id: Default::default(),
            job_type: "t".into(),
            worker_id: Some(worker.into()),
            started_at: None,
            lease_expires_at: None,
            stale: false,
            paused_at_checkpoint: false,
            expected_end_at: end.map(|s| DateTime::from_timestamp(s, 0).unwrap()),
        };
        let a = ["a".to_string()];
        let b = ["b".to_string()];
        assert_eq!(drain_eta(&b, &fleet, &[], 0), "now: they run no jobs");
        assert_eq!(drain_eta(&a, &fleet, &[], 0), "unknown");
        assert_eq!(drain_eta(&a, &fleet, &[job("a", None)], 0), "unknown");
        assert_eq!(
            drain_eta(&a, &fleet, &[job("a", Some(120)), job("b", None)], 0),
            "about 2 min (by 00:02:00)"
        );
    }

    #[test]
    fn titles_say_what_and_how_many_or_ask_for_the_phrase() {
        let mut p = Pending {
            action: FleetAction::Workers(WorkerActionKind::Drain),
            ids: vec!["a".into(), "b".into()],
            reason: "r".into(),
            max_unavailable: 1,
            phrase: None,
            impact: None,
            message: None,
        };
        assert_eq!(dialog_title(&p), "Drain 2 workers?");
        p.action = FleetAction::RollingRestart;
        assert_eq!(dialog_title(&p), "Rolling restart of 2 workers?");
        p.phrase = Some("drain 2 workers".into());
        assert!(dialog_title(&p).starts_with("Confirm"));
    }
}
