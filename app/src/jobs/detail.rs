//! `/jobs/{id}`: one job — payload, result, error, attempts, worker, lease
//! expiry, timestamps — and Cancel (queued or running) or Retry (failed or
//! cancelled), each after a confirmation.

use leptos::html;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use uuid::Uuid;
use wire::{ApiError, Job, JobStatus};

use crate::api::{cancel_job, retry_job};
use crate::auth::last_good;
use crate::confirm::ConfirmDialog;
use crate::error::AppError;
use crate::focus::focus;
use crate::format;
use crate::state::Dashboard;
use crate::widgets::{Notice, NoticeBox, Time};

/// What an operator may do to a job in its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobAction {
    Cancel,
    Retry,
}

impl JobAction {
    /// The action a job in `status` offers, if any.
    pub fn for_status(status: JobStatus) -> Option<JobAction> {
        match status {
            JobStatus::Queued | JobStatus::Scheduled | JobStatus::Running => {
                Some(JobAction::Cancel)
            }
            JobStatus::Failed | JobStatus::Cancelled => Some(JobAction::Retry),
            JobStatus::Succeeded => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            JobAction::Cancel => "Cancel job",
            JobAction::Retry => "Retry job",
        }
    }

    /// The confirmation's title and what it says will happen.
    pub fn question(self, job: &Job) -> (String, String) {
        let short = job.id.to_string();
        let short = format::short_id(&short).to_string();
        match self {
            JobAction::Cancel => (
                format!("Cancel job {short}?"),
                match job.status {
                    JobStatus::Running => format!(
                        "It is running on {}: the worker loses its lease and its result will be refused. It will not run again unless retried.",
                        job.worker_id.as_deref().unwrap_or("a worker")
                    ),
                    _ => "It will not be handed to any worker. It can be retried later.".into(),
                },
            ),
            JobAction::Retry => (
                format!("Retry job {short}?"),
                format!(
                    "It goes back to the queue with its attempts reset (it had {} of {}).",
                    job.attempts, job.max_attempts
                ),
            ),
        }
    }

    fn done(self) -> &'static str {
        match self {
            JobAction::Cancel => "Job cancelled.",
            JobAction::Retry => "Job queued again.",
        }
    }
}

/// Pretty JSON for a payload or result (shown as text, never as markup).
pub fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let id =
        Memo::new(move |_| params.with(|p| p.get_str("id").and_then(|s| Uuid::parse_str(s).ok())));
    view! {
        <div class="page">
            <p><A href="/jobs">"← All jobs"</A></p>
            {move || match id.get() {
                Some(id) => view! { <JobDetail id /> }.into_any(),
                None => view! {
                    <section class="card" aria-labelledby="job-h">
                        <h2 id="job-h">"Job"</h2>
                        <p class="field-error">"This address does not name a job (a job id is a UUID)."</p>
                    </section>
                }
                .into_any(),
            }}
        </div>
    }
}

#[component]
fn JobDetail(id: Uuid) -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let tick = RwSignal::new(0u64);
    let resource = LocalResource::new(move || {
        tick.track();
        crate::api::get_job(id)
    });
    let job = last_good(resource);
    crate::live::poll_while_mounted(|| 3_000, move || tick.update(|t| *t += 1));
    let missing =
        move || resource.with(|r| matches!(r, Some(Err(AppError(ApiError::NotFound { .. })))));
    let error = move || {
        resource.with(|r| match r {
            Some(Err(e)) if !matches!(e.0, ApiError::NotFound { .. }) => {
                Some(e.message().to_string())
            }
            _ => None,
        })
    };

    let notice = RwSignal::new(None::<Notice>);
    let notice_box = NodeRef::<html::Div>::new();
    let asking = RwSignal::new(None::<JobAction>);
    let act = Action::new(move |a: &JobAction| {
        let a = *a;
        async move {
            let answer = match a {
                JobAction::Cancel => cancel_job(id).await,
                JobAction::Retry => retry_job(id).await,
            };
            (a, answer)
        }
    });
    Effect::new(move |_| {
        let Some((a, answer)) = act.value().get() else {
            return;
        };
        asking.set(None);
        notice.set(Some(match answer {
            Ok(_) => Notice::Done(a.done().into()),
            // Someone else moved the job first: say so, show it as it is.
            Err(AppError(ApiError::Conflict { message })) => Notice::Conflict(message),
            Err(e) if e.is_unreachable() => Notice::Error(format!(
                "Could not reach the server; the request may not have been applied. ({})",
                e.message()
            )),
            Err(e) => Notice::Error(e.message().to_string()),
        }));
        tick.update(|t| *t += 1);
        request_animation_frame(move || focus(notice_box));
    });
    let offered = move || job.with(|j| j.as_ref().and_then(|j| JobAction::for_status(j.status)));
    let question = move || {
        asking
            .get()
            .and_then(|a| job.with(|j| j.as_ref().map(|j| a.question(j))))
    };

    view! {
        <section class="card job-detail" aria-labelledby="job-h">
            <h2 id="job-h">"Job " <code>{id.to_string()}</code></h2>
            <Show when=missing>
                <p class="field-error">"No job with this id."</p>
            </Show>
            <p class="field-error" role="alert">{error}</p>
            {move || job.get().map(|j| view! { <Facts job=j /> })}
            <Show when=move || dash.can_write() && offered().is_some()>
                <div class="actions">
                    <button
                        type="button"
                        class="btn btn-primary"
                        disabled=move || act.pending().get()
                        on:click=move |_| {
                            notice.set(None);
                            asking.set(offered());
                        }
                    >
                        {move || offered().map(JobAction::label)}
                    </button>
                </div>
            </Show>
            <NoticeBox id="job-notice" notice node=notice_box />
            <ConfirmDialog
                open=Signal::derive(move || asking.with(Option::is_some))
                id="job-dialog"
                title=Signal::derive(move || question().map(|q| q.0).unwrap_or_default())
                confirm_label=Signal::derive(move || asking.get().map(|a| a.label().to_string()).unwrap_or_default())
                dismiss_label=Signal::derive(move || {
                    if asking.get() == Some(JobAction::Cancel) { "Keep it" } else { "Cancel" }.to_string()
                })
                confirm_disabled=Signal::derive(move || act.pending().get())
                on_cancel=Callback::new(move |_| asking.set(None))
                on_confirm=Callback::new(move |_| {
                    if let Some(a) = asking.get_untracked() {
                        act.dispatch(a);
                    }
                })
            >
                <p>{move || question().map(|q| q.1)}</p>
            </ConfirmDialog>
        </section>
    }
}

/// Everything the job record holds.
#[component]
fn Facts(job: Job) -> impl IntoView {
    let times = [
        ("Created", Some(job.created_at)),
        ("Updated", Some(job.updated_at)),
        ("Run after", Some(job.run_after)),
        ("Started", job.started_at),
        ("Finished", job.finished_at),
        ("Lease expires", job.lease_expires_at),
    ];
    let status = job.status.as_str();
    view! {
        <dl class="job-facts detail-facts">
            <div><dt>"Status"</dt><dd><span class="state" data-state=status>{status}</span></dd></div>
            <div><dt>"Type"</dt><dd>{job.job_type.clone()}</dd></div>
            <div><dt>"Attempts"</dt><dd>{format!("{} of {}", job.attempts, job.max_attempts)}</dd></div>
            <div><dt>"Priority"</dt><dd>{job.priority}</dd></div>
            <div><dt>"Worker"</dt><dd>{job.worker_id.clone().unwrap_or_else(|| "–".into())}</dd></div>
            {job.paused_at_checkpoint.then(|| view! { <div><dt>"Checkpoint"</dt><dd>"holding (quiesce)"</dd></div> })}
            {times
                .into_iter()
                .filter_map(|(label, t)| t.map(|t| view! { <div><dt>{label}</dt><dd><Time at=t shown=format::absolute /></dd></div> }))
                .collect_view()}
        </dl>
        // Scrollable, so focusable; a named region, so announced.
        <h3 class="sub" id="job-payload-h">"Payload"</h3>
        <pre class="json" tabindex="0" role="region" aria-labelledby="job-payload-h">{pretty(&job.payload)}</pre>
        {job.result.as_ref().map(|r| view! {
            <h3 class="sub" id="job-result-h">"Result"</h3>
            <pre class="json" tabindex="0" role="region" aria-labelledby="job-result-h">{pretty(r)}</pre>
        })}
        {job.error.clone().map(|e| view! {
            <h3 class="sub" id="job-error-h">"Error"</h3>
            <pre class="json job-error" tabindex="0" role="region" aria-labelledby="job-error-h">{e}</pre>
        })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn job(status: JobStatus) -> Job {
        Job {
            id: Uuid::parse_str("67e55044-10b1-426f-9247-bb680e5fe0c8").unwrap(),
            job_type: "render".into(),
            queue: "default".into(),
            unique_key: None,
            payload: serde_json::json!({"n": 1}),
            priority: 0,
            status,
            attempts: 3,
            max_attempts: 3,
            worker_id: Some("w-1".into()),
            lease_token: None,
            lease_expires_at: None,
            run_after: DateTime::from_timestamp(0, 0).unwrap(),
            paused_at_checkpoint: false,
            result: None,
            error: None,
            created_at: DateTime::from_timestamp(0, 0).unwrap(),
            updated_at: DateTime::from_timestamp(0, 0).unwrap(),
            started_at: None,
            finished_at: None,
        }
    }

    #[test]
    fn each_state_offers_what_the_server_allows() {
        assert_eq!(
            JobAction::for_status(JobStatus::Queued),
            Some(JobAction::Cancel)
        );
        assert_eq!(
            JobAction::for_status(JobStatus::Running),
            Some(JobAction::Cancel)
        );
        assert_eq!(
            JobAction::for_status(JobStatus::Failed),
            Some(JobAction::Retry)
        );
        assert_eq!(
            JobAction::for_status(JobStatus::Cancelled),
            Some(JobAction::Retry)
        );
        assert_eq!(JobAction::for_status(JobStatus::Succeeded), None);
    }

    #[test]
    fn the_confirmation_says_what_happens() {
        let (title, body) = JobAction::Cancel.question(&job(JobStatus::Running));
        assert_eq!(title, "Cancel job 67e55044?");
        assert!(body.contains("running on w-1"));
        let (title, body) = JobAction::Retry.question(&job(JobStatus::Failed));
        assert_eq!(title, "Retry job 67e55044?");
        assert!(body.contains("it had 3 of 3"));
        assert_eq!(pretty(&serde_json::json!({"n": 1})), "{\n  \"n\": 1\n}");
    }
}
