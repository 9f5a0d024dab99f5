//! The Pause and Resume forms, the mode switch while paused, the
//! force-resume confirmation, and what the person sees when a request is
//! refused: a version conflict (with the new state), a validation error
//! under its field, or an unreachable server.
//!
//! Every request carries `expectedVersion` (the version on screen), so an
//! operator never overrides a change they have not seen.
//!
//! Size matters here (the WASM budget): every event-handler closure and
//! every signal type costs its own copy of Leptos' generic code, so the
//! section has one handler per event kind (delegated by element id or
//! `data-action`), the inputs are read from the DOM at submit time, and all
//! of the forms' transient state is one [`Ui`] signal.

use leptos::ev::{Event, KeyboardEvent, MouseEvent, SubmitEvent};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos::wasm_bindgen::JsCast;
use leptos::web_sys::{Element, HtmlElement, HtmlInputElement};
use wire::{PauseMode, PauseRequest, WorkerPauseStatus};

use crate::api::{change_pause, PauseReply};
use crate::banner::banner_title;
use crate::state::Dashboard;

/// What the last request came to, shown under the forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Done(String),
    /// Applied, but the server warns (e.g. resumed before drained).
    Warning(String),
    /// Not applied: the state had changed; the page now shows the new one.
    Conflict(String),
    Error(String),
}

impl Notice {
    fn kind(&self) -> &'static str {
        match self {
            Notice::Done(_) => "done",
            Notice::Warning(_) => "warning",
            Notice::Conflict(_) => "conflict",
            Notice::Error(_) => "error",
        }
    }

    fn text(&self) -> &str {
        match self {
            Notice::Done(t) | Notice::Warning(t) | Notice::Conflict(t) | Notice::Error(t) => t,
        }
    }
}

/// The forms' transient state.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ui {
    /// A request is in flight: the submit buttons wait.
    busy: bool,
    notice: Option<Notice>,
    /// The server's error for each reason field.
    pause_error: Option<String>,
    resume_error: Option<String>,
    /// The force-resume confirmation is open.
    confirming: bool,
    /// The mode picked for the next pause.
    chosen: PauseMode,
}

/// The two reason fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Pause,
    Resume,
}

impl Field {
    fn id(self) -> &'static str {
        match self {
            Field::Pause => "pause-reason",
            Field::Resume => "resume-reason",
        }
    }

    fn error_id(self) -> &'static str {
        match self {
            Field::Pause => "pause-reason-error",
            Field::Resume => "resume-reason-error",
        }
    }

    fn error_of(self, ui: &Ui) -> Option<&String> {
        match self {
            Field::Pause => ui.pause_error.as_ref(),
            Field::Resume => ui.resume_error.as_ref(),
        }
    }

    fn error(self, ui: &mut Ui) -> &mut Option<String> {
        match self {
            Field::Pause => &mut ui.pause_error,
            Field::Resume => &mut ui.resume_error,
        }
    }
}

const NOTICE_ID: &str = "controls-notice";
const RESUME_ID: &str = "resume-submit";
const CANCEL_ID: &str = "force-cancel";
const CONTINUE_ID: &str = "force-continue";

fn other(mode: PauseMode) -> PauseMode {
    match mode {
        PauseMode::Drain => PauseMode::Quiesce,
        PauseMode::Quiesce => PauseMode::Drain,
    }
}

fn focus(id: &str) {
    if let Some(el) = document()
        .get_element_by_id(id)
        .and_then(|e| e.dyn_into::<HtmlElement>().ok())
    {
        let _ = el.focus();
    }
}

fn input(id: &str) -> Option<HtmlInputElement> {
    document().get_element_by_id(id)?.dyn_into().ok()
}

/// What a request came to: the message (or field error) to show, the
/// element to focus, and the state to show now, if it changed.
struct Outcome {
    applied: bool,
    focus: &'static str,
    status: Option<WorkerPauseStatus>,
}

/// Turns the server's answer into what the person sees.
fn outcome(ui: &mut Ui, field: Field, answer: Result<PauseReply, ServerFnError>) -> Outcome {
    let mut out = Outcome {
        applied: false,
        focus: NOTICE_ID,
        status: None,
    };
    match answer {
        Ok(PauseReply {
            applied: Some(status),
            ..
        }) => {
            ui.notice = Some(match &status.warning {
                Some(w) => Notice::Warning(w.clone()),
                None => Notice::Done(format!("Done — {}.", banner_title(&status))),
            });
            out.status = Some(*status);
            out.applied = true;
        }
        Ok(PauseReply {
            rejected: Some(error),
            ..
        }) => {
            if error.code == "version_conflict" {
                let text = match error.current {
                    Some(current) => {
                        let text = format!(
                            "The state changed — here is the new one: {} (version {}). Nothing was applied; check it and try again.",
                            banner_title(&current),
                            current.version
                        );
                        out.status = Some(*current);
                        text
                    }
                    None => "The state changed before your request arrived. Nothing was applied; check the new state and try again.".to_string(),
                };
                ui.notice = Some(Notice::Conflict(text));
            } else if error.field.as_deref() == Some("reason") {
                *field.error(ui) = Some(error.message);
                out.focus = field.id();
            } else {
                ui.notice = Some(Notice::Error(error.message));
            }
        }
        Ok(PauseReply { .. }) => {
            ui.notice = Some(Notice::Error("The server gave an empty answer.".into()));
        }
        Err(e) => {
            ui.notice = Some(Notice::Error(format!(
                "Could not reach the server; the request may not have been applied. Check the banner before retrying. ({e})"
            )));
        }
    }
    out
}

/// Sends a pause/resume and shows its outcome. Focus moves to the outcome
/// (or the field at fault): the button that sent it is often disabled now.
fn send(dash: Dashboard, ui: RwSignal<Ui>, field: Field, mut request: PauseRequest) {
    request.reason = input(field.id()).map(|i| i.value());
    request.expected_version = dash.version_untracked();
    ui.update(|u| {
        u.busy = true;
        u.notice = None;
        *field.error(u) = None;
    });
    spawn_local(async move {
        let answer = change_pause(request).await;
        let mut out = None;
        ui.update(|u| {
            u.busy = false;
            out = Some(outcome(u, field, answer));
        });
        let Some(out) = out else { return };
        if out.applied {
            // The form is done with its reason.
            if let Some(i) = input(field.id()) {
                i.set_value("");
            }
        }
        if let Some(status) = out.status {
            dash.apply_status(status);
        }
        focus(out.focus);
    });
}

#[component]
pub fn Controls() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let status = dash.status();
    let metrics = dash.metrics();
    let ui = RwSignal::new(Ui {
        busy: false,
        notice: None,
        pause_error: None,
        resume_error: None,
        confirming: false,
        chosen: PauseMode::Drain,
    });

    let paused = move || status.with(|s| s.as_ref().map(|s| s.workers_paused));
    let current_mode =
        move || status.with(|s| s.as_ref().filter(|s| s.workers_paused).and_then(|s| s.mode));
    let drained = move || metrics.with(|m| m.is_some_and(|m| m.is_drained));
    let busy = move || ui.with(|u| u.busy);

    let close_dialog = move || {
        ui.update(|u| u.confirming = false);
        focus(RESUME_ID);
    };
    let resume = move |force: bool| {
        let request = PauseRequest {
            action: Some("resume".into()),
            force_resume: force.then_some(true),
            ..Default::default()
        };
        send(dash, ui, Field::Resume, request);
    };

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let form = ev
            .target()
            .and_then(|t| t.dyn_into::<Element>().ok())
            .map(|f| f.id());
        let intent = ev
            .submitter()
            .and_then(|b| b.get_attribute("data-intent"))
            .unwrap_or_default();
        match form.as_deref() {
            Some("pause-form") => {
                let mode = if intent == "switch" {
                    match current_mode() {
                        Some(m) => other(m),
                        None => return,
                    }
                } else {
                    ui.with_untracked(|u| u.chosen)
                };
                let request = PauseRequest {
                    action: Some("pause".into()),
                    mode: Some(mode.as_str().into()),
                    ..Default::default()
                };
                send(dash, ui, Field::Pause, request);
            }
            Some("resume-form") if drained() => resume(false),
            Some("resume-form") => {
                ui.update(|u| u.confirming = true);
                crate::live::load_drain(dash);
                // After the dialog is shown: focus the safe choice.
                request_animation_frame(|| focus(CANCEL_ID));
            }
            _ => {}
        }
    };

    // Typing clears that field's error; a mode radio records the choice.
    let on_input = move |ev: Event| {
        let Some(el) = ev
            .target()
            .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
        else {
            return;
        };
        let id = el.id();
        if let Some(mode) = PauseMode::parse(&el.value()).filter(|_| el.name() == "mode") {
            if ui.with_untracked(|u| u.chosen != mode) {
                ui.update(|u| u.chosen = mode);
            }
            return;
        }
        for field in [Field::Pause, Field::Resume] {
            if id == field.id() && ui.with_untracked(|u| field.error_of(u).is_some()) {
                ui.update(|u| *field.error(u) = None);
            }
        }
    };

    let on_click = move |ev: MouseEvent| {
        let action = ev
            .target()
            .and_then(|t| t.dyn_into::<Element>().ok())
            .and_then(|el| el.closest("[data-action]").ok().flatten())
            .and_then(|el| el.get_attribute("data-action"));
        match action.as_deref() {
            Some("cancel") => close_dialog(),
            Some("continue") => {
                ui.update(|u| u.confirming = false);
                resume(true);
            }
            // A click on the backdrop keeps focus in the dialog.
            Some("backdrop") => focus(CANCEL_ID),
            _ => {}
        }
    };

    // Focus stays in the dialog: Tab and Shift+Tab cycle between its two
    // buttons; Escape cancels.
    let on_keydown = move |ev: KeyboardEvent| {
        if !ui.with_untracked(|u| u.confirming) {
            return;
        }
        match ev.key().as_str() {
            "Escape" => {
                ev.prevent_default();
                close_dialog();
            }
            "Tab" => {
                let active = document()
                    .active_element()
                    .map(|e| e.id())
                    .unwrap_or_default();
                let next = match (ev.shift_key(), active.as_str()) {
                    (false, CANCEL_ID) => CONTINUE_ID,
                    (true, CONTINUE_ID) => CANCEL_ID,
                    (true, _) => CONTINUE_ID,
                    (false, _) => CANCEL_ID,
                };
                ev.prevent_default();
                focus(next);
            }
            _ => {}
        }
    };

    let radio = move |mode: PauseMode, label: &'static str, help: &'static str| {
        let (id, help_id) = match mode {
            PauseMode::Drain => ("mode-drain", "mode-drain-help"),
            PauseMode::Quiesce => ("mode-quiesce", "mode-quiesce-help"),
        };
        view! {
            <div class="radio">
                <input type="radio" name="mode" id=id value=mode.as_str() aria-describedby=help_id
                    prop:checked=move || current_mode().unwrap_or(ui.with(|u| u.chosen)) == mode
                    disabled=move || paused() != Some(false)/>
                <label for=id>{label}</label>
                <span class="help" id=help_id>{help}</span>
            </div>
        }
    };

    view! {
        <section class="card controls" aria-labelledby="controls-h"
            on:submit=on_submit on:input=on_input on:click=on_click on:keydown=on_keydown>
            <h2 id="controls-h">"Pause and resume"</h2>
            <div class="forms">
                <form id="pause-form" aria-labelledby="pause-h">
                    <h3 id="pause-h">"Pause workers"</h3>
                    <fieldset>
                        <legend>"Mode"</legend>
                        {radio(PauseMode::Drain, "Drain", "No new claims; running jobs finish.")}
                        {radio(PauseMode::Quiesce, "Quiesce", "No new claims; running jobs hold at their next checkpoint.")}
                    </fieldset>
                    {reason_field(ui, Field::Pause, "e.g. Rolling API migration")}
                    <div class="actions">
                        <button type="submit" class="btn btn-primary" data-intent="pause"
                            disabled=move || paused() != Some(false) || busy()
                            aria-describedby=move || (paused() == Some(true)).then_some("pause-hint")>
                            "Pause workers"
                        </button>
                        <button type="submit" class="btn" data-intent="switch"
                            hidden=move || current_mode().is_none() disabled=busy>
                            {move || format!("Switch to {}", current_mode().map_or("", |m| other(m).as_str()))}
                        </button>
                    </div>
                    <p class="help" id="pause-hint" hidden=move || current_mode().is_none()>
                        {move || format!(
                            "Workers are already paused ({}). Resume them, or switch mode with a reason.",
                            current_mode().map_or("", |m| m.as_str())
                        )}
                    </p>
                </form>
                <form id="resume-form" aria-labelledby="resume-h">
                    <h3 id="resume-h">"Resume workers"</h3>
                    {reason_field(ui, Field::Resume, "e.g. Maintenance complete")}
                    <div class="actions">
                        <button type="submit" class="btn btn-primary" id=RESUME_ID
                            disabled=move || paused() != Some(true) || busy()>
                            "Resume workers"
                        </button>
                    </div>
                    <p class="help" hidden=move || paused() != Some(true) || drained()>
                        "Not drained yet: you will be asked to confirm."
                    </p>
                </form>
            </div>
            <div class="notice" role="status" tabindex="-1" id=NOTICE_ID
                data-kind=move || ui.with(|u| u.notice.as_ref().map(Notice::kind))>
                {move || ui.with(|u| u.notice.as_ref().map(|n| n.text().to_string()))}
            </div>
            {crate::confirm::force_resume_dialog(move || !ui.with(|u| u.confirming), CANCEL_ID, CONTINUE_ID)}
        </section>
    }
}

/// A required reason, with the server's error for it underneath.
fn reason_field(ui: RwSignal<Ui>, field: Field, placeholder: &'static str) -> impl IntoView {
    let error = move || ui.with(|u| field.error_of(u).cloned());
    view! {
        <div class="field">
            <label for=field.id()>"Reason " <span class="req">"(required)"</span></label>
            <input type="text" id=field.id() name="reason" required maxlength="500" autocomplete="off"
                placeholder=placeholder
                aria-invalid=move || error().map(|_| "true")
                aria-describedby=move || error().map(|_| field.error_id())/>
            <p class="field-error" id=field.error_id()>{error}</p>
        </div>
    }
}
