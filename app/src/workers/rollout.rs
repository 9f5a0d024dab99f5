//! The newest rolling restart's progress: its status, how many workers are
//! back, each worker's step, and (operators, while it runs) Cancel.

use leptos::prelude::*;
use wire::{RollingRestart, RolloutStatus, RolloutWorker, RolloutWorkerState};

use super::Fleet;
use crate::api::cancel_rolling_restart;
use crate::focus::focus;
use crate::state::Dashboard;
use crate::widgets::Notice;

/// "1 of 2 restarted · at most 1 unavailable · reason: new build"
pub fn progress_text(r: &RollingRestart) -> String {
    let done = r
        .workers
        .iter()
        .filter(|w| w.state == RolloutWorkerState::Done)
        .count();
    format!(
        "{done} of {} restarted · at most {} unavailable · reason: {}",
        r.workers.len(),
        r.max_unavailable,
        r.reason
    )
}

#[component]
pub fn RolloutPanel() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let fleet = expect_context::<Fleet>();
    let rollout = fleet.rollout;
    let cancel = Action::new(move |id: &uuid::Uuid| cancel_rolling_restart(*id));
    Effect::new(move |_| {
        let Some(answer) = cancel.value().get() else {
            return;
        };
        fleet.notice.set(Some(match answer {
            Ok(_) => Notice::Done(
                "Rolling restart cancelled: no further workers will be drained.".into(),
            ),
            Err(e) if e.is_unreachable() => {
                Notice::Error(format!("Could not reach the server. ({})", e.message()))
            }
            Err(e) => Notice::Error(e.message().to_string()),
        }));
        request_animation_frame(move || focus(fleet.notice_box));
        fleet.refresh();
    });
    let running = move || {
        rollout.with(|r| {
            r.as_ref()
                .is_some_and(|r| r.status == RolloutStatus::Running)
        })
    };
    let status =
        move || rollout.with(|r| r.as_ref().map(|r| r.status.as_str()).unwrap_or_default());
    let steps = move || rollout.with(|r| r.as_ref().map(|r| r.workers.clone()).unwrap_or_default());

    view! {
        <Show when=move || rollout.with(Option::is_some)>
            <section class="rollout" aria-labelledby="rollout-h">
                <h3 id="rollout-h">
                    "Rolling restart "
                    <span class="state" data-state=status id="rollout-status">{status}</span>
                </h3>
                <p>{move || rollout.with(|r| r.as_ref().map(progress_text))}</p>
                {move || rollout.with(|r| r.as_ref().and_then(|r| r.message.clone())).map(|m| view! { <p class="muted">{m}</p> })}
                <ol class="steps" aria-label="Workers of the rolling restart">
                    <For
                        each=steps
                        key=|w| (w.worker_id.clone(), w.state, w.message.clone())
                        children=|w| view! { <Step step=w /> }
                    />
                </ol>
                <Show when=move || running() && dash.can_write()>
                    <button
                        type="button"
                        class="btn btn-danger"
                        disabled=move || cancel.pending().get()
                        on:click=move |_| {
                            if let Some(id) = rollout.with_untracked(|r| r.as_ref().map(|r| r.id)) {
                                cancel.dispatch(id);
                            }
                        }
                    >
                        "Cancel rolling restart"
                    </button>
                </Show>
            </section>
        </Show>
    }
}

#[component]
fn Step(step: RolloutWorker) -> impl IntoView {
    let state = step.state.as_str();
    let id = step.worker_id.clone();
    view! {
        <li data-worker-id=id>
            <code>{step.worker_id}</code>
            " "
            <span class="state" data-state=state>{state}</span>
            {step.message.map(|m| view! { " " <span class="muted">{m}</span> })}
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn step(id: &str, state: RolloutWorkerState) -> RolloutWorker {
        RolloutWorker {
            worker_id: id.into(),
            state,
            boot_id_before: None,
            boot_id_after: None,
            started_at: None,
            finished_at: None,
            message: None,
        }
    }

    #[test]
    fn progress_counts_the_workers_back() {
        let r = RollingRestart {
            id: Default::default(),
            status: RolloutStatus::Running,
            max_unavailable: 1,
            deadline_seconds: 300,
            reason: "new build".into(),
            actor: "local".into(),
            created_at: DateTime::from_timestamp(0, 0).unwrap(),
            finished_at: None,
            workers: vec![
                step("a", RolloutWorkerState::Done),
                step("b", RolloutWorkerState::Draining),
            ],
            message: None,
        };
        assert_eq!(
            progress_text(&r),
            "1 of 2 restarted · at most 1 unavailable · reason: new build"
        );
    }
}
