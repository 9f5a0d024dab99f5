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

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos::wasm_bindgen::JsCast;
use leptos::web_sys::{HtmlInputElement, KeyboardEvent, SubmitEvent};
use wire::{PauseMode, PauseRequest, WorkerPauseStatus};

use crate::api::{change_pause, PauseReply};
use crate::banner::banner_title;
use crate::dom;
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
    request.reason = dom::input(field.id()).map(|i| i.value());
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
            if let Some(i) = dom::input(field.id()) {
                i.set_value("");
            }
        }
        if let Some(status) = out.status {
            dash.apply_status(status);
        }
        dom::focus(out.focus);
    });
}

/// A required reason, with the server's error for it underneath.
macro_rules! reason_field {
    ($id:literal, $placeholder:literal) => {
        concat!(
            r#"<div class="field"><label for=""#,
            $id,
            r#"">Reason <span class="req">(required)</span></label>"#,
            r#"<input type="text" id=""#,
            $id,
            r#"" name="reason" required maxlength="500" autocomplete="off" placeholder=""#,
            $placeholder,
            r#"">"#,
            r#"<p class="field-error" id=""#,
            $id,
            r#"-error"></p></div>"#
        )
    };
}

/// The section's markup, around the force-resume dialog's; [`bind`]
/// brings it to life.
pub const HTML: [&str; 3] = [HTML_START, crate::confirm::HTML, "</section>"];

const HTML_START: &str = concat!(
    r#"<section class="card controls" id="controls" aria-labelledby="controls-h">"#,
    r#"<h2 id="controls-h">Pause and resume</h2><div class="forms">"#,
    r#"<form id="pause-form" aria-labelledby="pause-h"><h3 id="pause-h">Pause workers</h3>"#,
    r#"<fieldset><legend>Mode</legend>"#,
    r#"<div class="radio"><input type="radio" name="mode" id="mode-drain" value="drain" aria-describedby="mode-drain-help" disabled>"#,
    r#"<label for="mode-drain">Drain</label><span class="help" id="mode-drain-help">No new claims; running jobs finish.</span></div>"#,
    r#"<div class="radio"><input type="radio" name="mode" id="mode-quiesce" value="quiesce" aria-describedby="mode-quiesce-help" disabled>"#,
    r#"<label for="mode-quiesce">Quiesce</label><span class="help" id="mode-quiesce-help">No new claims; running jobs hold at their next checkpoint.</span></div>"#,
    r#"</fieldset>"#,
    reason_field!("pause-reason", "e.g. Rolling API migration"),
    r#"<div class="actions"><button type="submit" class="btn btn-primary" id="pause-submit" data-intent="pause" disabled>Pause workers</button>"#,
    r#"<button type="submit" class="btn" id="switch-submit" data-intent="switch" hidden></button></div>"#,
    r#"<p class="help" id="pause-hint" hidden></p></form>"#,
    r#"<form id="resume-form" aria-labelledby="resume-h"><h3 id="resume-h">Resume workers</h3>"#,
    reason_field!("resume-reason", "e.g. Maintenance complete"),
    r#"<div class="actions"><button type="submit" class="btn btn-primary" id="resume-submit" disabled>Resume workers</button></div>"#,
    r#"<p class="help" id="resume-hint" hidden>Not drained yet: you will be asked to confirm.</p></form></div>"#,
    r#"<div class="notice" role="status" tabindex="-1" id="controls-notice"></div>"#,
);

/// Brings [`HTML`] to life (it must be in the page).
pub fn bind(dash: Dashboard) {
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
        dom::focus(RESUME_ID);
    };
    let resume = move |force: bool| {
        let request = PauseRequest {
            action: Some("resume".into()),
            force_resume: force.then_some(true),
            ..Default::default()
        };
        send(dash, ui, Field::Resume, request);
    };

    dom::on("controls", "submit", move |ev| {
        ev.prevent_default();
        let form = dom::target(&ev).map(|f| f.id());
        let intent = ev
            .dyn_ref::<SubmitEvent>()
            .and_then(|e| e.submitter())
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
                request_animation_frame(|| dom::focus(CANCEL_ID));
            }
            _ => {}
        }
    });

    // Typing clears that field's error; a mode radio records the choice.
    dom::on("controls", "input", move |ev| {
        let Some(el) = dom::target(&ev).and_then(|t| t.dyn_into::<HtmlInputElement>().ok()) else {
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
    });

    dom::on("controls", "click", move |ev| {
        match dom::closest(&ev, "data-action").map(|(_, a)| a).as_deref() {
            Some("cancel") => close_dialog(),
            Some("continue") => {
                ui.update(|u| u.confirming = false);
                resume(true);
            }
            // A click on the backdrop keeps focus in the dialog.
            Some("backdrop") => dom::focus(CANCEL_ID),
            _ => {}
        }
    });

    // Focus stays in the dialog: Tab and Shift+Tab cycle between its two
    // buttons; Escape cancels.
    dom::on("controls", "keydown", move |ev| {
        let Some(ev) = ev.dyn_ref::<KeyboardEvent>() else {
            return;
        };
        if !ui.with_untracked(|u| u.confirming) {
            return;
        }
        match ev.key().as_str() {
            "Escape" => {
                ev.prevent_default();
                close_dialog();
            }
            "Tab" => {
                ev.prevent_default();
                dom::cycle_focus(&[CANCEL_ID, CONTINUE_ID], ev.shift_key());
            }
            _ => {}
        }
    });

    for (id, mode) in [
        ("mode-drain", PauseMode::Drain),
        ("mode-quiesce", PauseMode::Quiesce),
    ] {
        dom::checked(id, move || {
            current_mode().unwrap_or(ui.with(|u| u.chosen)) == mode
        });
        dom::flag(id, "disabled", move || paused() != Some(false));
    }
    for field in [Field::Pause, Field::Resume] {
        let error = move || ui.with(|u| field.error_of(u).cloned());
        dom::attr(field.id(), "aria-invalid", move || {
            error().map(|_| "true".into())
        });
        dom::attr(field.id(), "aria-describedby", move || {
            error().map(|_| field.error_id().into())
        });
        dom::text(field.error_id(), move || error().unwrap_or_default());
    }
    dom::flag("pause-submit", "disabled", move || {
        paused() != Some(false) || busy()
    });
    dom::attr("pause-submit", "aria-describedby", move || {
        (paused() == Some(true)).then(|| "pause-hint".into())
    });
    dom::flag("switch-submit", "hidden", move || current_mode().is_none());
    dom::flag("switch-submit", "disabled", busy);
    dom::text("switch-submit", move || {
        format!(
            "Switch to {}",
            current_mode().map_or("", |m| other(m).as_str())
        )
    });
    dom::flag("pause-hint", "hidden", move || current_mode().is_none());
    dom::text("pause-hint", move || {
        format!(
            "Workers are already paused ({}). Resume them, or switch mode with a reason.",
            current_mode().map_or("", |m| m.as_str())
        )
    });
    dom::flag(RESUME_ID, "disabled", move || {
        paused() != Some(true) || busy()
    });
    dom::flag("resume-hint", "hidden", move || {
        paused() != Some(true) || drained()
    });
    dom::attr(NOTICE_ID, "data-kind", move || {
        ui.with(|u| u.notice.as_ref().map(|n| n.kind().to_string()))
    });
    dom::text(NOTICE_ID, move || {
        ui.with(|u| {
            u.notice
                .as_ref()
                .map(|n| n.text().to_string())
                .unwrap_or_default()
        })
    });
    crate::confirm::bind(dash, move || !ui.with(|u| u.confirming));
}
