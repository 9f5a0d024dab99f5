//! The overview's Queues card: every named queue with its state (running,
//! or paused in drain or quiesce, with reason, who and until when) and its
//! live jobs (queued, running, scheduled), refreshed every few seconds;
//! operators pause (mode, reason, optionally resuming by itself after N
//! minutes) and resume each queue after a confirmation. Rows are keyed by
//! queue name, so a refresh updates them in place.
//!
//! Every change carries the version on screen as `expectedVersion`: a
//! queue someone else changed first is reported, nothing applied, and shown
//! as it is now. A resume before the queue drained says what still runs
//! and is recorded as `forceResume`.

use leptos::html;
use leptos::prelude::*;
use wire::{ApiError, PauseMode, QueueInfo, QueueList, QueuePauseRequest, QueueResumeRequest};

use crate::api::{get_queues, PauseQueue, ResumeQueue};
use crate::auth::last_good;
use crate::confirm::ConfirmDialog;
use crate::error::AppError;
use crate::focus::focus;
use crate::format;
use crate::state::Dashboard;
use crate::widgets::{Notice, NoticeBox, ReasonField, Time};

/// How often the card re-reads the queues.
const REFRESH_MS: u64 = 3_000;

/// The state a row shows: "Running", "Paused (drain)", "Paused (quiesce)".
pub fn state_label(q: &QueueInfo) -> String {
    match (q.paused, q.mode) {
        (true, Some(m)) => format!("Paused ({})", m.as_str()),
        (true, None) => "Paused".into(),
        (false, _) => "Running".into(),
    }
}

/// What a confirmation is about: the queue as it was when asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    pub queue: QueueInfo,
    pub resume: bool,
}

impl Ask {
    /// The dialog's title and what it says will happen.
    pub fn question(&self) -> (String, String) {
        let q = &self.queue;
        if !self.resume {
            return (
                format!("Pause queue {}?", q.name),
                format!(
                    "No worker claims a job of {} until it is resumed ({} queued now). Drain lets its {} finish; quiesce holds them at their next checkpoint.",
                    q.name,
                    q.queued,
                    format::count(q.running + q.stale_running, "running job", "running jobs"),
                ),
            );
        }
        let body = if q.is_drained {
            format!("Workers claim jobs of {} again at once.", q.name)
        } else {
            format!(
                "{} of {} still {}: resuming before the queue has drained is recorded as forceResume in the audit log.",
                format::count(q.running + q.stale_running, "job", "jobs"),
                q.name,
                if q.running + q.stale_running == 1 { "runs" } else { "run" },
            )
        };
        (format!("Resume queue {}?", q.name), body)
    }
}

/// The card's shared state: the list, the open confirmation, the outcome.
#[derive(Clone, Copy)]
struct Queues {
    list: Memo<Option<QueueList>>,
    asking: RwSignal<Option<Ask>>,
    notice: RwSignal<Option<Notice>>,
}

#[component]
pub fn QueuesCard() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let tick = RwSignal::new(0u64);
    let resource = LocalResource::new(move || {
        tick.track();
        get_queues()
    });
    let list = last_good(resource);
    crate::live::poll_while_mounted(|| REFRESH_MS, move || tick.update(|t| *t += 1));
    let asking = RwSignal::new(None::<Ask>);
    let notice = RwSignal::new(None::<Notice>);
    provide_context(Queues {
        list,
        asking,
        notice,
    });
    let names = Memo::new(move |_| {
        list.with(|l| {
            l.as_ref()
                .map(|l| l.queues.iter().map(|q| q.name.clone()).collect::<Vec<_>>())
                .unwrap_or_default()
        })
    });
    let error = move || {
        resource.with(|r| {
            r.as_ref()
                .and_then(|r| r.as_ref().err().map(|e| e.message().to_string()))
        })
    };
    view! {
        <section class="card queues" aria-labelledby="queues-h">
            <h2 id="queues-h">"Queues"</h2>
            <p class="field-error" role="alert">{error}</p>
            <Show when=move || list.with(Option::is_some) fallback=|| view! { <p class="muted">"Loading the queues…"</p> }>
                <Show
                    when=move || names.with(|n| !n.is_empty())
                    fallback=|| view! { <p class="muted">"No queue yet: a queue appears with its first job or pause."</p> }
                >
                    <div class="table-wrap">
                        <table class="fleet queues-table" id="queues">
                            <caption>"Each queue's state and live jobs"</caption>
                            <thead>
                                <tr>
                                    <th scope="col">"Queue"</th>
                                    <th scope="col">"State"</th>
                                    <th scope="col">"Queued"</th>
                                    <th scope="col">"Running"</th>
                                    <th scope="col">"Scheduled"</th>
                                    <Show when=move || dash.can_write()>
                                        <th scope="col">"Action"</th>
                                    </Show>
                                </tr>
                            </thead>
                            <tbody>
                                <For each=move || names.get() key=|n| n.clone() children=|name| view! { <QueueRow name /> } />
                            </tbody>
                        </table>
                    </div>
                </Show>
            </Show>
            <QueueDialog tick />
        </section>
    }
}

/// One queue's row; its cells follow the queue as it changes.
#[component]
fn QueueRow(name: String) -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let card = expect_context::<Queues>();
    let key = name.clone();
    let queue = Memo::new(move |_| {
        card.list.with(|l| {
            l.as_ref()
                .and_then(|l| l.queues.iter().find(|q| q.name == key).cloned())
        })
    });
    let num = move |f: fn(&QueueInfo) -> i64| move || queue.with(|q| q.as_ref().map_or(0, f));
    let state = move || queue.with(|q| q.as_ref().map(state_label).unwrap_or_default());
    let paused = move || queue.with(|q| q.as_ref().is_some_and(|q| q.paused));
    let detail = move || {
        queue.with(|q| {
            q.as_ref().filter(|q| q.paused).map(|q| {
                let until = q.until.map(|u| view! { " · resumes " <Time at=u /> });
                view! {
                    <span class="queue-reason">{q.reason.clone().unwrap_or_default()}</span>
                    " "
                    <span class="muted">"by " {q.actor.clone().unwrap_or_default()} {until}</span>
                }
            })
        })
    };
    let label = name.clone();
    let ask = move |_| {
        if let Some(q) = queue.get_untracked() {
            card.notice.set(None);
            card.asking.set(Some(Ask {
                resume: q.paused,
                queue: q,
            }));
        }
    };
    view! {
        <tr data-queue=name.clone()>
            <th scope="row">{name.clone()}</th>
            <td data-col="state">
                <span class="state" data-state=move || if paused() { "paused" } else { "running" }>{state}</span>
                " "
                {detail}
            </td>
            <td data-col="queued">{num(|q| q.queued)}</td>
            <td data-col="running">{num(|q| q.running + q.stale_running)}</td>
            <td data-col="scheduled">{num(|q| q.scheduled)}</td>
            <Show when=move || dash.can_write()>
                <td>
                    <button type="button" class="btn" on:click=ask>
                        {let label = label.clone(); move || format!("{} {label}", if paused() { "Resume" } else { "Pause" })}
                    </button>
                </td>
            </Show>
        </tr>
    }
}

/// The card's one confirmation: pause (mode, reason, optional minutes) or
/// resume (reason) of the queue asked about, then the outcome.
#[component]
fn QueueDialog(tick: RwSignal<u64>) -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let card = expect_context::<Queues>();
    let asking = card.asking;
    let mode = RwSignal::new(PauseMode::Drain);
    let reason = RwSignal::new(String::new());
    let reason_error = RwSignal::new(None::<String>);
    let reason_node = NodeRef::<html::Input>::new();
    let minutes = RwSignal::new(String::new());
    let minutes_error = RwSignal::new(None::<String>);
    let minutes_node = NodeRef::<html::Input>::new();
    let notice_box = NodeRef::<html::Div>::new();
    let pause = ServerAction::<PauseQueue>::new();
    let resume = ServerAction::<ResumeQueue>::new();
    let pending = Signal::derive(move || pause.pending().get() || resume.pending().get());

    let finish = move |answer: Result<QueueInfo, AppError>, resumed: bool| {
        match answer {
            Ok(q) => {
                asking.set(None);
                reason.set(String::new());
                minutes.set(String::new());
                card.notice.set(Some(match q.warning {
                    Some(w) => Notice::Warning(format!("Queue {} resumed. {w}", q.name)),
                    None if resumed => Notice::Done(format!("Queue {} resumed.", q.name)),
                    None => Notice::Done(format!(
                        "Queue {} paused ({}).",
                        q.name,
                        q.mode.map_or("", |m| m.as_str())
                    )),
                }));
            }
            Err(AppError(ApiError::Invalid {
                message,
                field: Some(field),
                ..
            })) if field == "reason" || field == "until" => {
                let (error, node) = if field == "reason" {
                    (reason_error, reason_node)
                } else {
                    (minutes_error, minutes_node)
                };
                error.set(Some(message));
                request_animation_frame(move || focus(node));
                return;
            }
            Err(AppError(ApiError::VersionConflict { message, .. })) => {
                asking.set(None);
                card.notice.set(Some(Notice::Conflict(format!(
                    "The queue changed first — nothing was applied; here it is as it is now. ({message})"
                ))));
            }
            Err(e) if e.is_unreachable() => {
                asking.set(None);
                card.notice.set(Some(Notice::Error(format!(
                    "Could not reach the server; the request may not have been applied. ({})",
                    e.message()
                ))));
            }
            Err(e) => {
                asking.set(None);
                card.notice
                    .set(Some(Notice::Error(e.message().to_string())));
            }
        }
        tick.update(|t| *t += 1);
        request_animation_frame(move || focus(notice_box));
    };
    Effect::new(move |_| {
        if let Some(answer) = pause.value().get() {
            finish(answer, false);
        }
    });
    Effect::new(move |_| {
        if let Some(answer) = resume.value().get() {
            finish(answer, true);
        }
    });
    let confirm = move |_| {
        let Some(ask) = asking.get_untracked() else {
            return;
        };
        let q = ask.queue;
        if ask.resume {
            resume.dispatch(ResumeQueue {
                name: q.name,
                request: QueueResumeRequest {
                    reason: Some(reason.get_untracked()),
                    force_resume: Some(!q.is_drained),
                    expected_version: Some(q.version),
                    request_id: None,
                    dry_run: None,
                },
            });
            return;
        }
        let until =
            match crate::until::until_of(&minutes.get_untracked(), "", dash.now_ms.get_untracked())
            {
                Ok(u) => u,
                Err(message) => {
                    minutes_error.set(Some(message));
                    request_animation_frame(move || focus(minutes_node));
                    return;
                }
            };
        pause.dispatch(PauseQueue {
            name: q.name,
            request: QueuePauseRequest {
                mode: Some(mode.get_untracked().as_str().into()),
                reason: Some(reason.get_untracked()),
                until,
                expected_version: Some(q.version),
                request_id: None,
                dry_run: None,
            },
        });
    };
    let question = move || asking.with(|a| a.as_ref().map(Ask::question));
    let resuming = move || asking.with(|a| a.as_ref().is_some_and(|a| a.resume));
    let radio = move |m: PauseMode, label: &'static str| {
        let id = format!("queue-mode-{}", m.as_str());
        view! {
            <div class="radio">
                <input
                    type="radio"
                    name="queue-mode"
                    id=id.clone()
                    value=m.as_str()
                    prop:checked=move || mode.get() == m
                    on:change=move |_| mode.set(m)
                />
                <label for=id>{label}</label>
            </div>
        }
    };
    let minutes_invalid = move || minutes_error.with(Option::is_some);
    view! {
        <NoticeBox id="queues-notice" notice=card.notice node=notice_box />
        <ConfirmDialog
            open=Signal::derive(move || asking.with(Option::is_some))
            id="queue-dialog"
            title=Signal::derive(move || question().map(|q| q.0).unwrap_or_default())
            confirm_label=Signal::derive(move || if resuming() { "Resume queue" } else { "Pause queue" }.to_string())
            confirm_disabled=Signal::derive(move || pending.get() || reason.with(|r| r.trim().is_empty()))
            on_cancel=Callback::new(move |_| {
                asking.set(None);
                reason_error.set(None);
                minutes_error.set(None);
            })
            on_confirm=Callback::new(confirm)
        >
            <p>{move || question().map(|q| q.1)}</p>
            <Show when=move || !resuming()>
                <fieldset>
                    <legend>"Mode"</legend>
                    {radio(PauseMode::Drain, "Drain")}
                    {radio(PauseMode::Quiesce, "Quiesce")}
                </fieldset>
            </Show>
            <ReasonField id="queue-reason" placeholder="e.g. mail provider down" value=reason error=reason_error node=reason_node />
            <Show when=move || !resuming()>
                <div class="field">
                    <label for="queue-for">"Resume automatically after (minutes) " <span class="req">"(optional)"</span></label>
                    <input
                        type="number"
                        id="queue-for"
                        min="1"
                        max=crate::until::MAX_MINUTES
                        step="1"
                        inputmode="numeric"
                        node_ref=minutes_node
                        prop:value=move || minutes.get()
                        on:input=move |ev| {
                            minutes.set(event_target_value(&ev));
                            minutes_error.set(None);
                        }
                        aria-invalid=move || minutes_invalid().then_some("true")
                        aria-describedby=move || minutes_invalid().then_some("queue-for-error")
                    />
                    <p class="field-error" id="queue-for-error">{move || minutes_error.get()}</p>
                </div>
            </Show>
        </ConfirmDialog>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(paused: bool, running: i64) -> QueueInfo {
        QueueInfo {
            name: "emails".into(),
            paused,
            mode: paused.then_some(PauseMode::Quiesce),
            reason: Some("provider down".into()),
            actor: Some("ops".into()),
            since: None,
            until: None,
            version: 2,
            queued: 4,
            scheduled: 1,
            running,
            stale_running: 0,
            is_drained: running == 0,
            warning: None,
            impact: None,
        }
    }

    #[test]
    fn rows_say_the_state() {
        assert_eq!(state_label(&queue(false, 0)), "Running");
        assert_eq!(state_label(&queue(true, 0)), "Paused (quiesce)");
    }

    #[test]
    fn confirmations_say_what_happens() {
        let (title, body) = Ask {
            queue: queue(false, 2),
            resume: false,
        }
        .question();
        assert_eq!(title, "Pause queue emails?");
        assert!(body.contains("4 queued now"));
        assert!(body.contains("its 2 running jobs finish"));
        let (title, body) = Ask {
            queue: queue(true, 1),
            resume: true,
        }
        .question();
        assert_eq!(title, "Resume queue emails?");
        assert!(body.starts_with("1 job of emails still runs"));
        assert!(body.contains("forceResume"));
        let (_, body) = Ask {
            queue: queue(true, 0),
            resume: true,
        }
        .question();
        assert_eq!(body, "Workers claim jobs of emails again at once.");
    }
}
