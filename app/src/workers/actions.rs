//! The action bar (pause, resume, drain, rolling restart of the selected
//! workers), the confirmation that states each action's impact, and the
//! typed confirmation the server's safety check can ask for.

use leptos::html;
use leptos::prelude::*;
use wire::{
    ActionImpact, ApiError, BlockingJob, RollingRestart, RollingRestartRequest, WorkerActionKind,
    WorkerActionRequest, WorkerActionResponse, WorkerInfo,
};

use super::{selected_ids, Fleet};
use crate::api::{start_rolling_restart, worker_action};
use crate::confirm::ConfirmDialog;
use crate::error::AppError;
use crate::focus::focus;
use crate::format;
use crate::state::Dashboard;
use crate::widgets::{Notice, NoticeBox, ReasonField};

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

fn restart_message(r: &RollingRestart) -> String {
    format!(
        "Rolling restart started: {}, at most {} unavailable at a time.",
        format::count(r.workers.len() as i64, "worker", "workers"),
        r.max_unavailable
    )
}

/// Sends a confirmed action; what was applied, in words.
async fn send(p: Pending) -> Result<String, AppError> {
    match p.action {
        FleetAction::Workers(kind) => worker_action(WorkerActionRequest {
            action: Some(kind.as_str().into()),
            worker_ids: Some(p.ids),
            reason: Some(p.reason),
            confirm: p.phrase,
        })
        .await
        .map(|r| action_message(&r)),
        FleetAction::RollingRestart => start_rolling_restart(RollingRestartRequest {
            worker_ids: Some(p.ids),
            max_unavailable: Some(p.max_unavailable),
            reason: Some(p.reason),
            confirm: p.phrase,
            ..Default::default()
        })
        .await
        .map(|r| restart_message(&r)),
    }
}

/// The outcome of the page's actions (the bar's and the rolling-restart
/// panel's), which takes focus after each.
#[component]
pub fn FleetNotice() -> impl IntoView {
    let fleet = expect_context::<Fleet>();
    view! { <NoticeBox id="fleet-notice" notice=fleet.notice node=fleet.notice_box /> }
}

#[component]
pub fn ActionBar() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let fleet = expect_context::<Fleet>();
    let reason = RwSignal::new(String::new());
    let reason_error = RwSignal::new(None::<String>);
    let max_unavailable = RwSignal::new("1".to_string());
    let chosen = RwSignal::new(None::<FleetAction>);
    let pending = RwSignal::new(None::<Pending>);
    let typed = RwSignal::new(String::new());
    let (reason_field, typed_field) =
        (NodeRef::<html::Input>::new(), NodeRef::<html::Input>::new());

    let act = Action::new(move |p: &Pending| send(p.clone()));
    let busy = move || act.pending().get();
    let none_selected = move || fleet.selected.with(Vec::is_empty) || busy();
    Effect::new(move |_| {
        let Some(answer) = act.value().get() else {
            return;
        };
        let tried = pending.get_untracked();
        pending.set(None);
        match answer {
            Ok(done) => {
                fleet.notice.set(Some(Notice::Done(done)));
                reason.set(String::new());
                request_animation_frame(move || focus(fleet.notice_box));
            }
            Err(AppError(ApiError::SafetyRefused {
                message,
                impact,
                confirm_phrase,
            })) => {
                typed.set(String::new());
                pending.set(tried.map(|p| Pending {
                    phrase: confirm_phrase,
                    impact,
                    message: Some(message),
                    ..p
                }));
                request_animation_frame(move || focus(typed_field));
            }
            Err(AppError(ApiError::Invalid {
                field: Some(f),
                message,
                ..
            })) if f == "reason" => {
                reason_error.set(Some(message));
                focus(reason_field);
            }
            Err(e) => {
                if e.is_unauthorized() {
                    crate::auth::check(dash);
                }
                let text = if e.is_unreachable() {
                    format!(
                        "Could not reach the server; the action may not have been applied. ({})",
                        e.message()
                    )
                } else {
                    e.message().to_string()
                };
                fleet.notice.set(Some(Notice::Error(text)));
                request_animation_frame(move || focus(fleet.notice_box));
            }
        }
        fleet.refresh();
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let ids = fleet.list.with_untracked(|l| {
            let workers = l.as_ref().map_or(&[][..], |l| l.workers.as_slice());
            fleet.selected.with_untracked(|s| selected_ids(workers, s))
        });
        let Some(action) = chosen.get_untracked().filter(|_| !ids.is_empty()) else {
            return;
        };
        fleet.notice.set(None);
        reason_error.set(None);
        typed.set(String::new());
        crate::live::load_drain(dash);
        pending.set(Some(Pending {
            action,
            ids,
            reason: reason.get_untracked(),
            max_unavailable: max_unavailable.get_untracked().parse().unwrap_or(1),
            phrase: None,
            impact: None,
            message: None,
        }));
    };
    let button = move |action: FleetAction, label: &'static str, class: &'static str| {
        view! {
            <button type="submit" class=class disabled=none_selected on:click=move |_| chosen.set(Some(action))>
                {label}
            </button>
        }
    };
    let phrase_ok = move || {
        pending.with(|p| {
            p.as_ref()
                .is_some_and(|p| p.phrase.as_ref().is_none_or(|ph| typed.with(|t| t == ph)))
        })
    };

    view! {
        <form class="fleet-actions" aria-labelledby="fleet-actions-h" on:submit=on_submit>
            <h3 id="fleet-actions-h">"Act on the selected workers"</h3>
            <ReasonField id="fleet-reason" placeholder="e.g. Kernel upgrade on host-3" value=reason error=reason_error node=reason_field />
            <div class="actions">
                {button(FleetAction::Workers(WorkerActionKind::Pause), "Pause", "btn")}
                {button(FleetAction::Workers(WorkerActionKind::Resume), "Resume", "btn")}
                {button(FleetAction::Workers(WorkerActionKind::Drain), "Drain", "btn btn-primary")}
            </div>
            <div class="actions restart">
                <div class="field">
                    <label for="fleet-max">"Max unavailable"</label>
                    <input
                        type="number"
                        id="fleet-max"
                        min="1"
                        required
                        prop:value=move || max_unavailable.get()
                        on:input=move |ev| max_unavailable.set(event_target_value(&ev))
                    />
                </div>
                {button(FleetAction::RollingRestart, "Rolling restart", "btn")}
            </div>
        </form>
        <ConfirmDialog
            open=Signal::derive(move || pending.with(Option::is_some))
            id="fleet-dialog"
            title=Signal::derive(move || pending.with(|p| p.as_ref().map(dialog_title).unwrap_or_default()))
            confirm_disabled=Signal::derive(move || busy() || !phrase_ok())
            on_cancel=Callback::new(move |_| pending.set(None))
            on_confirm=Callback::new(move |_| {
                let p = pending.get_untracked().filter(|_| phrase_ok());
                if let Some(p) = p {
                    act.dispatch(p);
                }
            })
        >
            {move || pending.get().map(|p| view! { <Impact pending=p /> })}
            <Show when=move || pending.with(|p| p.as_ref().is_some_and(|p| p.phrase.is_some()))>
                <div class="field">
                    <label for="fleet-confirm">
                        "Type " <strong class="phrase">{move || pending.with(|p| p.as_ref().and_then(|p| p.phrase.clone()))}</strong> " to confirm"
                    </label>
                    <input
                        type="text"
                        id="fleet-confirm"
                        autocomplete="off"
                        node_ref=typed_field
                        prop:value=move || typed.get()
                        on:input=move |ev| typed.set(event_target_value(&ev))
                    />
                </div>
            </Show>
        </ConfirmDialog>
    }
}

/// What the dialog says the action will do.
#[component]
fn Impact(pending: Pending) -> impl IntoView {
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
