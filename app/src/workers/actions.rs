//! The action bar (pause, resume, drain, rolling restart of the selected
//! workers), its confirmation (what it says is [`super::impact`]), and the
//! typed confirmation the server's safety check can ask for.

use leptos::html;
use leptos::prelude::*;
use wire::{ApiError, RollingRestartRequest, WorkerActionKind, WorkerActionRequest};

use super::impact::{action_message, dialog_title, restart_message, FleetAction, Impact, Pending};
use super::{selected_ids, Fleet};
use crate::api::{start_rolling_restart, worker_action};
use crate::confirm::ConfirmDialog;
use crate::error::AppError;
use crate::focus::focus;
use crate::state::Dashboard;
use crate::widgets::{Notice, NoticeBox, ReasonField};

/// Sends a confirmed action; what was applied, in words.
async fn send(p: Pending) -> Result<String, AppError> {
    match p.action {
        FleetAction::Workers(kind) => worker_action(WorkerActionRequest {
            action: Some(kind.as_str().into()),
            worker_ids: Some(p.ids),
            reason: Some(p.reason),
            confirm: p.phrase,
            dry_run: None,
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
