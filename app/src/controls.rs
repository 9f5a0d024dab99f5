//! The Pause and Resume forms: the mode, a required reason, an optional
//! timed end, the mode switch while paused, the force-resume confirmation,
//! and what the person sees when a request is refused — a version conflict
//! (with the new state), a field error under its field, an unreachable
//! server — matched on [`ApiError`], never parsed from text.
//!
//! Every request carries `expectedVersion` (the version on screen), so an
//! operator never overrides a change they have not seen.

use leptos::html;
use leptos::prelude::*;
use wire::{ApiError, PauseMode, PauseRequest, WorkerPauseStatus};

use crate::api::change_pause;
use crate::banner::banner_title;
use crate::confirm::ConfirmDialog;
use crate::error::AppError;
use crate::focus::focus;
use crate::force_resume::ForceResumeDetails;
use crate::pause_impact::{PauseImpactPreview, ResumeImpact};
use crate::state::Dashboard;
use crate::widgets::{Notice, NoticeBox, ReasonField};

/// Which form sent a request (where a field error goes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Pause,
    Resume,
}

/// What a pause/resume came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Applied: the new state and the message (a warning when resumed
    /// before drained).
    Applied(Box<WorkerPauseStatus>, Notice),
    /// Refused; the state to show now when the refusal carried it.
    Refused(Option<Box<WorkerPauseStatus>>, Notice),
    /// A field was refused: its name (`reason`, `until`) and the message.
    Field(String, String),
}

/// Turns the server's answer into what the person sees.
pub fn outcome(answer: Result<WorkerPauseStatus, AppError>) -> Outcome {
    match answer {
        Ok(status) => {
            let notice = match &status.warning {
                Some(w) => Notice::Warning(w.clone()),
                None => Notice::Done(format!("Done — {}.", banner_title(&status))),
            };
            Outcome::Applied(Box::new(status), notice)
        }
        Err(AppError(ApiError::VersionConflict { current, .. })) => {
            let text = match &current {
                Some(c) => format!(
                    "The state changed — here is the new one: {} (version {}). Nothing was applied; check it and try again.",
                    banner_title(c),
                    c.version
                ),
                None => "The state changed before your request arrived. Nothing was applied; check the new state and try again.".to_string(),
            };
            Outcome::Refused(current, Notice::Conflict(text))
        }
        Err(AppError(ApiError::Invalid {
            field: Some(field),
            message,
            ..
        })) if field == "reason" || field == "until" => Outcome::Field(field, message),
        Err(AppError(ApiError::Unreachable { message })) => Outcome::Refused(
            None,
            Notice::Error(format!(
                "Could not reach the server; the request may not have been applied. Check the banner before retrying. ({message})"
            )),
        ),
        Err(e) => Outcome::Refused(None, Notice::Error(e.message().to_string())),
    }
}

fn other(mode: PauseMode) -> PauseMode {
    match mode {
        PauseMode::Drain => PauseMode::Quiesce,
        PauseMode::Quiesce => PauseMode::Drain,
    }
}

/// The section with both forms (operators only).
#[component]
pub fn PauseControls() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let status = dash.status();
    let metrics = dash.metrics();
    let paused = move || status.with(|s| s.as_ref().map(|s| s.workers_paused));
    let current_mode =
        move || status.with(|s| s.as_ref().filter(|s| s.workers_paused).and_then(|s| s.mode));
    let drained = move || metrics.with(|m| m.is_some_and(|m| m.is_drained));

    let chosen = RwSignal::new(PauseMode::Drain);
    let (pause_reason, resume_reason) =
        (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let (minutes, at) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let (pause_error, resume_error, until_error) = (
        RwSignal::new(None),
        RwSignal::new(None),
        RwSignal::new(None::<String>),
    );
    let notice = RwSignal::new(None::<Notice>);
    let confirming = RwSignal::new(false);
    let (pause_field, resume_field) =
        (NodeRef::<html::Input>::new(), NodeRef::<html::Input>::new());
    let (until_field, notice_box) = (NodeRef::<html::Input>::new(), NodeRef::<html::Div>::new());
    let switch_button = NodeRef::<html::Button>::new();

    let send = Action::new(move |(form, request): &(Form, PauseRequest)| {
        let (form, request) = (*form, request.clone());
        async move { (form, change_pause(request).await) }
    });
    let busy = move || send.pending().get();
    // The answer: show it, move focus to it (or to the field at fault).
    Effect::new(move |_| {
        let Some((form, answer)) = send.value().get() else {
            return;
        };
        if answer.as_ref().is_err_and(AppError::is_unauthorized) {
            crate::auth::check(dash);
        }
        match outcome(answer) {
            Outcome::Applied(status, n) => {
                dash.apply_status(*status);
                notice.set(Some(n));
                // The form is done with what was typed in it.
                let typed = match form {
                    Form::Pause => vec![pause_reason, minutes, at],
                    Form::Resume => vec![resume_reason],
                };
                typed.into_iter().for_each(|s| s.set(String::new()));
                request_animation_frame(move || focus(notice_box));
            }
            Outcome::Refused(current, n) => {
                if let Some(c) = current {
                    dash.apply_status(*c);
                }
                notice.set(Some(n));
                request_animation_frame(move || focus(notice_box));
            }
            Outcome::Field(field, message) if field == "until" => {
                until_error.set(Some(message));
                focus(until_field);
            }
            Outcome::Field(_, message) => {
                let (error, node) = match form {
                    Form::Pause => (pause_error, pause_field),
                    Form::Resume => (resume_error, resume_field),
                };
                error.set(Some(message));
                focus(node);
            }
        }
    });
    let dispatch = move |form: Form, mut request: PauseRequest| {
        request.expected_version = dash.version_untracked();
        notice.set(None);
        [pause_error, resume_error, until_error]
            .iter()
            .for_each(|e| e.set(None));
        send.dispatch((form, request));
    };

    let on_pause = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let switching = ev.submitter().is_some_and(|b| {
            switch_button.get_untracked().is_some_and(|s| {
                let s: &leptos::web_sys::HtmlElement = s.as_ref();
                *s == b
            })
        });
        let mode = match (switching, current_mode()) {
            (true, Some(m)) => other(m),
            (true, None) => return,
            (false, _) => chosen.get_untracked(),
        };
        let until = match crate::until::until_of(
            &minutes.get_untracked(),
            &at.get_untracked(),
            crate::clock::now_ms(),
        ) {
            Ok(u) => u,
            Err(message) => {
                until_error.set(Some(message));
                focus(until_field);
                return;
            }
        };
        let request = PauseRequest {
            action: Some("pause".into()),
            mode: Some(mode.as_str().into()),
            reason: Some(pause_reason.get_untracked()),
            until,
            ..Default::default()
        };
        dispatch(Form::Pause, request);
    };
    let resume = move |force: bool| {
        let request = PauseRequest {
            action: Some("resume".into()),
            reason: Some(resume_reason.get_untracked()),
            force_resume: force.then_some(true),
            ..Default::default()
        };
        dispatch(Form::Resume, request);
    };
    let on_resume = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if drained() {
            resume(false);
        } else {
            crate::live::load_drain(dash);
            confirming.set(true);
        }
    };

    let radio = move |mode: PauseMode, label: &'static str, help: &'static str| {
        let id = format!("mode-{}", mode.as_str());
        let help_id = format!("{id}-help");
        view! {
            <div class="radio">
                <input
                    type="radio"
                    name="mode"
                    id=id.clone()
                    value=mode.as_str()
                    aria-describedby=help_id.clone()
                    prop:checked=move || current_mode().unwrap_or(chosen.get()) == mode
                    disabled=move || paused() != Some(false)
                    on:change=move |_| chosen.set(mode)
                />
                <label for=id>{label}</label>
                <span class="help" id=help_id>{help}</span>
            </div>
        }
    };

    view! {
        <section class="card controls" aria-labelledby="controls-h">
            <h2 id="controls-h">"Pause and resume"</h2>
            <div class="forms">
                <form aria-labelledby="pause-h" on:submit=on_pause>
                    <h3 id="pause-h">"Pause workers"</h3>
                    <fieldset>
                        <legend>"Mode"</legend>
                        {radio(PauseMode::Drain, "Drain", "No new claims; running jobs finish.")}
                        {radio(PauseMode::Quiesce, "Quiesce", "No new claims; running jobs hold at their next checkpoint.")}
                    </fieldset>
                    <ReasonField id="pause-reason" placeholder="e.g. Rolling API migration" value=pause_reason error=pause_error node=pause_field />
                    <crate::until::TimedEnd minutes at error=until_error node=until_field />
                    <div class="actions">
                        <button
                            type="submit"
                            class="btn btn-primary"
                            disabled=move || paused() != Some(false) || busy()
                            aria-describedby=move || (paused() == Some(true)).then_some("pause-hint")
                        >
                            "Pause workers"
                        </button>
                        <Show when=move || current_mode().is_some()>
                            <button type="submit" class="btn" node_ref=switch_button disabled=busy>
                                {move || format!("Switch to {}", current_mode().map_or("", |m| other(m).as_str()))}
                            </button>
                        </Show>
                    </div>
                    <Show when=move || current_mode().is_some()>
                        <p class="help" id="pause-hint">
                            {move || format!(
                                "Workers are already paused ({}). Resume them, or switch mode with a reason.",
                                current_mode().map_or("", |m| m.as_str()),
                            )}
                        </p>
                    </Show>
                    <PauseImpactPreview mode=chosen />
                </form>
                <form aria-labelledby="resume-h" on:submit=on_resume>
                    <h3 id="resume-h">"Resume workers"</h3>
                    <ReasonField id="resume-reason" placeholder="e.g. Maintenance complete" value=resume_reason error=resume_error node=resume_field />
                    <div class="actions">
                        <button type="submit" class="btn btn-primary" disabled=move || paused() != Some(true) || busy()>
                            "Resume workers"
                        </button>
                    </div>
                    <Show when=move || paused() == Some(true) && !drained()>
                        <p class="help">"Not drained yet: you will be asked to confirm."</p>
                    </Show>
                </form>
            </div>
            <NoticeBox id="controls-notice" notice node=notice_box />
            <ConfirmDialog
                open=confirming
                id="force-resume"
                title="Resume before the fleet has drained?".to_string()
                on_cancel=Callback::new(move |_| confirming.set(false))
                on_confirm=Callback::new(move |_| {
                    confirming.set(false);
                    resume(true);
                })
            >
                <ResumeImpact />
                <ForceResumeDetails />
            </ConfirmDialog>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(version: i64) -> WorkerPauseStatus {
        WorkerPauseStatus {
            version,
            reason: Some("other operator".into()),
            ..crate::fixtures::status(true, Some(PauseMode::Quiesce))
        }
    }

    #[test]
    fn a_conflict_shows_the_new_state_and_applies_nothing() {
        let e = AppError(ApiError::VersionConflict {
            message: "changed".into(),
            current: Some(Box::new(status(7))),
        });
        let Outcome::Refused(Some(current), Notice::Conflict(text)) = outcome(Err(e)) else {
            panic!("not a conflict");
        };
        assert_eq!(current.version, 7);
        assert!(text.contains("here is the new one: Workers: Paused (Quiesce) (version 7)"));
    }

    #[test]
    fn field_errors_go_under_their_field() {
        for field in ["reason", "until"] {
            let e = AppError(ApiError::Invalid {
                status: 422,
                code: "validation_failed".into(),
                message: format!("{field} is wrong"),
                field: Some(field.into()),
            });
            assert_eq!(
                outcome(Err(e)),
                Outcome::Field(field.into(), format!("{field} is wrong"))
            );
        }
    }

    #[test]
    fn applied_warnings_and_unreachable_servers_are_told_apart() {
        let mut s = status(3);
        let Outcome::Applied(_, Notice::Done(text)) = outcome(Ok(s.clone())) else {
            panic!("not applied");
        };
        assert_eq!(text, "Done — Workers: Paused (Quiesce).");
        s.warning = Some("Resumed before the fleet drained".into());
        assert!(matches!(
            outcome(Ok(s)),
            Outcome::Applied(_, Notice::Warning(_))
        ));
        let gone = AppError(ApiError::Unreachable {
            message: "offline".into(),
        });
        let Outcome::Refused(None, Notice::Error(text)) = outcome(Err(gone)) else {
            panic!("not an error");
        };
        assert!(text.starts_with("Could not reach the server"));
    }
}
